/* The assembled analytic Jacobian of the lattice residual formulation (docs/theory.md section 14,
   "The Jacobian of the residual"): J = shift dF/dU' + dF/dU for the residual F(U, U') of
   residual.c's IFunction,
     R_z^(0) = z'^(0),  R_z^(m) = (beta^(m-1) - rho beta^(m))/h - sigma'(z^(m)) .* sum_j D_j^T (a_j beta^(m)),
     R_z^(M) = beta^(M-1) + eta lam(Z),  R_a^(m) = a_j'/kappa_j - beta^(m) .* D_j sigma(z^(m))  (a_j' if kappa_j = 0, and at k = M),
   with beta^(m) = (z'^(m+1) - rho z'^(m))/h - sum_j a_j D_j(sigma' z'^(m)) - sum_j a_j' D_j sigma(z^(m)).
   beta^(m)_i has width radius 1 and R_z^(m)_i uses beta^(m)_{i-1..i+1}: width radius 2, depth
   radius 1; the output row of ce/kl couples all widths (the softmax Hessian). The matrix is
   preallocated exactly by one dry run of the same insertion code into a MATPREALLOCATOR (a
   DMDA box stencil of width 2 would allocate 25 dof^2 entries per row, about 3x too many).
   The entries are computed on the width-only layout f->da, whose PETSc ordering is the natural
   one: global index ((i NX) + k) dof + c for width i, depth k, component c. The matrix lives on
   the TS layout f->dats: with -da_processors_x > 1 every row and column goes through the
   natural -> PETSc map of that DMDA's AO (looked up once, for the widths a rank can touch; ToTS
   in fieldjac.h), and rows another rank owns go through MatSetValues' stash.
   The same matrix, with the values left to finite differences, serves -snes_fd_color (coloured
   differencing of the residual on this exact pattern; the DMDA's own colouring assumes its
   stencil width 1 and is wrong here) and -snes_fd. */
#include "fieldjac.h" /* JacCtx, Col, Add, Stencils, ToTS, FlushRow, AddLossHessian: shared with fieldjac_damped.c */

static PetscErrorCode JacCtxDestroy(void *ptr)
{
  JacCtx *J = (JacCtx *)ptr;

  PetscFunctionBeginUser;
  PetscCall(PetscFree6(J->s, J->d, J->e, J->bt, J->t, J->q));
  PetscCall(PetscFree2(J->cols, J->vals));
  PetscCall(PetscFree2(J->win, J->out));
  PetscCall(PetscFree(J));
  PetscFunctionReturn(0);
}

/* scale * (shift d beta^(m)_jj / dU' + d beta^(m)_jj / dU) into the row buffer (jj ghosted) */
static void AddBeta(BbdField f, JacCtx *J, const PetscScalar ***u, const PetscScalar ***ud, PetscInt m, PetscInt jj, PetscReal shift, PetscReal scale)
{
  BbdNet          net = f->net;
  const PetscInt  P = net->P, gym = J->gym, i = J->gys + jj, w = J->gys + jj;
  const PetscReal rho = net->rho, h = net->h;
  const PetscReal *s = J->s + m * gym, *d = J->d + m * gym, *e = J->e + m * gym;
  PetscReal       S[3][3];

  Stencils(net, S);
  Add(J, Col(f, m + 1, i, 0), scale * shift / h);
  for (PetscInt l = -1; l <= 1; l++) {
    PetscReal W = 0, A = 0, v;
    if (Col(f, m, i + l, 0) < 0) continue;
    for (PetscInt c = 0; c <= P; c++) {
      W += u[w][m][1 + c] * S[c][l + 1];
      A += ud[w][m][1 + c] * S[c][l + 1];
    }
    v = shift * ((l == 0 ? -rho / h : 0) - W * d[jj + l]) - W * e[jj + l] * ud[w + l][m][0] - A * d[jj + l];
    Add(J, Col(f, m, i + l, 0), scale * v);
  }
  for (PetscInt c = 0; c <= P; c++) {
    PetscReal Ds = 0, Ddu = 0;
    for (PetscInt l = -1; l <= 1; l++) {
      Ds += S[c][l + 1] * s[jj + l];
      Ddu += S[c][l + 1] * d[jj + l] * ud[w + l][m][0];
    }
    Add(J, Col(f, m, i, 1 + c), scale * (-shift * Ds - Ddu));
  }
}

