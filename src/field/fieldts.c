/* The layout of bbd-field's time stepper (docs/theory.md section 14, "Decomposition").
   The TS, its Newton-Krylov vectors and preconditioner see the grid as the user decomposes it:
   -da_processors_x (depth) and -da_processors_y (width), any product equal to the number of
   ranks. The sweeps, the residual and the output work on whole depth columns (the exact sweep
   is sequential in depth: it is backpropagation), on a width-only layout f->da of the same grid.
   With -da_processors_x 1 the two layouts are one and nothing moves; otherwise every callback
   moves its vectors to the width-only layout and back, one scatter each way. Results do not
   depend on the decomposition: the same arithmetic runs on the same columns. */
#include "fieldimpl.h"

/* the TS layout f->dats and, when it splits depth, the width-only f->da and the scatter between them */
PetscErrorCode BbdFieldLayoutSetUp(BbdField f, PetscInt NX, PetscInt NY, DMBoundaryType by)
{
  PetscInt nx, ny, px, py;

  PetscFunctionBeginUser;
  { /* the split, checked here with messages naming the options (PETSc's own check says only
       "Given Bad partition", and -da_processors_x alone is not completed to the rank count) */
    PetscInt  qx = 1, qy = PETSC_DECIDE;
    PetscBool fy;
    PetscCall(PetscOptionsGetInt(f->net->options, f->net->prefix, "-da_processors_x", &qx, NULL));
    PetscCall(PetscOptionsGetInt(f->net->options, f->net->prefix, "-da_processors_y", &qy, &fy));
    PetscCheck(qx >= 1 && (!fy || qy >= 1), f->comm, PETSC_ERR_USER_INPUT, "-da_processors_x %" PetscInt_FMT ", -da_processors_y %" PetscInt_FMT ": the numbers of ranks in depth and width must be positive", qx, fy ? qy : 1);
    if (!fy) {
      PetscCheck(f->size % qx == 0, f->comm, PETSC_ERR_USER_INPUT, "-da_processors_x %" PetscInt_FMT " does not divide the %d ranks of the run", qx, f->size);
      qy = f->size / qx;
    }
    PetscCheck(qx * qy == f->size, f->comm, PETSC_ERR_USER_INPUT, "-da_processors_x %" PetscInt_FMT " times -da_processors_y %" PetscInt_FMT " is %" PetscInt_FMT ", but the run has %d ranks", qx, qy, qx * qy, f->size);
    PetscCheck(qx <= NX && qy <= NY, f->comm, PETSC_ERR_USER_INPUT, "-da_processors_x %" PetscInt_FMT ", -da_processors_y %" PetscInt_FMT ": more ranks than grid points (%" PetscInt_FMT " x %" PetscInt_FMT ") in one direction", qx, qy, NX, NY);
    PetscCall(DMDACreate2d(f->comm, DM_BOUNDARY_NONE, by, DMDA_STENCIL_BOX, NX, NY, qx, qy, f->dof, 1, NULL, NULL, &f->dats));
  }
  PetscCall(PetscObjectSetOptions((PetscObject)f->dats, f->net->options)); /* the field's database and prefix */
  if (f->net->prefix) PetscCall(DMSetOptionsPrefix(f->dats, f->net->prefix));
  PetscCall(DMSetFromOptions(f->dats));
  PetscCall(DMSetUp(f->dats));
  PetscCall(DMDAGetInfo(f->dats, NULL, &nx, &ny, NULL, &px, &py, NULL, NULL, NULL, NULL, NULL, NULL, NULL));
  PetscCheck(nx == NX && ny == NY, f->comm, PETSC_ERR_USER_INPUT, "the DMDA options made the grid %" PetscInt_FMT " x %" PetscInt_FMT " instead of %" PetscInt_FMT " x %" PetscInt_FMT " (-da_grid_x, -da_grid_y; -da_refine is not supported)", nx, ny, NX, NY);
  if (px == 1) {
    f->da = f->dats;
    PetscCall(PetscObjectReference((PetscObject)f->da));
    PetscFunctionReturn(0);
  }
  PetscCheck(NY >= f->size, f->comm, PETSC_ERR_USER_INPUT, "-da_processors_x %" PetscInt_FMT ": the sweeps run on whole depth columns, split across the %d ranks in width; the width %" PetscInt_FMT " needs at least one point per rank", px, f->size, NY);
  PetscCall(DMDACreate2d(f->comm, DM_BOUNDARY_NONE, by, DMDA_STENCIL_BOX, NX, NY, 1, f->size, f->dof, 1, NULL, NULL, &f->da));
  PetscCall(DMSetUp(f->da));
  f->split = PETSC_TRUE;
  PetscFunctionReturn(0);
}

