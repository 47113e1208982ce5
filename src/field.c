/* BbdField: the overdamped BBD field equations on a (depth, width) DMDA (docs/theory.md,
   sections 4 and 7). x = depth, k = 0..M (NX = M+1 points), y = width, i = 0..N-1
   (periodic, or zero padding). Unknowns per point: z and the moments a_0..a_P (a at k = M
   unused). Lattice mode, sweep formulation (explicit in time):
     beta^(M-1) = -eta dl/dZ,   beta^(m-1) = rho beta^(m) + h sigma'(z^(m)) .* sum_j D_j^T (a_j beta^(m))
     da_j^(m)/dt = kappa_j beta^(m) .* D_j sigma(z^(m))
     dz^(0)/dt = 0,  dz^(m+1)/dt = rho dz^(m) + h (beta^(m) + sum_j da_j D_j sigma(z^(m)) + sum_j a_j D_j (sigma' dz^(m)))
   i.e. the block-triangular solution of the residual system of section 4: one backward and
   one forward sweep in depth, local in width. The grid is split across ranks in width only
   (each rank sweeps its columns); a sweep exchanges one width row per layer.
   Damped dynamics (-bbd_dynamics damped): velocity unknowns z_dot, a_j_dot follow z, a_j at each
   point; one backward sweep (the flow rates beta) and one forward sweep (the second time
   derivative of the forward map) per evaluation (docs/theory.md section 14, RHSFunctionDamped). */
#include "fieldimpl.h"


PetscErrorCode BbdFieldCreate(MPI_Comm comm, BbdField *field)
{
  BbdField f;

  PetscFunctionBeginUser;
  PetscCall(PetscNew(&f));
  f->comm = comm;
  PetscCallMPI(MPI_Comm_size(comm, &f->size));
  PetscCall(PetscStrcpy(f->mode, "lattice"));
  PetscCall(BbdNetCreate(comm, &f->net));
  f->net->for_field = PETSC_TRUE;
  PetscCall(PetscStrcpy(f->net->output_file, "bbd-field.h5"));
  *field = f;
  PetscFunctionReturn(0);
}

PetscErrorCode BbdFieldDestroy(BbdField *field)
{
  BbdField f = *field;

  PetscFunctionBeginUser;
  if (!f) PetscFunctionReturn(0);
  PetscCall(VecDestroy(&f->U));
  PetscCall(VecDestroy(&f->Uloc));
  PetscCall(VecDestroy(&f->Ulin));
  PetscCall(VecDestroy(&f->rowg));
  PetscCall(VecDestroy(&f->Zall));
  PetscCall(VecDestroy(&f->Unat));
  PetscCall(VecDestroy(&f->Uall));
  PetscCall(VecScatterDestroy(&f->zscat));
  PetscCall(VecScatterDestroy(&f->allscat));
  PetscCall(BbdFieldLayoutDestroy(f));
  PetscCall(DMDestroy(&f->da));
  PetscCall(DMDestroy(&f->rowda));
  PetscCall(PetscFree4(f->beta, f->gb, f->dz, f->dzn));
  PetscCall(PetscFree6(f->lam, f->zr, f->ar, f->S, f->D1, f->dar));
  PetscCall(PetscFree4(f->zdot, f->g1, f->g2, f->pw));
  if (f->residual) PetscCall(BbdFieldResidualDestroy(f));
  PetscCall(BbdFieldDampedResidualDestroy(f));
  PetscCall(PetscFree3(f->iz, f->ia, f->ib));
  PetscCall(PetscFree2(f->izd, f->iad));
  PetscCall(PetscFree(f->ibd));
  PetscCall(PetscFree2(f->cR, f->cP));
  PetscCall(PetscFree4(f->zdr, f->adr, f->D2, f->u1));
  PetscCall(BbdNetDestroy(&f->net));
  PetscCall(PetscFree(f));
  *field = NULL;
  PetscFunctionReturn(0);
}

