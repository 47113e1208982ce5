static const char help[] = "t503: the assembled Jacobians of bbd-field's continuum residual form (flow and damped,\n\
src/field/residual_continuum.c) against central differences of the residual.\n";

/* Every entry of Newton's matrix shift dF/dU' + dF/dU (-bbd_jacobian assembled: exact directional
   derivatives, coloured) against central differences of the TS's IFunction (tests/jactest.h:
   1e-7 of each column's largest entry), at a state moved from the consistent initial one in every
   unknown (beta included). Grid 5 x 6 (depth x width), flow and damped, mse and ce, periodic and
   zero-padded width; on 2 ranks also the depth split -da_processors_x 2. */
#include "jactest.h"

int main(int argc, char **argv)
{
  const char *const losses[]   = {"mse", "ce"};
  const char *const layouts2[] = {"", "-da_processors_x 2 -da_processors_y 1"};
  PetscMPIInt       size;
  char              opts[1024];

  PetscCall(PetscInitialize(&argc, &argv, NULL, help));
  PetscCallMPI(MPI_Comm_size(PETSC_COMM_WORLD, &size));
  PetscCall(PetscOptionsHasName(NULL, NULL, "-view", &view));
  for (int d = 0; d < 2; d++)
    for (size_t l = 0; l < 2; l++)
      for (int per = 0; per < 2; per++)
        for (size_t p = 0; p < (size > 1 ? 2 : 1); p++) {
          PetscCall(PetscSNPrintf(opts, sizeof(opts), "-bbd_quiet -bbd_mode continuum -da_grid_x 5 -da_grid_y 6 -bbd_formulation residual -bbd_jacobian assembled -bbd_dynamics %s -bbd_gamma 1.5 -bbd_loss %s -bbd_periodic %d %s", d ? "damped" : "flow", losses[l], per, layouts2[p]));
          PetscCall(CheckJacobian(opts, 7.3));
        }
  PetscCall(PetscFinalize());
  return nfail ? 1 : 0;
}
