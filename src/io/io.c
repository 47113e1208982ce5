/* HDF5 input and output of states and trajectories (docs/output.md; contract:
   one layout for -bbd_init states and results).

   Root attributes: family, activation (one name, or M comma-separated names),
   loss, dynamics, sample_order (strings); depth, periodic, version, batch,
   residual (dense) (int); widths [M+1] (int); seed (int64); rho, h, eta, gamma,
   sample_dt, tfinal, output_dt (double); kappa [P+1] (double, field family).

     /data/X [S, n0], /data/Y [S, nM]
     /state            attribute time (double)
       field: a [P+1, M, N], b [M, N]          (+ a_dot, b_dot for damped)
              bbd-field also z [M+1, N] (+ z_dot for damped): its neurons, for exact restarts
       dense: layer_<m>/W [n(m+1), n(m)], layer_<m>/b [n(m+1)] (+ W_dot, b_dot)
     /trajectory       every dataset has a leading, unlimited time axis [T, ...]
       time, sample (int64), loss, L, L_bulk, L_boundary, beta_mismatch [T]
       layer_kinetic, dissipation, energy_rate [T, M]; flux [T, M+1];
       symmetry_defect [T, M-1] (only when M > 1)
       field: a, a_dot [T, P+1, M, N]; b, b_dot [T, M, N]; z [T, M+1, N]
       dense: layer_<m>/{W, W_dot} [T, n(m+1), n(m)], layer_<m>/{b, b_dot} [T, n(m+1)],
              z_<m> [T, n(m)], m = 0..M

   The packed parameter vector (src/bbdimpl.h) keeps per layer m the moments
   a_j^(m)[N] contiguously at woff[m] + j N, so the file's moment-major
   a[j][m][i] = theta[woff[m] + j N + i]: PackField/UnpackField transpose.

   Writing: only rank 0 touches the file, which is FILE.tmp.<pid> until
   BbdOutputFinish renames it (a reader never sees a half-written result).
   Errors on rank 0 are broadcast so every rank fails together.
   Reading: every rank reads the file itself with serial HDF5; every failure
   (missing, foreign, truncated, wrong attribute, wrong shape, non-finite value)
   becomes a PETSc error naming the file and the attribute or dataset. */
#include <bbdimpl.h>
#include <hdf5.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#if !defined(PETSC_USE_REAL_DOUBLE)
  #error "io.c moves PetscReal through H5T_NATIVE_DOUBLE: build PETSc with double precision"
#endif

#define BBD_IO_MAXSETS_FIXED 18 /* scalar and per-layer diagnostics, field state */

typedef struct {
  hid_t   dset;
  int     rank;                    /* rank of one snapshot */
  hsize_t dims[3];                 /* shape of one snapshot */
  hid_t   mtype;                   /* memory type */
  char    name[32];                /* relative to /trajectory */
} BbdTrajSet;

struct _p_BbdOutput {
  BbdNet      net;
  PetscMPIInt rank;
  char        file[PETSC_MAX_PATH_LEN], tmp[PETSC_MAX_PATH_LEN + 32];
  hid_t       fid, traj;           /* rank 0: the file and /trajectory */
  PetscInt    T;                   /* snapshots written */
  BbdTrajSet *set;
  PetscInt    nset, maxset, cursor;
  PetscReal  *buf;                 /* rank 0: packing buffer */
};

/* ---------------------------------------------------------------- helpers */

/* field family: theta (packed, per layer) <-> a [P+1][M][N], b [M][N] */
static void PackField(BbdNet net, const PetscReal *theta, PetscReal *a, PetscReal *b)
{
  const PetscInt M = net->M, N = net->n[0];

  for (PetscInt m = 0; m < M; m++) {
    for (PetscInt j = 0; j <= net->P; j++)
      for (PetscInt i = 0; i < N; i++) a[(j * M + m) * N + i] = theta[net->woff[m] + j * N + i];
    for (PetscInt i = 0; i < N; i++) b[m * N + i] = theta[net->boff[m] + i];
  }
}

static void UnpackField(BbdNet net, const PetscReal *a, const PetscReal *b, PetscReal *theta)
{
  const PetscInt M = net->M, N = net->n[0];

  for (PetscInt m = 0; m < M; m++) {
    if (a)
      for (PetscInt j = 0; j <= net->P; j++)
        for (PetscInt i = 0; i < N; i++) theta[net->woff[m] + j * N + i] = a[(j * M + m) * N + i];
    if (b)
      for (PetscInt i = 0; i < N; i++) theta[net->boff[m] + i] = b[m * N + i];
  }
}

/* ---------------------------------------------------------------- writer (rank 0) */

#define H5W(expr, ...) PetscCheck((expr) >= 0, PETSC_COMM_SELF, PETSC_ERR_FILE_WRITE, __VA_ARGS__)

static PetscErrorCode WriteAttrString(hid_t loc, const char *file, const char *name, const char *str)
{
  hid_t type, space, attr;

  PetscFunctionBeginUser;
  H5W(type = H5Tcopy(H5T_C_S1), "%s: attribute %s: cannot create string type", file, name);
  H5W(H5Tset_size(type, H5T_VARIABLE), "%s: attribute %s", file, name);
  H5W(H5Tset_cset(type, H5T_CSET_ASCII), "%s: attribute %s", file, name);
  H5W(space = H5Screate(H5S_SCALAR), "%s: attribute %s", file, name);
  H5W(attr = H5Acreate2(loc, name, type, space, H5P_DEFAULT, H5P_DEFAULT), "%s: cannot create attribute %s", file, name);
  H5W(H5Awrite(attr, type, &str), "%s: cannot write attribute %s", file, name);
  H5W(H5Aclose(attr), "%s: attribute %s", file, name);
  H5W(H5Sclose(space), "%s: attribute %s", file, name);
  H5W(H5Tclose(type), "%s: attribute %s", file, name);
  PetscFunctionReturn(0);
}

/* n values; scalar dataspace when scalar is true (n must be 1) */
static PetscErrorCode WriteAttr(hid_t loc, const char *file, const char *name, hid_t ftype, hid_t mtype, PetscBool scalar, hsize_t n, const void *v)
{
  hid_t space, attr;

  PetscFunctionBeginUser;
  H5W(space = scalar ? H5Screate(H5S_SCALAR) : H5Screate_simple(1, &n, NULL), "%s: attribute %s", file, name);
  H5W(attr = H5Acreate2(loc, name, ftype, space, H5P_DEFAULT, H5P_DEFAULT), "%s: cannot create attribute %s", file, name);
  H5W(H5Awrite(attr, mtype, v), "%s: cannot write attribute %s", file, name);
  H5W(H5Aclose(attr), "%s: attribute %s", file, name);
  H5W(H5Sclose(space), "%s: attribute %s", file, name);
  PetscFunctionReturn(0);
}

static PetscErrorCode WriteAttrInt(hid_t loc, const char *file, const char *name, long long v)
{
  PetscFunctionBeginUser;
  PetscCall(WriteAttr(loc, file, name, H5T_STD_I32LE, H5T_NATIVE_LLONG, PETSC_TRUE, 1, &v));
  PetscFunctionReturn(0);
}

static PetscErrorCode WriteAttrReal(hid_t loc, const char *file, const char *name, PetscReal v)
{
  PetscFunctionBeginUser;
  PetscCall(WriteAttr(loc, file, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, PETSC_TRUE, 1, &v));
  PetscFunctionReturn(0);
}

/* a fixed-size (contiguous) dataset of doubles */
static PetscErrorCode WriteDataset(hid_t loc, const char *file, const char *name, int rank, const hsize_t *dims, const PetscReal *v)
{
  hid_t space, dset;

  PetscFunctionBeginUser;
  H5W(space = H5Screate_simple(rank, dims, NULL), "%s: dataset %s", file, name);
  H5W(dset = H5Dcreate2(loc, name, H5T_IEEE_F64LE, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), "%s: cannot create dataset %s", file, name);
  H5W(H5Dwrite(dset, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, v), "%s: cannot write dataset %s", file, name);
  H5W(H5Dclose(dset), "%s: dataset %s", file, name);
  H5W(H5Sclose(space), "%s: dataset %s", file, name);
  PetscFunctionReturn(0);
}

/* One trajectory dataset: created (snapshot s == NULL) as [0, dims] extendable
   along time with one snapshot per chunk, or extended by one time and written. */
