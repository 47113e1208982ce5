/* The AVX2/FMA column kernels of the lattice flow residual (residual_avx2.c, used by residual.c). */
#ifndef RESIDUAL_AVX2_H
#define RESIDUAL_AVX2_H
#include "fieldimpl.h"

#if defined(__x86_64__) && defined(__GNUC__)
  #define BBD_RESIDUAL_AVX2 1
#endif
/* the windows of the AVX2 kernels, in slots of f->vnx doubles: per column of the five-column window
   sigma, sigma', sigma' z', z' (contiguous in depth), per column of the three-column window beta,
   the moments a_0..a_2 and the rows R_a0..R_a2 (the dofs taken out of the interleaved column once) */
enum {VS = 0, VD = 5, VQ = 10, VZD = 15, VB = 20, VA0 = 23, VA1 = 26, VA2 = 29, VF0 = 32, VF1 = 35, VF2 = 38, VSLOTS = 41};


#if defined(BBD_RESIDUAL_AVX2)
PETSC_INTERN void BbdFieldColumnActivationAVX2(BbdField, const PetscScalar *u, const PetscScalar *ud, PetscInt i) __attribute__((target("avx2,fma")));
PETSC_INTERN void BbdFieldColumnBetaFirstAVX2(BbdField, const PetscScalar *u, const PetscScalar *ud, PetscInt i, PetscScalar *fo) __attribute__((target("avx2,fma")));
PETSC_INTERN void BbdFieldColumnBetaRzAVX2(BbdField, const PetscScalar *u, const PetscScalar *ud, PetscInt i, PetscReal lam, PetscScalar *fo) __attribute__((target("avx2,fma")));
#endif
#endif
