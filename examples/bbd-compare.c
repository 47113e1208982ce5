static const char help[] = "bbd-compare: does the field theory describe trained networks, and how fast do they approach it?\n\
Trains field-family networks of widths N (-bbd_resolutions, default 8,16,32,64; depth M = N unless\n\
the forward-map stability number needs more) by gradient flow from the built-in smooth fields,\n\
integrates the continuum field equations from the same fields on a fine grid (bbd-field, continuum\n\
mode), and prints the relative L2 distances of Z(1,y), z(x,y), each a_j and the loss at tfinal with\n\
the observed convergence order. Writes compare.h5 (-bbd_output), the runs in compare.h5.d/, and PNG\n\
figures beside it (Debian's python3-matplotlib). Every bbd-net and bbd-field option applies.\n\n";

#include <bbd.h>

int main(int argc, char **argv)
{
  PetscBool has_help;

  PetscCall(PetscInitialize(&argc, &argv, NULL, help));
  PetscCall(PetscOptionsHasHelp(NULL, &has_help));
  if (has_help) {
    BbdNet net;
    PetscCall(BbdNetCreate(PETSC_COMM_WORLD, &net));
    PetscCall(BbdNetSetFromOptions(net));
    PetscCall(BbdNetDestroy(&net));
    PetscCall(BbdPrintSolverHelp(PETSC_COMM_WORLD));
  }
  PetscCall(BbdCompareRun(PETSC_COMM_WORLD));
  PetscCall(BbdCheckUnusedOptions(PETSC_COMM_WORLD));
  PetscCall(PetscFinalize());
  return 0;
}