static PetscErrorCode TrajItem(BbdOutput o, const BbdSnapshot *s, const char *name, hid_t ftype, hid_t mtype, int rank, const hsize_t *dims, const void *v)
{
  BbdTrajSet *ts;
  hsize_t     cur[4], max[4], start[4] = {0, 0, 0, 0}, chunk[4];
  hid_t       space, mspace, dcpl;

  PetscFunctionBeginUser;
  PetscCheck(o->cursor < o->maxset && rank <= 3, PETSC_COMM_SELF, PETSC_ERR_PLIB, "trajectory layout overflow at %s", name);
  ts = &o->set[o->cursor++];
  if (!s) {
    ts->rank  = rank;
    ts->mtype = mtype;
    PetscCall(PetscStrncpy(ts->name, name, sizeof(ts->name)));
    cur[0] = 0;
    max[0] = H5S_UNLIMITED;
    chunk[0] = 1; /* one snapshot per chunk */
    for (int k = 0; k < rank; k++) {
      ts->dims[k] = cur[k + 1] = max[k + 1] = chunk[k + 1] = dims[k];
      PetscCheck(dims[k] > 0, PETSC_COMM_SELF, PETSC_ERR_PLIB, "trajectory dataset %s has an empty axis", name);
    }
    H5W(space = H5Screate_simple(rank + 1, cur, max), "%s: dataset /trajectory/%s", o->tmp, name);
    H5W(dcpl = H5Pcreate(H5P_DATASET_CREATE), "%s: dataset /trajectory/%s", o->tmp, name);
    H5W(H5Pset_chunk(dcpl, rank + 1, chunk), "%s: dataset /trajectory/%s: chunking", o->tmp, name);
    H5W(ts->dset = H5Dcreate2(o->traj, name, ftype, space, H5P_DEFAULT, dcpl, H5P_DEFAULT), "%s: cannot create dataset /trajectory/%s", o->tmp, name);
    o->nset = o->cursor;
    H5W(H5Pclose(dcpl), "%s: dataset /trajectory/%s", o->tmp, name);
    H5W(H5Sclose(space), "%s: dataset /trajectory/%s", o->tmp, name);
    PetscFunctionReturn(0);
  }
  PetscCheck(!strcmp(ts->name, name), PETSC_COMM_SELF, PETSC_ERR_PLIB, "trajectory layout mismatch: %s vs %s", ts->name, name);
  cur[0]   = (hsize_t)o->T + 1;
  start[0] = (hsize_t)o->T;
  max[0]   = 1;
  for (int k = 0; k < ts->rank; k++) {
    cur[k + 1]   = max[k + 1] = ts->dims[k];
    start[k + 1] = 0;
  }
  H5W(H5Dset_extent(ts->dset, cur), "%s: cannot extend /trajectory/%s", o->tmp, name);
  H5W(space = H5Dget_space(ts->dset), "%s: /trajectory/%s", o->tmp, name);
  H5W(H5Sselect_hyperslab(space, H5S_SELECT_SET, start, NULL, max, NULL), "%s: /trajectory/%s", o->tmp, name);
  H5W(mspace = H5Screate_simple(ts->rank + 1, max, NULL), "%s: /trajectory/%s", o->tmp, name);
  H5W(H5Dwrite(ts->dset, ts->mtype, mspace, space, H5P_DEFAULT, v), "%s: cannot write /trajectory/%s at time index %" PetscInt_FMT, o->tmp, name, o->T);
  H5W(H5Sclose(mspace), "%s: /trajectory/%s", o->tmp, name);
  H5W(H5Sclose(space), "%s: /trajectory/%s", o->tmp, name);
  PetscFunctionReturn(0);
}

/* The trajectory layout, listed once: creates the datasets (s == NULL) or appends s. */
static PetscErrorCode OutputTrajectory(BbdOutput o, const BbdSnapshot *s)
{
  BbdNet         net = o->net;
  const PetscInt M   = net->M;
  const hid_t    F = H5T_IEEE_F64LE, D = H5T_NATIVE_DOUBLE;
  long long      sample = s ? (long long)s->sample : 0;
  hsize_t        d[3];
  char           name[32];

  PetscFunctionBeginUser;
  o->cursor = 0;
  if (s) {
    PetscCheck(s->layer_kinetic && s->flux && s->dissipation && s->energy_rate && (M == 1 || s->defect) && s->theta && s->thetadot && s->z, PETSC_COMM_SELF, PETSC_ERR_ARG_NULL, "%s: snapshot at t = %g has unset arrays", o->tmp, (double)s->time);
  }
  PetscCall(TrajItem(o, s, "time", F, D, 0, NULL, s ? &s->time : NULL));
  PetscCall(TrajItem(o, s, "sample", H5T_STD_I64LE, H5T_NATIVE_LLONG, 0, NULL, &sample));
  PetscCall(TrajItem(o, s, "loss", F, D, 0, NULL, s ? &s->loss : NULL));
  PetscCall(TrajItem(o, s, "L", F, D, 0, NULL, s ? &s->L : NULL));
  PetscCall(TrajItem(o, s, "L_bulk", F, D, 0, NULL, s ? &s->L_bulk : NULL));
  PetscCall(TrajItem(o, s, "L_boundary", F, D, 0, NULL, s ? &s->L_boundary : NULL));
  PetscCall(TrajItem(o, s, "beta_mismatch", F, D, 0, NULL, s ? &s->beta_mismatch : NULL));
  d[0] = (hsize_t)M;
  PetscCall(TrajItem(o, s, "layer_kinetic", F, D, 1, d, s ? s->layer_kinetic : NULL));
  PetscCall(TrajItem(o, s, "dissipation", F, D, 1, d, s ? s->dissipation : NULL));
  PetscCall(TrajItem(o, s, "energy_rate", F, D, 1, d, s ? s->energy_rate : NULL));
  d[0] = (hsize_t)M + 1;
  PetscCall(TrajItem(o, s, "flux", F, D, 1, d, s ? s->flux : NULL));
  if (M > 1) {
    d[0] = (hsize_t)M - 1;
    PetscCall(TrajItem(o, s, "symmetry_defect", F, D, 1, d, s ? s->defect : NULL));
  }
  if (net->family == BBD_FAMILY_FIELD) {
    const PetscInt N = net->n[0], na = (net->P + 1) * M * N;
    PetscReal     *a = o->buf, *b = o->buf + na;

    d[0] = (hsize_t)net->P + 1;
    d[1] = (hsize_t)M;
    d[2] = (hsize_t)N;
    if (s) PackField(net, s->theta, a, b);
    PetscCall(TrajItem(o, s, "a", F, D, 3, d, a));
    PetscCall(TrajItem(o, s, "b", F, D, 2, d + 1, b));
    if (s) PackField(net, s->thetadot, a, b);
    PetscCall(TrajItem(o, s, "a_dot", F, D, 3, d, a));
    PetscCall(TrajItem(o, s, "b_dot", F, D, 2, d + 1, b));
    d[1] = (hsize_t)M + 1;
    if (s)
      for (PetscInt m = 0; m <= M; m++) PetscCall(PetscArraycpy(o->buf + m * N, s->z + net->zoff[m], N));
    PetscCall(TrajItem(o, s, "z", F, D, 2, d + 1, o->buf));
  } else {
    for (PetscInt m = 0; m < M; m++) {
      const PetscInt wo = net->woff[m], bo = net->boff[m];

      if (!s) {
        hid_t g;

        PetscCall(PetscSNPrintf(name, sizeof(name), "layer_%" PetscInt_FMT, m));
        H5W(g = H5Gcreate2(o->traj, name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), "%s: cannot create group /trajectory/%s", o->tmp, name);
        H5W(H5Gclose(g), "%s: group /trajectory/%s", o->tmp, name);
      }
      d[0] = (hsize_t)net->n[m + 1];
      d[1] = (hsize_t)net->n[m];
      PetscCall(PetscSNPrintf(name, sizeof(name), "layer_%" PetscInt_FMT "/W", m));
      PetscCall(TrajItem(o, s, name, F, D, 2, d, s ? s->theta + wo : NULL));
      PetscCall(PetscSNPrintf(name, sizeof(name), "layer_%" PetscInt_FMT "/b", m));
      PetscCall(TrajItem(o, s, name, F, D, 1, d, s ? s->theta + bo : NULL));
      PetscCall(PetscSNPrintf(name, sizeof(name), "layer_%" PetscInt_FMT "/W_dot", m));
      PetscCall(TrajItem(o, s, name, F, D, 2, d, s ? s->thetadot + wo : NULL));
      PetscCall(PetscSNPrintf(name, sizeof(name), "layer_%" PetscInt_FMT "/b_dot", m));
      PetscCall(TrajItem(o, s, name, F, D, 1, d, s ? s->thetadot + bo : NULL));
    }
    for (PetscInt m = 0; m <= M; m++) {
      d[0] = (hsize_t)net->n[m];
      PetscCall(PetscSNPrintf(name, sizeof(name), "z_%" PetscInt_FMT, m));
      PetscCall(TrajItem(o, s, name, F, D, 1, d, s ? s->z + net->zoff[m] : NULL));
    }
  }
  PetscFunctionReturn(0);
}

