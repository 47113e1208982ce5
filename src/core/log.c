/* The PETSc log events every layer shares (-log_view): class "Bbd", the BBD diagnostics of a
   saved time (BbdSnapshotCompute or the continuum's own) and the HDF5 output. The field solver
   registers its own events (sweeps, residual, Jacobian, preconditioner) in src/field/rows.c. */
#include <bbdimpl.h>

PetscClassId     BBD_CLASSID;
PetscLogEvent    BBD_Diagnostics, BBD_Output;
static PetscBool BbdLogInitialized = PETSC_FALSE;

static PetscErrorCode BbdLogFinalize(void)
{
  PetscFunctionBeginUser;
  BbdLogInitialized = PETSC_FALSE;
  PetscFunctionReturn(0);
}

/*@ BbdLogInitialize - register the shared class and events once (after PetscInitialize; again
  after a PetscFinalize and a new PetscInitialize). @*/
PetscErrorCode BbdLogInitialize(void)
{
  PetscFunctionBeginUser;
  if (BbdLogInitialized) PetscFunctionReturn(0);
  BbdLogInitialized = PETSC_TRUE;
  PetscCall(PetscClassIdRegister("Bbd", &BBD_CLASSID));
  PetscCall(PetscLogEventRegister("BbdDiagnostics", BBD_CLASSID, &BBD_Diagnostics));
  PetscCall(PetscLogEventRegister("BbdOutput", BBD_CLASSID, &BBD_Output));
  PetscCall(PetscRegisterFinalize(BbdLogFinalize));
  PetscFunctionReturn(0);
}
