/* BbdField: the overdamped BBD field equations on a (depth, width) DMDA (docs/theory.md,
   sections 4 and 7). x = depth, k = 0..M (NX = M+1 points), y = width, i = 0..N-1
   (periodic, or zero padding). Unknowns per point: z and the moments a_0..a_P (a at k = M
   unused). Lattice mode, sweep formulation (explicit in time):
     beta^(M-1) = -eta dl/dZ,   beta^(m-1) = rho beta^(m) + h sigma'(z^(m)) .* sum_j D_j^T (a_j beta^(m))
     da_j^(m)/dt = kappa_j beta^(m) .* D_j sigma(z^(m))
     dz^(0)/dt = 0,  dz^(m+1)/dt = rho dz^(m) + h (beta^(m) + sum_j da_j D_j sigma(z^(m)) + sum_j a_j D_j (sigma' dz^(m)))
   i.e. the block-triangular solution of the residual system of section 4: one backward and
   one forward sweep in depth, local in width. The grid is split across ranks in width only
   (each rank sweeps its columns); a sweep exchanges g width columns every g layers with the
   width neighbours and computes the ghost columns in between redundantly (-bbd_sweep_ghost g).
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
  PetscCall(VecDestroy(&f->srcloc));
  PetscCall(PetscFree5(f->bg, f->dzg, f->dzgn, f->wg, f->xbuf));
  PetscCall(PetscFree(f->rowp));
  PetscCall(DMDestroy(&f->dag));
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
  if (f->residual && !f->continuum) PetscCall(BbdFieldResidualDestroy(f));
  PetscCall(PetscFree3(f->rc, f->rg, f->rrows));
  PetscCall(BbdFieldContinuumResidualDestroy(f));
  PetscCall(BbdFieldDampedResidualDestroy(f));
  PetscCall(PetscFree3(f->iz, f->ia, f->ib));
  PetscCall(PetscFree2(f->izd, f->iad));
  PetscCall(PetscFree(f->ibd));
  PetscCall(PetscFree3(f->cR, f->cP, f->cB));
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
    PetscCall(PetscOptionsString("-bbd_formulation", "sweep (explicit right-hand side: the exact sweeps; any explicit or implicit -ts_type) or residual (the implicit residual form F(U, U') = 0 with the sweeps as preconditioner; implicit -ts_type; continuum mode: with beta an algebraic unknown)", "BbdFieldSetFromOptions", form, form, sizeof(form), NULL));
    PetscCheck(!strcmp(form, "sweep") || !strcmp(form, "residual"), f->comm, PETSC_ERR_USER_INPUT, "-bbd_formulation %s: use sweep or residual", form);
    f->residual = (PetscBool)!strcmp(form, "residual");
  }
  {
    char jac[32] = "mf";
    PetscCall(PetscOptionsString("-bbd_jacobian", "Residual formulation: the Newton Jacobian shift dF/dU' + dF/dU, assembled (analytic; continuum mode: the exact linearisation assembled by colouring; any -pc_type) or mf (matrix-free differencing of the residual; the sweep or no preconditioner only)", "BbdFieldSetFromOptions", jac, jac, sizeof(jac), NULL));
    PetscCheck(!strcmp(jac, "mf") || !strcmp(jac, "assembled"), f->comm, PETSC_ERR_USER_INPUT, "-bbd_jacobian %s: use mf or assembled", jac);
    f->jac_assembled = (PetscBool)!strcmp(jac, "assembled");
  }
  {
    char sw[32] = "segments";
    PetscCall(PetscOptionsString("-bbd_switch", "Lattice mode, sample switching (-bbd_sample_dt > 0): segments (each TSSolve ends at the next switch or saved time; z jumps between solves) or events (PETSc TS events, event function t - k sample_dt: a step that crosses a switch time is rolled back and retaken to end on it, the event handler makes z jump on the solver's vector, the solve goes on to the next saved time; docs/usage.md)", "BbdFieldSetFromOptions", sw, sw, sizeof(sw), NULL));
    PetscCheck(!strcmp(sw, "segments") || !strcmp(sw, "events"), f->comm, PETSC_ERR_USER_INPUT, "-bbd_switch %s: use segments or events", sw);
    f->events = (PetscBool)!strcmp(sw, "events");
  }
  /* PETSc's own -snes_fd_color would colour the DMDA (stencil width 1, where the residual couples
     widths at distance 2: a wrong Jacobian; and reportedly a crash in this PETSc build on periodic
     grids whose size is not a multiple of 3) and replace the IJacobian that feeds the sweep preconditioner; -snes_fd needs
     an assembled matrix. Both are read here and taken out of the database: IJacobian differences
     the residual itself on the exact pattern (fieldjac.c). */
  PetscCall(PetscOptionsBool("-snes_fd_color", "Residual formulation: Newton's matrix by coloured finite differences of the residual on the exact sparsity pattern of the analytic Jacobian (continuum mode: a box superset of it; MatColoring, MatFDColoring)", "BbdFieldSetFromOptions", f->jac_fdcolor, &f->jac_fdcolor, NULL));
  PetscCall(PetscOptionsBool("-snes_fd", "Residual formulation: Newton's matrix by dense finite differences of the residual (one residual per unknown: tiny grids only)", "BbdFieldSetFromOptions", f->jac_fd, &f->jac_fd, NULL));
  PetscCall(PetscOptionsInt("-bbd_sweep_ghost", "Several ranks: the exact sweeps exchange g width columns every g depth layers and compute g - 1 ghost columns redundantly (communication-avoiding; 1: one column every layer; 0: the default, " PetscStringize(BBD_SWEEP_GHOST_DEFAULT) " or the narrowest rank's width); ignored on one rank", "BbdFieldSetFromOptions", f->sg, &f->sg, NULL));
  PetscCheck(f->sg >= 0 && f->sg <= BBD_SWEEP_GHOST_MAX, f->comm, PETSC_ERR_USER_INPUT, "-bbd_sweep_ghost %" PetscInt_FMT ": the ghost width g must be 1..%d (or 0 for the default)", f->sg, BBD_SWEEP_GHOST_MAX);
  f->avx2 = PETSC_TRUE;
  PetscCall(PetscOptionsBool("-bbd_residual_avx2", "Residual formulation: evaluate the residual with the AVX2/FMA column kernels where the CPU has them (chosen at run time; tanh activation, moments a_0..a_2, gradient flow); false: the portable code", "BbdFieldSetFromOptions", f->avx2, &f->avx2, NULL));
  PetscOptionsEnd();
  PetscCall(PetscOptionsClearValue(NULL, "-snes_fd_color"));
  PetscCall(PetscOptionsClearValue(NULL, "-snes_fd"));
  PetscCheck(!strcmp(f->mode, "lattice") || !strcmp(f->mode, "continuum"), f->comm, PETSC_ERR_USER_INPUT, "-bbd_mode %s: use lattice or continuum", f->mode);
  f->continuum = (PetscBool)!strcmp(f->mode, "continuum");
  PetscCheck(!(f->continuum && f->events), f->comm, PETSC_ERR_SUP, "-bbd_switch events: continuum mode switches samples between TS segments only; use -bbd_switch segments (the default)");
  PetscCheck(!f->jac_assembled || f->residual, f->comm, PETSC_ERR_USER_INPUT, "-bbd_jacobian assembled: the Jacobian belongs to the implicit residual formulation; add -bbd_formulation residual");
  PetscCheck(!(f->jac_fdcolor || f->jac_fd) || f->residual, f->comm, PETSC_ERR_SUP, "%s: finite-difference Jacobians belong to the implicit residual formulation (add -bbd_formulation residual, lattice or continuum mode); the sweep formulation's explicit right-hand side is nonlocal in depth (a whole backward and forward pass), with no sparse Jacobian to colour", f->jac_fdcolor ? "-snes_fd_color" : "-snes_fd");
  PetscCheck(!(f->jac_fdcolor && f->jac_fd), f->comm, PETSC_ERR_USER_INPUT, "-snes_fd_color and -snes_fd: choose one");
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
  if (net->sample_dt <= 0) f->events = PETSC_FALSE; /* no switches: nothing for events to do */
  PetscFunctionReturn(0);
}

