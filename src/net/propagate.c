/* Exact passes through one network for one sample (docs/theory.md sections 1-5).
   forward : z^(m+1) = rho z^(m) + h (Phi_m(z^(m)) + b^(m)),   z^(0) = X
   backward: lam^(M) = (1/w) dl/dZ,  lam^(m) = rho lam^(m+1) + h Phi_m'(z^(m))^T lam^(m+1)
   velocity: da_j^(m)/dt = -eta kappa_j lam^(m+1) .* D_j sigma(z^(m)),  db^(m)/dt = -eta lam^(m+1)
             (dense, metric 1: dW^(m)/dt = -eta h lam^(m+1) sigma(z^(m))^T, db^(m)/dt = -eta h lam^(m+1))
   tangent : dz^(m+1) = rho dz^(m) + h (Phi_m'(z^(m)) dz^(m) + Phi_m[thetadot](z^(m)) + db^(m)/dt)
   Field family: Phi_m(z) = sum_j a_j .* D_j sigma(z), D_0 = I, D_1 centred first difference,
   D_2 centred second difference in width (periodic, or zero padding: D_1^T = -D_1 and
   D_2^T = D_2 hold in both cases). Dense: Phi_m(z) = W sigma(z). */
#include "bbdimpl.h"
#include <petscblaslapack.h>

/* u[-1..N] <- v[0..N-1] with the ghost values of the width boundary */
static inline void Pad(PetscInt N, PetscBool periodic, const PetscReal *v, PetscReal *pad)
{
  PetscArraycpy(pad + 1, v, N);
  pad[0]     = periodic ? v[N - 1] : 0;
  pad[N + 1] = periodic ? v[0] : 0;
}

/* out = sum_j a_j .* D_j s  (a: P+1 consecutive arrays of N) */
PetscErrorCode BbdFieldPhi(BbdNet net, const PetscReal *a, const PetscReal *s, PetscReal *out)
{
  const PetscInt  N = net->n[0], P = net->P;
  const PetscReal c1 = 0.5 / net->dy, c2 = 1.0 / (net->dy * net->dy);
  PetscReal      *pad = net->wtmp;
  const PetscReal *u  = pad + 1;

  PetscFunctionBeginUser;
  Pad(N, net->periodic, s, pad);
  if (P == 2) {
    const PetscReal *a0 = a, *a1 = a + N, *a2 = a + 2 * N;
    for (PetscInt i = 0; i < N; i++) out[i] = a0[i] * u[i] + a1[i] * c1 * (u[i + 1] - u[i - 1]) + a2[i] * c2 * (u[i + 1] - 2 * u[i] + u[i - 1]);
  } else {
    for (PetscInt i = 0; i < N; i++) {
      PetscReal r = a[i] * u[i];
      if (P >= 1) r += a[N + i] * c1 * (u[i + 1] - u[i - 1]);
      out[i] = r;
    }
  }
  PetscFunctionReturn(0);
}

/* out = sum_j D_j^T (a_j .* v) = a_0 v - D_1 (a_1 v) + D_2 (a_2 v) */
PetscErrorCode BbdFieldPhiT(BbdNet net, const PetscReal *a, const PetscReal *v, PetscReal *out)
{
  const PetscInt  N = net->n[0], P = net->P;
  const PetscReal c1 = 0.5 / net->dy, c2 = 1.0 / (net->dy * net->dy);
  PetscReal      *p1 = net->wtmp, *p2 = net->wtmp + (N + 2);
  const PetscReal *u1 = p1 + 1, *u2 = p2 + 1;

  PetscFunctionBeginUser;
  if (P >= 1) {
    for (PetscInt i = 0; i < N; i++) p1[i + 1] = a[N + i] * v[i];
    p1[0]     = net->periodic ? p1[N] : 0;
    p1[N + 1] = net->periodic ? p1[1] : 0;
  }
  if (P >= 2) {
    for (PetscInt i = 0; i < N; i++) p2[i + 1] = a[2 * N + i] * v[i];
    p2[0]     = net->periodic ? p2[N] : 0;
    p2[N + 1] = net->periodic ? p2[1] : 0;
  }
  if (P == 2) {
    for (PetscInt i = 0; i < N; i++) out[i] = a[i] * v[i] - c1 * (u1[i + 1] - u1[i - 1]) + c2 * (u2[i + 1] - 2 * u2[i] + u2[i - 1]);
  } else if (P == 1) {
    for (PetscInt i = 0; i < N; i++) out[i] = a[i] * v[i] - c1 * (u1[i + 1] - u1[i - 1]);
  } else {
    for (PetscInt i = 0; i < N; i++) out[i] = a[i] * v[i];
  }
  PetscFunctionReturn(0);
}

