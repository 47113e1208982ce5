/* Private structure of the field solver (src/field; docs/developing-field.md): the object, its
   operations table (one implementation per type: lattice_sweep.c, lattice_residual.c,
   continuum_sweep.c, continuum_residual.c), the dynamics table (fielddynamics.c) and the
   functions the files share, grouped by the file that defines them. */
#ifndef FIELDIMPL_H
#define FIELDIMPL_H
#include "bbdimpl.h"
#include <petscdmda.h>

struct _n_BbdJacCtx; /* fieldjac.h */

/* The operations of a field-solver type (BbdFieldRegister, BbdFieldSetType). run.c's time loop and
   field.c call a type only through these; optional ones may be NULL. */
typedef struct _BbdFieldOps *BbdFieldOps;
struct _BbdFieldOps {
  PetscErrorCode (*read)(BbdField);                     /* optional: -bbd_init onto the grid, before BbdNetSetUp */
  PetscErrorCode (*dofs)(BbdField);                     /* optional: the type's components after the dynamics' (f->dof, f->bi, f->betai) */
  PetscErrorCode (*setup)(BbdField);                    /* after the grid and the shared rows: the type's arrays, the initial state in f->U */
  PetscErrorCode (*view)(BbdField);                     /* the opening lines of a run */
  PetscErrorCode (*setts)(BbdField, TS, PetscReal *dt0); /* the TS: RHS or IFunction, IJacobian, preconditioner, configuration */
  PetscErrorCode (*begin)(BbdField);                    /* open the result, before the first save */
  PetscErrorCode (*segment)(BbdField);                  /* optional: before each segment between saves or switches */
  PetscErrorCode (*save)(BbdField, PetscReal t);        /* one saved time (counted in f->T) */
  PetscErrorCode (*switchbatch)(BbdField, PetscInt k);  /* a sample switch to batch k (f->batch = k) */
  PetscErrorCode (*write)(BbdField);                    /* finish the result, the final state at net->t0 */
  PetscErrorCode (*abort)(BbdField);                    /* optional: after a failed run, discard a partial result */
  PetscErrorCode (*summary)(BbdField);                  /* optional: the type's lines of the final summary */
  PetscErrorCode (*destroy)(BbdField);                  /* optional: the type's data */
};

/* The dynamics (flow, damped) as the types share them (fielddynamics.c): the components per point
   and the lattice functions that differ between them. */
typedef struct {
  const char *name;   /* as -bbd_dynamics */
  PetscInt    nblock; /* blocks of P+2 components per point: 1 (z, a_0..a_P); 2 (then z_dot, a_0_dot..a_P_dot) */
  PetscErrorCode (*rhs)(TS, PetscReal, Vec U, Vec F, void *);                                /* lattice sweep formulation: the right-hand side (sweep.c) */
  PetscErrorCode (*residualts)(BbdField, TS, PetscReal *dt0);                                 /* lattice residual formulation: its TS (residual.c, residual_damped.c) */
  PetscErrorCode (*jacfill)(BbdField, struct _n_BbdJacCtx *, Vec U, Vec Udot, PetscReal shift, Mat); /* its assembled Jacobian's rows (fieldjac.c, fieldjac_damped.c) */
} BbdFieldDynamics;
PETSC_INTERN const BbdFieldDynamics BbdFieldFlow, BbdFieldDamped;

/* PETSc log events of the field solver (class "BbdField"; registered by BbdFieldInitializePackage, rows.c) */
PETSC_INTERN PetscClassId  BBD_FIELD_CLASSID;
PETSC_INTERN PetscLogEvent BBD_FIELD_SweepBackward, BBD_FIELD_SweepForward, BBD_FIELD_Residual, BBD_FIELD_Jacobian, BBD_FIELD_PCApply; /* with BBD_Diagnostics, BBD_Output of src/core/log.c */
PETSC_INTERN PetscErrorCode BbdFieldInitializePackage(void);

/* field.c: the registry of types (private to the library for now: include/bbd.h does not export them) */
PETSC_INTERN PetscErrorCode BbdFieldRegister(const char name[], PetscErrorCode (*create)(BbdField));
PETSC_INTERN PetscErrorCode BbdFieldSetType(BbdField, const char type[]);

#define BBD_SWEEP_GHOST_DEFAULT 8  /* -bbd_sweep_ghost default on several ranks (docs/performance.md) */
#define BBD_SWEEP_GHOST_MAX     64

