/* BbdField: the overdamped BBD field equations on a (depth, width) DMDA (docs/theory.md
   section 14). x = depth, k = 0..M (NX = M+1 points), y = width, i = 0..N-1
   (periodic, or zero padding). Unknowns per point: z and the moments a_0..a_P (a at k = M
   unused). Lattice mode, sweep formulation (explicit in time):
     beta^(M-1) = -eta dl/dZ,   beta^(m-1) = rho beta^(m) + h sigma'(z^(m)) .* sum_j D_j^T (a_j beta^(m))
     da_j^(m)/dt = kappa_j beta^(m) .* D_j sigma(z^(m))
     dz^(0)/dt = 0,  dz^(m+1)/dt = rho dz^(m) + h (beta^(m) + sum_j da_j D_j sigma(z^(m)) + sum_j a_j D_j (sigma' dz^(m)))
   i.e. the block-triangular solution of the residual system (section 14, "Residual form and its preconditioner"): one backward and
   one forward sweep in depth, local in width. The grid is split across ranks in width only
   (each rank sweeps its columns); a sweep exchanges g width columns every g layers with the
   width neighbours and computes the ghost columns in between redundantly (-bbd_sweep_ghost g).
   Damped dynamics (-bbd_dynamics damped): velocity unknowns z_dot, a_j_dot follow z, a_j at each
   point; one backward sweep (the flow rates beta) and one forward sweep (the second time
   derivative of the forward map) per evaluation (docs/theory.md section 14, "Damped dynamics in the lattice solver"). */
#include "fieldimpl.h"

static PetscFunctionList BbdFieldList              = NULL;
static PetscBool         BbdFieldRegisterAllCalled = PETSC_FALSE;

/*@C BbdFieldRegister - add a field-solver type: create(f) fills f->ops (and f->data) of a new
   BbdField (docs/developing-field.md). Not collective. @*/
PetscErrorCode BbdFieldRegister(const char name[], PetscErrorCode (*create)(BbdField))
{
  PetscFunctionBeginUser;
  PetscCall(BbdFieldInitializePackage());
  PetscCall(PetscFunctionListAdd(&BbdFieldList, name, create));
  PetscFunctionReturn(0);
}

static PetscErrorCode BbdFieldFinalizePackage(void)
{
  PetscFunctionBeginUser;
  PetscCall(PetscFunctionListDestroy(&BbdFieldList));
  BbdFieldRegisterAllCalled = PETSC_FALSE;
  PetscFunctionReturn(0);
}

/* the built-in types: -bbd_mode x -bbd_formulation */
static PetscErrorCode BbdFieldRegisterAll(void)
{
  PetscFunctionBeginUser;
  if (BbdFieldRegisterAllCalled) PetscFunctionReturn(0);
  BbdFieldRegisterAllCalled = PETSC_TRUE;
  PetscCall(BbdFieldRegister("lattice_sweep", BbdFieldCreate_LatticeSweep));
  PetscCall(BbdFieldRegister("lattice_residual", BbdFieldCreate_LatticeResidual));
  PetscCall(BbdFieldRegister("continuum_sweep", BbdFieldCreate_ContinuumSweep));
  PetscCall(BbdFieldRegister("continuum_residual", BbdFieldCreate_ContinuumResidual));
  PetscCall(PetscRegisterFinalize(BbdFieldFinalizePackage));
  PetscFunctionReturn(0);
}

/*@C BbdFieldSetType - choose the field-solver type by its registered name (BbdFieldSetFromOptions
   calls it with mode_formulation: lattice_sweep, lattice_residual, continuum_sweep,
   continuum_residual). Collective. @*/
PetscErrorCode BbdFieldSetType(BbdField f, const char type[])
{
  PetscErrorCode (*create)(BbdField) = NULL;
  PetscBool same;

  PetscFunctionBeginUser;
  PetscCall(BbdFieldRegisterAll());
  PetscCall(PetscStrcmp(f->type_name, type, &same));
  if (same) PetscFunctionReturn(0);
  PetscCall(PetscFunctionListFind(BbdFieldList, type, &create));
  PetscCheck(create, f->comm, PETSC_ERR_USER_INPUT, "unknown field-solver type %s (registered: lattice_sweep, lattice_residual, continuum_sweep, continuum_residual and any added by BbdFieldRegister)", type);
  if (f->ops->destroy) PetscCall(f->ops->destroy(f));
  PetscCall(PetscMemzero(f->ops, sizeof(struct _BbdFieldOps)));
  f->data = NULL;
  PetscCall(PetscStrncpy(f->type_name, type, sizeof(f->type_name)));
  PetscCall(create(f));
  PetscFunctionReturn(0);
}

