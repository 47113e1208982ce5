/* Private structure of the field solver (src/field.c, src/continuum.c). */
#ifndef FIELDIMPL_H
#define FIELDIMPL_H
#include "bbdimpl.h"
#include <petscdmda.h>

struct _p_BbdField {
  MPI_Comm    comm;
  PetscMPIInt size;
  BbdNet      net;
  char        mode[32];
  DM          da, rowda;
  Vec         U, Uloc, rowg, rowl, Zall, Unat, Uall;
  VecScatter  zscat, allscat;
  PetscInt    dof, ys, ym, gys, gym, sample;
  PetscReal  *beta, *gb, *dz, *dzn, *lam;
  PetscReal  *zr, *ar, *S, *D1, *dar; /* the state as width rows (all NX depths), activations, moment rates */
  PetscReal  *zdot, *g1, *g2, *pw;     /* continuum: neuron rates of all depths, stage work */
  PetscBool   continuum, residual; /* continuum mode; lattice: implicit residual formulation */
  Vec         Udotloc, Ulin;       /* residual formulation: ghosted rates, linearisation point */
  PetscReal   shift;
  PetscBool   jac_assembled;       /* residual formulation: assembled analytic Jacobian (fieldjac.c), else matrix-free */
  /* continuum results, kept on rank 0 until the run ends */
  PetscInt    T, Tmax;
  PetscReal  *rt, *rloss, *rz, *ra, *rflux;
};

/* field.c */
PETSC_INTERN PetscErrorCode BbdFieldExchangeRow(BbdField, const PetscReal *own, PetscReal *gh);
PETSC_INTERN PetscErrorCode BbdFieldOutputGradient(BbdField, const PetscReal *Zown, PetscReal *lam);
PETSC_INTERN PetscErrorCode BbdFieldTransposeIn(BbdField, Vec U);
PETSC_INTERN void           BbdFieldRowPhiT(BbdField, PetscInt k, const PetscReal *gv, PetscReal *out);
PETSC_INTERN void           BbdFieldRowPhi(BbdField, PetscInt k, const PetscReal *gu, PetscReal *out);
PETSC_INTERN PetscErrorCode BbdFieldGatherAll(BbdField, const PetscScalar **all); /* restore with VecRestoreArrayRead(f->Uall) */
PETSC_INTERN PetscErrorCode BbdFieldWriteXdmf(BbdField, PetscInt T);
/* fieldjac.c */
PETSC_INTERN PetscErrorCode BbdFieldJacobianCreate(BbdField, Mat *);
PETSC_INTERN PetscErrorCode BbdFieldJacobianAssemble(BbdField, Vec U, Vec Udot, PetscReal shift, Mat);
/* continuum.c */
PETSC_INTERN PetscErrorCode BbdFieldRHSContinuum(TS, PetscReal, Vec, Vec, void *);
PETSC_INTERN PetscErrorCode BbdFieldContinuumInit(BbdField);
PETSC_INTERN PetscErrorCode BbdFieldContinuumRun(BbdField);
#endif