struct _p_BbdField {
  struct _BbdFieldOps ops[1];
  void       *data;               /* the type's private data */
  char        type_name[64];      /* lattice_sweep, lattice_residual, continuum_sweep, continuum_residual */
  const BbdFieldDynamics *dyn;    /* flow or damped */
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
  /* communication-avoiding sweeps (-bbd_sweep_ghost g): the state rows carry g ghost columns (f->dag,
     stencil width g; f->da itself when g = 1) and the lattice sweeps exchange g columns every g layers */
  PetscInt    sg;                 /* g (0 until set up: the default) */
  DM          dag;
  Vec         srcloc;             /* the preconditioner sweep's sources on the g ghost columns */
  PetscReal  *bg, *dzg, *dzgn, *wg, *xbuf; /* beta^(m) of all layers and the tangent rows on g ghost columns, work rows, exchange buffers */
  PetscReal **rowp;              /* continuum: the rows of beta for one exchange */
  Vec         Ulin;                /* residual formulation: the linearisation point */
  PetscReal   shift;
  /* sample switching (lattice mode, -bbd_sample_dt > 0): the batch index in use, floor(t / sample_dt);
     -bbd_switch events: switches as TS events inside segments between saved times (run.c) */
  PetscBool   events;
  PetscInt    batch;
  PetscInt    nswitch_event, nswitch_seg; /* switches applied by a TS event, at a segment end */
  PetscReal   switch_err;                 /* events: largest |t - k sample_dt| at a switch */
  PetscInt    acc_steps, acc_newton, acc_krylov, acc_fail; /* events: TS counters of the finished solves */
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
  PetscBool   jac_fdcolor, jac_fd; /* residual formulation: -snes_fd_color, -snes_fd (intercepted): differences on fieldjac.c's pattern */
  /* residual_damped.c: window of s' v, a column of sigma'', the preconditioner's work vectors */
  PetscReal  *wP, *wC;
  Vec         psrc, pout;
  PetscInt    T;             /* saved times so far (run.c) */
  PetscReal  *rc, *rg, *rrows; /* continuum residual form: work rows (rg ghosted), the beta and tangent rows */
  void       *cjac;          /* continuum residual form with -bbd_jacobian assembled: its linearisation (residual_continuum.c) */
  PetscBool   lin_in;        /* the transposed rows are the linearisation point's (residual_continuum.c) */
  PetscReal  *cR, *cP, *cB;  /* continuum damped: the tangent sweep's sources (ghosted rows), the power density beta b_t + sum_j a_j_t beta D_j s, b_t */
  PetscInt    bi;            /* continuum with sample switching: the dof of b (else -1) */
  PetscInt    betai;         /* continuum residual form: the dof of beta (else -1) */
  /* continuum mode from -bbd_init: the file's kind and grid, its fields on this grid */
  PetscBool   src_b;         /* a continuum result with /state/b (a run with sample switching) */
  PetscBool   src_continuum; /* a continuum result (z, a on nx x ny points); else a lattice state (a, b on M x N) */
  PetscInt    src_nx, src_ny; /* continuum: the file's grid; lattice: its M layers and width N */
  PetscReal  *iz, *ia, *ib;   /* [NX][NY], [NX][P+1][NY], [NX][NY] */
  PetscReal  *izd, *iad, *ibd; /* damped from a state with velocities: z_dot [NX][NY] (a lattice state: the tangent pass), a_dot [NX][P+1][NY], b_dot [NX][NY] (lattice) (else NULL: at rest) */
};