PetscErrorCode BbdFieldSetFromOptions(BbdField f)
{
  BbdNet    net = f->net;
  PetscBool set;

  PetscFunctionBeginUser;
  PetscCall(BbdNetSetFromOptions(net));
  PetscOptionsBegin(f->comm, NULL, "BBD field solver options (bbd-field; docs/usage.md)", NULL);
  PetscCall(PetscOptionsString("-bbd_mode", "Discretisation: lattice (the network's own stencils on its lattice) or continuum (second-order stencils on any grid)", "BbdFieldSetFromOptions", f->mode, f->mode, sizeof(f->mode), &set));
  {
    char form[32] = "sweep";
    PetscCall(PetscOptionsString("-bbd_formulation", "Lattice mode: sweep (explicit right-hand side: the exact block-triangular solve; any explicit or implicit -ts_type) or residual (the implicit residual form F(U, U') = 0 with the sweep as preconditioner; implicit -ts_type)", "BbdFieldSetFromOptions", form, form, sizeof(form), NULL));
    PetscCheck(!strcmp(form, "sweep") || !strcmp(form, "residual"), f->comm, PETSC_ERR_USER_INPUT, "-bbd_formulation %s: use sweep or residual", form);
    f->residual = (PetscBool)!strcmp(form, "residual");
  }
  {
    char jac[32] = "mf";
    PetscCall(PetscOptionsString("-bbd_jacobian", "Residual formulation: the Newton Jacobian shift dF/dU' + dF/dU, assembled (analytic, any -pc_type) or mf (matrix-free differencing of the residual; the sweep or no preconditioner only)", "BbdFieldSetFromOptions", jac, jac, sizeof(jac), NULL));
    PetscCheck(!strcmp(jac, "mf") || !strcmp(jac, "assembled"), f->comm, PETSC_ERR_USER_INPUT, "-bbd_jacobian %s: use mf or assembled", jac);
    f->jac_assembled = (PetscBool)!strcmp(jac, "assembled");
  }
  f->avx2 = PETSC_TRUE;
  PetscCall(PetscOptionsBool("-bbd_residual_avx2", "Residual formulation: evaluate the residual with the AVX2/FMA column kernels where the CPU has them (chosen at run time; tanh activation, moments a_0..a_2, gradient flow); false: the portable code", "BbdFieldSetFromOptions", f->avx2, &f->avx2, NULL));
  PetscOptionsEnd();
  PetscCheck(!strcmp(f->mode, "lattice") || !strcmp(f->mode, "continuum"), f->comm, PETSC_ERR_USER_INPUT, "-bbd_mode %s: use lattice or continuum", f->mode);
  f->continuum = (PetscBool)!strcmp(f->mode, "continuum");
  PetscCheck(!(f->continuum && f->residual), f->comm, PETSC_ERR_SUP, "-bbd_formulation residual: only in lattice mode so far");
  PetscCheck(!f->jac_assembled || f->residual, f->comm, PETSC_ERR_USER_INPUT, "-bbd_jacobian assembled: the Jacobian belongs to the implicit residual formulation; add -bbd_formulation residual (lattice mode)");
  PetscCheck(net->family == BBD_FAMILY_FIELD, f->comm, PETSC_ERR_USER_INPUT, "bbd-field integrates field-family networks (-bbd_family field); a dense network has no (depth, width) grid%s%s%s", net->init_file[0] ? " (-bbd_init " : "", net->init_file, net->init_file[0] ? " holds a dense state: bbd-compare -bbd_init coarse-grains it)" : "");
  if (f->continuum) {
    PetscInt NX = net->M + 1, NY = net->n[0];
    if (net->init_file[0]) { /* the file's fields are interpolated onto the grid (BbdFieldContinuumRead) */
      PetscInt  nx = 0, ny = 0;
      PetscReal t;
      PetscCall(BbdStateReadGridInfo(net->init_file, &f->src_continuum, &nx, &ny, &t));
      if (f->src_continuum) {
        PetscCheck(nx == net->M + 1 && ny == net->n[0], f->comm, PETSC_ERR_USER_INPUT, "-bbd_init %s: the attributes nx = %" PetscInt_FMT ", ny = %" PetscInt_FMT " of the continuum result disagree with depth = %" PetscInt_FMT " and widths = %" PetscInt_FMT " (expected nx = depth + 1, ny = width)", net->init_file, nx, ny, net->M, net->n[0]);
        f->src_nx = nx;
      } else f->src_nx = net->M;
      f->src_ny      = net->n[0];
      net->init_grid = PETSC_TRUE;
      { /* run settings the file stores as defaults that continuum mode cannot use: unless given
           as options, one sample (no switching, batch 1), and gradient flow for an sgd file */
        PetscBool given;
        PetscCall(PetscOptionsHasName(NULL, NULL, "-bbd_sample_dt", &given));
        if (!given) net->sample_dt = 0;
        PetscCall(PetscOptionsHasName(NULL, NULL, "-bbd_batch", &given));
        if (!given) net->batch = 1;
        PetscCall(PetscOptionsHasName(NULL, NULL, "-bbd_dynamics", &given));
        if (!given && net->dyn == BBD_DYN_SGD) net->dyn = BBD_DYN_FLOW; /* damped stays damped (with the file's velocities) */
      }
    }
    PetscCheck(net->sample_dt == 0, f->comm, PETSC_ERR_SUP, "-bbd_sample_dt with -bbd_mode continuum: sample switching is not implemented in continuum mode yet");
    for (PetscInt m = 0; m < net->M; m++) PetscCheck(net->act[m] == net->act[0], f->comm, PETSC_ERR_USER_INPUT, "-bbd_activation: continuum mode needs one activation for all depths");
    PetscCheck(net->act[0] != BBD_ACT_RELU, f->comm, PETSC_ERR_USER_INPUT, "-bbd_activation relu: relu is not C^2, so the continuum field equations (which need sigma'') are not defined for it; use it with -bbd_mode lattice or bbd-net");
    PetscCall(PetscOptionsGetInt(NULL, NULL, "-da_grid_x", &NX, NULL));
    PetscCall(PetscOptionsGetInt(NULL, NULL, "-da_grid_y", &NY, NULL));
    PetscCheck(NX >= 3, f->comm, PETSC_ERR_USER_INPUT, "-da_grid_x %" PetscInt_FMT ": the depth grid needs at least 3 points", NX);
    PetscCheck(NY >= 3, f->comm, PETSC_ERR_USER_INPUT, "-da_grid_y %" PetscInt_FMT ": the width grid needs at least 3 points", NY);
    /* the net now describes the grid: M = NX - 1 cells in depth, NY points in width */
    PetscCall(PetscFree(net->n));
    PetscCall(PetscMalloc1(NX, &net->n));
    for (PetscInt k = 0; k < NX; k++) net->n[k] = NY;
    {
      BbdActivation a0 = net->act[0];
      PetscCall(PetscFree(net->act));
      PetscCall(PetscMalloc1(NX - 1, &net->act));
      for (PetscInt k = 0; k < NX - 1; k++) net->act[k] = a0;
    }
    net->M  = NX - 1;
    net->h  = 1.0 / net->M;
    net->dy = 1.0 / NY;
  }
  PetscCheck(net->dyn != BBD_DYN_SGD, f->comm, PETSC_ERR_SUP, "-bbd_dynamics sgd: bbd-field integrates the continuous-time dynamics (flow, damped); discrete sgd steps are bbd-net's");
  f->damped = (PetscBool)(net->dyn == BBD_DYN_DAMPED);
  PetscCheck(net->batch == 1, f->comm, PETSC_ERR_USER_INPUT, "-bbd_batch %" PetscInt_FMT ": the field z(x, y) is one sample's; bbd-field needs -bbd_batch 1", net->batch);
  PetscFunctionReturn(0);
}

/* owned width row -> ghosted width row (one layer's halo exchange) */
PetscErrorCode BbdFieldExchangeRow(BbdField f, const PetscReal *own, PetscReal *gh)
{
  const PetscInt off = f->ys - f->gys;

  PetscFunctionBeginUser;
  if (f->size == 1) {
    const PetscInt N = f->ym;
    PetscCall(PetscArraycpy(gh + off, own, N));
    if (off) gh[0] = f->net->periodic ? own[N - 1] : 0;
    if (f->gym > N + off) gh[N + off] = f->net->periodic ? own[0] : 0;
  } else { /* one value each way with the width neighbours: the sweeps exchange a row per layer,
              so the latency of this call bounds their parallel speed */
    const PetscInt N = f->ym;
    PetscReal      fromleft = 0, fromright = 0;
    MPI_Request    req[4];
    PetscCallMPI(MPI_Irecv(&fromleft, 1, MPIU_REAL, f->left, 7001, f->comm, &req[0]));
    PetscCallMPI(MPI_Irecv(&fromright, 1, MPIU_REAL, f->right, 7002, f->comm, &req[1]));
    PetscCallMPI(MPI_Isend(own + N - 1, 1, MPIU_REAL, f->right, 7001, f->comm, &req[2]));
    PetscCallMPI(MPI_Isend(own, 1, MPIU_REAL, f->left, 7002, f->comm, &req[3]));
    PetscCall(PetscArraycpy(gh + off, own, N));
    PetscCallMPI(MPI_Waitall(4, req, MPI_STATUSES_IGNORE));
    gh[0]       = fromleft; /* 0 outside a non-periodic width (MPI_PROC_NULL leaves it) */
    gh[N + off] = fromright;
  }
  PetscFunctionReturn(0);
}

/* the loss gradient per unit width on the owned part of the output row Z (owned entries) */
PetscErrorCode BbdFieldOutputGradient(BbdField f, const PetscReal *Zown, PetscReal *lam)
{
  BbdNet             net = f->net;
  const PetscInt     N   = net->n[0];
  PetscScalar       *g;
  const PetscScalar *Z;

  PetscFunctionBeginUser;
  PetscCall(VecGetArray(f->rowg, &g));
  PetscCall(PetscArraycpy(g, Zown, f->ym));
  PetscCall(VecRestoreArray(f->rowg, &g));
  PetscCall(VecScatterBegin(f->zscat, f->rowg, f->Zall, INSERT_VALUES, SCATTER_FORWARD));
  PetscCall(VecScatterEnd(f->zscat, f->rowg, f->Zall, INSERT_VALUES, SCATTER_FORWARD));
  PetscCall(VecGetArrayRead(f->Zall, &Z));
  (void)BbdLossEval(net->loss, N, net->dy, Z, net->Y + f->sample * N, f->lam); /* f->lam has N entries */
  PetscCall(VecRestoreArrayRead(f->Zall, &Z));
  for (PetscInt j = 0; j < f->ym; j++) lam[j] = f->lam[f->ys + j];
  PetscFunctionReturn(0);
}

