/* The result file writer (BbdOutput): states and trajectories (docs/output.md; contract:
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
   Errors on rank 0 are broadcast so every rank fails together. Reading: src/io/state.c. */
#include "ioimpl.h"
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

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
  BbdAtomicFile af;                 /* the final name and the temporary one written until the end */
  hid_t       fid, traj;           /* rank 0: the file and /trajectory */
  PetscInt    T;                   /* snapshots written */
  BbdTrajSet *set;
  PetscInt    nset, maxset, cursor;
  PetscReal  *buf;                 /* rank 0: packing buffer */
};

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
    H5W(space = H5Screate_simple(rank + 1, cur, max), "%s: dataset /trajectory/%s", o->af.tmp, name);
    H5W(dcpl = H5Pcreate(H5P_DATASET_CREATE), "%s: dataset /trajectory/%s", o->af.tmp, name);
    H5W(H5Pset_chunk(dcpl, rank + 1, chunk), "%s: dataset /trajectory/%s: chunking", o->af.tmp, name);
    H5W(ts->dset = H5Dcreate2(o->traj, name, ftype, space, H5P_DEFAULT, dcpl, H5P_DEFAULT), "%s: cannot create dataset /trajectory/%s", o->af.tmp, name);
    o->nset = o->cursor;
    H5W(H5Pclose(dcpl), "%s: dataset /trajectory/%s", o->af.tmp, name);
    H5W(H5Sclose(space), "%s: dataset /trajectory/%s", o->af.tmp, name);
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
  H5W(H5Dset_extent(ts->dset, cur), "%s: cannot extend /trajectory/%s", o->af.tmp, name);
  H5W(space = H5Dget_space(ts->dset), "%s: /trajectory/%s", o->af.tmp, name);
  H5W(H5Sselect_hyperslab(space, H5S_SELECT_SET, start, NULL, max, NULL), "%s: /trajectory/%s", o->af.tmp, name);
  H5W(mspace = H5Screate_simple(ts->rank + 1, max, NULL), "%s: /trajectory/%s", o->af.tmp, name);
  H5W(H5Dwrite(ts->dset, ts->mtype, mspace, space, H5P_DEFAULT, v), "%s: cannot write /trajectory/%s at time index %" PetscInt_FMT, o->af.tmp, name, o->T);
  H5W(H5Sclose(mspace), "%s: /trajectory/%s", o->af.tmp, name);
  H5W(H5Sclose(space), "%s: /trajectory/%s", o->af.tmp, name);
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
    PetscCheck(s->layer_kinetic && s->flux && s->dissipation && s->energy_rate && (M == 1 || s->defect) && s->theta && s->thetadot && s->z, PETSC_COMM_SELF, PETSC_ERR_ARG_NULL, "%s: snapshot at t = %g has unset arrays", o->af.tmp, (double)s->time);
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
        H5W(g = H5Gcreate2(o->traj, name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), "%s: cannot create group /trajectory/%s", o->af.tmp, name);
        H5W(H5Gclose(g), "%s: group /trajectory/%s", o->af.tmp, name);
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
  const char    *file = o->af.tmp;
  long long      w[BBD_MAX_MOMENTS], *widths;
  char          *act;
  size_t         len = 1;
  PetscBool      same = PETSC_TRUE;
  hid_t          g;
  hsize_t        d[2];

  PetscFunctionBeginUser;
  o->fid = H5Fcreate(file, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  PetscCheck(o->fid >= 0, PETSC_COMM_SELF, PETSC_ERR_FILE_OPEN, "cannot create the output file %s (temporary name of %s): does the directory exist and is it writable?", file, o->af.file);

  PetscCall(BbdH5WriteAttrString(o->fid, file, "family", BbdFamilies[net->family]));
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
  PetscCall(BbdH5WriteAttrString(o->fid, file, "activation", act));
  PetscCall(PetscFree(act));
  PetscCall(BbdH5WriteAttrString(o->fid, file, "loss", BbdLosses[net->loss]));
  PetscCall(BbdH5WriteAttrString(o->fid, file, "dynamics", BbdDynamicsTypes[net->dyn]));
  PetscCall(BbdH5WriteAttrString(o->fid, file, "sample_order", BbdSampleOrders[net->order]));
  PetscCall(BbdH5WriteAttrInt(o->fid, file, "depth", M));
  PetscCall(PetscMalloc1(M + 1, &widths));
  for (PetscInt m = 0; m <= M; m++) widths[m] = net->n[m];
  PetscCall(BbdH5WriteAttr(o->fid, file, "widths", H5T_STD_I32LE, H5T_NATIVE_LLONG, PETSC_FALSE, (hsize_t)M + 1, widths));
  PetscCall(PetscFree(widths));
  PetscCall(BbdH5WriteAttrReal(o->fid, file, "rho", net->rho));
  PetscCall(BbdH5WriteAttrReal(o->fid, file, "h", net->h));
  PetscCall(BbdH5WriteAttrReal(o->fid, file, "eta", net->eta));
  PetscCall(BbdH5WriteAttrReal(o->fid, file, "gamma", net->gamma));
  if (net->family == BBD_FAMILY_FIELD) PetscCall(BbdH5WriteAttr(o->fid, file, "kappa", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, PETSC_FALSE, (hsize_t)net->P + 1, net->kappa));
  else PetscCall(BbdH5WriteAttrInt(o->fid, file, "residual", net->residual ? 1 : 0));
  PetscCall(BbdH5WriteAttrInt(o->fid, file, "periodic", net->periodic ? 1 : 0));
  PetscCall(BbdH5WriteAttrInt(o->fid, file, "version", BBD_VERSION));
  w[0] = (long long)net->seed;
  PetscCall(BbdH5WriteAttr(o->fid, file, "seed", H5T_STD_I64LE, H5T_NATIVE_LLONG, PETSC_TRUE, 1, w));
  PetscCall(BbdH5WriteAttrReal(o->fid, file, "sample_dt", net->sample_dt));
  PetscCall(BbdH5WriteAttrReal(o->fid, file, "tfinal", net->tfinal));
  PetscCall(BbdH5WriteAttrReal(o->fid, file, "output_dt", net->output_dt));
  PetscCall(BbdH5WriteAttrInt(o->fid, file, "batch", net->batch));

  if (net->S > 0 && net->X && net->Y) {
    H5W(g = H5Gcreate2(o->fid, "/data", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), "%s: cannot create group /data", file);
    d[0] = (hsize_t)net->S;
    d[1] = (hsize_t)net->n[0];
    PetscCall(BbdH5WriteArray(g, file, "X", 2, d, net->X));
    d[1] = (hsize_t)net->n[M];
    PetscCall(BbdH5WriteArray(g, file, "Y", 2, d, net->Y));
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
  const char    *file = o->af.tmp;
  const char    *nm[2][2] = {{"a", "b"}, {"a_dot", "b_dot"}}, *dn[2][2] = {{"W", "b"}, {"W_dot", "b_dot"}};
  const PetscInt nv = (net->dyn == BBD_DYN_DAMPED) ? 2 : 1;
  hid_t          g, lg;
  hsize_t        d[3];
  char           name[32];

  PetscFunctionBeginUser;
  PetscCheck(theta && (nv == 1 || thetadot), PETSC_COMM_SELF, PETSC_ERR_ARG_NULL, "%s: no state to write (damped dynamics needs theta and thetadot)", o->af.file);
  H5W(g = H5Gcreate2(o->fid, "/state", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), "%s: cannot create group /state", file);
  PetscCall(BbdH5WriteAttrReal(g, file, "time", t));
  if (net->state_z && net->family == BBD_FAMILY_FIELD) { /* the field solver's neurons: an exact restart */
    d[0] = (hsize_t)M + 1;
    d[1] = (hsize_t)net->n[0];
    PetscCall(BbdH5WriteArray(g, file, "z", 2, d, net->state_z));
    if (net->state_zdot && nv == 2) PetscCall(BbdH5WriteArray(g, file, "z_dot", 2, d, net->state_zdot)); /* and their velocities (damped) */
  }
  for (PetscInt v = 0; v < nv; v++) {
    const PetscReal *th = v ? thetadot : theta;

    if (net->family == BBD_FAMILY_FIELD) {
      const PetscInt N = net->n[0], na = (net->P + 1) * M * N;

      d[0] = (hsize_t)net->P + 1;
      d[1] = (hsize_t)M;
      d[2] = (hsize_t)N;
      PackField(net, th, o->buf, o->buf + na);
      PetscCall(BbdH5WriteArray(g, file, nm[v][0], 3, d, o->buf));
      PetscCall(BbdH5WriteArray(g, file, nm[v][1], 2, d + 1, o->buf + na));
    } else {
      for (PetscInt m = 0; m < M; m++) {
        PetscCall(PetscSNPrintf(name, sizeof(name), "layer_%" PetscInt_FMT, m));
        if (!v) H5W(lg = H5Gcreate2(g, name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), "%s: cannot create group /state/%s", file, name);
        else H5W(lg = H5Gopen2(g, name, H5P_DEFAULT), "%s: cannot open group /state/%s", file, name);
        d[0] = (hsize_t)net->n[m + 1];
        d[1] = (hsize_t)net->n[m];
        PetscCall(BbdH5WriteArray(lg, file, dn[v][0], 2, d, th + net->woff[m]));
        PetscCall(BbdH5WriteArray(lg, file, dn[v][1], 1, d, th + net->boff[m]));
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

  PetscFunctionBeginUser;
  *out = NULL;
  PetscCall(PetscNew(&o));
  o->net  = net;
  o->fid  = -1;
  o->traj = -1;
  PetscCallMPI(MPI_Comm_rank(net->comm, &o->rank));
  ierr = BbdAtomicFileBegin(&o->af, file); /* every rank: the same name check, so all fail together */
  if (ierr) PetscCall(PetscFree(o));
  PetscCall(ierr);
  if (o->rank == 0) {
    o->maxset = BBD_IO_MAXSETS_FIXED + 4 * net->M + net->M + 1;
    PetscCall(PetscCalloc1(o->maxset, &o->set));
    for (PetscInt k = 0; k < o->maxset; k++) o->set[k].dset = -1;
    PetscCall(PetscMalloc1(PetscMax(PetscMax(net->nparam, net->nz), 1), &o->buf));
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    ierr = OutputCreate_Rank0(o);
    if (ierr) {
      (void)OutputClose_Rank0(o);
      (void)BbdAtomicFileAbort(&o->af);
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
  PetscCheck(snap, o->net->comm, PETSC_ERR_ARG_NULL, "no snapshot to append to %s", o->af.file);
  if (o->rank == 0) ierr = OutputTrajectory(o, snap);
  PetscCall(OutputShareError(o, ierr, &ierr));
  PetscCheck(!ierr, o->net->comm, PETSC_ERR_FILE_WRITE, "cannot append time %g to the output file %s", (double)snap->time, o->af.file);
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

  PetscFunctionBeginUser;
  PetscCheck(o, PETSC_COMM_SELF, PETSC_ERR_ARG_NULL, "no output file to finish");
  comm = o->net->comm;
  PetscCall(PetscStrncpy(file, o->af.file, sizeof(file)));
  if (o->rank == 0) {
    ierr = OutputWriteState_Rank0(o, t, theta, thetadot);
    if (OutputClose_Rank0(o) && !ierr) ierr = PETSC_ERR_FILE_WRITE;
    if (!ierr) ierr = BbdAtomicFileCommit(&o->af); /* on failure the complete file is kept and named */
    else (void)BbdAtomicFileAbort(&o->af);
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
    ierr = BbdAtomicFileAbort(&o->af);
  }
  PetscCall(OutputShareError(o, ierr, &ierr));
  PetscCall(OutputFree(out));
  PetscCallMPI(MPI_Barrier(comm));
  PetscCheck(!ierr, comm, PETSC_ERR_FILE_WRITE, "cannot remove the temporary output file");
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
    if (!ierr) ierr = BbdH5WriteArray(g, o->af.file, "x", 1, &dx, x);
    if (!ierr) ierr = BbdH5WriteArray(g, o->af.file, "y", 1, &dy, y);
    if (g >= 0) H5Gclose(g);
  }
  PetscCall(OutputShareError(o, ierr, &ierr));
  PetscCheck(!ierr, o->net->comm, PETSC_ERR_FILE_WRITE, "cannot write /grid to %s", o->af.file);
  PetscFunctionReturn(0);
}
