/* Private structure of the field solver (src/field.c, src/continuum.c). */
#ifndef FIELDIMPL_H
#define FIELDIMPL_H
#include "bbdimpl.h"
#include <petscdmda.h>

struct _p_BbdField {
  MPI_Comm    comm;
  PetscMPIInt size, left, right; /* ranks; width neighbours of the row exchange */
  BbdNet      net;
  char        mode[32];
  DM          da, rowda;
  Vec         U, Uloc, rowg, Zall, Unat, Uall;
  VecScatter  zscat, allscat;
  PetscInt    dof, ys, ym, gys, gym, sample;
  PetscReal  *beta, *gb, *dz, *dzn, *lam;
  PetscReal  *zr, *ar, *S, *D1, *dar; /* the state as width rows (all NX depths), activations, moment rates */
  PetscReal  *zdot, *g1, *g2, *pw;     /* continuum: neuron rates of all depths, stage work */
  PetscBool   continuum, residual; /* continuum mode; lattice: implicit residual formulation */
  PetscBool   damped;              /* lattice: damped dynamics, velocity dofs z_dot, a_j_dot after z, a_j */
  PetscReal  *zdr, *adr, *D2, *u1; /* damped: velocity rows (all NX depths, ghosted), sigma'', a ghosted row */
  Vec         Ulin;                /* residual formulation: the linearisation point */
  PetscReal   shift;
  /* fieldts.c: the TS layout (-da_processors_x > 1: split moves vectors to the width-only f->da) */
  DM          dats;
  PetscBool   split;
  Vec         Uts, Usw, Udsw, Fsw;
  VecScatter  tscat;
  PetscErrorCode (*rhs)(TS, PetscReal, Vec, Vec, void *);
  PetscErrorCode (*ifunction)(TS, PetscReal, Vec, Vec, Vec, void *);
  PetscErrorCode (*pcapply)(PC, Vec, Vec);
  /* residual.c: the one-pass residual (window of columns; two ghost columns on several ranks) */
  DM          da2;
  Vec         U2loc, Ud2loc;
  PetscInt    gys2, gym2;
  PetscReal  *wS, *wD, *wQ, *wB, *zcol, *zerocol, ik[3], fr[3];
  PetscBool   oneact;
  PetscBool   avx2;                /* residual.c: the AVX2/FMA column kernels (-bbd_residual_avx2; tanh, P = 2, flow) */
  PetscReal  *vbuf, *vw;           /* their windows (vw: vbuf aligned to 32 bytes), slots of vnx doubles */
  PetscInt    vnx;
  PetscBool   jac_assembled;       /* residual formulation: assembled analytic Jacobian (fieldjac.c), else matrix-free */
  /* residual_damped.c: window of s' v, a column of sigma'', the preconditioner's work vectors */
  PetscReal  *wP, *wC;
  Vec         psrc, pout;
  /* continuum results, kept on rank 0 until the run ends */
  PetscInt    T, Tmax;
  PetscReal  *rt, *rloss, *rz, *ra, *rflux, *rdiss;
  PetscReal  *rzd, *rad;     /* continuum damped: the velocities z_dot, a_dot of the saved times */
  PetscReal  *cR, *cP;       /* continuum damped: the tangent sweep's sources, the power density beta b_t + sum_j a_j_t beta D_j s */
  /* continuum mode from -bbd_init: the file's kind and grid, its fields on this grid */
  PetscBool   src_continuum; /* a continuum result (z, a on nx x ny points); else a lattice state (a, b on M x N) */
  PetscInt    src_nx, src_ny; /* continuum: the file's grid; lattice: its M layers and width N */
  PetscReal  *iz, *ia, *ib;   /* [NX][NY], [NX][P+1][NY], [NX][NY] */
  PetscReal  *izd, *iad, *ibd; /* damped from a state with velocities: z_dot [NX][NY] (a lattice state: the tangent pass), a_dot [NX][P+1][NY], b_dot [NX][NY] (lattice) (else NULL: at rest) */
};

