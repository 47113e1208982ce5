/* bbd-compare's initial fields (docs/theory.md section 15): a -bbd_init file read once and
   written onto every run's lattice (interpolated) or copied for the continuum run, and a dense
   network coarse-grained onto the (depth, width) grid. */
#include "compareimpl.h"

/* A continuum result holds z and a but not b: b = d_x z - sum_j a_j D_j sigma(z), the forward
   map solved for b, with fourth-order differences in depth (five points, one-sided at the ends)
   and the field stencils in width (docs/theory.md section 15). */
PetscErrorCode BbdCompareFieldSourceBias(FieldSource *src)
{
  BbdNet          net = src->net;
  const PetscInt  n = src->ns, N = net->n[0], P = net->P;
  const PetscReal c = 1.0 / (12 * src->hs);
  PetscReal      *ak, *s, *phi;

  PetscFunctionBeginUser;
  PetscCheck(n >= 5, PETSC_COMM_SELF, PETSC_ERR_USER_INPUT, "-bbd_init %s: a continuum result needs at least 5 depth points (nx = %" PetscInt_FMT ") to recover the bias field b from z", net->init_file, n);
  PetscCall(BbdNetSetLayout(net)); /* work arrays of BbdFieldPhi */
  PetscCall(PetscMalloc1(n * N, &src->b));
  PetscCall(PetscMalloc3((P + 1) * N, &ak, N, &s, N, &phi));
  for (PetscInt k = 0; k < n; k++) {
    const PetscReal *z = src->z;
    for (PetscInt i = 0; i < N; i++) {
      PetscReal d;
#define Z(q) z[(q) * N + i]
      if (k == 0) d = -25 * Z(0) + 48 * Z(1) - 36 * Z(2) + 16 * Z(3) - 3 * Z(4);
      else if (k == 1) d = -3 * Z(0) - 10 * Z(1) + 18 * Z(2) - 6 * Z(3) + Z(4);
      else if (k == n - 2) d = -Z(n - 5) + 6 * Z(n - 4) - 18 * Z(n - 3) + 10 * Z(n - 2) + 3 * Z(n - 1);
      else if (k == n - 1) d = 3 * Z(n - 5) - 16 * Z(n - 4) + 36 * Z(n - 3) - 48 * Z(n - 2) + 25 * Z(n - 1);
      else d = Z(k - 2) - 8 * Z(k - 1) + 8 * Z(k + 1) - Z(k + 2);
#undef Z
      src->b[k * N + i] = c * d;
    }
    for (PetscInt j = 0; j <= P; j++) PetscCall(PetscArraycpy(ak + j * N, src->a + (j * n + k) * N, N));
    BbdActivationEval(net->act[0], N, src->z + k * N, s, NULL, NULL);
    PetscCall(BbdFieldPhi(net, ak, s, phi));
    for (PetscInt i = 0; i < N; i++) src->b[k * N + i] -= phi[i];
  }
  PetscCall(PetscFree3(ak, s, phi));
  PetscFunctionReturn(0);
}

PetscErrorCode BbdCompareFieldSourceRead(MPI_Comm comm, BbdNet net, FieldSource *src)
{
  const char *file = net->init_file;
  PetscInt    nx = 0, ny = 0;
  PetscReal   t;
  hsize_t     d[3];

  PetscFunctionBeginUser;
  src->net = net;
  PetscCall(BbdStateReadGridInfo(file, &src->cont, &nx, &ny, &t));
  for (PetscInt m = 1; m < net->M; m++) PetscCheck(net->act[m] == net->act[0], comm, PETSC_ERR_USER_INPUT, "-bbd_init %s: the continuum needs one activation for all depths (the file's vary by layer)", file);
  if (src->cont) PetscCheck(nx == net->M + 1 && ny == net->n[0], comm, PETSC_ERR_USER_INPUT, "-bbd_init %s: the attributes nx = %" PetscInt_FMT ", ny = %" PetscInt_FMT " of the continuum result disagree with depth = %" PetscInt_FMT " and widths = %" PetscInt_FMT, file, nx, ny, net->M, net->n[0]);
  src->ns = src->cont ? net->M + 1 : net->M;
  src->hs = 1.0 / net->M; /* lattice: M layers; continuum: nx - 1 = M cells */
  d[0]    = (hsize_t)net->P + 1;
  d[1]    = (hsize_t)src->ns;
  d[2]    = (hsize_t)net->n[0];
  PetscCall(BbdStateReadArray(file, "/state/a", 3, d, &src->a));
  PetscCall(BbdStateReadArray(file, src->cont ? "/state/z" : "/state/b", 2, d + 1, src->cont ? &src->z : &src->b));
  if (src->cont) PetscCall(BbdCompareFieldSourceBias(src));
  src->S = 0;
  if (net->data_in_init && !net->data_source[0]) {
    d[0] = 0;
    d[1] = (hsize_t)net->n[0];
    PetscCall(BbdStateReadArray(file, "/data/X", 2, d, &src->X));
    d[0] = 0;
    PetscCall(BbdStateReadArray(file, "/data/Y", 2, d, &src->Y));
    src->S = (PetscInt)d[0];
  }
  PetscFunctionReturn(0);
}