/* The grid stores depth fastest; the sweeps run along width rows: transpose the ghosted state
   once per evaluation into rows zr[k][jj], ar[c][k][jj] (k = 0..NX-1), and evaluate sigma and
   sigma' of every row (S, D1), with zero padding outside a non-periodic width. Damped: also the
   velocity rows zdr[k][jj], adr[c][k][jj] and sigma'' (D2). */
PetscErrorCode BbdFieldTransposeIn(BbdField f, Vec U)
{
  BbdNet         net = f->net;
  const PetscInt NX = net->M + 1, P = net->P, gys = f->gys, gym = f->gym, V = P + 2;
  PetscScalar ***u;

  PetscFunctionBeginUser;
  PetscCall(DMGlobalToLocalBegin(f->da, U, INSERT_VALUES, f->Uloc));
  PetscCall(DMGlobalToLocalEnd(f->da, U, INSERT_VALUES, f->Uloc));
  PetscCall(DMDAVecGetArrayDOFRead(f->da, f->Uloc, &u));
  for (PetscInt jj = 0; jj < gym; jj++) {
    PetscScalar **col = u[gys + jj];
    for (PetscInt k = 0; k < NX; k++) {
      f->zr[k * gym + jj] = col[k][0];
      for (PetscInt c = 0; c <= P; c++) f->ar[(c * NX + k) * gym + jj] = col[k][1 + c];
      if (f->damped) {
        f->zdr[k * gym + jj] = col[k][V];
        for (PetscInt c = 0; c <= P; c++) f->adr[(c * NX + k) * gym + jj] = col[k][V + 1 + c];
      }
    }
  }
  PetscCall(DMDAVecRestoreArrayDOFRead(f->da, f->Uloc, &u));
  for (PetscInt k = 0; k < NX; k++) {
    BbdActivationEval(net->act[PetscMin(k, net->M - 1)], gym, f->zr + k * gym, f->S + k * gym, f->D1 + k * gym, f->damped ? f->D2 + k * gym : NULL);
    if (!net->periodic) { /* zero padding of sigma(z) outside the width (sigma(0) need not vanish) */
      if (gys < 0) f->S[k * gym] = 0;
      if (gys + gym > net->n[0]) f->S[k * gym + gym - 1] = 0;
    }
  }
  PetscFunctionReturn(0);
}

/* The width stencils of one depth row k, on the owned width, with the moment rows of the state last
   transposed in: out = sum_c D_c^T (a_c v) and out = sum_c a_c D_c u (v, u ghosted). */
void BbdFieldRowPhiT(BbdField f, PetscInt k, const PetscReal *gv, PetscReal *out)
{
  BbdNet          net = f->net;
  const PetscInt  NX = net->M + 1, gym = f->gym, o = f->ys - f->gys, P = net->P;
  const PetscReal c1 = 0.5 / net->dy, c2 = 1.0 / (net->dy * net->dy);
  const PetscReal *a0 = f->ar + k * gym, *a1 = f->ar + (NX + k) * gym, *a2 = f->ar + (2 * NX + k) * gym;

  for (PetscInt j = 0; j < f->ym; j++) {
    const PetscInt jj = j + o;
    PetscReal      r  = a0[jj] * gv[jj];
    if (P >= 1) r -= c1 * (a1[jj + 1] * gv[jj + 1] - a1[jj - 1] * gv[jj - 1]);
    if (P >= 2) r += c2 * (a2[jj + 1] * gv[jj + 1] - 2 * a2[jj] * gv[jj] + a2[jj - 1] * gv[jj - 1]);
    out[j] = r;
  }
}

void BbdFieldRowPhi(BbdField f, PetscInt k, const PetscReal *gu, PetscReal *out)
{
  BbdNet          net = f->net;
  const PetscInt  NX = net->M + 1, gym = f->gym, o = f->ys - f->gys, P = net->P;
  const PetscReal c1 = 0.5 / net->dy, c2 = 1.0 / (net->dy * net->dy);
  const PetscReal *a0 = f->ar + k * gym, *a1 = f->ar + (NX + k) * gym, *a2 = f->ar + (2 * NX + k) * gym;

  for (PetscInt j = 0; j < f->ym; j++) {
    const PetscInt jj = j + o;
    PetscReal      r  = a0[jj] * gu[jj];
    if (P >= 1) r += a1[jj] * c1 * (gu[jj + 1] - gu[jj - 1]);
    if (P >= 2) r += a2[jj] * c2 * (gu[jj + 1] - 2 * gu[jj] + gu[jj - 1]);
    out[j] = r;
  }
}

/* the backward sweep alone: f->beta[m * ym + j] = beta^(m), m = 0..M-1 (r: sources or NULL) */
static PetscErrorCode SweepBackward(BbdField f, const PetscScalar ***r, PetscBool with_loss)
{
  BbdNet          net = f->net;
  const PetscInt  M = net->M, ys = f->ys, ym = f->ym, gym = f->gym, o = ys - f->gys;
  const PetscReal rho = net->rho, h = net->h;
  PetscReal      *gb = f->gb, *zr = f->zr, *D1 = f->D1;

  PetscFunctionBeginUser;
  /* beta^(m) from the output boundary inward (this is backprop) */
  if (with_loss) {
    PetscCall(BbdFieldOutputGradient(f, zr + M * gym + o, f->beta + (M - 1) * ym));
    for (PetscInt j = 0; j < ym; j++) f->beta[(M - 1) * ym + j] *= -net->eta;
  } else PetscCall(PetscArrayzero(f->beta + (M - 1) * ym, ym));
  if (r)
    for (PetscInt j = 0; j < ym; j++) f->beta[(M - 1) * ym + j] += r[ys + j][M][0];
  for (PetscInt m = M - 1; m >= 1; m--) {
    const PetscReal *d1 = D1 + m * gym;
    PetscReal       *bn = f->beta + (m - 1) * ym;
    PetscCall(BbdFieldExchangeRow(f, f->beta + m * ym, gb));
    BbdFieldRowPhiT(f, m, gb, f->g1);
    for (PetscInt j = 0; j < ym; j++) bn[j] = rho * gb[j + o] + h * d1[j + o] * f->g1[j];
    if (r)
      for (PetscInt j = 0; j < ym; j++) bn[j] += h * r[ys + j][m][0];
  }
  PetscFunctionReturn(0);
}

/* The block-triangular solve of the residual system (docs/theory.md section 14) with sources:
   out = G(U)^-1 src on the rows of the state last transposed in (BbdFieldTransposeIn):
     beta^(M-1) = src_z^(M) (- eta lam^(M) with the loss),
     beta^(m-1) = rho beta^(m) + h sigma' .* sum_j D_j^T (a_j beta^(m)) + h src_z^(m),
     a_j'^(m) = kappa_j (src_a^(m) + beta^(m) .* D_j sigma(z^(m)))   (src_a for kappa_j = 0),
     z'^(0) = src_z^(0),  z'^(m+1) = rho z'^(m) + h (beta^(m) + sum_j a_j' D_j sigma + sum_j a_j D_j (sigma' z'^(m))).
   src = NULL with the loss: the gradient-flow rates (the explicit right-hand side). */