/* the natural -> TS layout map for every index this rank's rows can touch (AOApplicationToPetsc
   is collective for some AO types: one call here, not one per row) */
static PetscErrorCode LayoutMap(BbdField f, JacCtx *J)
{
  const PetscInt N = f->net->n[0], M = f->net->M, dof = f->dof, col = (M + 1) * dof;
  AO             ao;

  PetscFunctionBeginUser;
  if (!f->split) PetscFunctionReturn(0);
  J->wstart = f->ys - 2;
  J->nwin   = PetscMin(f->ym + 4, N);
  PetscCall(PetscMalloc2(J->nwin * col, &J->win, N * dof, &J->out));
  for (PetscInt o = 0; o < J->nwin; o++) {
    const PetscInt i = ((J->wstart + o) % N + N) % N;
    for (PetscInt q = 0; q < col; q++) J->win[o * col + q] = i * col + q;
  }
  for (PetscInt i = 0; i < N; i++)
    for (PetscInt c = 0; c < dof; c++) J->out[i * dof + c] = i * col + M * dof + c;
  PetscCall(DMDAGetAO(f->dats, &ao));
  PetscCall(AOApplicationToPetsc(ao, J->nwin * col, J->win));
  PetscCall(AOApplicationToPetsc(ao, N * dof, J->out));
  PetscFunctionReturn(0);
}

/* evaluate sigma, sigma', sigma'' and beta (flow only) on the radius-2 ghosted rows, and the softmax of Z */
PetscErrorCode BbdFieldJacLinearise(BbdField f, JacCtx *J, Vec U, Vec Udot, const PetscScalar ****u, const PetscScalar ****ud)
{
  BbdNet         net = f->net;
  const PetscInt M = net->M, NX = M + 1, N = net->n[0], P = net->P, gym = J->gym, gys = J->gys;
  PetscReal      S[3][3], *z;

  PetscFunctionBeginUser;
  Stencils(net, S);
  PetscCall(DMGlobalToLocalBegin(f->da2, U, INSERT_VALUES, f->U2loc));
  PetscCall(DMGlobalToLocalEnd(f->da2, U, INSERT_VALUES, f->U2loc));
  PetscCall(DMGlobalToLocalBegin(f->da2, Udot, INSERT_VALUES, f->Ud2loc));
  PetscCall(DMGlobalToLocalEnd(f->da2, Udot, INSERT_VALUES, f->Ud2loc));
  PetscCall(DMDAVecGetArrayDOFRead(f->da2, f->U2loc, u));
  PetscCall(DMDAVecGetArrayDOFRead(f->da2, f->Ud2loc, ud));
  PetscCall(PetscMalloc1(gym, &z));
  for (PetscInt k = 0; k < NX; k++) {
    for (PetscInt jj = 0; jj < gym; jj++) z[jj] = (*u)[gys + jj][k][0];
    BbdActivationEval(net->act[PetscMin(k, M - 1)], gym, z, J->s + k * gym, J->d + k * gym, J->e + k * gym);
    if (!net->periodic) /* zero padding of sigma(z) outside the width; those columns do not exist */
      for (PetscInt jj = 0; jj < gym; jj++)
        if (gys + jj < 0 || gys + jj >= N) J->s[k * gym + jj] = J->d[k * gym + jj] = J->e[k * gym + jj] = 0;
  }
  PetscCall(PetscFree(z));
  /* beta^(m) at every ghosted width with both neighbours ghosted (radius 1 around the owned part) */
  for (PetscInt m = 0; m < M && !f->damped; m++) { /* (damped: B instead, fieldjac_damped.c) */
    const PetscReal *s = J->s + m * gym, *d = J->d + m * gym;
    for (PetscInt jj = 1; jj < gym - 1; jj++) {
      const PetscInt w = gys + jj;
      PetscReal      b = ((*ud)[w][m + 1][0] - net->rho * (*ud)[w][m][0]) / net->h;
      if (!net->periodic && (w < 0 || w >= N)) {
        J->bt[m * gym + jj] = 0;
        continue;
      }
      for (PetscInt c = 0; c <= P; c++)
        for (PetscInt l = -1; l <= 1; l++) b -= S[c][l + 1] * ((*u)[w][m][1 + c] * d[jj + l] * (*ud)[w + l][m][0] + (*ud)[w][m][1 + c] * s[jj + l]);
      J->bt[m * gym + jj] = b;
    }
  }
  if (BbdLossGetOps(net->loss)->linearise) { /* the loss's Hessian state (ce, kl: the softmax of the whole output row) on every rank */
    PetscReal *zo;
    PetscCall(PetscMalloc1(f->ym, &zo));
    for (PetscInt j = 0; j < f->ym; j++) zo[j] = (*u)[f->ys + j][M][0];
    PetscCall(BbdFieldOutputSoftmax(f, zo, J->q));
    PetscCall(PetscFree(zo));
  }
  PetscFunctionReturn(0);
}