PetscErrorCode BbdFieldCreate(MPI_Comm comm, BbdField *field)
{
  BbdField f;

  PetscFunctionBeginUser;
  PetscCall(BbdFieldInitializePackage());
  PetscCall(PetscNew(&f));
  f->comm = comm;
  f->bi   = -1;
  f->betai = -1;
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
  if (f->ops->destroy) PetscCall(f->ops->destroy(f));
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
  BbdOptionsBegin(f->comm, net->options, net->prefix, "Field solver options (docs/reference.md)");
  if (!net->composed) PetscCall(BbdOptionsHeading(PetscOptionsObject, "Discretisation and grid"));
  if (!net->composed) PetscCall(PetscOptionsString("-bbd_mode", "Discretisation: lattice (the network's own stencils on its lattice) or continuum (second-order stencils on any grid)", "BbdFieldSetFromOptions", f->mode, f->mode, sizeof(f->mode), &set));
  if (!net->composed) { /* the grid (lattice mode: the network's lattice, checked in BbdFieldSetUp) */
    PetscInt nx = net->grid[0] > 0 ? net->grid[0] : net->M + 1, ny = net->grid[1] > 0 ? net->grid[1] : net->n[0];
    PetscCall(PetscOptionsInt("-da_grid_x", "Grid points in depth NX (lattice mode: M+1, the network's depth nodes; continuum mode: any NX >= 3, the depth step 1/(NX-1))", "BbdFieldSetFromOptions", nx, &nx, &set));
    if (set) net->grid[0] = nx;
    PetscCall(PetscOptionsInt("-da_grid_y", "Grid points in width NY (lattice mode: N, the network's width; continuum mode: any NY >= 3, the width step 1/NY)", "BbdFieldSetFromOptions", ny, &ny, &set));
    if (set) net->grid[1] = ny;
  }
  PetscCall(BbdOptionsHeading(PetscOptionsObject, "Formulation and solver"));
  {
    char form[32];
    PetscCall(PetscStrcpy(form, f->residual ? "residual" : "sweep"));
    PetscCall(PetscOptionsString("-bbd_formulation", "sweep (explicit right-hand side: the exact sweeps; any explicit or implicit -ts_type) or residual (the implicit residual form F(U, U') = 0 with the sweeps as preconditioner; implicit -ts_type; continuum mode: with beta an algebraic unknown)", "BbdFieldSetFromOptions", form, form, sizeof(form), NULL));
    PetscCheck(!strcmp(form, "sweep") || !strcmp(form, "residual"), f->comm, PETSC_ERR_USER_INPUT, "-bbd_formulation %s: use sweep or residual", form);
    f->residual = (PetscBool)!strcmp(form, "residual");
  }
  {
    char jac[32];
    PetscCall(PetscStrcpy(jac, f->jac_assembled ? "assembled" : "mf"));
    PetscCall(PetscOptionsString("-bbd_jacobian", "Residual formulation: the Newton Jacobian shift dF/dU' + dF/dU, assembled (analytic; continuum mode: the exact linearisation assembled by colouring; any -pc_type) or mf (matrix-free differencing of the residual; the sweep or no preconditioner only)", "BbdFieldSetFromOptions", jac, jac, sizeof(jac), NULL));
    PetscCheck(!strcmp(jac, "mf") || !strcmp(jac, "assembled"), f->comm, PETSC_ERR_USER_INPUT, "-bbd_jacobian %s: use mf or assembled", jac);
    f->jac_assembled = (PetscBool)!strcmp(jac, "assembled");
  }
  {
    char sw[32];
    PetscCall(PetscStrcpy(sw, f->events ? "events" : "segments"));
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
  { /* out of the field's database, under its prefix (see above) */
    char name[256];
    PetscCall(PetscSNPrintf(name, sizeof(name), "-%ssnes_fd_color", net->prefix ? net->prefix : ""));
    PetscCall(PetscOptionsClearValue(net->options, name));
    PetscCall(PetscSNPrintf(name, sizeof(name), "-%ssnes_fd", net->prefix ? net->prefix : ""));
    PetscCall(PetscOptionsClearValue(net->options, name));
  }
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
        PetscCall(PetscOptionsHasName(net->options, net->prefix, "-bbd_sample_dt", &given));
        if (!given) net->sample_dt = 0;
        PetscCall(PetscOptionsHasName(net->options, net->prefix, "-bbd_batch", &given));
        if (!given) net->batch = 1;
        PetscCall(PetscOptionsHasName(net->options, net->prefix, "-bbd_dynamics", &given));
        if (!given && net->dyn == BBD_DYN_SGD) net->dyn = BBD_DYN_FLOW; /* damped stays damped (with the file's velocities) */
      }
    }
    for (PetscInt m = 0; m < net->M; m++) PetscCheck(net->act[m] == net->act[0], f->comm, PETSC_ERR_USER_INPUT, "-bbd_activation: continuum mode needs one activation for all depths");
    PetscCheck(net->act[0] != BBD_ACT_RELU, f->comm, PETSC_ERR_USER_INPUT, "-bbd_activation relu: relu is not C^2, so the continuum field equations (which need sigma'') are not defined for it; use it with -bbd_mode lattice or bbd-net");
    if (net->grid[0] > 0) NX = net->grid[0]; /* -da_grid_x, BbdFieldSetGrid */
    if (net->grid[1] > 0) NY = net->grid[1];
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
  f->dyn    = f->damped ? &BbdFieldDamped : &BbdFieldFlow;
  PetscCheck(net->batch == 1, f->comm, PETSC_ERR_USER_INPUT, "-bbd_batch %" PetscInt_FMT ": the field z(x, y) is one sample's; bbd-field needs -bbd_batch 1", net->batch);
  if (net->sample_dt <= 0) f->events = PETSC_FALSE; /* no switches: nothing for events to do */
  { /* the type: -bbd_mode x -bbd_formulation */
    char type[64];
    PetscCall(PetscSNPrintf(type, sizeof(type), "%s_%s", f->mode, f->residual ? "residual" : "sweep"));
    PetscCall(BbdFieldSetType(f, type));
  }
  PetscFunctionReturn(0);
}

