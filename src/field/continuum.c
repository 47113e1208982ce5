/* Continuum mode of the field solver (docs/theory.md section 14, "Continuum mode"): the overdamped field equations
     da_j/dt = kappa_j beta d_y^j sigma(z)
     -d_x beta = sigma'(z) sum_j (-d_y)^j (a_j beta),          beta(1, y) = -eta dl/dZ(y)
     d_x dz/dt = beta + sum_j da_j d_y^j sigma(z) + sum_j a_j d_y^j (sigma'(z) dz/dt),  dz/dt(0) = 0
   on any grid x_k = k/(NX-1), y_i = i/NY, with centred second-order differences in width and
   Heun's method (explicit trapezoidal rule, second order) for the two sweeps in depth. The
   initial fields are the built-in smooth a_j(x, y), b(x, y); z(x, y) solves
   d_x z = sum_j a_j d_y^j sigma(z) + b, z(0, y) = X(y), by the same Heun steps.
   Damped dynamics (-bbd_dynamics damped): velocity unknowns z_dot, a_j_dot after z, a_j; one
   adjoint sweep, then a Heun sweep for the neuron accelerations (RHSContinuumDamped). */
#include "fieldimpl.h"

/* The Heun sweeps on several ranks (-bbd_sweep_ghost g, docs/theory.md section 14): a row is
   exchanged on g ghost columns only when it is valid on no ghost column; each stage's stencil
   (radius 1) leaves its result valid on one column fewer, so with g = 1 every stage exchanges its
   input (two exchanges per layer) and with g > 1 one exchange serves about g/2 layers. The
   sweeps below keep the validity e of the current row; out[jj - lo] holds the stage on lo..hi-1. */

/* adjoint right-hand side at depth k: g = sigma'(z_k) .* sum_c D_c^T (a_c beta), beta valid on lo-1..hi */
static void AdjointSpan(BbdField f, PetscInt k, const PetscReal *beta, PetscInt lo, PetscInt hi, PetscReal *g)
{
  const PetscReal *d1 = f->D1 + k * f->gym;

  RowPhiTSpan(f, k, beta, lo, hi, g);
  for (PetscInt jj = lo; jj < hi; jj++) g[jj - lo] *= d1[jj];
}

/* the validity e as the range lo..hi-1 of ghosted columns */
static inline void Span(BbdField f, PetscInt e, PetscInt *lo, PetscInt *hi)
{
  *lo = f->ys - f->gys - e;
  *hi = f->ys - f->gys + f->ym + e;
}

/* sum_c a_c D_c (sigma'(z_k) w) on lo..hi-1 (w valid on lo-1..hi; pw: a work row) */
static void PhiSigmaSpan(BbdField f, PetscInt k, const PetscReal *w, PetscInt lo, PetscInt hi, PetscReal *pw, PetscReal *g)
{
  const PetscReal *d1 = f->D1 + k * f->gym;

  for (PetscInt jj = lo - 1; jj < hi + 1; jj++) pw[jj] = d1[jj] * w[jj];
  BbdFieldZeroOutside(f, pw);
  RowPhiSpan(f, k, pw, lo, hi, g);
}

/* tangent right-hand side at depth k: beta_k + sum_c adot_c D_c sigma(z_k) + sum_c a_c D_c (sigma' w),
   adot_c = kappa_c beta_k D_c sigma(z_k), beta from the ghosted rows f->bg */
static void TangentSpan(BbdField f, PetscInt k, const PetscReal *w, PetscInt lo, PetscInt hi, PetscReal *g)
{
  BbdNet          net = f->net;
  const PetscInt  gym = f->gym, P = net->P;
  const PetscReal c1 = 0.5 / net->dy, c2 = 1.0 / (net->dy * net->dy), *s = f->S + k * gym, *b = f->bg + k * gym;

  PhiSigmaSpan(f, k, w, lo, hi, f->wg, g);
  for (PetscInt jj = lo; jj < hi; jj++) {
    const PetscReal D[3] = {s[jj], c1 * (s[jj + 1] - s[jj - 1]), c2 * (s[jj + 1] - 2 * s[jj] + s[jj - 1])};
    g[jj - lo] += b[jj];
    for (PetscInt c = 0; c <= P; c++) g[jj - lo] += net->kappa[c] * b[jj] * D[c] * D[c];
  }
}

