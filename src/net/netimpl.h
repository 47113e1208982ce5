/* Private structures of src/net: the network (BbdNet), a saved time (BbdSnapshot), the options
   helpers every object uses, and the passes, decomposition, data and dynamics of the reference
   module. Conventions: docs/theory.md.
   Parameter vector theta, per layer m = 0..M-1, contiguous:
     field: a_0^(m)[N], ..., a_P^(m)[N], b^(m)[N]
     dense: W^(m)[n(m+1)][n(m)] (row-major), b^(m)[n(m+1)]
   Neuron vector z (one sample): z^(0)[n0], ..., z^(M)[nM], offsets zoff[m]. Included through
   src/bbdimpl.h. */
#ifndef NETIMPL_H
#define NETIMPL_H
#include <bbd.h>

/* One saved time: the BBD diagnostics and the state (docs/output.md). */
typedef struct {
  PetscReal  time;
  PetscInt   sample; /* first sample of the batch in use */
  PetscReal  loss, L, L_bulk, L_boundary;
  PetscReal *layer_kinetic; /* [M]   T_m */
  PetscReal *flux;          /* [M+1] J_m */
  PetscReal *dissipation;   /* [M]   flow: T_m; damped: gamma T_m */
  PetscReal *energy_rate;   /* [M]   dT_m/dt (damped; flow: 0) */
  PetscReal *defect;        /* [M-1] symmetry defect */
  PetscReal  beta_mismatch; /* check: max |beta(z-form) - db/dt| / max|db/dt| */
  PetscReal *theta;         /* [nparam] */
  PetscReal *thetadot;      /* [nparam] velocity (always filled) */
  PetscReal *z;             /* [nz] neurons of the sample in use */
} BbdSnapshot;

struct _p_BbdNet {
  MPI_Comm comm;
  /* definition */
  BbdFamily      family;
  PetscInt       M;       /* weight layers */
  PetscInt      *n;       /* widths n[0..M] */
  PetscInt       P;       /* field: highest moment (2) */
  PetscReal      rho, h;  /* layer map z' = rho z + h (Phi(z) + b) */
  PetscReal      dy;      /* field: 1/N; dense: 1 (cell weight of the loss) */
  PetscReal      kappa[BBD_MAX_MOMENTS];
  PetscBool      periodic; /* field: periodic in width (else zero padding) */
  PetscBool      residual; /* dense: residual form rho = 1 */
  BbdActivation *act;      /* [M] per-layer activation */
  BbdLoss        loss;
  /* dynamics */
  BbdDynamics    dyn;
  PetscReal      eta, gamma;
  PetscReal      t0, tfinal, output_dt, sample_dt;
  PetscBool      tfinal_set;
  BbdSampleOrder order;
  PetscInt       batch;
  unsigned long  seed;
  /* layout */
  PetscInt  nparam, nz, nzmax;
  PetscInt *woff, *boff; /* [M] offset of W^(m) (field: a_0^(m)) and b^(m) in theta */
  PetscInt *zoff;        /* [M+1] */
  /* data */
  PetscInt   S;        /* samples */
  PetscReal *X, *Y;    /* [S][n0], [S][nM] */
  char       data_source[PETSC_MAX_PATH_LEN];
  PetscInt   nsamples; /* requested number of samples (0: source default) */
  PetscInt  *perm, perm_epoch; /* random order: the permutation of the current epoch */
  /* state */
  PetscReal *theta, *thetadot; /* [nparam]; thetadot for damped */
  PetscReal *state_z;          /* [nz] field solver: neurons of the state (written to and read from /state/z) */
  PetscReal *state_zdot;       /* [nz] field solver, damped: their velocities (/state/z_dot) */
  char       init_file[PETSC_MAX_PATH_LEN], output_file[PETSC_MAX_PATH_LEN];
  PetscBool  quiet;
  PetscBool  for_field; /* the net serves bbd-field (definition, data, initial state) */
  PetscBool  lam_partial; /* backprop may stop at lam^(1) (training steps; the diagnostics need lam^(0)) */
  PetscBool  fromfile; /* definition came from -bbd_init */
  PetscBool  data_in_init; /* -bbd_init file holds /data */
  PetscBool  init_grid;    /* bbd-field continuum mode interpolates -bbd_init onto its grid itself: BbdNetSetUp reads neither /state nor /data */
  PetscInt   progress; /* print a progress line every this many saved times (0: never) */
  /* options (BbdNetSetOptions, BbdNetSetOptionsPrefix): every read of the net, of a field solver
     built on it and of their time steppers goes to this database (NULL: the global one), every
     name under this prefix */
  PetscOptions options;
  char        *prefix;
  PetscBool    setfromoptions_called;
  PetscBool    composed; /* a run composed by bbd-compare, which sets depth, width, activation, tfinal,
                            output_dt, output, init, quiet and the field's mode and grid itself:
                            SetFromOptions neither reads nor lists those options */
  /* defaults given by setters that SetFromOptions starts from (options win) */
  PetscInt      width;             /* -bbd_width (16) */
  PetscInt      nwidths, *widths;  /* -bbd_widths (none) */
  BbdActivation act0;              /* -bbd_activation (tanh) */
  PetscInt      grid[2];           /* bbd-field: NX, NY (-da_grid_x, -da_grid_y; 0: the lattice's M+1, N) */
  /* work (batch of up to `batch` samples) */
  PetscReal *wz, *ws, *wd1, *wlam, *wdz, *wtmp, *wtmp2;
};

