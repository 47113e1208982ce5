static const char help[] = "t201: HDF5 output and -bbd_init reading: round trip, layout, refused files.\n";

/* Writes a field-family (M = 3, N = 4, P = 2, damped, with the field solver's neurons
   net->state_z and velocities net->state_zdot), a dense-family (widths 3,5,2, residual, flow)
   and a dense damped (widths 3,5,2) result with 3 snapshots, reads them back with the readers
   into fresh nets and compares bitwise (doubles pass through HDF5 unchanged) every /state
   dataset: a, b, a_dot, b_dot, z, z_dot; layer_m/W, b, W_dot, b_dot (a flow file's velocity
   reads as 0 where a damped file's must read as written: the fresh net holds 7 before);
   checks the raw layout (shapes, the moment-major transposition of /trajectory/a,
   attributes); then expects a PETSc error, with a message naming the file and the
   culprit, for: a missing file, a text file, a truncated file, widths of the wrong
   length, a missing or wrongly typed attribute, a newer version, a wrong shape and
   a NaN in /state/b. BbdOutputAbort must leave neither the final nor the temporary
   file. Every rank reads; rank 0 prepares the damaged files. */
#include "bbdtest.h"
#include <hdf5.h>
#include <unistd.h>


#define NSNAP 3


static PetscErrorCode IoNetCreate(BbdFamily family, BbdDynamics dyn, BbdNet *net)
{
  BbdNet n;

  PetscFunctionBeginUser;
  PetscCall(BbdNetCreate(PETSC_COMM_WORLD, &n));
  n->family = family;
  n->M      = family == BBD_FAMILY_FIELD ? 3 : 2;
  PetscCall(PetscMalloc1(n->M + 1, &n->n));
  PetscCall(PetscMalloc1(n->M, &n->act));
  for (PetscInt m = 0; m <= n->M; m++) n->n[m] = family == BBD_FAMILY_FIELD ? 4 : (PetscInt[]){3, 5, 2}[m];
  for (PetscInt m = 0; m < n->M; m++) n->act[m] = family == BBD_FAMILY_FIELD && m == 1 ? BBD_ACT_SIN : BBD_ACT_TANH;
  n->P        = 2;
  n->rho      = 1;
  n->h        = family == BBD_FAMILY_FIELD ? 1.0 / 3 : 0.5;
  n->dy       = family == BBD_FAMILY_FIELD ? 0.25 : 1;
  n->kappa[0] = 1, n->kappa[1] = 0.5, n->kappa[2] = 0;
  n->periodic = PETSC_TRUE;
  n->residual = family == BBD_FAMILY_DENSE && dyn != BBD_DYN_DAMPED;
  if (family == BBD_FAMILY_DENSE && !n->residual) n->rho = 0, n->h = 1;
  n->loss     = family == BBD_FAMILY_FIELD ? BBD_LOSS_MSE : BBD_LOSS_HINGE;
  n->dyn      = dyn;
  n->eta = 0.125, n->gamma = 3, n->tfinal = 2, n->output_dt = 1, n->sample_dt = 0.5, n->batch = 1, n->seed = 12345;
  n->order = BBD_ORDER_RANDOM;
  n->S     = 2;
  PetscCall(BbdNetSetLayout(n));
  PetscCall(PetscMalloc1(n->S * n->n[0], &n->X));
  PetscCall(PetscMalloc1(n->S * n->n[n->M], &n->Y));
  for (PetscInt k = 0; k < n->S * n->n[0]; k++) n->X[k] = 0.1 * k - 0.3;
  for (PetscInt k = 0; k < n->S * n->n[n->M]; k++) n->Y[k] = k % 2 ? 1 : -1;
  for (PetscInt k = 0; k < n->nparam; k++) n->theta[k] = PetscSinReal(k + 1.0), n->thetadot[k] = PetscCosReal(k + 1.0);
  if (family == BBD_FAMILY_FIELD) { /* the field solver's neurons and their velocities: written to /state/z, /state/z_dot */
    PetscCall(PetscMalloc1(n->nz, &n->state_z));
    PetscCall(PetscMalloc1(n->nz, &n->state_zdot));
    for (PetscInt k = 0; k < n->nz; k++) n->state_z[k] = PetscSinReal(0.7 * k + 0.3) / 3, n->state_zdot[k] = PetscCosReal(1.3 * k + 0.1) / 7;
  }
  *net = n;
  PetscFunctionReturn(0);
}

