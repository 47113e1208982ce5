static const char help[] = "bbd-field: the BBD field equations on a (depth, width) grid with PETSc time-steppers.\n\
Lattice mode: the network's own stencils on its lattice (reproduces bbd-net's gradient flow, and\n\
with -bbd_dynamics damped its damped dynamics, in the neuron variables z and the moment fields\n\
a_j). Explicit sweep formulation (one backward and one forward sweep in depth per evaluation),\n\
the grid split across ranks in width. Writes -bbd_output (HDF5, docs/output.md) with /grid and an .xdmf\n\
file beside it for ParaView.\n\
Example: mpiexec -n 2 bbd-field -bbd_depth 16 -bbd_width 32 -bbd_tfinal 1 -bbd_output f.h5\n\n";

#include <bbd.h>

int main(int argc, char **argv)
{
  BbdField  field;
  PetscBool has_help;

  PetscCall(PetscInitialize(&argc, &argv, NULL, help));
  PetscCall(BbdFieldCreate(PETSC_COMM_WORLD, &field));
  PetscCall(BbdFieldSetFromOptions(field));
  PetscCall(PetscOptionsHasHelp(NULL, &has_help));
  PetscCall(BbdCheckUnusedOptions(PETSC_COMM_WORLD));
  if (has_help) PetscCall(BbdPrintSolverHelp(PETSC_COMM_WORLD));
  else {
    PetscCall(BbdFieldSetUp(field));
    PetscCall(BbdFieldRun(field));
  }
  PetscCall(BbdFieldDestroy(&field));
  PetscCall(PetscFinalize());
  return 0;
}
