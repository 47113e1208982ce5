/* Field-solver type lattice_residual (-bbd_mode lattice -bbd_formulation residual): the implicit
   residual form F(U, U') = 0 on the network's lattice (residual.c for flow, residual_damped.c for
   damped dynamics), Newton-Krylov with the sweep preconditioner (implicit.c, sweep.c), and the
   assembled Jacobian on request (fieldjac.c, fieldjac_damped.c). */
#include "fieldimpl.h"

static PetscErrorCode SetUp(BbdField f)
{
  PetscFunctionBeginUser;
  PetscCall(BbdFieldResidualSetUp(f));
  PetscCall(BbdFieldLatticeSetUp(f));
  PetscFunctionReturn(0);
}

static PetscErrorCode View(BbdField f)
{
  PetscFunctionBeginUser;
  PetscCall(BbdFieldLatticeView(f));
  if (!f->damped) PetscCall(PetscPrintf(f->comm, "residual evaluation: %s column kernels\n", f->avx2 ? "AVX2/FMA" : "portable"));
  PetscFunctionReturn(0);
}

static PetscErrorCode SetTS(BbdField f, TS ts, PetscReal *dt0)
{
  PetscFunctionBeginUser;
  PetscCall(f->dyn->residualts(f, ts, dt0));
  PetscFunctionReturn(0);
}

static PetscErrorCode Destroy(BbdField f)
{
  PetscFunctionBeginUser;
  PetscCall(BbdFieldResidualDestroy(f));
  PetscCall(BbdFieldDampedResidualDestroy(f));
  PetscCall(BbdFieldLatticeDestroy(f));
  PetscFunctionReturn(0);
}

PetscErrorCode BbdFieldCreate_LatticeResidual(BbdField f)
{
  PetscFunctionBeginUser;
  BbdFieldLatticeSetOps(f);
  f->residual     = PETSC_TRUE;
  f->ops->setup   = SetUp;
  f->ops->view    = View;
  f->ops->setts   = SetTS;
  f->ops->destroy = Destroy;
  PetscFunctionReturn(0);
}