/* damped tangent right-hand side at depth k: cR_k + sum_c a_c D_c (sigma' q) */
static void DampedTangentSpan(BbdField f, PetscInt k, const PetscReal *q, PetscInt lo, PetscInt hi, PetscReal *g)
{
  const PetscReal *cr = f->cR + k * f->gym;

  PhiSigmaSpan(f, k, q, lo, hi, f->wg, g);
  for (PetscInt jj = lo; jj < hi; jj++) g[jj - lo] += cr[jj];
}

/* one Heun step of a sweep from the row x at depth k0, valid on *e ghost columns, to the row xn at
   depth k1 (k0 - 1 for the adjoint, k0 + 1 for the tangent): xn = x + (h/2)(r(k0, x) + r(k1, p)),
   p = x + h r(k0, x) (a work row); a row valid on no ghost column is first refilled on g of them,
   and each stage leaves its result valid on one column fewer. On return *e is xn's validity. */
static PetscErrorCode HeunStep(BbdField f, void (*rhs)(BbdField, PetscInt, const PetscReal *, PetscInt, PetscInt, PetscReal *), PetscInt k0, PetscInt k1, PetscReal *x, PetscInt *e, PetscReal *p, PetscReal *xn)
{
  const PetscInt  g = f->sg;
  const PetscReal h = f->net->h;
  PetscReal      *g1 = f->gb, *g2 = f->wg + f->gym;
  PetscInt        lo1, hi1, lo, hi, ep;

  PetscFunctionBeginUser;
  if (*e < 1) {
    PetscCall(BbdFieldExchangeGhosts(f, 1, &x, g));
    *e = g;
  }
  Span(f, *e - 1, &lo1, &hi1);
  rhs(f, k0, x, lo1, hi1, g1);
  for (PetscInt jj = lo1; jj < hi1; jj++) p[jj] = x[jj] + h * g1[jj - lo1];
  BbdFieldZeroOutside(f, p);
  ep = *e - 1;
  if (ep < 1) {
    PetscCall(BbdFieldExchangeGhosts(f, 1, &p, g));
    ep = g;
  }
  *e = PetscMin(*e - 1, ep - 1);
  Span(f, *e, &lo, &hi);
  rhs(f, k1, p, lo, hi, g2);
  for (PetscInt jj = lo; jj < hi; jj++) xn[jj] = x[jj] + 0.5 * h * (g1[jj - lo1] + g2[jj - lo]);
  BbdFieldZeroOutside(f, xn);
  PetscFunctionReturn(0);
}

/* the adjoint sweep of the state last transposed in: beta(1) = -eta dl/dZ, Heun steps towards
   x = 0; beta on the owned columns (f->beta) and ghosted (f->bg: with g > 1 valid on g - 1
   ghost columns of every row after one exchange of all rows at the end) */
