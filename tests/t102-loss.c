static const char help[] = "t102: loss gradients against finite differences, analytic values, target checks.\n";

/* lam_i = (1/w) dl/dZ_i is checked against (l(Z + h e_i) - l(Z - h e_i)) / (2 h w)
   with h = 1e-5, for w = 1 and w = 1/16 (n = 16 units). Error: truncation
   h^2/6 |l'''| / w <= 1e-10 * 16 and rounding eps |l| / (h w) <= 2.2e-16 * 10 * 16 / 1e-5
   ~ 4e-9, so the tolerance 1e-7 (1 + |lam|) has a margin of 25 and still catches
   any formula error (those are O(w) or O(1)). Hinge is piecewise linear:
   its Z are kept >= 0.1 from the kink, so the difference is exact to rounding.
   Analytic values are checked to 1e-12 relative (a few hundred ulps of sums of 16 terms). */
#include "bbdtest.h"

#define N 16



/* Expect BbdLossCheckTarget to refuse Y with PETSC_ERR_USER_INPUT and a message naming `what`. */
static PetscErrorCode ExpectRefused(BbdLoss loss, PetscReal w, const PetscReal *Y, const char *why)
{
  char           msg[512] = "", *hit;
  PetscErrorCode ierr;

  PetscFunctionBeginUser;
  PetscCall(PetscPushErrorHandler(CatchError, msg));
  ierr = BbdLossCheckTarget(PETSC_COMM_SELF, loss, "/data/Y row 3", N, w, Y);
  PetscCall(PetscPopErrorHandler());
  PetscCall(PetscStrstr(msg, "/data/Y row 3", &hit));
  CHECK(ierr == PETSC_ERR_USER_INPUT && hit, "%s target check: %s not refused properly (error %d, message \"%s\")", BbdLosses[loss], why, (int)ierr, msg);
  PetscFunctionReturn(0);
}

