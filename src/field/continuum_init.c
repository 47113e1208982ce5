/* Continuum mode: the initial fields on the grid (built-in, or -bbd_init interpolated onto the
   grid), the forward map and tangent pass on the whole width, and a sample switch. */
#include "fieldimpl.h"

/* does the file hold /state/<name>? */
static PetscErrorCode StateHas(const char *file, const char *name, PetscBool *has)
{
  hid_t fid;

  PetscFunctionBeginUser;
  PetscCheck((fid = H5Fopen(file, H5F_ACC_RDONLY, H5P_DEFAULT)) >= 0, PETSC_COMM_SELF, PETSC_ERR_FILE_OPEN, "-bbd_init %s: cannot open the file", file);
  *has = (PetscBool)(H5Lexists(fid, "/state", H5P_DEFAULT) > 0 && H5Lexists(fid, name, H5P_DEFAULT) > 0);
  H5Fclose(fid);
  PetscFunctionReturn(0);
}

/* -bbd_init onto the continuum grid (docs/theory.md section 15), before BbdNetSetUp: the state
   time into net->t0, the samples (when the file holds them and no -bbd_data is given) into
   net->X, net->Y, and the fields into f->ia, f->ib (a lattice state: a, b at x_m = m/M, cubic
   in depth, extrapolated to x = 1) or f->iz, f->ia (a continuum result: copied when the grid is
   the file's, else interpolated). Every rank reads the whole file. */