/* field.c */
PETSC_INTERN PetscErrorCode BbdFieldExchangeRow(BbdField, const PetscReal *own, PetscReal *gh);
PETSC_INTERN PetscErrorCode BbdFieldOutputGradient(BbdField, const PetscReal *Zown, PetscReal *lam);
PETSC_INTERN PetscErrorCode BbdFieldTransposeIn(BbdField, Vec U);
PETSC_INTERN void           BbdFieldRowPhiT(BbdField, PetscInt k, const PetscReal *gv, PetscReal *out);
PETSC_INTERN void           BbdFieldRowPhi(BbdField, PetscInt k, const PetscReal *gu, PetscReal *out);
PETSC_INTERN PetscErrorCode BbdFieldGatherAll(BbdField, const PetscScalar **all); /* restore with VecRestoreArrayRead(f->Uall) */
PETSC_INTERN PetscErrorCode BbdFieldWriteXdmf(BbdField, PetscInt T);
/* residual.c: the one-pass residual, shared by flow and damped (residual_damped.c) */
typedef void (*BbdColumnAct)(BbdField, const PetscScalar *u, const PetscScalar *ud, PetscInt i);
typedef void (*BbdColumnMid)(BbdField, const PetscScalar *u, const PetscScalar *ud, PetscInt i, PetscScalar *fo);
typedef void (*BbdColumnLast)(BbdField, const PetscScalar *u, PetscInt i, PetscReal lam, PetscScalar *fo);
PETSC_INTERN void           BbdFieldColumnSigma(BbdField, const PetscScalar *col, PetscReal *S, PetscReal *D, PetscReal *D2);
PETSC_INTERN PetscErrorCode BbdFieldResidualPass(BbdField, Vec U, Vec Udot, Vec F, BbdColumnAct, BbdColumnMid, BbdColumnLast);
/* width index i inside the grid (every index is, periodic) */
static inline PetscBool BbdFieldInside(BbdField f, PetscInt i)
{
  return (PetscBool)(f->net->periodic || (i >= 0 && i < f->net->n[0]));
}

/* the column of width index i (owned or ghost) of the residual's arrays (residual.c) */
static inline const PetscScalar *BbdFieldCol(BbdField f, const PetscScalar *base, PetscInt i)
{
  const PetscInt N = f->net->n[0], stride = (f->net->M + 1) * f->dof;

  if (f->size > 1) return base + (i - f->gys2) * stride;
  if (!BbdFieldInside(f, i)) return f->zerocol;
  return base + ((i + N) % N) * stride;
}

/* the slot of column i in a window of n columns */
static inline PetscInt BbdFieldSlot(PetscInt i, PetscInt n)
{
  return ((i % n) + n) % n;
}

/* fieldts.c */
PETSC_INTERN PetscErrorCode BbdFieldLayoutSetUp(BbdField, PetscInt NX, PetscInt NY, DMBoundaryType);
PETSC_INTERN PetscErrorCode BbdFieldLayoutVectors(BbdField);
PETSC_INTERN PetscErrorCode BbdFieldLayoutDestroy(BbdField);
PETSC_INTERN PetscErrorCode BbdFieldFromTS(BbdField, Vec ts, Vec sw);
PETSC_INTERN PetscErrorCode BbdFieldToTS(BbdField, Vec sw, Vec ts);
PETSC_INTERN PetscErrorCode BbdFieldSetRHSFunction(BbdField, TS, PetscErrorCode (*)(TS, PetscReal, Vec, Vec, void *));
PETSC_INTERN PetscErrorCode BbdFieldSetIFunction(BbdField, TS, PetscErrorCode (*)(TS, PetscReal, Vec, Vec, Vec, void *));
PETSC_INTERN PetscErrorCode BbdFieldPCShellSetApply(BbdField, PC, PetscErrorCode (*)(PC, Vec, Vec));
PETSC_INTERN PetscErrorCode BbdFieldSolveSegment(BbdField, TS, PetscReal t, PetscReal tend, PetscReal dt0);
PETSC_INTERN PetscErrorCode BbdFieldSweepSources(BbdField, Vec src, Vec out); /* out = G(U)^-1 src, U last transposed in */
/* residual.c */
PETSC_INTERN PetscErrorCode BbdFieldResidualSetUp(BbdField);
PETSC_INTERN PetscErrorCode BbdFieldResidualDestroy(BbdField);
PETSC_INTERN PetscErrorCode BbdFieldIFunction(TS, PetscReal, Vec, Vec, Vec, void *);
/* fieldjac.c */
PETSC_INTERN PetscErrorCode BbdFieldJacobianCreate(BbdField, Mat *);
PETSC_INTERN PetscErrorCode BbdFieldJacobianAssemble(BbdField, Vec U, Vec Udot, PetscReal shift, Mat);
/* residual_damped.c */
PETSC_INTERN PetscErrorCode BbdFieldDampedResidualSetTS(BbdField, TS, PetscReal *dt0);
PETSC_INTERN PetscErrorCode BbdFieldDampedResidualDestroy(BbdField);
/* continuum.c */
PETSC_INTERN PetscErrorCode BbdFieldRHSContinuum(TS, PetscReal, Vec, Vec, void *);
PETSC_INTERN PetscErrorCode BbdFieldContinuumInit(BbdField);
PETSC_INTERN PetscErrorCode BbdFieldContinuumRead(BbdField); /* -bbd_init onto the grid (before BbdNetSetUp) */
PETSC_INTERN PetscErrorCode BbdFieldContinuumRun(BbdField);
#endif
