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

/* ---- the network (src/net/net.c) ----
   Configuration. A BbdNet reads its options from the PetscOptions database it is given
   (BbdNetSetOptions; default NULL, the global database) under its prefix (BbdNetSetOptionsPrefix:
   -<prefix>bbd_depth ...); its time steppers (TS, SNES, KSP, PC) read the same database under the
   same prefix. The setters below configure a run without options. The rule is PETSc's:
     - called BEFORE BbdNetSetFromOptions, a setter gives the default that SetFromOptions starts
       from, so an option in the database wins over it;
     - called AFTER BbdNetSetFromOptions (and before BbdNetSetUp), a run setter (dynamics, eta,
       gamma, tfinal, output_dt, sample_dt, batch, seed, output file, quiet) replaces what the
       options gave; the definition setters (family, depth, width, widths, activation, loss, kappa,
       periodic, init file) are refused there (the definition was built and checked against
       -bbd_init by SetFromOptions).
   A -bbd_init file, read by SetFromOptions, defines the network: it replaces the definition
   setters' values (and supplies its stored dynamics and gamma); an option that contradicts it is
   an error. */
typedef struct _p_BbdNet *BbdNet;

PETSC_EXTERN PetscErrorCode BbdNetCreate(MPI_Comm, BbdNet *);
/* The database the net reads (NULL: the global one). The caller keeps it alive until the net is
   destroyed. Before BbdNetSetFromOptions. */
PETSC_EXTERN PetscErrorCode BbdNetSetOptions(BbdNet, PetscOptions);
/* The prefix of every option the net and its time steppers read (NULL: none). Before BbdNetSetFromOptions. */
PETSC_EXTERN PetscErrorCode BbdNetSetOptionsPrefix(BbdNet, const char prefix[]);
PETSC_EXTERN PetscErrorCode BbdNetSetFromOptions(BbdNet); /* reads -bbd_* (and -bbd_init) */
PETSC_EXTERN PetscErrorCode BbdNetSetUp(BbdNet);          /* allocates, builds data and initial state */
PETSC_EXTERN PetscErrorCode BbdNetDestroy(BbdNet *);
PETSC_EXTERN PetscErrorCode BbdNetView(BbdNet, PetscViewer);
PETSC_EXTERN PetscErrorCode BbdNetRun(BbdNet); /* trains to tfinal, writes -bbd_output */
/* Definition setters (the option each mirrors; before SetFromOptions only). */
PETSC_EXTERN PetscErrorCode BbdNetSetFamily(BbdNet, BbdFamily);                    /* -bbd_family */
PETSC_EXTERN PetscErrorCode BbdNetSetDepth(BbdNet, PetscInt M);                    /* -bbd_depth: weight layers */
PETSC_EXTERN PetscErrorCode BbdNetSetWidth(BbdNet, PetscInt N);                    /* -bbd_width */
PETSC_EXTERN PetscErrorCode BbdNetSetWidths(BbdNet, PetscInt n, const PetscInt w[]); /* -bbd_widths: dense, n = M+1 widths */
PETSC_EXTERN PetscErrorCode BbdNetSetActivation(BbdNet, BbdActivation);           /* -bbd_activation: every layer */
PETSC_EXTERN PetscErrorCode BbdNetSetLoss(BbdNet, BbdLoss);                       /* -bbd_loss */
PETSC_EXTERN PetscErrorCode BbdNetSetKappa(BbdNet, PetscInt n, const PetscReal k[]); /* -bbd_kappa: field, n = 3 mobilities */
PETSC_EXTERN PetscErrorCode BbdNetSetPeriodic(BbdNet, PetscBool);                 /* -bbd_periodic: field */
PETSC_EXTERN PetscErrorCode BbdNetSetInitFile(BbdNet, const char file[]);        /* -bbd_init */
/* Run setters (before SetFromOptions: defaults; after it, before SetUp: they replace the options' values). */
PETSC_EXTERN PetscErrorCode BbdNetSetDynamics(BbdNet, BbdDynamics); /* -bbd_dynamics (sgd: tfinal 100, output_dt 10 unless set) */
PETSC_EXTERN PetscErrorCode BbdNetSetEta(BbdNet, PetscReal);        /* -bbd_eta */
PETSC_EXTERN PetscErrorCode BbdNetSetGamma(BbdNet, PetscReal);      /* -bbd_gamma */
PETSC_EXTERN PetscErrorCode BbdNetSetTFinal(BbdNet, PetscReal);     /* -bbd_tfinal */
PETSC_EXTERN PetscErrorCode BbdNetSetOutputDt(BbdNet, PetscReal);   /* -bbd_output_dt */
PETSC_EXTERN PetscErrorCode BbdNetSetSampleDt(BbdNet, PetscReal);   /* -bbd_sample_dt */
PETSC_EXTERN PetscErrorCode BbdNetSetBatch(BbdNet, PetscInt);       /* -bbd_batch */
PETSC_EXTERN PetscErrorCode BbdNetSetSeed(BbdNet, PetscInt);        /* -bbd_seed */
PETSC_EXTERN PetscErrorCode BbdNetSetOutputFile(BbdNet, const char file[]); /* -bbd_output */
PETSC_EXTERN PetscErrorCode BbdNetSetQuiet(BbdNet, PetscBool);      /* -bbd_quiet */
/* Refuse options with the -bbd_ prefix that nothing read from this database (NULL: the global
   one), naming them (typos). */
