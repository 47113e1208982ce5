/* Field-solver type continuum_residual (-bbd_mode continuum -bbd_formulation residual): continuum
   mode's discrete equations as an implicit residual with beta an algebraic unknown
   (residual_continuum.c), Newton-Krylov with the sweeps as preconditioner, and the exact
   Jacobian assembled by colouring on request (residual_continuum_jac.c). */
#include "residual_continuum.h"

/* the TS of continuum mode in residual form: BbdFieldCRIFunction, matrix-free Newton with the sweep
   preconditioner, default beuler; error control ignores the algebraic beta */
static PetscErrorCode SetTS(BbdField f, TS ts, PetscReal *dt0)
{
  BbdNet          net = f->net;
  const PetscInt  NX = net->M + 1, ym = f->ym, B = f->dof - 1;
  PetscReal       atol, rtol;
  Vec             va, vr;
  PetscScalar  ***a, ***r;
  PetscInt        xs, xm, ys, ymt;

  PetscFunctionBeginUser;
  PetscCall(PetscMalloc3(5 * ym, &f->rc, f->gym, &f->rg, 2 * NX * ym, &f->rrows));
  if (f->jac_assembled) PetscCall(BbdFieldCRJacCreate(f));
  PetscCall(BbdFieldResidualSolver(f, ts, BbdFieldCRIFunction, BbdFieldCRIJacobian, BbdFieldCRPCApply, "BBD continuum sweeps: exact inverse of the residual's linear part", dt0));
  /* beta is algebraic: its "local error" is the change of the adjoint and must not steer the step size */
  PetscCall(TSGetTolerances(ts, &atol, NULL, &rtol, NULL));
  PetscCall(DMCreateGlobalVector(f->dats, &va));
  PetscCall(VecDuplicate(va, &vr));
  PetscCall(DMDAGetCorners(f->dats, &xs, &ys, NULL, &xm, &ymt, NULL));
  PetscCall(DMDAVecGetArrayDOF(f->dats, va, &a));
  PetscCall(DMDAVecGetArrayDOF(f->dats, vr, &r));
  for (PetscInt j = ys; j < ys + ymt; j++)
    for (PetscInt k = xs; k < xs + xm; k++)
      for (PetscInt c = 0; c < f->dof; c++) {
        a[j][k][c] = c == B ? 1e100 : atol;
        r[j][k][c] = c == B ? 1e100 : rtol;
      }
  PetscCall(DMDAVecRestoreArrayDOF(f->dats, va, &a));
  PetscCall(DMDAVecRestoreArrayDOF(f->dats, vr, &r));
  PetscCall(TSSetTolerances(ts, atol, va, rtol, vr));
  PetscCall(VecDestroy(&va));
  PetscCall(VecDestroy(&vr));
  PetscCall(BbdFieldContinuumResidualConsistent(f, f->U)); /* beta of the initial state */
  PetscFunctionReturn(0);
}

static PetscErrorCode Dofs(BbdField f)
{
  PetscFunctionBeginUser;
  if (f->net->sample_dt > 0) f->bi = f->dof++; /* with sample switching: b carried along (continuum.c) */
  f->betai = f->dof++;                         /* beta, algebraic, last */
  PetscFunctionReturn(0);
}

/* beta afresh from the state at every segment start, as a restart computes it (the file has no
   beta), so that restarts continue bitwise; the Newton-solved beta differs from it by the Newton
   tolerance and only seeds the first Newton iterate */
static PetscErrorCode Segment(BbdField f)
{
  PetscFunctionBeginUser;
  PetscCall(BbdFieldContinuumResidualConsistent(f, f->U));
  PetscFunctionReturn(0);
}

/* a switch: z (and z_dot) jump, then beta is the new state's */
static PetscErrorCode SwitchBatch(BbdField f, PetscInt k)
{
  const PetscInt sample = f->sample;

  PetscFunctionBeginUser;
  PetscCall(BbdFieldContinuumSwitchBatch(f, k));
  if (f->sample != sample) PetscCall(BbdFieldContinuumResidualConsistent(f, f->U));
  PetscFunctionReturn(0);
}

static PetscErrorCode Destroy(BbdField f)
{
  PetscFunctionBeginUser;
  PetscCall(PetscFree3(f->rc, f->rg, f->rrows));
  PetscCall(BbdFieldContinuumResidualDestroy(f));
  PetscCall(BbdFieldContinuumDestroy(f));
  PetscFunctionReturn(0);
}

PetscErrorCode BbdFieldCreate_ContinuumResidual(BbdField f)
{
  PetscFunctionBeginUser;
  BbdFieldContinuumSetOps(f);
  f->residual          = PETSC_TRUE;
  f->ops->dofs         = Dofs;
  f->ops->setts        = SetTS;
  f->ops->segment      = Segment;
  f->ops->switchbatch  = SwitchBatch;
  f->ops->destroy      = Destroy;
  PetscFunctionReturn(0);
}