/* ghosted width rows (owned part at f->ys - f->gys): fill w ghost columns on each side of every
   row from the width neighbours' owned columns, one message each way for all rows (w <= the
   ghost width of the state and <= every rank's width); zero outside a non-periodic width */
PetscErrorCode BbdFieldExchangeGhosts(BbdField f, PetscInt nrows, PetscReal *const *rows, PetscInt w)
{
  const PetscInt o = f->ys - f->gys, N = f->ym, n = nrows * w;
  PetscReal     *sl = f->xbuf, *sr = sl + n, *rl = sr + n, *rr = rl + n;

  PetscFunctionBeginUser;
  if (!n) PetscFunctionReturn(0);
  for (PetscInt q = 0; q < nrows; q++)
    for (PetscInt p = 0; p < w; p++) {
      sl[q * w + p] = rows[q][o + p];
      sr[q * w + p] = rows[q][o + N - w + p];
    }
  if (f->size == 1) {
    for (PetscInt p = 0; p < n; p++) {
      rl[p] = f->net->periodic ? sr[p] : 0;
      rr[p] = f->net->periodic ? sl[p] : 0;
    }
  } else {
    MPI_Request req[4];
    PetscCall(PetscArrayzero(rl, 2 * n)); /* MPI_PROC_NULL leaves the zero padding */
    PetscCallMPI(MPI_Irecv(rl, (PetscMPIInt)n, MPIU_REAL, f->left, 7003, f->comm, &req[0]));
    PetscCallMPI(MPI_Irecv(rr, (PetscMPIInt)n, MPIU_REAL, f->right, 7004, f->comm, &req[1]));
    PetscCallMPI(MPI_Isend(sr, (PetscMPIInt)n, MPIU_REAL, f->right, 7003, f->comm, &req[2]));
    PetscCallMPI(MPI_Isend(sl, (PetscMPIInt)n, MPIU_REAL, f->left, 7004, f->comm, &req[3]));
    PetscCallMPI(MPI_Waitall(4, req, MPI_STATUSES_IGNORE));
  }
  for (PetscInt q = 0; q < nrows; q++)
    for (PetscInt p = 0; p < w; p++) {
      rows[q][o - w + p] = rl[q * w + p];
      rows[q][o + N + p] = rr[q * w + p];
    }
  PetscFunctionReturn(0);
}

/* zero the ghost columns of a ghosted width row that lie outside a non-periodic width */
void BbdFieldZeroOutside(BbdField f, PetscReal *row)
{
  const PetscInt N = f->net->n[0], gys = f->gys, gym = f->gym;

  if (f->net->periodic) return;
  for (PetscInt jj = 0; jj < -gys && jj < gym; jj++) row[jj] = 0;
  for (PetscInt jj = PetscMax(N - gys, 0); jj < gym; jj++) row[jj] = 0;
}

/* the whole output row on every rank from its owned entries: *all (restore with
   VecRestoreArrayRead(f->Zall, all)) */
PetscErrorCode BbdFieldOutputRowAll(BbdField f, const PetscReal *own, const PetscScalar **all)
{
  PetscScalar *g;

  PetscFunctionBeginUser;
  PetscCall(VecGetArray(f->rowg, &g));
  PetscCall(PetscArraycpy(g, own, f->ym));
  PetscCall(VecRestoreArray(f->rowg, &g));
  PetscCall(VecScatterBegin(f->zscat, f->rowg, f->Zall, INSERT_VALUES, SCATTER_FORWARD));
  PetscCall(VecScatterEnd(f->zscat, f->rowg, f->Zall, INSERT_VALUES, SCATTER_FORWARD));
  PetscCall(VecGetArrayRead(f->Zall, all));
  PetscFunctionReturn(0);
}

/* the softmax q (all N widths, on every rank) of the output row Z (owned entries) */
PetscErrorCode BbdFieldOutputSoftmax(BbdField f, const PetscReal *Zown, PetscReal *q)
{
  const PetscInt     N = f->net->n[0];
  const PetscScalar *Z;
  PetscReal          zmax = PETSC_MIN_REAL, sum = 0;

  PetscFunctionBeginUser;
  PetscCall(BbdFieldOutputRowAll(f, Zown, &Z));
  for (PetscInt i = 0; i < N; i++) zmax = PetscMax(zmax, Z[i]);
  for (PetscInt i = 0; i < N; i++) sum += (q[i] = PetscExpReal(Z[i] - zmax));
  for (PetscInt i = 0; i < N; i++) q[i] /= sum;
  PetscCall(VecRestoreArrayRead(f->Zall, &Z));
  PetscFunctionReturn(0);
}

/* the loss gradient per unit width on the owned part of the output row Z (owned entries) */
PetscErrorCode BbdFieldOutputGradient(BbdField f, const PetscReal *Zown, PetscReal *lam)
{
  BbdNet             net = f->net;
  const PetscInt     N   = net->n[0];
  const PetscScalar *Z;

  PetscFunctionBeginUser;
  PetscCall(BbdFieldOutputRowAll(f, Zown, &Z));
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
  f->lin_in = PETSC_FALSE; /* residual_continuum.c: the rows are no longer the linearisation point's */
  PetscCall(DMGlobalToLocalBegin(f->dag, U, INSERT_VALUES, f->Uloc));
  PetscCall(DMGlobalToLocalEnd(f->dag, U, INSERT_VALUES, f->Uloc));
  PetscCall(DMDAVecGetArrayDOFRead(f->dag, f->Uloc, &u));
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
  PetscCall(DMDAVecRestoreArrayDOFRead(f->dag, f->Uloc, &u));
  for (PetscInt k = 0; k < NX; k++) {
    BbdActivationEval(net->act[PetscMin(k, net->M - 1)], gym, f->zr + k * gym, f->S + k * gym, f->D1 + k * gym, f->damped ? f->D2 + k * gym : NULL);
    BbdFieldZeroOutside(f, f->S + k * gym); /* zero padding of sigma(z) outside the width (sigma(0) need not vanish) */
  }
  PetscFunctionReturn(0);
}

/* the same on the owned width (out[j], j = 0..ym-1) */
void BbdFieldRowPhiT(BbdField f, PetscInt k, const PetscReal *gv, PetscReal *out)
{
  const PetscInt o = f->ys - f->gys;
  RowPhiTSpan(f, k, gv, o, o + f->ym, out);
}

void BbdFieldRowPhi(BbdField f, PetscInt k, const PetscReal *gu, PetscReal *out)
{
  const PetscInt o = f->ys - f->gys;
  RowPhiSpan(f, k, gu, o, o + f->ym, out);
}

/* The backward sweep alone: f->beta[m * ym + j] = beta^(m), m = 0..M-1, and the ghosted rows
   f->bg[m * gym + jj] (r: sources, indexed by global width, on the g ghost columns when g > 1; or NULL).
   Communication-avoiding (g = f->sg): beta^(m) gets g ghost columns from the width neighbours at
   m = M-1, M-1-g, ...; the next layers are computed on the owned columns and a ghost range that
   shrinks by one column per layer (the radius-1 stencil), so one exchange serves g layers. */