/* after the width-only vectors exist: the scatter TS layout -> width-only layout, work vectors */
PetscErrorCode BbdFieldLayoutVectors(BbdField f)
{
  const PetscInt NX = f->net->M + 1, dof = f->dof, n = f->ym * NX * dof;
  PetscInt       rstart, *nat;
  AO             ao;
  IS             ists, issw;

  PetscFunctionBeginUser;
  if (!f->split) {
    f->Uts = f->U;
    PetscCall(PetscObjectReference((PetscObject)f->U));
    PetscFunctionReturn(0);
  }
  PetscCall(DMCreateGlobalVector(f->dats, &f->Uts));
  PetscCall(VecDuplicate(f->U, &f->Usw));
  PetscCall(VecDuplicate(f->U, &f->Udsw));
  PetscCall(VecDuplicate(f->U, &f->Fsw));
  PetscCall(VecGetOwnershipRange(f->U, &rstart, NULL));
  /* the owned entries of the width-only layout in natural order (depth fastest, then dof) ... */
  PetscCall(PetscMalloc1(n, &nat));
  for (PetscInt j = 0; j < f->ym; j++)
    for (PetscInt k = 0; k < NX; k++)
      for (PetscInt c = 0; c < dof; c++) nat[(j * NX + k) * dof + c] = ((f->ys + j) * NX + k) * dof + c;
  /* ... and where the TS layout keeps them */
  PetscCall(DMDAGetAO(f->dats, &ao));
  PetscCall(AOApplicationToPetsc(ao, n, nat));
  PetscCall(ISCreateGeneral(f->comm, n, nat, PETSC_OWN_POINTER, &ists));
  PetscCall(ISCreateStride(f->comm, n, rstart, 1, &issw));
  PetscCall(VecScatterCreate(f->Uts, ists, f->U, issw, &f->tscat));
  PetscCall(ISDestroy(&ists));
  PetscCall(ISDestroy(&issw));
  PetscFunctionReturn(0);
}

PetscErrorCode BbdFieldLayoutDestroy(BbdField f)
{
  PetscFunctionBeginUser;
  PetscCall(VecScatterDestroy(&f->tscat));
  PetscCall(VecDestroy(&f->Uts));
  PetscCall(VecDestroy(&f->Usw));
  PetscCall(VecDestroy(&f->Udsw));
  PetscCall(VecDestroy(&f->Fsw));
  PetscCall(DMDestroy(&f->dats));
  PetscFunctionReturn(0);
}

/* copy between the TS layout and the width-only layout (forward: TS -> width-only) */
static PetscErrorCode Move(BbdField f, Vec from, Vec to, ScatterMode mode)
{
  PetscFunctionBeginUser;
  if (from == to) PetscFunctionReturn(0);
  if (!f->split) {
    PetscCall(VecCopy(from, to));
    PetscFunctionReturn(0);
  }
  PetscCall(VecScatterBegin(f->tscat, from, to, INSERT_VALUES, mode));
  PetscCall(VecScatterEnd(f->tscat, from, to, INSERT_VALUES, mode));
  PetscFunctionReturn(0);
}

