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
  f->continuum         = PETSC_TRUE;
  f->residual          = PETSC_FALSE;
  f->ops->read         = BbdFieldContinuumRead;
  f->ops->dofs         = Dofs;
  f->ops->setup        = BbdFieldContinuumSetUp;
  f->ops->view         = BbdFieldContinuumView;
  f->ops->setts        = SetTS;
  f->ops->begin        = BbdFieldContinuumBegin;
  f->ops->save         = BbdFieldContinuumSave;
  f->ops->switchbatch  = BbdFieldContinuumSwitchBatch;
  f->ops->write        = BbdFieldContinuumWrite;
  f->ops->destroy      = BbdFieldContinuumDestroy;
  PetscFunctionReturn(0);
}