static PetscErrorCode SweepBackward(BbdField f, const PetscScalar ***r, PetscBool with_loss)
{
  BbdNet          net = f->net;
  const PetscInt  M = net->M, ys = f->ys, ym = f->ym, gys = f->gys, gym = f->gym, o = ys - gys, g = f->sg;
  const PetscReal rho = net->rho, h = net->h;
  PetscReal      *zr = f->zr, *D1 = f->D1, *bg = f->bg, *pt = f->gb;

  PetscFunctionBeginUser;
  /* beta^(m) from the output boundary inward (this is backprop) */
  if (with_loss) {
    PetscCall(BbdFieldOutputGradient(f, zr + M * gym + o, f->beta + (M - 1) * ym));
    for (PetscInt j = 0; j < ym; j++) f->beta[(M - 1) * ym + j] *= -net->eta;
  } else PetscCall(PetscArrayzero(f->beta + (M - 1) * ym, ym));
  if (r)
    for (PetscInt j = 0; j < ym; j++) f->beta[(M - 1) * ym + j] += r[ys + j][M][0];
  PetscCall(PetscArraycpy(bg + (M - 1) * gym + o, f->beta + (M - 1) * ym, ym));
  for (PetscInt m = M - 1; m >= 1; m--) {
    const PetscReal *d1 = D1 + m * gym;
    PetscReal       *b = bg + m * gym, *bn = bg + (m - 1) * gym;
    const PetscInt   e = g - (M - 1 - m) % g, lo = o - (e - 1), hi = o + ym + e - 1; /* beta^(m) is valid on e ghost columns */
    if (e == g) PetscCall(BbdFieldExchangeGhosts(f, 1, &b, g));
    RowPhiTSpan(f, m, b, lo, hi, pt);
    for (PetscInt jj = lo; jj < hi; jj++) bn[jj] = rho * b[jj] + h * d1[jj] * pt[jj - lo];
    if (r)
      for (PetscInt jj = lo; jj < hi; jj++) bn[jj] += h * r[gys + jj][m][0];
    BbdFieldZeroOutside(f, bn);
    PetscCall(PetscArraycpy(f->beta + (m - 1) * ym, bn + o, ym));
  }
  PetscFunctionReturn(0);
}

/* The block-triangular solve of the residual system (docs/theory.md section 14) with sources:
   out = G(U)^-1 src on the rows of the state last transposed in (BbdFieldTransposeIn):
     beta^(M-1) = src_z^(M) (- eta lam^(M) with the loss),
     beta^(m-1) = rho beta^(m) + h sigma' .* sum_j D_j^T (a_j beta^(m)) + h src_z^(m),
     a_j'^(m) = kappa_j (src_a^(m) + beta^(m) .* D_j sigma(z^(m)))   (src_a for kappa_j = 0),
     z'^(0) = src_z^(0),  z'^(m+1) = rho z'^(m) + h (beta^(m) + sum_j a_j' D_j sigma + sum_j a_j D_j (sigma' z'^(m))).
   src = NULL with the loss: the gradient-flow rates (the explicit right-hand side).
   The forward sweep exchanges z'^(m) and the rows beta^(m..m+g-1) at m = 0, g, 2g, ... (one message
   each way) and computes the g layers on shrinking ghost ranges like the backward sweep. */