static PetscErrorCode AdjointSweep(BbdField f)
{
  BbdNet          net = f->net;
  const PetscInt  M = net->M, ym = f->ym, gym = f->gym, o = f->ys - f->gys, g = f->sg;
  PetscReal      *beta = f->beta, *bg = f->bg;
  PetscInt        eb = 0;

  PetscFunctionBeginUser;
  PetscCall(PetscLogEventBegin(BBD_FIELD_SweepBackward, 0, 0, 0, 0));
  PetscCall(BbdFieldOutputGradient(f, f->zr + M * gym + o, beta + M * ym));
  for (PetscInt j = 0; j < ym; j++) beta[M * ym + j] *= -net->eta;
  PetscCall(PetscArraycpy(bg + M * gym + o, beta + M * ym, ym));
  for (PetscInt k = M; k >= 1; k--) {
    PetscCall(HeunStep(f, AdjointSpan, k, k - 1, bg + k * gym, &eb, f->dzgn, bg + (k - 1) * gym));
    PetscCall(PetscArraycpy(beta + (k - 1) * ym, bg + (k - 1) * gym + o, ym));
  }
  if (g > 1) { /* the tangent sweeps read beta of every row on g - 1 ghost columns: one message */
    for (PetscInt k = 0; k <= M; k++) f->rowp[k] = bg + k * gym;
    PetscCall(BbdFieldExchangeGhosts(f, M + 1, f->rowp, g));
  }
  PetscCall(PetscLogEventEnd(BBD_FIELD_SweepBackward, 0, 0, 0, 0));
  PetscFunctionReturn(0);
}

/* Heun steps of the tangent sweep from x = 0: out[k * ym + j] (owned), zero at k = 0; the
   right-hand side at depth k of the row w, valid on lo-1..hi, into g on lo..hi-1 */
static PetscErrorCode TangentHeun(BbdField f, void (*rhs)(BbdField, PetscInt, const PetscReal *, PetscInt, PetscInt, PetscReal *), PetscReal *out)
{
  const PetscInt  M = f->net->M, ym = f->ym, gym = f->gym, o = f->ys - f->gys, g = f->sg;
  PetscReal      *zv = f->dzg, *zp = f->dzgn, *zn = f->wg + 2 * gym, *t;
  PetscInt        ez = g; /* z' = 0 at x = 0, on every column */

  PetscFunctionBeginUser;
  PetscCall(PetscLogEventBegin(BBD_FIELD_SweepForward, 0, 0, 0, 0));
  PetscCall(PetscArrayzero(zv, gym));
  PetscCall(PetscArrayzero(out, ym));
  for (PetscInt k = 0; k < M; k++) {
    PetscCall(HeunStep(f, rhs, k, k + 1, zv, &ez, zp, zn));
    PetscCall(PetscArraycpy(out + (k + 1) * ym, zn + o, ym));
    t  = zv;
    zv = zn;
    zn = t;
  }
  PetscCall(PetscLogEventEnd(BBD_FIELD_SweepForward, 0, 0, 0, 0));
  PetscFunctionReturn(0);
}

/* Damped dynamics in continuum mode (docs/theory.md section 14): state (z, a_j, v = z_t, w_j = a_j_t),
     z_t = v, a_t = w, w_t = -gamma w + kappa_j beta D_j s,
     b_t = d_x v - sum_j w_j D_j s - sum_j a_j D_j (s' v),   b_tt = -gamma b_t + beta,
     d_x v_t = b_tt + sum_j [w_t,j D_j s + 2 w_j D_j (s' v) + a_j D_j (s'' v^2 + s' v_t)],  v_t(0) = 0,
   beta the overdamped adjoint (AdjointSweep), d_x v by second-order differences (centred inside,
   one-sided at x = 0, 1), v_t by Heun steps from x = 0. Also the power density
   cP = beta b_t + sum_j w_j beta D_j s (ContinuumSave). The state is transposed in.
   BbdFieldContinuumDampedSources: with beta in f->bg, on the ghosted columns of validity e, the
   tangent sources cR, and on the owned ones the moment accelerations w_t into f->dar (given_wt:
   already there, the residual form's w'; then e = 0), the power cP and b_t (cB). */
