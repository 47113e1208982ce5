static const char help[] = "t104: the AVX2 tanh of the residual kernels (src/tanh4.h) against tanhl: ulp bound and special values.\n";

/* BbdTanh4 (src/tanh4.h, used by the AVX2 kernels of src/residual.c) is compared with the x87
   long double tanhl (64-bit significand: its own error, a fraction of a double ulp / 2^11, does
   not affect the count). The error is counted in ulps of the exact value's binade (ulp(y) =
   2^(e - 52) for 2^e <= |y| < 2^(e + 1); 2^-1074 among subnormals). Samples, deterministic:
   (a) 2^23 values of |x| log-spaced from 1e-9 to 3e3 with a random jitter inside each step and a
   random sign; (b) 2^20 values uniform on [0, 2] (the range where the result is not 1 or x to
   within rounding and all branches of the reduction k = round(2|x|/ln2) = 0..2 are used); (c) the
   reduction's switch points 2|x| = (k + 1/2) ln2, k = 0..63, and 8 neighbours in ulps on each side.
   Measured maxima (gcc 12, x86-64; the same to 3 digits with either reference below): (a) 2.48
   ulp, (b) 2.54 ulp, (c) 1.38 ulp; the largest errors
   are near |x| = 0.2, where t = expm1(2|x|) is formed as 2 expm1(r) + 1 with r near -ln2/2 (a
   denser scan of [0.17, 0.35] finds 2.64 ulp; the mean is 0.36 ulp). The bound checked, 3 ulp,
   is that with a margin; a wrong low-order coefficient or reduction constant costs far more. The residual's previous tanh (glibc's vector expm1, same quotient) had
   4.1 ulp. Special values: +-0 (sign kept), subnormals (tanh x = x), +-inf and +-1e308 give +-1,
   NaN gives NaN.
   Without AVX2/FMA (or off x86-64 GCC/Clang) BbdTanh4 is never run by the library and cannot be
   run here: the test exits with T104_SKIP, which tests/CMakeLists.txt declares as its
   SKIP_RETURN_CODE, so CTest reports it as skipped, not as passed. The comparison is always
   BbdTanh4 against an independent reference, never the library's portable code against itself.
   The reference is tanhl where long double arithmetic has its 64-bit significand; where it has
   not (valgrind emulates x87 with 53 bits: tanhl is then a double tanh, off by up to 1 ulp, and
   the ulp counts come out at 4-5) it is RefTanh below, double-double arithmetic in plain double
   operations (about 2^-100 relative). Where both are available they are checked against each
   other on the switch points (c) and 2^12 values of (a) (2^-60 relative). */
#include "bbdtest.h"
#include <math.h>
#include <stdint.h>

#define T104_SKIP 77 /* CTest SKIP_RETURN_CODE of t104 (tests/CMakeLists.txt) */

#if defined(__x86_64__) && defined(__GNUC__)
  #include "core/tanh4.h"

/* y = tanh(x) with BbdTanh4, n a multiple of 4 */
__attribute__((target("avx2,fma"))) static void TanhArray(size_t n, const double *x, double *y)
{
  for (size_t i = 0; i < n; i += 4) _mm256_storeu_pd(y + i, BbdTanh4(_mm256_loadu_pd(x + i)));
}

/* double-double arithmetic (Dekker, Knuth): value hi + lo, |lo| <= ulp(hi)/2; plain double
   operations only (no FMA, no x87), so it is exact under any IEEE double implementation */
typedef struct {
  double hi, lo;
} DD;

