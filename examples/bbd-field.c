static const char help[] = "bbd-field: the BBD field equations on a (depth, width) grid with PETSc time-steppers.\n\
Modes (-bbd_mode):\n\
  lattice    the network's own stencils on its lattice, NX = M+1 by NY = N (-bbd_depth, -bbd_width):\n\
             reproduces bbd-net's gradient flow and, with -bbd_dynamics damped, its damped dynamics,\n\
             in the neuron variables z and the moment fields a_j.\n\
  continuum  second-order stencils of the continuum field equations on any grid NX x NY\n\
             (-da_grid_x, -da_grid_y), from the built-in smooth fields or from -bbd_init (a lattice\n\
             state or a continuum result, interpolated onto the grid); not for relu.\n\
Formulations (-bbd_formulation), in either mode and for flow and damped dynamics:\n\
  sweep      explicit right-hand side: one backward and one forward sweep in depth per evaluation\n\
             (any explicit or implicit -ts_type).\n\
  residual   the implicit residual form F(U, U') = 0, Newton-Krylov with the sweeps as preconditioner\n\
             (implicit -ts_type; -bbd_jacobian assembled or mf; continuum: beta an algebraic unknown).\n\
The grid is split across ranks in width (-da_processors_y) and, for the time stepper, in depth\n\
(-da_processors_x). Writes -bbd_output (HDF5, docs/output.md) with /grid and an .xdmf file beside\n\
it for ParaView.\n\
Examples: mpiexec -n 2 bbd-field -bbd_depth 16 -bbd_width 32 -bbd_tfinal 1 -bbd_output f.h5\n\
          bbd-field -bbd_mode continuum -da_grid_x 65 -da_grid_y 64 -bbd_formulation residual -ts_type bdf\n\
Below: bbd-field's options, then PETSc's general options, then the time stepper's (TS, SNES, KSP, PC).\n\n";

#include <bbd.h>

int main(int argc, char **argv)
{
  BbdField  field;
  PetscBool has_help;

  BbdHelpHoldPetsc(argc, argv); /* -help: bbd-field's options before PETSc's */
  PetscCall(PetscInitialize(&argc, &argv, NULL, help));
  PetscCall(BbdHelpBegin(PETSC_COMM_WORLD, "bbd-field options"));
  PetscCall(BbdFieldCreate(PETSC_COMM_WORLD, &field));
  PetscCall(BbdFieldSetFromOptions(field));
  PetscCall(PetscOptionsHasHelp(NULL, &has_help));
  PetscCall(BbdCheckUnusedOptions(PETSC_COMM_WORLD, NULL));
  if (has_help) PetscCall(BbdPrintPetscHelp(PETSC_COMM_WORLD));
  else {
    PetscCall(BbdFieldSetUp(field));
    PetscCall(BbdFieldRun(field));
  }
  PetscCall(BbdFieldDestroy(&field));
  PetscCall(PetscFinalize());
  return 0;
}
