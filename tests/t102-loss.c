static const char help[] = "t102: every entry of every loss's operations table against an independent computation.\n";

/* For every loss of the table (src/core/lossimpl.h), n = 16 outputs, cell weights w = 1 and 1/8,
   NDRAW random Z ~ 2 N(0, 1) and two kinds of valid target (written out below, and shape_target
   of raw normals):
   - eval's gradient lam = (1/w) dl/dZ against (l(Z + h e_i) - l(Z - h e_i)) / (2 h w), h = 1e-5.
     Error: truncation h^2/6 |l'''| / w and rounding eps |l| / (h w); here |l| <= 20, sum Y <= 8
     (so |l'''| / w <= 8), giving <= 1.3e-10 + 2.2e-16 * 20 * 8 / 1e-5 ~ 4e-9 against the tolerance
     1e-7 (1 + |lam|), a margin >= 25, while a wrong term is O(1) or O(w).
   - the Hessian eta d lam_j / dZ_k (hessian_entry, from linearise's state) against eta times the
     central difference of lam_j in Z_k, same h: truncation h^2/6 |lam'''| <= 1e-10 * 8 and
     rounding eps |lam| / h <= 2.2e-16 * 16 / 1e-5 = 3.5e-10, tolerance 1e-7 (1 + |entry|).
     Entries outside the declared pattern (zero, diagonal) must have a difference within the same
     tolerance of 0; a loss without linearise gets a NaN state (it must not read it).
   - hessvec against the directional difference of lam along a random dZ (same error analysis with
     |dZ| <= 8: tolerance 1e-7 (1 + |out|) max |dZ|), against sum_k hessian_entry(j, k) dZ_k (two
     sums of 16 products: 1e-12 relative), and a slice (j0, m) equal bitwise to the full product
     (each rank of the field solver computes its own slice).
   Hinge is piecewise linear: with these seeds no Z is within 1e-3 of a kink Y Z = 1 (checked), so
   its differences are exact to rounding.
   Targets: check_target accepts the valid ones and refuses NaN, Inf and loss-specific invalid ones
   with PETSC_ERR_USER_INPUT and a message naming `what`; interp_target, shape_target and
   label_target produce targets check_target accepts, and reproduce the source where they must
   (injection at nodes; ce/kl to rounding of the rescaling, 1e-12). Analytic values to 1e-12
   relative (a few hundred ulps of sums of 16 terms). */
#include "bbdtest.h"
#include "core/lossimpl.h"

#define N     16
#define NDRAW 4

static const PetscReal h = 1e-5, eta = 0.7, tol = 1e-7;

static PetscReal Normal(unsigned long stream, unsigned long k)
{
  return BbdRandNormal(7, stream, k);
}

/* a valid target of loss i for weight w, written out from the loss's definition (draw d);
   PETSC_FALSE for a loss this test does not know yet (then only shape_target's targets are used) */
static PetscBool HandTarget(PetscInt i, PetscReal w, PetscInt d, PetscInt n, PetscReal *Y)
{
  PetscReal sum = 0;

  switch (i) {
  case BBD_LOSS_MSE:
    for (PetscInt k = 0; k < n; k++) Y[k] = 3 * Normal(11, d * n + k);
    return PETSC_TRUE;
  case BBD_LOSS_CE:
  case BBD_LOSS_KL: /* a density with one zero entry (0 log 0) */
    for (PetscInt k = 0; k < n; k++) sum += (Y[k] = k == d ? 0 : 0.1 + PetscAbsReal(Normal(12, d * n + k)));
    for (PetscInt k = 0; k < n; k++) Y[k] /= w * sum;
    return PETSC_TRUE;
  case BBD_LOSS_HINGE:
    for (PetscInt k = 0; k < n; k++) Y[k] = Normal(13, d * n + k) < 0 ? -1 : 1;
    return PETSC_TRUE;
  }
  return PETSC_FALSE;
}