/* out[j*N + i] = (D_j s)_i, j = 0..P */
PetscErrorCode BbdFieldDerivatives(BbdNet net, const PetscReal *s, PetscReal *out)
{
  const PetscInt  N = net->n[0], P = net->P;
  const PetscReal c1 = 0.5 / net->dy, c2 = 1.0 / (net->dy * net->dy);
  PetscReal      *pad = net->wtmp2;
  const PetscReal *u  = pad + 1;

  PetscFunctionBeginUser;
  Pad(N, net->periodic, s, pad);
  for (PetscInt i = 0; i < N; i++) out[i] = u[i];
  if (P >= 1)
    for (PetscInt i = 0; i < N; i++) out[N + i] = c1 * (u[i + 1] - u[i - 1]);
  if (P >= 2)
    for (PetscInt i = 0; i < N; i++) out[2 * N + i] = c2 * (u[i + 1] - 2 * u[i] + u[i - 1]);
  PetscFunctionReturn(0);
}

/* dense: out = W v, W row-major [n1][n0] */
static inline void DenseMult(PetscInt n1, PetscInt n0, const PetscReal *W, const PetscReal *v, PetscReal *out)
{
  PetscBLASInt m = (PetscBLASInt)n0, n = (PetscBLASInt)n1, one = 1;
  PetscScalar  alpha = 1, beta = 0;
  BLASgemv_("T", &m, &n, &alpha, W, &m, v, &one, &beta, out, &one);
}

/* dense: out = W^T v */
static inline void DenseMultTranspose(PetscInt n1, PetscInt n0, const PetscReal *W, const PetscReal *v, PetscReal *out)
{
  PetscBLASInt m = (PetscBLASInt)n0, n = (PetscBLASInt)n1, one = 1;
  PetscScalar  alpha = 1, beta = 0;
  BLASgemv_("N", &m, &n, &alpha, W, &m, v, &one, &beta, out, &one);
}

/* Phi_m applied with parameters p (theta or thetadot) to s = sigma(z^(m)): out = Phi */
PetscErrorCode BbdPhi(BbdNet net, PetscInt m, const PetscReal *p, const PetscReal *s, PetscReal *out)
{
  PetscFunctionBeginUser;
  if (net->family == BBD_FAMILY_FIELD) PetscCall(BbdFieldPhi(net, p + net->woff[m], s, out));
  else DenseMult(net->n[m + 1], net->n[m], p + net->woff[m], s, out);
  PetscFunctionReturn(0);
}

/* out = (sum_j D_j^T a_j .*) v, or W^T v (without the sigma' factor) */
PetscErrorCode BbdPhiT(BbdNet net, PetscInt m, const PetscReal *p, const PetscReal *v, PetscReal *out)
{
  PetscFunctionBeginUser;
  if (net->family == BBD_FAMILY_FIELD) PetscCall(BbdFieldPhiT(net, p + net->woff[m], v, out));
  else DenseMultTranspose(net->n[m + 1], net->n[m], p + net->woff[m], v, out);
  PetscFunctionReturn(0);
}