static PetscErrorCode OutputCreate_Rank0(BbdOutput o)
{
  BbdNet         net = o->net;
  const PetscInt M   = net->M;
  const char    *file = o->tmp;
  long long      w[BBD_MAX_MOMENTS], *widths;
  char          *act;
  size_t         len = 1;
  PetscBool      same = PETSC_TRUE;
  hid_t          g;
  hsize_t        d[2];

  PetscFunctionBeginUser;
  o->fid = H5Fcreate(file, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  PetscCheck(o->fid >= 0, PETSC_COMM_SELF, PETSC_ERR_FILE_OPEN, "cannot create the output file %s (temporary name of %s): does the directory exist and is it writable?", file, o->file);

  PetscCall(WriteAttrString(o->fid, file, "family", BbdFamilies[net->family]));
  for (PetscInt m = 0; m < M; m++) {
    len += strlen(BbdActivations[net->act[m]]) + 1;
    if (net->act[m] != net->act[0]) same = PETSC_FALSE;
  }
  PetscCall(PetscCalloc1(len, &act));
  for (PetscInt m = 0; m < (same ? 1 : M); m++) {
    /* plain strcat: the buffer holds every name and comma; PETSc 3.18's PetscStrlcat counts
       its bound differently and truncated these names */
    if (m) strcat(act, ",");
    strcat(act, BbdActivations[net->act[m]]);
  }
  PetscCall(WriteAttrString(o->fid, file, "activation", act));
  PetscCall(PetscFree(act));
  PetscCall(WriteAttrString(o->fid, file, "loss", BbdLosses[net->loss]));
  PetscCall(WriteAttrString(o->fid, file, "dynamics", BbdDynamicsTypes[net->dyn]));
  PetscCall(WriteAttrString(o->fid, file, "sample_order", BbdSampleOrders[net->order]));
  PetscCall(WriteAttrInt(o->fid, file, "depth", M));
  PetscCall(PetscMalloc1(M + 1, &widths));
  for (PetscInt m = 0; m <= M; m++) widths[m] = net->n[m];
  PetscCall(WriteAttr(o->fid, file, "widths", H5T_STD_I32LE, H5T_NATIVE_LLONG, PETSC_FALSE, (hsize_t)M + 1, widths));
  PetscCall(PetscFree(widths));
  PetscCall(WriteAttrReal(o->fid, file, "rho", net->rho));
  PetscCall(WriteAttrReal(o->fid, file, "h", net->h));
  PetscCall(WriteAttrReal(o->fid, file, "eta", net->eta));
  PetscCall(WriteAttrReal(o->fid, file, "gamma", net->gamma));
  if (net->family == BBD_FAMILY_FIELD) PetscCall(WriteAttr(o->fid, file, "kappa", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, PETSC_FALSE, (hsize_t)net->P + 1, net->kappa));
  else PetscCall(WriteAttrInt(o->fid, file, "residual", net->residual ? 1 : 0));
  PetscCall(WriteAttrInt(o->fid, file, "periodic", net->periodic ? 1 : 0));
  PetscCall(WriteAttrInt(o->fid, file, "version", BBD_VERSION));
  w[0] = (long long)net->seed;
  PetscCall(WriteAttr(o->fid, file, "seed", H5T_STD_I64LE, H5T_NATIVE_LLONG, PETSC_TRUE, 1, w));
  PetscCall(WriteAttrReal(o->fid, file, "sample_dt", net->sample_dt));
  PetscCall(WriteAttrReal(o->fid, file, "tfinal", net->tfinal));
  PetscCall(WriteAttrReal(o->fid, file, "output_dt", net->output_dt));
  PetscCall(WriteAttrInt(o->fid, file, "batch", net->batch));

  if (net->S > 0 && net->X && net->Y) {
    H5W(g = H5Gcreate2(o->fid, "/data", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), "%s: cannot create group /data", file);
    d[0] = (hsize_t)net->S;
    d[1] = (hsize_t)net->n[0];
    PetscCall(WriteDataset(g, file, "X", 2, d, net->X));
    d[1] = (hsize_t)net->n[M];
    PetscCall(WriteDataset(g, file, "Y", 2, d, net->Y));
    H5W(H5Gclose(g), "%s: group /data", file);
  }
  H5W(o->traj = H5Gcreate2(o->fid, "/trajectory", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), "%s: cannot create group /trajectory", file);
  PetscCall(OutputTrajectory(o, NULL));
  PetscFunctionReturn(0);
}

static PetscErrorCode OutputWriteState_Rank0(BbdOutput o, PetscReal t, const PetscReal *theta, const PetscReal *thetadot)
{
  BbdNet         net = o->net;
  const PetscInt M   = net->M;
  const char    *file = o->tmp;
  const char    *nm[2][2] = {{"a", "b"}, {"a_dot", "b_dot"}}, *dn[2][2] = {{"W", "b"}, {"W_dot", "b_dot"}};
  const PetscInt nv = (net->dyn == BBD_DYN_DAMPED) ? 2 : 1;
  hid_t          g, lg;
  hsize_t        d[3];
  char           name[32];

  PetscFunctionBeginUser;
  PetscCheck(theta && (nv == 1 || thetadot), PETSC_COMM_SELF, PETSC_ERR_ARG_NULL, "%s: no state to write (damped dynamics needs theta and thetadot)", o->file);
  H5W(g = H5Gcreate2(o->fid, "/state", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), "%s: cannot create group /state", file);
  PetscCall(WriteAttrReal(g, file, "time", t));
  if (net->state_z && net->family == BBD_FAMILY_FIELD) { /* the field solver's neurons: an exact restart */
    d[0] = (hsize_t)M + 1;
    d[1] = (hsize_t)net->n[0];
    PetscCall(WriteDataset(g, file, "z", 2, d, net->state_z));
    if (net->state_zdot && nv == 2) PetscCall(WriteDataset(g, file, "z_dot", 2, d, net->state_zdot)); /* and their velocities (damped) */
  }
  for (PetscInt v = 0; v < nv; v++) {
    const PetscReal *th = v ? thetadot : theta;

    if (net->family == BBD_FAMILY_FIELD) {
      const PetscInt N = net->n[0], na = (net->P + 1) * M * N;

      d[0] = (hsize_t)net->P + 1;
      d[1] = (hsize_t)M;
      d[2] = (hsize_t)N;
      PackField(net, th, o->buf, o->buf + na);
      PetscCall(WriteDataset(g, file, nm[v][0], 3, d, o->buf));
      PetscCall(WriteDataset(g, file, nm[v][1], 2, d + 1, o->buf + na));
    } else {
      for (PetscInt m = 0; m < M; m++) {
        PetscCall(PetscSNPrintf(name, sizeof(name), "layer_%" PetscInt_FMT, m));
        if (!v) H5W(lg = H5Gcreate2(g, name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), "%s: cannot create group /state/%s", file, name);
        else H5W(lg = H5Gopen2(g, name, H5P_DEFAULT), "%s: cannot open group /state/%s", file, name);
        d[0] = (hsize_t)net->n[m + 1];
        d[1] = (hsize_t)net->n[m];
        PetscCall(WriteDataset(lg, file, dn[v][0], 2, d, th + net->woff[m]));
        PetscCall(WriteDataset(lg, file, dn[v][1], 1, d, th + net->boff[m]));
        H5W(H5Gclose(lg), "%s: group /state/%s", file, name);
      }
    }
  }
  H5W(H5Gclose(g), "%s: group /state", file);
  PetscFunctionReturn(0);
}

/* rank 0: close every handle (errors counted, not raised, so cleanup always completes) */
static int OutputClose_Rank0(BbdOutput o)
{
  int bad = 0;

  for (PetscInt k = 0; k < o->nset; k++)
    if (o->set[k].dset >= 0 && H5Dclose(o->set[k].dset) < 0) bad++;
  o->nset = 0;
  if (o->traj >= 0 && H5Gclose(o->traj) < 0) bad++;
  if (o->fid >= 0 && H5Fclose(o->fid) < 0) bad++;
  o->traj = o->fid = -1;
  return bad;
}

static PetscErrorCode OutputFree(BbdOutput *out)
{
  PetscFunctionBeginUser;
  PetscCall(PetscFree((*out)->set));
  PetscCall(PetscFree((*out)->buf));
  PetscCall(PetscFree(*out));
  PetscFunctionReturn(0);
}

/* rank 0 ran a step that returned ierr: make every rank agree */
static PetscErrorCode OutputShareError(BbdOutput o, PetscErrorCode ierr, PetscErrorCode *all)
{
  PetscMPIInt e = (PetscMPIInt)ierr;

  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Bcast(&e, 1, MPI_INT, 0, o->net->comm));
  *all = (PetscErrorCode)e;
  PetscFunctionReturn(0);
}