PetscErrorCode BbdFieldContinuumRead(BbdField f)
{
  BbdNet          net = f->net;
  const PetscInt  NX = net->M + 1, NY = net->n[0], P = net->P, sx = f->src_nx, sy = f->src_ny;
  const char     *file = net->init_file;
  const PetscReal hs   = f->src_continuum ? 1.0 / (sx - 1) : 1.0 / sx;
  PetscBool       cont;
  PetscInt        nx, ny;
  PetscReal      *xt, *a = NULL, *v = NULL, *tmp;
  hsize_t         d[3];

  PetscFunctionBeginUser;
  if (!file[0]) PetscFunctionReturn(0); /* the built-in fields (BbdFieldContinuumInit) */
  PetscCall(BbdStateReadGridInfo(file, &cont, &nx, &ny, &net->t0));
  PetscCall(PetscMalloc1(NX, &xt));
  for (PetscInt k = 0; k < NX; k++) xt[k] = (PetscReal)k / (NX - 1);
  PetscCall(PetscMalloc3(NX * NY, &f->iz, NX * (P + 1) * NY, &f->ia, NX * NY, &f->ib));
  PetscCall(PetscMalloc1((size_t)(P + 1) * NX * NY, &tmp));
  d[0] = (hsize_t)P + 1;
  d[1] = (hsize_t)sx;
  d[2] = (hsize_t)sy;
  PetscCall(BbdStateReadArray(file, "/state/a", 3, d, &a));
  PetscCall(BbdInterpGrid(P + 1, sx, hs, sy, a, NX, xt, NY, net->periodic, tmp)); /* [P+1][NX][NY] */
  for (PetscInt c = 0; c <= P; c++)
    for (PetscInt k = 0; k < NX; k++) PetscCall(PetscArraycpy(f->ia + (k * (P + 1) + c) * NY, tmp + (c * NX + k) * NY, NY));
  d[0] = (hsize_t)sx;
  d[1] = (hsize_t)sy;
  PetscCall(BbdStateReadArray(file, f->src_continuum ? "/state/z" : "/state/b", 2, d, &v));
  PetscCall(BbdInterpGrid(1, sx, hs, sy, v, NX, xt, NY, net->periodic, f->src_continuum ? f->iz : f->ib));
  PetscCall(PetscFree(a));
  PetscCall(PetscFree(v));
  if (f->src_continuum) PetscCall(StateHas(file, "/state/b", &f->src_b)); /* a result of a run with sample switching */
  if (f->src_b) {
    d[0] = (hsize_t)sx;
    d[1] = (hsize_t)sy;
    PetscCall(BbdStateReadArray(file, "/state/b", 2, d, &v));
    PetscCall(BbdInterpGrid(1, sx, hs, sy, v, NX, xt, NY, net->periodic, f->ib));
    PetscCall(PetscFree(v));
  }
  if (f->damped) { /* damped: the velocities of a damped state, interpolated like z, a, b (a lattice state: z_dot
                      is then the continuum tangent pass, BbdFieldContinuumInit); a state without them: at rest */
    PetscBool   hasa, hasz;
    const char *zname = f->src_continuum ? "/state/z_dot" : "/state/b_dot";
    PetscCall(StateHas(file, "/state/a_dot", &hasa));
    PetscCall(StateHas(file, zname, &hasz));
    PetscCheck(hasa == hasz, PETSC_COMM_SELF, PETSC_ERR_USER_INPUT, "-bbd_init %s: the %s holds %s but not %s (a damped state stores both)", file, f->src_continuum ? "continuum result" : "lattice state", hasa ? "/state/a_dot" : zname, hasa ? zname : "/state/a_dot");
    if (hasa) {
      PetscCall(PetscMalloc2(NX * NY, &f->izd, NX * (P + 1) * NY, &f->iad));
      d[0] = (hsize_t)P + 1;
      d[1] = (hsize_t)sx;
      d[2] = (hsize_t)sy;
      PetscCall(BbdStateReadArray(file, "/state/a_dot", 3, d, &a));
      PetscCall(BbdInterpGrid(P + 1, sx, hs, sy, a, NX, xt, NY, net->periodic, tmp));
      for (PetscInt c = 0; c <= P; c++)
        for (PetscInt k = 0; k < NX; k++) PetscCall(PetscArraycpy(f->iad + (k * (P + 1) + c) * NY, tmp + (c * NX + k) * NY, NY));
      d[0] = (hsize_t)sx;
      d[1] = (hsize_t)sy;
      PetscCall(BbdStateReadArray(file, zname, 2, d, &v));
      if (!f->src_continuum) PetscCall(PetscMalloc1(NX * NY, &f->ibd));
      PetscCall(BbdInterpGrid(1, sx, hs, sy, v, NX, xt, NY, net->periodic, f->src_continuum ? f->izd : f->ibd));
      PetscCall(PetscFree(a));
      PetscCall(PetscFree(v));
    }
  }
  PetscCall(PetscFree(tmp));
  PetscCall(PetscFree(xt));
  if (net->data_in_init && !net->data_source[0]) { /* the samples at y_j = j/NY */
    PetscReal *X, *Y;
    char       what[PETSC_MAX_PATH_LEN + 64];
    d[0] = 0;
    d[1] = (hsize_t)sy;
    PetscCall(BbdStateReadArray(file, "/data/X", 2, d, &X));
    d[0] = 0;
    d[1] = (hsize_t)sy;
    PetscCall(BbdStateReadArray(file, "/data/Y", 2, d, &Y));
    PetscCheck(d[0] >= 1, PETSC_COMM_SELF, PETSC_ERR_USER_INPUT, "%s: dataset /data/Y holds no samples", file);
    PetscCall(PetscFree(net->X));
    PetscCall(PetscFree(net->Y));
    net->S = (PetscInt)d[0];
    PetscCall(PetscMalloc1(net->S * NY, &net->X));
    PetscCall(PetscMalloc1(net->S * NY, &net->Y));
    for (PetscInt s = 0; s < net->S; s++) {
      PetscCall(BbdInterpY(sy, X + s * sy, NY, net->periodic, net->X + s * NY));
      PetscCall(BbdInterpTargets(net->loss, sy, Y + s * sy, NY, net->periodic, net->Y + s * NY));
      PetscCall(PetscSNPrintf(what, sizeof(what), "%s: /data/Y row %" PetscInt_FMT " on the %" PetscInt_FMT "-point grid", file, s, NY));
      PetscCall(BbdLossCheckTarget(PETSC_COMM_SELF, net->loss, what, NY, net->dy, net->Y + s * NY));
    }
    PetscCall(PetscFree(X));
    PetscCall(PetscFree(Y));
  }
  PetscFunctionReturn(0);
}

/* The forward map on the whole width (every rank): z solves d_x z = sum_j a_j D_j sigma(z) + b,
   z(0) = X, by Heun steps (a [NX][P+1][N], b and z [NX][N]) */
static PetscErrorCode ContinuumForward(BbdField f, const PetscReal *a, const PetscReal *b, const PetscReal *X, PetscReal *z)
{
  BbdNet          net = f->net;
  const PetscInt  M = net->M, N = net->n[0], P = net->P;
  const PetscReal h = net->h;
  PetscReal      *s, *k1, *k2, *zp;

  PetscFunctionBeginUser;
  PetscCall(PetscMalloc4(N, &s, N, &k1, N, &k2, N, &zp));
  PetscCall(PetscArraycpy(z, X, N));
  for (PetscInt k = 0; k < M; k++) {
    BbdActivationEval(net->act[0], N, z + k * N, s, NULL, NULL);
    PetscCall(BbdFieldPhi(net, a + k * (P + 1) * N, s, k1));
    for (PetscInt i = 0; i < N; i++) {
      k1[i] += b[k * N + i];
      zp[i] = z[k * N + i] + h * k1[i];
    }
    BbdActivationEval(net->act[0], N, zp, s, NULL, NULL);
    PetscCall(BbdFieldPhi(net, a + (k + 1) * (P + 1) * N, s, k2));
    for (PetscInt i = 0; i < N; i++) z[(k + 1) * N + i] = z[k * N + i] + 0.5 * h * (k1[i] + k2[i] + b[(k + 1) * N + i]);
  }
  PetscCall(PetscFree4(s, k1, k2, zp));
  PetscFunctionReturn(0);
}

