/* Shared helpers of the field-solver unit tests (tests/t5*.c).

   The tests see the solver through the PETSc objects it configures: the TS of a run (its
   IFunction F(U, U'), its IJacobian, the PC of its SNES's KSP), on the TS's own DMDA layout.
   Everything that touches the solver's internals (src/field/fieldimpl.h) is in the adapter
   section right below, three functions: when the solver is restructured, only they change. */
#ifndef FIELDTEST_H
#define FIELDTEST_H
#include "bbdtest.h"

/* ---- adapter: the only uses of src/field's internals ---- */
#include "field/fieldimpl.h"

/* the time stepper BbdFieldRun would integrate with, configured from the options, not started */
static inline PetscErrorCode FTAdapterCreateTS(BbdField f, TS *ts)
{
  PetscReal dt0;

  PetscFunctionBeginUser;
  PetscCall(BbdFieldCreateTS(f, ts, &dt0));
  PetscFunctionReturn(0);
}

/* the solver's current (initial) state, copied into U, a vector of the TS's DM; continuum mode's
   residual form: with its algebraic beta made consistent first, as a run starts */
static inline PetscErrorCode FTAdapterState(BbdField f, Vec U)
{
  PetscFunctionBeginUser;
  if (f->continuum && f->residual) PetscCall(BbdFieldContinuumResidualConsistent(f, f->U));
  PetscCall(BbdFieldToTS(f, f->U, U));
  PetscFunctionReturn(0);
}
/* ---- end of the adapter ---- */

typedef struct {
  BbdField f;
  TS       ts;
  DM       dm;   /* the TS's grid: (depth, width) DMDA with dof unknowns per point */
  Mat      A, B; /* Newton's operator and the matrix its preconditioner is built from */
  PC       pc;
  PetscInt dof, n; /* unknowns per point, in all */
} FieldTest;

/* The field solver configured by `opts` (PETSc option syntax, as on bbd-field's command line),
   set up, and the TS of its run. */
static inline PetscErrorCode FieldTestCreate(const char *opts, FieldTest *t)
{
  SNES snes;
  KSP  ksp;

  PetscFunctionBeginUser;
  PetscCall(PetscMemzero(t, sizeof(*t)));
  PetscCall(PetscOptionsClear(NULL));
  PetscCall(PetscOptionsInsertString(NULL, opts));
  PetscCall(BbdFieldCreate(PETSC_COMM_WORLD, &t->f));
  PetscCall(BbdFieldSetFromOptions(t->f));
  PetscCall(BbdFieldSetUp(t->f));
  PetscCall(FTAdapterCreateTS(t->f, &t->ts));
  PetscCall(TSGetDM(t->ts, &t->dm));
  PetscCall(DMDAGetInfo(t->dm, NULL, NULL, NULL, NULL, NULL, NULL, NULL, &t->dof, NULL, NULL, NULL, NULL, NULL));
  PetscCall(TSGetIJacobian(t->ts, &t->A, &t->B, NULL, NULL));
  PetscCall(TSGetSNES(t->ts, &snes));
  PetscCall(SNESGetKSP(snes, &ksp));
  PetscCall(KSPGetPC(ksp, &t->pc));
  PetscFunctionReturn(0);
}

static inline PetscErrorCode FieldTestDestroy(FieldTest *t)
{
  PetscFunctionBeginUser;
  PetscCall(TSDestroy(&t->ts));
  PetscCall(BbdFieldDestroy(&t->f));
  PetscCall(PetscOptionsClear(NULL));
  PetscFunctionReturn(0);
}

/* a vector of the TS's grid with entries uniform in [-1, 1) (its own seeded generator: the same
   numbers on every run) */
static inline PetscErrorCode FieldTestRandom(FieldTest *t, unsigned long seed, Vec *v)
{
  PetscRandom r;

  PetscFunctionBeginUser;
  PetscCall(DMCreateGlobalVector(t->dm, v));
  PetscCall(PetscRandomCreate(PETSC_COMM_WORLD, &r));
  PetscCall(PetscRandomSetInterval(r, -1, 1));
  PetscCall(PetscRandomSetSeed(r, seed));
  PetscCall(PetscRandomSeed(r));
  PetscCall(VecSetRandom(*v, r));
  PetscCall(PetscRandomDestroy(&r));
  PetscFunctionReturn(0);
}

/* U: the solver's initial state moved by `noise` times uniform [-1, 1) numbers in every unknown
   (velocities, moments, the input row and the unused rows included), so that no term of the
   residual vanishes by a special state */
static inline PetscErrorCode FieldTestState(FieldTest *t, PetscReal noise, unsigned long seed, Vec *U)
{
  Vec r;

  PetscFunctionBeginUser;
  PetscCall(DMCreateGlobalVector(t->dm, U));
  PetscCall(FTAdapterState(t->f, *U));
  PetscCall(FieldTestRandom(t, seed, &r));
  PetscCall(VecAXPY(*U, noise, r));
  PetscCall(VecDestroy(&r));
  PetscCall(VecGetSize(*U, &t->n));
  PetscFunctionReturn(0);
}

/* F = F(U, U'), the residual of the implicit formulation (the TS's IFunction) */
static inline PetscErrorCode FieldTestResidual(FieldTest *t, Vec U, Vec Udot, Vec F)
{
  PetscFunctionBeginUser;
  PetscCall(TSComputeIFunction(t->ts, 0, U, Udot, F, PETSC_FALSE));
  PetscFunctionReturn(0);
}

/* Newton's matrix shift dF/dU' + dF/dU at (U, U') (the TS's IJacobian; this also sets the
   preconditioner's linearisation point and shift, as in a Newton step), and the PC built on it.
   The SNES is given U as its solution first: the matrix-free operator takes its base point from
   there when it is assembled (inside a solve the SNES has one). */
static inline PetscErrorCode FieldTestJacobian(FieldTest *t, Vec U, Vec Udot, PetscReal shift)
{
  SNES snes;

  PetscFunctionBeginUser;
  PetscCall(TSGetSNES(t->ts, &snes));
  PetscCall(SNESSetSolution(snes, U));
  PetscCall(TSComputeIJacobian(t->ts, 0, U, Udot, shift, t->A, t->B, PETSC_FALSE));
  PetscCall(PCSetOperators(t->pc, t->A, t->B));
  PetscCall(PCSetUp(t->pc));
  PetscFunctionReturn(0);
}

/* the largest |a_i - b_i| and |b_i| over all ranks */
static inline PetscErrorCode FieldTestDiff(Vec a, Vec b, PetscReal *diff, PetscReal *scale)
{
  Vec d;

  PetscFunctionBeginUser;
  PetscCall(VecDuplicate(a, &d));
  PetscCall(VecWAXPY(d, -1, b, a));
  PetscCall(VecNorm(d, NORM_INFINITY, diff));
  PetscCall(VecNorm(b, NORM_INFINITY, scale));
  PetscCall(VecDestroy(&d));
  PetscFunctionReturn(0);
}

#endif