PetscErrorCode BbdForwardFull(BbdNet net, const PetscReal *theta, const PetscReal *X, PetscReal *z, PetscReal *s, PetscReal *d1)
{
  const PetscReal rho = net->rho, h = net->h;

  PetscFunctionBeginUser;
  PetscCall(PetscArraycpy(z, X, net->n[0]));
  for (PetscInt m = 0; m < net->M; m++) {
    const PetscInt   n1 = net->n[m + 1];
    const PetscReal *zm = z + net->zoff[m], *b = theta + net->boff[m];
    PetscReal       *zn = z + net->zoff[m + 1], *sm = s + net->zoff[m];
    BbdActivationEval(net->act[m], net->n[m], zm, sm, d1 ? d1 + net->zoff[m] : NULL, NULL);
    PetscCall(BbdPhi(net, m, theta, sm, zn));
    if (rho != 0)
      for (PetscInt i = 0; i < n1; i++) zn[i] = rho * zm[i] + h * (zn[i] + b[i]);
    else
      for (PetscInt i = 0; i < n1; i++) zn[i] = h * (zn[i] + b[i]);
  }
  PetscFunctionReturn(0);
}

PetscErrorCode BbdForward(BbdNet net, const PetscReal *theta, const PetscReal *X, PetscReal *z)
{
  PetscReal *s;

  PetscFunctionBeginUser;
  PetscCall(PetscMalloc1(net->nz, &s));
  PetscCall(BbdForwardFull(net, theta, X, z, s, NULL));
  PetscCall(PetscFree(s));
  PetscFunctionReturn(0);
}

PetscErrorCode BbdBackwardFull(BbdNet net, const PetscReal *theta, const PetscReal *z, const PetscReal *d1, const PetscReal *Y, PetscReal *lam, PetscReal *loss)
{
  const PetscInt  M = net->M;
  const PetscReal rho = net->rho, h = net->h;

  PetscFunctionBeginUser;
  *loss = BbdLossEval(net->loss, net->n[M], net->dy, z + net->zoff[M], Y, lam + net->zoff[M]);
  for (PetscInt m = M - 1; m >= (net->lam_partial ? 1 : 0); m--) {
    const PetscInt   nm = net->n[m];
    const PetscReal *ln = lam + net->zoff[m + 1], *dm = d1 + net->zoff[m];
    PetscReal       *lm = lam + net->zoff[m];
    PetscCall(BbdPhiT(net, m, theta, ln, lm));
    if (rho != 0)
      for (PetscInt i = 0; i < nm; i++) lm[i] = rho * ln[i] + h * dm[i] * lm[i];
    else
      for (PetscInt i = 0; i < nm; i++) lm[i] = h * dm[i] * lm[i];
  }
  PetscFunctionReturn(0);
}

PetscErrorCode BbdAddVelocity(BbdNet net, const PetscReal *s, const PetscReal *lam, PetscReal scale, PetscReal *vel)
{
  /* dl/db^(m) = h w lam^(m+1); metric c = h dy (field), 1 (dense): v_b = -eta (h w / c) lam */
  const PetscReal cell = net->family == BBD_FAMILY_FIELD ? net->h * net->dy : 1.0;
  const PetscReal ce   = -net->eta * scale * net->h * net->dy / cell;

  PetscFunctionBeginUser;
  for (PetscInt m = 0; m < net->M; m++) {
    const PetscInt   n0 = net->n[m], n1 = net->n[m + 1];
    const PetscReal *l = lam + net->zoff[m + 1], *sm = s + net->zoff[m];
    PetscReal       *vw = vel + net->woff[m], *vb = vel + net->boff[m];
    for (PetscInt i = 0; i < n1; i++) vb[i] += ce * l[i];
    if (net->family == BBD_FAMILY_FIELD) {
      PetscReal *D = net->wtmp + 2 * (n0 + 2);
      PetscCall(BbdFieldDerivatives(net, sm, D));
      for (PetscInt j = 0; j <= net->P; j++) {
        const PetscReal cj = ce * net->kappa[j];
        if (cj == 0) continue;
        for (PetscInt i = 0; i < n0; i++) vw[j * n0 + i] += cj * l[i] * D[j * n0 + i];
      }
    } else {
      for (PetscInt i = 0; i < n1; i++) {
        const PetscReal li = ce * l[i];
        PetscReal      *row = vw + i * n0;
        for (PetscInt k = 0; k < n0; k++) row[k] += li * sm[k];
      }
    }
  }
  PetscFunctionReturn(0);
}