static PetscErrorCode Sweep(BbdField f, Vec src, PetscBool with_loss, Vec F)
{
  BbdNet             net = f->net;
  const PetscInt     M = net->M, P = net->P, ys = f->ys, ym = f->ym, gym = f->gym, o = ys - f->gys;
  const PetscReal    rho = net->rho, h = net->h, c1 = 0.5 / net->dy, c2 = 1.0 / (net->dy * net->dy);
  PetscScalar     ***fa;
  const PetscScalar ***r = NULL;
  PetscReal         *gb = f->gb, *D1 = f->D1, *S = f->S;

  PetscFunctionBeginUser;
  if (src) PetscCall(DMDAVecGetArrayDOFRead(f->da, src, &r));
  PetscCall(SweepBackward(f, r, with_loss));
  /* forward sweep: moment rates locally, neuron rates from the input outward (tangent pass) */
  PetscCall(DMDAVecGetArrayDOF(f->da, F, &fa));
  for (PetscInt j = 0; j < ym; j++) {
    f->dz[j]         = r ? r[ys + j][0][0] : 0; /* dX/dt = 0: the sample is fixed inside a segment */
    fa[ys + j][0][0] = f->dz[j];
    for (PetscInt c = 1; c < f->dof; c++) fa[ys + j][M][c] = r ? r[ys + j][M][c] : 0;
  }
  for (PetscInt m = 0; m < M; m++) {
    const PetscReal *bm = f->beta + m * ym, *s = S + m * gym, *d1 = D1 + m * gym;
    PetscReal       *dar = f->dar;
    for (PetscInt j = 0; j < ym; j++) f->dzn[j] = d1[j + o] * f->dz[j];
    PetscCall(BbdFieldExchangeRow(f, f->dzn, gb)); /* gb = sigma' dz^(m), ghosted */
    BbdFieldRowPhi(f, m, gb, f->g1);                /* Phi'(z) dz^(m) */
    for (PetscInt j = 0; j < ym; j++) {
      const PetscInt  jj   = j + o;
      const PetscReal D[3] = {s[jj], c1 * (s[jj + 1] - s[jj - 1]), c2 * (s[jj + 1] - 2 * s[jj] + s[jj - 1])};
      PetscReal       rr   = bm[j] + f->g1[j];
      for (PetscInt c = 0; c <= P; c++) {
        const PetscReal ra = r ? r[ys + j][m][1 + c] : 0;
        const PetscReal da = net->kappa[c] > 0 ? net->kappa[c] * (ra + bm[j] * D[c]) : ra;
        dar[c * ym + j]    = da;
        rr += da * D[c];
      }
      f->dzn[j] = rho * f->dz[j] + h * rr;
    }
    for (PetscInt j = 0; j < ym; j++) {
      fa[ys + j][m + 1][0] = f->dzn[j];
      for (PetscInt c = 0; c <= P; c++) fa[ys + j][m][1 + c] = dar[c * ym + j];
    }
    PetscCall(PetscArraycpy(f->dz, f->dzn, ym));
  }
  PetscCall(DMDAVecRestoreArrayDOF(f->da, F, &fa));
  if (src) PetscCall(DMDAVecRestoreArrayDOFRead(f->da, src, &r));
  PetscFunctionReturn(0);
}

/* the sweep with sources for src/residual_damped.c */
PetscErrorCode BbdFieldSweepSources(BbdField f, Vec src, Vec out)
{
  PetscFunctionBeginUser;
  PetscCall(Sweep(f, src, PETSC_FALSE, out));
  PetscFunctionReturn(0);
}

static PetscErrorCode RHSFunction(TS ts, PetscReal t, Vec U, Vec F, void *ctx)
{
  BbdField f = (BbdField)ctx;

  PetscFunctionBeginUser;
  (void)ts;
  (void)t;
  PetscCall(BbdFieldTransposeIn(f, U));
  PetscCall(Sweep(f, NULL, PETSC_TRUE, F));
  PetscFunctionReturn(0);
}

/* Damped dynamics (docs/theory.md section 14): the state at each point is (z, a_j, z', a_j'),
   the first-order system
     d(z, a)/dt = (z', a'),
     a_j''^(m) = -gamma a_j'^(m) + kappa_j beta^(m) .* D_j sigma(z^(m)),
     b''^(m)   = -gamma b'^(m) + beta^(m),
     z''^(0) = 0,  z''^(m+1) = rho z''^(m) + h [b''^(m) + sum_j (a_j'' D_j s + 2 a_j' D_j(s' z') + a_j D_j(s'' z'^2 + s' z''))],
   with beta^(m) the gradient-flow rates of the backward sweep (the flow velocity of b),
   s, s', s'' = sigma, sigma', sigma'' of z^(m), and the bias velocity from the neuron form
     b'^(m) = (z'^(m+1) - rho z'^(m))/h - sum_j a_j' D_j s - sum_j a_j D_j(s' z'^(m)).
   One backward sweep (beta) and one forward sweep (z''), each exchanging one width row per layer. */
static PetscErrorCode RHSFunctionDamped(TS ts, PetscReal t, Vec U, Vec F, void *ctx)
{
  BbdField        f   = (BbdField)ctx;
  BbdNet          net = f->net;
  const PetscInt  M = net->M, P = net->P, NX = M + 1, V = P + 2, ys = f->ys, ym = f->ym, gys = f->gys, gym = f->gym, o = ys - gys;
  const PetscReal rho = net->rho, h = net->h, gamma = net->gamma, c1 = 0.5 / net->dy, c2 = 1.0 / (net->dy * net->dy);
  PetscScalar  ***fa;
  PetscReal      *zdd = f->dz, *zddn = f->dzn, *u1 = f->u1, *w = f->pw, *gb = f->gb;

  PetscFunctionBeginUser;
  (void)ts;
  (void)t;
  PetscCall(BbdFieldTransposeIn(f, U));
  PetscCall(SweepBackward(f, NULL, PETSC_TRUE)); /* beta^(m): the flow velocity of b^(m) */
  PetscCall(DMDAVecGetArrayDOF(f->da, F, &fa));
  for (PetscInt j = 0; j < ym; j++) {
    for (PetscInt k = 0; k <= M; k++) fa[ys + j][k][0] = f->zdr[k * gym + j + o]; /* dz/dt = z' */
    zdd[j]           = 0; /* dX/dt = 0: the sample is fixed inside a segment */
    fa[ys + j][0][V] = 0;
    for (PetscInt c = 0; c <= P; c++) fa[ys + j][M][1 + c] = fa[ys + j][M][V + 1 + c] = 0; /* no moments at k = M */
  }
  for (PetscInt m = 0; m < M; m++) {
    const PetscReal *s = f->S + m * gym, *d1 = f->D1 + m * gym, *d2 = f->D2 + m * gym;
    const PetscReal *zd = f->zdr + m * gym, *zdn = f->zdr + (m + 1) * gym, *bf = f->beta + m * ym;
    for (PetscInt jj = 0; jj < gym; jj++) u1[jj] = d1[jj] * zd[jj]; /* sigma' z' (ghosted) */
    if (!net->periodic) {
      if (gys < 0) u1[0] = 0;
      if (gys + gym > net->n[0]) u1[gym - 1] = 0;
    }
    BbdFieldRowPhi(f, m, u1, f->g1); /* Phi'(z) z'^(m) */
    for (PetscInt j = 0; j < ym; j++) w[j] = d2[j + o] * zd[j + o] * zd[j + o] + d1[j + o] * zdd[j];
    PetscCall(BbdFieldExchangeRow(f, w, gb));
    BbdFieldRowPhi(f, m, gb, f->g2); /* sum_j a_j D_j (sigma'' z'^2 + sigma' z'') */
    for (PetscInt j = 0; j < ym; j++) {
      const PetscInt  jj    = j + o;
      const PetscReal Ds[3] = {s[jj], c1 * (s[jj + 1] - s[jj - 1]), c2 * (s[jj + 1] - 2 * s[jj] + s[jj - 1])};
      const PetscReal Du[3] = {u1[jj], c1 * (u1[jj + 1] - u1[jj - 1]), c2 * (u1[jj + 1] - 2 * u1[jj] + u1[jj - 1])};
      PetscReal       bd    = (zdn[jj] - rho * zd[jj]) / h - f->g1[j], rr;
      for (PetscInt c = 0; c <= P; c++) bd -= f->adr[(c * NX + m) * gym + jj] * Ds[c];
      rr = -gamma * bd + bf[j] + f->g2[j]; /* b'' + Phi(z)'' terms with a */
      for (PetscInt c = 0; c <= P; c++) {
        const PetscReal ad  = f->adr[(c * NX + m) * gym + jj];
        const PetscReal add = -gamma * ad + (net->kappa[c] > 0 ? net->kappa[c] * bf[j] * Ds[c] : 0);
        fa[ys + j][m][1 + c]     = ad;
        fa[ys + j][m][V + 1 + c] = add;
        rr += add * Ds[c] + 2 * ad * Du[c];
      }
      zddn[j]              = rho * zdd[j] + h * rr;
      fa[ys + j][m + 1][V] = zddn[j];
    }
    PetscCall(PetscArraycpy(zdd, zddn, ym));
  }
  PetscCall(DMDAVecRestoreArrayDOF(f->da, F, &fa));
  PetscFunctionReturn(0);
}