/* Expect check_target to refuse Y with PETSC_ERR_USER_INPUT and a message naming `what`. */
static PetscErrorCode ExpectRefused(const BbdLossOps *L, PetscInt n, PetscReal w, const PetscReal *Y, const char *why)
{
  char           msg[512] = "", *hit;
  PetscErrorCode ierr;

  PetscFunctionBeginUser;
  PetscCall(PetscPushErrorHandler(CatchError, msg));
  ierr = L->check_target(PETSC_COMM_SELF, "/data/Y row 3", n, w, Y);
  PetscCall(PetscPopErrorHandler());
  PetscCall(PetscStrstr(msg, "/data/Y row 3", &hit));
  CHECK(ierr == PETSC_ERR_USER_INPUT && hit, "%s check_target: %s not refused properly (error %d, message \"%s\")", L->name, why, (int)ierr, msg);
  PetscFunctionReturn(0);
}

static PetscErrorCode ExpectAccepted(const BbdLossOps *L, PetscInt n, PetscReal w, const PetscReal *Y, const char *why)
{
  char           msg[512] = "";
  PetscErrorCode ierr;

  PetscFunctionBeginUser;
  PetscCall(PetscPushErrorHandler(CatchError, msg));
  ierr = L->check_target(PETSC_COMM_SELF, why, n, w, Y);
  PetscCall(PetscPopErrorHandler());
  CHECK(!ierr, "%s check_target refuses %s: %s", L->name, why, msg);
  PetscFunctionReturn(0);
}

/* gradient, Hessian entries and product at one (Z, Y) */
static void CheckDerivatives(const BbdLossOps *L, PetscReal w, const PetscReal *Zin, const PetscReal *Y, const char *which)
{
  PetscReal Z[N], lam[N], lp[N], lm[N], H[N + 1], dZ[N], out[N], part[N], l, fd;

  for (PetscInt i = 0; i < N; i++) Z[i] = Zin[i];
  l = L->eval(N, w, Z, Y, lam);
  CHECK(L->eval(N, w, Z, Y, NULL) == l, "%s (%s): the value differs with lam = NULL", L->name, which);
  for (PetscInt i = 0; i < N + 1; i++) H[i] = NAN;
  if (L->linearise) L->linearise(N, w, Z, Y, H);
  for (PetscInt k = 0; k < N; k++) {
    const PetscReal zk = Z[k];

    Z[k] = zk + h;
    l    = L->eval(N, w, Z, Y, lp);
    Z[k] = zk - h;
    fd   = (l - L->eval(N, w, Z, Y, lm)) / (2 * h * w);
    Z[k] = zk;
    CHECK(PetscAbsReal(fd - lam[k]) <= tol * (1 + PetscAbsReal(lam[k])), "%s (%s), w = %g: lam[%d] = %.12g, finite difference %.12g", L->name, which, (double)w, (int)k, (double)lam[k], (double)fd);
    for (PetscInt j = 0; j < N; j++) { /* column k of eta d lam / dZ */
      const PetscBool in = (PetscBool)(L->hessian == BBD_HESSIAN_DENSE || (L->hessian == BBD_HESSIAN_DIAGONAL && j == k));
      const PetscReal e = in ? L->hessian_entry(N, H, eta, j, k) : 0;

      fd = eta * (lp[j] - lm[j]) / (2 * h);
      CHECK(PetscAbsReal(fd - e) <= tol * (1 + PetscAbsReal(e)), "%s (%s), w = %g: eta d lam_%d/dZ_%d = %.12g (%s), finite difference %.12g", L->name, which, (double)w, (int)j, (int)k, (double)e, in ? "hessian_entry" : "outside the pattern", (double)fd);
    }
  }
  if (L->hessian != BBD_HESSIAN_DENSE) return;
  for (PetscInt i = 0; i < N; i++) dZ[i] = 2 * Normal(14, (unsigned long)(1000 * w) + i);
  L->hessvec(N, H, eta, dZ, 0, N, out);
  L->hessvec(N, H, eta, dZ, 5, 7, part);
  for (PetscInt i = 0; i < N; i++) Z[i] = Zin[i] + h * dZ[i];
  (void)L->eval(N, w, Z, Y, lp);
  for (PetscInt i = 0; i < N; i++) Z[i] = Zin[i] - h * dZ[i];
  (void)L->eval(N, w, Z, Y, lm);
  for (PetscInt j = 0; j < N; j++) {
    PetscReal s = 0, a = 0;

    for (PetscInt k = 0; k < N; k++) {
      s += L->hessian_entry(N, H, eta, j, k) * dZ[k];
      a += PetscAbsReal(L->hessian_entry(N, H, eta, j, k) * dZ[k]);
    }
    fd = eta * (lp[j] - lm[j]) / (2 * h);
    CHECK(PetscAbsReal(fd - out[j]) <= tol * (1 + PetscAbsReal(out[j])) * MaxAbs(N, dZ), "%s (%s), w = %g: hessvec[%d] = %.12g, directional difference %.12g", L->name, which, (double)w, (int)j, (double)out[j], (double)fd);
    CHECK(PetscAbsReal(s - out[j]) <= 1e-12 * (1 + a), "%s (%s): hessvec[%d] = %.17g but sum_k hessian_entry dZ_k = %.17g", L->name, which, (int)j, (double)out[j], (double)s);
    if (j >= 5 && j < 12) CHECK(part[j - 5] == out[j], "%s (%s): hessvec's slice (5, 7) differs from the full product at %d", L->name, which, (int)j);
  }
}