PETSC_EXTERN PetscErrorCode BbdCheckUnusedOptions(MPI_Comm, PetscOptions);
/* -help in reading order: the program's introduction, its own options, then PETSc's.
   BbdHelpHoldPetsc, called before PetscInitialize with main's arguments, holds back the general
   options PetscInitialize prints under -help; BbdHelpBegin, right after PetscInitialize, prints the
   heading of the program's own options (without -help: whatever PETSc printed, e.g. -version);
   BbdPrintPetscHelp, after the program's SetFromOptions, prints the held text and the time
   stepper's options (TS, SNES, KSP, PC) as the runs configure them. */
PETSC_EXTERN void           BbdHelpHoldPetsc(int argc, char **argv);
PETSC_EXTERN PetscErrorCode BbdHelpBegin(MPI_Comm, const char title[]);
PETSC_EXTERN PetscErrorCode BbdPrintPetscHelp(MPI_Comm);

/* ---- the field solver (src/field/field.c) ----
   A BbdField owns a BbdNet (the definition, data and initial state; BbdFieldGetNet gives it to the
   net setters above). Options and setters follow the net's rule: before BbdFieldSetFromOptions a
   setter gives the default and an option wins; BbdFieldSetOptions and BbdFieldSetOptionsPrefix
   set the database and prefix of the field, its net, its grid (DMDA) and its time stepper. */
typedef struct _p_BbdField *BbdField;

PETSC_EXTERN PetscErrorCode BbdFieldCreate(MPI_Comm, BbdField *);
PETSC_EXTERN PetscErrorCode BbdFieldSetOptions(BbdField, PetscOptions);             /* NULL: the global database */
PETSC_EXTERN PetscErrorCode BbdFieldSetOptionsPrefix(BbdField, const char prefix[]); /* NULL: none */
PETSC_EXTERN PetscErrorCode BbdFieldGetNet(BbdField, BbdNet *);                     /* borrowed: do not destroy */
PETSC_EXTERN PetscErrorCode BbdFieldSetMode(BbdField, const char mode[]);            /* -bbd_mode: lattice | continuum */
PETSC_EXTERN PetscErrorCode BbdFieldSetFormulation(BbdField, const char form[]);     /* -bbd_formulation: sweep | residual */
PETSC_EXTERN PetscErrorCode BbdFieldSetGrid(BbdField, PetscInt NX, PetscInt NY);     /* -da_grid_x, -da_grid_y (lattice: M+1, N) */
PETSC_EXTERN PetscErrorCode BbdFieldSetFromOptions(BbdField); /* the net's -bbd_*, then -bbd_mode, -bbd_formulation, ..., -da_grid_x/y */
PETSC_EXTERN PetscErrorCode BbdFieldSetUp(BbdField);
PETSC_EXTERN PetscErrorCode BbdFieldRun(BbdField); /* integrates to tfinal, writes -bbd_output (+ .xdmf) */
PETSC_EXTERN PetscErrorCode BbdFieldDestroy(BbdField *);

/* ---- continuum validation (src/compare/compare.c): networks at several widths against the continuum ---- */
PETSC_EXTERN PetscErrorCode BbdCompareRun(MPI_Comm);

#endif
