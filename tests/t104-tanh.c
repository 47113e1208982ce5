static const char help[] = "t104: the AVX2 tanh of the residual kernels (src/tanh4.h) against tanhl: ulp bound and special values.\n";

/* BbdTanh4 (src/tanh4.h, used by the AVX2 kernels of src/residual.c) is compared with the x87
   long double tanhl (64-bit significand: its own error, a fraction of a double ulp / 2^11, does
   not affect the count). The error is counted in ulps of the exact value's binade (ulp(y) =
   2^(e - 52) for 2^e <= |y| < 2^(e + 1); 2^-1074 among subnormals). Samples, deterministic:
   (a) 2^23 values of |x| log-spaced from 1e-9 to 3e3 with a random jitter inside each step and a
   random sign; (b) 2^20 values uniform on [0, 2] (the range where the result is not 1 or x to
   within rounding and all branches of the reduction k = round(2|x|/ln2) = 0..2 are used); (c) the
   reduction's switch points 2|x| = (k + 1/2) ln2, k = 0..63, and 8 neighbours in ulps on each side.
   Measured maxima (gcc 12, x86-64): (a) 2.48 ulp, (b) 2.54 ulp, (c) 1.38 ulp; the largest errors
   are near |x| = 0.2, where t = expm1(2|x|) is formed as 2 expm1(r) + 1 with r near -ln2/2 (a
   denser scan of [0.17, 0.35] finds 2.64 ulp; the mean is 0.36 ulp). The bound checked, 3 ulp,
   is that with a margin; a wrong low-order coefficient or reduction constant costs far more. The residual's previous tanh (glibc's vector expm1, same quotient) had
   4.1 ulp. Special values: +-0 (sign kept), subnormals (tanh x = x), +-inf and +-1e308 give +-1,
   NaN gives NaN. */
#include "bbdtest.h"
#include <math.h>
#include <stdint.h>

#if defined(__x86_64__) && defined(__GNUC__)
  #include "core/tanh4.h"

/* y = tanh(x) with BbdTanh4, n a multiple of 4 */
__attribute__((target("avx2,fma"))) static void TanhArray(size_t n, const double *x, double *y)
{
  for (size_t i = 0; i < n; i += 4) _mm256_storeu_pd(y + i, BbdTanh4(_mm256_loadu_pd(x + i)));
}

/* |y - ref| in ulps of ref's binade */
static double UlpError(double y, long double ref)
{
  const long double a = fabsl(ref);
  int               e;

  if (isnan(y) || isnan((double)ref)) return isnan(y) && isnan((double)ref) ? 0 : INFINITY;
  if (a < 0x1p-1022L) return (double)(fabsl((long double)y - ref) / 0x1p-1074L);
  (void)frexpl(a, &e); /* a in [2^(e-1), 2^e) */
  return (double)(fabsl((long double)y - ref) / ldexpl(1.0L, e - 1 - 52));
}

static uint64_t XorShift(uint64_t *s)
{
  *s ^= *s << 13;
  *s ^= *s >> 7;
  *s ^= *s << 17;
  return *s;
}

static double Uniform(uint64_t *s) { return (double)(XorShift(s) >> 11) * 0x1p-53; }

/* the largest error of BbdTanh4 over x[0..n) (n a multiple of 4), and where */
static double MaxUlp(size_t n, const double *x, double *y, double *xmax)
{
  double m = 0;

  TanhArray(n, x, y);
  for (size_t i = 0; i < n; i++) {
    const double e = UlpError(y[i], tanhl((long double)x[i]));
    if (!(e <= m)) m = e, *xmax = x[i];
  }
  return m;
}
#endif

int main(int argc, char **argv)
{
  PetscCall(PetscInitialize(&argc, &argv, NULL, help));
#if defined(__x86_64__) && defined(__GNUC__)
  if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma")) {
    printf("t104: no AVX2/FMA on this CPU: BbdTanh4 is not used and not tested\n");
  } else {
    const double bound = 3.0;
    const size_t na = (size_t)1 << 23, nb = (size_t)1 << 20, nc = 64 * 17 + 4;
    double      *x, *y, m, xm = 0;
    uint64_t     s = 88172645463325252ULL;

    PetscCall(PetscMalloc2(na, &x, na, &y));
    { /* (a) log-spaced, 1e-9 <= |x| <= 3e3 */
      const double l0 = log(1e-9), l1 = log(3e3);
      for (size_t i = 0; i < na; i++) {
        const double v = exp(l0 + (l1 - l0) * ((double)i + Uniform(&s)) / (double)na);
        x[i]           = Uniform(&s) < 0.5 ? -v : v;
      }
      m = MaxUlp(na, x, y, &xm);
      CHECK(m <= bound, "log-spaced |x| in [1e-9, 3e3]: %.3f ulp at x = %.17g, bound %.1f", m, xm, bound);
    }
    { /* (b) uniform on [0, 2] */
      for (size_t i = 0; i < nb; i++) x[i] = 2 * ((double)i + Uniform(&s)) / (double)nb;
      m = MaxUlp(nb, x, y, &xm);
      CHECK(m <= bound, "uniform x in [0, 2]: %.3f ulp at x = %.17g, bound %.1f", m, xm, bound);
    }
    { /* (c) around the switch points of the reduction */
      size_t n = 0;
      for (int k = 0; k < 64; k++) {
        double v = (k + 0.5) * 0.69314718055994531 / 2;
        for (int j = 0; j < 8; j++) v = nextafter(v, 0);
        for (int j = 0; j < 17; j++, v = nextafter(v, INFINITY)) x[n++] = v;
      }
      while (n < nc) x[n++] = 1;
      m = MaxUlp(nc, x, y, &xm);
      CHECK(m <= bound, "switch points of the reduction: %.3f ulp at x = %.17g, bound %.1f", m, xm, bound);
    }
    { /* special values */
      const double sp[12] = {0.0, -0.0, INFINITY, -INFINITY, NAN, 1e308, -1e308, 0x1p-1074, -0x1p-1074, 0x1p-1022, -1e-300, 22.5};
      TanhArray(12, sp, y);
      CHECK(y[0] == 0 && !signbit(y[0]) && y[1] == 0 && signbit(y[1]), "tanh(+-0) = %g, %g: expected +0, -0", y[0], y[1]);
      CHECK(y[2] == 1 && y[3] == -1, "tanh(+-inf) = %g, %g: expected +-1", y[2], y[3]);
      CHECK(isnan(y[4]), "tanh(NaN) = %g: expected NaN", y[4]);
      CHECK(y[5] == 1 && y[6] == -1 && y[11] == 1, "tanh(+-1e308) = %g, %g, tanh(22.5) = %.17g: expected +-1, 1", y[5], y[6], y[11]);
      for (int i = 7; i < 11; i++) CHECK(y[i] == sp[i], "tanh(%g) = %g: expected x itself (tiny x)", sp[i], y[i]);
    }
    PetscCall(PetscFree2(x, y));
  }
#endif
  PetscCall(PetscFinalize());
  return nfail ? 1 : 0;
}
