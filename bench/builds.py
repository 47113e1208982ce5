#!/usr/bin/python3
"""Two builds side by side (a refactoring must not cost time): the same runs with the OLD and the
NEW binaries, interleaved, the best of REPS wall times of each and the ratio NEW/OLD. A benchmark,
not a test: it exits non-zero only if a run fails. The machine is shared and noisy: read ratios
within a few percent of 1 as equal.

Usage: /usr/bin/python3 bench/builds.py OLD_BINDIR NEW_BINDIR [--reps 5]"""
import argparse
import os
import subprocess
import sys
import tempfile
import time

ENV = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
           OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
L = "-bbd_quiet -bbd_depth 64 -bbd_width 64 -bbd_tfinal 0.1 -bbd_output_dt 0.1"
C = "-bbd_quiet -bbd_mode continuum -da_grid_x 65 -da_grid_y 64 -bbd_tfinal 0.02 -bbd_output_dt 0.02"
RUNS = [
    ("lattice sweep rk4", "bbd-field", L + " -ts_type rk -ts_rk_type 4 -ts_dt 0.002 -ts_adapt_type none"),
    ("lattice damped sweep rk4", "bbd-field", L + " -bbd_dynamics damped -ts_type rk -ts_rk_type 4 -ts_dt 0.002 -ts_adapt_type none"),
    ("lattice residual beuler", "bbd-field", L + " -bbd_formulation residual -ts_type beuler -ts_dt 0.005 -ts_adapt_type none"),
    ("lattice residual assembled", "bbd-field", L + " -bbd_formulation residual -bbd_jacobian assembled -ts_type beuler -ts_dt 0.005 -ts_adapt_type none"),
    ("lattice damped residual", "bbd-field", L + " -bbd_dynamics damped -bbd_formulation residual -ts_type beuler -ts_dt 0.005 -ts_adapt_type none"),
    ("continuum sweep rk4", "bbd-field", C + " -ts_type rk -ts_rk_type 4 -ts_dt 0.0002 -ts_adapt_type none"),
    ("continuum residual beuler", "bbd-field", C + " -bbd_formulation residual -ts_type beuler -ts_dt 0.002 -ts_adapt_type none"),
    ("bbd-net field flow rk4", "bbd-net", "-bbd_quiet -bbd_depth 32 -bbd_width 32 -bbd_tfinal 0.2 -ts_type rk -ts_rk_type 4 -ts_dt 0.002 -ts_adapt_type none"),
]


def timed(cmd, cwd):
    t = time.perf_counter()
    p = subprocess.run(cmd, cwd=cwd, env=ENV, capture_output=True, text=True)
    if p.returncode:
        sys.exit("failed: %s\n%s" % (" ".join(cmd), (p.stdout + p.stderr)[-1500:]))
    return time.perf_counter() - t


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("old")
    ap.add_argument("new")
    ap.add_argument("--reps", type=int, default=5)
    a = ap.parse_args()
    old, new = os.path.abspath(a.old), os.path.abspath(a.new)
    w = tempfile.mkdtemp(prefix="bench-builds.")
    print("%-28s %9s %9s %8s" % ("run (best of %d)" % a.reps, "old (s)", "new (s)", "new/old"))
    for name, exe, opts in RUNS:
        bo = bn = float("inf")
        for _ in range(a.reps):
            bo = min(bo, timed([os.path.join(old, exe)] + opts.split() + ["-bbd_output", "o.h5"], w))
            bn = min(bn, timed([os.path.join(new, exe)] + opts.split() + ["-bbd_output", "n.h5"], w))
        print("%-28s %9.3f %9.3f %8.3f" % (name, bo, bn, bn / bo), flush=True)


if __name__ == "__main__":
    main()
