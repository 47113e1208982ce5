/* Private declarations of src/core: interpolation between grids (coarsen.c), the loss's target
   interpolation (loss.c; the loss table itself is in lossimpl.h) and deterministic random numbers
   (rand.c). Included through src/bbdimpl.h. */
#ifndef COREIMPL_H
#define COREIMPL_H
#include <bbd.h>

/* coarsen.c: interpolation of fields between grids (docs/theory.md section 15). Source nodes
   x_m = m hs (m < ns) in depth, y_i = i/N in width; every target that is a source node gets
   that node's value exactly (injection). Weights are dense [nt][ns] matrices. */
PETSC_INTERN PetscErrorCode BbdInterpWeightsCubic(PetscInt ns, PetscReal hs, PetscInt nt, const PetscReal *xt, PetscReal *W); /* cubic Lagrange, one-sided at the ends (extrapolates) */
PETSC_INTERN PetscErrorCode BbdInterpWeightsPeriodic(PetscInt N, PetscInt NY, PetscReal *W); /* trigonometric, y_j = j/NY */
PETSC_INTERN PetscErrorCode BbdInterpWeightsY(PetscInt N, PetscInt NY, PetscBool periodic, PetscReal *W); /* periodic: trigonometric; else cubic */
PETSC_INTERN void           BbdInterpApply(PetscInt nt, PetscInt ns, const PetscReal *W, PetscInt outer, PetscInt inner, const PetscReal *src, PetscReal *dst); /* [outer][ns][inner] -> [outer][nt][inner] */
PETSC_INTERN PetscErrorCode BbdInterpY(PetscInt N, const PetscReal *src, PetscInt NY, PetscBool periodic, PetscReal *dst); /* one row */
PETSC_INTERN PetscErrorCode BbdInterpX(PetscInt ns, PetscReal hs, const PetscReal *src, PetscInt nt, const PetscReal *xt, PetscReal *dst); /* one column */
PETSC_INTERN PetscErrorCode BbdInterpGrid(PetscInt nf, PetscInt ns, PetscReal hs, PetscInt N, const PetscReal *src, PetscInt nt, const PetscReal *xt, PetscInt NY, PetscBool periodic, PetscReal *dst); /* [nf][ns][N] -> [nf][nt][NY] */
PETSC_INTERN PetscErrorCode BbdInterpTargets(BbdLoss, PetscInt N, const PetscReal *src, PetscInt NY, PetscBool periodic, PetscReal *dst); /* loss.c: a target row, kept a valid target of the loss */

/* log.c: the log events every layer shares (-log_view) */
PETSC_INTERN PetscClassId   BBD_CLASSID;
PETSC_INTERN PetscLogEvent  BBD_Diagnostics, BBD_Output;
PETSC_INTERN PetscErrorCode BbdLogInitialize(void);

/* deterministic random numbers from the seed (rank-independent) */
PETSC_INTERN PetscReal BbdRandUniform(unsigned long seed, unsigned long stream, unsigned long k);
PETSC_INTERN PetscReal BbdRandNormal(unsigned long seed, unsigned long stream, unsigned long k);
#endif