/* rows.c: the helpers every type shares (they call nothing of the types) */
PETSC_INTERN PetscErrorCode BbdFieldExchangeGhosts(BbdField, PetscInt nrows, PetscReal *const *rows, PetscInt w);
PETSC_INTERN void           BbdFieldZeroOutside(BbdField, PetscReal *row);
PETSC_INTERN PetscErrorCode BbdFieldOutputGradient(BbdField, const PetscReal *Zown, PetscReal *lam);
PETSC_INTERN PetscErrorCode BbdFieldOutputRowAll(BbdField, const PetscReal *own, const PetscScalar **all);
PETSC_INTERN PetscErrorCode BbdFieldOutputSoftmax(BbdField, const PetscReal *Zown, PetscReal *q);
PETSC_INTERN PetscErrorCode BbdFieldTransposeIn(BbdField, Vec U);
PETSC_INTERN void           BbdFieldRowPhiT(BbdField, PetscInt k, const PetscReal *gv, PetscReal *out);
PETSC_INTERN void           BbdFieldRowPhi(BbdField, PetscInt k, const PetscReal *gu, PetscReal *out);
PETSC_INTERN PetscErrorCode BbdFieldGatherAll(BbdField, const PetscScalar **all); /* restore with VecRestoreArrayRead(f->Uall) */
PETSC_INTERN PetscErrorCode BbdFieldGatherVec(BbdField, Vec, const PetscScalar **all); /* the same for a vector of f->da */
/* xdmf.c */
PETSC_INTERN PetscErrorCode BbdFieldWriteXdmf(BbdField, PetscInt T);
/* sweep.c: the lattice sweeps */
PETSC_INTERN PetscErrorCode BbdFieldSweepSources(BbdField, Vec src, Vec out); /* out = G(U)^-1 src, U last transposed in */
PETSC_INTERN PetscErrorCode BbdFieldRHSSweep(TS, PetscReal, Vec U, Vec F, void *);
PETSC_INTERN PetscErrorCode BbdFieldRHSSweepDamped(TS, PetscReal, Vec U, Vec F, void *);
PETSC_INTERN PetscErrorCode BbdFieldPCApplySweep(PC, Vec, Vec);
PETSC_INTERN PetscErrorCode BbdFieldIJacobian(TS, PetscReal, Vec U, Vec Udot, PetscReal shift, Mat, Mat, void *); /* lattice residual forms (flow, damped) */
/* implicit.c */
PETSC_INTERN PetscErrorCode BbdFieldResidualSolver(BbdField, TS, PetscErrorCode (*)(TS, PetscReal, Vec, Vec, Vec, void *), PetscErrorCode (*)(TS, PetscReal, Vec, Vec, PetscReal, Mat, Mat, void *), PetscErrorCode (*)(PC, Vec, Vec), const char *pcname, PetscReal *dt0);
/* lattice.c: what the lattice types share */
PETSC_INTERN PetscErrorCode BbdFieldLatticeStateToNet(BbdField, PetscReal *z, PetscReal *zd);
PETSC_INTERN PetscErrorCode BbdFieldLatticeNetToState(BbdField, PetscInt sample);
PETSC_INTERN PetscErrorCode BbdFieldLatticeSetUp(BbdField);
PETSC_INTERN PetscErrorCode BbdFieldLatticeView(BbdField);
PETSC_INTERN PetscErrorCode BbdFieldLatticeBegin(BbdField);
PETSC_INTERN PetscErrorCode BbdFieldLatticeSave(BbdField, PetscReal t);
PETSC_INTERN PetscErrorCode BbdFieldLatticeSwitchBatch(BbdField, PetscInt k);
PETSC_INTERN PetscErrorCode BbdFieldLatticeWrite(BbdField);
PETSC_INTERN PetscErrorCode BbdFieldLatticeAbort(BbdField);
PETSC_INTERN PetscErrorCode BbdFieldLatticeSummary(BbdField);
PETSC_INTERN PetscErrorCode BbdFieldLatticeDestroy(BbdField);
PETSC_INTERN void           BbdFieldLatticeSetOps(BbdField); /* the shared operations of the lattice types */
/* the types (registered by field.c) */
PETSC_INTERN PetscErrorCode BbdFieldCreate_LatticeSweep(BbdField);
PETSC_INTERN PetscErrorCode BbdFieldCreate_LatticeResidual(BbdField);
PETSC_INTERN PetscErrorCode BbdFieldCreate_ContinuumSweep(BbdField);
PETSC_INTERN PetscErrorCode BbdFieldCreate_ContinuumResidual(BbdField);
/* residual.c: the one-pass residual, shared by flow and damped (residual_damped.c) */
typedef void (*BbdColumnAct)(BbdField, const PetscScalar *u, const PetscScalar *ud, PetscInt i);
typedef void (*BbdColumnMid)(BbdField, const PetscScalar *u, const PetscScalar *ud, PetscInt i, PetscScalar *fo);
typedef void (*BbdColumnLast)(BbdField, const PetscScalar *u, const PetscScalar *ud, PetscInt i, PetscReal lam, PetscScalar *fo);
PETSC_INTERN void           BbdFieldColumnSigma(BbdField, const PetscScalar *col, PetscReal *S, PetscReal *D, PetscReal *D2);
PETSC_INTERN PetscErrorCode BbdFieldResidualPass(BbdField, Vec U, Vec Udot, Vec F, BbdColumnAct, BbdColumnMid, BbdColumnLast);
/* width index i inside the grid (every index is, periodic) */
static inline PetscBool BbdFieldInside(BbdField f, PetscInt i)
{
  return (PetscBool)(f->net->periodic || (i >= 0 && i < f->net->n[0]));
}

