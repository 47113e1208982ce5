static const char help[] = "bbd-compare: does the field theory describe trained networks, and how fast do they approach it?\n\
Trains field-family networks of widths N (-bbd_resolutions, default 8,16,32,64; depth M = N unless\n\
the forward-map stability number needs more) by gradient flow from the built-in smooth fields,\n\
integrates the continuum field equations from the same fields on a fine grid (bbd-field, continuum\n\
mode), and prints the relative L2 distances of Z(1,y), z(x,y), each a_j and the loss at tfinal with\n\
the observed convergence order. With -bbd_init of a field-family state (a lattice state of any\n\
resolution or a continuum result) its fields start every run; with a dense state, its weights are\n\
coarse-grained onto the (depth, width) grid instead and the locality remainder says whether a\n\
continuum description applies. Writes compare.h5 (-bbd_output), the runs in compare.h5.d/, and PNG\n\
figures beside it (a separate python3 process, Debian's python3-matplotlib; a note if it cannot run).\n\
Below: bbd-compare's options, the options of its runs, then PETSc's general options, then the time\n\
stepper's (TS, SNES, KSP, PC).\n\n";

#include <bbd.h>

int main(int argc, char **argv)
{
  PetscBool has_help;

  BbdHelpHoldPetsc(argc, argv); /* -help: bbd-compare's options before PETSc's */
  PetscCall(PetscInitialize(&argc, &argv, NULL, help));
  PetscCall(BbdHelpBegin(PETSC_COMM_WORLD, "bbd-compare options"));
  PetscCall(BbdCompareRun(PETSC_COMM_WORLD)); /* under -help: lists its options and its runs' */
  PetscCall(PetscOptionsHasHelp(NULL, &has_help));
  if (has_help) PetscCall(BbdPrintPetscHelp(PETSC_COMM_WORLD));
  PetscCall(BbdCheckUnusedOptions(PETSC_COMM_WORLD, NULL));
  PetscCall(PetscFinalize());
  return 0;
}