int main(int argc, char **argv)
{
  const PetscReal h = 1e-5, ws[2] = {1, 1.0 / 16};
  PetscReal       Z[N], Y[N], lam[N], l, sum;

  PetscCall(PetscInitialize(&argc, &argv, NULL, help));
  for (PetscInt iw = 0; iw < 2; iw++) {
    const PetscReal w = ws[iw];

    for (PetscInt loss = 0; loss <= BBD_LOSS_HINGE; loss++) {
      /* Z away from the hinge kinks Y Z = 1: |Z_i| in [0.2, 0.8] or 1.3 */
      for (PetscInt i = 0; i < N; i++) Z[i] = (i % 3 == 0 ? 1.3 : 0.2 + 0.04 * i) * (i % 2 ? -1 : 1);
      sum = 0;
      for (PetscInt i = 0; i < N; i++) {
        if (loss == BBD_LOSS_HINGE) Y[i] = (i % 4 < 2) ? 1 : -1;
        else if (loss == BBD_LOSS_MSE) Y[i] = PetscSinReal(i);
        else sum += (Y[i] = (i == 5 ? 0 : 1 + 0.5 * PetscSinReal(i))); /* one zero: 0 log 0 */
      }
      if (loss == BBD_LOSS_CE || loss == BBD_LOSS_KL)
        for (PetscInt i = 0; i < N; i++) Y[i] /= w * sum;
      PetscCall(BbdLossCheckTarget(PETSC_COMM_SELF, (BbdLoss)loss, "valid target", N, w, Y));
      l = BbdLossEval((BbdLoss)loss, N, w, Z, Y, lam);
      CHECK(BbdLossEval((BbdLoss)loss, N, w, Z, Y, NULL) == l, "%s: loss differs with lam = NULL", BbdLosses[loss]);
      for (PetscInt i = 0; i < N; i++) {
        PetscReal zi = Z[i], lp, lm, fd;

        Z[i] = zi + h;
        lp   = BbdLossEval((BbdLoss)loss, N, w, Z, Y, NULL);
        Z[i] = zi - h;
        lm   = BbdLossEval((BbdLoss)loss, N, w, Z, Y, NULL);
        Z[i] = zi;
        fd   = (lp - lm) / (2 * h * w);
        CHECK(PetscAbsReal(fd - lam[i]) <= 1e-7 * (1 + PetscAbsReal(lam[i])), "%s, w = %g: lam[%d] = %.12g, finite difference %.12g", BbdLosses[loss], (double)w, (int)i, (double)lam[i], (double)fd);
      }
    }

    /* mse of known vectors: Z = (1, 2, 3), Y = 0: l = 14 w / 2 */
    {
      const PetscReal z3[3] = {1, 2, 3}, y3[3] = {0, 0, 0};
      l = BbdLossEval(BBD_LOSS_MSE, 3, w, z3, y3, lam);
      CHECK(PetscAbsReal(l - 7 * w) <= 1e-12 * 7 * w && lam[2] == 3, "mse: l = %.17g, expected %.17g", (double)l, (double)(7 * w));
    }
    /* ce with uniform Z: p = 1/(N w), l = -w sum Y log(1/(N w)) = log(N w) for a density;
       large Z tests the max shift */
    sum = 0;
    for (PetscInt i = 0; i < N; i++) sum += (Y[i] = 1 + i);
    for (PetscInt i = 0; i < N; i++) {
      Y[i] /= w * sum;
      Z[i] = 1000;
    }
    l = BbdLossEval(BBD_LOSS_CE, N, w, Z, Y, lam);
    CHECK(PetscAbsReal(l - PetscLogReal(N * w)) <= 1e-12 * (1 + PetscAbsReal(PetscLogReal(N * w))), "ce, w = %g, uniform Z: l = %.17g, expected log(N w) = %.17g", (double)w, (double)l, (double)PetscLogReal(N * w));
    CHECK(PetscAbsReal(lam[0] - (1 / (N * w) - Y[0])) <= 1e-12 / w, "ce, uniform Z: lam[0] = %.17g, expected p - Y = %.17g", (double)lam[0], (double)(1 / (N * w) - Y[0]));
    /* kl(Y, softmax density of log Y) = 0 and lam = 0 (with a zero entry: Z = -800) */
    Y[7] = 0;
    sum  = 0;
    for (PetscInt i = 0; i < N; i++) sum += Y[i];
    for (PetscInt i = 0; i < N; i++) {
      Y[i] /= w * sum;
      Z[i] = Y[i] > 0 ? PetscLogReal(Y[i]) + 3 : -800;
    }
    l = BbdLossEval(BBD_LOSS_KL, N, w, Z, Y, lam);
    CHECK(PetscAbsReal(l) <= 1e-14 && PetscAbsReal(lam[3]) <= 1e-12 / w, "kl(Y, Y), w = %g: l = %g (expected 0), lam[3] = %g", (double)w, (double)l, (double)lam[3]);
    /* hinge: Y = (1, -1, 1), Z = (0.5, 2, 1): l = w (0.5 + 3 + 0), lam = (-1, 1, 0 at the kink) */
    {
      const PetscReal z3[3] = {0.5, 2, 1}, y3[3] = {1, -1, 1};
      l = BbdLossEval(BBD_LOSS_HINGE, 3, w, z3, y3, lam);
      CHECK(PetscAbsReal(l - 3.5 * w) <= 1e-15 && lam[0] == -1 && lam[1] == 1 && lam[2] == 0, "hinge: l = %g (expected %g), lam = (%g, %g, %g), expected (-1, 1, 0)", (double)l, (double)(3.5 * w), (double)lam[0], (double)lam[1], (double)lam[2]);
    }
  }

  /* target checks */
  for (PetscInt i = 0; i < N; i++) Y[i] = 1.0 / N;
  PetscCall(BbdLossCheckTarget(PETSC_COMM_SELF, BBD_LOSS_CE, "density", N, 1, Y));
  Y[3] = NAN;
  PetscCall(ExpectRefused(BBD_LOSS_MSE, 1, Y, "NaN"));
  Y[3] = INFINITY;
  PetscCall(ExpectRefused(BBD_LOSS_MSE, 1, Y, "Inf"));
  Y[3] = 1.0 / N;
  PetscCall(ExpectRefused(BBD_LOSS_CE, 0.5, Y, "w sum Y = 1/2"));
  Y[3] = -1.0 / N;
  Y[4] = 3.0 / N;
  PetscCall(ExpectRefused(BBD_LOSS_KL, 1, Y, "a negative entry"));
  for (PetscInt i = 0; i < N; i++) Y[i] = i % 2 ? 1 : -1;
  PetscCall(BbdLossCheckTarget(PETSC_COMM_SELF, BBD_LOSS_HINGE, "signs", N, 1, Y));
  Y[3] = 0.5;
  PetscCall(ExpectRefused(BBD_LOSS_HINGE, 1, Y, "0.5"));
  PetscCall(PetscFinalize());
  return nfail ? 1 : 0;
}