/* snapshot k: every value a distinct function of (k, index) */
static void SnapFill(BbdNet net, PetscInt k, BbdSnapshot *s, PetscReal *buf)
{
  PetscReal *p = buf;

  s->time = k * 0.5, s->sample = 10 + k, s->loss = 1 + k, s->L = 2 + k, s->L_bulk = 3 + k, s->L_boundary = 4 + k, s->beta_mismatch = 1e-14 * k;
  s->layer_kinetic = p, p += net->M;
  s->flux = p, p += net->M + 1;
  s->dissipation = p, p += net->M;
  s->energy_rate = p, p += net->M;
  s->defect = p, p += net->M - 1;
  s->theta = p, p += net->nparam;
  s->thetadot = p, p += net->nparam;
  s->z = p, p += net->nz;
  for (PetscReal *q = buf; q < p; q++) *q = 1000 * k + (q - buf) + 0.25;
}

static PetscErrorCode WriteResult(BbdNet net, const char *file)
{
  BbdOutput   out;
  BbdSnapshot s;
  PetscReal  *buf;

  PetscFunctionBeginUser;
  PetscCall(PetscMalloc1(5 * net->M + 2 * net->nparam + net->nz, &buf));
  PetscCall(BbdOutputCreate(net, file, &out));
  for (PetscInt k = 0; k < NSNAP; k++) {
    SnapFill(net, k, &s, buf);
    PetscCall(BbdOutputAppend(out, &s));
  }
  PetscCall(BbdOutputFinish(&out, 2.5, net->theta, net->thetadot));
  PetscCall(PetscFree(buf));
  PetscFunctionReturn(0);
}

/* read file into a fresh net (definition, layout, state) and compare with ref */
static PetscErrorCode ReadAndCompare(BbdNet ref, const char *file)
{
  BbdNet    net;
  PetscBool damped = (PetscBool)(ref->dyn == BBD_DYN_DAMPED);

  PetscFunctionBeginUser;
  PetscCall(BbdNetCreate(PETSC_COMM_WORLD, &net));
  PetscCall(BbdStateReadDefinition(net, file));
  CHECK(net->family == ref->family && net->M == ref->M && net->loss == ref->loss && net->dyn == ref->dyn && net->periodic == ref->periodic, "%s: family/depth/loss/dynamics/periodic differ", file);
  CHECK(net->rho == ref->rho && net->h == ref->h && net->eta == ref->eta && net->gamma == ref->gamma && net->dy == ref->dy, "%s: rho/h/eta/gamma/dy differ", file);
  CHECK(net->fromfile && net->data_in_init, "%s: fromfile/data_in_init not set", file);
  if (ref->family == BBD_FAMILY_FIELD) CHECK(net->P == ref->P && net->kappa[0] == 1 && net->kappa[1] == 0.5 && net->kappa[2] == 0, "%s: kappa/P differ", file);
  else CHECK(net->residual == ref->residual, "%s: residual differs", file);
  for (PetscInt m = 0; m <= ref->M && m <= net->M; m++) CHECK(net->n[m] == ref->n[m], "%s: widths[%d] differs", file, (int)m);
  for (PetscInt m = 0; m < ref->M && m < net->M; m++) CHECK(net->act[m] == ref->act[m], "%s: activation of layer %d differs", file, (int)m);
  net->dyn = BBD_DYN_DAMPED; /* dense (flow) file: the velocity must read as 0 */
  PetscCall(BbdNetSetLayout(net));
  for (PetscInt k = 0; k < net->nparam; k++) net->thetadot[k] = 7;
  PetscCall(BbdStateReadState(net, file));
  CHECK(net->t0 == 2.5 && net->S == ref->S, "%s: time %g or S differ", file, (double)net->t0);
  for (PetscInt k = 0; k < net->nparam; k++) {
    const PetscReal vd = damped ? ref->thetadot[k] : 0;
    CHECK(!memcmp(&net->theta[k], &ref->theta[k], sizeof(PetscReal)), "%s: theta[%d] = %g, expected %g", file, (int)k, (double)net->theta[k], (double)ref->theta[k]);
    CHECK(!memcmp(&net->thetadot[k], &vd, sizeof(PetscReal)), "%s: thetadot[%d] = %g, expected %g", file, (int)k, (double)net->thetadot[k], (double)vd);
  }
  /* /state/z, /state/z_dot: the field solver's neurons come back bitwise (none in a dense file) */
  CHECK(!ref->state_z == !net->state_z, "%s: /state/z %s", file, net->state_z ? "read from a file that has none" : "not read");
  CHECK(!ref->state_zdot == !net->state_zdot, "%s: /state/z_dot %s", file, net->state_zdot ? "read from a file that has none" : "not read");
  if (ref->state_z && net->state_z) CHECK(!memcmp(ref->state_z, net->state_z, (size_t)ref->nz * sizeof(PetscReal)), "%s: /state/z does not read back bitwise", file);
  if (ref->state_zdot && net->state_zdot) CHECK(!memcmp(ref->state_zdot, net->state_zdot, (size_t)ref->nz * sizeof(PetscReal)), "%s: /state/z_dot does not read back bitwise", file);
  for (PetscInt k = 0; k < ref->S * ref->n[0]; k++) CHECK(net->X[k] == ref->X[k], "%s: X[%d] differs", file, (int)k);
  for (PetscInt k = 0; k < ref->S * ref->n[ref->M]; k++) CHECK(net->Y[k] == ref->Y[k], "%s: Y[%d] differs", file, (int)k);
  PetscCall(BbdNetDestroy(&net));
  PetscFunctionReturn(0);
}