/* insert every row of J = shift dF/dU' + dF/dU (the same entries whatever the values: the dry
   run into the preallocator and the assembly share it) */
PetscErrorCode BbdFieldJacFillFlow(BbdField f, JacCtx *J, Vec U, Vec Udot, PetscReal shift, Mat A)
{
  BbdNet             net = f->net;
  const PetscInt     M = net->M, o = f->ys - J->gys;
  const PetscScalar ***u, ***ud;

  PetscFunctionBeginUser;
  PetscCall(BbdFieldJacLinearise(f, J, U, Udot, &u, &ud));
  for (PetscInt j = f->ys; j < f->ys + f->ym; j++) {
    const PetscInt jj = j + o - f->ys;
    /* neuron rows */
    Add(J, Col(f, 0, j, 0), shift);
    PetscCall(FlushRow(f, J, A, Col(f, 0, j, 0)));
    for (PetscInt m = 1; m < M; m++) PetscCall(AddBulkRow(f, J, u, ud, m, j, jj, 0, shift, AddBeta, A));
    AddBeta(f, J, u, ud, M - 1, jj, shift, 1);
    AddLossHessian(f, J, j);
    PetscCall(FlushRow(f, J, A, Col(f, M, j, 0)));
    PetscCall(AddMomentRows(f, J, u, ud, j, jj, 0, shift, shift, AddBeta, A));
  }
  PetscCall(DMDAVecRestoreArrayDOFRead(f->da2, f->U2loc, &u));
  PetscCall(DMDAVecRestoreArrayDOFRead(f->da2, f->Ud2loc, &ud));
  PetscCall(MatAssemblyBegin(A, MAT_FINAL_ASSEMBLY));
  PetscCall(MatAssemblyEnd(A, MAT_FINAL_ASSEMBLY));
  PetscFunctionReturn(0);
}

/* A superset ("box") of the pattern of continuum mode's residual (residual_continuum.c), which has
   no analytic Jacobian: the row of (depth k, width i) may read every component of the points at
   depths k-r..k+r and widths i-2..i+2, and the beta rows at k = M every width of the output row
   (lam of ce, kl). Width radius 2: A_k(beta_k+1 + h A_k+1 beta_k+1) in the beta rows and
   T_k+1(z_k' + h T_k(z_k')) in the tangent rows apply radius-1 stencils twice. Depth radius r = 1
   for flow (the Heun relations couple k and k+1); r = 2 for damped: the acceleration sources cR_k
   difference v over depths k-1..k+1 (one-sided k..k+2, k-2..k at the ends), and the Heun
   relation of depth k+1 reads cR_k and cR_k+1, so depths k-1..k+2. For the finite-difference
   Jacobians only: every entry is zero. */
static PetscErrorCode FillBox(BbdField f, JacCtx *J, Mat A)
{
  BbdNet          net = f->net;
  const PetscInt  M = net->M, N = net->n[0], dof = f->dof, r = f->damped ? 2 : 1;
  const PetscBool dense = (PetscBool)(BbdLossGetOps(net->loss)->hessian == BBD_HESSIAN_DENSE);

  PetscFunctionBeginUser;
  for (PetscInt j = f->ys; j < f->ys + f->ym; j++)
    for (PetscInt k = 0; k <= M; k++)
      for (PetscInt c = 0; c < dof; c++) {
        for (PetscInt kk = PetscMax(k - r, 0); kk <= PetscMin(k + r, M); kk++)
          for (PetscInt l = -2; l <= 2; l++)
            for (PetscInt q = 0; q < dof; q++) Add(J, Col(f, kk, j + l, q), 0);
        for (PetscInt i = 0; dense && k == M && c == dof - 1 && i < N; i++) Add(J, Col(f, M, i, 0), 0); /* R_beta^M = beta_M + eta lam(Z) */
        PetscCall(FlushRow(f, J, A, Col(f, k, j, c)));
      }
  PetscCall(MatAssemblyBegin(A, MAT_FINAL_ASSEMBLY));
  PetscCall(MatAssemblyEnd(A, MAT_FINAL_ASSEMBLY));
  PetscFunctionReturn(0);
}

