/* bbd-residual-bench (issue 3): the residual (IFunction) of bbd-field's implicit formulation,
   evaluated -bench_reps times in each of 10 blocks on one fixed (U, U'): U the state of
   -bbd_init plus uniform noise of 0.01, U' uniform in [-1, 1] (fixed seed). Prints the thread CPU
   time per evaluation (best and mean block) and the wall time (best block): CPU time is what a
   loaded machine distorts least. -bench_out FILE writes F (raw doubles, one rank) to compare two
   builds or kernels. -bench_flush MB: before every evaluation, read a buffer of MB megabytes (not
   timed) so that U, U' and F come from memory as they do inside the solver (whose sweep and Krylov
   vectors evict them), and time each evaluation alone; thread CPU time, unlike the solver's
   -log_view wall time, does not count the time the process waits for a core on a shared machine.
   Takes bbd-field's options (-bbd_dynamics damped, -bbd_residual_avx2 ...).
   Example: build/bin/bbd-residual-bench -bbd_init build/bench/f512-init.h5 -bbd_formulation residual */
#include "field/fieldimpl.h"
#include <stdio.h>
#include <time.h>

static double ThreadCPU(void)
{
  struct timespec t;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return t.tv_sec + 1e-9 * t.tv_nsec;
}

int main(int argc, char **argv)
{
  BbdField    f;
  TS          ts;
  Vec         U, Ud, F;
  PetscRandom r;
  PetscInt    reps = 20, flush = 0;
  PetscReal   dt0, w0, w1, best = PETSC_MAX_REAL, bestw = PETSC_MAX_REAL, sum = 0;
  char        out[PETSC_MAX_PATH_LEN] = "";
  double     *fbuf = NULL;
  volatile double fsum = 0; /* keeps the flush reads */
  size_t      fn = 0;

  PetscCall(PetscInitialize(&argc, &argv, NULL, NULL));
  PetscCall(PetscOptionsGetInt(NULL, NULL, "-bench_reps", &reps, NULL));
  PetscCall(PetscOptionsGetString(NULL, NULL, "-bench_out", out, sizeof(out), NULL));
  PetscCall(PetscOptionsGetInt(NULL, NULL, "-bench_flush", &flush, NULL));
  PetscCheck(reps > 0, PETSC_COMM_WORLD, PETSC_ERR_USER_INPUT, "-bench_reps %" PetscInt_FMT ": give a positive count", reps);
  PetscCheck(flush >= 0 && flush <= 65536, PETSC_COMM_WORLD, PETSC_ERR_USER_INPUT, "-bench_flush %" PetscInt_FMT ": give megabytes in [0, 65536]", flush);
  if (flush) {
    fn = (size_t)flush << 17; /* doubles */
    PetscCall(PetscMalloc1(fn, &fbuf));
    for (size_t k = 0; k < fn; k++) fbuf[k] = 1e-300 * (double)k;
  }
  PetscCall(BbdFieldCreate(PETSC_COMM_WORLD, &f));
  PetscCall(BbdFieldSetFromOptions(f));
  PetscCheck(f->residual && !f->continuum, f->comm, PETSC_ERR_USER_INPUT, "bbd-residual-bench: add -bbd_formulation residual (lattice mode)");
  PetscCall(BbdFieldSetUp(f));
  PetscCall(TSCreate(f->comm, &ts));
  PetscCall(TSSetDM(ts, f->dats));
  if (f->damped) PetscCall(BbdFieldDampedResidualSetTS(f, ts, &dt0));
  else PetscCall(TSSetIFunction(ts, NULL, BbdFieldIFunction, f));
  PetscCall(VecDuplicate(f->U, &U));
  PetscCall(VecDuplicate(f->U, &Ud));
  PetscCall(VecDuplicate(f->U, &F));
  PetscCall(PetscRandomCreate(f->comm, &r));
  PetscCall(PetscRandomSetInterval(r, -0.01, 0.01));
  PetscCall(PetscRandomSetSeed(r, 7));
  PetscCall(PetscRandomSeed(r));
  PetscCall(VecSetRandom(U, r));
  PetscCall(VecAXPY(U, 1.0, f->U));
  PetscCall(PetscRandomSetInterval(r, -1, 1));
  PetscCall(VecSetRandom(Ud, r));
  PetscCall(TSComputeIFunction(ts, 0, U, Ud, F, PETSC_FALSE)); /* warm up */
  for (PetscInt b = 0; b < 10; b++) {
    double c = 0, w = 0;
    if (flush) { /* each evaluation timed alone, after the caches were flushed */
      for (PetscInt k = 0; k < reps; k++) {
        double c0, t0, t1, t = 0;
        for (size_t q = 0; q < fn; q += 8) t += fbuf[q]; /* one read per cache line */
        fsum = fsum + t;
        c0 = ThreadCPU();
        PetscCall(PetscTime(&t0));
        PetscCall(TSComputeIFunction(ts, 0, U, Ud, F, PETSC_FALSE));
        PetscCall(PetscTime(&t1));
        c += ThreadCPU() - c0;
        w += t1 - t0;
      }
    } else {
      const double c0 = ThreadCPU();
      PetscCall(PetscTime(&w0));
      for (PetscInt k = 0; k < reps; k++) PetscCall(TSComputeIFunction(ts, 0, U, Ud, F, PETSC_FALSE));
      PetscCall(PetscTime(&w1));
      c = ThreadCPU() - c0;
      w = w1 - w0;
    }
    best  = PetscMin(best, c);
    bestw = PetscMin(bestw, w);
    sum += c;
  }
  PetscCall(PetscPrintf(f->comm, "residual evaluation: cpu best %.1f us, mean %.1f us; wall best %.1f us (%" PetscInt_FMT " x 10 evaluations, %s%s)\n", best / reps * 1e6, sum / (10 * reps) * 1e6, bestw / reps * 1e6, reps,
                        f->avx2 ? "AVX2/FMA kernels" : "portable kernels", flush ? ", caches flushed before each" : ""));
  PetscCall(PetscFree(fbuf));
  if (out[0]) {
    const PetscScalar *fa;
    PetscInt           n;
    FILE              *fp = fopen(out, "wb");
    PetscCheck(fp, f->comm, PETSC_ERR_FILE_OPEN, "-bench_out %s: cannot open the file for writing", out);
    PetscCall(VecGetLocalSize(F, &n));
    PetscCall(VecGetArrayRead(F, &fa));
    PetscCheck(fwrite(fa, sizeof(PetscScalar), (size_t)n, fp) == (size_t)n, f->comm, PETSC_ERR_FILE_WRITE, "-bench_out %s: write failed", out);
    PetscCall(VecRestoreArrayRead(F, &fa));
    fclose(fp);
  }
  PetscCall(PetscRandomDestroy(&r));
  PetscCall(VecDestroy(&U));
  PetscCall(VecDestroy(&Ud));
  PetscCall(VecDestroy(&F));
  PetscCall(TSDestroy(&ts));
  PetscCall(BbdFieldDestroy(&f));
  PetscCall(PetscFinalize());
  return 0;
}
