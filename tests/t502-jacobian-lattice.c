static const char help[] = "t502: the assembled Jacobians of bbd-field's lattice residual formulation (flow:\n\
src/field/fieldjac.c, damped: src/field/fieldjac_damped.c) against central differences of the residual.\n";

/* Every entry of Newton's matrix shift dF/dU' + dF/dU (-bbd_jacobian assembled) against central
   differences of the TS's IFunction (tests/jactest.h: tolerance 1e-7 of each column's largest
   entry, from the difference's eps^(2/3) error), at a state moved from the initial one in every
   unknown. Depth 4 x width 6, flow and damped, mse, ce and kl, periodic and zero-padded width,
   tanh and softplus (sigma'' not odd) and a mixed stack with a frozen moment; on 2 ranks also the
   depth split -da_processors_x 2. Hinge and relu are left out: their kinks make the difference
   meaningless where a point sits on one (tests/e2e field-jacobian covers hinge by
   -snes_test_jacobian). */
#include "jactest.h"

int main(int argc, char **argv)
{
  const char *const losses[] = {"mse", "ce", "kl"};
  const char *const nets[]   = {"-bbd_activation tanh", "-bbd_periodic 0 -bbd_activation softplus",
                                "-bbd_periodic 0 -bbd_kappa 1,0,0.1 -bbd_activation erf,swish,sigmoid,tanh"};
  const char *const layouts2[] = {"", "-da_processors_x 2 -da_processors_y 1"};
  PetscMPIInt       size;
  char              opts[1024];

  PetscCall(PetscInitialize(&argc, &argv, NULL, help));
  PetscCallMPI(MPI_Comm_size(PETSC_COMM_WORLD, &size));
  PetscCall(PetscOptionsHasName(NULL, NULL, "-view", &view));
  for (int d = 0; d < 2; d++)
    for (size_t l = 0; l < 3; l++)
      for (size_t c = 0; c < sizeof(nets) / sizeof(nets[0]); c++)
        for (size_t p = 0; p < (size > 1 ? 2 : 1); p++) {
          PetscCall(PetscSNPrintf(opts, sizeof(opts), "-bbd_quiet -bbd_depth 4 -bbd_width 6 -bbd_formulation residual -bbd_jacobian assembled -bbd_dynamics %s -bbd_gamma 1.5 -bbd_kappa 1,0.5,0.25 -bbd_loss %s %s %s", d ? "damped" : "flow", losses[l], nets[c], layouts2[p]));
          PetscCall(CheckJacobian(opts, 7.3));
        }
  PetscCall(PetscFinalize());
  return nfail ? 1 : 0;
}
