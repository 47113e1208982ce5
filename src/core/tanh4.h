/* tanh of four doubles in AVX2/FMA registers, branch-free, without libm (the residual's AVX2
   kernels, src/residual.c; test: tests/t104-tanh.c). Include only on x86-64 with GCC or Clang.

   tanh|x| = t/(t + 2) with t = expm1(2|x|) >= 0, the sign put back: no cancellation at any x (the
   quotient is computed from t, never as 1 - something), and an error of t is damped in the quotient
   by 2/(t + 2) <= 1. |x| is clamped at 22 (tanh is 1 in double precision from 19.1; expm1(44) is
   far from overflow); min(22, NaN) is NaN, so NaN passes through; +-inf gives +-1, -0 gives -0.

   expm1(y), y = 2|x| in [0, 44]: Cody-Waite reduction y = k ln2 + r, k = round(y / ln2) (0..64),
   r = (y - k ln2_hi) - k ln2_lo with ln2_hi the first 32 bits of ln2, so k ln2_hi and y - k ln2_hi
   are exact and |r| <= ln2/2 (plus a rounding); expm1(r) = r + r^2 p(r) with p the Taylor
   polynomial of (e^r - 1 - r)/r^2 of degree 11 (terms to r^13/13!: the first term left out,
   r^14/14!, is 1.2e-17 of r at |r| = ln2/2, 0.1 ulp), evaluated by Estrin's scheme (pairs
   c_n + c_{n+1} r, combined with r^2 and r^4: four operations deep instead of Horner's eleven
   FMAs; 1.75 against 2.0 ns per value, the loops being latency-bound); then
   expm1(y) = 2^k expm1(r) + (2^k - 1) in one FMA (2^k - 1 is exact for k <= 53 and does not matter
   beyond). For y < ln2/2 (|x| < 0.173), k = 0 and r = y exactly, so small |x| (down to
   subnormals) loses nothing to the reduction. 2^k is built in the exponent field from the integer
   k that the round-to-nearest shift (1.5 2^52) leaves in the low mantissa bits.

   Measured accuracy, against tanhl: at most 2.48 ulp over 2^23 values of |x| log-spaced from 1e-9
   to 3e3 (tests/t104-tanh.c, which checks 3 ulp), 2.64 ulp in a scan of 2^25 values on [0.17, 0.35]
   (the worst region: k = 1, where t = 2 expm1(r) + 1 with r near -ln2/2 loses a bit, and t + 2 and
   the quotient round), 1.5 ulp for |x| > 0.35; mean 0.36 ulp. The glibc expm1 it replaces, with the
   same quotient: 4.1 ulp; glibc's vector tanh: 2.1 ulp. Cost: about 1.6 ns per value on the Zen 3
   of docs/performance.md against 2.1-3.0 ns for glibc's vector expm1 and the quotient. */
#ifndef BBD_TANH4_H
#define BBD_TANH4_H
#include <immintrin.h>

__attribute__((target("avx2,fma"), always_inline)) static inline __m256d BbdTanh4(__m256d x)
{
  const __m256d sign = _mm256_set1_pd(-0.0), one = _mm256_set1_pd(1.0);
  const __m256d ax = _mm256_min_pd(_mm256_set1_pd(22.0), _mm256_andnot_pd(sign, x)); /* NaN stays NaN: min returns its second operand */
  const __m256d y = _mm256_add_pd(ax, ax), shift = _mm256_set1_pd(0x1.8p52);
  const __m256d kd = _mm256_fmadd_pd(y, _mm256_set1_pd(0x1.71547652b82fep0), shift); /* k in the low mantissa bits */
  const __m256d k  = _mm256_sub_pd(kd, shift);
  const __m256d r  = _mm256_fnmadd_pd(k, _mm256_set1_pd(0x1.473de6af278edp-34), _mm256_fnmadd_pd(k, _mm256_set1_pd(0x1.62e42fefp-1), y));
  const __m256d s  = _mm256_castsi256_pd(_mm256_slli_epi64(_mm256_add_epi64(_mm256_castpd_si256(kd), _mm256_set1_epi64x(1023)), 52)); /* 2^k */
  const __m256d r2 = _mm256_mul_pd(r, r), r4 = _mm256_mul_pd(r2, r2);
  /* p(r) = sum_{n=0}^{11} r^n/(n+2)!, Estrin's scheme (pairs, then r^2, r^4, r^8): a short dependency chain */
  const __m256d p01 = _mm256_fmadd_pd(_mm256_set1_pd(1.0 / 6), r, _mm256_set1_pd(1.0 / 2));
  const __m256d p23 = _mm256_fmadd_pd(_mm256_set1_pd(1.0 / 120), r, _mm256_set1_pd(1.0 / 24));
  const __m256d p45 = _mm256_fmadd_pd(_mm256_set1_pd(1.0 / 5040), r, _mm256_set1_pd(1.0 / 720));
  const __m256d p67 = _mm256_fmadd_pd(_mm256_set1_pd(1.0 / 362880), r, _mm256_set1_pd(1.0 / 40320));
  const __m256d p89 = _mm256_fmadd_pd(_mm256_set1_pd(1.0 / 39916800), r, _mm256_set1_pd(1.0 / 3628800));
  const __m256d pab = _mm256_fmadd_pd(_mm256_set1_pd(1.0 / 6227020800.0), r, _mm256_set1_pd(1.0 / 479001600));
  const __m256d p03 = _mm256_fmadd_pd(p23, r2, p01), p47 = _mm256_fmadd_pd(p67, r2, p45), p8b = _mm256_fmadd_pd(pab, r2, p89);
  const __m256d p   = _mm256_fmadd_pd(_mm256_fmadd_pd(p8b, r4, p47), r4, p03);
  __m256d       e, t;

  e = _mm256_fmadd_pd(r2, p, r);                                 /* expm1(r) */
  t = _mm256_fmadd_pd(s, e, _mm256_sub_pd(s, one));              /* expm1(y) = 2^k expm1(r) + 2^k - 1 */
  return _mm256_or_pd(_mm256_div_pd(t, _mm256_add_pd(t, _mm256_set1_pd(2.0))), _mm256_and_pd(sign, x));
}
#endif