/* interp_target: valid targets on every grid, the source reproduced where it must be */
static PetscErrorCode CheckInterp(PetscInt i, const BbdLossOps *L)
{
  const PetscInt NYs[4] = {8, 12, N, 2 * N};
  PetscReal      src[N], dst[2 * N];

  PetscFunctionBeginUser;
  for (PetscInt d = 0; d < 2; d++) {
    if (d == 0 && !HandTarget(i, 1.0 / N, 1, N, src)) continue;
    if (d == 1) { /* a smooth raw row, shaped */
      for (PetscInt k = 0; k < N; k++) src[k] = 2 * PetscSinReal(2 * PETSC_PI * k / N) + 0.3;
      L->shape_target(N, 1.0 / N, src);
    }
    for (PetscInt p = 0; p < 2; p++)
      for (PetscInt t = 0; t < 4; t++) {
        const PetscInt NY = NYs[t];
        char           what[64];

        PetscCall(L->interp_target(N, src, NY, (PetscBool)p, dst));
        PetscCall(PetscSNPrintf(what, sizeof(what), "interp_target to %d points (periodic %d)", (int)NY, (int)p));
        PetscCall(ExpectAccepted(L, NY, 1.0 / NY, dst, what));
        if (NY == N) /* the same grid: the source back (ce, kl: to the rounding of the rescaling by its mass) */
          for (PetscInt k = 0; k < N; k++) CHECK(PetscAbsReal(dst[k] - src[k]) <= 1e-12 * PetscAbsReal(src[k]), "%s: interp_target to the same grid at %d: %.17g, source %.17g", L->name, (int)k, (double)dst[k], (double)src[k]);
        if (NY == 2 * N && (i == BBD_LOSS_MSE || i == BBD_LOSS_HINGE)) /* every source node is the target node 2k: injection */
          for (PetscInt k = 0; k < N; k++) CHECK(dst[2 * k] == src[k], "%s: interp_target at node %d: %.17g, source %.17g (injection)", L->name, (int)k, (double)dst[2 * k], (double)src[k]);
        if (i == BBD_LOSS_MSE && d == 1 && p) /* trigonometric interpolation is exact for sin 2 pi y */
          for (PetscInt j = 0; j < NY; j++) CHECK(PetscAbsReal(dst[j] - 2 * PetscSinReal(2 * PETSC_PI * j / NY) - 0.3) <= 1e-13, "mse: interp_target of a sine at %d/%d: %.17g", (int)j, (int)NY, (double)dst[j]);
      }
  }
  PetscFunctionReturn(0);
}