static void RawShape(hid_t fid, const char *path, int rank, const hsize_t *want)
{
  hsize_t d[8] = {0};
  int     r    = -1;
  hid_t   dset = H5Dopen2(fid, path, H5P_DEFAULT), sp = -1;

  if (dset >= 0 && (sp = H5Dget_space(dset)) >= 0) r = H5Sget_simple_extent_dims(sp, d, NULL);
  if (sp >= 0) H5Sclose(sp);
  if (dset >= 0) H5Dclose(dset);
  CHECK(r == rank, "raw: %s has rank %d, expected %d", path, r, rank);
  for (int k = 0; r == rank && k < rank; k++) CHECK(d[k] == want[k], "raw: %s axis %d is %llu, expected %llu", path, k, (unsigned long long)d[k], (unsigned long long)want[k]);
}

static void RawCheckField(BbdNet net, const char *file)
{
  const hsize_t sa[4] = {NSNAP, 3, 3, 4}, sb[3] = {NSNAP, 3, 4}, sz[3] = {NSNAP, 4, 4}, sd[2] = {NSNAP, 2}, sf[2] = {NSNAP, 4}, st[3] = {3, 3, 4};
  hid_t         fid = H5Fopen(file, H5F_ACC_RDONLY, H5P_DEFAULT), dset, attr, type;
  PetscReal     a[NSNAP][3][3][4], buf[1024];
  BbdSnapshot   s;
  char         *act = NULL;
  long long     sample[NSNAP];

  CHECK(fid >= 0, "raw: cannot open %s", file);
  if (fid < 0) return;
  RawShape(fid, "/trajectory/a", 4, sa), RawShape(fid, "/trajectory/a_dot", 4, sa), RawShape(fid, "/trajectory/b", 3, sb);
  RawShape(fid, "/trajectory/z", 3, sz), RawShape(fid, "/trajectory/symmetry_defect", 2, sd), RawShape(fid, "/trajectory/flux", 2, sf);
  RawShape(fid, "/state/a", 3, st), RawShape(fid, "/state/b_dot", 2, st + 1), RawShape(fid, "/data/X", 2, (hsize_t[]){2, 4});
  RawShape(fid, "/state/a_dot", 3, st), RawShape(fid, "/state/b", 2, st + 1), RawShape(fid, "/state/z", 2, (hsize_t[]){4, 4}), RawShape(fid, "/state/z_dot", 2, (hsize_t[]){4, 4});
  dset = H5Dopen2(fid, "/trajectory/a", H5P_DEFAULT);
  CHECK(H5Dread(dset, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, a) >= 0, "raw: read /trajectory/a");
  H5Dclose(dset);
  for (PetscInt k = 0; k < NSNAP; k++) {
    SnapFill(net, k, &s, buf);
    for (PetscInt j = 0; j < 3; j++)
      for (PetscInt m = 0; m < 3; m++)
        for (PetscInt i = 0; i < 4; i++) CHECK(a[k][j][m][i] == s.theta[net->woff[m] + j * 4 + i], "raw: /trajectory/a[%d][%d][%d][%d] is not a_%d^(%d)_%d", (int)k, (int)j, (int)m, (int)i, (int)j, (int)m, (int)i);
  }
  dset = H5Dopen2(fid, "/trajectory/sample", H5P_DEFAULT);
  CHECK(H5Dread(dset, H5T_NATIVE_LLONG, H5S_ALL, H5S_ALL, H5P_DEFAULT, sample) >= 0 && sample[2] == 12, "raw: /trajectory/sample");
  H5Dclose(dset);
  attr = H5Aopen(fid, "activation", H5P_DEFAULT);
  type = H5Aget_type(attr);
  CHECK(H5Aread(attr, type, &act) >= 0 && act && !strcmp(act, "tanh,sin,tanh"), "raw: activation attribute is \"%s\"", act ? act : "");
  if (act) H5free_memory(act);
  H5Tclose(type), H5Aclose(attr), H5Fclose(fid);
}