/* Create the Jacobian matrix of the residual formulation (flow or damped) on the TS layout,
   preallocated exactly at state U and holding that pattern (continuum mode: the box of FillBox). */
PetscErrorCode BbdFieldJacobianCreate(BbdField f, Mat *A)
{
  BbdNet          net = f->net;
  const PetscInt  NX = net->M + 1, N = net->n[0];
  PetscInt        nloc;
  JacCtx         *J;
  Mat             pre;
  Vec             Z;
  PetscContainer  box;

  PetscFunctionBeginUser;
  PetscCall(VecGetLocalSize(f->Uts, &nloc)); /* the rows of the TS layout */
  PetscCall(PetscNew(&J));
  if (!f->continuum) {
    J->gys = f->gys2; /* the residual's radius-2 grid (BbdFieldResidualSetUp creates it for the assembled Jacobian) */
    J->gym = f->gym2;
  } /* continuum: the box needs no linearisation point (gym = 0) */
  PetscCall(PetscMalloc6(NX * J->gym, &J->s, NX * J->gym, &J->d, NX * J->gym, &J->e, NX * J->gym, &J->bt, f->damped ? NX * J->gym : 0, &J->t, N + 1, &J->q));
  J->cap = (f->damped ? 128 : 64) + N; /* the longest row before merging: 42 (flow), 72 (damped) entries for P = 2, plus N (ce, kl) */
  if (f->continuum) J->cap = 25 * f->dof + N; /* the box: 5 depths x 5 widths x dof, plus the output row */
  PetscCall(PetscMalloc2(J->cap, &J->cols, J->cap, &J->vals));
  PetscCall(LayoutMap(f, J));
  PetscCall(MatCreate(f->comm, A));
  PetscCall(MatSetSizes(*A, nloc, nloc, PETSC_DETERMINE, PETSC_DETERMINE));
  PetscCall(MatSetType(*A, MATAIJ));
  PetscCall(PetscContainerCreate(f->comm, &box));
  PetscCall(PetscContainerSetPointer(box, J));
  PetscCall(PetscContainerSetUserDestroy(box, JacCtxDestroy));
  PetscCall(PetscObjectCompose((PetscObject)*A, "BbdFieldJacobian", (PetscObject)box));
  PetscCall(PetscContainerDestroy(&box));
  /* exact preallocation: a dry run of the insertion at U' = 0. Block size 1: MATPREALLOCATOR counts
     (and fills) whole bs x bs blocks, which with bs = dof stored every row of a point with the
     union of its rows' columns (4.6x the entries for flow, 9x for damped at 64^2) */
  PetscCall(MatCreate(f->comm, &pre));
  PetscCall(MatSetSizes(pre, nloc, nloc, PETSC_DETERMINE, PETSC_DETERMINE));
  PetscCall(MatSetBlockSize(pre, 1));
  PetscCall(MatSetType(pre, MATPREALLOCATOR));
  PetscCall(MatSetUp(pre));
  if (f->continuum) PetscCall(FillBox(f, J, pre));
  else {
    PetscCall(VecDuplicate(f->U, &Z));
    PetscCall(VecSet(Z, 0));
    PetscCall(f->dyn->jacfill(f, J, f->U, Z, 1.0, pre));
    PetscCall(VecDestroy(&Z));
  }
  PetscCall(MatPreallocatorPreallocate(pre, PETSC_TRUE, *A)); /* also inserts the pattern (zeros) */
  PetscCall(MatDestroy(&pre));
  PetscCall(MatSetOption(*A, MAT_NEW_NONZERO_ALLOCATION_ERR, PETSC_TRUE));
  PetscFunctionReturn(0);
}

/* the function MatFDColoring differences: the SNES residual of the time step, G(X) = F(t, X, X'(X)) */
static PetscErrorCode FDResidual(void *snes, Vec x, Vec y, void *ctx)
{
  PetscFunctionBeginUser;
  (void)ctx;
  PetscCall(SNESComputeFunction((SNES)snes, x, y));
  PetscFunctionReturn(0);
}

