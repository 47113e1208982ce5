/* Continuum mode of the field solver (docs/theory.md section 7): the overdamped field equations
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
#include <unistd.h>

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
  PetscCall(PetscArrayzero(zv, gym));
  PetscCall(PetscArrayzero(out, ym));
  for (PetscInt k = 0; k < M; k++) {
    PetscCall(HeunStep(f, rhs, k, k + 1, zv, &ez, zp, zn));
    PetscCall(PetscArraycpy(out + (k + 1) * ym, zn + o, ym));
    t  = zv;
    zv = zn;
    zn = t;
  }
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
static PetscErrorCode ContinuumSwitch(BbdField f, PetscInt sample, Vec Ftmp)
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
  if (f->residual) PetscCall(BbdFieldContinuumResidualConsistent(f, f->U));
  PetscCall(PetscFree3(a, b, z));
  if (f->damped) PetscCall(PetscFree3(w, bt, v));
  PetscFunctionReturn(0);
}

/* one saved time: state, loss, the energy flux J(x) = int beta dz/dt dy and the dissipation density (kept on rank 0) */
static PetscErrorCode ContinuumSave(BbdField f, PetscReal t, Vec Ftmp)
{
  BbdNet             net = f->net;
  const PetscInt     M = net->M, NX = M + 1, N = net->n[0], P = net->P, ym = f->ym, T = f->T;
  const PetscScalar *all;
  PetscReal         *J, *lam;
  PetscMPIInt        rank;

  PetscFunctionBeginUser;
  PetscCheck(T < f->Tmax, f->comm, PETSC_ERR_PLIB, "more saved times than planned");
  PetscCallMPI(MPI_Comm_rank(f->comm, &rank));
  PetscCall(BbdFieldRHSContinuum(NULL, t, f->U, Ftmp, f)); /* beta and dz/dt of this state */
  PetscCall(PetscCalloc2(2 * NX, &J, N, &lam));
  /* J(x) and the dissipation density D(x) = int (beta^2 + sum_j a_j'^2 / kappa_j) / 2 dy: the law d_x J = 2 D;
     damped: J(x) = int beta z_t dy with z_t = v, D(x) = int (beta b_t + sum_j a_j_t beta D_j s) / 2 dy (the same law) */
  for (PetscInt k = 0; k < NX; k++)
    for (PetscInt j = 0; j < ym; j++) {
      const PetscReal b = f->beta[k * ym + j];
      PetscReal       d = 0.5 * b * b;
      if (f->damped) {
        J[k] += net->dy * b * f->zdr[k * f->gym + j + f->ys - f->gys];
        J[NX + k] += net->dy * 0.5 * f->cP[k * ym + j];
        continue;
      }
      J[k] += net->dy * b * f->zdot[k * ym + j];
      for (PetscInt c = 0; c <= P; c++)
        if (net->kappa[c] > 0) d += 0.5 * PetscSqr(f->dar[(c * NX + k) * ym + j]) / net->kappa[c];
      J[NX + k] += net->dy * d;
    }
  PetscCall(MPIU_Allreduce(MPI_IN_PLACE, J, (PetscMPIInt)(2 * NX), MPIU_REAL, MPIU_SUM, f->comm));
  PetscCall(BbdFieldGatherAll(f, &all));
  if (!rank) {
    PetscReal *Z = f->rz + (size_t)T * NX * N;
    for (PetscInt i = 0; i < N; i++)
      for (PetscInt k = 0; k < NX; k++) {
        const PetscScalar *p = all + (i * NX + k) * f->dof;
        Z[k * N + i]         = p[0];
        for (PetscInt c = 0; c <= P; c++) f->ra[(((size_t)T * (P + 1) + c) * NX + k) * N + i] = p[1 + c];
        if (f->damped) {
          f->rzd[((size_t)T * NX + k) * N + i] = p[P + 2];
          for (PetscInt c = 0; c <= P; c++) f->rad[(((size_t)T * (P + 1) + c) * NX + k) * N + i] = p[P + 3 + c];
        }
      }
    f->rt[T]    = t;
    f->rloss[T] = BbdLossEval(net->loss, N, net->dy, Z + M * N, net->Y + f->sample * N, lam);
    PetscCall(PetscArraycpy(f->rflux + T * NX, J, NX));
    f->rsample[T] = f->sample;
    if (f->bi >= 0)
      for (PetscInt i = 0; i < N; i++)
        for (PetscInt k = 0; k < NX; k++) f->rbl[k * N + i] = all[(i * NX + k) * f->dof + f->bi];
    PetscCall(PetscArraycpy(f->rdiss + T * NX, J + NX, NX));
    if (!net->quiet) PetscCall(PetscPrintf(PETSC_COMM_SELF, "  t = %-10.5g loss = %-13.6e J(1) = %-13.6e\n", (double)t, (double)f->rloss[T], (double)J[M]));
    PetscCheck(!PetscIsInfOrNanReal(f->rloss[T]), PETSC_COMM_SELF, PETSC_ERR_NOT_CONVERGED, "the continuum fields diverged at t = %g; reduce the time step or refine the grid", (double)t);
  }
  PetscCall(VecRestoreArrayRead(f->Uall, &all));
  PetscCall(PetscFree2(J, lam));
  f->T++;
  PetscFunctionReturn(0);
}