static PetscErrorCode Sweep(BbdField f, Vec src, PetscBool with_loss, Vec F)
{
  BbdNet             net = f->net;
  const PetscInt     M = net->M, P = net->P, ys = f->ys, ym = f->ym, gys = f->gys, gym = f->gym, o = ys - gys, g = f->sg;
  const PetscReal    rho = net->rho, h = net->h, c1 = 0.5 / net->dy, c2 = 1.0 / (net->dy * net->dy);
  PetscScalar     ***fa;
  const PetscScalar ***r = NULL;
  PetscReal         *D1 = f->D1, *S = f->S, *dz = f->dzg, *dzn = f->dzgn, *w = f->wg, *dar = f->wg + gym, *pt = f->gb;
  PetscReal         *rows[BBD_SWEEP_GHOST_MAX + 1];

  PetscFunctionBeginUser;
  if (src && g > 1) { /* the sources on the g ghost columns */
    PetscCall(DMGlobalToLocalBegin(f->dag, src, INSERT_VALUES, f->srcloc));
    PetscCall(DMGlobalToLocalEnd(f->dag, src, INSERT_VALUES, f->srcloc));
    PetscCall(DMDAVecGetArrayDOFRead(f->dag, f->srcloc, &r));
  } else if (src) PetscCall(DMDAVecGetArrayDOFRead(f->da, src, &r)); /* g = 1: owned columns only */
  PetscCall(SweepBackward(f, r, with_loss));
  /* forward sweep: moment rates locally, neuron rates from the input outward (tangent pass) */
  PetscCall(DMDAVecGetArrayDOF(f->da, F, &fa));
  for (PetscInt j = 0; j < ym; j++) {
    dz[o + j]        = r ? r[ys + j][0][0] : 0; /* dX/dt = 0: the sample is fixed inside a segment */
    fa[ys + j][0][0] = dz[o + j];
    for (PetscInt c = 1; c < f->dof; c++) fa[ys + j][M][c] = r ? r[ys + j][M][c] : 0;
  }
  for (PetscInt m = 0; m < M; m++) {
    const PetscReal *bm = f->bg + m * gym, *s = S + m * gym, *d1 = D1 + m * gym;
    const PetscInt   e = g - m % g, lo = o - (e - 1), hi = o + ym + e - 1; /* dz^(m) is valid on e ghost columns */
    PetscReal       *t;
    if (e == g) { /* z'^(m) and, for g > 1, the rows beta^(m..m+g-1) on g ghost columns */
      const PetscInt nb = g > 1 ? PetscMin(g, M - m) : 0;
      rows[0] = dz;
      for (PetscInt q = 0; q < nb; q++) rows[1 + q] = f->bg + (m + q) * gym;
      PetscCall(BbdFieldExchangeGhosts(f, 1 + nb, rows, g));
    }
    for (PetscInt jj = lo - 1; jj < hi + 1; jj++) w[jj] = d1[jj] * dz[jj]; /* sigma' dz^(m), ghosted */
    BbdFieldZeroOutside(f, w);
    RowPhiSpan(f, m, w, lo, hi, pt); /* Phi'(z) dz^(m) */
    for (PetscInt jj = lo; jj < hi; jj++) {
      const PetscReal D[3] = {s[jj], c1 * (s[jj + 1] - s[jj - 1]), c2 * (s[jj + 1] - 2 * s[jj] + s[jj - 1])};
      PetscReal       rr   = bm[jj] + pt[jj - lo];
      for (PetscInt c = 0; c <= P; c++) {
        const PetscReal ra = r ? r[gys + jj][m][1 + c] : 0;
        const PetscReal da = net->kappa[c] > 0 ? net->kappa[c] * (ra + bm[jj] * D[c]) : ra;
        dar[c * gym + jj]  = da;
        rr += da * D[c];
      }
      dzn[jj] = rho * dz[jj] + h * rr;
    }
    BbdFieldZeroOutside(f, dzn);
    for (PetscInt j = 0; j < ym; j++) {
      fa[ys + j][m + 1][0] = dzn[o + j];
      for (PetscInt c = 0; c <= P; c++) fa[ys + j][m][1 + c] = dar[c * gym + o + j];
    }
    t   = dz;
    dz  = dzn;
    dzn = t;
  }
  PetscCall(DMDAVecRestoreArrayDOF(f->da, F, &fa));
  if (src && g > 1) PetscCall(DMDAVecRestoreArrayDOFRead(f->dag, f->srcloc, &r));
  else if (src) PetscCall(DMDAVecRestoreArrayDOFRead(f->da, src, &r));
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
   One backward sweep (beta) and one forward sweep (z''), each exchanging g columns every g layers. */
static PetscErrorCode RHSFunctionDamped(TS ts, PetscReal t, Vec U, Vec F, void *ctx)
{
  BbdField        f   = (BbdField)ctx;
  BbdNet          net = f->net;
  const PetscInt  M = net->M, P = net->P, NX = M + 1, V = P + 2, ys = f->ys, ym = f->ym, gys = f->gys, gym = f->gym, o = ys - gys;
  const PetscReal rho = net->rho, h = net->h, gamma = net->gamma, c1 = 0.5 / net->dy, c2 = 1.0 / (net->dy * net->dy);
  PetscScalar  ***fa;
  PetscReal      *zdd = f->dzg, *zddn = f->dzgn, *u1 = f->u1, *w = f->wg, *g1 = f->gb, *g2 = f->wg + gym, *sw;
  PetscReal      *rows[BBD_SWEEP_GHOST_MAX + 1];
  const PetscInt  g = f->sg;

  PetscFunctionBeginUser;
  (void)ts;
  (void)t;
  PetscCall(BbdFieldTransposeIn(f, U));
  PetscCall(SweepBackward(f, NULL, PETSC_TRUE)); /* beta^(m): the flow velocity of b^(m) */
  PetscCall(DMDAVecGetArrayDOF(f->da, F, &fa));
  for (PetscInt j = 0; j < ym; j++) {
    for (PetscInt k = 0; k <= M; k++) fa[ys + j][k][0] = f->zdr[k * gym + j + o]; /* dz/dt = z' */
    zdd[o + j]       = 0; /* dX/dt = 0: the sample is fixed inside a segment */
    fa[ys + j][0][V] = 0;
    for (PetscInt c = 0; c <= P; c++) fa[ys + j][M][1 + c] = fa[ys + j][M][V + 1 + c] = 0; /* no moments at k = M */
  }
  /* z''^(m) on shrinking ghost ranges, exchanged with beta^(m..m+g-1) every g layers (like Sweep) */
  for (PetscInt m = 0; m < M; m++) {
    const PetscReal *s = f->S + m * gym, *d1 = f->D1 + m * gym, *d2 = f->D2 + m * gym;
    const PetscReal *zd = f->zdr + m * gym, *zdn = f->zdr + (m + 1) * gym, *bf = f->bg + m * gym;
    const PetscInt   e = g - m % g, lo = o - (e - 1), hi = o + ym + e - 1; /* z''^(m) is valid on e ghost columns */
    if (e == g) {
      const PetscInt nb = g > 1 ? PetscMin(g, M - m) : 0;
      rows[0] = zdd;
      for (PetscInt q = 0; q < nb; q++) rows[1 + q] = f->bg + (m + q) * gym;
      PetscCall(BbdFieldExchangeGhosts(f, 1 + nb, rows, g));
    }
    for (PetscInt jj = 0; jj < gym; jj++) u1[jj] = d1[jj] * zd[jj]; /* sigma' z' (ghosted) */
    BbdFieldZeroOutside(f, u1);
    RowPhiSpan(f, m, u1, lo, hi, g1); /* Phi'(z) z'^(m) */
    for (PetscInt jj = lo - 1; jj < hi + 1; jj++) w[jj] = d2[jj] * zd[jj] * zd[jj] + d1[jj] * zdd[jj];
    BbdFieldZeroOutside(f, w);
    RowPhiSpan(f, m, w, lo, hi, g2); /* sum_j a_j D_j (sigma'' z'^2 + sigma' z'') */
    for (PetscInt jj = lo; jj < hi; jj++) {
      const PetscReal Ds[3] = {s[jj], c1 * (s[jj + 1] - s[jj - 1]), c2 * (s[jj + 1] - 2 * s[jj] + s[jj - 1])};
      const PetscReal Du[3] = {u1[jj], c1 * (u1[jj + 1] - u1[jj - 1]), c2 * (u1[jj + 1] - 2 * u1[jj] + u1[jj - 1])};
      const PetscBool own   = (PetscBool)(jj >= o && jj < o + ym);
      PetscReal       bd    = (zdn[jj] - rho * zd[jj]) / h - g1[jj - lo], rr;
      for (PetscInt c = 0; c <= P; c++) bd -= f->adr[(c * NX + m) * gym + jj] * Ds[c];
      rr = -gamma * bd + bf[jj] + g2[jj - lo]; /* b'' + Phi(z)'' terms with a */
      for (PetscInt c = 0; c <= P; c++) {
        const PetscReal ad  = f->adr[(c * NX + m) * gym + jj];
        const PetscReal add = -gamma * ad + (net->kappa[c] > 0 ? net->kappa[c] * bf[jj] * Ds[c] : 0);
        if (own) {
          fa[gys + jj][m][1 + c]     = ad;
          fa[gys + jj][m][V + 1 + c] = add;
        }
        rr += add * Ds[c] + 2 * ad * Du[c];
      }
      zddn[jj] = rho * zdd[jj] + h * rr;
      if (own) fa[gys + jj][m + 1][V] = zddn[jj];
    }
    BbdFieldZeroOutside(f, zddn);
    sw   = zdd;
    zdd  = zddn;
    zddn = sw;
  }
  PetscCall(DMDAVecRestoreArrayDOF(f->da, F, &fa));
  PetscFunctionReturn(0);
}

/* The Newton matrix shift G(U) + dF/dU: assembled analytically (-bbd_jacobian assembled,
   fieldjac.c), by finite differences of the time step's residual on the same pattern
   (-snes_fd_color, -snes_fd), or applied matrix-free. The structure-aware preconditioner inverts its dominant
   part shift G(U) exactly by one sweep at the linearisation point. */
PetscErrorCode BbdFieldIJacobian(TS ts, PetscReal t, Vec U, Vec Udot, PetscReal shift, Mat A, Mat B, void *ctx)
{
  BbdField f = (BbdField)ctx;

  PetscFunctionBeginUser;
  (void)t;
  PetscCall(BbdFieldFromTS(f, U, f->Ulin)); /* the linearisation point, width-only layout */
  PetscCall(BbdFieldTransposeIn(f, f->Ulin)); /* its rows, for every preconditioner application until the next Jacobian */
  f->shift = shift;
  if (f->jac_fdcolor || f->jac_fd) PetscCall(BbdFieldJacobianFD(f, ts, U, B));
  else if (f->jac_assembled) {
    PetscCall(BbdFieldFromTS(f, Udot, f->split ? f->Udsw : Udot));
    PetscCall(BbdFieldJacobianAssemble(f, f->Ulin, f->split ? f->Udsw : Udot, shift, B));
  }
  if (A != B || !(f->jac_assembled || f->jac_fdcolor || f->jac_fd)) { /* the matrix-free operator (also with -snes_mf_operator) */
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

/* The Newton-Krylov set-up every residual form shares (lattice flow and damped, continuum): the
   IFunction, Newton's matrix (the analytic Jacobian, finite differences on its pattern, or
   matrix-free), the structure-aware preconditioner as the default PCSHELL (set before
   TSSetFromOptions, so that a user's -pc_type wins), the full Newton step, beuler by default.
   With the matrix-free Jacobian only the shell or no preconditioner can work. */
PetscErrorCode BbdFieldResidualSolver(BbdField f, TS ts, PetscErrorCode (*ifunction)(TS, PetscReal, Vec, Vec, Vec, void *), PetscErrorCode (*ijacobian)(TS, PetscReal, Vec, Vec, PetscReal, Mat, Mat, void *), PetscErrorCode (*pcapply)(PC, Vec, Vec), const char *pcname, PetscReal *dt0)
{
  const PetscBool entries = (PetscBool)(f->jac_assembled || f->jac_fdcolor || f->jac_fd);
  SNES            snes;
  KSP             ksp;
  PC              pc;
  Mat             J;
  PCType          type;
  PetscBool       shell, none, ark;
  SNESLineSearch  ls;

  PetscFunctionBeginUser;
  PetscCall(BbdFieldSetIFunction(f, ts, ifunction));
  PetscCall(TSGetSNES(ts, &snes));
  if (f->jac_fdcolor || f->jac_fd) PetscCall(BbdFieldJacobianFDCreate(f, &J)); /* -snes_fd_color, -snes_fd (fieldjac.c) */
  else if (f->jac_assembled && f->continuum) PetscCall(BbdFieldJacobianColourCreate(f, &J)); /* exact directional derivatives, coloured (residual_continuum.c) */
  else if (f->jac_assembled) PetscCall(BbdFieldJacobianCreate(f, &J));     /* fieldjac.c (damped: filled by fieldjac_damped.c) */
  else PetscCall(MatCreateSNESMF(snes, &J));
  PetscCall(TSSetIJacobian(ts, J, J, ijacobian, f));
  PetscCall(MatDestroy(&J));
  PetscCall(SNESGetKSP(snes, &ksp));
  PetscCall(KSPGetPC(ksp, &pc));
  PetscCall(PCSetType(pc, PCSHELL));
  PetscCall(BbdFieldPCShellSetApply(f, pc, pcapply));
  PetscCall(PCShellSetContext(pc, f));
  PetscCall(PCShellSetName(pc, pcname));
  /* the full Newton step: with the preconditioned Newton direction it converges quadratically,
     where backtracking on the residual norm (scaled by 1/h, 1/dy^2) crawls on large grids */
  PetscCall(SNESGetLineSearch(snes, &ls));
  PetscCall(SNESLineSearchSetType(ls, SNESLINESEARCHBASIC));
  /* F(U, U') is not of the form U' - G(U) (lattice: G(U) U' + ...; continuum: beta algebraic): tell
     the integrators, so that arkimex's explicit first stage takes the previous step's slope instead
     of -F(U, 0) (docs/usage.md, -ts_type arkimex) */
  PetscCall(TSSetEquationType(ts, f->continuum ? TS_EQ_DAE_IMPLICIT_INDEX1 : TS_EQ_ODE_IMPLICIT));
  PetscCall(BbdTSConfigureWith(f->net, ts, TSBEULER, PETSC_TRUE, dt0));
  PetscCall(PetscObjectTypeCompare((PetscObject)ts, TSARKIMEX, &ark));
  if (ark) { /* only tableaus whose first stage is implicit (docs/usage.md): l2 unless one is chosen */
    TSARKIMEXType at;
    PetscBool     given, ok = PETSC_FALSE;
    PetscCall(PetscOptionsHasName(NULL, NULL, "-ts_arkimex_type", &given));
    if (!given) PetscCall(TSARKIMEXSetType(ts, TSARKIMEXL2));
    PetscCall(TSARKIMEXGetType(ts, &at));
    for (PetscInt i = 0; i < 3; i++) {
      PetscBool m;
      PetscCall(PetscStrcmp(at, i == 0 ? TSARKIMEXL2 : i == 1 ? TSARKIMEXPRSSP2 : TSARKIMEX1BEE, &m));
      ok = (PetscBool)(ok || m);
    }
    PetscCheck(ok, f->comm, PETSC_ERR_USER_INPUT, "-ts_arkimex_type %s: this tableau's first stage is explicit, which needs an IFunction of the form U' - G(U); the residual formulation's is not (%s). Use -ts_arkimex_type l2 (the default here), prssp2 or 1bee, or another -ts_type (beuler, bdf, theta, cn)", at,
               f->continuum ? "beta is algebraic" : "G(U) U' + loss term");
  }
  PetscCall(PCGetType(pc, &type));
  PetscCall(PetscStrcmp(type, PCSHELL, &shell));
  PetscCall(PetscStrcmp(type, PCNONE, &none));
  PetscCheck(entries || shell || none, f->comm, PETSC_ERR_USER_INPUT, "-pc_type %s: the matrix-free Jacobian has no entries to build it from; use the default sweep preconditioner (-pc_type shell) or none, or -bbd_jacobian assembled (or -snes_fd_color)", type);
  PetscFunctionReturn(0);
}

/* whole state on every rank (natural ordering: ((i * NX) + k) * dof + c) */
PetscErrorCode BbdFieldGatherAll(BbdField f, const PetscScalar **all)
{
  PetscFunctionBeginUser;
  PetscCall(BbdFieldGatherVec(f, f->U, all));
  PetscFunctionReturn(0);
}

/* the same for any vector of the width-only layout */
PetscErrorCode BbdFieldGatherVec(BbdField f, Vec v, const PetscScalar **all)
{
  PetscFunctionBeginUser;
  PetscCall(DMDAGlobalToNaturalBegin(f->da, v, INSERT_VALUES, f->Unat));
  PetscCall(DMDAGlobalToNaturalEnd(f->da, v, INSERT_VALUES, f->Unat));
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
  PetscBool      exact = (PetscBool)(net->state_z && f->sample < 0);

  PetscFunctionBeginUser;
  /* the file's neurons belong to this sample when their input row is it, to rounding: the input
     row has rate 0, but a multistep method moves it by a few ulp (BDF2's z0_(n+1) = 4/3 z0_n -
     1/3 z0_(n-1) is not z0 in floating point), and a forward pass in its place would differ from
     the solver's neurons by rounding, breaking the exact restart; another sample differs by O(1) */
  for (PetscInt i = 0; exact && i < N; i++) {
    const PetscReal x = net->X[sample * N + i];
    if (!(PetscAbsReal(net->state_z[i] - x) <= 1e-10 * (1 + PetscAbsReal(x)))) exact = PETSC_FALSE;
  }
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
  f->bi = -1;
  if (f->continuum && net->sample_dt > 0) f->bi = f->dof++; /* continuum with sample switching: b carried along (continuum.c) */
  if (f->continuum && f->residual) f->dof++;                /* continuum residual form: beta, algebraic, last (residual_continuum.c) */
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
  if (f->continuum && f->residual) PetscCall(DMDASetFieldName(f->da, f->dof - 1, "beta"));
  if (f->bi >= 0) PetscCall(DMDASetFieldName(f->da, f->bi, "b"));
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
  PetscCall(DMDAGetOwnershipRanges(f->da, NULL, &ly, NULL));
  { /* the ghost width g of the sweeps (-bbd_sweep_ghost): every rank must own g width columns */
    PetscInt lmin = N, rmin = 0;
    for (PetscMPIInt r = 0; r < f->size; r++)
      if (ly[r] < lmin) lmin = ly[r], rmin = r;
    if (f->size == 1) f->sg = 1; /* nothing to exchange */
    else if (!f->sg) f->sg = PetscMax(1, PetscMin(BBD_SWEEP_GHOST_DEFAULT, lmin));
    PetscCheck(f->sg <= lmin, f->comm, PETSC_ERR_USER_INPUT, "-bbd_sweep_ghost %" PetscInt_FMT ": every rank must own at least g width columns, rank %" PetscInt_FMT " owns %" PetscInt_FMT " of the width %" PetscInt_FMT "; use a smaller g or fewer ranks", f->sg, rmin, lmin, N);
    if (f->sg > 1) { /* the state with g ghost columns: the same ownership, stencil width g */
      PetscCall(DMDACreate2d(f->comm, DM_BOUNDARY_NONE, by, DMDA_STENCIL_BOX, M + 1, N, 1, f->size, f->dof, f->sg, NULL, ly, &f->dag));
      PetscCall(DMSetUp(f->dag));
    } else {
      f->dag = f->da;
      PetscCall(PetscObjectReference((PetscObject)f->da));
    }
  }
  PetscCall(DMDAGetGhostCorners(f->dag, NULL, &f->gys, NULL, NULL, &f->gym, NULL));
  PetscCall(DMDACreate1d(f->comm, by, N, 1, 1, ly, &f->rowda));
  PetscCall(DMSetUp(f->rowda));
  PetscCall(DMCreateGlobalVector(f->rowda, &f->rowg));
  PetscCall(VecScatterCreateToAll(f->rowg, &f->zscat, &f->Zall));
  PetscCall(DMCreateGlobalVector(f->da, &f->U));
  PetscCall(DMCreateLocalVector(f->dag, &f->Uloc));
  PetscCall(VecSet(f->Uloc, 0)); /* zero padding outside a non-periodic width stays zero */
  if (f->sg > 1) {
    PetscCall(DMCreateLocalVector(f->dag, &f->srcloc));
    PetscCall(VecSet(f->srcloc, 0));
  }
  PetscCall(PetscMalloc5((M + 1) * f->gym, &f->bg, f->gym, &f->dzg, f->gym, &f->dzgn, (net->P + 4) * f->gym, &f->wg, 4 * f->sg * PetscMax(f->sg + 1, M + 1), &f->xbuf));
  PetscCall(PetscMalloc1(M + 1, &f->rowp));
  PetscCall(VecDuplicate(f->U, &f->Ulin));
  PetscCall(BbdFieldLayoutVectors(f));
  PetscCall(DMDACreateNaturalVector(f->da, &f->Unat));
  PetscCall(VecScatterCreateToAll(f->Unat, &f->allscat, &f->Uall));
  PetscCall(PetscMalloc4((M + 1) * f->ym, &f->beta, f->gym, &f->gb, f->ym, &f->dz, f->ym, &f->dzn));
  PetscCall(PetscMalloc6(N, &f->lam, (M + 1) * f->gym, &f->zr, (net->P + 1) * (M + 1) * f->gym, &f->ar, (M + 1) * f->gym, &f->S, (M + 1) * f->gym, &f->D1, (net->P + 1) * (M + 1) * f->ym, &f->dar));
  PetscCall(PetscMalloc4((M + 1) * f->ym, &f->zdot, f->ym, &f->g1, f->ym, &f->g2, f->ym, &f->pw));
  if (f->residual && !f->continuum) PetscCall(BbdFieldResidualSetUp(f));
  if (f->damped) PetscCall(PetscMalloc4((M + 1) * f->gym, &f->zdr, (net->P + 1) * (M + 1) * f->gym, &f->adr, (M + 1) * f->gym, &f->D2, f->gym, &f->u1));
  if (f->continuum && f->damped) PetscCall(PetscMalloc3((M + 1) * f->gym, &f->cR, (M + 1) * f->ym, &f->cP, (M + 1) * f->ym, &f->cB));
  if (f->continuum) PetscCall(BbdFieldContinuumInit(f));
  else {
    f->batch = BbdNetBatchIndex(net, net->t0);
    PetscCall(BbdNetBatchFromIndex(net, f->batch, idx));
    f->sample = -1;
    PetscCall(NetToState(f, idx[0]));
  }
  PetscFunctionReturn(0);
}

/* ParaView: an XDMF description of /trajectory/z on the (depth, width) grid */
/* one XDMF attribute: slice t (and component j >= 0 of a field with nc components) of the
   trajectory dataset /trajectory/name of shape T x [nc x] nx x ny */
static void XdmfAttribute(FILE *fp, const char *label, const char *base, const char *name, PetscInt t, PetscInt T, PetscInt j, PetscInt nc, PetscInt nx, PetscInt ny)
{
  fprintf(fp, "    <Attribute Name=\"%s\" AttributeType=\"Scalar\" Center=\"Node\">\n", label);
  if (j < 0) {
    fprintf(fp, "     <DataItem ItemType=\"HyperSlab\" Dimensions=\"1 %d %d\" Type=\"HyperSlab\">\n", (int)nx, (int)ny);
    fprintf(fp, "      <DataItem Dimensions=\"3 3\" Format=\"XML\">%d 0 0 1 1 1 1 %d %d</DataItem>\n", (int)t, (int)nx, (int)ny);
    fprintf(fp, "      <DataItem Dimensions=\"%d %d %d\" NumberType=\"Float\" Precision=\"8\" Format=\"HDF\">%s:/trajectory/%s</DataItem>\n", (int)T, (int)nx, (int)ny, base, name);
  } else {
    fprintf(fp, "     <DataItem ItemType=\"HyperSlab\" Dimensions=\"1 1 %d %d\" Type=\"HyperSlab\">\n", (int)nx, (int)ny);
    fprintf(fp, "      <DataItem Dimensions=\"3 4\" Format=\"XML\">%d %d 0 0 1 1 1 1 1 1 %d %d</DataItem>\n", (int)t, (int)j, (int)nx, (int)ny);
    fprintf(fp, "      <DataItem Dimensions=\"%d %d %d %d\" NumberType=\"Float\" Precision=\"8\" Format=\"HDF\">%s:/trajectory/%s</DataItem>\n", (int)T, (int)nc, (int)nx, (int)ny, base, name);
  }
  fprintf(fp, "     </DataItem>\n    </Attribute>\n");
}

/* FILE.xdmf beside FILE.h5 (ParaView, VisIt): the saved times as a temporal collection on the
   (depth x width) grid with z (and z_dot, a_j, a_j_dot in continuum mode, where the moments live
   on every node); in lattice mode a second collection "layers" on the M x N layer grid
   (x_m = m h, m = 0..M-1) with a_j and b (and their velocities in damped dynamics). */
PetscErrorCode BbdFieldWriteXdmf(BbdField f, PetscInt T)
{
  BbdNet      net = f->net;
  PetscMPIInt rank;
  char        xf[PETSC_MAX_PATH_LEN + 8], tmp[PETSC_MAX_PATH_LEN + 16], lab[32];
  const char *h5 = net->output_file, *base;
  FILE       *fp;
  PetscReal  *times;
  const PetscInt NX = net->M + 1, NY = net->n[0], M = net->M, P = net->P;

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
  fprintf(fp, "   <DataItem Format=\"XML\" Dimensions=\"2\">%.17g %.17g</DataItem>\n  </Geometry>\n", 1.0 / M, 1.0 / NY);
  if (!f->continuum) {
    fprintf(fp, "  <Topology Name=\"layers\" TopologyType=\"2DCoRectMesh\" Dimensions=\"%d %d\"/>\n", (int)M, (int)NY);
    fprintf(fp, "  <Geometry Name=\"layergeo\" GeometryType=\"ORIGIN_DXDY\">\n   <DataItem Format=\"XML\" Dimensions=\"2\">0 0</DataItem>\n");
    fprintf(fp, "   <DataItem Format=\"XML\" Dimensions=\"2\">%.17g %.17g</DataItem>\n  </Geometry>\n", 1.0 / M, 1.0 / NY);
  }
  fprintf(fp, "  <Grid Name=\"trajectory\" GridType=\"Collection\" CollectionType=\"Temporal\">\n");
  for (PetscInt t = 0; t < T; t++) {
    fprintf(fp, "   <Grid Name=\"t%d\" GridType=\"Uniform\">\n    <Time Value=\"%.17g\"/>\n", (int)t, (double)times[t]);
    fprintf(fp, "    <Topology Reference=\"/Xdmf/Domain/Topology[1]\"/>\n    <Geometry Reference=\"/Xdmf/Domain/Geometry[1]\"/>\n");
    XdmfAttribute(fp, "z", base, "z", t, T, -1, 0, NX, NY);
    if (f->continuum && f->damped) XdmfAttribute(fp, "z_dot", base, "z_dot", t, T, -1, 0, NX, NY);
    for (PetscInt j = 0; f->continuum && j <= P; j++) {
      PetscCall(PetscSNPrintf(lab, sizeof(lab), "a_%d", (int)j));
      XdmfAttribute(fp, lab, base, "a", t, T, j, P + 1, NX, NY);
      if (!f->damped) continue;
      PetscCall(PetscSNPrintf(lab, sizeof(lab), "a_%d_dot", (int)j));
      XdmfAttribute(fp, lab, base, "a_dot", t, T, j, P + 1, NX, NY);
    }
    fprintf(fp, "   </Grid>\n");
  }
  fprintf(fp, "  </Grid>\n");
  if (!f->continuum) { /* lattice mode: the parameters of layer m at x_m = m h, m = 0..M-1 */
    fprintf(fp, "  <Grid Name=\"layers\" GridType=\"Collection\" CollectionType=\"Temporal\">\n");
    for (PetscInt t = 0; t < T; t++) {
      fprintf(fp, "   <Grid Name=\"layers_t%d\" GridType=\"Uniform\">\n    <Time Value=\"%.17g\"/>\n", (int)t, (double)times[t]);
      fprintf(fp, "    <Topology Reference=\"/Xdmf/Domain/Topology[2]\"/>\n    <Geometry Reference=\"/Xdmf/Domain/Geometry[2]\"/>\n");
      for (PetscInt j = 0; j <= P; j++) {
        PetscCall(PetscSNPrintf(lab, sizeof(lab), "a_%d", (int)j));
        XdmfAttribute(fp, lab, base, "a", t, T, j, P + 1, M, NY);
        if (!f->damped) continue;
        PetscCall(PetscSNPrintf(lab, sizeof(lab), "a_%d_dot", (int)j));
        XdmfAttribute(fp, lab, base, "a_dot", t, T, j, P + 1, M, NY);
      }
      XdmfAttribute(fp, "b", base, "b", t, T, -1, 0, M, NY);
      if (f->damped) XdmfAttribute(fp, "b_dot", base, "b_dot", t, T, -1, 0, M, NY);
      fprintf(fp, "   </Grid>\n");
    }
    fprintf(fp, "  </Grid>\n");
  }
  fprintf(fp, " </Domain>\n</Xdmf>\n");
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

/* A sample switch to batch k: theta (and theta') continuous, z jumps to the new sample's forward
   pass (damped: z' to its tangent pass); nothing moves when batch k uses the same sample. */
static PetscErrorCode SwitchBatch(BbdField f, PetscInt k)
{
  BbdNet    net = f->net;
  PetscInt  idx[1];
  PetscReal *z, *zd;

  PetscFunctionBeginUser;
  PetscCall(BbdNetBatchFromIndex(net, k, idx));
  if (idx[0] != f->sample) {
    PetscCall(PetscMalloc2(net->nz, &z, net->nz, &zd));
    PetscCall(StateToNet(f, z, zd));
    PetscCall(NetToState(f, idx[0]));
    PetscCall(PetscFree2(z, zd));
  }
  f->batch = k;
  PetscFunctionReturn(0);
}

/* -bbd_switch events (docs/theory.md section 14, "Sample switching as TS events"): the event
   function is t - t_k of the next switch time t_k = (batch + 1) sample_dt. It is linear in t, so
   PETSc's regula falsi puts the end of the retaken step on t_k to rounding. */
static PetscErrorCode SwitchEvent(TS ts, PetscReal t, Vec U, PetscScalar *fv, void *ctx)
{
  BbdField f = (BbdField)ctx;

  PetscFunctionBeginUser;
  (void)ts;
  (void)U;
  fv[0] = t - (PetscReal)(f->batch + 1) * f->net->sample_dt;
  PetscFunctionReturn(0);
}

/* the switch on the solver's vector U (the TS layout: moved to the width-only f->U and back) */
static PetscErrorCode SwitchPostEvent(TS ts, PetscInt nzero, PetscInt zero[], PetscReal t, Vec U, PetscBool forward, void *ctx)
{
  BbdField        f  = (BbdField)ctx;
  const PetscReal tk = (PetscReal)(f->batch + 1) * f->net->sample_dt;

  PetscFunctionBeginUser;
  (void)nzero;
  (void)zero;
  PetscCheck(forward, f->comm, PETSC_ERR_SUP, "-bbd_switch events: no adjoint solves");
  PetscCall(BbdFieldFromTS(f, U, f->U));
  PetscCall(SwitchBatch(f, f->batch + 1));
  PetscCall(BbdFieldToTS(f, f->U, U));
  f->nswitch_event++;
  f->switch_err = PetscMax(f->switch_err, PetscAbsReal(t - tk));
  PetscCall(TSRestartStep(ts)); /* no FSAL stage, no BDF history across the jump (PETSc also restarts on a changed U) */
  PetscFunctionReturn(0);
}

/* -bbd_switch events: the segment [t, tend] between saved times, its sample switches located by
   TS events. The event is terminal: PETSc 3.18 accepts the first step after a non-terminal event
   without error control (TSAdaptChoose while the event status is not NONE), and a restarted BDF
   then takes its order-1 start with the rest of the rolled-back step (observed: 1e-5 relative
   error at -ts_rtol 1e-11). So the solve stops at the switch and continues towards tend from the
   initial step, every step error-controlled. Every solve starts from the same solver state (a
   fresh event handler, step counter 0, the initial step), so that a restart from a saved time
   continues exactly like the uninterrupted run. */
static PetscErrorCode SolveSegmentEvents(BbdField f, TS ts, PetscReal t, PetscReal tend, PetscReal dt0)
{
  PetscInt    dir = 1, steps, nits, lits, fails;
  PetscBool   term = PETSC_TRUE, given;
  PetscReal   tol  = 1e-3 * BbdTimeEps(f->net); /* PETSc's 1e-6 would take a step ending that near t_k for the switch */
  const char *prefix;

  PetscFunctionBeginUser;
  PetscCall(TSGetOptionsPrefix(ts, &prefix));
  PetscCall(PetscOptionsGetReal(NULL, prefix, "-ts_event_tol", &tol, &given));
  while (t < tend - BbdTimeEps(f->net)) {
    if ((PetscReal)(f->batch + 1) * f->net->sample_dt - t < tol) { /* a switch within the tolerance after the start: PETSc skips the */
      PetscCall(SwitchBatch(f, f->batch + 1));                        /* sign change of a step that starts at |g| < tol, so take it here */
      f->nswitch_seg++;
    }
    PetscCall(TSGetStepNumber(ts, &steps));
    PetscCall(TSGetSNESIterations(ts, &nits));
    PetscCall(TSGetKSPIterations(ts, &lits));
    PetscCall(TSGetSNESFailures(ts, &fails));
    f->acc_steps += steps; /* TSSolve zeroes these with the step counter */
    f->acc_newton += nits;
    f->acc_krylov += lits;
    f->acc_fail += fails;
    PetscCall(TSSetStepNumber(ts, 0)); /* TSSolve then evaluates the event function at t (TSEventInitialize) */
    PetscCall(TSSetEventHandler(ts, 1, &dir, &term, SwitchEvent, SwitchPostEvent, f));
    if (!given) PetscCall(TSSetEventTolerances(ts, tol, NULL));
    PetscCall(BbdFieldSolveSegment(f, ts, t, tend, dt0, &t));
  }
  PetscFunctionReturn(0);
}

/* the summary line of the rejected Newton solves (BbdTSConfigureWith: each failed step is retried
   with a smaller one), printed before the solver: line when there were any */
PetscErrorCode BbdFieldPrintFailures(BbdField f, TS ts, PetscInt fails)
{
  TSAdapt   adapt;
  PetscReal scale;

  PetscFunctionBeginUser;
  PetscCall(TSGetAdapt(ts, &adapt));
  PetscCall(TSAdaptGetScaleSolveFailed(adapt, &scale));
  PetscCall(PetscPrintf(f->comm, "Newton failures: %" PetscInt_FMT " (each step retried with %g of its time step; -ts_adapt_monitor lists them)\n", fails, (double)scale));
  PetscFunctionReturn(0);
}

/* the time loop: segments between saved times and (-bbd_switch segments) sample switches */
static PetscErrorCode Integrate(BbdField f, TS ts, PetscReal dt0, BbdOutput out, BbdSnapshot *snap, PetscInt *T, PetscReal *z, PetscReal *zd)
{
  BbdNet    net = f->net;
  PetscReal t = net->t0, eps = BbdTimeEps(net), *x, *y;

  PetscFunctionBeginUser;
  PetscCall(PetscMalloc2(net->M + 1, &x, net->n[0], &y));
  for (PetscInt k = 0; k <= net->M; k++) x[k] = (PetscReal)k / net->M;
  for (PetscInt i = 0; i < net->n[0]; i++) y[i] = (PetscReal)i / net->n[0];
  PetscCall(BbdOutputWriteGrid(out, net->M + 1, x, net->n[0], y));
  PetscCall(PetscFree2(x, y));
  PetscCall(Save(f, out, snap, t, T));
  while (t < net->tfinal - eps) {
    PetscReal tend;
    PetscBool save = PETSC_TRUE;
    PetscInt  k;
    if (f->events) {
      tend = BbdTSNextSave(net, t);
      PetscCall(SolveSegmentEvents(f, ts, t, tend, dt0));
    } else {
      BbdTSNextSegment(net, t, &tend, &save);
      PetscCall(BbdFieldSolveSegment(f, ts, t, tend, dt0, NULL));
    }
    t = tend;
    /* a switch at the segment end (with events only one just after it, within BatchIndex's
       1e-9 sample_dt: a switch on a saved time is taken by the event at the solve's last step) */
    k = BbdNetBatchIndex(net, t);
    if (k > f->batch) { /* (an event may have taken a switch a little early, within its tolerance) */
      PetscCall(SwitchBatch(f, k));
      f->nswitch_seg++;
    }
    if (save) PetscCall(Save(f, out, snap, t, T));
  }
  net->t0 = t;
  PetscCall(StateToNet(f, z, zd));
  PetscFunctionReturn(0);
}

/* The time stepper of a run (every mode), created on the TS layout and configured from the
   options, not started: BbdFieldRun and BbdFieldContinuumRun integrate with it; the unit tests
   (tests/fieldtest.h) evaluate its residual, Jacobian and preconditioner. */
PetscErrorCode BbdFieldCreateTS(BbdField f, TS *ts, PetscReal *dt0)
{
  PetscFunctionBeginUser;
  PetscCall(TSCreate(f->comm, ts));
  PetscCall(TSSetDM(*ts, f->dats));
  if (f->continuum && f->residual) PetscCall(BbdFieldContinuumResidualSetTS(f, *ts, dt0)); /* residual_continuum.c */
  else if (f->continuum) {
    PetscCall(BbdFieldSetRHSFunction(f, *ts, BbdFieldRHSContinuum));
    PetscCall(BbdTSConfigure(f->net, *ts, dt0));
  } else if (f->residual && f->damped) PetscCall(BbdFieldDampedResidualSetTS(f, *ts, dt0)); /* src/residual_damped.c */
  else if (f->residual) PetscCall(BbdFieldResidualSolver(f, *ts, BbdFieldIFunction, BbdFieldIJacobian, PCApplySweep, "BBD sweep: exact inverse of shift * G(U)", dt0)); /* src/residual.c */
  else {
    PetscCall(BbdFieldSetRHSFunction(f, *ts, f->damped ? RHSFunctionDamped : RHSFunction));
    PetscCall(BbdTSConfigure(f->net, *ts, dt0));
  }
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
  PetscCall(BbdFieldCreateTS(f, &ts, &dt0));
  if (f->events) { /* locating an event rolls the step back: the types that can */
    PetscBool ok;
    TSType    type;
    PetscCall(PetscObjectTypeCompareAny((PetscObject)ts, &ok, TSRK, TSBDF, TSTHETA, TSBEULER, TSCN, TSARKIMEX, TSROSW, TSALPHA, ""));
    PetscCall(TSGetType(ts, &type));
    PetscCheck(ok, f->comm, PETSC_ERR_SUP, "-bbd_switch events with -ts_type %s: locating a switch rolls a step back, which %s cannot do; use -bbd_switch segments, or -ts_type rk, bdf, beuler, cn, theta, arkimex, rosw", type, type);
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
    PetscInt steps, nits, lits, fails;
    PetscCall(TSGetStepNumber(ts, &steps));
    PetscCall(TSGetSNESIterations(ts, &nits));
    PetscCall(TSGetKSPIterations(ts, &lits));
    PetscCall(TSGetSNESFailures(ts, &fails));
    steps += f->acc_steps; /* events: the counters of the earlier segments */
    nits += f->acc_newton;
    lits += f->acc_krylov;
    fails += f->acc_fail;
    if (fails) PetscCall(BbdFieldPrintFailures(f, ts, fails));
    if (net->sample_dt > 0) PetscCall(PetscPrintf(f->comm, "sample switches: %" PetscInt_FMT " (%" PetscInt_FMT " as TS events, located within %.2e of k sample_dt; %" PetscInt_FMT " at segment ends)\n", f->nswitch_event + f->nswitch_seg, f->nswitch_event, (double)f->switch_err, f->nswitch_seg));
    PetscCall(PetscPrintf(f->comm, "solver: %" PetscInt_FMT " steps in the whole run, %" PetscInt_FMT " Newton and %" PetscInt_FMT " Krylov iterations in all (%.2f Krylov per Newton)\n", steps, nits, lits, nits ? (double)lits / nits : 0.0));
    PetscCall(PetscPrintf(f->comm, "wrote %s\n", net->output_file));
  }
  PetscCall(PetscFree2(z, zd));
  PetscCall(BbdSnapshotDestroy(&snap));
  PetscCall(TSDestroy(&ts));
  PetscFunctionReturn(0);
}