static void RawCheckDense(const char *file, PetscBool damped)
{
  hid_t fid = H5Fopen(file, H5F_ACC_RDONLY, H5P_DEFAULT);

  CHECK(fid >= 0, "raw: cannot open %s", file);
  if (fid < 0) return;
  RawShape(fid, "/trajectory/layer_1/W", 3, (hsize_t[]){NSNAP, 2, 5}), RawShape(fid, "/trajectory/layer_0/b_dot", 2, (hsize_t[]){NSNAP, 5});
  RawShape(fid, "/trajectory/z_2", 2, (hsize_t[]){NSNAP, 2}), RawShape(fid, "/trajectory/symmetry_defect", 2, (hsize_t[]){NSNAP, 1});
  RawShape(fid, "/state/layer_0/W", 2, (hsize_t[]){5, 3}), RawShape(fid, "/state/layer_1/b", 1, (hsize_t[]){2});
  if (!damped) CHECK(H5Lexists(fid, "/state/layer_0/W_dot", H5P_DEFAULT) == 0, "raw: flow result has /state/layer_0/W_dot");
  else RawShape(fid, "/state/layer_0/W_dot", 2, (hsize_t[]){5, 3}), RawShape(fid, "/state/layer_1/W_dot", 2, (hsize_t[]){2, 5}), RawShape(fid, "/state/layer_0/b_dot", 1, (hsize_t[]){5}), RawShape(fid, "/state/layer_1/b_dot", 1, (hsize_t[]){2});
  H5Fclose(fid);
}

/* rank 0: copy (the first nbytes of) src to dst */
static void CopyFile(const char *src, const char *dst, long nbytes)
{
  FILE  *in = fopen(src, "rb"), *out = fopen(dst, "wb");
  char   b[4096];
  size_t n;
  long   left = nbytes;

  while (in && out && left > 0 && (n = fread(b, 1, (size_t)PetscMin(left, (long)sizeof(b)), in)) > 0) fwrite(b, 1, n, out), left -= (long)n;
  if (in) fclose(in);
  if (out) fclose(out);
}

/* rank 0: copy src to dst and apply one damage */
typedef enum { DMG_WIDTHS, DMG_NO_RHO, DMG_DEPTH_STRING, DMG_VERSION, DMG_FIXED_LOSS, DMG_SHAPE, DMG_NAN } Damage;