/* The tangent pass on the whole width (every rank): the neuron velocity v of parameter
   velocities (w [NX][P+1][N], bt [NX][N]) at the neurons z, d_x v = sum_j w_j D_j s +
   sum_j a_j D_j (s' v) + b_t, v(0) = X_t = 0 (Heun) */
static PetscErrorCode ContinuumVelocity(BbdField f, const PetscReal *z, const PetscReal *a, const PetscReal *w, const PetscReal *bt, PetscReal *v)
{
  BbdNet          net = f->net;
  const PetscInt  M = net->M, N = net->n[0], P = net->P;
  const PetscReal h = net->h;
  PetscReal      *s, *ds, *u, *k1, *k2, *zp;

  PetscFunctionBeginUser;
  PetscCall(PetscMalloc6(N, &s, N, &ds, N, &u, N, &k1, N, &k2, N, &zp));
  PetscCall(PetscArrayzero(v, N));
  for (PetscInt k = 0; k < M; k++) {
    BbdActivationEval(net->act[0], N, z + k * N, s, ds, NULL);
    PetscCall(BbdFieldPhi(net, w + k * (P + 1) * N, s, k1));
    for (PetscInt i = 0; i < N; i++) u[i] = ds[i] * v[k * N + i];
    PetscCall(BbdFieldPhi(net, a + k * (P + 1) * N, u, k2));
    for (PetscInt i = 0; i < N; i++) {
      k1[i] += k2[i] + bt[k * N + i];
      zp[i] = v[k * N + i] + h * k1[i];
    }
    BbdActivationEval(net->act[0], N, z + (k + 1) * N, s, ds, NULL);
    for (PetscInt i = 0; i < N; i++) u[i] = ds[i] * zp[i];
    PetscCall(BbdFieldPhi(net, a + (k + 1) * (P + 1) * N, u, k2));
    for (PetscInt i = 0; i < N; i++) zp[i] = k2[i] + bt[(k + 1) * N + i];
    PetscCall(BbdFieldPhi(net, w + (k + 1) * (P + 1) * N, s, k2));
    for (PetscInt i = 0; i < N; i++) v[(k + 1) * N + i] = v[k * N + i] + 0.5 * h * (k1[i] + k2[i] + zp[i]);
  }
  PetscCall(PetscFree6(s, ds, u, k1, k2, zp));
  PetscFunctionReturn(0);
}

/* The initial fields on the grid (built-in, or from -bbd_init by BbdFieldContinuumRead) and
   z(x, y) of the sample in use by Heun steps of the forward map (every rank computes the full
   width: it is done once); a continuum result gives z itself. */
PetscErrorCode BbdFieldContinuumInit(BbdField f)
{
  BbdNet          net = f->net;
  const PetscInt  M = net->M, N = net->n[0], P = net->P, NX = M + 1;
  PetscReal      *a, *b, *z, *ab = NULL, *bb = NULL;
  PetscInt        idx[1];
  PetscScalar  ***u;

  PetscFunctionBeginUser;
  PetscCall(BbdNetBatchSamples(net, net->t0, idx));
  f->sample = idx[0];
  PetscCall(PetscMalloc3((P + 1) * N * NX, &ab, N * NX, &bb, N * NX, &z));
  a = f->ia ? f->ia : ab;
  b = f->ib ? f->ib : bb;
  if (!net->init_file[0])
    for (PetscInt k = 0; k < NX; k++)
      for (PetscInt i = 0; i < N; i++) {
        PetscReal aj[BBD_MAX_MOMENTS];
        BbdFieldAnalytic(P, (PetscReal)k / M, (PetscReal)i / N, aj, &b[k * N + i]);
        for (PetscInt c = 0; c <= P; c++) a[(k * (P + 1) + c) * N + i] = aj[c];
      }
  PetscCheck(f->bi < 0 || !f->src_continuum || f->src_b, f->comm, PETSC_ERR_USER_INPUT, "-bbd_sample_dt with -bbd_init %s: sample switching in continuum mode needs the bias field b, and this continuum result holds no /state/b (it was run without switching); start from a lattice state or the built-in fields, or run without -bbd_sample_dt", net->init_file);
  if (f->src_continuum) PetscCall(PetscArraycpy(z, f->iz, NX * N)); /* the file's own z(x, y) */
  else PetscCall(ContinuumForward(f, a, b, net->X + f->sample * N, z)); /* d_x z = Phi(a, sigma(z)) + b */
  if (f->ibd) { /* a damped lattice state: z_dot = v solves d_x v = sum_j a_j' D_j s + sum_j a_j D_j (s' v) + b', v(0) = 0 (Heun) */
    PetscCall(ContinuumVelocity(f, z, a, f->iad, f->ibd, f->izd));
    PetscCall(PetscFree(f->ibd));
  }
  for (PetscInt k = 0; k < M; k++) /* the net's parameters: the fields at the grid's layers x_k, k < M (b: continuum results hold none) */
    for (PetscInt i = 0; i < N; i++) {
      for (PetscInt c = 0; c <= P; c++) net->theta[net->woff[k] + c * N + i] = a[(k * (P + 1) + c) * N + i];
      net->theta[net->boff[k] + i] = f->src_continuum && !f->src_b ? 0 : b[k * N + i];
    }
  PetscCall(DMDAVecGetArrayDOF(f->da, f->U, &u));
  for (PetscInt j = f->ys; j < f->ys + f->ym; j++)
    for (PetscInt k = 0; k < NX; k++) {
      u[j][k][0] = z[k * N + j];
      for (PetscInt c = 0; c <= P; c++) u[j][k][1 + c] = a[(k * (P + 1) + c) * N + j];
      if (f->damped) { /* at rest, or the velocities of a damped continuum result */
        u[j][k][P + 2] = f->izd ? f->izd[k * N + j] : 0;
        for (PetscInt c = 0; c <= P; c++) u[j][k][P + 3 + c] = f->iad ? f->iad[(k * (P + 1) + c) * N + j] : 0;
      }
      if (f->bi >= 0) u[j][k][f->bi] = b[k * N + j];
    }
  PetscCall(DMDAVecRestoreArrayDOF(f->da, f->U, &u));
  PetscCall(PetscFree3(ab, bb, z));
  PetscFunctionReturn(0);
}