/* The Newton matrix shift G(U) + dF/dU: assembled analytically (-bbd_jacobian assembled,
   fieldjac.c) or applied matrix-free. The structure-aware preconditioner inverts its dominant
   part shift G(U) exactly by one sweep at the linearisation point. */
static PetscErrorCode IJacobian(TS ts, PetscReal t, Vec U, Vec Udot, PetscReal shift, Mat A, Mat B, void *ctx)
{
  BbdField f = (BbdField)ctx;

  PetscFunctionBeginUser;
  (void)ts;
  (void)t;
  PetscCall(BbdFieldFromTS(f, U, f->Ulin)); /* the linearisation point, width-only layout */
  PetscCall(BbdFieldTransposeIn(f, f->Ulin)); /* its rows, for every preconditioner application until the next Jacobian */
  f->shift = shift;
  if (f->jac_assembled) PetscCall(BbdFieldJacobianAssemble(f, U, Udot, shift, B));
  if (A != B || !f->jac_assembled) { /* the matrix-free operator (also with -snes_mf_operator) */
    PetscCall(MatAssemblyBegin(A, MAT_FINAL_ASSEMBLY));
    PetscCall(MatAssemblyEnd(A, MAT_FINAL_ASSEMBLY));
  }
  PetscFunctionReturn(0);
}

static PetscErrorCode PCApplySweep(PC pc, Vec x, Vec y)
{
  BbdField f;

  PetscFunctionBeginUser;
  PetscCall(PCShellGetContext(pc, &f)); /* the rows of the linearisation point: transposed in by IJacobian */
  PetscCall(Sweep(f, x, PETSC_FALSE, y));
  PetscCall(VecScale(y, 1.0 / f->shift));
  PetscFunctionReturn(0);
}

/* whole state on every rank (natural ordering: ((i * NX) + k) * dof + c) */
PetscErrorCode BbdFieldGatherAll(BbdField f, const PetscScalar **all)
{
  PetscFunctionBeginUser;
  PetscCall(DMDAGlobalToNaturalBegin(f->da, f->U, INSERT_VALUES, f->Unat));
  PetscCall(DMDAGlobalToNaturalEnd(f->da, f->U, INSERT_VALUES, f->Unat));
  PetscCall(VecScatterBegin(f->allscat, f->Unat, f->Uall, INSERT_VALUES, SCATTER_FORWARD));
  PetscCall(VecScatterEnd(f->allscat, f->Unat, f->Uall, INSERT_VALUES, SCATTER_FORWARD));
  PetscCall(VecGetArrayRead(f->Uall, all));
  PetscFunctionReturn(0);
}

/* state -> network parameters: a from the grid, b by the change of variables (theory section 3);
   damped: also z' (zd) and the velocities, a' from the grid, b' = beta from the neuron form
   (theory section 5) */
static PetscErrorCode StateToNet(BbdField f, PetscReal *z, PetscReal *zd)
{
  BbdNet             net = f->net;
  const PetscInt     M = net->M, N = net->n[0], NX = M + 1, V = net->P + 2;
  const PetscScalar *all;

  PetscFunctionBeginUser;
  PetscCall(BbdFieldGatherAll(f, &all));
  for (PetscInt i = 0; i < N; i++)
    for (PetscInt k = 0; k <= M; k++) {
      const PetscScalar *p = all + (i * NX + k) * f->dof;
      z[net->zoff[k] + i]  = p[0];
      if (f->damped) zd[net->zoff[k] + i] = p[V];
      if (k < M)
        for (PetscInt c = 0; c <= net->P; c++) {
          net->theta[net->woff[k] + c * N + i] = p[1 + c];
          if (f->damped) net->thetadot[net->woff[k] + c * N + i] = p[V + 1 + c];
        }
    }
  PetscCall(VecRestoreArrayRead(f->Uall, &all));
  PetscCall(BbdBiasFromNeurons(net, net->theta, z, net->theta));
  if (f->damped)
    for (PetscInt m = 0; m < M; m++) PetscCall(BbdBeta(net, m, m, net->theta, net->thetadot, z, zd, net->thetadot + net->boff[m]));
  PetscFunctionReturn(0);
}

/* network parameters and a sample -> state: z by the forward pass of that sample; damped: z' by
   the tangent pass with the parameter velocities (dX/dt = 0) */