/* rank 0 writes the continuum result to a temporary name, then renames it */
static PetscErrorCode ContinuumWrite(BbdField f)
{
  BbdNet         net = f->net;
  const PetscInt M = net->M, NX = M + 1, N = net->n[0], P = net->P, T = f->T;
  char           tmp[PETSC_MAX_PATH_LEN + 32], act[64];
  const char    *file = net->output_file;
  hid_t          fid, g;
  hsize_t        d[4];
  PetscReal     *x, *y, kap[BBD_MAX_MOMENTS];
  PetscMPIInt    rank;

  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Comm_rank(f->comm, &rank));
  if (rank) PetscFunctionReturn(0);
  PetscCall(PetscSNPrintf(tmp, sizeof(tmp), "%s.tmp.%d", file, (int)getpid()));
  PetscCheck((fid = H5Fcreate(tmp, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT)) >= 0, PETSC_COMM_SELF, PETSC_ERR_FILE_OPEN, "cannot create the output file %s", tmp);
  PetscCall(BbdH5WriteAttrString(fid, tmp, "family", "field"));
  PetscCall(BbdH5WriteAttrString(fid, tmp, "mode", "continuum"));
  PetscCall(PetscStrncpy(act, BbdActivations[net->act[0]], sizeof(act)));
  PetscCall(BbdH5WriteAttrString(fid, tmp, "activation", act));
  PetscCall(BbdH5WriteAttrString(fid, tmp, "loss", BbdLosses[net->loss]));
  PetscCall(BbdH5WriteAttrString(fid, tmp, "dynamics", BbdDynamicsTypes[net->dyn]));
  PetscCall(BbdH5WriteAttrReal(fid, tmp, "eta", net->eta));
  PetscCall(BbdH5WriteAttrInt(fid, tmp, "periodic", net->periodic));
  PetscCall(BbdH5WriteAttrInt(fid, tmp, "nx", NX));
  PetscCall(BbdH5WriteAttrInt(fid, tmp, "ny", N));
  PetscCall(BbdH5WriteAttrInt(fid, tmp, "version", BBD_VERSION));
  for (PetscInt c = 0; c <= P; c++) kap[c] = net->kappa[c];
  d[0] = (hsize_t)P + 1;
  PetscCall(BbdH5WriteArray(fid, tmp, "kappa_values", 1, d, kap)); /* kept for older readers */
  { /* the definition in the attributes every -bbd_init reads (depth = NX - 1 cells, NX widths
       of NY, h = 1/(NX-1)) and the run settings, so the file restarts a continuum run */
    PetscInt *w;
    PetscCall(PetscMalloc1(NX, &w));
    for (PetscInt k = 0; k < NX; k++) w[k] = N;
    PetscCall(BbdH5WriteAttrInt(fid, tmp, "depth", M));
    PetscCall(BbdH5WriteAttrInts(fid, tmp, "widths", NX, w));
    PetscCall(PetscFree(w));
    PetscCall(BbdH5WriteAttrReals(fid, tmp, "kappa", P + 1, kap));
    PetscCall(BbdH5WriteAttrReal(fid, tmp, "rho", net->rho));
    PetscCall(BbdH5WriteAttrReal(fid, tmp, "h", net->h));
    PetscCall(BbdH5WriteAttrReal(fid, tmp, "gamma", net->gamma));
    PetscCall(BbdH5WriteAttrString(fid, tmp, "sample_order", BbdSampleOrders[net->order]));
    PetscCall(BbdH5WriteAttrInt(fid, tmp, "seed", (long long)net->seed));
    PetscCall(BbdH5WriteAttrReal(fid, tmp, "sample_dt", net->sample_dt));
    PetscCall(BbdH5WriteAttrReal(fid, tmp, "tfinal", net->tfinal));
    PetscCall(BbdH5WriteAttrReal(fid, tmp, "output_dt", net->output_dt));
    PetscCall(BbdH5WriteAttrInt(fid, tmp, "batch", net->batch));
  }
  PetscCall(PetscMalloc2(NX, &x, N, &y));
  for (PetscInt k = 0; k < NX; k++) x[k] = (PetscReal)k / M;
  for (PetscInt i = 0; i < N; i++) y[i] = (PetscReal)i / N;
  PetscCheck((g = H5Gcreate2(fid, "grid", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT)) >= 0, PETSC_COMM_SELF, PETSC_ERR_FILE_WRITE, "%s: /grid", tmp);
  d[0] = (hsize_t)NX;
  PetscCall(BbdH5WriteArray(g, tmp, "x", 1, d, x));
  d[0] = (hsize_t)N;
  PetscCall(BbdH5WriteArray(g, tmp, "y", 1, d, y));
  H5Gclose(g);
  PetscCall(PetscFree2(x, y));
  PetscCheck((g = H5Gcreate2(fid, "data", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT)) >= 0, PETSC_COMM_SELF, PETSC_ERR_FILE_WRITE, "%s: /data", tmp);
  d[0] = (hsize_t)net->S;
  d[1] = (hsize_t)N;
  PetscCall(BbdH5WriteArray(g, tmp, "X", 2, d, net->X));
  PetscCall(BbdH5WriteArray(g, tmp, "Y", 2, d, net->Y));
  H5Gclose(g);
  PetscCheck((g = H5Gcreate2(fid, "trajectory", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT)) >= 0, PETSC_COMM_SELF, PETSC_ERR_FILE_WRITE, "%s: /trajectory", tmp);
  d[0] = (hsize_t)T;
  PetscCall(BbdH5WriteArray(g, tmp, "time", 1, d, f->rt));
  PetscCall(BbdH5WriteArray(g, tmp, "loss", 1, d, f->rloss));
  { /* the sample in use at each saved time (int64, as in lattice results) */
    hid_t sp = H5Screate_simple(1, d, NULL), ds;
    long long *smp;
    PetscCall(PetscMalloc1(T, &smp));
    for (PetscInt i = 0; i < T; i++) smp[i] = f->rsample[i];
    ds = H5Dcreate2(g, "sample", H5T_STD_I64LE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    PetscCheck(ds >= 0 && H5Dwrite(ds, H5T_NATIVE_LLONG, H5S_ALL, H5S_ALL, H5P_DEFAULT, smp) >= 0, PETSC_COMM_SELF, PETSC_ERR_FILE_WRITE, "%s: /trajectory/sample", tmp);
    H5Dclose(ds);
    H5Sclose(sp);
    PetscCall(PetscFree(smp));
  }
  d[1] = (hsize_t)NX;
  PetscCall(BbdH5WriteArray(g, tmp, "flux", 2, d, f->rflux));
  PetscCall(BbdH5WriteArray(g, tmp, "dissipation_density", 2, d, f->rdiss));
  d[2] = (hsize_t)N;
  PetscCall(BbdH5WriteArray(g, tmp, "z", 3, d, f->rz));
  d[1] = (hsize_t)P + 1;
  d[2] = (hsize_t)NX;
  d[3] = (hsize_t)N;
  PetscCall(BbdH5WriteArray(g, tmp, "a", 4, d, f->ra));
  if (f->damped) {
    PetscCall(BbdH5WriteArray(g, tmp, "a_dot", 4, d, f->rad));
    d[1] = (hsize_t)NX;
    d[2] = (hsize_t)N;
    PetscCall(BbdH5WriteArray(g, tmp, "z_dot", 3, d, f->rzd));
  }
  H5Gclose(g);
  PetscCheck((g = H5Gcreate2(fid, "state", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT)) >= 0, PETSC_COMM_SELF, PETSC_ERR_FILE_WRITE, "%s: /state", tmp);
  PetscCall(BbdH5WriteAttrReal(g, tmp, "time", f->rt[T - 1]));
  d[0] = (hsize_t)NX;
  d[1] = (hsize_t)N;
  PetscCall(BbdH5WriteArray(g, tmp, "z", 2, d, f->rz + (size_t)(T - 1) * NX * N));
  d[0] = (hsize_t)P + 1;
  d[1] = (hsize_t)NX;
  d[2] = (hsize_t)N;
  PetscCall(BbdH5WriteArray(g, tmp, "a", 3, d, f->ra + (size_t)(T - 1) * (P + 1) * NX * N));
  if (f->bi >= 0) { /* with sample switching: the bias field, so that a restart switches exactly */
    d[0] = (hsize_t)NX;
    d[1] = (hsize_t)N;
    PetscCall(BbdH5WriteArray(g, tmp, "b", 2, d, f->rbl));
    d[0] = (hsize_t)P + 1;
    d[1] = (hsize_t)NX;
    d[2] = (hsize_t)N;
  }
  if (f->damped) { /* the velocities: a damped result restarts exactly */
    PetscCall(BbdH5WriteArray(g, tmp, "a_dot", 3, d, f->rad + (size_t)(T - 1) * (P + 1) * NX * N));
    d[0] = (hsize_t)NX;
    d[1] = (hsize_t)N;
    PetscCall(BbdH5WriteArray(g, tmp, "z_dot", 2, d, f->rzd + (size_t)(T - 1) * NX * N));
  }
  H5Gclose(g);
  PetscCheck(H5Fclose(fid) >= 0, PETSC_COMM_SELF, PETSC_ERR_FILE_WRITE, "cannot close %s", tmp);
  PetscCheck(rename(tmp, file) == 0, PETSC_COMM_SELF, PETSC_ERR_FILE_WRITE, "cannot rename %s to %s", tmp, file);
  PetscFunctionReturn(0);
}

