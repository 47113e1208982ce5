/* Private to continuum mode's residual form: residual_continuum.c (the residual and the
   preconditioner), residual_continuum_jac.c (its Jacobian), continuum_residual.c (the type). */
#ifndef RESIDUAL_CONTINUUM_H
#define RESIDUAL_CONTINUUM_H
#include "fieldimpl.h"

/* D_c s at depth k, owned point j (c = 0..2) */
static inline void Ds(BbdField f, PetscInt k, PetscInt j, PetscReal D[3])
{
  const PetscInt   gym = f->gym, jj = j + f->ys - f->gys;
  const PetscReal  c1 = 0.5 / f->net->dy, c2 = 1.0 / (f->net->dy * f->net->dy), *s = f->S + k * gym;

  D[0] = s[jj];
  D[1] = c1 * (s[jj + 1] - s[jj - 1]);
  D[2] = c2 * (s[jj + 1] - 2 * s[jj] + s[jj - 1]);
}

/* the right-hand side of a tangent-type sweep at depth k (owned rows) */
typedef PetscErrorCode (*BbdFieldCRTangentFn)(BbdField, PetscInt, const PetscReal *, PetscReal *);

/* residual_continuum.c */
PETSC_INTERN PetscErrorCode BbdFieldCRReadBeta(BbdField, Vec U);
PETSC_INTERN PetscErrorCode BbdFieldCRBetaRows(BbdField, const PetscReal *b, const PetscReal *lam, PetscReal *out);
PETSC_INTERN PetscErrorCode BbdFieldCRTangentRows(BbdField, BbdFieldCRTangentFn, const PetscReal *w, PetscReal *out);
PETSC_INTERN PetscErrorCode BbdFieldCRIFunction(TS, PetscReal, Vec U, Vec Udot, Vec F, void *);
PETSC_INTERN PetscErrorCode BbdFieldCRPCApply(PC, Vec, Vec);
/* residual_continuum_jac.c */
PETSC_INTERN PetscErrorCode BbdFieldCRJacCreate(BbdField);
PETSC_INTERN PetscErrorCode BbdFieldCRIJacobian(TS, PetscReal, Vec U, Vec Udot, PetscReal shift, Mat, Mat, void *);
#endif
