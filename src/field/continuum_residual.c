/* The time stepper of continuum mode in residual form (residual_continuum.c). */
#include "residual_continuum.h"

/* the TS of continuum mode in residual form: BbdFieldCRIFunction, matrix-free Newton with the sweep
   preconditioner, default beuler; error control ignores the algebraic beta */
PetscErrorCode BbdFieldContinuumResidualSetTS(BbdField f, TS ts, PetscReal *dt0)
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
  PetscFunctionReturn(0);
}
