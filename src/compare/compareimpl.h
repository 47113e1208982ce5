/* Private declarations of src/compare: the initial fields bbd-compare starts its runs from
   (a -bbd_init file: a field-family lattice state or a continuum result) and the coarse-graining
   of a dense network (source.c); the comparison itself is compare.c. */
#ifndef COMPAREIMPL_H
#define COMPAREIMPL_H
#include "field/fieldimpl.h"

/* A field-family -bbd_init state, read once: its definition (net), the fields a [P+1][ns][N] and
   b [ns][N] on the depth nodes x_m = m hs, m < ns, and widths y_i = i/N (a lattice state: its
   layers, hs = 1/M; a continuum result: its grid, hs = 1/(nx-1), x = 1 included, with z [ns][N]
   and b derived from z, see FieldSourceBias), and its samples (S = 0: none, the built-in data
   serve) */
typedef struct {
  BbdNet     net;
  PetscBool  cont;
  PetscInt   ns, S;
  PetscReal  hs;
  PetscReal *a, *b, *z, *X, *Y;
} FieldSource;

PETSC_INTERN PetscErrorCode BbdCompareFieldSourceBias(FieldSource *);
PETSC_INTERN PetscErrorCode BbdCompareFieldSourceRead(MPI_Comm, BbdNet, FieldSource *);
PETSC_INTERN PetscErrorCode BbdCompareFieldSourceDestroy(FieldSource *);
PETSC_INTERN PetscErrorCode BbdCompareFieldSourceWrite(MPI_Comm, const FieldSource *, PetscBool copy, PetscInt M, PetscInt N, const char *out);
PETSC_INTERN PetscErrorCode BbdCompareCoarseGrainDense(MPI_Comm, BbdNet, const char *out, PetscReal threshold);
#endif