/*@ BbdOutputCreate - start a result file: root attributes, /data, empty /trajectory.
  Collective. Only rank 0 writes, to FILE.tmp.<pid>; BbdOutputFinish renames it.
  Input: net (defined, laid out), file (final name). Output: out. @*/
PetscErrorCode BbdOutputCreate(BbdNet net, const char *file, BbdOutput *out)
{
  BbdOutput      o;
  PetscErrorCode ierr = 0;
  size_t         len;

  PetscFunctionBeginUser;
  *out = NULL;
  PetscCall(PetscStrlen(file, &len));
  PetscCheck(len > 0 && len < PETSC_MAX_PATH_LEN, net->comm, PETSC_ERR_USER_INPUT, "output file name is empty or too long");
  PetscCall(PetscNew(&o));
  o->net  = net;
  o->fid  = -1;
  o->traj = -1;
  PetscCallMPI(MPI_Comm_rank(net->comm, &o->rank));
  PetscCall(PetscStrncpy(o->file, file, sizeof(o->file)));
  if (o->rank == 0) {
    PetscCall(PetscSNPrintf(o->tmp, sizeof(o->tmp), "%s.tmp.%d", file, (int)getpid()));
    o->maxset = BBD_IO_MAXSETS_FIXED + 4 * net->M + net->M + 1;
    PetscCall(PetscCalloc1(o->maxset, &o->set));
    for (PetscInt k = 0; k < o->maxset; k++) o->set[k].dset = -1;
    PetscCall(PetscMalloc1(PetscMax(PetscMax(net->nparam, net->nz), 1), &o->buf));
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    ierr = OutputCreate_Rank0(o);
    if (ierr) {
      (void)OutputClose_Rank0(o);
      (void)unlink(o->tmp);
    }
  }
  PetscCall(OutputShareError(o, ierr, &ierr));
  if (ierr) PetscCall(OutputFree(&o));
  PetscCheck(!ierr, net->comm, PETSC_ERR_FILE_WRITE, "cannot start the output file %s", file);
  *out = o;
  PetscFunctionReturn(0);
}

/*@ BbdOutputAppend - append one saved time (diagnostics and state) to /trajectory.
  Collective; rank 0 writes its snapshot. @*/
PetscErrorCode BbdOutputAppend(BbdOutput o, const BbdSnapshot *snap)
{
  PetscErrorCode ierr = 0;

  PetscFunctionBeginUser;
  PetscCheck(o, PETSC_COMM_SELF, PETSC_ERR_ARG_NULL, "no output file (BbdOutputCreate not called or already finished)");
  PetscCheck(snap, o->net->comm, PETSC_ERR_ARG_NULL, "no snapshot to append to %s", o->file);
  if (o->rank == 0) ierr = OutputTrajectory(o, snap);
  PetscCall(OutputShareError(o, ierr, &ierr));
  PetscCheck(!ierr, o->net->comm, PETSC_ERR_FILE_WRITE, "cannot append time %g to the output file %s", (double)snap->time, o->file);
  o->T++;
  PetscFunctionReturn(0);
}

/*@ BbdOutputFinish - write /state (time t; theta, and thetadot for damped dynamics),
  close and rename the file to its final name (replacing any old file). Collective;
  the file exists on return. On failure the temporary file is removed (unless the
  rename failed: then it is kept and named) and *out is destroyed either way. @*/
PetscErrorCode BbdOutputFinish(BbdOutput *out, PetscReal t, const PetscReal *theta, const PetscReal *thetadot)
{
  BbdOutput      o = *out;
  PetscErrorCode ierr = 0;
  MPI_Comm       comm;
  char           file[PETSC_MAX_PATH_LEN];
  int            renamed = 1;

  PetscFunctionBeginUser;
  PetscCheck(o, PETSC_COMM_SELF, PETSC_ERR_ARG_NULL, "no output file to finish");
  comm = o->net->comm;
  PetscCall(PetscStrncpy(file, o->file, sizeof(file)));
  if (o->rank == 0) {
    ierr = OutputWriteState_Rank0(o, t, theta, thetadot);
    if (OutputClose_Rank0(o) && !ierr) ierr = PETSC_ERR_FILE_WRITE;
    if (!ierr) {
      renamed = rename(o->tmp, o->file) == 0;
      if (!renamed) {
        (void)PetscError(PETSC_COMM_SELF, __LINE__, PETSC_FUNCTION_NAME, __FILE__, PETSC_ERR_FILE_WRITE, PETSC_ERROR_INITIAL, "cannot rename %s to %s (%s); the complete result is left in %s", o->tmp, o->file, strerror(errno), o->tmp);
        ierr = PETSC_ERR_FILE_WRITE;
      }
    } else (void)unlink(o->tmp);
  }
  PetscCall(OutputShareError(o, ierr, &ierr));
  PetscCall(OutputFree(out));
  PetscCallMPI(MPI_Barrier(comm));
  PetscCheck(!ierr, comm, PETSC_ERR_FILE_WRITE, "cannot complete the output file %s", file);
  PetscFunctionReturn(0);
}

/*@ BbdOutputAbort - close and remove the temporary file (no error if it is already
  gone); destroys *out. Collective; a NULL *out is a no-op. @*/
PetscErrorCode BbdOutputAbort(BbdOutput *out)
{
  BbdOutput      o = *out;
  PetscErrorCode ierr = 0;
  MPI_Comm       comm;

  PetscFunctionBeginUser;
  if (!o) PetscFunctionReturn(0);
  comm = o->net->comm;
  if (o->rank == 0) {
    (void)OutputClose_Rank0(o);
    if (unlink(o->tmp) && errno != ENOENT) ierr = PetscError(PETSC_COMM_SELF, __LINE__, PETSC_FUNCTION_NAME, __FILE__, PETSC_ERR_FILE_WRITE, PETSC_ERROR_INITIAL, "cannot remove the temporary output file %s (%s)", o->tmp, strerror(errno));
  }
  PetscCall(OutputShareError(o, ierr, &ierr));
  PetscCall(OutputFree(out));
  PetscCallMPI(MPI_Barrier(comm));
  PetscCheck(!ierr, comm, PETSC_ERR_FILE_WRITE, "cannot remove the temporary output file");
  PetscFunctionReturn(0);
}

/* ---------------------------------------------------------------- reader (every rank) */

/* Does every component of an absolute path exist? (H5Lexists needs the parents) */
static PetscBool PathExists(hid_t fid, const char *path)
{
  char buf[PETSC_MAX_PATH_LEN];

  if (strlen(path) >= sizeof(buf)) return PETSC_FALSE;
  strcpy(buf, path);
  for (char *p = buf + 1;; p++) {
    if (*p == '/' || !*p) {
      char c = *p;

      *p = 0;
      if (H5Lexists(fid, buf, H5P_DEFAULT) <= 0) return PETSC_FALSE;
      if (!c) return PETSC_TRUE;
      *p = c;
    }
  }
}

/* A string attribute of loc (fixed- or variable-length, scalar or one element),
   returned in *str (PetscMalloc'd; NULL if absent and not required). */
static PetscErrorCode ReadAttrString(hid_t loc, const char *file, const char *where, const char *name, PetscBool required, char **str)
{
  hid_t       attr, type, mtype, space;
  H5T_class_t cls;
  hssize_t    np;
  htri_t      vlen;
  size_t      size;
  herr_t      err;
  char       *s = NULL;

  PetscFunctionBeginUser;
  *str = NULL;
  if (H5Aexists(loc, name) <= 0) {
    PetscCheck(!required, PETSC_COMM_SELF, PETSC_ERR_FILE_READ, "%s: attribute %s%s is missing", file, where, name);
    PetscFunctionReturn(0);
  }
  PetscCheck((attr = H5Aopen(loc, name, H5P_DEFAULT)) >= 0, PETSC_COMM_SELF, PETSC_ERR_FILE_READ, "%s: cannot open attribute %s%s", file, where, name);
  type  = H5Aget_type(attr);
  space = H5Aget_space(attr);
  cls   = type >= 0 ? H5Tget_class(type) : H5T_NO_CLASS;
  np    = space >= 0 ? H5Sget_simple_extent_npoints(space) : -1;
  if (space >= 0) H5Sclose(space);
  if (cls != H5T_STRING || np != 1) {
    if (type >= 0) H5Tclose(type);
    H5Aclose(attr);
    SETERRQ(PETSC_COMM_SELF, PETSC_ERR_USER_INPUT, "%s: attribute %s%s must be a single string", file, where, name);
  }
  vlen  = H5Tis_variable_str(type);
  size  = H5Tget_size(type);
  mtype = H5Tcopy(H5T_C_S1);
  H5Tset_cset(mtype, H5Tget_cset(type)); /* HDF5 does not convert between ASCII and UTF-8 */
  if (vlen > 0) {
    char *p = NULL;

    H5Tset_size(mtype, H5T_VARIABLE);
    err = H5Aread(attr, mtype, &p);
    if (err >= 0 && p) {
      if (PetscStrallocpy(p, &s)) s = NULL;
    }
    if (p) H5free_memory(p);
  } else {
    H5Tset_size(mtype, size + 1);
    H5Tset_strpad(mtype, H5T_STR_NULLTERM);
    if (PetscCalloc1(size + 1, &s)) s = NULL;
    err = s ? H5Aread(attr, mtype, s) : -1;
    if (err < 0 && s) {
      (void)PetscFree(s);
      s = NULL;
    }
  }
  H5Tclose(mtype);
  H5Tclose(type);
  H5Aclose(attr);
  PetscCheck(err >= 0 && s, PETSC_COMM_SELF, PETSC_ERR_FILE_READ, "%s: cannot read string attribute %s%s", file, where, name);
  for (size_t k = strlen(s); k > 0 && s[k - 1] == ' '; k--) s[k - 1] = 0; /* space-padded strings */
  *str = s;
  PetscFunctionReturn(0);
}