PetscErrorCode BbdCompareFieldSourceDestroy(FieldSource *src)
{
  PetscFunctionBeginUser;
  PetscCall(PetscFree(src->a));
  PetscCall(PetscFree(src->b));
  PetscCall(PetscFree(src->z));
  PetscCall(PetscFree(src->X));
  PetscCall(PetscFree(src->Y));
  PetscCall(BbdNetDestroy(&src->net));
  PetscFunctionReturn(0);
}

/* Rank 0 writes a state at t = 0 with the source's definition: a lattice state of M layers at
   x_m = m/M and width N (the source's fields and samples interpolated onto it: a valid -bbd_init
   of bbd-net), or (copy) the source itself as read, for the continuum run. */
PetscErrorCode BbdCompareFieldSourceWrite(MPI_Comm comm, const FieldSource *src, PetscBool copy, PetscInt M, PetscInt N, const char *out)
{
  BbdNet         net = src->net;
  const PetscInt P = net->P, Ns = net->n[0];
  PetscMPIInt    rank;

  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  if (!rank) {
    BbdAtomicFile af;
    hid_t      fid, g;
    hsize_t    d[3];
    PetscReal *xt, *a, *b, *X = NULL, *Y = NULL, kap[BBD_MAX_MOMENTS];
    PetscInt  *w, nd; /* depth points of the file written */

    if (copy) {
      M = net->M;
      N = Ns;
    }
    nd = copy ? src->ns : M;
    PetscCall(PetscMalloc4(nd, &xt, (P + 1) * nd * N, &a, nd * N, &b, M + 1, &w));
    for (PetscInt m = 0; m < nd; m++) xt[m] = (PetscReal)m / M;
    for (PetscInt m = 0; m <= M; m++) w[m] = N;
    for (PetscInt c = 0; c <= P; c++) kap[c] = net->kappa[c];
    if (src->S) PetscCall(PetscMalloc2(src->S * N, &X, src->S * N, &Y));
    if (copy) {
      PetscCall(PetscArraycpy(a, src->a, (P + 1) * nd * N));
      PetscCall(PetscArraycpy(b, src->cont ? src->z : src->b, nd * N));
      if (src->S) PetscCall(PetscArraycpy(X, src->X, src->S * N));
      if (src->S) PetscCall(PetscArraycpy(Y, src->Y, src->S * N));
    } else {
      PetscCall(BbdInterpGrid(P + 1, src->ns, src->hs, Ns, src->a, M, xt, N, net->periodic, a));
      PetscCall(BbdInterpGrid(1, src->ns, src->hs, Ns, src->b, M, xt, N, net->periodic, b));
      for (PetscInt s = 0; s < src->S; s++) {
        PetscCall(BbdInterpY(Ns, src->X + s * Ns, N, net->periodic, X + s * N));
        PetscCall(BbdInterpTargets(net->loss, Ns, src->Y + s * Ns, N, net->periodic, Y + s * N));
      }
    }
    PetscCall(BbdH5CreateAtomic(out, &af, &fid));
    PetscCall(BbdH5WriteAttrString(fid, af.tmp, "family", "field"));
    if (copy && src->cont) {
      PetscCall(BbdH5WriteAttrString(fid, af.tmp, "mode", "continuum"));
      PetscCall(BbdH5WriteAttrInt(fid, af.tmp, "nx", nd));
      PetscCall(BbdH5WriteAttrInt(fid, af.tmp, "ny", N));
    }
    PetscCall(BbdH5WriteAttrString(fid, af.tmp, "activation", BbdActivations[net->act[0]]));
    PetscCall(BbdH5WriteAttrString(fid, af.tmp, "loss", BbdLosses[net->loss]));
    PetscCall(BbdH5WriteAttrString(fid, af.tmp, "dynamics", "flow"));
    PetscCall(BbdH5WriteAttrString(fid, af.tmp, "source", net->init_file));
    PetscCall(BbdH5WriteAttrInt(fid, af.tmp, "depth", M));
    PetscCall(BbdH5WriteAttrInts(fid, af.tmp, "widths", M + 1, w));
    PetscCall(BbdH5WriteAttrReal(fid, af.tmp, "rho", 1));
    PetscCall(BbdH5WriteAttrReal(fid, af.tmp, "h", 1.0 / M));
    PetscCall(BbdH5WriteAttrReal(fid, af.tmp, "eta", net->eta));
    PetscCall(BbdH5WriteAttrReal(fid, af.tmp, "gamma", net->gamma));
    PetscCall(BbdH5WriteAttrReals(fid, af.tmp, "kappa", P + 1, kap));
    PetscCall(BbdH5WriteAttrInt(fid, af.tmp, "periodic", net->periodic ? 1 : 0));
    PetscCall(BbdH5WriteAttrInt(fid, af.tmp, "version", BBD_VERSION));
    if (src->S) {
      PetscCheck((g = H5Gcreate2(fid, "data", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT)) >= 0, PETSC_COMM_SELF, PETSC_ERR_FILE_WRITE, "%s: /data", af.tmp);
      d[0] = (hsize_t)src->S;
      d[1] = (hsize_t)N;
      PetscCall(BbdH5WriteArray(g, af.tmp, "X", 2, d, X));
      PetscCall(BbdH5WriteArray(g, af.tmp, "Y", 2, d, Y));
      H5Gclose(g);
    }
    PetscCheck((g = H5Gcreate2(fid, "state", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT)) >= 0, PETSC_COMM_SELF, PETSC_ERR_FILE_WRITE, "%s: /state", af.tmp);
    PetscCall(BbdH5WriteAttrReal(g, af.tmp, "time", 0));
    d[0] = (hsize_t)P + 1;
    d[1] = (hsize_t)nd;
    d[2] = (hsize_t)N;
    PetscCall(BbdH5WriteArray(g, af.tmp, "a", 3, d, a));
    PetscCall(BbdH5WriteArray(g, af.tmp, copy && src->cont ? "z" : "b", 2, d + 1, b));
    H5Gclose(g);
    PetscCall(BbdH5CommitAtomic(&af, fid));
    PetscCall(PetscFree4(xt, a, b, w));
    PetscCall(PetscFree2(X, Y));
  }
  PetscCallMPI(MPI_Barrier(comm));
  PetscFunctionReturn(0);
}