static PetscErrorCode NetToState(BbdField f, PetscInt sample)
{
  BbdNet         net = f->net;
  const PetscInt M = net->M, N = net->n[0], V = net->P + 2;
  PetscReal     *z, *zd = NULL;
  PetscScalar ***u;
  PetscBool      exact = (PetscBool)(net->state_z && f->sample < 0 && !memcmp(net->state_z, net->X + sample * N, N * sizeof(PetscReal)));

  PetscFunctionBeginUser;
  PetscCall(PetscMalloc1(net->nz, &z));
  if (exact) PetscCall(PetscArraycpy(z, net->state_z, net->nz)); /* exact restart: the file's neurons of this very sample */
  else PetscCall(BbdForward(net, net->theta, net->X + sample * N, z));
  if (f->damped) {
    PetscCall(PetscMalloc1(net->nz, &zd));
    if (exact && net->state_zdot) PetscCall(PetscArraycpy(zd, net->state_zdot, net->nz)); /* and their velocities */
    else PetscCall(BbdTangent(net, net->theta, net->thetadot, z, NULL, zd));
  }
  PetscCall(DMDAVecGetArrayDOF(f->da, f->U, &u));
  for (PetscInt j = f->ys; j < f->ys + f->ym; j++)
    for (PetscInt k = 0; k <= M; k++) {
      u[j][k][0] = z[net->zoff[k] + j];
      for (PetscInt c = 0; c <= net->P; c++) u[j][k][1 + c] = k < M ? net->theta[net->woff[k] + c * N + j] : 0;
      if (f->damped) {
        u[j][k][V] = zd[net->zoff[k] + j];
        for (PetscInt c = 0; c <= net->P; c++) u[j][k][V + 1 + c] = k < M ? net->thetadot[net->woff[k] + c * N + j] : 0;
      }
    }
  PetscCall(DMDAVecRestoreArrayDOF(f->da, f->U, &u));
  PetscCall(PetscFree(z));
  PetscCall(PetscFree(zd));
  f->sample = sample;
  PetscFunctionReturn(0);
}

PetscErrorCode BbdFieldSetUp(BbdField f)
{
  BbdNet          net = f->net;
  const PetscInt  M = net->M, N = net->n[0];
  PetscInt        nx, ny, idx[1];
  const PetscInt *ly;
  DMBoundaryType  by = net->periodic ? DM_BOUNDARY_PERIODIC : DM_BOUNDARY_GHOSTED;
  char            name[16];

  PetscFunctionBeginUser;
  if (f->continuum && net->init_file[0]) PetscCall(BbdFieldContinuumRead(f));
  PetscCall(BbdNetSetUp(net));
  f->dof = (f->damped ? 2 : 1) * (net->P + 2); /* z, a_0..a_P (damped: then z_dot, a_0_dot..a_P_dot) */
  nx = M + 1;
  ny = N;
  PetscCall(PetscOptionsGetInt(NULL, NULL, "-da_grid_x", &nx, NULL));
  PetscCall(PetscOptionsGetInt(NULL, NULL, "-da_grid_y", &ny, NULL));
  PetscCheck(nx == M + 1 || f->continuum, f->comm, PETSC_ERR_USER_INPUT, "-da_grid_x %" PetscInt_FMT ": in lattice mode the grid is the network's lattice, NX = M+1 = %" PetscInt_FMT, nx, M + 1);
  PetscCheck(ny == N || f->continuum, f->comm, PETSC_ERR_USER_INPUT, "-da_grid_y %" PetscInt_FMT ": in lattice mode the grid is the network's lattice, NY = N = %" PetscInt_FMT, ny, N);
  PetscCall(BbdFieldLayoutSetUp(f, M + 1, N, by)); /* f->dats (the TS's, as the options split it) and f->da (width only) */
  PetscCall(DMDASetFieldName(f->da, 0, "z"));
  for (PetscInt c = 0; c <= net->P; c++) {
    PetscCall(PetscSNPrintf(name, sizeof(name), "a_%" PetscInt_FMT, c));
    PetscCall(DMDASetFieldName(f->da, 1 + c, name));
  }
  if (f->damped) {
    PetscCall(DMDASetFieldName(f->da, net->P + 2, "z_dot"));
    for (PetscInt c = 0; c <= net->P; c++) {
      PetscCall(PetscSNPrintf(name, sizeof(name), "a_%" PetscInt_FMT "_dot", c));
      PetscCall(DMDASetFieldName(f->da, net->P + 3 + c, name));
    }
  }
  PetscCall(DMDASetUniformCoordinates(f->da, 0, 1, 0, 1 - 1.0 / N, 0, 0));
  if (f->split) { /* the TS layout carries the same names and coordinates (viewers, monitors) */
    for (PetscInt c = 0; c < f->dof; c++) {
      const char *fname;
      PetscCall(DMDAGetFieldName(f->da, c, &fname));
      PetscCall(DMDASetFieldName(f->dats, c, fname));
    }
    PetscCall(DMDASetUniformCoordinates(f->dats, 0, 1, 0, 1 - 1.0 / N, 0, 0));
  }
  PetscCall(DMDAGetCorners(f->da, NULL, &f->ys, NULL, NULL, &f->ym, NULL));
  { /* width neighbours of the row exchange (f->da splits width only: rank order is width order) */
    PetscMPIInt rank;
    PetscCallMPI(MPI_Comm_rank(f->comm, &rank));
    f->left  = rank > 0 ? rank - 1 : (net->periodic ? f->size - 1 : MPI_PROC_NULL);
    f->right = rank < f->size - 1 ? rank + 1 : (net->periodic ? 0 : MPI_PROC_NULL);
  }
  PetscCall(DMDAGetGhostCorners(f->da, NULL, &f->gys, NULL, NULL, &f->gym, NULL));
  PetscCall(DMDAGetOwnershipRanges(f->da, NULL, &ly, NULL));
  PetscCall(DMDACreate1d(f->comm, by, N, 1, 1, ly, &f->rowda));
  PetscCall(DMSetUp(f->rowda));
  PetscCall(DMCreateGlobalVector(f->rowda, &f->rowg));
  PetscCall(VecScatterCreateToAll(f->rowg, &f->zscat, &f->Zall));
  PetscCall(DMCreateGlobalVector(f->da, &f->U));
  PetscCall(DMCreateLocalVector(f->da, &f->Uloc));
  PetscCall(VecSet(f->Uloc, 0));
  PetscCall(VecDuplicate(f->U, &f->Ulin));
  PetscCall(BbdFieldLayoutVectors(f));
  PetscCall(DMDACreateNaturalVector(f->da, &f->Unat));
  PetscCall(VecScatterCreateToAll(f->Unat, &f->allscat, &f->Uall));
  PetscCall(PetscMalloc4((M + 1) * f->ym, &f->beta, f->gym, &f->gb, f->ym, &f->dz, f->ym, &f->dzn));
  PetscCall(PetscMalloc6(N, &f->lam, (M + 1) * f->gym, &f->zr, (net->P + 1) * (M + 1) * f->gym, &f->ar, (M + 1) * f->gym, &f->S, (M + 1) * f->gym, &f->D1, (net->P + 1) * (M + 1) * f->ym, &f->dar));
  PetscCall(PetscMalloc4((M + 1) * f->ym, &f->zdot, f->ym, &f->g1, f->ym, &f->g2, f->ym, &f->pw));
  if (f->residual) PetscCall(BbdFieldResidualSetUp(f));
  if (f->damped) PetscCall(PetscMalloc4((M + 1) * f->gym, &f->zdr, (net->P + 1) * (M + 1) * f->gym, &f->adr, (M + 1) * f->gym, &f->D2, f->gym, &f->u1));
  if (f->continuum && f->damped) PetscCall(PetscMalloc2((M + 1) * f->ym, &f->cR, (M + 1) * f->ym, &f->cP));
  if (f->continuum) PetscCall(BbdFieldContinuumInit(f));
  else {
    PetscCall(BbdNetBatchSamples(net, net->t0, idx));
    f->sample = -1;
    PetscCall(NetToState(f, idx[0]));
  }
  PetscFunctionReturn(0);
}