PetscErrorCode BbdTangent(BbdNet net, const PetscReal *theta, const PetscReal *thetadot, const PetscReal *z, const PetscReal *dX, PetscReal *dz)
{
  const PetscReal rho = net->rho, h = net->h;
  PetscReal      *s, *d1, *u, *t1, *t2;

  PetscFunctionBeginUser;
  PetscCall(PetscMalloc5(net->nzmax, &s, net->nzmax, &d1, net->nzmax, &u, net->nzmax, &t1, net->nzmax, &t2));
  if (dX) PetscCall(PetscArraycpy(dz, dX, net->n[0]));
  else PetscCall(PetscArrayzero(dz, net->n[0]));
  for (PetscInt m = 0; m < net->M; m++) {
    const PetscInt   n0 = net->n[m], n1 = net->n[m + 1];
    const PetscReal *zm = z + net->zoff[m], *dzm = dz + net->zoff[m], *bd = thetadot + net->boff[m];
    PetscReal       *dzn = dz + net->zoff[m + 1];
    BbdActivationEval(net->act[m], n0, zm, s, d1, NULL);
    for (PetscInt i = 0; i < n0; i++) u[i] = d1[i] * dzm[i];
    PetscCall(BbdPhi(net, m, theta, u, t1));    /* Phi'(z) dz */
    PetscCall(BbdPhi(net, m, thetadot, s, t2)); /* Phi[thetadot](z) */
    for (PetscInt i = 0; i < n1; i++) dzn[i] = (rho != 0 ? rho * dzm[i] : 0) + h * (t1[i] + t2[i] + bd[i]);
  }
  PetscCall(PetscFree5(s, d1, u, t1, t2));
  PetscFunctionReturn(0);
}

/* Dense family, a batch at once: the per-sample arrays (sample s at offset s*nz) of one layer
   form a column-major matrix with leading dimension nz, so each layer is one matrix-matrix
   product (BLAS 3) instead of B matrix-vector products. Same arithmetic per entry. */