/* Coarse-graining a dense network of uniform width N onto the (depth, width) grid (docs/theory.md
   section 15): row i of W^(m) read as a kernel w_k = W[i][i+k] (k taken periodically in
   (-N/2, N/2]) has moments a_0 = sum_k w_k, a_1 = dy sum_k k w_k, a_2 = dy^2/2 sum_k k^2 w_k,
   the a_j of the field network whose radius-1 kernel sum_j a_j S_jk has the same moments. The
   locality remainder |W beyond radius 1| / |W| (Frobenius) is the part of the weights outside
   the field family's stencil, which three moments cannot hold: 0 for a field network, about
   sqrt((N-3)/N) for random dense weights. (A smooth but wide kernel also scores high: the
   diagnostic asks whether the network is a radius-1 field network, not whether some
   continuum limit exists.) */
PetscErrorCode BbdCompareCoarseGrainDense(MPI_Comm comm, BbdNet net, const char *out, PetscReal threshold)
{
  const PetscInt  M = net->M, N = net->n[0];
  const PetscReal dy = 1.0 / N;
  PetscReal      *a, *R, num = 0, den = 0, Rtot;
  PetscMPIInt     rank;

  PetscFunctionBeginUser;
  for (PetscInt m = 0; m <= M; m++) PetscCheck(net->n[m] == N, comm, PETSC_ERR_USER_INPUT, "-bbd_init %s: coarse-graining onto a (depth, width) grid needs one width for all layers (widths[%" PetscInt_FMT "] = %" PetscInt_FMT " != %" PetscInt_FMT ")", net->init_file, m, net->n[m], N);
  PetscCall(PetscCalloc2(3 * M * N, &a, M, &R));
  for (PetscInt m = 0; m < M; m++) {
    const PetscReal *W = net->theta + net->woff[m];
    PetscReal        nm = 0, dm = 0;
    for (PetscInt i = 0; i < N; i++) {
      PetscReal m0 = 0, m1 = 0, m2 = 0;
      for (PetscInt c = 0; c < N; c++) {
        PetscInt k = ((c - i) % N + N) % N;
        if (k > N / 2) k -= N;
        m0 += W[i * N + c];
        m1 += k * W[i * N + c];
        m2 += (PetscReal)k * k * W[i * N + c];
      }
      a[(0 * M + m) * N + i] = m0;
      a[(1 * M + m) * N + i] = dy * m1;
      a[(2 * M + m) * N + i] = 0.5 * dy * dy * m2;
      for (PetscInt c = 0; c < N; c++) { /* weight beyond the field family's stencil radius 1 */
        PetscInt k = ((c - i) % N + N) % N;
        if (k > N / 2) k -= N;
        if (k < -1 || k > 1) nm += W[i * N + c] * W[i * N + c];
        dm += W[i * N + c] * W[i * N + c];
      }
    }
    R[m] = dm > 0 ? PetscSqrtReal(nm / dm) : 0;
    num += nm;
    den += dm;
  }
  Rtot = den > 0 ? PetscSqrtReal(num / den) : 0;
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  if (!rank) {
    BbdAtomicFile    af;
    hid_t   fid, g;
    hsize_t d[3] = {3, (hsize_t)M, (hsize_t)N};
    PetscCall(BbdH5CreateAtomic(out, &af, &fid));
    PetscCall(BbdH5WriteAttrString(fid, af.tmp, "source", net->init_file));
    PetscCheck((g = H5Gcreate2(fid, "coarse", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT)) >= 0, PETSC_COMM_SELF, PETSC_ERR_FILE_WRITE, "%s: /coarse", af.tmp);
    PetscCall(BbdH5WriteArray(g, af.tmp, "a", 3, d, a));
    d[0] = (hsize_t)M;
    PetscCall(BbdH5WriteArray(g, af.tmp, "remainder", 1, d, R));
    PetscCall(BbdH5WriteAttrReal(g, af.tmp, "remainder_total", Rtot));
    PetscCall(BbdH5WriteAttrInt(g, af.tmp, "continuum_applies", Rtot < threshold));
    H5Gclose(g);
    PetscCall(BbdH5CommitAtomic(&af, fid));
  }
  PetscCall(PetscPrintf(comm, "coarse-graining the dense network of %s (depth %" PetscInt_FMT ", width %" PetscInt_FMT ") onto the (depth, width) grid\n", net->init_file, M, N));
  PetscCall(PetscPrintf(comm, "%6s %14s\n", "layer", "remainder"));
  for (PetscInt m = 0; m < M; m++) PetscCall(PetscPrintf(comm, "%6" PetscInt_FMT " %14.4e\n", m, (double)R[m]));
  PetscCall(PetscPrintf(comm, "locality remainder %.4g: %s (threshold %g, -bbd_locality_threshold)\nwrote %s (/coarse/a [3, M, N]: the moments a_0, a_1, a_2; /coarse/remainder [M])\n", (double)Rtot, Rtot < threshold ? "the weights are local: a continuum description applies" : "the weights are not local: the continuum description does not apply to this network", (double)threshold, out));
  PetscCall(PetscFree2(a, R));
  PetscFunctionReturn(0);
}