/* ParaView: an XDMF description of /trajectory/z on the (depth, width) grid */
PetscErrorCode BbdFieldWriteXdmf(BbdField f, PetscInt T)
{
  BbdNet      net = f->net;
  PetscMPIInt rank;
  char        xf[PETSC_MAX_PATH_LEN + 8], tmp[PETSC_MAX_PATH_LEN + 16];
  const char *h5 = net->output_file, *base;
  FILE       *fp;
  PetscReal  *times;
  const PetscInt NX = net->M + 1, NY = net->n[0];

  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Comm_rank(f->comm, &rank));
  if (rank) PetscFunctionReturn(0);
  base = strrchr(h5, '/') ? strrchr(h5, '/') + 1 : h5;
  PetscCall(PetscSNPrintf(xf, sizeof(xf), "%s", h5));
  if (strlen(xf) > 3 && !strcmp(xf + strlen(xf) - 3, ".h5")) xf[strlen(xf) - 3] = 0;
  PetscCall(PetscStrlcat(xf, ".xdmf", sizeof(xf)));
  PetscCall(PetscSNPrintf(tmp, sizeof(tmp), "%s.tmp", xf));
  PetscCall(PetscMalloc1(T, &times));
  {
    hid_t fid = H5Fopen(h5, H5F_ACC_RDONLY, H5P_DEFAULT), d;
    PetscCheck(fid >= 0, PETSC_COMM_SELF, PETSC_ERR_FILE_OPEN, "cannot reopen %s to describe it in %s", h5, xf);
    d = H5Dopen2(fid, "/trajectory/time", H5P_DEFAULT);
    H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, times);
    H5Dclose(d);
    H5Fclose(fid);
  }
  fp = fopen(tmp, "w");
  PetscCheck(fp, PETSC_COMM_SELF, PETSC_ERR_FILE_OPEN, "cannot write %s", tmp);
  fprintf(fp, "<?xml version=\"1.0\" ?>\n<Xdmf Version=\"3.0\">\n <Domain>\n");
  fprintf(fp, "  <Topology Name=\"grid\" TopologyType=\"2DCoRectMesh\" Dimensions=\"%d %d\"/>\n", (int)NX, (int)NY);
  fprintf(fp, "  <Geometry Name=\"geo\" GeometryType=\"ORIGIN_DXDY\">\n   <DataItem Format=\"XML\" Dimensions=\"2\">0 0</DataItem>\n");
  fprintf(fp, "   <DataItem Format=\"XML\" Dimensions=\"2\">%.17g %.17g</DataItem>\n  </Geometry>\n", 1.0 / net->M, 1.0 / NY);
  fprintf(fp, "  <Grid Name=\"trajectory\" GridType=\"Collection\" CollectionType=\"Temporal\">\n");
  for (PetscInt t = 0; t < T; t++) {
    fprintf(fp, "   <Grid Name=\"t%d\" GridType=\"Uniform\">\n    <Time Value=\"%.17g\"/>\n", (int)t, (double)times[t]);
    fprintf(fp, "    <Topology Reference=\"/Xdmf/Domain/Topology[1]\"/>\n    <Geometry Reference=\"/Xdmf/Domain/Geometry[1]\"/>\n");
    fprintf(fp, "    <Attribute Name=\"z\" AttributeType=\"Scalar\" Center=\"Node\">\n");
    fprintf(fp, "     <DataItem ItemType=\"HyperSlab\" Dimensions=\"1 %d %d\" Type=\"HyperSlab\">\n", (int)NX, (int)NY);
    fprintf(fp, "      <DataItem Dimensions=\"3 3\" Format=\"XML\">%d 0 0 1 1 1 1 %d %d</DataItem>\n", (int)t, (int)NX, (int)NY);
    fprintf(fp, "      <DataItem Dimensions=\"%d %d %d\" NumberType=\"Float\" Precision=\"8\" Format=\"HDF\">%s:/trajectory/z</DataItem>\n", (int)T, (int)NX, (int)NY, base);
    fprintf(fp, "     </DataItem>\n    </Attribute>\n");
    /* continuum mode: the moments live on every grid point (lattice mode: on the M layers only, not the grid's nodes) */
    for (PetscInt j = 0; f->continuum && j <= net->P; j++) {
      fprintf(fp, "    <Attribute Name=\"a_%d\" AttributeType=\"Scalar\" Center=\"Node\">\n", (int)j);
      fprintf(fp, "     <DataItem ItemType=\"HyperSlab\" Dimensions=\"1 1 %d %d\" Type=\"HyperSlab\">\n", (int)NX, (int)NY);
      fprintf(fp, "      <DataItem Dimensions=\"3 4\" Format=\"XML\">%d %d 0 0 1 1 1 1 1 1 %d %d</DataItem>\n", (int)t, (int)j, (int)NX, (int)NY);
      fprintf(fp, "      <DataItem Dimensions=\"%d %d %d %d\" NumberType=\"Float\" Precision=\"8\" Format=\"HDF\">%s:/trajectory/a</DataItem>\n", (int)T, (int)net->P + 1, (int)NX, (int)NY, base);
      fprintf(fp, "     </DataItem>\n    </Attribute>\n");
    }
    fprintf(fp, "   </Grid>\n");
  }
  fprintf(fp, "  </Grid>\n </Domain>\n</Xdmf>\n");
  PetscCheck(fclose(fp) == 0, PETSC_COMM_SELF, PETSC_ERR_FILE_WRITE, "cannot write %s", tmp);
  PetscCheck(rename(tmp, xf) == 0, PETSC_COMM_SELF, PETSC_ERR_FILE_WRITE, "cannot rename %s to %s", tmp, xf);
  PetscCall(PetscFree(times));
  PetscFunctionReturn(0);
}

static PetscErrorCode Save(BbdField f, BbdOutput out, BbdSnapshot *snap, PetscReal t, PetscInt *T)
{
  BbdNet     net = f->net;
  PetscReal *z, *zd;

  PetscFunctionBeginUser;
  PetscCall(PetscMalloc2(net->nz, &z, net->nz, &zd));
  PetscCall(StateToNet(f, z, zd));
  PetscCall(BbdSnapshotCompute(net, t, net->theta, f->damped ? net->thetadot : NULL, snap));
  PetscCheck(!PetscIsInfOrNanReal(snap->loss), f->comm, PETSC_ERR_NOT_CONVERGED, "the field diverged at t = %g (loss is %g); reduce -bbd_eta or the time step", (double)t, (double)snap->loss);
  PetscCall(PetscArraycpy(snap->z, z, net->nz)); /* the solver's own neurons */
  PetscCall(BbdOutputAppend(out, snap));
  (*T)++;
  if (!net->quiet) PetscCall(PetscPrintf(f->comm, "  t = %-10.5g loss = %-13.6e L = %-13.6e L_bulk = %-13.6e L_boundary = %-13.6e\n", (double)t, (double)snap->loss, (double)snap->L, (double)snap->L_bulk, (double)snap->L_boundary));
  PetscCall(PetscFree2(z, zd));
  PetscFunctionReturn(0);
}