static PetscErrorCode FlowVelocityBatchDense(BbdNet net, const PetscInt *idx, const PetscReal *theta, PetscReal *vel, PetscReal *loss)
{
  const PetscInt  B = net->batch, nz = net->nz, M = net->M;
  const PetscReal rho = net->rho, h = net->h, ce = -net->eta * net->h / B; /* metric 1: v = -eta h mean_s lam sigma^T */
  PetscBLASInt    bB = (PetscBLASInt)B, ld = (PetscBLASInt)nz;
  PetscScalar     one = 1, zero = 0;
  PetscReal       lsum = 0;

  PetscFunctionBeginUser;
  PetscCall(PetscArrayzero(vel, net->nparam));
  for (PetscInt s = 0; s < B; s++) PetscCall(PetscArraycpy(net->wz + s * nz, net->X + idx[s] * net->n[0], net->n[0]));
  for (PetscInt m = 0; m < M; m++) {
    const PetscInt   n0 = net->n[m], n1 = net->n[m + 1];
    const PetscReal *W = theta + net->woff[m], *b = theta + net->boff[m];
    PetscBLASInt     b0 = (PetscBLASInt)n0, b1 = (PetscBLASInt)n1;
    for (PetscInt s = 0; s < B; s++) BbdActivationEval(net->act[m], n0, net->wz + s * nz + net->zoff[m], net->ws + s * nz + net->zoff[m], net->wd1 + s * nz + net->zoff[m], NULL);
    BLASgemm_("T", "N", &b1, &bB, &b0, &one, W, &b0, net->ws + net->zoff[m], &ld, &zero, net->wz + net->zoff[m + 1], &ld);
    for (PetscInt s = 0; s < B; s++) {
      const PetscReal *zm = net->wz + s * nz + net->zoff[m];
      PetscReal       *zn = net->wz + s * nz + net->zoff[m + 1];
      if (rho != 0)
        for (PetscInt i = 0; i < n1; i++) zn[i] = rho * zm[i] + h * (zn[i] + b[i]);
      else
        for (PetscInt i = 0; i < n1; i++) zn[i] = h * (zn[i] + b[i]);
    }
  }
  for (PetscInt s = 0; s < B; s++) lsum += BbdLossEval(net->loss, net->n[M], net->dy, net->wz + s * nz + net->zoff[M], net->Y + idx[s] * net->n[M], net->wlam + s * nz + net->zoff[M]);
  for (PetscInt m = M - 1; m >= 0; m--) {
    const PetscInt   n0 = net->n[m], n1 = net->n[m + 1];
    const PetscReal *W = theta + net->woff[m];
    PetscReal       *vW = vel + net->woff[m], *vb = vel + net->boff[m];
    PetscBLASInt     b0 = (PetscBLASInt)n0, b1 = (PetscBLASInt)n1;
    PetscScalar      cs = ce;
    /* velocity of layer m from lam^(m+1) and sigma(z^(m)) */
    BLASgemm_("N", "T", &b0, &b1, &bB, &cs, net->ws + net->zoff[m], &ld, net->wlam + net->zoff[m + 1], &ld, &one, vW, &b0);
    for (PetscInt s = 0; s < B; s++) {
      const PetscReal *l = net->wlam + s * nz + net->zoff[m + 1];
      for (PetscInt i = 0; i < n1; i++) vb[i] += ce * l[i];
    }
    /* lam^(m) = rho lam^(m+1) + h sigma' .* W^T lam^(m+1); the velocity does not need lam^(0) */
    if (m == 0 && net->lam_partial) break;
    BLASgemm_("N", "N", &b0, &bB, &b1, &one, W, &b0, net->wlam + net->zoff[m + 1], &ld, &zero, net->wlam + net->zoff[m], &ld);
    for (PetscInt s = 0; s < B; s++) {
      const PetscReal *ln = net->wlam + s * nz + net->zoff[m + 1], *dm = net->wd1 + s * nz + net->zoff[m];
      PetscReal       *lm = net->wlam + s * nz + net->zoff[m];
      if (rho != 0)
        for (PetscInt i = 0; i < n0; i++) lm[i] = rho * ln[i] + h * dm[i] * lm[i];
      else
        for (PetscInt i = 0; i < n0; i++) lm[i] = h * dm[i] * lm[i];
    }
  }
  *loss = lsum / B;
  PetscFunctionReturn(0);
}

PetscErrorCode BbdFlowVelocityBatch(BbdNet net, const PetscInt *idx, const PetscReal *theta, PetscReal *vel, PetscReal *loss)
{
  const PetscInt B = net->batch, nz = net->nz;
  PetscReal      lsum = 0;

  PetscFunctionBeginUser;
  if (net->family == BBD_FAMILY_DENSE && B > 1) {
    PetscCall(FlowVelocityBatchDense(net, idx, theta, vel, loss));
    PetscFunctionReturn(0);
  }
  PetscCall(PetscArrayzero(vel, net->nparam));
  for (PetscInt s = 0; s < B; s++) {
    PetscReal *z = net->wz + s * nz, *sg = net->ws + s * nz, *d1 = net->wd1 + s * nz, *lam = net->wlam + s * nz, l;
    PetscCall(BbdForwardFull(net, theta, net->X + idx[s] * net->n[0], z, sg, d1));
    PetscCall(BbdBackwardFull(net, theta, z, d1, net->Y + idx[s] * net->n[net->M], lam, &l));
    PetscCall(BbdAddVelocity(net, sg, lam, 1.0 / B, vel));
    lsum += l;
  }
  *loss = lsum / B;
  PetscFunctionReturn(0);
}