/* The width stencils of one depth row k on the ghosted columns jj = lo..hi-1 (out[jj - lo]), with
   the moment rows ar ([P+1][NX][gym]): out = sum_c D_c^T (a_c v) and out = sum_c a_c D_c u (v, u
   ghosted, valid on lo-1..hi) */
static inline void RowPhiTSpanA(BbdField f, const PetscReal *ar, PetscInt k, const PetscReal *gv, PetscInt lo, PetscInt hi, PetscReal *out)
{
  BbdNet          net = f->net;
  const PetscInt  NX = net->M + 1, gym = f->gym, P = net->P;
  const PetscReal c1 = 0.5 / net->dy, c2 = 1.0 / (net->dy * net->dy);
  const PetscReal *a0 = ar + k * gym, *a1 = ar + (NX + k) * gym, *a2 = ar + (2 * NX + k) * gym;

  for (PetscInt jj = lo; jj < hi; jj++) {
    PetscReal r = a0[jj] * gv[jj];
    if (P >= 1) r -= c1 * (a1[jj + 1] * gv[jj + 1] - a1[jj - 1] * gv[jj - 1]);
    if (P >= 2) r += c2 * (a2[jj + 1] * gv[jj + 1] - 2 * a2[jj] * gv[jj] + a2[jj - 1] * gv[jj - 1]);
    out[jj - lo] = r;
  }
}

static inline void RowPhiSpanA(BbdField f, const PetscReal *ar, PetscInt k, const PetscReal *gu, PetscInt lo, PetscInt hi, PetscReal *out)
{
  BbdNet          net = f->net;
  const PetscInt  NX = net->M + 1, gym = f->gym, P = net->P;
  const PetscReal c1 = 0.5 / net->dy, c2 = 1.0 / (net->dy * net->dy);
  const PetscReal *a0 = ar + k * gym, *a1 = ar + (NX + k) * gym, *a2 = ar + (2 * NX + k) * gym;

  for (PetscInt jj = lo; jj < hi; jj++) {
    PetscReal r = a0[jj] * gu[jj];
    if (P >= 1) r += a1[jj] * c1 * (gu[jj + 1] - gu[jj - 1]);
    if (P >= 2) r += a2[jj] * c2 * (gu[jj + 1] - 2 * gu[jj] + gu[jj - 1]);
    out[jj - lo] = r;
  }
}

/* the same with the moment rows of the state last transposed in (f->ar) */
static inline void RowPhiTSpan(BbdField f, PetscInt k, const PetscReal *gv, PetscInt lo, PetscInt hi, PetscReal *out)
{
  RowPhiTSpanA(f, f->ar, k, gv, lo, hi, out);
}

