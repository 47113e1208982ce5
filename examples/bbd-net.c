static const char help[] = "bbd-net: train a discrete network exactly and record its bulk-boundary decomposition.\n\
Families: dense (an MLP, any widths n0..nM; -bbd_residual for the residual form) and field (moment\n\
fields a_0..a_2 on width N, periodic or zero-padded). Dynamics: sgd (discrete steps), flow (gradient\n\
flow, PETSc TS: any -ts_type), damped (the Lagrangian with damping gamma, PETSc TS). Writes\n\
-bbd_output (HDF5, docs/output.md) with the trajectory and, at every saved time, L, L_bulk,\n\
L_boundary, the per-layer kinetic terms, the energy flux through depth, the dissipation and the\n\
symmetry defect; -bbd_init continues from such a file.\n\
Example: bbd-net -bbd_family field -bbd_depth 16 -bbd_width 16 -bbd_tfinal 1 -bbd_output run.h5\n\
Below: bbd-net's options, then PETSc's general options, then the time stepper's (TS, SNES, KSP, PC).\n\n";

#include <bbd.h>

int main(int argc, char **argv)
{
  BbdNet    net;
  PetscBool has_help;

  BbdHelpHoldPetsc(argc, argv); /* -help: bbd-net's options before PETSc's */
  PetscCall(PetscInitialize(&argc, &argv, NULL, help));
  PetscCall(BbdHelpBegin(PETSC_COMM_WORLD, "bbd-net options"));
  PetscCall(BbdNetCreate(PETSC_COMM_WORLD, &net));
  PetscCall(BbdNetSetFromOptions(net));
  PetscCall(PetscOptionsHasHelp(NULL, &has_help));
  PetscCall(BbdCheckUnusedOptions(PETSC_COMM_WORLD, NULL));
  if (has_help) PetscCall(BbdPrintPetscHelp(PETSC_COMM_WORLD));
  else {
    PetscCall(BbdNetSetUp(net));
    PetscCall(BbdNetRun(net));
  }
  PetscCall(BbdNetDestroy(&net));
  PetscCall(PetscFinalize());
  return 0;
}
