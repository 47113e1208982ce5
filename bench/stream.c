/* A small STREAM-like bandwidth measurement, single core (bench/run.sh).

   Kernels, as in McCalpin's STREAM, on three arrays of n doubles:
     copy   c = a            counted 16 n bytes
     scale  b = s c          counted 16 n bytes
     add    c = a + b        counted 24 n bytes
     triad  a = b + s c      counted 24 n bytes
   Counting follows STREAM: bytes read plus bytes written, write-allocate
   traffic not counted. Each kernel is timed over `reps` repetitions (each
   repetition sweeps the arrays `inner` times, so that small, cache-resident
   arrays still give a measurable interval) and the best repetition is
   reported in GB/s (1e9 bytes per second).

   Usage: stream [MB per array (default 80)] [repetitions (default 10)]
   Output: one line per kernel, then "stream_triad_GBs = X" and
   "stream_copy_GBs = X" (the best copy/triad figures, for scripts). */
#define _POSIX_C_SOURCE 199309L
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void)
{
  struct timespec ts;

  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* noinline: keeps each sweep a real pass over memory the compiler cannot merge */
__attribute__((noinline)) static void k_copy(long n, double *restrict c, const double *restrict a)
{
  for (long i = 0; i < n; i++) c[i] = a[i];
}
__attribute__((noinline)) static void k_scale(long n, double *restrict b, const double *restrict c, double s)
{
  for (long i = 0; i < n; i++) b[i] = s * c[i];
}
__attribute__((noinline)) static void k_add(long n, double *restrict c, const double *restrict a, const double *restrict b)
{
  for (long i = 0; i < n; i++) c[i] = a[i] + b[i];
}
__attribute__((noinline)) static void k_triad(long n, double *restrict a, const double *restrict b, const double *restrict c, double s)
{
  for (long i = 0; i < n; i++) a[i] = b[i] + s * c[i];
}

int main(int argc, char **argv)
{
  const double mb    = argc > 1 ? atof(argv[1]) : 80.0;
  const int    reps  = argc > 2 ? atoi(argv[2]) : 10;
  const long   n     = (long)(mb * 1e6 / sizeof(double));
  const char  *name[4] = {"copy", "scale", "add", "triad"};
  const double bytes[4] = {16.0 * n, 16.0 * n, 24.0 * n, 24.0 * n};
  double       best[4] = {1e300, 1e300, 1e300, 1e300}, s = 3.0, check = 0;
  double      *a, *b, *c;
  long         inner;

  if (n < 1 || reps < 1) {
    fprintf(stderr, "usage: stream [MB per array > 0] [repetitions >= 1]\n");
    return 1;
  }
  /* sweep small arrays repeatedly: about 200 MB of traffic per timed interval */
  inner = (long)(200e6 / (24.0 * n));
  if (inner < 1) inner = 1;
  a = aligned_alloc(64, ((size_t)n * sizeof(double) + 63) / 64 * 64);
  b = aligned_alloc(64, ((size_t)n * sizeof(double) + 63) / 64 * 64);
  c = aligned_alloc(64, ((size_t)n * sizeof(double) + 63) / 64 * 64);
  if (!a || !b || !c) {
    fprintf(stderr, "stream: cannot allocate 3 x %.1f MB\n", mb);
    return 1;
  }
  for (long i = 0; i < n; i++) { /* touch every page before timing */
    a[i] = 1.0;
    b[i] = 2.0;
    c[i] = 0.0;
  }
  for (int r = 0; r < reps; r++) {
    double t;

    t = now();
    for (long k = 0; k < inner; k++) k_copy(n, c, a);
    t = now() - t;
    if (t < best[0]) best[0] = t;
    t = now();
    for (long k = 0; k < inner; k++) k_scale(n, b, c, s);
    t = now() - t;
    if (t < best[1]) best[1] = t;
    t = now();
    for (long k = 0; k < inner; k++) k_add(n, c, a, b);
    t = now() - t;
    if (t < best[2]) best[2] = t;
    t = now();
    for (long k = 0; k < inner; k++) k_triad(n, a, b, c, s);
    t = now() - t;
    if (t < best[3]) best[3] = t;
  }
  for (long i = 0; i < n; i += 4096) check += a[i] + b[i] + c[i];
  printf("# stream: 3 arrays x %.1f MB (%ld doubles), %d repetitions x %ld sweeps, best repetition (checksum %g)\n", mb, n, reps, inner, check);
  for (int k = 0; k < 4; k++) printf("%-6s %10.2f GB/s\n", name[k], inner * bytes[k] / best[k] / 1e9);
  printf("stream_copy_GBs = %.3f\n", inner * bytes[0] / best[0] / 1e9);
  printf("stream_triad_GBs = %.3f\n", inner * bytes[3] / best[3] / 1e9);
  free(a);
  free(b);
  free(c);
  return 0;
}
