static const char help[] = "t103: counter-based random numbers: moments, independence, determinism.\n";

/* Statistical bounds are 5 standard errors of the estimator over n = 1e5 draws
   (a false alarm has probability ~6e-7 per check; the draws are deterministic,
   so a pass is reproducible):
     uniform mean:       sd = sqrt(1/12 / n)              = 9.1e-4 -> 4.6e-3
     uniform variance:   sd = sqrt((1/80 - 1/144) / n)    = 2.4e-4 -> 1.2e-3
     normal mean:        sd = sqrt(1 / n)                 = 3.2e-3 -> 1.6e-2
     normal variance:    sd = sqrt(2 / n)                 = 4.5e-3 -> 2.3e-2
     normal kurtosis E x^4 = 3: sd = sqrt(96 / n)         = 3.1e-2 -> 1.6e-1
     correlations (lag 1, across streams, across seeds): sd = 1/sqrt(n) -> 1.6e-2 */
#include "bbdtest.h"


int main(int argc, char **argv)
{
  const unsigned long n = 100000, seed = 42;
  PetscReal           mu = 0, vu = 0, mn = 0, vn = 0, kn = 0, lag = 0, cross = 0, cseed = 0, umin = 1, umax = 0;

  PetscCall(PetscInitialize(&argc, &argv, NULL, help));
  for (unsigned long k = 0; k < n; k++) {
    const PetscReal u = BbdRandUniform(seed, 1, k), x = BbdRandNormal(seed, 1, k);

    umin = PetscMin(umin, u);
    umax = PetscMax(umax, u);
    mu += u;
    vu += (u - 0.5) * (u - 0.5);
    mn += x;
    vn += x * x;
    kn += x * x * x * x;
    lag += x * BbdRandNormal(seed, 1, k + 1);
    cross += x * BbdRandNormal(seed, 2, k);
    cseed += x * BbdRandNormal(seed + 1, 1, k);
  }
  mu /= n, vu /= n, mn /= n, vn /= n, kn /= n, lag /= n, cross /= n, cseed /= n;
  CHECK(umin > 0 && umax < 1, "uniform: draws outside (0, 1): min %g, max %g", (double)umin, (double)umax);
  CHECK(PetscAbsReal(mu - 0.5) <= 4.6e-3, "uniform: mean %g, expected 0.5 +- 4.6e-3", (double)mu);
  CHECK(PetscAbsReal(vu - 1.0 / 12) <= 1.2e-3, "uniform: variance %g, expected 1/12 +- 1.2e-3", (double)vu);
  CHECK(PetscAbsReal(mn) <= 1.6e-2, "normal: mean %g, expected 0 +- 1.6e-2", (double)mn);
  CHECK(PetscAbsReal(vn - 1) <= 2.3e-2, "normal: variance %g, expected 1 +- 2.3e-2", (double)vn);
  CHECK(PetscAbsReal(kn - 3) <= 1.6e-1, "normal: E x^4 = %g, expected 3 +- 0.16", (double)kn);
  CHECK(PetscAbsReal(lag) <= 1.6e-2, "normal: lag-1 correlation %g, expected 0 +- 1.6e-2", (double)lag);
  CHECK(PetscAbsReal(cross) <= 1.6e-2, "normal: correlation of streams 1 and 2 is %g, expected 0 +- 1.6e-2", (double)cross);
  CHECK(PetscAbsReal(cseed) <= 1.6e-2, "normal: correlation of seeds 42 and 43 is %g, expected 0 +- 1.6e-2", (double)cseed);

  /* determinism: a pure function of (seed, stream, k), whatever was drawn before */
  CHECK(BbdRandUniform(7, 3, 12345) == BbdRandUniform(7, 3, 12345) && BbdRandNormal(7, 3, 12345) == BbdRandNormal(7, 3, 12345), "not deterministic");
  CHECK(BbdRandUniform(7, 3, 12345) != BbdRandUniform(8, 3, 12345) && BbdRandUniform(7, 3, 12345) != BbdRandUniform(7, 4, 12345) && BbdRandUniform(7, 3, 12345) != BbdRandUniform(7, 3, 12346), "seed, stream or counter does not change the draw");
  PetscCall(PetscFinalize());
  return nfail ? 1 : 0;
}