/* the time loop: segments between saved times and sample switches */
static PetscErrorCode Integrate(BbdField f, TS ts, PetscReal dt0, BbdOutput out, BbdSnapshot *snap, PetscInt *T, PetscReal *z, PetscReal *zd)
{
  BbdNet    net = f->net;
  PetscReal t = net->t0, eps = BbdTimeEps(net), *x, *y;
  PetscInt  idx[1];

  PetscFunctionBeginUser;
  PetscCall(PetscMalloc2(net->M + 1, &x, net->n[0], &y));
  for (PetscInt k = 0; k <= net->M; k++) x[k] = (PetscReal)k / net->M;
  for (PetscInt i = 0; i < net->n[0]; i++) y[i] = (PetscReal)i / net->n[0];
  PetscCall(BbdOutputWriteGrid(out, net->M + 1, x, net->n[0], y));
  PetscCall(PetscFree2(x, y));
  PetscCall(Save(f, out, snap, t, T));
  while (t < net->tfinal - eps) {
    PetscReal tend;
    PetscBool save;
    BbdTSNextSegment(net, t, &tend, &save);
    PetscCall(BbdFieldSolveSegment(f, ts, t, tend, dt0));
    t = tend;
    /* a sample switch: theta (and theta') continuous, z jumps to the new sample's forward pass
       (damped: z' to its tangent pass) */
    PetscCall(BbdNetBatchSamples(net, t, idx));
    if (idx[0] != f->sample) {
      PetscCall(StateToNet(f, z, zd));
      PetscCall(NetToState(f, idx[0]));
    }
    if (save) PetscCall(Save(f, out, snap, t, T));
  }
  net->t0 = t;
  PetscCall(StateToNet(f, z, zd));
  PetscFunctionReturn(0);
}

PetscErrorCode BbdFieldRun(BbdField f)
{
  BbdNet         net = f->net;
  BbdOutput      out;
  BbdSnapshot    snap;
  TS             ts;
  PetscReal      dt0, *z, *zd;
  PetscInt       T = 0;
  PetscErrorCode ierr;

  PetscFunctionBeginUser;
  if (f->continuum) {
    PetscCall(BbdFieldContinuumRun(f));
    PetscFunctionReturn(0);
  }
  if (!net->quiet) {
    PetscCall(PetscPrintf(f->comm, "bbd-field, %s mode, grid %" PetscInt_FMT " x %" PetscInt_FMT " (depth x width), %d rank(s)\n", f->mode, net->M + 1, net->n[0], f->size));
    PetscCall(BbdNetView(net, PETSC_VIEWER_STDOUT_(f->comm)));
    if (f->residual && !f->damped) PetscCall(PetscPrintf(f->comm, "residual evaluation: %s column kernels\n", f->avx2 ? "AVX2/FMA" : "portable"));
  }
  PetscCall(TSCreate(f->comm, &ts));
  PetscCall(TSSetDM(ts, f->dats));
  if (f->residual && f->damped) PetscCall(BbdFieldDampedResidualSetTS(f, ts, &dt0)); /* src/residual_damped.c */
  else if (f->residual) {
    SNES           snes;
    KSP            ksp;
    PC             pc;
    Mat            J;
    PCType         type;
    PetscBool      shell, none;
    SNESLineSearch ls;
    PetscCall(BbdFieldSetIFunction(f, ts, BbdFieldIFunction)); /* src/residual.c */
    PetscCall(TSGetSNES(ts, &snes));
    /* Newton-Krylov on the residual: the analytic Jacobian or a matrix-free one */
    PetscCheck(!f->jac_assembled || !f->split, f->comm, PETSC_ERR_SUP, "-bbd_jacobian assembled with -da_processors_x > 1: the assembled Jacobian is numbered in the width-only layout; use -da_processors_x 1 or -bbd_jacobian mf");
    if (f->jac_assembled) PetscCall(BbdFieldJacobianCreate(f, &J));
    else PetscCall(MatCreateSNESMF(snes, &J));
    PetscCall(TSSetIJacobian(ts, J, J, IJacobian, f));
    PetscCall(MatDestroy(&J));
    PetscCall(SNESGetKSP(snes, &ksp));
    PetscCall(KSPGetPC(ksp, &pc));
    /* our default preconditioner, set before TSSetFromOptions so that a user's -pc_type wins */
    PetscCall(PCSetType(pc, PCSHELL));
    PetscCall(BbdFieldPCShellSetApply(f, pc, PCApplySweep));
    PetscCall(PCShellSetContext(pc, f));
    PetscCall(PCShellSetName(pc, "BBD sweep: exact inverse of shift * G(U)"));
    /* the full Newton step: with the preconditioned Newton direction it converges quadratically,
       where backtracking on the residual norm (scaled by 1/h, 1/dy^2) crawls on large grids */
    PetscCall(SNESGetLineSearch(snes, &ls));
    PetscCall(SNESLineSearchSetType(ls, SNESLINESEARCHBASIC));
    PetscCall(BbdTSConfigureWith(net, ts, TSBEULER, PETSC_TRUE, &dt0));
    PetscCall(PCGetType(pc, &type));
    PetscCall(PetscStrcmp(type, PCSHELL, &shell));
    PetscCall(PetscStrcmp(type, PCNONE, &none));
    PetscCheck(f->jac_assembled || shell || none, f->comm, PETSC_ERR_USER_INPUT, "-pc_type %s: the matrix-free Jacobian (-bbd_jacobian mf) has no entries to build it from; use -bbd_jacobian assembled, or the default sweep (-pc_type shell) or none", type);
  } else {
    PetscCall(BbdFieldSetRHSFunction(f, ts, f->damped ? RHSFunctionDamped : RHSFunction));
    PetscCall(BbdTSConfigure(net, ts, &dt0));
  }
  PetscCall(BbdSnapshotCreate(net, &snap));
  PetscCall(PetscMalloc2(net->nz, &z, net->nz, &zd));
  PetscCall(BbdOutputCreate(net, net->output_file, &out));
  ierr = Integrate(f, ts, dt0, out, &snap, &T, z, zd);
  if (ierr) { /* never leave a partial result that looks complete */
    PetscCall(BbdOutputAbort(&out));
    PetscCall(ierr);
  }
  PetscCall(PetscFree(net->state_z));
  PetscCall(PetscMalloc1(net->nz, &net->state_z));
  PetscCall(PetscArraycpy(net->state_z, z, net->nz));
  if (f->damped) {
    PetscCall(PetscFree(net->state_zdot));
    PetscCall(PetscMalloc1(net->nz, &net->state_zdot));
    PetscCall(PetscArraycpy(net->state_zdot, zd, net->nz));
  }
  PetscCall(BbdOutputFinish(&out, net->t0, net->theta, f->damped ? net->thetadot : NULL));
  PetscCall(BbdFieldWriteXdmf(f, T));
  if (!net->quiet) {
    PetscInt steps, nits, lits;
    PetscCall(TSGetStepNumber(ts, &steps));
    PetscCall(TSGetSNESIterations(ts, &nits));
    PetscCall(TSGetKSPIterations(ts, &lits));
    PetscCall(PetscPrintf(f->comm, "solver: %" PetscInt_FMT " steps in the last segment, %" PetscInt_FMT " Newton and %" PetscInt_FMT " Krylov iterations in all (%.2f Krylov per Newton)\n", steps, nits, lits, nits ? (double)lits / nits : 0.0));
    PetscCall(PetscPrintf(f->comm, "wrote %s\n", net->output_file));
  }
  PetscCall(PetscFree2(z, zd));
  PetscCall(BbdSnapshotDestroy(&snap));
  PetscCall(TSDestroy(&ts));
  PetscFunctionReturn(0);
}
