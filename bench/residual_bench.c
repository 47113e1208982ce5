/* bbd-residual-bench (issue 3): the residual (IFunction) of bbd-field's implicit formulation,
   evaluated -bench_reps times in each of 10 blocks on one fixed (U, U'): U the state of
   -bbd_init plus uniform noise of 0.01, U' uniform in [-1, 1] (fixed seed). Prints the thread CPU
   time per evaluation (best and mean block) and the wall time (best block): CPU time is what a
   loaded machine distorts least. -bench_out FILE writes F (raw doubles, one rank) to compare two
   builds or kernels. Takes bbd-field's options (-bbd_dynamics damped, -bbd_residual_avx2 ...).
   Example: build/bin/bbd-residual-bench -bbd_init build/bench/f512-init.h5 -bbd_formulation residual */
#include "fieldimpl.h"
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
  PetscInt    reps = 20;
  PetscReal   dt0, w0, w1, best = PETSC_MAX_REAL, bestw = PETSC_MAX_REAL, sum = 0;
  char        out[PETSC_MAX_PATH_LEN] = "";

  PetscCall(PetscInitialize(&argc, &argv, NULL, NULL));
  PetscCall(PetscOptionsGetInt(NULL, NULL, "-bench_reps", &reps, NULL));
  PetscCall(PetscOptionsGetString(NULL, NULL, "-bench_out", out, sizeof(out), NULL));
  PetscCheck(reps > 0, PETSC_COMM_WORLD, PETSC_ERR_USER_INPUT, "-bench_reps %" PetscInt_FMT ": give a positive count", reps);
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
    const double c0 = ThreadCPU();
    double       c;
    PetscCall(PetscTime(&w0));
    for (PetscInt k = 0; k < reps; k++) PetscCall(TSComputeIFunction(ts, 0, U, Ud, F, PETSC_FALSE));
    PetscCall(PetscTime(&w1));
    c     = ThreadCPU() - c0;
    best  = PetscMin(best, c);
    bestw = PetscMin(bestw, w1 - w0);
    sum += c;
  }
  PetscCall(PetscPrintf(f->comm, "residual evaluation: cpu best %.1f us, mean %.1f us; wall best %.1f us (%" PetscInt_FMT " x 10 evaluations, %s)\n", best / reps * 1e6, sum / (10 * reps) * 1e6, bestw / reps * 1e6, reps,
                        f->avx2 ? "AVX2/FMA kernels" : "portable kernels"));
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