/* A numeric attribute with nmin..nmax values, as doubles (isint: must be an
   integer type, values returned exactly as long long in iv). */
static PetscErrorCode ReadAttrNumbers(hid_t loc, const char *file, const char *where, const char *name, PetscBool required, PetscBool isint, PetscInt nmin, PetscInt nmax, PetscReal *rv, long long *iv, PetscInt *n, PetscBool *found)
{
  hid_t       attr, type, space;
  H5T_class_t cls;
  hssize_t    np;
  herr_t      err;

  PetscFunctionBeginUser;
  if (found) *found = PETSC_FALSE;
  if (n) *n = 0;
  if (H5Aexists(loc, name) <= 0) {
    PetscCheck(!required, PETSC_COMM_SELF, PETSC_ERR_FILE_READ, "%s: attribute %s%s is missing", file, where, name);
    PetscFunctionReturn(0);
  }
  PetscCheck((attr = H5Aopen(loc, name, H5P_DEFAULT)) >= 0, PETSC_COMM_SELF, PETSC_ERR_FILE_READ, "%s: cannot open attribute %s%s", file, where, name);
  type  = H5Aget_type(attr);
  space = H5Aget_space(attr);
  cls   = type >= 0 ? H5Tget_class(type) : H5T_NO_CLASS;
  np    = space >= 0 ? H5Sget_simple_extent_npoints(space) : -1;
  if (type >= 0) H5Tclose(type);
  if (space >= 0) H5Sclose(space);
  if (!(cls == H5T_INTEGER || (!isint && cls == H5T_FLOAT))) {
    H5Aclose(attr);
    SETERRQ(PETSC_COMM_SELF, PETSC_ERR_USER_INPUT, "%s: attribute %s%s must be %s", file, where, name, isint ? "an integer" : "a number");
  }
  if (np < nmin || np > nmax) {
    H5Aclose(attr);
    if (nmin == nmax) SETERRQ(PETSC_COMM_SELF, PETSC_ERR_USER_INPUT, "%s: attribute %s%s has %lld values, expected %" PetscInt_FMT, file, where, name, (long long)np, nmin);
    SETERRQ(PETSC_COMM_SELF, PETSC_ERR_USER_INPUT, "%s: attribute %s%s has %lld values, expected %" PetscInt_FMT " to %" PetscInt_FMT, file, where, name, (long long)np, nmin, nmax);
  }
  err = isint ? H5Aread(attr, H5T_NATIVE_LLONG, iv) : H5Aread(attr, H5T_NATIVE_DOUBLE, rv);
  H5Aclose(attr);
  PetscCheck(err >= 0, PETSC_COMM_SELF, PETSC_ERR_FILE_READ, "%s: cannot read attribute %s%s", file, where, name);
  for (hssize_t k = 0; k < np; k++) {
    if (isint) PetscCheck(iv[k] >= PETSC_MIN_INT && iv[k] <= PETSC_MAX_INT, PETSC_COMM_SELF, PETSC_ERR_USER_INPUT, "%s: attribute %s%s = %lld is out of range", file, where, name, iv[k]);
    else PetscCheck(!PetscIsInfOrNanReal(rv[k]), PETSC_COMM_SELF, PETSC_ERR_USER_INPUT, "%s: attribute %s%s[%lld] = %g is not finite", file, where, name, (long long)k, (double)rv[k]);
  }
  if (n) *n = (PetscInt)np;
  if (found) *found = PETSC_TRUE;
  PetscFunctionReturn(0);
}

static PetscErrorCode ReadAttrInt(hid_t loc, const char *file, const char *name, PetscBool required, PetscInt *v, PetscBool *found)
{
  long long iv;
  PetscBool f;

  PetscFunctionBeginUser;
  PetscCall(ReadAttrNumbers(loc, file, "", name, required, PETSC_TRUE, 1, 1, NULL, &iv, NULL, &f));
  if (f) *v = (PetscInt)iv;
  if (found) *found = f;
  PetscFunctionReturn(0);
}

static PetscErrorCode ReadAttrReal(hid_t loc, const char *file, const char *where, const char *name, PetscBool required, PetscReal *v, PetscBool *found)
{
  PetscFunctionBeginUser;
  PetscCall(ReadAttrNumbers(loc, file, where, name, required, PETSC_FALSE, 1, 1, v, NULL, NULL, found));
  PetscFunctionReturn(0);
}

static void FormatShape(char *s, size_t len, int rank, const hsize_t *d)
{
  size_t k = (size_t)snprintf(s, len, "[");

  for (int i = 0; i < rank && k < len; i++) k += (size_t)snprintf(s + k, len - k, "%s%llu", i ? ", " : "", (unsigned long long)d[i]);
  if (k < len) snprintf(s + k, len - k, "]");
}

/* Shape of a numeric dataset of the given rank; dims[k] > 0 on input must match. */
static PetscErrorCode ReadDatasetShape(hid_t fid, const char *file, const char *path, int rank, hsize_t *dims)
{
  hid_t       dset, type, space;
  H5T_class_t cls;
  int         r;
  hsize_t     fd[H5S_MAX_RANK];
  PetscBool   ok;
  char        want[128], got[128];

  PetscFunctionBeginUser;
  PetscCheck(PathExists(fid, path), PETSC_COMM_SELF, PETSC_ERR_FILE_READ, "%s: dataset %s is missing", file, path);
  PetscCheck((dset = H5Dopen2(fid, path, H5P_DEFAULT)) >= 0, PETSC_COMM_SELF, PETSC_ERR_FILE_READ, "%s: cannot open dataset %s", file, path);
  type  = H5Dget_type(dset);
  space = H5Dget_space(dset);
  cls   = type >= 0 ? H5Tget_class(type) : H5T_NO_CLASS;
  r     = space >= 0 ? H5Sget_simple_extent_ndims(space) : -1;
  if (r >= 0 && r <= H5S_MAX_RANK && H5Sget_simple_extent_dims(space, fd, NULL) < 0) r = -1;
  if (type >= 0) H5Tclose(type);
  if (space >= 0) H5Sclose(space);
  H5Dclose(dset);
  PetscCheck(cls == H5T_FLOAT || cls == H5T_INTEGER, PETSC_COMM_SELF, PETSC_ERR_USER_INPUT, "%s: dataset %s must hold numbers", file, path);
  PetscCheck(r >= 0, PETSC_COMM_SELF, PETSC_ERR_FILE_READ, "%s: cannot read the shape of dataset %s", file, path);
  ok = (PetscBool)(r == rank);
  for (int k = 0; ok && k < rank; k++) ok = (PetscBool)(fd[k] > 0 && (dims[k] == 0 || dims[k] == fd[k]));
  if (!ok) {
    FormatShape(want, sizeof(want), rank, dims);
    FormatShape(got, sizeof(got), r, fd);
    SETERRQ(PETSC_COMM_SELF, PETSC_ERR_USER_INPUT, "%s: dataset %s has shape %s, expected %s%s", file, path, got, want, rank == 2 && dims[0] == 0 ? " (0: any length >= 1)" : "");
  }
  for (int k = 0; k < rank; k++) dims[k] = fd[k];
  PetscFunctionReturn(0);
}