/* A sample switch (SGD in continuous time): a, b (damped: and their velocities w, b_t) are
   continuous; z jumps to the forward map of the new sample, z_dot to its tangent pass. b is
   carried as a field of its own when switching is on (f->bi), so this is exact. Ftmp: work. */
PetscErrorCode BbdFieldContinuumSwitch(BbdField f, PetscInt sample, Vec Ftmp)
{
  BbdNet             net = f->net;
  const PetscInt     M = net->M, N = net->n[0], P = net->P, NX = M + 1, dof = f->dof, V = P + 2;
  const PetscScalar *all;
  PetscReal         *a, *b, *z, *w = NULL, *bt = NULL, *v = NULL;
  PetscScalar     ***u;

  PetscFunctionBeginUser;
  PetscCall(PetscMalloc3((P + 1) * NX * N, &a, NX * N, &b, NX * N, &z));
  if (f->damped) { /* b_t of the state before the switch: the b-component of the right-hand side */
    PetscCall(PetscMalloc3((P + 1) * NX * N, &w, NX * N, &bt, NX * N, &v));
    PetscCall(BbdFieldRHSContinuum(NULL, 0, f->U, Ftmp, f));
    PetscCall(BbdFieldGatherVec(f, Ftmp, &all));
    for (PetscInt i = 0; i < N; i++)
      for (PetscInt k = 0; k < NX; k++) bt[k * N + i] = all[(i * NX + k) * dof + f->bi];
    PetscCall(VecRestoreArrayRead(f->Uall, &all));
  }
  PetscCall(BbdFieldGatherAll(f, &all));
  for (PetscInt i = 0; i < N; i++)
    for (PetscInt k = 0; k < NX; k++) {
      const PetscScalar *p = all + (i * NX + k) * dof;
      b[k * N + i]         = p[f->bi];
      for (PetscInt c = 0; c <= P; c++) a[(k * (P + 1) + c) * N + i] = p[1 + c];
      if (f->damped)
        for (PetscInt c = 0; c <= P; c++) w[(k * (P + 1) + c) * N + i] = p[V + 1 + c];
    }
  PetscCall(VecRestoreArrayRead(f->Uall, &all));
  f->sample = sample;
  PetscCall(ContinuumForward(f, a, b, net->X + sample * N, z));
  if (f->damped) PetscCall(ContinuumVelocity(f, z, a, w, bt, v));
  PetscCall(DMDAVecGetArrayDOF(f->da, f->U, &u));
  for (PetscInt j = f->ys; j < f->ys + f->ym; j++)
    for (PetscInt k = 0; k < NX; k++) {
      u[j][k][0] = z[k * N + j];
      if (f->damped) u[j][k][V] = v[k * N + j];
    }
  PetscCall(DMDAVecRestoreArrayDOF(f->da, f->U, &u));
  PetscCall(PetscFree3(a, b, z));
  if (f->damped) PetscCall(PetscFree3(w, bt, v));
  PetscFunctionReturn(0);
}