static inline DD DDQuick(double a, double b) /* |a| >= |b| */
{
  const double s = a + b;
  return (DD){s, b - (s - a)};
}
static inline DD DDTwoSum(double a, double b)
{
  const double s = a + b, bb = s - a;
  return (DD){s, (a - (s - bb)) + (b - bb)};
}
static inline void DDSplit(double a, double *h, double *l)
{
  const double t = 134217729.0 * a; /* 2^27 + 1 */
  *h = t - (t - a);
  *l = a - *h;
}
static inline DD DDTwoProd(double a, double b)
{
  double       ah, al, bh, bl;
  const double p = a * b;
  DDSplit(a, &ah, &al);
  DDSplit(b, &bh, &bl);
  return (DD){p, ((ah * bh - p) + ah * bl + al * bh) + al * bl};
}
static inline DD DDAdd(DD x, DD y)
{
  DD s = DDTwoSum(x.hi, y.hi);
  return DDQuick(s.hi, s.lo + x.lo + y.lo);
}
static inline DD DDMul(DD x, DD y)
{
  DD p = DDTwoProd(x.hi, y.hi);
  return DDQuick(p.hi, p.lo + x.hi * y.lo + x.lo * y.hi);
}
static inline DD DDMulD(DD x, double d)
{
  DD p = DDTwoProd(x.hi, d);
  return DDQuick(p.hi, p.lo + x.lo * d);
}
static inline DD DDDiv(DD x, DD y)
{
  const double q1 = x.hi / y.hi;
  DD           r  = DDAdd(x, DDMulD(y, -q1));
  const double q2 = r.hi / y.hi;
  r               = DDAdd(r, DDMulD(y, -q2));
  return DDAdd(DDQuick(q1, q2), (DD){r.hi / y.hi, 0});
}

#define DD_NTERMS 24
/* tanh x to about 2^-100 relative: tanh|x| = t/(t + 2), t = expm1(2|x|) with 2|x| = k ln2 + r,
   |r| <= ln2/2, expm1(r) by its Taylor series (24 terms), expm1(2|x|) = 2^k expm1(r) + (2^k - 1);
   tanh|x| = 1 - 2e^(-2|x|) to double-double precision for |x| > 40 */
static DD RefTanh(double x)
{
  static DD    c[DD_NTERMS + 1];
  static int   init = 0;
  const DD     ln2 = {0x1.62e42fefa39efp-1, 0x1.abc9e3b39803fp-56};
  const double ax = fabs(x), y = 2 * ax;
  DD           r, p, t, q;
  double       k;

  if (!init) { /* c_n = 1/n! */
    c[0] = (DD){1, 0};
    for (int n = 1; n <= DD_NTERMS; n++) c[n] = DDDiv(c[n - 1], (DD){n, 0});
    init = 1;
  }
  if (isnan(x)) return (DD){x, 0};
  if (ax > 40) q = DDQuick(1, -2 * exp(-y));
  else {
    k = nearbyint(y / ln2.hi);
    r = DDAdd((DD){y, 0}, DDMulD(ln2, -k));
    p = c[DD_NTERMS];
    for (int n = DD_NTERMS - 1; n >= 1; n--) p = DDAdd(DDMul(p, r), c[n]);
    p = DDMul(p, r);                                                             /* expm1(r) */
    t = DDAdd(DDMulD(p, ldexp(1.0, (int)k)), DDQuick(ldexp(1.0, (int)k), -1)); /* expm1(2|x|) */
    q = DDDiv(t, DDAdd(t, (DD){2, 0}));
  }
  return x < 0 ? (DD){-q.hi, -q.lo} : q;
}

/* does long double arithmetic carry more than double's 53 bits here? */
static int ExtendedLongDouble(void)
{
  volatile long double one = 1, tiny = 0x1p-60L;
  return one + tiny != one;
}
static int use_tanhl;

/* the reference tanh x as a double-double */
static DD Reference(double x)
{
  if (use_tanhl) {
    const long double t = tanhl((long double)x);
    const double      h = (double)t;
    return (DD){h, (double)(t - h)};
  }
  return RefTanh(x);
}

/* |y - ref| in ulps of ref's binade (ulp(y) = 2^(e - 52) for 2^e <= |ref| < 2^(e + 1)), in double
   operations: y - ref.hi is exact wherever the error is small (Sterbenz) */