/* The matrix of -snes_fd_color or -snes_fd (field.c intercepts both options): the pattern of
   BbdFieldJacobianCreate; for -snes_fd_color with its distance-2 colouring (MatColoring on the
   matrix, not DMCreateColoring of the DMDA: that colouring assumes the DMDA's stencil width 1,
   where the residual couples widths at distance 2, and PETSc's build crashes on periodic grids
   whose size is not a multiple of 2 w + 1) and the MatFDColoring of the time step's residual. */
PetscErrorCode BbdFieldJacobianFDCreate(BbdField f, Mat *A)
{
  MatColoring   mc;
  ISColoring    isc;
  MatFDColoring fdc;

  PetscFunctionBeginUser;
  PetscCall(BbdFieldJacobianCreate(f, A));
  if (!f->jac_fdcolor) { /* -snes_fd: a dense difference sets every entry above 1e-14 */
    PetscCall(MatSetOption(*A, MAT_NEW_NONZERO_ALLOCATION_ERR, PETSC_FALSE));
    PetscFunctionReturn(0);
  }
  PetscCall(MatColoringCreate(*A, &mc));
  PetscCall(PetscObjectSetOptions((PetscObject)mc, f->net->options)); /* the field's database */
  PetscCall(MatColoringSetDistance(mc, 2));
  PetscCall(MatColoringSetType(mc, MATCOLORINGSL));
  PetscCall(MatColoringSetFromOptions(mc));
  PetscCall(MatColoringApply(mc, &isc));
  PetscCall(MatColoringDestroy(&mc));
  PetscCall(MatFDColoringCreate(*A, isc, &fdc));
  PetscCall(PetscObjectSetOptions((PetscObject)fdc, f->net->options));
  if (f->net->prefix) PetscCall(PetscObjectSetOptionsPrefix((PetscObject)fdc, f->net->prefix));
  PetscCall(MatFDColoringSetFunction(fdc, (PetscErrorCode(*)(void))(void (*)(void))FDResidual, NULL));
  PetscCall(MatFDColoringSetFromOptions(fdc));
  PetscCall(MatFDColoringSetUp(*A, isc, fdc));
  PetscCall(ISColoringDestroy(&isc));
  PetscCall(PetscObjectCompose((PetscObject)*A, "BbdFieldFDColoring", (PetscObject)fdc));
  PetscCall(MatFDColoringDestroy(&fdc));
  PetscFunctionReturn(0);
}

/* B = the finite-difference Jacobian of the time step's residual at X (the TS layout) */
PetscErrorCode BbdFieldJacobianFD(BbdField f, TS ts, Vec X, Mat B)
{
  SNES          snes;
  MatFDColoring fdc = NULL;

  PetscFunctionBeginUser;
  PetscCall(TSGetSNES(ts, &snes));
  if (!f->jac_fdcolor) {
    PetscCall(SNESComputeJacobianDefault(snes, X, B, B, NULL));
    PetscFunctionReturn(0);
  }
  PetscCall(PetscObjectQuery((PetscObject)B, "BbdFieldFDColoring", (PetscObject *)&fdc));
  PetscCheck(fdc, f->comm, PETSC_ERR_PLIB, "the Jacobian matrix was not created by BbdFieldJacobianFDCreate");
  PetscCall(MatFDColoringApply(B, fdc, X, snes));
  PetscFunctionReturn(0);
}

/* A = shift dF/dU' + dF/dU at (U, U') */
PetscErrorCode BbdFieldJacobianAssemble(BbdField f, Vec U, Vec Udot, PetscReal shift, Mat A)
{
  PetscContainer box;
  JacCtx        *J;

  PetscFunctionBeginUser;
  PetscCall(PetscObjectQuery((PetscObject)A, "BbdFieldJacobian", (PetscObject *)&box));
  PetscCheck(box, f->comm, PETSC_ERR_PLIB, "the Jacobian matrix was not created by BbdFieldJacobianCreate");
  PetscCall(PetscContainerGetPointer(box, (void **)&J));
  PetscCheck(!f->continuum, f->comm, PETSC_ERR_SUP, "continuum mode's residual form has no analytic Jacobian");
  PetscCall(f->dyn->jacfill(f, J, U, Udot, shift, A));
  PetscFunctionReturn(0);
}

/* ---- A Jacobian assembled from exact directional derivatives by colouring (continuum mode's
   residual form, residual_continuum.c). The columns of one colour of a distance-2 colouring of the
   pattern share no row, so one product J e_c with e_c = the sum of the unit vectors of colour c
   gives, in each row, the entry of that row's (only) column of colour c. With exact products (no
   differencing) the entries are exact to rounding. */