PetscErrorCode BbdFieldSetUp(BbdField f)
{
  BbdNet          net = f->net;
  const PetscInt  M = net->M, N = net->n[0];
  PetscInt        nx, ny;
  const PetscInt *ly;
  DMBoundaryType  by = net->periodic ? DM_BOUNDARY_PERIODIC : DM_BOUNDARY_GHOSTED;
  char            name[16];

  PetscFunctionBeginUser;
  PetscCheck(f->ops->setup, f->comm, PETSC_ERR_ORDER, "BbdFieldSetUp: no type set (call BbdFieldSetFromOptions or BbdFieldSetType first)");
  if (f->ops->read) PetscCall(f->ops->read(f));
  PetscCall(BbdNetSetUp(net));
  f->dof = f->dyn->nblock * (net->P + 2); /* z, a_0..a_P (damped: then z_dot, a_0_dot..a_P_dot) */
  if (f->ops->dofs) PetscCall(f->ops->dofs(f)); /* the type's own components after them */
  nx = M + 1;
  ny = N;
  if (net->grid[0] > 0) nx = net->grid[0]; /* -da_grid_x, -da_grid_y, BbdFieldSetGrid (BbdFieldSetFromOptions) */
  if (net->grid[1] > 0) ny = net->grid[1];
  PetscCheck(nx == M + 1 || f->continuum, f->comm, PETSC_ERR_USER_INPUT, "-da_grid_x %" PetscInt_FMT ": in lattice mode the grid is the network's lattice, NX = M+1 = %" PetscInt_FMT, nx, M + 1);
  PetscCheck(ny == N || f->continuum, f->comm, PETSC_ERR_USER_INPUT, "-da_grid_y %" PetscInt_FMT ": in lattice mode the grid is the network's lattice, NY = N = %" PetscInt_FMT, ny, N);
  PetscCall(BbdFieldLayoutSetUp(f, M + 1, N, by)); /* f->dats (the TS's, as the options split it) and f->da (width only) */
  PetscCall(DMDASetFieldName(f->da, 0, "z"));
  for (PetscInt c = 0; c <= net->P; c++) {
    PetscCall(PetscSNPrintf(name, sizeof(name), "a_%" PetscInt_FMT, c));
    PetscCall(DMDASetFieldName(f->da, 1 + c, name));
  }
  if (f->dyn->nblock == 2) {
    PetscCall(DMDASetFieldName(f->da, net->P + 2, "z_dot"));
    for (PetscInt c = 0; c <= net->P; c++) {
      PetscCall(PetscSNPrintf(name, sizeof(name), "a_%" PetscInt_FMT "_dot", c));
      PetscCall(DMDASetFieldName(f->da, net->P + 3 + c, name));
    }
  }
  if (f->betai >= 0) PetscCall(DMDASetFieldName(f->da, f->betai, "beta"));
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
  if (f->damped) PetscCall(PetscMalloc4((M + 1) * f->gym, &f->zdr, (net->P + 1) * (M + 1) * f->gym, &f->adr, (M + 1) * f->gym, &f->D2, f->gym, &f->u1));
  PetscCall(f->ops->setup(f)); /* the type's arrays and the initial state */
  PetscFunctionReturn(0);
}
