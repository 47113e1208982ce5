#!/usr/bin/python3
"""Bitwise comparison of two builds: runs the same matrix of bbd-net, bbd-field and bbd-compare
runs with each and requires every HDF5 dataset and attribute, and the printed output, to be
identical. For refactorings that must not change results.

Usage: /usr/bin/python3 tests/bitwise.py OLD_BINDIR NEW_BINDIR [--only SUBSTRING] [--keep DIR]

Each run is named; a difference names the run, the file and the dataset. Not run by CTest: it
needs two builds (for example `git worktree add ../old HEAD~1` and a build of each).
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile

import h5py
import numpy as np

ENV = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
           OMPI_MCA_rmaps_base_oversubscribe="1")

S = "-bbd_depth 6 -bbd_width 8 -bbd_tfinal 0.3 -bbd_output_dt 0.1"
C = "-bbd_mode continuum -da_grid_x 9 -da_grid_y 8 -bbd_tfinal 0.2 -bbd_output_dt 0.1"
# name, executable, ranks, options; "{prev}" is the output file of the run before it
RUNS = [
    ("net-flow", "bbd-net", 1, S),
    ("net-damped", "bbd-net", 1, S + " -bbd_dynamics damped -bbd_sample_dt 0.15"),
    ("net-sgd-dense", "bbd-net", 1, "-bbd_family dense -bbd_widths 5,9,9,3 -bbd_loss ce -bbd_dynamics sgd -bbd_batch 3 -bbd_eta 0.2 -bbd_tfinal 30 -bbd_output_dt 10"),
    ("net-dense-flow-2", "bbd-net", 2, "-bbd_family dense -bbd_widths 5,9,9,3 -bbd_loss kl -bbd_tfinal 0.5"),
    ("net-dense-damped-2", "bbd-net", 2, "-bbd_family dense -bbd_widths 5,9,9,3 -bbd_loss mse -bbd_dynamics damped -bbd_tfinal 0.5"),
    ("net-hinge-2", "bbd-net", 2, S + " -bbd_loss hinge -bbd_periodic false"),
    ("net-restart", "bbd-net", 1, "-bbd_init {prev} -bbd_tfinal 0.6"),
    ("field-sweep", "bbd-field", 1, S),
    ("field-sweep-2", "bbd-field", 2, S + " -bbd_loss ce -bbd_sample_dt 0.1"),
    ("field-sweep-ghost-2", "bbd-field", 2, S + " -bbd_width 12 -bbd_sweep_ghost 3 -bbd_periodic false"),
    ("field-damped", "bbd-field", 1, S + " -bbd_dynamics damped -bbd_sample_dt 0.1"),
    ("field-damped-2", "bbd-field", 2, S + " -bbd_dynamics damped -bbd_loss kl"),
    ("field-restart", "bbd-field", 1, "-bbd_init {prev} -bbd_tfinal 0.5"),
    ("field-residual", "bbd-field", 1, S + " -bbd_formulation residual -ts_type beuler -ts_dt 0.02 -ts_adapt_type none"),
    ("field-residual-2", "bbd-field", 2, S + " -bbd_formulation residual -ts_type bdf -bbd_loss ce -bbd_sample_dt 0.1"),
    ("field-residual-portable", "bbd-field", 1, S + " -bbd_formulation residual -ts_type beuler -ts_dt 0.02 -ts_adapt_type none -bbd_residual_avx2 false"),
    ("field-residual-asm", "bbd-field", 1, S + " -bbd_formulation residual -bbd_jacobian assembled -ts_type beuler -ts_dt 0.02 -ts_adapt_type none -bbd_loss kl"),
    ("field-residual-asm-2", "bbd-field", 2, S + " -bbd_formulation residual -bbd_jacobian assembled -ts_type bdf"),
    # (MUMPS on 2 ranks schedules its factorisation dynamically: not bitwise from run to run)
    ("field-residual-asm-lu", "bbd-field", 1, S + " -bbd_formulation residual -bbd_jacobian assembled -ts_type bdf -pc_type lu"),
    ("field-residual-fdcolor", "bbd-field", 1, S + " -bbd_formulation residual -snes_fd_color -ts_type beuler -ts_dt 0.02 -ts_adapt_type none"),
    ("field-damped-residual", "bbd-field", 1, S + " -bbd_dynamics damped -bbd_formulation residual -ts_type beuler -ts_dt 0.02 -ts_adapt_type none"),
    ("field-damped-residual-asm-2", "bbd-field", 2, S + " -bbd_dynamics damped -bbd_formulation residual -bbd_jacobian assembled -ts_type bdf"),
    ("field-events", "bbd-field", 1, S + " -bbd_sample_dt 0.07 -bbd_switch events -ts_type bdf"),
    ("field-events-2", "bbd-field", 2, S + " -bbd_sample_dt 0.07 -bbd_switch events -bbd_formulation residual -ts_type bdf"),
    ("field-layouts-2", "bbd-field", 2, S + " -da_processors_x 2 -da_processors_y 1 -bbd_formulation residual -ts_type beuler -ts_dt 0.02 -ts_adapt_type none"),
    ("cont-sweep", "bbd-field", 1, C),
    ("cont-sweep-2", "bbd-field", 2, C + " -bbd_loss ce -bbd_periodic false"),
    ("cont-damped", "bbd-field", 1, C + " -bbd_dynamics damped"),
    ("cont-damped-2", "bbd-field", 2, C + " -bbd_dynamics damped -bbd_loss kl"),
    ("cont-switch", "bbd-field", 1, C + " -bbd_sample_dt 0.05"),
    ("cont-switch-damped-2", "bbd-field", 2, C + " -bbd_sample_dt 0.05 -bbd_dynamics damped"),
    ("cont-restart", "bbd-field", 1, "-bbd_mode continuum -bbd_init {prev} -bbd_tfinal 0.3"),
    ("cont-residual", "bbd-field", 1, C + " -bbd_formulation residual -ts_type beuler -ts_dt 0.02 -ts_adapt_type none"),
    ("cont-residual-2", "bbd-field", 2, C + " -bbd_formulation residual -ts_type bdf -bbd_sample_dt 0.05"),
    ("cont-residual-asm", "bbd-field", 1, C + " -bbd_formulation residual -bbd_jacobian assembled -ts_type beuler -ts_dt 0.02 -ts_adapt_type none -bbd_loss ce"),
    ("cont-residual-damped-asm-2", "bbd-field", 2, C + " -bbd_formulation residual -bbd_jacobian assembled -bbd_dynamics damped -ts_type bdf"),
    ("cont-residual-fdcolor-2", "bbd-field", 2, C + " -bbd_formulation residual -snes_fd_color -ts_type beuler -ts_dt 0.02 -ts_adapt_type none"),
    ("lattice-state", "bbd-net", 1, "-bbd_depth 8 -bbd_width 8 -bbd_tfinal 0.2"),
    ("cont-init-lattice", "bbd-field", 1, "-bbd_mode continuum -bbd_init {prev} -da_grid_x 17 -da_grid_y 16 -bbd_tfinal 0.3"),
    ("cont-init-regrid-2", "bbd-field", 2, "-bbd_mode continuum -bbd_init {prev} -da_grid_x 9 -da_grid_y 8 -bbd_tfinal 0.4 -bbd_dynamics damped"),
    ("compare", "bbd-compare", 1, "-bbd_resolutions 8,16 -bbd_tfinal 0.2 -bbd_compare_times 0.1,0.2 -bbd_plot false"),
    ("compare-2", "bbd-compare", 2, "-bbd_resolutions 8,16 -bbd_tfinal 0.1 -bbd_compare_times 0.1 -bbd_plot false -bbd_activation erf -bbd_loss ce"),
    ("dense-state", "bbd-net", 1, "-bbd_family dense -bbd_widths 8,8,8,8,8 -bbd_tfinal 0.1"),
    ("compare-coarse", "bbd-compare", 1, "-bbd_init {prev} -bbd_tfinal 0.2 -bbd_plot false"),
]

MASK = [re.compile(r"\d+(\.\d+)? ?(s|ms|seconds)\b"), re.compile(r"/tmp/\S+")]


def run(bindir, name, exe, n, opts, prev, work):
    d = os.path.join(work, name)
    os.makedirs(d, exist_ok=True)
    assert "{prev}" not in opts or prev, "run %s starts from the previous run's file" % name
    args = opts.replace("{prev}", prev or "").split()
    out = os.path.join(d, "out.h5")
    if exe != "bbd-compare":
        args += ["-bbd_output", out]
    cmd = [os.path.join(bindir, exe)] + args
    if n > 1:
        cmd = ["mpiexec", "--oversubscribe", "-n", str(n)] + cmd
    p = subprocess.run(cmd, cwd=d, env=ENV, capture_output=True, text=True, timeout=600)
    text = p.stdout + p.stderr
    text = text.replace(work, "WORK")
    for m in MASK:
        text = m.sub("#", text)
    return p.returncode, text, d


def walk(f):
    items = {}

    def visit(name, obj):
        if isinstance(obj, h5py.Dataset):
            items["D:" + name] = obj[()]
        for k, v in obj.attrs.items():
            items["A:%s@%s" % (name, k)] = v
    for k, v in f.attrs.items():
        items["A:/@%s" % k] = v
    f.visititems(visit)
    return items


def same(a, b):
    if isinstance(a, (str, bytes)) and isinstance(b, (str, bytes)):  # paths name the two work trees
        a, b = [str(x).replace("/old/", "/X/").replace("/new/", "/X/") for x in (a, b)]
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape or a.dtype != b.dtype:
        return False
    if a.dtype.kind == "f":
        return a.tobytes() == b.tobytes()
    return np.array_equal(a, b)


def compare_dirs(name, da, db):
    errs = []
    fa = sorted(x for x in os.listdir(da) if not x.startswith("."))
    fb = sorted(x for x in os.listdir(db) if not x.startswith("."))
    if fa != fb:
        errs.append("%s: files differ: %s vs %s" % (name, fa, fb))
    for x in set(fa) & set(fb):
        if x.endswith(".h5"):
            with h5py.File(os.path.join(da, x), "r") as A, h5py.File(os.path.join(db, x), "r") as B:
                ia, ib = walk(A), walk(B)
            if set(ia) != set(ib):
                errs.append("%s/%s: items differ: only old %s, only new %s" % (name, x, sorted(set(ia) - set(ib)), sorted(set(ib) - set(ia))))
            for k in sorted(set(ia) & set(ib)):
                if not same(ia[k], ib[k]):
                    errs.append("%s/%s: %s differs" % (name, x, k))
        elif x.endswith(".xdmf") or x.endswith(".txt"):
            if open(os.path.join(da, x)).read() != open(os.path.join(db, x)).read():
                errs.append("%s/%s differs" % (name, x))
    return errs


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("old")
    ap.add_argument("new")
    ap.add_argument("--only", default="")
    ap.add_argument("--keep", default="")
    ap.add_argument("--no-stdout", action="store_true", help="do not compare the printed output")
    a = ap.parse_args()
    a.old, a.new = os.path.abspath(a.old), os.path.abspath(a.new)
    work = a.keep or tempfile.mkdtemp(prefix="bitwise.")
    # --only: the runs whose name contains it, and the runs each of them starts from ({prev})
    keep = [not a.only or a.only in r[0] for r in RUNS]
    for i in range(len(RUNS) - 1, 0, -1):
        if keep[i] and "{prev}" in RUNS[i][3]:
            keep[i - 1] = True
    errs, prev_old, prev_new, nrun = [], None, None, 0
    for (name, exe, n, opts), k in zip(RUNS, keep):
        if not k:
            continue
        rc_o, out_o, d_o = run(a.old, name, exe, n, opts, prev_old, os.path.join(work, "old"))
        rc_n, out_n, d_n = run(a.new, name, exe, n, opts, prev_new, os.path.join(work, "new"))
        nrun += 1
        if rc_o or rc_n:
            errs.append("%s: exit codes %d (old) %d (new)\n%s" % (name, rc_o, rc_n, (out_o if rc_o else out_n)[-2000:]))
        elif not a.no_stdout and out_o.replace("/old/", "/X/") != out_n.replace("/new/", "/X/"):
            import difflib
            diff = "\n".join(difflib.unified_diff(out_o.splitlines(), out_n.splitlines(), "old", "new", lineterm="", n=1))
            errs.append("%s: printed output differs\n%s" % (name, diff[:3000]))
        errs += compare_dirs(name, d_o, d_n)
        prev_old, prev_new = os.path.join(d_o, "out.h5"), os.path.join(d_n, "out.h5")
        print("%-32s %s" % (name, "ok" if not errs or not errs[-1].startswith(name) else "DIFFERS"), flush=True)
    if not a.keep:
        shutil.rmtree(work, ignore_errors=True)
    for e in errs:
        print(e)
    print("%d runs compared, %d differences" % (nrun, len(errs)))
    sys.exit(1 if errs else 0)


if __name__ == "__main__":
    main()