static double UlpError(double y, DD ref)
{
  const double a = fabs(ref.hi);
  double       d;
  int          e;

  if (isnan(y) || isnan(ref.hi)) return isnan(y) && isnan(ref.hi) ? 0 : INFINITY;
  d = fabs((y - ref.hi) - ref.lo);
  if (a < 0x1p-1022) return d / 0x1p-1074;
  (void)frexp(a, &e); /* a in [2^(e-1), 2^e) */
  if (a == ldexp(1.0, e - 1) && (ref.lo < 0) != (ref.hi < 0)) e--; /* hi a power of 2, the value just below it */
  return d / ldexp(1.0, e - 1 - 52);
}

static uint64_t XorShift(uint64_t *s)
{
  *s ^= *s << 13;
  *s ^= *s >> 7;
  *s ^= *s << 17;
  return *s;
}

static double Uniform(uint64_t *s) { return (double)(XorShift(s) >> 11) * 0x1p-53; }

/* the two references against each other, where long double is extended */
static void CrossCheck(size_t n, const double *x)
{
  double worst = 0, xw = 0;

  if (!ExtendedLongDouble()) return;
  for (size_t i = 0; i < n; i++) {
    const DD          r = RefTanh(x[i]);
    const long double t = tanhl((long double)x[i]), d = fabsl(((long double)r.hi - t) + (long double)r.lo) / fabsl(t);
    if (!((double)d <= worst)) worst = (double)d, xw = x[i];
  }
  CHECK(worst <= 0x1p-60, "the double-double reference differs from tanhl by %.3g relative at x = %.17g", worst, xw);
}

/* the largest error of BbdTanh4 over x[0..n) (n a multiple of 4), and where */
static double MaxUlp(size_t n, const double *x, double *y, double *xmax)
{
  double m = 0;

  TanhArray(n, x, y);
  for (size_t i = 0; i < n; i++) {
    const double e = UlpError(y[i], Reference(x[i]));
    if (!(e <= m)) m = e, *xmax = x[i];
  }
  return m;
}
#endif

int main(int argc, char **argv)
{
  PetscBool skip = PETSC_TRUE;

  PetscCall(PetscInitialize(&argc, &argv, NULL, help));
#if defined(__x86_64__) && defined(__GNUC__)
  if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma")) {
    printf("t104: SKIPPED: no AVX2/FMA on this CPU: BbdTanh4 is not used and not tested\n");
  } else {
    const double bound = 3.0;
    const size_t na = (size_t)1 << 23, nb = (size_t)1 << 20, nc = 64 * 17 + 4;
    double      *x, *y, m, xm = 0;
    uint64_t     s = 88172645463325252ULL;

    skip      = PETSC_FALSE;
    use_tanhl = ExtendedLongDouble();

    PetscCall(PetscMalloc2(na, &x, na, &y));
    { /* (a) log-spaced, 1e-9 <= |x| <= 3e3 */
      const double l0 = log(1e-9), l1 = log(3e3);
      for (size_t i = 0; i < na; i++) {
        const double v = exp(l0 + (l1 - l0) * ((double)i + Uniform(&s)) / (double)na);
        x[i]           = Uniform(&s) < 0.5 ? -v : v;
      }
      m = MaxUlp(na, x, y, &xm);
      CHECK(m <= bound, "log-spaced |x| in [1e-9, 3e3]: %.3f ulp at x = %.17g, bound %.1f", m, xm, bound);
      CrossCheck(4096, x + na / 2 - 2048);
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
      CrossCheck(nc, x);
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
#else
  printf("t104: SKIPPED: not x86-64 with GCC or Clang: BbdTanh4 is not built\n");
#endif
  PetscCall(PetscFinalize());
  return nfail ? 1 : (skip ? T104_SKIP : 0);
}