typedef struct {
  PetscInt     nc;            /* colours */
  PetscInt    *cc, *cl;       /* [nc + 1] offsets into cl: the owned columns (local index) of each colour */
  PetscInt    *ec, *er, *ep;  /* [nc + 1] offsets into er, ep: the entries (local row, position in the rows) of each colour */
  PetscInt     m, *rp, *rc;   /* the owned rows: m, offsets [m + 1], global columns (sorted in each row) */
  PetscScalar *rv;            /* their values */
  Vec          seed, y;
} ColourCtx;

static PetscErrorCode ColourCtxDestroy(void *ptr)
{
  ColourCtx *C = (ColourCtx *)ptr;

  PetscFunctionBeginUser;
  PetscCall(PetscFree5(C->cc, C->cl, C->ec, C->er, C->ep));
  PetscCall(PetscFree3(C->rp, C->rc, C->rv));
  PetscCall(VecDestroy(&C->seed));
  PetscCall(VecDestroy(&C->y));
  PetscCall(PetscFree(C));
  PetscFunctionReturn(0);
}

PetscErrorCode BbdFieldJacobianColourCreate(BbdField f, Mat *A)
{
  MatColoring      mc;
  ISColoring       isc;
  const ISColoringValue *colors;
  PetscInt         n, nc, rstart, rend, nnz = 0, *cols, *ccol;
  ColourCtx       *C;
  Vec              cv, ev;
  IS               is;
  VecScatter       sc;
  PetscScalar     *a;
  const PetscScalar *ea;
  PetscContainer   box;

  PetscFunctionBeginUser;
  PetscCall(BbdFieldJacobianCreate(f, A)); /* the pattern (FillBox for continuum mode), assembled with zeros */
  PetscCall(MatColoringCreate(*A, &mc));
  PetscCall(MatColoringSetDistance(mc, 2));
  PetscCall(MatColoringSetType(mc, MATCOLORINGSL));
  PetscCall(MatColoringApply(mc, &isc));
  PetscCall(MatColoringDestroy(&mc));
  PetscCall(ISColoringGetColors(isc, &n, &nc, &colors));
  PetscCall(PetscNew(&C));
  C->nc = nc;
  PetscCall(MatCreateVecs(*A, &C->seed, &C->y));
  PetscCall(MatGetOwnershipRange(*A, &rstart, &rend));
  /* the colour of every column (a vector of the column layout), then of every entry of the owned rows */
  PetscCall(VecDuplicate(C->seed, &cv));
  PetscCall(VecGetArray(cv, &a));
  for (PetscInt i = 0; i < n; i++) a[i] = colors[i];
  PetscCall(VecRestoreArray(cv, &a));
  for (PetscInt r = rstart; r < rend; r++) {
    PetscInt nz;
    PetscCall(MatGetRow(*A, r, &nz, NULL, NULL));
    nnz += nz;
    PetscCall(MatRestoreRow(*A, r, &nz, NULL, NULL));
  }
  C->m = rend - rstart;
  PetscCall(PetscMalloc3(C->m + 1, &C->rp, nnz, &C->rc, nnz, &C->rv));
  PetscCall(PetscMalloc1(nnz, &ccol));
  cols  = C->rc;
  nnz   = 0;
  C->rp[0] = 0;
  for (PetscInt r = rstart; r < rend; r++) {
    PetscInt        nz;
    const PetscInt *c;
    PetscCall(MatGetRow(*A, r, &nz, &c, NULL));
    for (PetscInt q = 0; q < nz; q++) {
      ccol[nnz]   = r - rstart;
      cols[nnz++] = c[q];
    }
    C->rp[r - rstart + 1] = nnz;
    PetscCall(MatRestoreRow(*A, r, &nz, &c, NULL));
  }
  PetscCall(ISCreateGeneral(PETSC_COMM_SELF, nnz, cols, PETSC_USE_POINTER, &is));
  PetscCall(VecCreateSeq(PETSC_COMM_SELF, nnz, &ev));
  PetscCall(VecScatterCreate(cv, is, ev, NULL, &sc));
  PetscCall(VecScatterBegin(sc, cv, ev, INSERT_VALUES, SCATTER_FORWARD));
  PetscCall(VecScatterEnd(sc, cv, ev, INSERT_VALUES, SCATTER_FORWARD));
  PetscCall(VecScatterDestroy(&sc));
  PetscCall(ISDestroy(&is));
  PetscCall(VecDestroy(&cv));
  /* counting sort of the owned columns and of the entries by colour */
  PetscCall(PetscCalloc5(nc + 1, &C->cc, n, &C->cl, nc + 1, &C->ec, nnz, &C->er, nnz, &C->ep));
  PetscCall(VecGetArrayRead(ev, &ea));
  for (PetscInt i = 0; i < n; i++) C->cc[colors[i] + 1]++;
  for (PetscInt q = 0; q < nnz; q++) {
    const PetscInt c = (PetscInt)PetscRealPart(ea[q]);
    PetscCheck(c >= 0 && c < nc, f->comm, PETSC_ERR_PLIB, "entry colour %" PetscInt_FMT " outside 0..%" PetscInt_FMT, c, nc - 1);
    C->ec[c + 1]++;
  }
  for (PetscInt c = 0; c < nc; c++) {
    C->cc[c + 1] += C->cc[c];
    C->ec[c + 1] += C->ec[c];
  }
  {
    PetscInt *pc, *pe;
    PetscCall(PetscMalloc2(nc, &pc, nc, &pe));
    PetscCall(PetscArraycpy(pc, C->cc, nc));
    PetscCall(PetscArraycpy(pe, C->ec, nc));
    for (PetscInt i = 0; i < n; i++) C->cl[pc[colors[i]]++] = i;
    for (PetscInt q = 0; q < nnz; q++) {
      const PetscInt c = (PetscInt)PetscRealPart(ea[q]);
      C->er[pe[c]]   = ccol[q];
      C->ep[pe[c]++] = q;
    }
    PetscCall(PetscFree2(pc, pe));
  }
  PetscCall(VecRestoreArrayRead(ev, &ea));
  PetscCall(VecDestroy(&ev));
  PetscCall(PetscFree(ccol));
  PetscCall(ISColoringDestroy(&isc));
  PetscCall(PetscContainerCreate(f->comm, &box));
  PetscCall(PetscContainerSetPointer(box, C));
  PetscCall(PetscContainerSetUserDestroy(box, ColourCtxDestroy));
  PetscCall(PetscObjectCompose((PetscObject)*A, "BbdFieldColouring", (PetscObject)box));
  PetscCall(PetscContainerDestroy(&box));
  PetscFunctionReturn(0);
}