/* PetscOptionsBegin on a given database (NULL: the global one): PETSc 3.18's PetscOptionsBegin
   reads the global database only; this sets PetscOptionsObject->options before
   PetscOptionsBegin_Private, as PetscObjectOptionsBegin does with an object's. Ends with
   PetscOptionsEnd(). */
#define BbdOptionsBegin(comm, opts, prefix, title) \
  do { \
    PetscOptionItems  PetscOptionsObjectBase; \
    PetscOptionItems *PetscOptionsObject = &PetscOptionsObjectBase; \
    PetscCall(PetscMemzero(PetscOptionsObject, sizeof(*PetscOptionsObject))); \
    PetscOptionsObject->options = (opts); \
    for (PetscOptionsObject->count = (PetscOptionsPublish ? -1 : 1); PetscOptionsObject->count < 2; PetscOptionsObject->count++) { \
      PetscCall(PetscOptionsBegin_Private(PetscOptionsObject, comm, prefix, title, NULL))

/* net.c: -help helpers inside an options block. Array options with all ndefault default values
   listed (PETSc's PetscOptions*Array print only the first; ndefault = 0 prints `none`), then read
   like PetscOptionsGet*Array (*n: in the capacity of value, out the number read). A heading groups
   the options after it. */
PETSC_INTERN PetscErrorCode BbdOptionsRealArray(PetscOptionItems *, const char opt[], const char text[], const char none[], PetscReal value[], PetscInt ndefault, PetscInt *n, PetscBool *set);
PETSC_INTERN PetscErrorCode BbdOptionsIntArray(PetscOptionItems *, const char opt[], const char text[], const char none[], PetscInt value[], PetscInt ndefault, PetscInt *n, PetscBool *set);
PETSC_INTERN PetscErrorCode BbdOptionsHeading(PetscOptionItems *, const char head[]);

/* net.c */
PETSC_INTERN PetscErrorCode BbdNetSetLayout(BbdNet);
PETSC_INTERN PetscErrorCode BbdNetBatchSamples(BbdNet, PetscReal t, PetscInt *idx); /* batch in use at time t */
PETSC_INTERN PetscErrorCode BbdNetBatchFromIndex(BbdNet, PetscInt k, PetscInt *idx);  /* samples of batch k */
PETSC_INTERN PetscInt       BbdNetBatchIndex(BbdNet, PetscReal t);
PETSC_INTERN PetscErrorCode BbdNetFreezeVelocity(BbdNet, PetscReal *thetadot); /* zero the velocity of moments with kappa_j = 0 */
PETSC_INTERN PetscReal      BbdNetStabilityNumber(BbdNet); /* field: h max|a_2| max sigma' / dy^2 */

/* propagate.c: exact passes of one sample (z, lam, dz have nz entries) */
PETSC_INTERN PetscErrorCode BbdForward(BbdNet, const PetscReal *theta, const PetscReal *X, PetscReal *z);
/* forward pass that also keeps s = sigma_m(z^(m)) and d1 = sigma_m'(z^(m)) (nz entries; layer M unset) */
PETSC_INTERN PetscErrorCode BbdForwardFull(BbdNet, const PetscReal *theta, const PetscReal *X, PetscReal *z, PetscReal *s, PetscReal *d1);
/* backward pass given d1 from BbdForwardFull: lam[zoff[m]..] = lambda^(m), m = 0..M (down to m = 1
   when net->lam_partial), and the sample loss */
PETSC_INTERN PetscErrorCode BbdBackwardFull(BbdNet, const PetscReal *theta, const PetscReal *z, const PetscReal *d1, const PetscReal *Y, PetscReal *lam, PetscReal *loss);
/* vel += scale * (-eta metric^-1 grad l) for this sample (flow velocity) */
PETSC_INTERN PetscErrorCode BbdAddVelocity(BbdNet, const PetscReal *s, const PetscReal *lam, PetscReal scale, PetscReal *vel); /* s = sigma(z) */
/* tangent pass: dz^(0) = dX, dz^(m+1) = rho dz + h (Phi'(z) dz + Phi_thetadot(z) + bdot) */
PETSC_INTERN PetscErrorCode BbdTangent(BbdNet, const PetscReal *theta, const PetscReal *thetadot, const PetscReal *z, const PetscReal *dX, PetscReal *dz);
/* flow velocity of the batch loss for given sample indices (net->batch of them); leaves z, sigma, sigma', lam of
   sample s in net->wz, ws, wd1, wlam + s*nz */
PETSC_INTERN PetscErrorCode BbdFlowVelocityBatch(BbdNet, const PetscInt *idx, const PetscReal *theta, PetscReal *vel, PetscReal *loss);
/* operators of layer m with parameters p (theta or thetadot): Phi = sum_j p_j .* D_j s (dense W s);
   PhiT v = sum_j D_j^T (p_j .* v) (dense W^T v); D[j*N+i] = (D_j s)_i */
PETSC_INTERN PetscErrorCode BbdPhi(BbdNet, PetscInt m, const PetscReal *p, const PetscReal *s, PetscReal *out);
PETSC_INTERN PetscErrorCode BbdPhiT(BbdNet, PetscInt m, const PetscReal *p, const PetscReal *v, PetscReal *out);
PETSC_INTERN PetscErrorCode BbdFieldDerivatives(BbdNet, const PetscReal *s, PetscReal *D);
PETSC_INTERN PetscErrorCode BbdFieldPhi(BbdNet, const PetscReal *a, const PetscReal *s, PetscReal *out);
PETSC_INTERN PetscErrorCode BbdFieldPhiT(BbdNet, const PetscReal *a, const PetscReal *v, PetscReal *out);

/* bbd.c: change of variables and decomposition */
PETSC_INTERN PetscErrorCode BbdBiasFromNeurons(BbdNet, const PetscReal *theta, const PetscReal *z, PetscReal *b); /* b^(m) from (W, z) */
/* beta^(m) from (z, dz, theta, thetadot) with layer hyper-parameters of layer `hl` */
PETSC_INTERN PetscErrorCode BbdBeta(BbdNet, PetscInt m, PetscInt hl, const PetscReal *theta, const PetscReal *thetadot, const PetscReal *z, const PetscReal *dz, PetscReal *beta);
PETSC_INTERN PetscErrorCode BbdSnapshotCreate(BbdNet, BbdSnapshot *);
PETSC_INTERN PetscErrorCode BbdSnapshotDestroy(BbdSnapshot *);
/* fill snapshot at time t, state theta (and thetadot for damped) */
PETSC_INTERN PetscErrorCode BbdSnapshotCompute(BbdNet, PetscReal t, const PetscReal *theta, const PetscReal *thetadot, BbdSnapshot *);

/* data.c */
PETSC_INTERN PetscErrorCode BbdDataBuild(BbdNet); /* builtin | FILE.h5 | fashion-mnist, into net->X, net->Y */

/* dynamics.c (BbdOutput: the result writer, src/io/io.h) */
typedef struct _p_BbdOutput *BbdOutput;
PETSC_INTERN PetscErrorCode BbdRunSGD(BbdNet, BbdOutput);
PETSC_INTERN PetscErrorCode BbdRunTS(BbdNet, BbdOutput); /* flow and damped */
PETSC_INTERN PetscReal      BbdTimeEps(BbdNet);
PETSC_INTERN void           BbdTSNextSegment(BbdNet, PetscReal t, PetscReal *tend, PetscBool *save);
PETSC_INTERN PetscReal      BbdTSNextSave(BbdNet, PetscReal t); /* the next saved time after t */
PETSC_INTERN PetscErrorCode BbdTSConfigure(BbdNet, TS, PetscReal *dt0);
PETSC_INTERN PetscErrorCode BbdTSConfigureWith(BbdNet, TS, TSType, PetscBool own_solver, PetscReal *dt0);
PETSC_INTERN PetscErrorCode BbdTSSolveSegment(BbdNet, TS, Vec U, PetscReal t, PetscReal tend, PetscReal dt0, PetscReal *reached); /* reached: NULL, or where a terminal TS event stopped it */

/* net.c: the built-in smooth fields a_j(x, y), b(x, y) of the field family (x, y in [0, 1]) */
PETSC_INTERN void BbdFieldAnalytic(PetscInt P, PetscReal x, PetscReal y, PetscReal *a, PetscReal *b);
#endif
