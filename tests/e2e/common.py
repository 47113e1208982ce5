#!/usr/bin/python3
"""Shared pieces of the end-to-end tests (tests/e2e/*.py): running a program, recording a failed
check, reading a trajectory, the executables beside bbd-net, and the command line every case file
takes:

  /usr/bin/python3 tests/e2e/FILE.py CASE --bin BUILD/bin/bbd-net [--src SOURCE_DIR]

A case runs in a fresh temporary directory; it is silent when every check holds and exits 1
listing the failed checks otherwise. The case names are the CTest names (tests/CMakeLists.txt).
"""
import argparse
import os
import subprocess
import sys
import tempfile

try:
    import h5py  # the case files take it from here, after this clear message
except ImportError:  # the CI installs python3-h5py; say so instead of a traceback
    sys.exit("the end-to-end tests need h5py: apt-get install python3-h5py")

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # tests/ (the cases run in a temporary directory)
ENV = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
           OMPI_MCA_rmaps_base_oversubscribe="1")
FAILS = []


def check(cond, msg):
    if not cond:
        FAILS.append(msg)


def run(args, nproc=1, expect_ok=True):
    cmd = list(args)
    if nproc > 1:
        cmd = ["mpiexec", "--oversubscribe", "-n", str(nproc)] + cmd
    p = subprocess.run(cmd, env=ENV, capture_output=True, text=True, timeout=600)
    if expect_ok and p.returncode != 0:
        sys.exit("command failed (%d): %s\n%s%s" % (p.returncode, " ".join(cmd), p.stdout, p.stderr))
    return p


def traj(path, name):
    with h5py.File(path, "r") as f:
        return f["trajectory/" + name][()]


SMALL = ["-bbd_quiet", "-bbd_depth", "6", "-bbd_width", "8"]


def newton_failed(p):
    """True when a run ended the way an unpreconditioned Newton-Krylov solve fails: a clean error
    exit (no signal) whose message is the time stepper's nonlinear-solve divergence, not any
    other error (a refused option, a crash) that would make a "fails without X" check pass."""
    text = p.stdout + p.stderr
    return p.returncode > 0 and "the time stepper failed" in text and "DIVERGED_NONLINEAR_SOLVE" in text


def field_bin(b):
    return os.path.join(os.path.dirname(b), "bbd-field")


def compare_bin(b):
    return os.path.join(os.path.dirname(b), "bbd-compare")


def solver_line(out):
    """(Newton, Krylov) iteration totals from bbd-field's 'solver:' line."""
    w = [l for l in out.splitlines() if l.startswith("solver:")][0].split()
    return int(w[w.index("Newton") - 1]), int(w[w.index("Krylov") - 1])


def test_jacobian(args, nproc, tol, what):
    """Run bbd-field ARGS with -snes_test_jacobian and check that it compares at least twice and
    every ||J - Jfd||_F/||J||_F is below tol; returns the figures."""
    out = run(args + ["-snes_test_jacobian"], nproc=nproc).stdout
    rel = [float(l.split("=")[1].split(",")[0]) for l in out.splitlines() if "||J - Jfd||_F/||J||_F =" in l]
    check(len(rel) >= 2, "-snes_test_jacobian printed %d comparisons (%s, %d ranks)" % (len(rel), what, nproc))
    check(rel and max(rel) < tol, "analytic Jacobian: ||J - Jfd||/||J|| = %s (%s, %d ranks)" % (rel, what, nproc))
    return rel


def main(cases):
    """Runs the case named on the command line; cases maps each name to a function (bbd-net's
    path, the source directory)."""
    ap = argparse.ArgumentParser(description=sys.modules["__main__"].__doc__.split("\n")[0])
    ap.add_argument("case", choices=sorted(cases))
    ap.add_argument("--bin", required=True, help="BUILD/bin/bbd-net (bbd-field and bbd-compare are taken from beside it)")
    ap.add_argument("--src", default=os.path.dirname(HERE), help="the source directory (default: the one holding this file)")
    a = ap.parse_args()
    b = os.path.abspath(a.bin)
    with tempfile.TemporaryDirectory(prefix="bbd-test-") as d:
        os.chdir(d)
        cases[a.case](b, a.src)
    if FAILS:
        print("\n".join("FAIL " + f for f in FAILS))
        sys.exit(1)
