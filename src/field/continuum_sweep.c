/* Field-solver type continuum_sweep (-bbd_mode continuum -bbd_formulation sweep): second-order
   stencils on any grid, the explicit right-hand side of the Heun sweeps (continuum.c). */
#include "fieldimpl.h"

static PetscErrorCode Dofs(BbdField f)
{
  PetscFunctionBeginUser;
  if (f->net->sample_dt > 0) f->bi = f->dof++; /* with sample switching: b carried along (continuum.c) */
  PetscFunctionReturn(0);
}

static PetscErrorCode SetTS(BbdField f, TS ts, PetscReal *dt0)
{
  PetscFunctionBeginUser;
  PetscCall(BbdFieldSetRHSFunction(f, ts, BbdFieldRHSContinuum));
  PetscCall(BbdTSConfigure(f->net, ts, dt0));
  PetscFunctionReturn(0);
}

PetscErrorCode BbdFieldCreate_ContinuumSweep(BbdField f)
{
  PetscFunctionBeginUser;
  BbdFieldContinuumSetOps(f);
  f->residual   = PETSC_FALSE;
  f->ops->dofs  = Dofs;
  f->ops->setts = SetTS;
  PetscFunctionReturn(0);
}