PetscErrorCode BbdFieldFromTS(BbdField f, Vec ts, Vec sw)
{
  PetscFunctionBeginUser;
  PetscCall(Move(f, ts, sw, SCATTER_FORWARD));
  PetscFunctionReturn(0);
}

PetscErrorCode BbdFieldToTS(BbdField f, Vec sw, Vec ts)
{
  PetscFunctionBeginUser;
  PetscCall(Move(f, sw, ts, SCATTER_REVERSE));
  PetscFunctionReturn(0);
}

static PetscErrorCode RHSMoved(TS ts, PetscReal t, Vec U, Vec F, void *ctx)
{
  BbdField f = (BbdField)ctx;

  PetscFunctionBeginUser;
  PetscCall(BbdFieldFromTS(f, U, f->Usw));
  PetscCall(f->rhs(ts, t, f->Usw, f->Fsw, f));
  PetscCall(BbdFieldToTS(f, f->Fsw, F));
  PetscFunctionReturn(0);
}

static PetscErrorCode IFunctionMoved(TS ts, PetscReal t, Vec U, Vec Udot, Vec F, void *ctx)
{
  BbdField f = (BbdField)ctx;

  PetscFunctionBeginUser;
  PetscCall(BbdFieldFromTS(f, U, f->Usw));
  PetscCall(BbdFieldFromTS(f, Udot, f->Udsw));
  PetscCall(f->ifunction(ts, t, f->Usw, f->Udsw, f->Fsw, f));
  PetscCall(BbdFieldToTS(f, f->Fsw, F));
  PetscFunctionReturn(0);
}

static PetscErrorCode PCApplyMoved(PC pc, Vec x, Vec y)
{
  BbdField f;

  PetscFunctionBeginUser;
  PetscCall(PCShellGetContext(pc, &f));
  PetscCall(BbdFieldFromTS(f, x, f->Udsw));
  PetscCall(f->pcapply(pc, f->Udsw, f->Fsw));
  PetscCall(BbdFieldToTS(f, f->Fsw, y));
  PetscFunctionReturn(0);
}

/* register a right-hand side, residual or preconditioner written for the width-only layout */
PetscErrorCode BbdFieldSetRHSFunction(BbdField f, TS ts, PetscErrorCode (*rhs)(TS, PetscReal, Vec, Vec, void *))
{
  PetscFunctionBeginUser;
  f->rhs = rhs;
  PetscCall(TSSetRHSFunction(ts, NULL, f->split ? RHSMoved : rhs, f));
  PetscFunctionReturn(0);
}

PetscErrorCode BbdFieldSetIFunction(BbdField f, TS ts, PetscErrorCode (*ifunction)(TS, PetscReal, Vec, Vec, Vec, void *))
{
  PetscFunctionBeginUser;
  f->ifunction = ifunction;
  PetscCall(TSSetIFunction(ts, NULL, f->split ? IFunctionMoved : ifunction, f));
  PetscFunctionReturn(0);
}

PetscErrorCode BbdFieldPCShellSetApply(BbdField f, PC pc, PetscErrorCode (*apply)(PC, Vec, Vec))
{
  PetscFunctionBeginUser;
  f->pcapply = apply;
  PetscCall(PCShellSetApply(pc, f->split ? PCApplyMoved : apply));
  PetscFunctionReturn(0);
}

/* integrate one segment on the TS layout, the state f->U staying in the width-only layout
   (reached: NULL, or where a terminal TS event stopped the solve, BbdTSSolveSegment) */
PetscErrorCode BbdFieldSolveSegment(BbdField f, TS ts, PetscReal t, PetscReal tend, PetscReal dt0, PetscReal *reached)
{
  PetscFunctionBeginUser;
  PetscCall(BbdFieldToTS(f, f->U, f->Uts));
  PetscCall(BbdTSSolveSegment(f->net, ts, f->Uts, t, tend, dt0, reached));
  PetscCall(BbdFieldFromTS(f, f->Uts, f->U));
  PetscFunctionReturn(0);
}
