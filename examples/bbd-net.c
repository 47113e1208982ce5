static const char help[] = "bbd-net: train a discrete network exactly and record its bulk-boundary decomposition.\n\
Families: dense (MLP, any widths) and field (moment fields a_0..a_2 on width N, periodic).\n\
Dynamics: sgd (discrete steps), flow (gradient flow, PETSc TS: any -ts_type), damped (the\n\
Lagrangian with damping gamma, PETSc TS). Writes -bbd_output (HDF5, docs/output.md) with the\n\
trajectory and, at every saved time, L, L_bulk, L_boundary, the per-layer kinetic terms,\n\
the energy flux through depth, the dissipation and the symmetry defect.\n\
Example: bbd-net -bbd_family field -bbd_depth 16 -bbd_width 16 -bbd_tfinal 1 -bbd_output run.h5\n\n";

#include <bbd.h>

int main(int argc, char **argv)
{
  BbdNet    net;
  PetscBool has_help;

  PetscCall(PetscInitialize(&argc, &argv, NULL, help));
  PetscCall(BbdNetCreate(PETSC_COMM_WORLD, &net));
  PetscCall(BbdNetSetFromOptions(net));
  PetscCall(PetscOptionsHasHelp(NULL, &has_help));
  PetscCall(BbdCheckUnusedOptions(PETSC_COMM_WORLD));
  if (has_help) PetscCall(BbdPrintSolverHelp(PETSC_COMM_WORLD));
  else {
    PetscCall(BbdNetSetUp(net));
    PetscCall(BbdNetRun(net));
  }
  PetscCall(BbdNetDestroy(&net));
  PetscCall(PetscFinalize());
  return 0;
}