PetscErrorCode BbdFieldContinuumDampedSources(BbdField f, PetscInt e, PetscBool given_wt)
{
  BbdNet          net = f->net;
  const PetscInt  M = net->M, NX = M + 1, P = net->P, ym = f->ym, gys = f->gys, gym = f->gym, o = f->ys - gys;
  const PetscReal h = net->h, gamma = net->gamma, c1 = 0.5 / net->dy, c2 = 1.0 / (net->dy * net->dy);
  PetscReal      *g1 = f->gb, *g2 = f->wg + gym, *pw2 = f->wg, *u1 = f->u1, *wt = f->dar;
  PetscInt        lo, hi;

  PetscFunctionBeginUser;
  PetscCheck(!given_wt || e == 0, f->comm, PETSC_ERR_PLIB, "given moment accelerations are owned only");
  Span(f, e, &lo, &hi);
  for (PetscInt k = 0; k < NX; k++) {
    const PetscReal *s = f->S + k * gym, *d1 = f->D1 + k * gym, *d2 = f->D2 + k * gym, *v = f->zdr + k * gym;
    const PetscReal *vp, *vm, *vmm;
    for (PetscInt jj = 0; jj < gym; jj++) u1[jj] = d1[jj] * v[jj]; /* s' v (ghosted) */
    BbdFieldZeroOutside(f, u1);
    RowPhiSpan(f, k, u1, lo, hi, g1); /* sum_c a_c D_c (s' v) */
    for (PetscInt jj = 0; jj < gym; jj++) pw2[jj] = d2[jj] * v[jj] * v[jj]; /* s'' v^2 (ghosted) */
    BbdFieldZeroOutside(f, pw2);
    RowPhiSpan(f, k, pw2, lo, hi, g2); /* sum_c a_c D_c (s'' v^2) */
    if (k == 0) { /* the rows of d_x v: one-sided at the ends */
      vp = f->zdr + gym, vm = v, vmm = f->zdr + 2 * gym;
    } else if (k == M) {
      vp = v, vm = f->zdr + (M - 1) * gym, vmm = f->zdr + (M - 2) * gym;
    } else vp = f->zdr + (k + 1) * gym, vm = f->zdr + (k - 1) * gym, vmm = NULL;
    for (PetscInt jj = lo; jj < hi; jj++) {
      const PetscInt  j     = jj - o; /* owned for 0 <= j < ym */
      const PetscBool own   = (PetscBool)(j >= 0 && j < ym);
      const PetscReal Ds[3] = {s[jj], c1 * (s[jj + 1] - s[jj - 1]), c2 * (s[jj + 1] - 2 * s[jj] + s[jj - 1])};
      const PetscReal Du[3] = {u1[jj], c1 * (u1[jj + 1] - u1[jj - 1]), c2 * (u1[jj + 1] - 2 * u1[jj] + u1[jj - 1])};
      const PetscReal b     = f->bg[k * gym + jj];
      PetscReal       dxv, bt, r, pw;
      if (k == 0) dxv = (-3 * vm[jj] + 4 * vp[jj] - vmm[jj]) / (2 * h);
      else if (k == M) dxv = (3 * vp[jj] - 4 * vm[jj] + vmm[jj]) / (2 * h);
      else dxv = (vp[jj] - vm[jj]) / (2 * h);
      bt = dxv - g1[jj - lo];
      for (PetscInt c = 0; c <= P; c++) bt -= f->adr[(c * NX + k) * gym + jj] * Ds[c];
      r  = -gamma * bt + b + g2[jj - lo]; /* b_tt + sum_c a_c D_c (s'' v^2) */
      pw = b * bt;
      for (PetscInt c = 0; c <= P; c++) {
        const PetscReal w  = f->adr[(c * NX + k) * gym + jj];
        const PetscReal ww = given_wt ? wt[(c * NX + k) * ym + j] : -gamma * w + (net->kappa[c] > 0 ? net->kappa[c] * b * Ds[c] : 0);
        if (own) wt[(c * NX + k) * ym + j] = ww;
        r += ww * Ds[c] + 2 * w * Du[c];
        pw += w * b * Ds[c];
      }
      f->cR[k * gym + jj] = r;
      if (own) f->cP[k * ym + j] = pw;
      if (own) f->cB[k * ym + j] = bt;
    }
  }
  PetscFunctionReturn(0);
}