/* Read a dataset of exactly shape dims into v and check every value is finite. */
static PetscErrorCode ReadDataset(hid_t fid, const char *file, const char *path, int rank, const hsize_t *dims, PetscReal *v)
{
  hsize_t d[H5S_MAX_RANK], n = 1;
  hid_t   dset;
  herr_t  err;

  PetscFunctionBeginUser;
  for (int k = 0; k < rank; k++) n *= (d[k] = dims[k]);
  PetscCall(ReadDatasetShape(fid, file, path, rank, d));
  PetscCheck((dset = H5Dopen2(fid, path, H5P_DEFAULT)) >= 0, PETSC_COMM_SELF, PETSC_ERR_FILE_READ, "%s: cannot open dataset %s", file, path);
  err = H5Dread(dset, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, v);
  H5Dclose(dset);
  PetscCheck(err >= 0, PETSC_COMM_SELF, PETSC_ERR_FILE_READ, "%s: cannot read dataset %s (corrupt or truncated file?)", file, path);
  for (hsize_t k = 0; k < n; k++) {
    if (PetscIsInfOrNanReal(v[k])) {
      hsize_t idx[H5S_MAX_RANK], r = k;
      char    s[128];

      for (int i = rank - 1; i >= 0; i--) {
        idx[i] = r % dims[i];
        r /= dims[i];
      }
      FormatShape(s, sizeof(s), rank, idx);
      SETERRQ(PETSC_COMM_SELF, PETSC_ERR_USER_INPUT, "%s: dataset %s has the non-finite value %g at index %s", file, path, (double)v[k], s);
    }
  }
  PetscFunctionReturn(0);
}

/* Open file for reading; *fid < 0 never returned (error instead). */
static PetscErrorCode StateOpen(const char *file, hid_t *fid)
{
  PetscBool exists;
  htri_t    ish5;
  hid_t     fapl;

  PetscFunctionBeginUser;
  H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
  PetscCall(PetscTestFile(file, 'r', &exists));
  PetscCheck(exists, PETSC_COMM_SELF, PETSC_ERR_FILE_OPEN, "cannot open %s: no such file, or not readable", file);
  ish5 = H5Fis_hdf5(file);
  PetscCheck(ish5 > 0, PETSC_COMM_SELF, PETSC_ERR_FILE_READ, "%s: not an HDF5 file (truncated or foreign?)", file);
  PetscCheck((fapl = H5Pcreate(H5P_FILE_ACCESS)) >= 0, PETSC_COMM_SELF, PETSC_ERR_LIB, "HDF5: cannot create a property list");
  H5Pset_fclose_degree(fapl, H5F_CLOSE_STRONG); /* closing the file closes whatever an error left open */
  *fid = H5Fopen(file, H5F_ACC_RDONLY, fapl);
  H5Pclose(fapl);
  PetscCheck(*fid >= 0, PETSC_COMM_SELF, PETSC_ERR_FILE_READ, "%s: cannot open as HDF5 (truncated or corrupt file?)", file);
  PetscFunctionReturn(0);
}

/* activation: one name for every layer, or exactly M comma-separated names */
static PetscErrorCode ParseActivations(BbdNet net, const char *file, char *list)
{
  char     what[PETSC_MAX_PATH_LEN + 64], *tok, *next;
  PetscInt k = 0;

  PetscFunctionBeginUser;
  PetscCall(PetscSNPrintf(what, sizeof(what), "%s: attribute activation", file));
  if (!strchr(list, ',')) {
    PetscCall(BbdActivationFromString(PETSC_COMM_SELF, what, list, &net->act[0]));
    for (PetscInt m = 1; m < net->M; m++) net->act[m] = net->act[0];
    PetscFunctionReturn(0);
  }
  for (tok = list; tok; tok = next, k++) {
    if ((next = strchr(tok, ','))) *next++ = 0;
    while (*tok == ' ') tok++;
    for (size_t l = strlen(tok); l > 0 && tok[l - 1] == ' '; l--) tok[l - 1] = 0;
    PetscCheck(k < net->M, PETSC_COMM_SELF, PETSC_ERR_USER_INPUT, "%s: attribute activation lists more than depth = %" PetscInt_FMT " names", file, net->M);
    PetscCall(BbdActivationFromString(PETSC_COMM_SELF, what, tok, &net->act[k]));
  }
  PetscCheck(k == net->M, PETSC_COMM_SELF, PETSC_ERR_USER_INPUT, "%s: attribute activation lists %" PetscInt_FMT " names, expected one or depth = %" PetscInt_FMT, file, k, net->M);
  PetscFunctionReturn(0);
}

static PetscErrorCode ReadDefinition_Private(BbdNet net, hid_t fid, const char *file)
{
  char          *s, what[PETSC_MAX_PATH_LEN + 64];
  PetscEnum      e;
  PetscBool      found;
  PetscInt       M = 0, version = 0, periodic = 0, residual = 0, nk = 0;
  long long     *w;
  PetscReal      rho = 0, h = 0, eta = 0, gamma = 0, kappa[BBD_MAX_MOMENTS] = {0};
  BbdFamily      family;
  PetscErrorCode ierr;

  PetscFunctionBeginUser;
  PetscCall(ReadAttrInt(fid, file, "version", PETSC_FALSE, &version, &found));
  PetscCheck(!found || version <= BBD_VERSION, PETSC_COMM_SELF, PETSC_ERR_USER_INPUT, "%s: layout version %" PetscInt_FMT " is newer than this program's (%d): update BBD-Field", file, version, BBD_VERSION);
  PetscCall(ReadAttrString(fid, file, "", "family", PETSC_TRUE, &s));
  ierr = PetscEnumFind(BbdFamilies, s, &e, &found);
  PetscCall(PetscStrncpy(what, s, sizeof(what)));
  PetscCall(PetscFree(s));
  PetscCheck(!ierr && found, PETSC_COMM_SELF, PETSC_ERR_USER_INPUT, "%s: attribute family is \"%s\", expected dense or field", file, what);
  family = (BbdFamily)e;

  PetscCall(ReadAttrInt(fid, file, "depth", PETSC_TRUE, &M, NULL));
  PetscCheck(M >= 1, PETSC_COMM_SELF, PETSC_ERR_USER_INPUT, "%s: attribute depth = %" PetscInt_FMT " must be >= 1", file, M);
  PetscCall(PetscMalloc1(M + 1, &w));
  ierr = ReadAttrNumbers(fid, file, "", "widths", PETSC_TRUE, PETSC_TRUE, M + 1, M + 1, NULL, w, NULL, NULL);
  if (ierr) PetscCall(PetscFree(w));
  PetscCall(ierr);
  PetscCall(PetscFree(net->n));
  PetscCall(PetscMalloc1(M + 1, &net->n));
  for (PetscInt m = 0; m <= M; m++) net->n[m] = (PetscInt)w[m];
  PetscCall(PetscFree(w));
  for (PetscInt m = 0; m <= M; m++) {
    PetscCheck(net->n[m] >= 1, PETSC_COMM_SELF, PETSC_ERR_USER_INPUT, "%s: attribute widths[%" PetscInt_FMT "] = %" PetscInt_FMT " must be >= 1", file, m, net->n[m]);
    PetscCheck(family != BBD_FAMILY_FIELD || net->n[m] == net->n[0], PETSC_COMM_SELF, PETSC_ERR_USER_INPUT, "%s: field family needs equal widths, but widths[%" PetscInt_FMT "] = %" PetscInt_FMT " != widths[0] = %" PetscInt_FMT, file, m, net->n[m], net->n[0]);
  }

  PetscCall(ReadAttrReal(fid, file, "", "rho", PETSC_TRUE, &rho, NULL));
  PetscCall(ReadAttrReal(fid, file, "", "h", PETSC_TRUE, &h, NULL));
  PetscCheck(h > 0, PETSC_COMM_SELF, PETSC_ERR_USER_INPUT, "%s: attribute h = %g must be > 0", file, (double)h);
  PetscCall(ReadAttrReal(fid, file, "", "eta", PETSC_TRUE, &eta, NULL));
  PetscCall(ReadAttrReal(fid, file, "", "gamma", PETSC_FALSE, &gamma, &found));
  if (found) net->gamma = gamma;
  { /* run settings stored beside the definition: defaults that options may change, so a
       restart visits the same samples (extension of the contract) */
    PetscReal r = 0;
    PetscInt  k = 0;
    char     *so = NULL;
    PetscCall(ReadAttrReal(fid, file, "", "sample_dt", PETSC_FALSE, &r, &found));
    if (found && r >= 0) net->sample_dt = r;
    PetscCall(ReadAttrReal(fid, file, "", "output_dt", PETSC_FALSE, &r, &found));
    if (found && r > 0) net->output_dt = r;
    PetscCall(ReadAttrInt(fid, file, "batch", PETSC_FALSE, &k, &found));
    if (found && k >= 1) net->batch = k;
    PetscCall(ReadAttrInt(fid, file, "seed", PETSC_FALSE, &k, &found));
    if (found && k >= 0) net->seed = (unsigned long)k;
    PetscCall(ReadAttrString(fid, file, "", "sample_order", PETSC_FALSE, &so));
    if (so) {
      if (!strcmp(so, "random")) net->order = BBD_ORDER_RANDOM;
      else if (!strcmp(so, "cyclic")) net->order = BBD_ORDER_CYCLIC;
      PetscCall(PetscFree(so));
    }
  }
  if (family == BBD_FAMILY_FIELD) {
    PetscCall(ReadAttrNumbers(fid, file, "", "kappa", PETSC_TRUE, PETSC_FALSE, 1, BBD_MAX_MOMENTS, kappa, NULL, &nk, NULL));
    for (PetscInt j = 0; j < BBD_MAX_MOMENTS; j++) {
      net->kappa[j] = j < nk ? kappa[j] : 0;
      PetscCheck(net->kappa[j] >= 0, PETSC_COMM_SELF, PETSC_ERR_USER_INPUT, "%s: attribute kappa[%" PetscInt_FMT "] = %g must be >= 0", file, j, (double)net->kappa[j]);
    }
    net->P = nk - 1;
  }
  PetscCall(ReadAttrInt(fid, file, "periodic", PETSC_TRUE, &periodic, NULL));
  PetscCall(ReadAttrInt(fid, file, "residual", PETSC_FALSE, &residual, NULL));

  net->family   = family;
  net->M        = M;
  net->rho      = rho;
  net->h        = h;
  net->eta      = eta;
  net->periodic = periodic ? PETSC_TRUE : PETSC_FALSE;
  net->residual = residual ? PETSC_TRUE : PETSC_FALSE;
  net->dy       = family == BBD_FAMILY_FIELD ? 1.0 / net->n[0] : 1.0;

  PetscCall(PetscFree(net->act));
  PetscCall(PetscMalloc1(M, &net->act));
  PetscCall(ReadAttrString(fid, file, "", "activation", PETSC_TRUE, &s));
  ierr = ParseActivations(net, file, s);
  PetscCall(PetscFree(s));
  PetscCall(ierr);

  PetscCall(ReadAttrString(fid, file, "", "loss", PETSC_TRUE, &s));
  PetscCall(PetscSNPrintf(what, sizeof(what), "%s: attribute loss", file));
  ierr = BbdLossFromString(PETSC_COMM_SELF, what, s, &net->loss);
  PetscCall(PetscFree(s));
  PetscCall(ierr);

  PetscCall(ReadAttrString(fid, file, "", "dynamics", PETSC_FALSE, &s));
  if (s) {
    ierr = PetscEnumFind(BbdDynamicsTypes, s, &e, &found);
    if (!ierr && found) net->dyn = (BbdDynamics)e;
    else PetscCall(PetscSNPrintf(what, sizeof(what), "%s", s));
    PetscCall(PetscFree(s));
    PetscCheck(!ierr && found, PETSC_COMM_SELF, PETSC_ERR_USER_INPUT, "%s: attribute dynamics is \"%s\", expected sgd, flow or damped", file, what);
  }
  net->data_in_init = (PetscBool)(PathExists(fid, "/data/X") && PathExists(fid, "/data/Y"));
  net->fromfile     = PETSC_TRUE;
  PetscFunctionReturn(0);
}