/* A = the matrix whose products are jvp: one product per colour */
PetscErrorCode BbdFieldJacobianColourAssemble(BbdField f, BbdFieldJVP jvp, Mat A)
{
  PetscContainer     box;
  ColourCtx         *C;
  PetscInt           rstart;
  PetscScalar       *s;
  const PetscScalar *y;

  PetscFunctionBeginUser;
  PetscCall(PetscObjectQuery((PetscObject)A, "BbdFieldColouring", (PetscObject *)&box));
  PetscCheck(box, f->comm, PETSC_ERR_PLIB, "the Jacobian matrix was not created by BbdFieldJacobianColourCreate");
  PetscCall(PetscContainerGetPointer(box, (void **)&C));
  PetscCall(MatGetOwnershipRange(A, &rstart, NULL));
  for (PetscInt c = 0; c < C->nc; c++) {
    PetscCall(VecSet(C->seed, 0));
    PetscCall(VecGetArray(C->seed, &s));
    for (PetscInt q = C->cc[c]; q < C->cc[c + 1]; q++) s[C->cl[q]] = 1;
    PetscCall(VecRestoreArray(C->seed, &s));
    PetscCall(jvp(f, C->seed, C->y));
    PetscCall(VecGetArrayRead(C->y, &y));
    for (PetscInt q = C->ec[c]; q < C->ec[c + 1]; q++) C->rv[C->ep[q]] = y[C->er[q]];
    PetscCall(VecRestoreArrayRead(C->y, &y));
  }
  for (PetscInt r = 0; r < C->m; r++) { /* whole rows, columns sorted */
    const PetscInt row = rstart + r;
    PetscCall(MatSetValues(A, 1, &row, C->rp[r + 1] - C->rp[r], C->rc + C->rp[r], C->rv + C->rp[r], INSERT_VALUES));
  }
  PetscCall(MatAssemblyBegin(A, MAT_FINAL_ASSEMBLY));
  PetscCall(MatAssemblyEnd(A, MAT_FINAL_ASSEMBLY));
  PetscFunctionReturn(0);
}