static PetscErrorCode RHSContinuumDamped(BbdField f, Vec F)
{
  BbdNet          net = f->net;
  const PetscInt  M = net->M, NX = M + 1, P = net->P, V = P + 2, ys = f->ys, ym = f->ym, gys = f->gys, gym = f->gym, o = ys - gys;
  PetscReal      *vt = f->zdot, *wt = f->dar;
  PetscScalar  ***fa;

  PetscFunctionBeginUser;
  PetscCall(AdjointSweep(f));
  PetscCall(BbdFieldContinuumDampedSources(f, f->sg - 1, PETSC_FALSE)); /* cR on g - 1 ghost columns (the state and beta are there) */
  /* v_t by Heun steps from x = 0 */
  PetscCall(TangentHeun(f, DampedTangentSpan, vt));
  PetscCall(DMDAVecGetArrayDOF(f->da, F, &fa));
  for (PetscInt j = 0; j < ym; j++)
    for (PetscInt k = 0; k < NX; k++) {
      fa[ys + j][k][0] = f->zdr[k * gym + j + o];
      fa[ys + j][k][V] = vt[k * ym + j];
      if (f->bi >= 0) fa[ys + j][k][f->bi] = f->cB[k * ym + j];
      for (PetscInt c = 0; c <= P; c++) {
        fa[ys + j][k][1 + c]     = f->adr[(c * NX + k) * gym + j + o];
        fa[ys + j][k][V + 1 + c] = wt[(c * NX + k) * ym + j];
      }
    }
  PetscCall(DMDAVecRestoreArrayDOF(f->da, F, &fa));
  PetscFunctionReturn(0);
}

PetscErrorCode BbdFieldRHSContinuum(TS ts, PetscReal t, Vec U, Vec F, void *ctx)
{
  BbdField        f   = (BbdField)ctx;
  BbdNet          net = f->net;
  const PetscInt  M = net->M, NX = M + 1, P = net->P, ys = f->ys, ym = f->ym, gym = f->gym, o = ys - f->gys;
  const PetscReal c1 = 0.5 / net->dy, c2 = 1.0 / (net->dy * net->dy);
  PetscReal      *beta = f->beta, *zd = f->zdot;
  PetscScalar  ***fa;

  PetscFunctionBeginUser;
  (void)ts;
  (void)t;
  PetscCall(BbdFieldTransposeIn(f, U));
  if (f->damped) {
    PetscCall(RHSContinuumDamped(f, F));
    PetscFunctionReturn(0);
  }
  PetscCall(AdjointSweep(f));
  /* moment rates, local */
  for (PetscInt k = 0; k < NX; k++) {
    const PetscReal *s = f->S + k * gym;
    for (PetscInt j = 0; j < ym; j++) {
      const PetscInt  jj   = j + o;
      const PetscReal D[3] = {s[jj], c1 * (s[jj + 1] - s[jj - 1]), c2 * (s[jj + 1] - 2 * s[jj] + s[jj - 1])};
      for (PetscInt c = 0; c <= P; c++) f->dar[(c * NX + k) * ym + j] = net->kappa[c] * beta[k * ym + j] * D[c];
    }
  }
  /* tangent sweep from the input boundary, Heun steps towards x = 1 */
  PetscCall(TangentHeun(f, TangentSpan, zd));
  PetscCall(DMDAVecGetArrayDOF(f->da, F, &fa));
  for (PetscInt j = 0; j < ym; j++)
    for (PetscInt k = 0; k < NX; k++) {
      fa[ys + j][k][0] = zd[k * ym + j];
      for (PetscInt c = 0; c <= P; c++) fa[ys + j][k][1 + c] = f->dar[(c * NX + k) * ym + j];
      if (f->bi >= 0) fa[ys + j][k][f->bi] = beta[k * ym + j]; /* b_t = beta */
    }
  PetscCall(DMDAVecRestoreArrayDOF(f->da, F, &fa));
  PetscFunctionReturn(0);
}