/*@ BbdStateReadDefinition - -bbd_init phase 1: the network's definition from the root
  attributes of file (and the defaults dynamics, gamma). Every rank reads. @*/
PetscErrorCode BbdStateReadDefinition(BbdNet net, const char *file)
{
  hid_t          fid;
  PetscErrorCode ierr;

  PetscFunctionBeginUser;
  PetscCall(StateOpen(file, &fid));
  ierr = ReadDefinition_Private(net, fid, file);
  H5Fclose(fid);
  PetscCall(ierr);
  PetscFunctionReturn(0);
}

static PetscErrorCode ReadState_Private(BbdNet net, hid_t fid, const char *file)
{
  const PetscInt M = net->M, nv = net->dyn == BBD_DYN_DAMPED ? 2 : 1;
  const char    *nm[2][2] = {{"a", "b"}, {"a_dot", "b_dot"}}, *dn[2][2] = {{"W", "b"}, {"W_dot", "b_dot"}};
  hid_t          g;
  hsize_t        d[3];
  char           path[64];
  PetscBool      found;
  PetscReal     *buf = NULL;
  PetscErrorCode ierr = 0;

  PetscFunctionBeginUser;
  PetscCheck(net->theta && (nv == 1 || net->thetadot) && net->woff && net->boff, PETSC_COMM_SELF, PETSC_ERR_ORDER, "BbdStateReadState needs the layout (BbdNetSetLayout) and theta allocated");
  { /* a continuum result holds fields on a grid, not a network's lattice */
    char     *mode = NULL;
    PetscBool grid;
    PetscCall(ReadAttrString(fid, file, "", "mode", PETSC_FALSE, &mode));
    grid = (PetscBool)(mode && !strcmp(mode, "continuum"));
    PetscCall(PetscFree(mode));
    PetscCheck(!grid, PETSC_COMM_SELF, PETSC_ERR_USER_INPUT, "%s holds continuum fields on a grid (attribute mode = continuum, /state/a [P+1, nx, ny]), not a network's lattice: only bbd-field -bbd_mode continuum starts from it", file);
  }
  PetscCheck(PathExists(fid, "/state"), PETSC_COMM_SELF, PETSC_ERR_FILE_READ, "%s: group /state is missing", file);
  PetscCheck((g = H5Gopen2(fid, "/state", H5P_DEFAULT)) >= 0, PETSC_COMM_SELF, PETSC_ERR_FILE_READ, "%s: /state is not a group", file);
  net->t0 = 0;
  ierr    = ReadAttrReal(g, file, "/state:", "time", PETSC_FALSE, &net->t0, &found);
  H5Gclose(g);
  PetscCall(ierr);

  if (nv == 2) PetscCall(PetscArrayzero(net->thetadot, net->nparam));
  if (net->family == BBD_FAMILY_FIELD && PathExists(fid, "/state/z")) { /* optional: written by bbd-field */
    d[0] = (hsize_t)M + 1;
    d[1] = (hsize_t)net->n[0];
    PetscCall(PetscFree(net->state_z));
    PetscCall(PetscMalloc1(net->nz, &net->state_z));
    PetscCall(ReadDataset(fid, file, "/state/z", 2, d, net->state_z));
    if (nv == 2 && PathExists(fid, "/state/z_dot")) { /* optional: written by bbd-field's damped runs */
      PetscCall(PetscFree(net->state_zdot));
      PetscCall(PetscMalloc1(net->nz, &net->state_zdot));
      PetscCall(ReadDataset(fid, file, "/state/z_dot", 2, d, net->state_zdot));
    }
  }
  if (net->family == BBD_FAMILY_FIELD) {
    const PetscInt N = net->n[0], na = (net->P + 1) * M * N;

    PetscCall(PetscMalloc1(na + M * N, &buf));
    for (PetscInt v = 0; v < nv && !ierr; v++) {
      PetscReal *th = v ? net->thetadot : net->theta;
      PetscBool  ha, hb;

      d[0] = (hsize_t)net->P + 1;
      d[1] = (hsize_t)M;
      d[2] = (hsize_t)N;
      PetscCall(PetscSNPrintf(path, sizeof(path), "/state/%s", nm[v][0]));
      ha = (PetscBool)(!v || PathExists(fid, path));
      if (ha) ierr = ReadDataset(fid, file, path, 3, d, buf);
      PetscCall(PetscSNPrintf(path, sizeof(path), "/state/%s", nm[v][1]));
      hb = (PetscBool)(!v || PathExists(fid, path));
      if (hb && !ierr) ierr = ReadDataset(fid, file, path, 2, d + 1, buf + na);
      if (!ierr) UnpackField(net, ha ? buf : NULL, hb ? buf + na : NULL, th);
    }
    PetscCall(PetscFree(buf));
    PetscCall(ierr);
  } else {
    for (PetscInt v = 0; v < nv; v++) {
      PetscReal *th = v ? net->thetadot : net->theta;

      for (PetscInt m = 0; m < M; m++) {
        d[0] = (hsize_t)net->n[m + 1];
        d[1] = (hsize_t)net->n[m];
        PetscCall(PetscSNPrintf(path, sizeof(path), "/state/layer_%" PetscInt_FMT "/%s", m, dn[v][0]));
        if (!v || PathExists(fid, path)) PetscCall(ReadDataset(fid, file, path, 2, d, th + net->woff[m]));
        PetscCall(PetscSNPrintf(path, sizeof(path), "/state/layer_%" PetscInt_FMT "/%s", m, dn[v][1]));
        if (!v || PathExists(fid, path)) PetscCall(ReadDataset(fid, file, path, 1, d, th + net->boff[m]));
      }
    }
  }

  if (net->data_in_init && !net->data_source[0]) {
    const PetscInt n0 = net->n[0], nM = net->n[M];
    char           what[PETSC_MAX_PATH_LEN + 64];

    d[0] = 0;
    d[1] = (hsize_t)n0;
    PetscCall(ReadDatasetShape(fid, file, "/data/X", 2, d));
    d[1] = (hsize_t)nM;
    PetscCall(ReadDatasetShape(fid, file, "/data/Y", 2, d));
    PetscCall(PetscFree(net->X));
    PetscCall(PetscFree(net->Y));
    net->S = (PetscInt)d[0];
    PetscCall(PetscMalloc1(net->S * n0, &net->X));
    PetscCall(PetscMalloc1(net->S * nM, &net->Y));
    d[1] = (hsize_t)n0;
    PetscCall(ReadDataset(fid, file, "/data/X", 2, d, net->X));
    d[1] = (hsize_t)nM;
    PetscCall(ReadDataset(fid, file, "/data/Y", 2, d, net->Y));
    for (PetscInt k = 0; k < net->S; k++) {
      PetscCall(PetscSNPrintf(what, sizeof(what), "%s: /data/Y row %" PetscInt_FMT, file, k));
      PetscCall(BbdLossCheckTarget(PETSC_COMM_SELF, net->loss, what, nM, net->dy, net->Y + k * nM));
    }
  }
  PetscFunctionReturn(0);
}

