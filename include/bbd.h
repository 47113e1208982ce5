/* BBD-Field public API: discrete networks, their training dynamics and the
   bulk-boundary decomposition (docs/theory.md). */
#ifndef BBD_H
#define BBD_H

#include <petscts.h>

#define BBD_VERSION 1
#define BBD_MAX_MOMENTS 3 /* field family: moments a_0..a_P, P = 2 */

typedef enum { BBD_FAMILY_DENSE, BBD_FAMILY_FIELD } BbdFamily;
typedef enum {
  BBD_ACT_TANH,
  BBD_ACT_ERF,
  BBD_ACT_SIGMOID,
  BBD_ACT_SOFTPLUS,
  BBD_ACT_GELU,
  BBD_ACT_SWISH,
  BBD_ACT_SIN,
  BBD_ACT_LINEAR,
  BBD_ACT_RELU
} BbdActivation;
typedef enum { BBD_LOSS_MSE, BBD_LOSS_CE, BBD_LOSS_KL, BBD_LOSS_HINGE } BbdLoss;
typedef enum { BBD_DYN_SGD, BBD_DYN_FLOW, BBD_DYN_DAMPED } BbdDynamics;
typedef enum { BBD_ORDER_CYCLIC, BBD_ORDER_RANDOM } BbdSampleOrder;

PETSC_EXTERN const char *const BbdFamilies[];
PETSC_EXTERN const char *const BbdActivations[];
PETSC_EXTERN const char *const BbdLosses[];
PETSC_EXTERN const char *const BbdDynamicsTypes[];
PETSC_EXTERN const char *const BbdSampleOrders[];

/* ---- activations (src/activation.c) ---- */
/* Parse a name; errors with PETSC_ERR_USER_INPUT naming `what` (an option
   or attribute) if the name is unknown. */
PETSC_EXTERN PetscErrorCode BbdActivationFromString(MPI_Comm, const char *what, const char *name, BbdActivation *);
/* s = sigma(z), d1 = sigma'(z), d2 = sigma''(z) for n values; any output may be NULL. */
PETSC_EXTERN void BbdActivationEval(BbdActivation, PetscInt n, const PetscReal *z, PetscReal *s, PetscReal *d1, PetscReal *d2);
/* d3 = sigma'''(z) for n values (the damped residual's assembled Jacobian, src/fieldjac_damped.c). */
PETSC_EXTERN void BbdActivationEval3(BbdActivation, PetscInt n, const PetscReal *z, PetscReal *d3);

/* ---- losses (src/core/loss.c: one operations table per loss, docs/developing-loss.md) ----
   l(Z, Y) = w * sum_i ell(Z_i, Y_i) with cell weight w (dense: 1; field: dy).
   ce/kl use the softmax density p_i = exp(Z_i) / (w sum_k exp(Z_k)), so Y is
   a density with w sum Y = 1. lam_i = (1/w) dl/dZ_i (gradient per unit width). */
PETSC_EXTERN PetscErrorCode BbdLossFromString(MPI_Comm, const char *what, const char *name, BbdLoss *);
PETSC_EXTERN PetscReal      BbdLossEval(BbdLoss, PetscInt n, PetscReal w, const PetscReal *Z, const PetscReal *Y, PetscReal *lam);
/* Check that a target Y is admissible for the loss (finite; ce/kl: a density,
   hinge: entries +-1). Errors name `what` (e.g. "/data/Y row 3"). */
PETSC_EXTERN PetscErrorCode BbdLossCheckTarget(MPI_Comm, BbdLoss, const char *what, PetscInt n, PetscReal w, const PetscReal *Y);

/* ---- the network (src/net.c) ---- */
typedef struct _p_BbdNet *BbdNet;

PETSC_EXTERN PetscErrorCode BbdNetCreate(MPI_Comm, BbdNet *);
PETSC_EXTERN PetscErrorCode BbdNetSetFromOptions(BbdNet); /* reads -bbd_* (and -bbd_init) */
PETSC_EXTERN PetscErrorCode BbdNetSetUp(BbdNet);          /* allocates, builds data and initial state */
PETSC_EXTERN PetscErrorCode BbdNetDestroy(BbdNet *);
PETSC_EXTERN PetscErrorCode BbdNetView(BbdNet, PetscViewer);
PETSC_EXTERN PetscErrorCode BbdNetRun(BbdNet); /* trains to tfinal, writes -bbd_output */
/* Refuse options with the -bbd_ prefix that nothing read (typos), naming them. */
PETSC_EXTERN PetscErrorCode BbdCheckUnusedOptions(MPI_Comm);
/* Under -help: print the time stepper's options (TS, SNES, KSP, PC). */
PETSC_EXTERN PetscErrorCode BbdPrintSolverHelp(MPI_Comm);

/* ---- the field solver (src/field.c) ---- */
typedef struct _p_BbdField *BbdField;

PETSC_EXTERN PetscErrorCode BbdFieldCreate(MPI_Comm, BbdField *);
PETSC_EXTERN PetscErrorCode BbdFieldSetFromOptions(BbdField); /* -bbd_* and -bbd_mode, -da_grid_x/y */
PETSC_EXTERN PetscErrorCode BbdFieldSetUp(BbdField);
PETSC_EXTERN PetscErrorCode BbdFieldRun(BbdField); /* integrates to tfinal, writes -bbd_output (+ .xdmf) */
PETSC_EXTERN PetscErrorCode BbdFieldDestroy(BbdField *);

/* ---- continuum validation (src/compare.c): networks at several widths against the continuum ---- */
PETSC_EXTERN PetscErrorCode BbdCompareRun(MPI_Comm);

#endif
