/* Field-solver type lattice_sweep (-bbd_mode lattice -bbd_formulation sweep): the network's own
   stencils on its lattice, the explicit right-hand side of the exact sweeps (sweep.c) for any
   explicit or implicit -ts_type. */
#include "fieldimpl.h"

static PetscErrorCode SetTS(BbdField f, TS ts, PetscReal *dt0)
{
  PetscFunctionBeginUser;
  PetscCall(BbdFieldSetRHSFunction(f, ts, f->dyn->rhs));
  PetscCall(BbdTSConfigure(f->net, ts, dt0));
  PetscFunctionReturn(0);
}

PetscErrorCode BbdFieldCreate_LatticeSweep(BbdField f)
{
  PetscFunctionBeginUser;
  BbdFieldLatticeSetOps(f);
  f->residual   = PETSC_FALSE;
  f->ops->setts = SetTS;
  PetscFunctionReturn(0);
}