/*@ BbdStateReadState - -bbd_init phase 2 (after the layout): /state into net->theta
  (and thetadot for damped dynamics; 0 where the file has no velocity), its time into
  net->t0, and /data into net->X, net->Y, net->S when the file holds data and no other
  data source was requested. Every rank reads. @*/
PetscErrorCode BbdStateReadState(BbdNet net, const char *file)
{
  hid_t          fid;
  PetscErrorCode ierr;

  PetscFunctionBeginUser;
  PetscCall(StateOpen(file, &fid));
  ierr = ReadState_Private(net, fid, file);
  H5Fclose(fid);
  PetscCall(ierr);
  PetscFunctionReturn(0);
}

/*@ BbdOutputWriteGrid - field-solver results: /grid/x [nx] (depth) and /grid/y [ny] (width).
  Collective; rank 0 writes. @*/
PetscErrorCode BbdOutputWriteGrid(BbdOutput o, PetscInt nx, const PetscReal *x, PetscInt ny, const PetscReal *y)
{
  PetscErrorCode ierr = 0;

  PetscFunctionBeginUser;
  if (o->rank == 0) {
    hid_t   g = H5Gcreate2(o->fid, "grid", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    hsize_t dx = (hsize_t)nx, dy = (hsize_t)ny;
    if (g < 0) ierr = PETSC_ERR_FILE_WRITE;
    if (!ierr) ierr = WriteDataset(g, o->file, "x", 1, &dx, x);
    if (!ierr) ierr = WriteDataset(g, o->file, "y", 1, &dy, y);
    if (g >= 0) H5Gclose(g);
  }
  PetscCall(OutputShareError(o, ierr, &ierr));
  PetscCheck(!ierr, o->net->comm, PETSC_ERR_FILE_WRITE, "cannot write /grid to %s", o->file);
  PetscFunctionReturn(0);
}

/* Plain HDF5 writers for other writers of the library (the field solver's continuum results);
   rank-0 use, errors as PETSc errors naming the file. */
PetscErrorCode BbdH5WriteArray(hid_t loc, const char *file, const char *name, int rank, const hsize_t *dims, const PetscReal *v)
{
  PetscFunctionBeginUser;
  PetscCall(WriteDataset(loc, file, name, rank, dims, v));
  PetscFunctionReturn(0);
}

PetscErrorCode BbdH5WriteAttrString(hid_t loc, const char *file, const char *name, const char *str)
{
  PetscFunctionBeginUser;
  PetscCall(WriteAttrString(loc, file, name, str));
  PetscFunctionReturn(0);
}

PetscErrorCode BbdH5WriteAttrReal(hid_t loc, const char *file, const char *name, PetscReal v)
{
  PetscFunctionBeginUser;
  PetscCall(WriteAttrReal(loc, file, name, v));
  PetscFunctionReturn(0);
}

PetscErrorCode BbdH5WriteAttrInt(hid_t loc, const char *file, const char *name, long long v)
{
  PetscFunctionBeginUser;
  PetscCall(WriteAttrInt(loc, file, name, v));
  PetscFunctionReturn(0);
}

/*@ BbdStateReadGridInfo - what kind of state file is this: *continuum true when the root
  attribute mode is "continuum" (a bbd-field continuum result: fields on a grid, /state/z and
  /state/a [P+1, NX, NY]); then *nx, *ny from the attributes nx, ny. *t is the /state time
  (0 when absent). Every rank reads. @*/
PetscErrorCode BbdStateReadGridInfo(const char *file, PetscBool *continuum, PetscInt *nx, PetscInt *ny, PetscReal *t)
{
  hid_t          fid, g;
  char          *s = NULL;
  PetscBool      found;
  PetscErrorCode ierr;

  PetscFunctionBeginUser;
  PetscCall(StateOpen(file, &fid));
  *continuum = PETSC_FALSE;
  *t         = 0;
  ierr       = ReadAttrString(fid, file, "", "mode", PETSC_FALSE, &s);
  if (!ierr && s) *continuum = (PetscBool)!strcmp(s, "continuum");
  if (s) (void)PetscFree(s);
  if (!ierr && *continuum) ierr = ReadAttrInt(fid, file, "nx", PETSC_TRUE, nx, NULL);
  if (!ierr && *continuum) ierr = ReadAttrInt(fid, file, "ny", PETSC_TRUE, ny, NULL);
  if (!ierr && !PathExists(fid, "/state")) {
    H5Fclose(fid);
    SETERRQ(PETSC_COMM_SELF, PETSC_ERR_FILE_READ, "%s: group /state is missing", file);
  }
  if (!ierr) {
    if ((g = H5Gopen2(fid, "/state", H5P_DEFAULT)) < 0) {
      H5Fclose(fid);
      SETERRQ(PETSC_COMM_SELF, PETSC_ERR_FILE_READ, "%s: /state is not a group", file);
    }
    ierr = ReadAttrReal(g, file, "/state:", "time", PETSC_FALSE, t, &found);
    H5Gclose(g);
  }
  H5Fclose(fid);
  PetscCall(ierr);
  PetscFunctionReturn(0);
}

/*@ BbdStateReadArray - dataset path of file into *v (PetscMalloc'd): rank and dims as
  expected (dims[k] = 0: any length, the file's comes back in dims). Missing dataset, wrong
  shape, unreadable (truncated) data or non-finite values are errors naming the dataset.
  Every rank reads. @*/
PetscErrorCode BbdStateReadArray(const char *file, const char *path, int rank, hsize_t *dims, PetscReal **v)
{
  hid_t          fid;
  hsize_t        n = 1;
  PetscErrorCode ierr;

  PetscFunctionBeginUser;
  *v = NULL;
  PetscCall(StateOpen(file, &fid));
  ierr = ReadDatasetShape(fid, file, path, rank, dims);
  if (!ierr) {
    for (int k = 0; k < rank; k++) n *= dims[k];
    ierr = PetscMalloc1((size_t)n, v);
  }
  if (!ierr) ierr = ReadDataset(fid, file, path, rank, dims, *v);
  H5Fclose(fid);
  if (ierr) (void)PetscFree(*v);
  PetscCall(ierr);
  PetscFunctionReturn(0);
}

PetscErrorCode BbdH5WriteAttrReals(hid_t loc, const char *file, const char *name, PetscInt n, const PetscReal *v)
{
  PetscFunctionBeginUser;
  PetscCall(WriteAttr(loc, file, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, PETSC_FALSE, (hsize_t)n, v));
  PetscFunctionReturn(0);
}

PetscErrorCode BbdH5WriteAttrInts(hid_t loc, const char *file, const char *name, PetscInt n, const PetscInt *v)
{
  long long *w;

  PetscFunctionBeginUser;
  PetscCall(PetscMalloc1(n, &w));
  for (PetscInt k = 0; k < n; k++) w[k] = v[k];
  PetscCall(WriteAttr(loc, file, name, H5T_STD_I32LE, H5T_NATIVE_LLONG, PETSC_FALSE, (hsize_t)n, w));
  PetscCall(PetscFree(w));
  PetscFunctionReturn(0);
}