static void Damaged(const char *src, const char *dst, Damage dmg)
{
  hid_t     fid, sp, at, ty, ds;
  long long w[3] = {4, 4, 4}, v = 2;
  PetscReal nan = (PetscReal)NAN, zero[2][3][4] = {{{0}}};
  hsize_t   n   = 3, d[3] = {2, 3, 4}, one = 1, pt[2] = {1, 2};

  CopyFile(src, dst, 1L << 30);
  fid = H5Fopen(dst, H5F_ACC_RDWR, H5P_DEFAULT);
  switch (dmg) {
  case DMG_WIDTHS:
    H5Adelete(fid, "widths");
    sp = H5Screate_simple(1, &n, NULL), at = H5Acreate2(fid, "widths", H5T_STD_I32LE, sp, H5P_DEFAULT, H5P_DEFAULT);
    H5Awrite(at, H5T_NATIVE_LLONG, w), H5Aclose(at), H5Sclose(sp);
    break;
  case DMG_NO_RHO:
    H5Adelete(fid, "rho");
    break;
  case DMG_DEPTH_STRING:
  case DMG_FIXED_LOSS: /* fixed-length, space-padded string: must be accepted */
    H5Adelete(fid, dmg == DMG_FIXED_LOSS ? "loss" : "depth");
    ty = H5Tcopy(H5T_C_S1), H5Tset_size(ty, 8), H5Tset_strpad(ty, H5T_STR_SPACEPAD), sp = H5Screate(H5S_SCALAR);
    at = H5Acreate2(fid, dmg == DMG_FIXED_LOSS ? "loss" : "depth", ty, sp, H5P_DEFAULT, H5P_DEFAULT);
    H5Awrite(at, ty, "mse     "), H5Aclose(at), H5Sclose(sp), H5Tclose(ty);
    if (dmg == DMG_FIXED_LOSS) { /* and a variable-length UTF-8 string, as h5py writes */
      const char *fam = "field";

      H5Adelete(fid, "family");
      ty = H5Tcopy(H5T_C_S1), H5Tset_size(ty, H5T_VARIABLE), H5Tset_cset(ty, H5T_CSET_UTF8), sp = H5Screate(H5S_SCALAR);
      at = H5Acreate2(fid, "family", ty, sp, H5P_DEFAULT, H5P_DEFAULT);
      H5Awrite(at, ty, &fam), H5Aclose(at), H5Sclose(sp), H5Tclose(ty);
    }
    break;
  case DMG_VERSION:
    at = H5Aopen(fid, "version", H5P_DEFAULT), H5Awrite(at, H5T_NATIVE_LLONG, &v), H5Aclose(at);
    break;
  case DMG_SHAPE:
    H5Ldelete(fid, "/state/a", H5P_DEFAULT);
    sp = H5Screate_simple(3, d, NULL), ds = H5Dcreate2(fid, "/state/a", H5T_IEEE_F64LE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Dwrite(ds, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, zero), H5Dclose(ds), H5Sclose(sp);
    break;
  case DMG_NAN:
    ds = H5Dopen2(fid, "/state/b", H5P_DEFAULT), sp = H5Dget_space(ds);
    H5Sselect_elements(sp, H5S_SELECT_SET, 1, pt);
    at = H5Screate_simple(1, &one, NULL);
    H5Dwrite(ds, H5T_NATIVE_DOUBLE, at, sp, H5P_DEFAULT, &nan), H5Sclose(at), H5Sclose(sp), H5Dclose(ds);
    break;
  }
  H5Fclose(fid);
}

/* Expect reading file (definition; state too when state is set) to fail with code and a message containing each of what[] */
static PetscErrorCode ExpectRefused(const char *file, PetscBool state, PetscErrorCode code, const char *w1, const char *w2)
{
  BbdNet         net;
  char           msg[1024] = "", *h1, *h2;
  PetscErrorCode ierr;

  PetscFunctionBeginUser;
  PetscCall(BbdNetCreate(PETSC_COMM_WORLD, &net));
  PetscCall(PetscPushErrorHandler(CatchError, msg));
  ierr = BbdStateReadDefinition(net, file);
  if (state && !ierr) {
    PetscCall(BbdNetSetLayout(net));
    ierr = BbdStateReadState(net, file);
  }
  PetscCall(PetscPopErrorHandler());
  PetscCall(PetscStrstr(msg, w1, &h1));
  PetscCall(PetscStrstr(msg, w2, &h2));
  CHECK(ierr == code && h1 && h2, "%s: expected error %d naming \"%s\" and \"%s\", got %d: \"%s\"", file, (int)code, w1, w2, (int)ierr, msg);
  PetscCall(BbdNetDestroy(&net));
  PetscFunctionReturn(0);
}

int main(int argc, char **argv)
{
  BbdNet      field, dense, densed;
  BbdOutput   out;
  BbdSnapshot s;
  PetscMPIInt rank;
  PetscReal   buf[1024];
  char        tmp[256];
  const char *files[] = {"t201-field.h5", "t201-dense.h5", "t201-x.h5", "t201-trunc.h5", "t201-widths.h5", "t201-norho.h5", "t201-depth.h5", "t201-version.h5", "t201-fixed.h5", "t201-shape.h5", "t201-nan.h5", "t201-dense-damped.h5"};

  PetscCall(PetscInitialize(&argc, &argv, NULL, help));
  PetscCallMPI(MPI_Comm_rank(PETSC_COMM_WORLD, &rank));
  PetscCall(IoNetCreate(BBD_FAMILY_FIELD, BBD_DYN_DAMPED, &field));
  PetscCall(IoNetCreate(BBD_FAMILY_DENSE, BBD_DYN_FLOW, &dense));
  PetscCall(IoNetCreate(BBD_FAMILY_DENSE, BBD_DYN_DAMPED, &densed));
  if (!rank) { /* an old file that the result must replace */
    FILE *f = fopen(files[0], "w");

    if (f) fputs("old\n", f), fclose(f);
  }
  PetscCall(WriteResult(field, files[0]));
  PetscCall(WriteResult(dense, files[1]));
  PetscCall(WriteResult(densed, files[11]));
  PetscCall(ReadAndCompare(field, files[0]));
  PetscCall(ReadAndCompare(dense, files[1]));
  PetscCall(ReadAndCompare(densed, files[11])); /* W_dot, b_dot must be read */
  RawCheckField(field, files[0]);
  RawCheckDense(files[1], PETSC_FALSE);
  RawCheckDense(files[11], PETSC_TRUE);

  if (!rank) {
    FILE *f = fopen(files[2], "w");

    if (f) fputs("this is text, not HDF5\n", f), fclose(f);
    CopyFile(files[0], files[3], 1000);
    for (Damage d = DMG_WIDTHS; d <= DMG_NAN; d++) Damaged(files[0], files[4 + d], d);
  }
  PetscCallMPI(MPI_Barrier(PETSC_COMM_WORLD));
  PetscCall(ExpectRefused("t201-missing.h5", PETSC_FALSE, PETSC_ERR_FILE_OPEN, "t201-missing.h5", "no such file"));
  PetscCall(ExpectRefused(files[2], PETSC_FALSE, PETSC_ERR_FILE_READ, files[2], "not an HDF5 file"));
  PetscCall(ExpectRefused(files[3], PETSC_FALSE, PETSC_ERR_FILE_READ, files[3], "truncated"));
  PetscCall(ExpectRefused(files[4], PETSC_FALSE, PETSC_ERR_USER_INPUT, files[4], "widths has 3 values, expected 4"));
  PetscCall(ExpectRefused(files[5], PETSC_FALSE, PETSC_ERR_FILE_READ, files[5], "rho is missing"));
  PetscCall(ExpectRefused(files[6], PETSC_FALSE, PETSC_ERR_USER_INPUT, files[6], "depth must be an integer"));
  PetscCall(ExpectRefused(files[7], PETSC_FALSE, PETSC_ERR_USER_INPUT, files[7], "version 2"));
  PetscCall(ExpectRefused(files[9], PETSC_TRUE, PETSC_ERR_USER_INPUT, "/state/a has shape [2, 3, 4]", "expected [3, 3, 4]"));
  PetscCall(ExpectRefused(files[10], PETSC_TRUE, PETSC_ERR_USER_INPUT, "/state/b has the non-finite value", "at index [1, 2]"));
  PetscCall(ReadAndCompare(field, files[8])); /* fixed-length loss, UTF-8 family */
  {
    char           msg[1024] = "", *hit;
    PetscErrorCode ierr;

    PetscCall(PetscPushErrorHandler(CatchError, msg));
    ierr = BbdOutputCreate(field, "t201-no-such-dir/r.h5", &out);
    PetscCall(PetscPopErrorHandler());
    PetscCall(PetscStrstr(msg, "t201-no-such-dir/r.h5", &hit));
    CHECK(ierr && hit && !out, "writing into a missing directory: got %d, \"%s\"", (int)ierr, msg);
  }

  /* Abort: the result goes to the temporary name only, and Abort removes it */
  PetscCall(PetscSNPrintf(tmp, sizeof(tmp), "t201-abort.h5.tmp.%d", (int)getpid()));
  PetscCall(BbdOutputCreate(field, "t201-abort.h5", &out));
  SnapFill(field, 0, &s, buf);
  PetscCall(BbdOutputAppend(out, &s));
  if (!rank) CHECK(access(tmp, F_OK) == 0 && access("t201-abort.h5", F_OK) != 0, "while writing, %s must exist and t201-abort.h5 must not", tmp);
  PetscCall(BbdOutputAbort(&out));
  CHECK(!out, "BbdOutputAbort did not clear the handle");
  if (!rank) CHECK(access(tmp, F_OK) != 0 && access("t201-abort.h5", F_OK) != 0, "after BbdOutputAbort, %s or t201-abort.h5 still exists", tmp);
  PetscCall(BbdOutputAbort(&out)); /* a second abort is a no-op */

  PetscCallMPI(MPI_Barrier(PETSC_COMM_WORLD));
  if (!rank && !nfail)
    for (size_t k = 0; k < sizeof(files) / sizeof(files[0]); k++) unlink(files[k]);
  PetscCall(BbdNetDestroy(&field));
  PetscCall(BbdNetDestroy(&dense));
  PetscCall(BbdNetDestroy(&densed));
  if (nfail) printf("t201: %d check(s) failed\n", nfail);
  PetscCall(PetscFinalize());
  return nfail ? 1 : 0;
}