PetscErrorCode BbdFieldContinuumRun(BbdField f)
{
  BbdNet         net = f->net;
  const PetscInt NX = net->M + 1, N = net->n[0], P = net->P;
  TS             ts;
  Vec            Ftmp;
  PetscReal      t = net->t0, dt0, eps = BbdTimeEps(net);
  PetscMPIInt    rank;
  PetscErrorCode ierr = 0;

  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Comm_rank(f->comm, &rank));
  if (!net->quiet) PetscCall(PetscPrintf(f->comm, "bbd-field, continuum mode (%s dynamics), grid %" PetscInt_FMT " x %" PetscInt_FMT " (depth x width), h = %g, dy = %g, activation %s, loss %s, eta = %g, gamma = %g, kappa = (%g, %g, %g), %d rank(s)\n", BbdDynamicsTypes[net->dyn], NX, N, (double)net->h, (double)net->dy, BbdActivations[net->act[0]], BbdLosses[net->loss], (double)net->eta, (double)net->gamma, (double)net->kappa[0], (double)net->kappa[1], (double)net->kappa[2], f->size));
  if (!net->quiet) { /* the depth steps are explicit Heun steps: the same bound as the lattice's (docs/theory.md section 14, Stability) */
    const PetscReal sn = BbdNetStabilityNumber(net);
    PetscCall(PetscPrintf(f->comm, "  forward-map stability number h max|a_2| max sigma'/dy^2 = %.3g%s\n", (double)sn, sn > 0.5 ? " > 1/2: WARNING, the depth steps on this grid are unstable (refine depth like the square of width: -da_grid_x)" : " (stable: <= 1/2)"));
  }
  f->Tmax = (PetscInt)(PetscFloorReal(net->tfinal / net->output_dt + 1e-9) - PetscFloorReal(net->t0 / net->output_dt + 1e-9)) + 3;
  if (!rank) PetscCall(PetscMalloc5(f->Tmax, &f->rt, f->Tmax, &f->rloss, (size_t)f->Tmax * NX * N, &f->rz, (size_t)f->Tmax * (P + 1) * NX * N, &f->ra, (size_t)f->Tmax * NX, &f->rflux));
  if (!rank) PetscCall(PetscMalloc1((size_t)f->Tmax * NX, &f->rdiss));
  if (!rank) PetscCall(PetscMalloc2(f->Tmax, &f->rsample, f->bi >= 0 ? NX * N : 0, &f->rbl));
  if (!rank && f->damped) PetscCall(PetscMalloc2((size_t)f->Tmax * NX * N, &f->rzd, (size_t)f->Tmax * (P + 1) * NX * N, &f->rad));
  PetscCall(BbdFieldCreateTS(f, &ts, &dt0)); /* field.c */
  if (f->residual) PetscCall(BbdFieldContinuumResidualConsistent(f, f->U));
  PetscCall(VecDuplicate(f->U, &Ftmp));
  ierr = ContinuumSave(f, t, Ftmp);
  while (!ierr && t < net->tfinal - eps) {
    PetscReal tend;
    PetscBool save;
    BbdTSNextSegment(net, t, &tend, &save);
    /* residual form: beta afresh from the state at every segment start, as a restart computes it
       (the file has no beta), so that restarts continue bitwise; the Newton-solved beta differs
       from it by the Newton tolerance and only seeds the first Newton iterate */
    if (f->residual) ierr = BbdFieldContinuumResidualConsistent(f, f->U);
    if (!ierr) ierr = BbdFieldSolveSegment(f, ts, t, tend, dt0, NULL);
    t    = tend;
    if (!ierr && f->bi >= 0) { /* a sample switch: z (and z_dot) jump, the parameters are continuous */
      PetscInt idx[1];
      PetscCall(BbdNetBatchSamples(net, t, idx));
      if (idx[0] != f->sample) ierr = ContinuumSwitch(f, idx[0], Ftmp);
    }
    if (!ierr && save) ierr = ContinuumSave(f, t, Ftmp);
  }
  PetscCall(ierr);
  PetscCall(ContinuumWrite(f));
  PetscCall(BbdFieldWriteXdmf(f, f->T));
  PetscCallMPI(MPI_Barrier(f->comm));
  if (!net->quiet) {
    PetscInt steps, nits, lits, fails;
    PetscCall(TSGetStepNumber(ts, &steps));
    PetscCall(TSGetSNESIterations(ts, &nits));
    PetscCall(TSGetKSPIterations(ts, &lits));
    PetscCall(TSGetSNESFailures(ts, &fails));
    if (fails) PetscCall(BbdFieldPrintFailures(f, ts, fails));
    PetscCall(PetscPrintf(f->comm, "solver: %" PetscInt_FMT " steps in the whole run, %" PetscInt_FMT " Newton and %" PetscInt_FMT " Krylov iterations in all (%.2f Krylov per Newton)\n", steps, nits, lits, nits ? (double)lits / nits : 0.0));
    PetscCall(PetscPrintf(f->comm, "wrote %s\n", net->output_file));
  }
  if (!rank) PetscCall(PetscFree5(f->rt, f->rloss, f->rz, f->ra, f->rflux));
  if (!rank) PetscCall(PetscFree(f->rdiss));
  if (!rank) PetscCall(PetscFree2(f->rsample, f->rbl));
  if (!rank && f->damped) PetscCall(PetscFree2(f->rzd, f->rad));
  PetscCall(VecDestroy(&Ftmp));
  PetscCall(TSDestroy(&ts));
  PetscFunctionReturn(0);
}