int main(int argc, char **argv)
{
  const PetscReal ws[2] = {1, 1.0 / 8};
  PetscReal       Z[N], Y[N], raw[N], lam[N], l, sum;
  PetscInt        nloss = 0;

  PetscCall(PetscInitialize(&argc, &argv, NULL, help));
  while (BbdLossGetOps((BbdLoss)nloss)) nloss++;
  CHECK(nloss >= 4 && BbdLosses[nloss] && !strcmp(BbdLosses[nloss], "BbdLoss"), "the table has %d losses but BbdLosses[] names others", (int)nloss);
  for (PetscInt i = 0; i < nloss; i++) {
    const BbdLossOps *L = BbdLossGetOps((BbdLoss)i);
    BbdLoss           parsed;

    /* the entry: its name, its pattern's functions, the public wrappers call it */
    CHECK(!strcmp(L->name, BbdLosses[i]), "loss %d: table name %s, BbdLosses[] %s", (int)i, L->name, BbdLosses[i]);
    PetscCall(BbdLossFromString(PETSC_COMM_SELF, "t102", L->name, &parsed));
    CHECK(parsed == (BbdLoss)i, "%s parses as loss %d", L->name, (int)parsed);
    CHECK(L->eval && L->check_target && L->interp_target && L->shape_target && L->label_target, "%s: a required entry is NULL", L->name);
    CHECK(L->hessian == BBD_HESSIAN_ZERO ? !L->hessian_entry && !L->hessvec && !L->linearise : L->hessian_entry != NULL, "%s: hessian_entry (%p), hessvec, linearise do not fit the pattern %d", L->name, (void *)L->hessian_entry, (int)L->hessian);
    CHECK(L->hessian == BBD_HESSIAN_DENSE ? L->hessvec && L->linearise : !L->hessvec, "%s: a dense Hessian needs hessvec and linearise, others no hessvec", L->name);

    for (PetscInt iw = 0; iw < 2; iw++) {
      const PetscReal w = ws[iw];

      for (PetscInt d = 0; d < NDRAW; d++) {
        for (PetscInt k = 0; k < N; k++) Z[k] = 2 * Normal(10, (iw * NDRAW + d) * N + k);
        for (PetscInt src = 0; src < 2; src++) {
          if (src == 0 && !HandTarget(i, w, d, N, Y)) continue;
          if (src == 1) {
            for (PetscInt k = 0; k < N; k++) Y[k] = raw[k] = 3 * Normal(15, d * N + k);
            L->shape_target(N, w, Y);
          }
          PetscCall(ExpectAccepted(L, N, w, Y, src ? "shape_target's target" : "a valid target"));
          if (i == BBD_LOSS_HINGE)
            for (PetscInt k = 0; k < N; k++) CHECK(PetscAbsReal(1 - Y[k] * Z[k]) > 1e-3, "hinge: draw %d has Z within 1e-3 of a kink (choose other seeds)", (int)d);
          CheckDerivatives(L, w, Z, Y, src ? "shaped target" : "written target");
          CHECK(BbdLossEval((BbdLoss)i, N, w, Z, Y, lam) == L->eval(N, w, Z, Y, NULL), "%s: BbdLossEval differs from the table's eval", L->name);
        }
        /* shape_target against its definition */
        if (i == BBD_LOSS_MSE)
          for (PetscInt k = 0; k < N; k++) CHECK(Y[k] == raw[k], "mse: shape_target changed a target");
        if (i == BBD_LOSS_CE || i == BBD_LOSS_KL)
          for (PetscInt k = 0; k < N; k++) CHECK(PetscAbsReal(Y[k] / Y[0] - PetscExpReal(raw[k] - raw[0])) <= 1e-12 * PetscExpReal(raw[k] - raw[0]), "%s: shape_target is not the softmax density", L->name);
        if (i == BBD_LOSS_HINGE)
          for (PetscInt k = 0; k < N; k++) CHECK(Y[k] == (raw[k] >= 0 ? 1 : -1), "hinge: shape_target is not the sign");
      }

      /* label_target: a valid target that singles out the class */
      for (PetscInt c = 0; c < 10; c++) {
        L->label_target(10, w, c, Y);
        PetscCall(ExpectAccepted(L, 10, w, Y, "label_target's target"));
        for (PetscInt k = 0; k < 10; k++) CHECK(k == c || Y[k] < Y[c], "%s: label_target(%d) is not largest at the class", L->name, (int)c);
      }

      /* refusals: NaN and Inf for every loss */
      HandTarget(i, w, 0, N, Y) ? (void)0 : L->shape_target(N, w, Y);
      l     = Y[3];
      Y[3]  = NAN;
      PetscCall(ExpectRefused(L, N, w, Y, "NaN"));
      Y[3] = INFINITY;
      PetscCall(ExpectRefused(L, N, w, Y, "Inf"));
      Y[3] = l;
    }
    PetscCall(CheckInterp(i, L));
  }

  /* loss-specific refusals and acceptances */
  for (PetscInt i = BBD_LOSS_CE; i <= BBD_LOSS_KL; i++) {
    const BbdLossOps *L = BbdLossGetOps((BbdLoss)i);

    for (PetscInt k = 0; k < N; k++) Y[k] = 1.0 / N;
    PetscCall(ExpectAccepted(L, N, 1, Y, "uniform density"));
    PetscCall(ExpectRefused(L, N, 0.5, Y, "w sum Y = 1/2"));
    Y[3] = -1.0 / N;
    Y[4] = 3.0 / N;
    PetscCall(ExpectRefused(L, N, 1, Y, "a negative entry"));
  }
  for (PetscInt k = 0; k < N; k++) Y[k] = 1e30 * (k % 2 ? 1 : -1);
  PetscCall(ExpectAccepted(BbdLossGetOps(BBD_LOSS_MSE), N, 1, Y, "large finite mse targets"));
  for (PetscInt k = 0; k < N; k++) Y[k] = k % 2 ? 1 : -1;
  Y[3] = 0.5;
  PetscCall(ExpectRefused(BbdLossGetOps(BBD_LOSS_HINGE), N, 1, Y, "0.5"));
  Y[3] = 0;
  PetscCall(ExpectRefused(BbdLossGetOps(BBD_LOSS_HINGE), N, 1, Y, "0"));

  /* analytic values */
  for (PetscInt iw = 0; iw < 2; iw++) {
    const PetscReal w = ws[iw];
    { /* mse of known vectors: Z = (1, 2, 3), Y = 0: l = 14 w / 2 */
      const PetscReal z3[3] = {1, 2, 3}, y3[3] = {0, 0, 0};
      l = BbdLossEval(BBD_LOSS_MSE, 3, w, z3, y3, lam);
      CHECK(PetscAbsReal(l - 7 * w) <= 1e-12 * 7 * w && lam[2] == 3, "mse: l = %.17g, expected %.17g", (double)l, (double)(7 * w));
    }
    /* ce with uniform Z: p = 1/(N w), l = -w sum Y log(1/(N w)) = log(N w) for a density;
       large Z tests the max shift */
    sum = 0;
    for (PetscInt k = 0; k < N; k++) sum += (Y[k] = 1 + k);
    for (PetscInt k = 0; k < N; k++) {
      Y[k] /= w * sum;
      Z[k] = 1000;
    }
    l = BbdLossEval(BBD_LOSS_CE, N, w, Z, Y, lam);
    CHECK(PetscAbsReal(l - PetscLogReal(N * w)) <= 1e-12 * (1 + PetscAbsReal(PetscLogReal(N * w))), "ce, w = %g, uniform Z: l = %.17g, expected log(N w) = %.17g", (double)w, (double)l, (double)PetscLogReal(N * w));
    CHECK(PetscAbsReal(lam[0] - (1 / (N * w) - Y[0])) <= 1e-12 / w, "ce, uniform Z: lam[0] = %.17g, expected p - Y = %.17g", (double)lam[0], (double)(1 / (N * w) - Y[0]));
    /* kl(Y, softmax density of log Y) = 0 and lam = 0 (with a zero entry: Z = -800) */
    Y[7] = 0;
    sum  = 0;
    for (PetscInt k = 0; k < N; k++) sum += Y[k];
    for (PetscInt k = 0; k < N; k++) {
      Y[k] /= w * sum;
      Z[k] = Y[k] > 0 ? PetscLogReal(Y[k]) + 3 : -800;
    }
    l = BbdLossEval(BBD_LOSS_KL, N, w, Z, Y, lam);
    CHECK(PetscAbsReal(l) <= 1e-14 && PetscAbsReal(lam[3]) <= 1e-12 / w, "kl(Y, Y), w = %g: l = %g (expected 0), lam[3] = %g", (double)w, (double)l, (double)lam[3]);
    { /* hinge: Y = (1, -1, 1), Z = (0.5, 2, 1): l = w (0.5 + 3 + 0), lam = (-1, 1, 0 at the kink) */
      const PetscReal z3[3] = {0.5, 2, 1}, y3[3] = {1, -1, 1};
      l = BbdLossEval(BBD_LOSS_HINGE, 3, w, z3, y3, lam);
      CHECK(PetscAbsReal(l - 3.5 * w) <= 1e-15 && lam[0] == -1 && lam[1] == 1 && lam[2] == 0, "hinge: l = %g (expected %g), lam = (%g, %g, %g), expected (-1, 1, 0)", (double)l, (double)(3.5 * w), (double)lam[0], (double)lam[1], (double)lam[2]);
    }
  }
  PetscCall(PetscFinalize());
  return nfail ? 1 : 0;
}