static inline void RowPhiSpan(BbdField f, PetscInt k, const PetscReal *gu, PetscInt lo, PetscInt hi, PetscReal *out)
{
  RowPhiSpanA(f, f->ar, k, gu, lo, hi, out);
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

/* fieldts.c: the TS layout (calls nothing of the types) */
PETSC_INTERN PetscErrorCode BbdFieldLayoutSetUp(BbdField, PetscInt NX, PetscInt NY, DMBoundaryType);
PETSC_INTERN PetscErrorCode BbdFieldLayoutVectors(BbdField);
PETSC_INTERN PetscErrorCode BbdFieldLayoutDestroy(BbdField);
PETSC_INTERN PetscErrorCode BbdFieldFromTS(BbdField, Vec ts, Vec sw);
PETSC_INTERN PetscErrorCode BbdFieldToTS(BbdField, Vec sw, Vec ts);
PETSC_INTERN PetscErrorCode BbdFieldSetRHSFunction(BbdField, TS, PetscErrorCode (*)(TS, PetscReal, Vec, Vec, void *));
PETSC_INTERN PetscErrorCode BbdFieldSetIFunction(BbdField, TS, PetscErrorCode (*)(TS, PetscReal, Vec, Vec, Vec, void *));
PETSC_INTERN PetscErrorCode BbdFieldPCShellSetApply(BbdField, PC, PetscErrorCode (*)(PC, Vec, Vec));
PETSC_INTERN PetscErrorCode BbdFieldSolveSegment(BbdField, TS, PetscReal t, PetscReal tend, PetscReal dt0, PetscReal *reached);
/* residual.c */
PETSC_INTERN PetscErrorCode BbdFieldResidualSetUp(BbdField);
PETSC_INTERN PetscErrorCode BbdFieldResidualDestroy(BbdField);
PETSC_INTERN PetscErrorCode BbdFieldIFunction(TS, PetscReal, Vec, Vec, Vec, void *);
PETSC_INTERN PetscErrorCode BbdFieldFlowResidualSetTS(BbdField, TS, PetscReal *dt0);
/* fieldjac.c */
PETSC_INTERN PetscErrorCode BbdFieldJacobianCreate(BbdField, Mat *);
PETSC_INTERN PetscErrorCode BbdFieldJacobianAssemble(BbdField, Vec U, Vec Udot, PetscReal shift, Mat); /* U, U' in the width-only layout */
PETSC_INTERN PetscErrorCode BbdFieldJacobianFDCreate(BbdField, Mat *);
PETSC_INTERN PetscErrorCode BbdFieldJacobianFD(BbdField, TS, Vec X, Mat); /* X in the TS layout */
/* residual_damped.c */
PETSC_INTERN PetscErrorCode BbdFieldDampedResidualSetTS(BbdField, TS, PetscReal *dt0);
PETSC_INTERN PetscErrorCode BbdFieldDampedResidualDestroy(BbdField);
/* continuum.c: the Heun sweeps and the explicit right-hand side */
PETSC_INTERN PetscErrorCode BbdFieldRHSContinuum(TS, PetscReal, Vec, Vec, void *);
PETSC_INTERN PetscErrorCode BbdFieldContinuumDampedSources(BbdField, PetscInt e, PetscBool given_wt);
/* continuum_init.c */
PETSC_INTERN PetscErrorCode BbdFieldContinuumInit(BbdField);
PETSC_INTERN PetscErrorCode BbdFieldContinuumSwitch(BbdField, PetscInt sample, Vec Ftmp);
PETSC_INTERN PetscErrorCode BbdFieldContinuumRead(BbdField); /* -bbd_init onto the grid (before BbdNetSetUp; nothing without -bbd_init) */
/* continuum_out.c: what the two continuum types share besides the numerics */
PETSC_INTERN PetscErrorCode BbdFieldContinuumSetUp(BbdField);
PETSC_INTERN PetscErrorCode BbdFieldContinuumSwitchBatch(BbdField, PetscInt k);
PETSC_INTERN PetscErrorCode BbdFieldContinuumView(BbdField);
PETSC_INTERN PetscErrorCode BbdFieldContinuumBegin(BbdField);
PETSC_INTERN PetscErrorCode BbdFieldContinuumSave(BbdField, PetscReal t);
PETSC_INTERN PetscErrorCode BbdFieldContinuumWrite(BbdField);
PETSC_INTERN PetscErrorCode BbdFieldContinuumDestroy(BbdField);
PETSC_INTERN void           BbdFieldContinuumSetOps(BbdField); /* the shared operations of the continuum types */
/* residual_continuum.c, residual_continuum_jac.c, continuum_residual.c: continuum mode in residual form (beta an algebraic unknown) */
PETSC_INTERN PetscErrorCode BbdFieldCreateTS(BbdField, TS *, PetscReal *dt0); /* run.c: the run's TS, configured by the type, not started (the unit tests t5*) */
PETSC_INTERN PetscErrorCode BbdFieldContinuumResidualConsistent(BbdField, Vec U);
PETSC_INTERN PetscErrorCode BbdFieldContinuumResidualDestroy(BbdField);
/* fieldjac.c: a Jacobian assembled by colouring from exact directional derivatives jvp(f, x, y): y = J x (TS layout) */
typedef PetscErrorCode (*BbdFieldJVP)(BbdField, Vec x, Vec y);
PETSC_INTERN PetscErrorCode BbdFieldJacobianColourCreate(BbdField, Mat *);
PETSC_INTERN PetscErrorCode BbdFieldJacobianColourAssemble(BbdField, BbdFieldJVP, Mat);
#endif
