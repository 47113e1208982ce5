#!/usr/bin/python3
"""End-to-end tests of bbd-net (run by CTest; silent on success, exit 1 with a reason on failure).

Usage: /usr/bin/python3 tests/cases.py CASE --bin BUILD/bin/bbd-net [--src SOURCE_DIR]
Cases: restart-flow, restart-damped, restart-sgd, mpi, order, damped-limit, damped-rate,
badinput, reference, fashion, help, valgrind, field-* (bbd-field), compare, compare-coarse, meshes.
"""
import argparse
import glob
import os
import subprocess
import sys
import tempfile

import numpy as np

try:
    import h5py
except ImportError:  # the CI installs python3-h5py; say so instead of a traceback
    sys.exit("tests/cases.py needs h5py: apt-get install python3-h5py")

HERE = os.path.dirname(os.path.abspath(__file__))  # tests/ (the cases run in a temporary directory)
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


def case_restart(b, dyn):
    """A run to T in one go and a run to T/2 restarted to T give the same trajectory (bitwise)."""
    if dyn == "sgd":
        opts = SMALL + ["-bbd_dynamics", "sgd", "-bbd_eta", "0.05", "-bbd_batch", "2",
                        "-bbd_sample_order", "random", "-bbd_output_dt", "5"]
        T, H = "40", "20"
    else:
        opts = SMALL + ["-bbd_dynamics", dyn, "-bbd_sample_dt", "0.15", "-bbd_sample_order", "random",
                        "-bbd_output_dt", "0.1", "-ts_adapt_type", "basic"]
        T, H = "0.6", "0.3"  # 3 * 0.1 != 0.3 in floating point: the restart must still match
    run([b] + opts + ["-bbd_tfinal", T, "-bbd_output", "full.h5"])
    run([b] + opts + ["-bbd_tfinal", H, "-bbd_output", "half.h5"])
    run([b, "-bbd_quiet", "-bbd_init", "half.h5", "-bbd_tfinal", T, "-bbd_output", "rest.h5",
         "-bbd_dynamics", dyn] + (["-ts_adapt_type", "basic"] if dyn != "sgd" else []))
    tf, tr = traj("full.h5", "time"), traj("rest.h5", "time")
    k = int(np.argmin(abs(tf - float(H))))
    with h5py.File("half.h5", "r") as h:
        check(h["state"].attrs["time"] == tf[k], "restart %s: /state time %r is not the saved time %r" % (dyn, h["state"].attrs["time"], tf[k]))
    check(np.array_equal(tf[k:], tr), "restart %s: saved times differ: %s vs %s" % (dyn, tf[k:], tr))
    for q in ["a", "b", "a_dot", "b_dot", "z", "loss", "L", "flux", "sample"]:
        check(np.array_equal(traj("full.h5", q)[k:], traj("rest.h5", q)),
              "restart %s: /trajectory/%s differs from the uninterrupted run" % (dyn, q))


def case_mpi(b):
    """Results with 1, 2 and 4 ranks agree (to rounding: the adaptive step uses global norms)."""
    configs = [SMALL + ["-bbd_dynamics", "damped", "-bbd_sample_dt", "0.15", "-bbd_tfinal", "0.5"],
               ["-bbd_quiet", "-bbd_family", "dense", "-bbd_widths", "5,9,9,3", "-bbd_loss", "ce",
                "-bbd_dynamics", "sgd", "-bbd_batch", "3", "-bbd_eta", "0.2", "-bbd_tfinal", "30"],
               SMALL + ["-bbd_loss", "kl", "-bbd_tfinal", "0.3", "-ts_type", "bdf", "-ts_dt", "0.01",
                        "-ts_adapt_type", "none"]]
    for c, opts in enumerate(configs):
        ref = None
        for p in (1, 2, 4):
            out = "mpi%d_%d.h5" % (c, p)
            run(["mpiexec", "--oversubscribe", "-n", str(p), b] + opts + ["-bbd_output", out])
            with h5py.File(out, "r") as f:
                got = {q: f["trajectory/" + q][()] for q in ["loss", "L", "L_bulk", "flux", "layer_kinetic"]}
                got["state"] = np.concatenate([f["state"][k][()].ravel() for k in f["state"]] if "a" in f["state"]
                                              else [f["state/%s/%s" % (g, d)][()].ravel()
                                                    for g in sorted(f["state"]) for d in ("W", "b")])
            if ref is None:
                ref = got
                continue
            for q in ref:
                err = np.abs(got[q] - ref[q]).max() / max(np.abs(ref[q]).max(), 1e-300)
                check(err <= 1e-10, "mpi config %d: %s with %d ranks differs from 1 rank by %.2e" % (c, q, p, err))


def final_state(path):
    with h5py.File(path, "r") as f:
        return np.concatenate([f["state/a"][()].ravel(), f["state/b"][()].ravel()])


def case_order(b):
    """Flow with fixed steps converges at the method's order (euler 1, rk2 2, rk4 4) against a
    tight adaptive reference; the observed order is log2 of successive error ratios."""
    base = SMALL + ["-bbd_tfinal", "0.4", "-bbd_output_dt", "0.4", "-bbd_eta", "1"]
    run([b] + base + ["-ts_type", "rk", "-ts_rk_type", "5dp", "-ts_rtol", "1e-13", "-ts_atol", "1e-13",
                      "-bbd_output", "ref.h5"])
    ref = final_state("ref.h5")
    for name, opts, p, dts in [("euler", ["-ts_type", "euler"], 1, [0.01, 0.005, 0.0025]),
                               ("rk2", ["-ts_type", "rk", "-ts_rk_type", "2a"], 2, [0.02, 0.01, 0.005]),
                               ("rk4", ["-ts_type", "rk", "-ts_rk_type", "4"], 4, [0.04, 0.02, 0.01]),
                               ("beuler", ["-ts_type", "beuler", "-snes_rtol", "1e-13", "-ksp_rtol", "1e-13"], 1,
                                [0.01, 0.005, 0.0025])]:
        errs = []
        for dt in dts:
            run([b] + base + opts + ["-ts_dt", str(dt), "-ts_adapt_type", "none", "-bbd_output", "o.h5"])
            errs.append(np.linalg.norm(final_state("o.h5") - ref) / np.linalg.norm(ref))
        orders = np.log2(np.array(errs[:-1]) / np.array(errs[1:]))
        check(all(abs(o - p) <= 0.25 for o in orders),
              "%s: observed orders %s (errors %s), expected %d" % (name, orders, errs, p))


def case_damped_limit(b):
    """Damped dynamics with large gamma and eta = gamma eta_f approaches the flow with eta_f:
    the distance falls like 1/gamma (observed rate between 0.7 and 1.3)."""
    base = SMALL + ["-bbd_tfinal", "0.5", "-bbd_output_dt", "0.5"]
    run([b] + base + ["-bbd_dynamics", "flow", "-bbd_eta", "1", "-bbd_output", "flow.h5"])
    ref = final_state("flow.h5")
    errs = []
    for g in (25, 50, 100, 200):
        run([b] + base + ["-bbd_dynamics", "damped", "-bbd_gamma", str(g), "-bbd_eta", str(g),
                          "-bbd_output", "damp.h5", "-ts_type", "bdf", "-ts_rtol", "1e-10", "-ts_atol", "1e-10"])
        errs.append(np.linalg.norm(final_state("damp.h5") - ref) / np.linalg.norm(ref))
    rates = np.log2(np.array(errs[:-1]) / np.array(errs[1:]))
    check(all(np.diff(errs) < 0), "damped -> flow: distances do not fall with gamma: %s" % errs)
    check(all(0.7 <= r <= 1.3 for r in rates), "damped -> flow: observed rates %s (distances %s), expected 1" % (rates, errs))


def case_damped_rate(b):
    """The damped continuity law holds along the solver's trajectory: the stored dT_m/dt (from the
    equation of motion) matches a finite difference in time of the stored T_m (to solver and
    difference accuracy), and the stored law J_(m+1) - J_m = dT_m/dt + 2 gamma T_m to rounding."""
    run([b] + SMALL + ["-bbd_dynamics", "damped", "-bbd_gamma", "2", "-bbd_tfinal", "0.2", "-bbd_output_dt", "0.002",
                       "-ts_rtol", "1e-12", "-ts_atol", "1e-12", "-bbd_output", "d.h5"])
    t, T, R, J = (traj("d.h5", q) for q in ("time", "layer_kinetic", "energy_rate", "flux"))
    fd = (T[2:] - T[:-2]) / (t[2:] - t[:-2])[:, None]
    err = np.abs(fd - R[1:-1]).max() / np.abs(R).max()
    check(err < 1e-4, "damped: dT_m/dt differs from the time difference of T_m by %.2e (relative)" % err)
    law = np.abs(np.diff(J, axis=1) - R - 2 * 2 * T).max() / np.abs(J).max()
    check(law < 1e-12, "damped: continuity law violated by %.2e" % law)


BAD = [  # (options, words the error must contain)
    (["-bbd_family", "cnn"], "-bbd_family"),
    (["-bbd_depth", "0"], "-bbd_depth"),
    (["-bbd_width", "-3"], "-bbd_width"),
    (["-bbd_activation", "tanhh"], "tanhh"),
    (["-bbd_activation", "tanh,sin"], "-bbd_activation"),
    (["-bbd_loss", "l1"], "-bbd_loss"),
    (["-bbd_dynamics", "adam"], "-bbd_dynamics"),
    (["-bbd_eta", "-1"], "-bbd_eta"),
    (["-bbd_eta", "nan"], "-bbd_eta"),
    (["-bbd_gamma", "-2", "-bbd_dynamics", "damped"], "-bbd_gamma"),
    (["-bbd_kappa", "1,2"], "-bbd_kappa"),
    (["-bbd_kappa", "1,-1,0"], "-bbd_kappa"),
    (["-bbd_tfinal", "-1"], "-bbd_tfinal"),
    (["-bbd_output_dt", "0"], "-bbd_output_dt"),
    (["-bbd_sample_dt", "-1"], "-bbd_sample_dt"),
    (["-bbd_batch", "0"], "-bbd_batch"),
    (["-bbd_batch", "100"], "-bbd_batch"),
    (["-bbd_seed", "-4"], "-bbd_seed"),
    (["-bbd_nsamples", "-1"], "-bbd_nsamples"),
    (["-bbd_family", "dense", "-bbd_widths", "3,0,2"], "-bbd_widths"),
    (["-bbd_widths", "3,4,2"], "-bbd_widths"),
    (["-bbd_family", "dense", "-bbd_widths", "3,4,2", "-bbd_depth", "5"], "-bbd_depth"),
    (["-bbd_family", "dense", "-bbd_widths", "3,4,2", "-bbd_residual"], "-bbd_residual"),
    (["-bbd_family", "dense", "-bbd_h", "0.5"], "-bbd_h"),
    (["-bbd_dynamics", "sgd", "-bbd_output_dt", "2.5"], "output_dt"),
    (["-bbd_dynamics", "sgd", "-bbd_tfinal", "10.5", "-bbd_output_dt", "1"], "-bbd_tfinal"),
    (["-bbd_mode", "continuum"], "-bbd_mode"),
    (["-bbd_dept", "4"], "-bbd_dept"),
    (["-bbd_data", "nothing.txt"], "-bbd_data"),
    (["-bbd_data", "missing.h5"], "missing.h5"),
    (["-bbd_data", "fashion-mnist"], "fashion"),
    (["-bbd_init", "missing.h5"], "missing.h5"),
    (["-bbd_init", "text.h5"], "text.h5"),
    (["-bbd_init", "trunc.h5"], "trunc.h5"),
    (["-bbd_init", "dense.h5", "-bbd_family", "field"], "-bbd_family"),
    (["-bbd_init", "good.h5", "-bbd_width", "16"], "-bbd_width"),
    (["-bbd_init", "good.h5", "-bbd_activation", "sin"], "-bbd_activation"),
    (["-bbd_init", "nan.h5"], "/state/b"),
    (["-bbd_init", "shape.h5"], "/state/a"),
    (SMALL[1:] + ["-bbd_data", "nanx.h5"], "/data/X"),
    (SMALL[1:] + ["-bbd_data", "wrongn.h5"], "/data/X"),
    (SMALL[1:] + ["-bbd_data", "noy.h5"], "/data/Y"),
    (SMALL[1:] + ["-bbd_loss", "ce", "-bbd_data", "baddens.h5"], "/data/Y"),
    (SMALL[1:] + ["-bbd_loss", "hinge", "-bbd_data", "good.h5"], "/data/Y"),
    (["-bbd_activation", "linear", "-bbd_eta", "1e3", "-ts_type", "euler", "-ts_dt", "0.1", "-ts_adapt_type", "none"],
     "diverged"),
    (["-ts_dt", "-1"], "-ts_dt"),
    (["-ts_max_steps", "3"], "-ts_max_steps"),
    (["-ts_exact_final_time", "stepover"], "-ts_exact_final_time"),
    (["-bbd_init", "later.h5"], "-bbd_tfinal"),
]


def make_bad_files(b):
    run([b] + SMALL + ["-bbd_tfinal", "0", "-bbd_output", "good.h5"])
    run([b] + SMALL + ["-bbd_tfinal", "0.2", "-bbd_output", "later.h5"])
    run([b, "-bbd_quiet", "-bbd_family", "dense", "-bbd_depth", "6", "-bbd_width", "8", "-bbd_tfinal", "0",
         "-bbd_output", "dense.h5"])
    with open("text.h5", "w") as f:
        f.write("this is not HDF5\n")
    with open("good.h5", "rb") as f:
        data = f.read()
    with open("trunc.h5", "wb") as f:
        f.write(data[: len(data) // 2])
    for name, edit in [("nan.h5", lambda f: f["state/b"].__setitem__((2, 3), np.nan)),
                       ("nanx.h5", lambda f: f["data/X"].__setitem__((1, 1), np.nan))]:
        with open(name, "wb") as g:
            g.write(data)
        with h5py.File(name, "r+") as f:
            edit(f)
    for name, X, Y in [("wrongn.h5", np.zeros((4, 5)), np.zeros((4, 8))),
                       ("noy.h5", np.zeros((4, 8)), None),
                       ("baddens.h5", np.zeros((4, 8)), 2 * np.ones((4, 8)))]:
        with h5py.File(name, "w") as f:
            f["data/X"] = X
            if Y is not None:
                f["data/Y"] = Y
    with open("shape.h5", "wb") as g:
        g.write(data)
    with h5py.File("shape.h5", "r+") as f:
        a = f["state/a"][()]
        del f["state/a"]
        f["state/a"] = a[:, :, :5]


def case_badinput(b):
    """Every impossible input gives a clear error naming it, a non-zero exit, no crash (no signal,
    no MPI abort by a signal) and no output file left behind."""
    make_bad_files(b)
    for opts, word in BAD:
        for f in os.listdir("."):
            if f.startswith("out.h5"):
                os.remove(f)
        p = run([b, "-bbd_quiet", "-bbd_output", "out.h5"] + opts, expect_ok=False)
        text = p.stdout + p.stderr
        check(p.returncode > 0, "%s: exit code %d (expected an error, not success or a signal)" % (opts, p.returncode))
        check(word in text, "%s: the message does not name %r:\n%s" % (opts, word, text[:2000]))
        check("Segmentation" not in text and "signal" not in text.lower(), "%s: crashed:\n%s" % (opts, text[:2000]))
        left = [f for f in os.listdir(".") if f.startswith("out.h5")]
        check(not left, "%s: left %s behind" % (opts, left))


def case_reference(b, src):
    """An independent NumPy implementation (tests/ref/check_bbd.py) recomputes every BBD quantity
    of bbd-net results: both families, all losses, all dynamics."""
    runs = [SMALL + ["-bbd_tfinal", "0.3"],
            SMALL + ["-bbd_dynamics", "damped", "-bbd_loss", "kl", "-bbd_tfinal", "0.3", "-bbd_sample_dt", "0.1"],
            SMALL + ["-bbd_dynamics", "sgd", "-bbd_loss", "ce", "-bbd_eta", "0.1", "-bbd_tfinal", "20", "-bbd_batch", "2"],
            SMALL + ["-bbd_loss", "hinge", "-bbd_periodic", "0", "-bbd_activation", "sin,gelu,tanh,erf,swish,softplus",
                     "-bbd_tfinal", "0.2"],
            ["-bbd_quiet", "-bbd_family", "dense", "-bbd_widths", "5,7,7,7,3", "-bbd_loss", "mse",
             "-bbd_activation", "tanh,sigmoid,relu,linear", "-bbd_tfinal", "0.3"],
            ["-bbd_quiet", "-bbd_family", "dense", "-bbd_widths", "6,6,6,6", "-bbd_residual", "-bbd_h", "0.5",
             "-bbd_dynamics", "damped", "-bbd_loss", "ce", "-bbd_tfinal", "0.3"]]
    runs += [SMALL[:1] + ["-bbd_depth", "1", "-bbd_width", "8", "-bbd_tfinal", "0.2"],
             SMALL[:1] + ["-bbd_depth", "2", "-bbd_width", "8", "-bbd_activation", "relu,softplus", "-bbd_tfinal", "0.2"]]
    for k, opts in enumerate(runs):
        out = "ref%d.h5" % k
        run([b] + opts + ["-bbd_output", out])
        p = subprocess.run([sys.executable, os.path.join(src, "tests/ref/check_bbd.py"), out, "--tol", "1e-9"],
                           capture_output=True, text=True)
        check(p.returncode == 0, "reference check of %s failed:\n%s" % (" ".join(opts), p.stdout[-3000:] + p.stderr[-2000:]))
    with h5py.File("ref%d.h5" % (len(runs) - 2), "r") as f, h5py.File("ref%d.h5" % (len(runs) - 1), "r") as g:
        names = [str(h.attrs["activation"], "ascii") if isinstance(h.attrs["activation"], bytes) else h.attrs["activation"] for h in (f, g)]
    check(names == ["tanh", "relu,softplus"], "activation attributes written as %s" % names)


def case_fashion(b):
    """Fashion-MNIST (Debian's dataset-fashion-mnist): a dense network trained by SGD lowers the loss."""
    if not os.path.exists("/usr/share/datasets/fashion-mnist/train-labels-idx1-ubyte.gz"):
        print("skipped: dataset-fashion-mnist is not installed")
        return
    run([b, "-bbd_quiet", "-bbd_family", "dense", "-bbd_widths", "784,32,10", "-bbd_data", "fashion-mnist",
         "-bbd_nsamples", "2000", "-bbd_loss", "ce", "-bbd_dynamics", "sgd", "-bbd_batch", "50", "-bbd_eta", "0.2",
         "-bbd_tfinal", "200", "-bbd_output_dt", "50", "-bbd_output", "fm.h5"])
    loss = traj("fm.h5", "loss")
    check(loss[-1] < 0.75 * loss[0], "fashion-mnist: loss did not fall: %s" % loss)
    check(np.isfinite(traj("fm.h5", "L")).all(), "fashion-mnist: non-finite L")
    env = dict(ENV, BBD_FASHION_DIR="/nonexistent")  # as on a machine without the package
    p = subprocess.run([b, "-bbd_quiet", "-bbd_family", "dense", "-bbd_widths", "784,10", "-bbd_data", "fashion-mnist",
                        "-bbd_output", "nofm.h5"], env=env, capture_output=True, text=True)
    check(p.returncode != 0 and "apt-get install dataset-fashion-mnist" in p.stderr + p.stdout and not os.path.exists("nofm.h5"),
          "fashion-mnist missing: no clear message (exit %d):\n%s" % (p.returncode, (p.stdout + p.stderr)[-1500:]))


def case_valgrind(b):
    """Memcheck finds no invalid access or use of uninitialised memory in small runs of every
    dynamics, both families, a restart, the damped residual form with its assembled Jacobian, and
    an error path (a truncated -bbd_init file)."""
    supp = "/usr/share/openmpi/openmpi-valgrind.supp"
    vg = ["valgrind", "-q", "--error-exitcode=3"] + (["--suppressions=" + supp] if os.path.exists(supp) else [])
    tiny = ["-bbd_quiet", "-bbd_depth", "3", "-bbd_width", "4", "-bbd_tfinal", "0.1", "-bbd_output_dt", "0.05"]
    runs = [tiny + ["-bbd_output", "v1.h5"],
            tiny + ["-bbd_dynamics", "damped", "-bbd_loss", "ce", "-bbd_sample_dt", "0.03", "-bbd_output", "v2.h5"],
            ["-bbd_quiet", "-bbd_family", "dense", "-bbd_widths", "3,4,2", "-bbd_dynamics", "sgd", "-bbd_tfinal", "4",
             "-bbd_output_dt", "2", "-bbd_batch", "2", "-bbd_loss", "hinge", "-bbd_output", "v3.h5"],
            ["-bbd_quiet", "-bbd_init", "v1.h5", "-bbd_tfinal", "0.2", "-bbd_output", "v4.h5"]]
    f = field_bin(b)
    progs = [[b] + o for o in runs] + [
        [f, "-bbd_quiet", "-bbd_depth", "3", "-bbd_width", "5", "-bbd_periodic", "0", "-bbd_activation", "sigmoid",
         "-bbd_tfinal", "0.05", "-bbd_sample_dt", "0.02", "-bbd_output", "vf1.h5"],
        [f, "-bbd_quiet", "-bbd_depth", "3", "-bbd_width", "5", "-bbd_periodic", "0", "-bbd_dynamics", "damped",
         "-bbd_activation", "softplus", "-bbd_tfinal", "0.05", "-bbd_sample_dt", "0.02", "-bbd_output", "vf4.h5"],
        [f, "-bbd_quiet", "-bbd_depth", "3", "-bbd_width", "5", "-bbd_formulation", "residual", "-ts_dt", "0.01",
         "-bbd_tfinal", "0.02", "-bbd_output", "vf2.h5"],
        [f, "-bbd_quiet", "-bbd_depth", "3", "-bbd_width", "5", "-bbd_periodic", "0", "-bbd_dynamics", "damped", "-bbd_loss", "ce",
         "-bbd_kappa", "1,0.1,0.01", "-bbd_formulation", "residual", "-bbd_jacobian", "assembled", "-ts_dt", "0.01",
         "-bbd_tfinal", "0.02", "-bbd_output", "vf5.h5"],
        [f, "-bbd_quiet", "-bbd_mode", "continuum", "-da_grid_x", "5", "-da_grid_y", "4", "-bbd_tfinal", "0.02",
         "-bbd_output", "vf3.h5"]]
    for cmd in progs:
        p = run(vg + cmd, expect_ok=False)
        check(p.returncode == 0, "valgrind %s: exit %d\n%s" % (" ".join(cmd), p.returncode, p.stderr[-3000:]))
    with open("v1.h5", "rb") as f:
        data = f.read()
    with open("trunc.h5", "wb") as f:
        f.write(data[:3000])
    p = run(vg + [b, "-bbd_init", "trunc.h5", "-bbd_output", "v5.h5"], expect_ok=False)
    check(p.returncode not in (0, 3) and "trunc.h5" in p.stderr + p.stdout,
          "valgrind truncated init: exit %d\n%s" % (p.returncode, p.stderr[-3000:]))
    check("Invalid" not in p.stderr and "uninitialised" not in p.stderr, "valgrind error path:\n" + p.stderr[-3000:])


def field_bin(b):
    return os.path.join(os.path.dirname(b), "bbd-field")


def case_field_lattice(b):
    """bbd-field in lattice mode reproduces bbd-net's gradient flow from the same state and data
    (z, a, b, loss, flux) to 1e-8 relative with tight TS tolerances, on 1, 2 and 4 ranks, periodic
    and zero-padded width, mixed activations, mse/ce/kl, with sample switching (z jumps). (Hinge is
    left out: its kink makes tight adaptive stepping crawl; the same code path serves it.)"""
    f = field_bin(b)
    for k, extra in enumerate([["-bbd_loss", "mse"],
                               ["-bbd_loss", "ce", "-bbd_activation", "tanh,sin,tanh,gelu,tanh,erf"],
                               ["-bbd_loss", "kl", "-bbd_periodic", "0", "-bbd_kappa", "0.5,0.2,0.01"],
                               ["-bbd_periodic", "0", "-bbd_activation", "sigmoid", "-bbd_kappa", "1,0.1,0.5"],
                               ["-bbd_loss", "mse", "-bbd_activation", "softplus", "-bbd_sample_order", "random"]]):
        opts = ["-bbd_quiet", "-bbd_depth", "6", "-bbd_width", "12", "-bbd_tfinal", "0.4", "-bbd_output_dt", "0.1",
                "-bbd_sample_dt", "0.15", "-ts_rtol", "1e-12", "-ts_atol", "1e-12"] + extra
        run([b] + opts + ["-bbd_output", "net%d.h5" % k])
        for p in (1, 2, 4):
            run([f] + opts + ["-bbd_output", "fld%d_%d.h5" % (k, p)], nproc=p)
            with h5py.File("net%d.h5" % k, "r") as n, h5py.File("fld%d_%d.h5" % (k, p), "r") as g:
                check(np.array_equal(n["trajectory/time"][()], g["trajectory/time"][()]), "field: saved times differ")
                check(np.array_equal(n["trajectory/sample"][()], g["trajectory/sample"][()]), "field: samples differ")
                for q in ["z", "a", "b", "loss", "L", "L_bulk", "flux"]:
                    ref, got = n["trajectory/" + q][()], g["trajectory/" + q][()]
                    err = np.abs(got - ref).max() / np.abs(ref).max()
                    check(err <= 1e-8, "field %s on %d ranks: /trajectory/%s differs from bbd-net by %.2e" % (extra, p, q, err))
                check(list(g["grid/x"].shape) == [7] and list(g["grid/y"].shape) == [12], "field: /grid shapes")
                # energy continuity on the grid (docs/theory.md section 7): J_(m+1) - J_m = 2 d_m, to rounding
                J, d = g["trajectory/flux"][()], g["trajectory/dissipation"][()]
                law = np.abs(J[:, 1:] - J[:, :-1] - 2 * d).max() / np.abs(J).max()
                check(law <= 1e-12, "field %s on %d ranks: energy continuity violated by %.2e" % (extra, p, law))


def case_field_restart(b):
    """bbd-field: a run to T and a run to T/2 restarted from its file (/state holds z) to T give
    the same trajectory, bitwise, with random sample switching: rk, and bdf (adaptive and fixed
    step, sweep and residual formulations, flow and damped). BDF moves the input row z(0, y), whose
    rate is 0, by a few ulp (its multistep combination of equal values is not exact); the restart
    still takes the file's neurons as they are (they belong to the sample to rounding), where a
    forward pass in their place made restarts differ by 1e-15 to 3e-12."""
    f = field_bin(b)
    opts = SMALL + ["-bbd_sample_dt", "0.15", "-bbd_sample_order", "random", "-bbd_output_dt", "0.1"]
    for ts in (["-ts_adapt_type", "basic"], ["-ts_type", "bdf"], ["-ts_type", "bdf", "-ts_adapt_type", "none", "-ts_dt", "0.01"],
               ["-ts_type", "bdf", "-bbd_formulation", "residual"], ["-ts_type", "bdf", "-bbd_dynamics", "damped"]):
        again = [o for o in ts if o not in ("-bbd_dynamics", "damped")]  # the file holds the dynamics
        run([f] + opts + ts + ["-bbd_tfinal", "1", "-bbd_output", "full.h5"])
        run([f] + opts + ts + ["-bbd_tfinal", "0.5", "-bbd_output", "half.h5"])
        run([f, "-bbd_quiet", "-bbd_init", "half.h5", "-bbd_tfinal", "1", "-bbd_output", "rest.h5"] + again)
        for q in ["time", "z", "a", "b", "loss", "L", "flux", "sample"]:
            check(np.array_equal(traj("full.h5", q)[5:], traj("rest.h5", q)),
                  "field restart %s: /trajectory/%s differs from the uninterrupted run" % (" ".join(ts), q))
    with h5py.File("half.h5", "r") as h:  # the test shows something only while BDF moves the input row
        x = h["data/X"][()][h["trajectory/sample"][()][-1]]
        check(np.abs(h["state/z"][()][0] - x).max() > 0, "field restart: bdf left the input row exact; the tolerant check is not exercised")


def case_field_damped(b):
    """bbd-field lattice mode with damped dynamics (docs/theory.md section 14).
    (1) It reproduces bbd-net's damped trajectory from the same state and data: /trajectory/a, b,
    a_dot, b_dot, z, loss to 1e-8 relative (tight TS tolerances; the two programs integrate the
    same ODE in different coordinates, so they agree to the tolerance, observed ~1e-11), with
    sample switching (z jumps to the forward pass, z_dot to the tangent pass), periodic and
    zero-padded, on 1, 2 and 4 ranks; and from a damped bbd-net state with nonzero velocities.
    tests/ref/check_bbd.py (independent NumPy) accepts bbd-field's damped results.
    (2) A run to T and a run to T/2 restarted from its file (/state holds z and z_dot) to T give
    the same trajectory bitwise, with the restart time inside a sample segment and at a switch.
    (3) The damped energy law of section 8 in bbd-field's output: J_(m+1) - J_m = energy_rate_m +
    2 dissipation_m at every saved time to rounding (1e-12 of max|J|; an identity of the saved
    state), energy_rate = dT_m/dt against a fourth-order centred difference in time of the saved
    T_m, and J_M = -eta dl/dt against the same difference of the saved loss, both to 1e-6 relative
    (dt = 0.002, no sample switch: observed 8e-8, falling 16x when dt halves, i.e. difference
    error; the second-order difference would be limited to ~2e-4 by its own error)."""
    f = field_bin(b)
    base = ["-bbd_quiet", "-bbd_depth", "6", "-bbd_width", "8", "-bbd_dynamics", "damped", "-bbd_gamma", "2",
            "-bbd_output_dt", "0.1", "-bbd_sample_dt", "0.15", "-ts_rtol", "1e-12", "-ts_atol", "1e-12"]
    qs = ["a", "b", "a_dot", "b_dot", "z", "loss", "L", "flux"]

    def same(ref, got, what):
        with h5py.File(ref, "r") as n, h5py.File(got, "r") as g:
            check(np.array_equal(n["trajectory/time"][()], g["trajectory/time"][()]), "%s: saved times differ" % what)
            check(np.array_equal(n["trajectory/sample"][()], g["trajectory/sample"][()]), "%s: samples differ" % what)
            for q in qs:
                r, v = n["trajectory/" + q][()], g["trajectory/" + q][()]
                err = np.abs(v - r).max() / np.abs(r).max()
                check(err <= 1e-8, "%s: /trajectory/%s differs from bbd-net by %.2e" % (what, q, err))
            for q in ("a", "b", "a_dot", "b_dot"):
                r, v = n["state/" + q][()], g["state/" + q][()]
                err = np.abs(v - r).max() / np.abs(r).max()
                check(err <= 1e-8, "%s: /state/%s differs from bbd-net by %.2e" % (what, q, err))

    for k, extra in enumerate([["-bbd_loss", "mse"],
                               ["-bbd_loss", "ce", "-bbd_periodic", "0", "-bbd_activation", "sigmoid",
                                "-bbd_kappa", "0.5,0.2,0.01"],
                               ["-bbd_periodic", "0", "-bbd_activation", "tanh,sin,tanh,gelu,tanh,erf",
                                "-bbd_sample_order", "random", "-bbd_gamma", "0.5"]]):
        opts = base + ["-bbd_tfinal", "0.6"] + extra
        run([b] + opts + ["-bbd_output", "net%d.h5" % k])
        for p in (1, 2, 4):
            run([f] + opts + ["-bbd_output", "fld%d_%d.h5" % (k, p)], nproc=p)
            same("net%d.h5" % k, "fld%d_%d.h5" % (k, p), "damped field %s on %d ranks" % (extra, p))
        # the independent NumPy checker recomputes every saved quantity and re-integrates the dynamics
        p = subprocess.run([sys.executable, os.path.join(HERE, "ref", "check_bbd.py"), "fld%d_%d.h5" % (k, 1 + k % 2),
                            "--tol", "1e-9"], capture_output=True, text=True)
        check(p.returncode == 0, "reference check of bbd-field damped %s failed:\n%s" % (extra, p.stdout[-3000:] + p.stderr[-2000:]))
    # from a damped bbd-net state with nonzero velocities (no /state/z, /state/z_dot: forward and tangent passes)
    run([b] + base + ["-bbd_tfinal", "0.3", "-bbd_periodic", "0", "-bbd_output", "mid.h5"])
    with h5py.File("mid.h5", "r") as h:
        check(np.abs(h["state/b_dot"][()]).max() > 1e-3, "damped field: the hand-off state is at rest; the test shows nothing")
    ini = ["-bbd_quiet", "-bbd_init", "mid.h5", "-bbd_tfinal", "0.6", "-ts_rtol", "1e-12", "-ts_atol", "1e-12"]
    run([b] + ini + ["-bbd_output", "cn.h5"])
    for p in (1, 2):
        run([f] + ini + ["-bbd_output", "cf%d.h5" % p], nproc=p)
        same("cn.h5", "cf%d.h5" % p, "damped field from a bbd-net state on %d ranks" % p)

    # (2) restart, bitwise
    opts = ["-bbd_quiet", "-bbd_depth", "6", "-bbd_width", "8", "-bbd_dynamics", "damped", "-bbd_gamma", "2",
            "-bbd_sample_dt", "0.15", "-bbd_sample_order", "random", "-bbd_output_dt", "0.1", "-ts_adapt_type", "basic"]
    run([f] + opts + ["-bbd_tfinal", "1", "-bbd_output", "full.h5"])
    for H in ("0.5", "0.3"):  # inside a sample segment; at a sample switch
        run([f] + opts + ["-bbd_tfinal", H, "-bbd_output", "half.h5"])
        with h5py.File("half.h5", "r") as h:
            check("z_dot" in h["state"], "damped field: /state/z_dot missing")
        run([f, "-bbd_quiet", "-bbd_init", "half.h5", "-bbd_tfinal", "1", "-bbd_output", "rest.h5", "-ts_adapt_type", "basic"])
        tf = traj("full.h5", "time")
        k = int(np.argmin(abs(tf - float(H))))
        for q in ["time", "z", "a", "b", "a_dot", "b_dot", "loss", "L", "flux", "energy_rate", "sample"]:
            check(np.array_equal(traj("full.h5", q)[k:], traj("rest.h5", q)),
                  "damped field restart at %s: /trajectory/%s differs from the uninterrupted run" % (H, q))
        with h5py.File("full.h5", "r") as g, h5py.File("rest.h5", "r") as h:
            for q in ("a", "b", "a_dot", "b_dot", "z", "z_dot"):
                check(np.array_equal(g["state/" + q][()], h["state/" + q][()]),
                      "damped field restart at %s: /state/%s differs" % (H, q))

    # (3) the damped energy law in bbd-field's output
    eta, gamma = 0.8, 2.0
    run([f, "-bbd_quiet", "-bbd_depth", "6", "-bbd_width", "8", "-bbd_dynamics", "damped", "-bbd_gamma", str(gamma),
         "-bbd_eta", str(eta), "-bbd_kappa", "1,0.1,0.02", "-bbd_tfinal", "0.2", "-bbd_output_dt", "0.002",
         "-ts_rtol", "1e-12", "-ts_atol", "1e-12", "-bbd_output", "law.h5"])
    t, T, R, J, D, l = (traj("law.h5", q) for q in ("time", "layer_kinetic", "energy_rate", "flux", "dissipation", "loss"))
    law = np.abs(np.diff(J, axis=1) - R - 2 * D).max() / np.abs(J).max()
    check(law < 1e-12, "damped field: J_(m+1) - J_m - dT_m/dt - 2 gamma T_m = %.2e of max|J|" % law)
    check(np.abs(D - gamma * T).max() <= 1e-14 * np.abs(D).max(), "damped field: dissipation is not gamma T_m")
    check(np.abs(J[:, 0]).max() <= 1e-14 * np.abs(J).max(), "damped field: J_0 is not 0")
    dt = t[1] - t[0]
    check(np.allclose(np.diff(t), dt, rtol=1e-9, atol=0), "damped field: saved times are not equally spaced")

    def ddt(x):  # fourth-order centred difference, error dt^4/30 |x^(5)|
        return (-x[4:] + 8 * x[3:-1] - 8 * x[1:-3] + x[:-4]) / (12 * dt)
    err = np.abs(ddt(T) - R[2:-2]).max() / np.abs(R).max()
    check(err < 1e-6, "damped field: dT_m/dt differs from the time difference of T_m by %.2e (relative)" % err)
    err = np.abs(-eta * ddt(l) - J[2:-2, -1]).max() / np.abs(J[:, -1]).max()
    check(err < 1e-6, "damped field: J_M differs from -eta dl/dt by %.2e (relative)" % err)


def case_field_handoff(b):
    """States pass between the two programs: bbd-field -> bbd-net -> bbd-field, with the sample in use
    changed on the way (sample switching turned on at the restart), agree with bbd-net alone."""
    f = field_bin(b)
    run([f] + SMALL + ["-bbd_tfinal", "0.2", "-bbd_output", "A.h5"])
    run([b, "-bbd_quiet", "-bbd_init", "A.h5", "-bbd_tfinal", "0.6", "-bbd_output", "B.h5"])
    for prog, out in ((f, "Cf.h5"), (b, "Cn.h5")):
        run([prog, "-bbd_quiet", "-bbd_init", "B.h5", "-bbd_tfinal", "0.8", "-bbd_sample_dt", "0.1", "-ts_rtol", "1e-12",
             "-ts_atol", "1e-12", "-bbd_output", out])
    for q in ["loss", "z", "a", "b"]:
        ref, got = traj("Cn.h5", q), traj("Cf.h5", q)
        err = np.abs(got - ref).max() / np.abs(ref).max()
        check(err <= 1e-8, "hand-off: /trajectory/%s of bbd-field differs from bbd-net by %.2e" % (q, err))
    with h5py.File("B.h5", "r") as h:
        check("z" not in h["state"], "bbd-net copied a stale /state/z from its -bbd_init file")


def case_field_implicit(b):
    """bbd-field runs with implicit time-steppers (Jacobian-free Newton-Krylov) and stays within the
    method's error of the reference trajectory."""
    f = field_bin(b)
    run([b] + SMALL + ["-bbd_tfinal", "0.2", "-bbd_output", "ref.h5"])
    for ts in (["-ts_type", "beuler", "-ts_dt", "0.002"], ["-ts_type", "bdf", "-ts_dt", "0.005"]):
        run([f] + SMALL + ["-bbd_tfinal", "0.2", "-bbd_output", "imp.h5", "-ts_adapt_type", "none"] + ts)
        err = np.abs(traj("imp.h5", "z") - traj("ref.h5", "z")).max() / np.abs(traj("ref.h5", "z")).max()
        check(err < 1e-2, "bbd-field %s: z differs from the reference by %.2e" % (ts, err))


def check_continuum_flux(tag, files, eta_file, eta):
    """Continuum energy diagnostics: J(1) = -eta dl/dt against a centred time difference of the saved
    loss (eta_file), and d_x J = 2 D through depth (D: /trajectory/dissipation_density) on the grids of
    `files` (J differenced at second order against 2 D; the defect must fall at second order)."""
    t, l, J = traj(eta_file, "time"), traj(eta_file, "loss"), traj(eta_file, "flux")
    dl = (l[2:] - l[:-2]) / (t[2:] - t[:-2])
    rel = np.abs(-eta * dl - J[1:-1, -1]).max() / np.abs(J[:, -1]).max()
    check(rel < 1e-3, "%s: J(1) differs from -eta dl/dt by %.2e (relative)" % (tag, rel))
    law = []
    for name in files:
        with h5py.File(name, "r") as g:
            J, D, x = g["trajectory/flux"][()], g["trajectory/dissipation_density"][()], g["grid/x"][()]
        dJ = (J[:, 2:] - J[:, :-2]) / (x[2] - x[0])
        law.append(np.abs(dJ - 2 * D[:, 1:-1]).max() / np.abs(2 * D).max())
    lorder = np.log2(law[-2] / law[-1])
    check(law[-1] < 1e-3 and 1.5 <= lorder <= 2.6, "%s: d_x J = 2 D defects %s (order %.2f), expected second order" % (tag, law, lorder))
    return traj(eta_file, "flux")


def case_field_continuum(b):
    """Continuum mode: self-convergence at second order in the grid spacing (depth and width
    refined together, smooth built-in fields, tight TS tolerances; injection onto the coarse
    points), errors falling monotonically; the same fields on 1, 2 and 3 ranks; the output flux
    J(1) = -eta dl/dt against a time difference of the saved loss; the energy continuity law
    d_x J = 2 D through depth, to second order."""
    f = field_bin(b)
    base = ["-bbd_quiet", "-bbd_mode", "continuum", "-bbd_tfinal", "0.5", "-bbd_output_dt", "0.25"]
    Z = {}
    for n in (8, 16, 32, 64):
        run([f] + base + ["-da_grid_x", str(n + 1), "-da_grid_y", str(n), "-bbd_output", "c%d.h5" % n])
        Z[n] = traj("c%d.h5" % n, "z")[-1]
    err = [np.linalg.norm(Z[2 * n][::2, ::2] - Z[n]) / np.linalg.norm(Z[2 * n]) for n in (8, 16, 32)]
    order = np.log2(np.array(err[:-1]) / np.array(err[1:]))
    check(all(np.diff(err) < 0), "continuum: self-convergence errors do not fall: %s" % err)
    check(1.6 <= order[-1] <= 2.4, "continuum: observed orders %s (errors %s), expected 2" % (order, err))
    for p in (2, 3):
        run([f] + base + ["-da_grid_x", "33", "-da_grid_y", "32", "-bbd_output", "cp%d.h5" % p], nproc=p)
        for q in ("z", "a", "flux", "loss"):
            d = np.abs(traj("cp%d.h5" % p, q) - traj("c32.h5", q)).max() / np.abs(traj("c32.h5", q)).max()
            check(d < 1e-12, "continuum on %d ranks: %s differs from 1 rank by %.2e" % (p, q, d))
    run([f, "-bbd_quiet", "-bbd_mode", "continuum", "-da_grid_x", "17", "-da_grid_y", "16", "-bbd_tfinal", "0.1",
         "-bbd_output_dt", "0.005", "-bbd_eta", "0.8", "-bbd_output", "cl.h5"])
    check_continuum_flux("continuum", ["c16.h5", "c32.h5", "c64.h5"], "cl.h5", 0.8)


def case_field_continuum_residual(b):
    """Continuum mode in residual form (docs/theory.md section 14, "Continuum mode in residual
    form"): beta an algebraic unknown, the Heun relations as residual rows.
    (1) The residual vanishes exactly when U' is the explicit right-hand side of the sweep
    formulation, so backward Euler with a fixed step solves the same equations in both: the
    trajectories agree to the Newton tolerance (snes/ksp rtol 1e-12: differences at 1e-8 of the
    change of z leave a factor ~10 over the 1e-9 observed), for flow and damped, periodic and zero
    padded, and for the four losses (flow).
    (2) The same on 2 ranks and on a 2 x 2 layout (-da_processors_x 2), to 1e-11.
    (3) Krylov iterations per Newton step do not grow with the grid: the same continuum problem (the
    built-in fields) on 17 x 16 to 257 x 128 (depth refined like width squared at the finest, the
    forward map's stability), fixed dt = 0.01: the finest needs at most 0.5 more than the coarsest
    and at most 6; without the preconditioner (-pc_type none) the first step fails or needs 10x more.
    (4) Adaptive bdf (rtol = atol = 1e-9) works and agrees with the sweep formulation's bdf within
    the accumulated tolerance (~200 steps x 1e-9 against a change of z of ~0.1: 1e-5).
    (5) What it does not support is refused by name: -pc_type lu without a matrix (matrix-free
    Newton).
    (6) -snes_fd_color on the box superset pattern (fieldjac.c, FillBox): -snes_test_jacobian
    compares the coloured matrix with PETSc's dense difference of the same residual; both use the
    same step per column, so they agree to rounding (observed 0 to 1e-17 relative) where a pattern
    missing an entry differs by O(1e-4) or more (width radius 1 instead of 2: 7e-4; depth radius 1
    for damped: 3e-3, checked by hand): 1e-10, on 9 x 8 and 9 x 16, periodic and zero padded,
    flow and damped, mse and ce, 1 and 2 ranks, and on the 2 x 1 layout (-da_processors_x 2).
    With -pc_type lu (mumps on 2 ranks) one Krylov iteration per Newton step, and the trajectory
    equals the matrix-free run's to the Newton tolerance (1e-8 of the change of z, as (1)); -snes_fd
    (dense) gives the coloured run's trajectory (1e-9; observed 0 on 1 rank, 4e-16 on 2) with one
    Krylov iteration per Newton step, on 1 and 2 ranks and the 2 x 1 layout, and with the sweep
    preconditioner instead of lu on 2 ranks.
    (7) The exact Jacobian (-bbd_jacobian assembled: the residual linearised by hand, assembled by
    colouring; docs/theory.md section 14) passes -snes_test_jacobian at moving states (restarted
    from t = 1, where the rates and damped velocities are O(0.1)): ||J - Jfd||/||J|| < 1e-8, where
    the dense difference's own error gives 5e-11 to 7e-10 and dropping any single term of the
    linearisation was seen to give 2e-6 to 3e-4 (the sigma-third-derivative term of the damped
    sources the smallest); flow and damped, mse and ce, periodic and zero padded, 1 and 2 ranks, the
    2 x 1 layout, and with sample switching (the rows of b). With -pc_type lu: one Krylov iteration
    per Newton step and the matrix-free run's trajectory to the Newton tolerance (1e-8 of the change
    of z, as (1)); with the default sweep preconditioner no more Newton steps and no more Krylov
    iterations per Newton step than the matrix-free run, whose operator is the same up to the
    differencing error (observed at Newton tolerance 1e-12: flow 9 and 7.78 both; damped 6 and
    5.50 against 7 and 5.57: the exact matrix saves a Newton step).
    (8) A run to T and a run to T/2 restarted from its file agree bitwise (flow and damped, beuler
    and adaptive bdf), although beta is not in the file: every segment starts from the beta of its
    state (before: 3e-13 of z apart with beuler)."""
    f = field_bin(b)
    tight = ["-snes_rtol", "1e-12", "-snes_atol", "1e-13", "-ksp_rtol", "1e-12"]
    step = ["-ts_type", "beuler", "-ts_dt", "0.01", "-ts_adapt_type", "none", "-bbd_tfinal", "0.1", "-bbd_output_dt", "0.05"]
    base = ["-bbd_quiet", "-bbd_mode", "continuum", "-da_grid_x", "17", "-da_grid_y", "16"]

    def rel(x, y):
        zx, zy = traj(x, "z"), traj(y, "z")
        return np.abs(zx - zy).max() / np.abs(zy[-1] - zy[0]).max()

    cases = [(d, p, "mse") for d in ("flow", "damped") for p in ("1", "0")] + [("flow", "1", l) for l in ("ce", "kl", "hinge")]
    for dyn, per, loss in cases:
        tag = "%s-%s-%s" % (dyn, per, loss)
        o = base + step + ["-bbd_dynamics", dyn, "-bbd_periodic", per, "-bbd_loss", loss]
        run([f] + o + ["-bbd_output", "s-%s.h5" % tag])
        run([f] + o + tight + ["-bbd_formulation", "residual", "-bbd_output", "r-%s.h5" % tag])
        d = rel("r-%s.h5" % tag, "s-%s.h5" % tag)
        check(d < 1e-8, "continuum residual %s: differs from the sweep formulation by %.2e of the change of z" % (tag, d))
        if loss == "mse":
            run([f] + o + tight + ["-bbd_formulation", "residual", "-bbd_output", "r2-%s.h5" % tag], nproc=2)
            run([f] + o + tight + ["-bbd_formulation", "residual", "-da_processors_x", "2", "-da_processors_y", "2",
                                   "-bbd_output", "r4-%s.h5" % tag], nproc=4)
            for r in ("r2", "r4"):
                d = rel("%s-%s.h5" % (r, tag), "r-%s.h5" % tag)
                check(d < 1e-11, "continuum residual %s: %s ranks differ from 1 rank by %.2e" % (tag, r, d))

    def krylov(nx, ny, dyn, extra=()):
        p = run([f, "-bbd_mode", "continuum", "-da_grid_x", str(nx), "-da_grid_y", str(ny), "-bbd_dynamics", dyn,
                 "-bbd_formulation", "residual", "-ts_type", "beuler", "-ts_dt", "0.01", "-ts_adapt_type", "none",
                 "-bbd_tfinal", "0.03", "-bbd_output_dt", "0.03", "-bbd_output", "k.h5"] + list(extra), expect_ok=not extra)
        lines = [l for l in p.stdout.splitlines() if l.startswith("solver:")]
        if p.returncode != 0 or not lines:
            return None
        return float(lines[0].split("(")[1].split()[0])

    for dyn in ("flow", "damped"):
        per = [krylov(nx, ny, dyn) for nx, ny in ((17, 16), (33, 32), (65, 64), (257, 128))]
        check(per[-1] <= per[0] + 0.5 and max(per) <= 6, "continuum residual %s: Krylov per Newton grows with the grid: %s" % (dyn, per))
        # (no retries: a smaller step would let the unpreconditioned solve converge and crawl on)
        none = krylov(17, 16, dyn, ["-pc_type", "none", "-ksp_max_it", "300", "-ts_max_snes_failures", "1"])
        check(none is None or none > 10 * per[0], "continuum residual %s without the preconditioner converged as fast (%s vs %s)" % (dyn, none, per[0]))

    bdf = ["-ts_type", "bdf", "-ts_rtol", "1e-9", "-ts_atol", "1e-9", "-bbd_tfinal", "0.2", "-bbd_output_dt", "0.1"]
    run([f] + base + bdf + ["-bbd_output", "bs.h5"])
    run([f] + base + bdf + ["-bbd_formulation", "residual", "-bbd_output", "br.h5"])
    d = rel("br.h5", "bs.h5")
    check(d < 1e-5, "continuum residual with adaptive bdf: differs from the sweep formulation by %.2e" % d)

    for bad, what in ((["-pc_type", "lu"], "-pc_type lu"),):
        p = run([f] + base + ["-bbd_formulation", "residual", "-bbd_tfinal", "0.01", "-bbd_output", "bad.h5"] + bad, expect_ok=False)
        check(p.returncode != 0 and what in p.stdout + p.stderr and not os.path.exists("bad.h5"),
              "continuum residual: %s is not refused by name" % what)

    # (6)
    fd = ["-bbd_quiet", "-bbd_mode", "continuum", "-bbd_formulation", "residual", "-ts_type", "beuler", "-ts_dt", "0.01",
          "-ts_adapt_type", "none"]
    for ny in (8, 16):
        for per in ("1", "0"):
            for dyn in ("flow", "damped"):
                for loss in ("mse", "ce"):
                    o = fd + ["-da_grid_x", "9", "-da_grid_y", str(ny), "-bbd_periodic", per, "-bbd_dynamics", dyn, "-bbd_loss", loss,
                              "-bbd_tfinal", "0.01", "-bbd_output_dt", "0.01", "-snes_fd_color", "-bbd_output", "t.h5"]
                    lays = [(1, []), (2, [])] + ([(2, ["-da_processors_x", "2", "-da_processors_y", "1"])] if ny == 16 and loss == "ce" else [])
                    for p, lay in lays:
                        out = run([f] + o + lay + ["-snes_test_jacobian"], nproc=p).stdout
                        r = [float(l.split("=")[1].split(",")[0]) for l in out.splitlines() if "||J - Jfd||_F/||J||_F =" in l]
                        what = "9 x %d, periodic %s, %s, %s, %d ranks %s" % (ny, per, dyn, loss, p, " ".join(lay))
                        check(len(r) >= 2, "continuum -snes_fd_color -snes_test_jacobian printed %d comparisons (%s)" % (len(r), what))
                        check(r and max(r) < 1e-10, "continuum -snes_fd_color: ||J - Jfd||/||J|| = %s against the dense difference (%s)" % (r, what))
    lu = ["-pc_type", "lu", "-pc_factor_mat_solver_type", "mumps"]
    for dyn in ("flow", "damped"):
        for per in ("1", "0"):
            o = fd[1:] + tight + ["-da_grid_x", "9", "-da_grid_y", "16", "-bbd_periodic", per, "-bbd_dynamics", dyn, "-bbd_loss", "ce",
                                  "-bbd_tfinal", "0.03", "-bbd_output_dt", "0.01"]
            run([f] + o + ["-bbd_output", "mf.h5"])
            for p in (1, 2):
                what = "%s, periodic %s, %d ranks" % (dyn, per, p)
                n, k = solver_line(run([f] + o + lu + ["-snes_fd_color", "-bbd_output", "fc.h5"], nproc=p).stdout)
                check(k == n, "continuum -snes_fd_color -pc_type lu: %d Krylov iterations for %d Newton steps (%s)" % (k, n, what))
                d = rel("fc.h5", "mf.h5")
                check(d < 1e-8, "continuum -snes_fd_color: differs from the matrix-free run by %.2e of the change of z (%s)" % (d, what))
        o = fd[1:] + tight + lu + ["-da_grid_x", "9", "-da_grid_y", "8", "-bbd_dynamics", dyn, "-bbd_loss", "ce", "-bbd_tfinal", "0.02",
                                   "-bbd_output_dt", "0.01"]
        run([f] + o + ["-snes_fd_color", "-bbd_output", "c.h5"])
        for p, lay in ((1, []), (2, []), (2, ["-da_processors_x", "2", "-da_processors_y", "1"])):
            what = "%s, %d ranks %s" % (dyn, p, " ".join(lay))
            n, k = solver_line(run([f] + o + lay + ["-snes_fd", "-bbd_output", "d.h5"], nproc=p).stdout)
            check(k == n, "continuum -snes_fd -pc_type lu: %d Krylov iterations for %d Newton steps (%s)" % (k, n, what))
            for q in ("z", "a", "loss"):
                ref, got = traj("c.h5", q), traj("d.h5", q)
                err = np.abs(got - ref).max() / np.abs(ref).max()
                check(err < 1e-9, "continuum -snes_fd against -snes_fd_color: /trajectory/%s differs by %.2e (%s)" % (q, err, what))
        # the dense difference with the default sweep preconditioner (PCSHELL), 2 ranks
        run([f] + [x for x in o if x not in lu] + ["-snes_fd", "-bbd_output", "ds.h5"], nproc=2)
        for q in ("z", "a", "loss"):
            ref, got = traj("c.h5", q), traj("ds.h5", q)
            err = np.abs(got - ref).max() / np.abs(ref).max()
            check(err < 1e-9, "continuum -snes_fd with the sweep preconditioner on 2 ranks: /trajectory/%s differs from -snes_fd_color by %.2e (%s)" % (q, err, dyn))

    # (8) restarts: beta is not in the file; the restart computes it from the state, and the
    # uninterrupted run does the same at every segment start, so the continuation is bitwise
    for dyn in ("flow", "damped"):
        for ts in (["-ts_type", "beuler", "-ts_dt", "0.01", "-ts_adapt_type", "none"], ["-ts_type", "bdf"]):
            o = ["-bbd_quiet", "-bbd_mode", "continuum", "-da_grid_x", "9", "-da_grid_y", "8", "-bbd_dynamics", dyn,
                 "-bbd_formulation", "residual", "-bbd_output_dt", "0.1"] + ts
            run([f] + o + ["-bbd_tfinal", "0.4", "-bbd_output", "full.h5"])
            run([f] + o + ["-bbd_tfinal", "0.2", "-bbd_output", "half.h5"])
            run([f] + o + ["-bbd_init", "half.h5", "-bbd_tfinal", "0.4", "-bbd_output", "rest.h5"])
            for q in ("time", "z", "a", "loss", "flux"):
                check(np.array_equal(traj("full.h5", q)[2:], traj("rest.h5", q)),
                      "continuum residual restart (%s, %s): /trajectory/%s differs from the uninterrupted run" % (dyn, " ".join(ts), q))

    # (7)
    def test_jacobian(o, p=1):
        out = run([f] + o + ["-bbd_jacobian", "assembled", "-snes_test_jacobian", "-bbd_output", "tj.h5"], nproc=p).stdout
        return [float(l.split("=")[1].split(",")[0]) for l in out.splitlines() if "||J - Jfd||_F/||J||_F =" in l]

    for dyn in ("flow", "damped"):
        for loss in ("mse", "ce"):
            for per in ("1", "0"):
                run([f, "-bbd_quiet", "-bbd_mode", "continuum", "-da_grid_x", "9", "-da_grid_y", "8", "-bbd_dynamics", dyn, "-bbd_loss", loss,
                     "-bbd_periodic", per, "-bbd_tfinal", "1", "-bbd_output_dt", "1", "-bbd_output", "m%s.h5" % per])
            for ny in (8, 16):
                for per in ("1", "0"):
                    o = fd + ["-da_grid_x", "9", "-da_grid_y", str(ny), "-bbd_periodic", per, "-bbd_dynamics", dyn, "-bbd_loss", loss,
                              "-bbd_init", "m%s.h5" % per, "-bbd_tfinal", "1.01", "-bbd_output_dt", "0.01"]
                    lays = [(1, [])] + ([(2, []), (2, ["-da_processors_x", "2", "-da_processors_y", "1"])] if ny == 16 else [])
                    for p, lay in lays:
                        r = test_jacobian(o + lay, p)
                        what = "%s, %s, 9 x %d, periodic %s, %d ranks %s" % (dyn, loss, ny, per, p, " ".join(lay))
                        check(len(r) >= 2 and max(r) < 1e-8, "continuum -bbd_jacobian assembled: ||J - Jfd||/||J|| = %s (%s)" % (r, what))
        r = test_jacobian(fd + ["-da_grid_x", "9", "-da_grid_y", "8", "-bbd_dynamics", dyn, "-bbd_sample_dt", "0.005", "-bbd_tfinal", "0.02",
                                "-bbd_output_dt", "0.01"])
        check(len(r) >= 4 and max(r) < 1e-8, "continuum -bbd_jacobian assembled with sample switching: ||J - Jfd||/||J|| = %s (%s)" % (r, dyn))
        o = fd[1:] + tight + ["-da_grid_x", "17", "-da_grid_y", "16", "-bbd_dynamics", dyn, "-bbd_loss", "ce", "-bbd_tfinal", "0.03",
                              "-bbd_output_dt", "0.01"]
        nm, km = solver_line(run([f] + o + ["-bbd_output", "mf.h5"]).stdout)
        for p in (1, 2):
            n, k = solver_line(run([f] + o + lu + ["-bbd_jacobian", "assembled", "-bbd_output", "as.h5"], nproc=p).stdout)
            check(k == n, "continuum -bbd_jacobian assembled -pc_type lu: %d Krylov iterations for %d Newton steps (%s, %d ranks)" % (k, n, dyn, p))
            d = rel("as.h5", "mf.h5")
            check(d < 1e-8, "continuum -bbd_jacobian assembled: differs from the matrix-free run by %.2e of the change of z (%s, %d ranks)" % (d, dyn, p))
        n, k = solver_line(run([f] + o + ["-bbd_jacobian", "assembled", "-bbd_output", "as.h5"]).stdout)
        check(n <= nm and k / n <= km / nm, "continuum -bbd_jacobian assembled with the sweep preconditioner: %d Newton, %d Krylov; matrix-free %d, %d (%s)" % (n, k, nm, km, dyn))


def case_field_continuum_switch(b):
    """Sample switching in continuum mode (docs/theory.md section 14, "Sample switching in continuum
    mode"): b is carried as a field, and at a switch z jumps to the forward map of the new sample
    (damped: z_dot to its tangent pass) with a, b (and their velocities) continuous.
    (1) Flow: self-convergence at second order over grids (n+1) x n, n = 8..64, with switches every
    0.1 up to t = 0.35 (injection onto the coarse points; errors falling, last order in [1.6, 2.4]);
    at every saved time z(0, y) is the sample in use, and the samples visited are the lattice's.
    (2) Lattice networks with the same built-in fields and switches (M = N = 16, 32, 64) approach the
    finest continuum solution at first order (their depth stencil): the change of z over the run,
    last order in [0.7, 1.3], errors falling; flow and damped.
    (3) 1, 2 (depth split, -da_processors_x 2) and 3 ranks agree to 1e-12, flow and damped.
    (4) The residual form with switches solves the same equations as the sweep formulation
    (backward Euler, Newton tolerance 1e-12: 1e-8 of the change of z), flow and damped.
    (5) Carrying b without a switch changes nothing: fixed-step RK4 with -bbd_sample_dt beyond
    tfinal is bitwise the run without switching.
    (6) A run restarted from its own result (which stores /state/b) continues bitwise through
    later switches; a continuum result without /state/b cannot switch, and says so."""
    f = field_bin(b)
    sw = ["-bbd_quiet", "-bbd_mode", "continuum", "-bbd_sample_dt", "0.1", "-bbd_tfinal", "0.35", "-bbd_output_dt", "0.35"]
    Z = {}
    for n in (8, 16, 32, 64):
        run([f] + sw + ["-da_grid_x", str(n + 1), "-da_grid_y", str(n), "-bbd_output", "c%d.h5" % n])
        Z[n] = traj("c%d.h5" % n, "z")
    err = [np.linalg.norm(Z[2 * n][-1][::2, ::2] - Z[n][-1]) / np.linalg.norm(Z[2 * n][-1]) for n in (8, 16, 32)]
    order = np.log2(np.array(err[:-1]) / np.array(err[1:]))
    check(all(np.diff(err) < 0) and 1.6 <= order[-1] <= 2.4, "continuum switching: self-convergence errors %s, orders %s (expected 2)" % (err, order))
    run([f] + sw[:-4] + ["-bbd_tfinal", "0.35", "-bbd_output_dt", "0.05", "-da_grid_x", "17", "-da_grid_y", "16", "-bbd_output", "cs.h5"])
    with h5py.File("cs.h5", "r") as g:
        smp, X, z = g["trajectory/sample"][()], g["data/X"][()], g["trajectory/z"][()]
        check(len(set(smp.tolist())) == 4, "continuum switching: samples visited %s (expected 4 by t = 0.35)" % smp)
        d = max(np.abs(z[t, 0] - X[smp[t]]).max() for t in range(len(smp)))
        check(d == 0, "continuum switching: z(0, y) is not the sample in use (%.2e)" % d)
    for dyn in ("flow", "damped"):
        if dyn == "damped":
            run([f] + sw + ["-bbd_dynamics", dyn, "-da_grid_x", "65", "-da_grid_y", "64", "-bbd_output", "d64.h5"])
        ref = traj("c64.h5" if dyn == "flow" else "d64.h5", "z")
        e = []
        for M in (16, 32, 64):
            run([b, "-bbd_quiet", "-bbd_family", "field", "-bbd_dynamics", dyn, "-bbd_depth", str(M), "-bbd_width", str(M),
                 "-bbd_sample_dt", "0.1", "-bbd_tfinal", "0.35", "-bbd_output_dt", "0.35", "-bbd_output", "l%s%d.h5" % (dyn, M)])
            L, s = traj("l%s%d.h5" % (dyn, M), "z"), 64 // M
            dc = (ref[-1] - ref[0])[::s, ::s]
            e.append(np.linalg.norm((L[-1] - L[0]) - dc) / np.linalg.norm(dc))
            check(np.array_equal(traj("l%s%d.h5" % (dyn, M), "sample"), traj("c64.h5", "sample")),
                  "continuum switching: the continuum run and the lattice (M = %d) use different samples" % M)
        o = np.log2(e[1] / e[2])
        check(e[0] > e[1] > e[2] and 0.7 <= o <= 1.3, "continuum switching, %s: lattice against continuum %s, order %.2f (expected 1)" % (dyn, e, o))
        grid = ["-bbd_quiet", "-bbd_mode", "continuum", "-bbd_dynamics", dyn, "-da_grid_x", "17", "-da_grid_y", "16",
                "-bbd_sample_dt", "0.05", "-bbd_tfinal", "0.2", "-bbd_output_dt", "0.1"]
        run([f] + grid + ["-bbd_output", "r1%s.h5" % dyn])
        run([f] + grid + ["-da_processors_x", "2", "-bbd_output", "r2%s.h5" % dyn], nproc=2)
        run([f] + grid + ["-bbd_output", "r3%s.h5" % dyn], nproc=3)
        for r in ("r2", "r3"):
            d = np.abs(traj("%s%s.h5" % (r, dyn), "z") - traj("r1%s.h5" % dyn, "z")).max()
            check(d < 1e-12, "continuum switching, %s: %s ranks differ by %.2e" % (dyn, r, d))
        be = ["-ts_type", "beuler", "-ts_dt", "0.01", "-ts_adapt_type", "none"]
        run([f] + grid + be + ["-bbd_output", "bs%s.h5" % dyn])
        run([f] + grid + be + ["-bbd_formulation", "residual", "-snes_rtol", "1e-12", "-snes_atol", "1e-13", "-ksp_rtol", "1e-12",
                               "-bbd_output", "br%s.h5" % dyn])
        zs, zr = traj("bs%s.h5" % dyn, "z"), traj("br%s.h5" % dyn, "z")
        d = np.abs(zs - zr).max() / np.abs(zs[-1] - zs[0]).max()
        check(d < 1e-8, "continuum switching, %s: residual form differs from the sweep formulation by %.2e" % (dyn, d))
        rk = ["-bbd_quiet", "-bbd_mode", "continuum", "-bbd_dynamics", dyn, "-da_grid_x", "17", "-da_grid_y", "16", "-bbd_tfinal", "0.1",
              "-bbd_output_dt", "0.05", "-ts_type", "rk", "-ts_rk_type", "4", "-ts_adapt_type", "none", "-ts_dt", "0.01"]
        run([f] + rk + ["-bbd_output", "nb.h5"])
        run([f] + rk + ["-bbd_sample_dt", "5", "-bbd_output", "wb.h5"])
        check(np.array_equal(traj("nb.h5", "z"), traj("wb.h5", "z")), "continuum, %s: carrying b without a switch changed z" % dyn)
        R = ["-bbd_quiet", "-bbd_mode", "continuum", "-bbd_dynamics", dyn, "-da_grid_x", "17", "-da_grid_y", "16", "-bbd_sample_dt", "0.05",
             "-bbd_output_dt", "0.1"]
        run([f] + R + ["-bbd_tfinal", "0.4", "-bbd_output", "full.h5"])
        run([f] + R + ["-bbd_tfinal", "0.2", "-bbd_output", "half.h5"])
        run([f, "-bbd_quiet", "-bbd_mode", "continuum", "-bbd_dynamics", dyn, "-bbd_sample_dt", "0.05", "-bbd_init", "half.h5",
             "-bbd_tfinal", "0.4", "-bbd_output", "rest.h5"])
        for q in ("z", "a", "sample"):
            check(np.array_equal(traj("full.h5", q)[2:], traj("rest.h5", q)), "continuum switching, %s: restart differs in %s" % (dyn, q))
    run([f, "-bbd_quiet", "-bbd_mode", "continuum", "-da_grid_x", "17", "-da_grid_y", "16", "-bbd_tfinal", "0.1", "-bbd_output", "nob.h5"])
    p = run([f, "-bbd_quiet", "-bbd_mode", "continuum", "-bbd_init", "nob.h5", "-bbd_sample_dt", "0.05", "-bbd_tfinal", "0.2",
             "-bbd_output", "bad.h5"], expect_ok=False)
    check(p.returncode != 0 and "/state/b" in p.stdout + p.stderr and not os.path.exists("bad.h5"),
          "continuum switching from a result without /state/b is not refused by name")


def case_field_continuum_init(b):
    """Continuum mode from -bbd_init (docs/theory.md section 15).
    (1) From a high-resolution lattice state of the built-in fields (M = 60 layers at x_m = m/60,
    width 50) onto the 17 x 16 grid: in width the fields are trigonometric of degree 1 and the
    samples Fourier series below Nyquist, so the spectral interpolation is exact (rounding); in
    depth cubic interpolation errs by |f4| h^4 |(u+1)u(u-1)(u-2)|/24 <= |f4| h^4 (9/16)/24
    inside and by |f4| h^4 (4!/4!) = |f4| h^4 when extrapolated one spacing to x = 1 (h = 1/60,
    f4 the fourth x-derivative). The largest f4 of the built-in fields are 0.2 pi^4 (a_0),
    0.1 (2 pi)^4 (a_1, b), 0 (a_2), so every a_j agrees with the built-in start to
    tol_a = 1.1 * 0.1 (2 pi)^4 h^4 = 1.3e-5 (1.1: rounding and the variation of f4 over the stencil).
    z comes from the forward map d_x z = sum_j a_j D_j sigma(z) + b, Lipschitz in z with a
    constant L <= max a_0 max sigma' + max|a_1| (max|D_1 sigma'| ...) ~ 2: an error e(x) in (a, b)
    moves z by at most int_0^1 e^{L(1-x)} |e| (1 + max|D_1 sigma|) dx; with |e| <= tol_a only in
    the last cell (Heun weight h_grid/2 = 1/32) and <= tol_a (9/16)/24 elsewhere,
    tol_z = e^2 (1 + 2 pi) tol_a (1/32 + 9/384) = 4e-5 (max|D_1 sigma| <= max|d_y z| <= 2 pi).
    (2) A continuum run to T and a run to T/2 restarted from its own file to T agree bitwise
    (the state is read as saved; every saved segment starts from the same initial step); the
    restart on 2 ranks agrees to 1e-12 (the adaptive step uses global norms).
    (3) A continuum result onto a finer grid (17 x 16 -> 33 x 32): the common points (x_k = k/16,
    y_i = i/16) keep z and a_j bit for bit (injection), the run continues from the file's time,
    and the result is itself a valid -bbd_init (restarts exactly).
    (4) Bad input: a dense state, a truncated file, a file without /state/a, a continuum result
    given to bbd-net and to lattice mode, attributes nx contradicting depth, options contradicting
    the file: errors naming the problem, no output left behind."""
    f = field_bin(b)
    cont = ["-bbd_quiet", "-bbd_mode", "continuum"]
    run([b, "-bbd_quiet", "-bbd_depth", "60", "-bbd_width", "50", "-bbd_tfinal", "0", "-bbd_output", "lat.h5"])
    run([f] + cont + ["-bbd_init", "lat.h5", "-da_grid_x", "17", "-da_grid_y", "16", "-bbd_tfinal", "0", "-bbd_output", "fromlat.h5"])
    run([f] + cont + ["-da_grid_x", "17", "-da_grid_y", "16", "-bbd_tfinal", "0", "-bbd_output", "builtin.h5"])
    h = 1 / 60
    tol_a = 1.1 * 0.1 * (2 * np.pi) ** 4 * h ** 4
    tol_z = np.e ** 2 * (1 + 2 * np.pi) * tol_a * (1 / 32 + 9 / 384)
    da = np.abs(traj("fromlat.h5", "a")[0] - traj("builtin.h5", "a")[0]).max()
    dz = np.abs(traj("fromlat.h5", "z")[0] - traj("builtin.h5", "z")[0]).max()
    check(da <= tol_a, "continuum from a lattice state: a differs from the built-in start by %.2e > %.2e" % (da, tol_a))
    check(dz <= tol_z, "continuum from a lattice state: z differs from the built-in start by %.2e > %.2e" % (dz, tol_z))
    with h5py.File("fromlat.h5", "r") as g, h5py.File("builtin.h5", "r") as r:
        dx = np.abs(g["data/X"][()] - r["data/X"][()]).max()
        check(dx <= 1e-13, "continuum from a lattice state: the samples differ by %.2e (spectral interpolation is exact)" % dx)

    grid = ["-da_grid_x", "17", "-da_grid_y", "16", "-bbd_output_dt", "0.1"]
    run([f] + cont + grid + ["-bbd_tfinal", "0.4", "-bbd_output", "full.h5"])
    run([f] + cont + grid + ["-bbd_tfinal", "0.2", "-bbd_output", "half.h5"])
    run([f] + cont + ["-bbd_init", "half.h5", "-bbd_tfinal", "0.4", "-bbd_output", "rest.h5"])
    for q in ["time", "z", "a", "loss", "flux"]:
        check(np.array_equal(traj("full.h5", q)[2:], traj("rest.h5", q)),
              "continuum restart: /trajectory/%s differs from the uninterrupted run" % q)
    run([f] + cont + ["-bbd_init", "half.h5", "-bbd_tfinal", "0.4", "-bbd_output", "rest2.h5"], nproc=2)
    for q in ["z", "a", "loss"]:
        d = np.abs(traj("rest2.h5", q) - traj("rest.h5", q)).max() / np.abs(traj("rest.h5", q)).max()
        check(d < 1e-12, "continuum restart on 2 ranks: %s differs by %.2e" % (q, d))

    run([f] + cont + ["-bbd_init", "half.h5", "-da_grid_x", "33", "-da_grid_y", "32", "-bbd_tfinal", "0.3",
                      "-bbd_output", "fine.h5"])
    with h5py.File("half.h5", "r") as c, h5py.File("fine.h5", "r") as g:
        check(np.allclose(g["trajectory/time"][()], [0.2, 0.3], rtol=0, atol=1e-12), "continuum onto a finer grid: saved times %s" % g["trajectory/time"][()])
        check(np.array_equal(g["trajectory/z"][0][::2, ::2], c["state/z"][()]), "continuum onto a finer grid: z changed at common points")
        check(np.array_equal(g["trajectory/a"][0][:, ::2, ::2], c["state/a"][()]), "continuum onto a finer grid: a changed at common points")
        check(g.attrs["nx"] == 33 and g.attrs["depth"] == 32 and list(g.attrs["widths"]) == [32] * 33, "continuum result: definition attributes")
        check(np.isfinite(g["trajectory/loss"][()]).all() and g["trajectory/loss"][-1] < g["trajectory/loss"][0], "continuum onto a finer grid: the loss does not fall")
    run([f] + cont + ["-bbd_init", "fine.h5", "-bbd_tfinal", "0.4", "-bbd_output", "fine2.h5"])
    check(np.array_equal(traj("fine2.h5", "z")[0], traj("fine.h5", "z")[-1]), "continuum: the finer result does not restart exactly")

    run([b, "-bbd_quiet", "-bbd_family", "dense", "-bbd_widths", "8,8,8", "-bbd_tfinal", "0", "-bbd_output", "dense.h5"])
    with open("half.h5", "rb") as src, open("trunc.h5", "wb") as dst:
        data = src.read()
        dst.write(data[:len(data) * 3 // 4])
    with h5py.File("half.h5", "r") as c, h5py.File("noa.h5", "w") as g, h5py.File("badnx.h5", "w") as g2:
        for k, v in c.attrs.items():
            g.attrs[k] = v
            g2.attrs[k] = v
        g2.attrs["nx"] = 9
        for dst in (g, g2):
            dst["data/X"], dst["data/Y"], dst["state/z"] = c["data/X"][()], c["data/Y"][()], c["state/z"][()]
            dst["state"].attrs["time"] = 0.2
        g2["state/a"] = c["state/a"][()]
    for prog, extra, word in [(f, cont + ["-bbd_init", "dense.h5"], "dense"),
                              (f, cont + ["-bbd_init", "trunc.h5"], "trunc.h5"),
                              (f, cont + ["-bbd_init", "noa.h5"], "/state/a"),
                              (f, cont + ["-bbd_init", "badnx.h5"], "nx = 9"),
                              (f, ["-bbd_quiet", "-bbd_init", "half.h5"], "mode = continuum"),
                              (b, ["-bbd_quiet", "-bbd_init", "half.h5"], "mode = continuum"),
                              (f, cont + ["-bbd_init", "half.h5", "-bbd_kappa", "1,0.2,0"], "-bbd_kappa"),
                              (f, cont + ["-bbd_init", "lat.h5", "-bbd_periodic", "0"], "-bbd_periodic")]:
        p = run([prog] + extra + ["-bbd_tfinal", "0.5", "-bbd_output", "out.h5"], expect_ok=False)
        text = p.stdout + p.stderr
        check(p.returncode > 0 and word in text, "%s: exit %d, message does not name %r:\n%s" % (extra, p.returncode, word, text[:1500]))
        check(not os.path.exists("out.h5"), "%s: left output behind" % extra)


def case_field_continuum_damped(b):
    """Continuum mode with damped dynamics (docs/theory.md section 14, "Continuum damped").
    (1) Self-convergence at second order in the grid spacing like field-continuum (grids (n+1) x n,
    n = 8..64, injection), for z and for its velocity z_dot; errors fall monotonically.
    (2) The lattice damped solver (N = M, the same built-in fields, at rest) approaches the continuum
    one at first order in 1/M (its stencils are first-order in depth): the change of z over the run,
    lattice minus continuum on the same points, relative to the continuum change, for M = 16, 32, 64;
    observed order of the last refinement in [0.7, 1.3], errors falling.
    (3) The same fields on 1, 2 and 3 ranks to 1e-12.
    (4) A run to T and a run to T/2 restarted from its own file (/state/z_dot, /state/a_dot) agree
    bitwise; on 2 ranks to 1e-12.
    (5) The diagnostics: J(1) = -eta dl/dt holds for damped as for flow (J = int beta z_t dy, z_t = v)
    against a centred time difference of the loss (dt = 0.005: the difference errs by dt^2 |l_ttt|/6,
    below 1e-3 relative); d_x J = 2 D with D = int (beta b_t + sum_j a_j_t beta D_j s)/2 dy holds to
    second order, as in flow; J = 0 at rest.
    (6) -bbd_init: a flow continuum result and a flow lattice state start at rest (velocities zero);
    a damped lattice state keeps a_dot at its layers (rounding) and gives z_dot by the continuum
    tangent pass, first order from the lattice's own z_dot (M = 16, 32, 64, order in [0.7, 1.3]);
    a lattice state with a_dot but no b_dot is refused with a message naming /state/b_dot."""
    f = field_bin(b)
    base = ["-bbd_quiet", "-bbd_mode", "continuum", "-bbd_dynamics", "damped", "-bbd_tfinal", "0.5", "-bbd_output_dt", "0.25"]
    Z, V = {}, {}
    for n in (8, 16, 32, 64):
        run([f] + base + ["-da_grid_x", str(n + 1), "-da_grid_y", str(n), "-bbd_output", "c%d.h5" % n])
        Z[n], V[n] = traj("c%d.h5" % n, "z")[-1], traj("c%d.h5" % n, "z_dot")[-1]
    for name, F in (("z", Z), ("z_dot", V)):
        err = [np.linalg.norm(F[2 * n][::2, ::2] - F[n]) / np.linalg.norm(F[2 * n]) for n in (8, 16, 32)]
        order = np.log2(np.array(err[:-1]) / np.array(err[1:]))
        check(all(np.diff(err) < 0), "continuum damped: self-convergence errors of %s do not fall: %s" % (name, err))
        check(1.6 <= order[-1] <= 2.4, "continuum damped: %s observed orders %s (errors %s), expected 2" % (name, order, err))
    e = []
    for M in (16, 32, 64):
        run([f, "-bbd_quiet", "-bbd_depth", str(M), "-bbd_width", str(M), "-bbd_dynamics", "damped", "-bbd_tfinal", "0.5",
             "-bbd_output_dt", "0.25", "-bbd_output", "l%d.h5" % M])
        zl, zc = traj("l%d.h5" % M, "z"), traj("c%d.h5" % M, "z")
        dl, dc = zl[-1] - zl[0], zc[-1] - zc[0]
        e.append(np.abs(dl - dc).max() / np.abs(dc).max())
    lorder = np.log2(e[-2] / e[-1])
    check(all(np.diff(e) < 0) and 0.7 <= lorder <= 1.3, "continuum damped vs lattice damped (N = M): differences %s (order %.2f), expected first order" % (e, lorder))
    for p in (2, 3):
        run([f] + base + ["-da_grid_x", "33", "-da_grid_y", "32", "-bbd_output", "cp%d.h5" % p], nproc=p)
        for q in ("z", "a", "z_dot", "a_dot", "flux", "dissipation_density", "loss"):
            d = np.abs(traj("cp%d.h5" % p, q) - traj("c32.h5", q)).max() / np.abs(traj("c32.h5", q)).max()
            check(d < 1e-12, "continuum damped on %d ranks: %s differs from 1 rank by %.2e" % (p, q, d))
    cont = ["-bbd_quiet", "-bbd_mode", "continuum", "-bbd_dynamics", "damped"]
    grid = ["-da_grid_x", "17", "-da_grid_y", "16", "-bbd_output_dt", "0.1"]
    run([f] + cont + grid + ["-bbd_tfinal", "0.4", "-bbd_output", "full.h5"])
    run([f] + cont + grid + ["-bbd_tfinal", "0.2", "-bbd_output", "half.h5"])
    run([f] + cont + ["-bbd_init", "half.h5", "-bbd_tfinal", "0.4", "-bbd_output", "rest.h5"])
    for q in ["time", "z", "a", "z_dot", "a_dot", "loss", "flux", "dissipation_density"]:
        check(np.array_equal(traj("full.h5", q)[2:], traj("rest.h5", q)),
              "continuum damped restart: /trajectory/%s differs from the uninterrupted run" % q)
    with h5py.File("half.h5", "r") as g:
        check(np.array_equal(g["state/z_dot"][()], g["trajectory/z_dot"][-1]) and np.array_equal(g["state/a_dot"][()], g["trajectory/a_dot"][-1]),
              "continuum damped: /state/z_dot, /state/a_dot are not the last saved velocities")
    # the file's dynamics are the default: without -bbd_dynamics the damped run continues damped
    run([f, "-bbd_quiet", "-bbd_mode", "continuum", "-bbd_init", "half.h5", "-bbd_tfinal", "0.4", "-bbd_output", "rest3.h5"])
    check(np.array_equal(traj("rest3.h5", "z_dot"), traj("rest.h5", "z_dot")), "continuum damped restart without -bbd_dynamics is not damped")
    run([f] + cont + ["-bbd_init", "half.h5", "-bbd_tfinal", "0.4", "-bbd_output", "rest2.h5"], nproc=2)
    for q in ["z", "z_dot", "a_dot", "loss"]:
        d = np.abs(traj("rest2.h5", q) - traj("rest.h5", q)).max() / np.abs(traj("rest.h5", q)).max()
        check(d < 1e-12, "continuum damped restart on 2 ranks: %s differs by %.2e" % (q, d))
    run([f] + cont + ["-da_grid_x", "17", "-da_grid_y", "16", "-bbd_tfinal", "0.1", "-bbd_output_dt", "0.005", "-bbd_eta", "0.8",
                      "-bbd_output", "cl.h5"])
    J = check_continuum_flux("continuum damped", ["c16.h5", "c32.h5", "c64.h5"], "cl.h5", 0.8)
    check(np.abs(J[0]).max() == 0, "continuum damped: J at rest (t = 0) is not zero: %s" % J[0])
    # -bbd_init: flow results start at rest
    run([f, "-bbd_quiet", "-bbd_mode", "continuum", "-da_grid_x", "17", "-da_grid_y", "16", "-bbd_tfinal", "0.2",
         "-bbd_output", "flowc.h5"])
    run([b, "-bbd_quiet", "-bbd_depth", "8", "-bbd_width", "16", "-bbd_tfinal", "0.1", "-bbd_output", "flowl.h5"])
    for src in ("flowc.h5", "flowl.h5"):
        run([f] + cont + ["-bbd_init", src, "-da_grid_x", "17", "-da_grid_y", "16", "-bbd_tfinal", "0.3", "-bbd_output", "r.h5"])
        with h5py.File("r.h5", "r") as g:
            check(np.abs(g["trajectory/z_dot"][0]).max() == 0 and np.abs(g["trajectory/a_dot"][0]).max() == 0,
                  "continuum damped from the flow state %s: not at rest" % src)
            check(g["trajectory/loss"][-1] < g["trajectory/loss"][0], "continuum damped from %s: the loss does not fall" % src)
    # a damped lattice state (bbd-field lattice, N = M, t = 0.2) onto its own lattice points: a_dot at the
    # layers x_m = m/M is kept (cubic interpolation at its nodes: rounding), z_dot is the continuum tangent
    # pass of the interpolated (a, b, a_dot, b_dot), which approaches the lattice's /state/z_dot at first order
    e = []
    for M in (16, 32, 64):
        run([f, "-bbd_quiet", "-bbd_depth", str(M), "-bbd_width", str(M), "-bbd_dynamics", "damped", "-bbd_tfinal", "0.2",
             "-bbd_output", "ld%d.h5" % M])
        run([f] + cont + ["-bbd_init", "ld%d.h5" % M, "-bbd_tfinal", "0.2", "-bbd_output", "cd%d.h5" % M])
        with h5py.File("ld%d.h5" % M, "r") as l, h5py.File("cd%d.h5" % M, "r") as c:
            al, ac = l["state/a_dot"][()], c["trajectory/a_dot"][0][:, :M, :]
            check(np.abs(ac - al).max() <= 1e-12 * np.abs(al).max(), "continuum damped from a lattice state: a_dot changed at the layers by %.2e" % np.abs(ac - al).max())
            e.append(np.abs(l["state/z_dot"][()] - c["trajectory/z_dot"][0]).max() / np.abs(l["state/z_dot"][()]).max())
    lorder = np.log2(e[-2] / e[-1])
    check(all(np.diff(e) < 0) and 0.7 <= lorder <= 1.3, "continuum damped from a damped lattice state: z_dot against the lattice's %s (order %.2f), expected first order" % (e, lorder))
    with h5py.File("ld16.h5", "r") as l, h5py.File("nobdot.h5", "w") as g:
        for k, v in l.attrs.items():
            g.attrs[k] = v
        for q in ("data/X", "data/Y", "state/a", "state/b", "state/a_dot"):
            g[q] = l[q][()]
        g["state"].attrs["time"] = l["state"].attrs["time"]
    p = run([f] + cont + ["-bbd_init", "nobdot.h5", "-bbd_tfinal", "0.3", "-bbd_output", "out.h5"], expect_ok=False)
    text = p.stdout + p.stderr
    check(p.returncode > 0 and "/state/b_dot" in text, "continuum damped from a lattice state without /state/b_dot: exit %d, message:\n%s" % (p.returncode, text[:1500]))
    check(not os.path.exists("out.h5"), "continuum damped from a lattice state without /state/b_dot: left output behind")


def case_compare_init(b):
    """bbd-compare -bbd_init with a field-family state. A lattice state of another resolution (the built-in
    fields on 48 x 40, data included): every network starts from the file's fields on its lattice,
    written to FILE.d/init-N*.h5 (spectral in width: exact here, so a_2, which does not depend on
    x, is the built-in a_2 on each lattice to rounding; cubic in depth), the continuum from the
    file itself; the distances fall monotonically with observed orders in [0.8, 2.5] and agree
    with the built-in comparison's to 1e-3 relative (the depth interpolation error of the fields,
    <= 0.1 (2 pi)^4 / 48^4 = 3e-5, is far below the distances, 1e-2 and more). A continuum
    result (33 x 48, 65 x 48): the same monotone fall and orders, and b recovered from z."""
    run([b, "-bbd_quiet", "-bbd_depth", "48", "-bbd_width", "40", "-bbd_tfinal", "0", "-bbd_output", "src.h5"])
    common = ["-bbd_resolutions", "8,16,32", "-bbd_tfinal", "0.5", "-bbd_plot", "0"]
    run([compare_bin(b), "-bbd_init", "src.h5", "-bbd_output", "ci.h5"] + common)
    run([compare_bin(b), "-bbd_output", "cb.h5"] + common)
    with h5py.File("ci.h5", "r") as f, h5py.File("cb.h5", "r") as g:
        ez, order, ezb = f["convergence/error_z"][()], f["convergence/order"][()], g["convergence/error_z"][()]
    check(all(np.diff(ez) < 0), "compare -bbd_init: distances of Z do not fall: %s" % ez)
    check(all(0.8 <= o <= 2.5 for o in order), "compare -bbd_init: observed orders %s outside [0.8, 2.5]" % order)
    check(np.allclose(ez, ezb, rtol=1e-3), "compare -bbd_init: distances %s differ from the built-in start's %s" % (ez, ezb))
    for N in (8, 16, 32):
        path = "ci.h5.d/init-N%d.h5" % N
        check(os.path.exists(path), "compare -bbd_init: %s missing" % path)
        if not os.path.exists(path):
            continue
        with h5py.File(path, "r") as f:
            check(f["state/a"].shape == (3, N, N) and f["data/X"].shape[1] == N, "compare -bbd_init: %s has shapes %s" % (path, f["state/a"].shape))
            y = np.arange(N) / N
            a2 = 0.005 * (1 + 0.5 * np.cos(2 * np.pi * y))
            check(np.abs(f["state/a"][2] - a2).max() < 1e-15, "compare -bbd_init: %s: a_2 is not the source's on the lattice" % path)
    # a continuum result as the source: b is recovered from z (b = d_x z - sum_j a_j D_j sigma(z),
    # fourth-order differences in depth); z came from Heun's method (second order), so the
    # recovered b on the lattice approaches the built-in b at least at second order in the
    # source's depth spacing (sources 33 x 48 and 65 x 48)
    f = field_bin(b)
    berr = []
    for n in (33, 65):
        run([f, "-bbd_quiet", "-bbd_mode", "continuum", "-da_grid_x", str(n), "-da_grid_y", "48", "-bbd_tfinal", "0",
             "-bbd_output", "cs%d.h5" % n])
        run([compare_bin(b), "-bbd_init", "cs%d.h5" % n, "-bbd_output", "cc%d.h5" % n] + common)
        with h5py.File("cc%d.h5" % n, "r") as g:
            ez, order = g["convergence/error_z"][()], g["convergence/order"][()]
        check(all(np.diff(ez) < 0), "compare -bbd_init continuum %d: distances of Z do not fall: %s" % (n, ez))
        check(all(0.8 <= o <= 2.5 for o in order), "compare -bbd_init continuum %d: observed orders %s outside [0.8, 2.5]" % (n, order))
        with h5py.File("cc%d.h5.d/init-N16.h5" % n, "r") as g:
            x = np.arange(16) / 16
            berr.append(np.abs(g["state/b"][()] - 0.1 * np.cos(2 * np.pi * (x[:, None] - x[None, :]))).max())
    check(np.log2(berr[0] / berr[1]) >= 1.8, "compare -bbd_init continuum: b recovered from z converges at order %.2f (errors %s), expected >= 2" % (np.log2(berr[0] / berr[1]), berr))
    p = run([compare_bin(b), "-bbd_init", "nothere.h5", "-bbd_output", "x.h5"], expect_ok=False)
    check(p.returncode > 0 and "nothere.h5" in p.stdout + p.stderr, "compare -bbd_init of a missing file: no clear error")


def compare_bin(b):
    return os.path.join(os.path.dirname(b), "bbd-compare")


def case_compare(b):
    """bbd-compare on its built-in case: the distances of the lattice networks to the continuum fall
    monotonically and the observed order lies in [0.8, 2.5]; the numbers in compare.h5 are the ones
    printed in the table; the figures are drawn; a missing plotting tool leaves a complete result and
    a note; two ranks give the same numbers."""
    p = run([compare_bin(b)])
    with h5py.File("compare.h5", "r") as f:
        c = f["convergence"]
        N, ez, el, order = c["N"][()], c["error_z"][()], c["error_loss"][()], c["order"][()]
        ea = c["error_a"][()]
    check(list(N) == [8, 16, 32, 64], "compare: N = %s" % N)
    check(all(np.diff(ez) < 0), "compare: distances of Z do not fall: %s" % ez)
    check(all(0.8 <= o <= 2.5 for o in order), "compare: observed orders %s outside [0.8, 2.5]" % order)
    rows = [l.split() for l in p.stdout.splitlines() if l.split() and l.split()[0] in ("8", "16", "32", "64")]
    check(len(rows) == 8, "compare: the two tables (t = 1 and t = 0.5) have %d rows:\n%s" % (len(rows), p.stdout))
    with h5py.File("compare.h5", "r") as f:
        c = f["convergence"]
        times, ezt, ezft = c["times"][()], c["error_z_at_times"][()], c["error_z_field_at_times"][()]
        eat, elt, ezf = c["error_a_at_times"][()], c["error_loss_at_times"][()], c["error_z_field"][()]
    check(list(times) == [0.5, 1.0], "compare: chosen times %s" % times)
    check(np.array_equal(ezt[:, -1], ez) and np.array_equal(ezft[:, -1], ezf) and np.array_equal(eat[:, -1], ea)
          and np.array_equal(elt[:, -1], el), "compare: the distances at tfinal differ between /convergence/*_at_times and the rest")
    for q, table in enumerate([(ez, ezf, ea, el), (ezt[:, 0], ezft[:, 0], eat[:, 0], elt[:, 0])]):
        for r, row in enumerate(rows[4 * q:4 * q + 4]):
            printed = [float(v) for v in row[2:5 + ea.shape[1]]]
            stored = [table[0][r], table[1][r]] + list(table[2][r]) + [table[3][r]]
            check(np.allclose(printed, stored, rtol=1e-4, atol=1e-300), "compare: table %d row %d printed %s, stored %s" % (q, r, printed, stored))
            if r:
                o = np.log2(table[0][r - 1] / table[0][r])
                check(abs(float(row[-1]) - o) < 1e-3, "compare: table %d printed order %s, from the file %s" % (q, row[-1], o))
                if q == 0:
                    check(abs(o - order[r - 1]) < 1e-12, "compare: /convergence/order %s, from error_z %s" % (order[r - 1], o))
    for fig in ("compare-convergence.png", "compare-fields.png", "compare-flux.png"):
        check(os.path.exists(fig) and os.path.getsize(fig) > 1000, "compare: figure %s missing" % fig)
    p = run([compare_bin(b), "-bbd_resolutions", "8,16", "-bbd_output", "np.h5", "-bbd_plot_script", "/nonexistent.py"])
    check("not drawn" in p.stdout + p.stderr and os.path.exists("np.h5"), "compare without plotting: no note or no result")
    # A reference grid that does not contain the lattices (121 x 60): the continuum is interpolated
    # onto them. That must change the distances less than the reference's own resolution does:
    # |d(121 x 60) - d(129 x 64)| < |d(129 x 64) - d(65 x 32)| (both containing grids: injection).
    e = {}
    for grid in ("121,60", "129,64", "65,32"):
        p = run([compare_bin(b), "-bbd_resolutions", "8,16", "-bbd_output", "g%s.h5" % grid, "-bbd_reference_grid", grid,
                 "-bbd_plot", "0"])
        check(("is interpolated onto it" in p.stdout) == (grid == "121,60"), "compare: note on interpolation for %s" % grid)
        with h5py.File("g%s.h5" % grid, "r") as f:
            e[grid] = np.concatenate([f["convergence/" + q][()].ravel() for q in ("error_z", "error_z_field", "error_loss")]
                                     + [f["convergence/error_a"][()][:, :2].ravel()])
    interp, resol = np.abs(e["121,60"] - e["129,64"]), np.abs(e["129,64"] - e["65,32"])
    check(np.all(interp < resol), "compare: interpolation changes the distances by %s, more than the reference resolution (%s)" % (interp, resol))
    run([compare_bin(b), "-bbd_resolutions", "8,16", "-bbd_output", "p2.h5"], nproc=2)
    with h5py.File("np.h5", "r") as f, h5py.File("p2.h5", "r") as g:
        d = np.abs(f["convergence/error_z"][()] - g["convergence/error_z"][()]).max()
        check(d < 1e-10, "compare on 2 ranks differs by %.2e" % d)


def case_compare_coarse(b):
    """Coarse-graining dense networks: random weights leave a locality remainder near
    sqrt((N-3)/N) and the report says the continuum description does not apply; a banded network
    built from smooth moments (W = sum_j a_j S_j) has remainder 0, the report says it applies, and
    the moments come back to rounding."""
    N, M, dy = 16, 4, 1.0 / 16
    run([b, "-bbd_quiet", "-bbd_family", "dense", "-bbd_widths", ",".join([str(N)] * (M + 1)), "-bbd_tfinal", "0",
         "-bbd_output", "rand.h5"])
    p = run([compare_bin(b), "-bbd_init", "rand.h5", "-bbd_output", "cr.h5"])
    with h5py.File("cr.h5", "r") as f:
        R = f["coarse"].attrs["remainder_total"]
    check(abs(R - np.sqrt((N - 3) / N)) < 0.1, "coarse: random remainder %.3f, expected about %.3f" % (R, np.sqrt((N - 3) / N)))
    check("does not apply" in p.stdout, "coarse: the report on random weights does not say the description fails")
    y = np.arange(N) / N
    with h5py.File("rand.h5", "r") as f, h5py.File("band.h5", "w") as g:
        for k, v in f.attrs.items():
            g.attrs[k] = v
        g["data/X"], g["data/Y"] = f["data/X"][()], f["data/Y"][()]
        A = []
        for m in range(M):
            a0 = 0.8 + 0.2 * np.cos(2 * np.pi * y)
            a1 = 0.1 * np.sin(2 * np.pi * (y + m / M))
            a2 = 0.005 * (1 + 0.5 * np.cos(2 * np.pi * y))
            W = np.zeros((N, N))
            for i in range(N):
                W[i, i] += a0[i] - 2 * a2[i] / dy ** 2
                W[i, (i + 1) % N] += a1[i] / (2 * dy) + a2[i] / dy ** 2
                W[i, (i - 1) % N] += -a1[i] / (2 * dy) + a2[i] / dy ** 2
            g["state/layer_%d/W" % m], g["state/layer_%d/b" % m] = W, np.zeros(N)
            A.append(np.array([a0, a1, a2]))
        g["state"].attrs["time"] = 0.0
    p = run([compare_bin(b), "-bbd_init", "band.h5", "-bbd_output", "cb.h5"])
    with h5py.File("cb.h5", "r") as f:
        R, a = f["coarse"].attrs["remainder_total"], f["coarse/a"][()]
    check(R < 1e-12, "coarse: banded remainder %.3e, expected 0" % R)
    check("applies" in p.stdout and "does not" not in p.stdout, "coarse: the report on a banded network is wrong")
    err = max(np.abs(a[:, m] - A[m]).max() for m in range(M))
    check(err < 1e-12, "coarse: moments of the banded network come back with error %.2e" % err)


def case_meshes(b, src):
    """Every standard grid in meshes/ runs (a short integration) and gives the grid it names."""
    import glob
    files = sorted(glob.glob(os.path.join(src, "meshes", "*.opts")))
    check(len(files) >= 4, "meshes: only %d options files" % len(files))
    for path in files:
        out = os.path.basename(path) + ".h5"
        run([field_bin(b), "-options_file", path, "-bbd_quiet", "-bbd_tfinal", "0.002", "-bbd_output_dt", "0.002",
             "-bbd_output", out])
        with h5py.File(out, "r") as f:
            shape = f["trajectory/z"].shape[1:]
        want = [int(l.split()[1]) for l in open(path) if l.startswith("-da_grid_")] or None
        if want:
            check(list(shape) == want, "meshes: %s gave a grid %s" % (path, shape))


def case_field_residual(b):
    """The implicit residual form (shared theory section 4) with the sweep as preconditioner:
    backward Euler gives the same trajectory as the sweep formulation (1e-8; 1 and 2 ranks);
    Newton-Krylov needs a few Krylov iterations per Newton step, nearly the same from 16^2 to 64^2
    (at most 5, growing by less than 1.5x); without the sweep the same solve fails or needs far more."""
    f = field_bin(b)
    step = ["-ts_type", "beuler", "-ts_dt", "0.01", "-ts_adapt_type", "none", "-bbd_tfinal", "0.05", "-bbd_output_dt", "0.05"]
    tight = ["-snes_rtol", "1e-12", "-snes_atol", "1e-14", "-ksp_rtol", "1e-12"]
    run([f, "-bbd_quiet", "-bbd_depth", "8", "-bbd_width", "8", "-bbd_output", "sw.h5"] + step + tight)
    for p in (1, 2):
        run([f, "-bbd_quiet", "-bbd_depth", "8", "-bbd_width", "8", "-bbd_formulation", "residual",
             "-bbd_output", "re%d.h5" % p] + step + tight, nproc=p)
        for q in ("z", "a", "loss"):
            ref, got = traj("sw.h5", q), traj("re%d.h5" % p, q)
            err = np.abs(got - ref).max() / np.abs(ref).max()
            check(err < 1e-8, "residual form on %d ranks: %s differs from the sweep form by %.2e" % (p, q, err))
    per = []
    for n in (16, 32, 64):
        out = run([f, "-bbd_depth", str(n), "-bbd_width", str(n), "-bbd_formulation", "residual", "-bbd_output", "r.h5"] + step).stdout
        line = [l for l in out.splitlines() if l.startswith("solver:")][0]
        per.append(float(line.split("(")[1].split()[0]))
    check(max(per) <= 5 and per[-1] <= 1.5 * per[0], "residual form: Krylov iterations per Newton step %s" % per)
    p = run([f, "-bbd_depth", "16", "-bbd_width", "16", "-bbd_formulation", "residual", "-pc_type", "none", "-ts_max_snes_failures", "1",
             "-ksp_max_it", "300", "-bbd_output", "rn.h5"] + step, expect_ok=False)
    lines = [l for l in p.stdout.splitlines() if l.startswith("solver:")]
    check(p.returncode != 0 or float(lines[0].split("(")[1].split()[0]) > 10 * per[0],
          "residual form without the sweep preconditioner converged as fast: the test no longer shows what the preconditioner does")
    # the AVX2/FMA column kernels (chosen at run time for tanh, P = 2) against the portable ones:
    # depth 7 (a tail of 3 depths past the blocks of 4), with and without periodic width, with and
    # without a frozen moment, 1 and 2 ranks (ghost columns); the residuals agree to rounding, so
    # the Newton solves agree to 1e-10. On a CPU without AVX2 both runs take the portable code.
    out = run([f, "-bbd_depth", "7", "-bbd_width", "8", "-bbd_formulation", "residual", "-bbd_output", "k.h5"] + step + tight).stdout
    check("residual evaluation: " in out, "bbd-field does not say which residual kernels it runs")
    for extra in ([], ["-bbd_periodic", "0"], ["-bbd_kappa", "1,0.1,0.01", "-bbd_periodic", "0"]):
        for p in (1, 2):
            for v in (0, 1):
                run([f, "-bbd_quiet", "-bbd_depth", "7", "-bbd_width", "8", "-bbd_formulation", "residual",
                     "-bbd_residual_avx2", str(v), "-bbd_output", "k%d.h5" % v] + step + tight + extra, nproc=p)
            for q in ("z", "a"):
                ref, got = traj("k0.h5", q), traj("k1.h5", q)
                err = np.abs(got - ref).max() / np.abs(ref).max()
                check(err < 1e-10, "residual form %s on %d ranks: %s of the AVX2 kernels differs from the portable ones by %.2e" % (extra, p, q, err))


def case_field_layouts(b):
    """The grid split across ranks in depth as well as in width (-da_processors_x, -da_processors_y:
    the TS, Krylov vectors and preconditioner live on that layout; the sweeps on whole depth
    columns): flow, damped, the residual formulation (flow and damped), sample switching with zero
    padding, and continuum mode give the results of one rank to rounding (1e-12).
    The communication-avoiding sweeps (-bbd_sweep_ghost g: g ghost columns exchanged every g layers,
    computed redundantly in between) give the same results for g = 1 (one column every layer), 2, 3
    and 6 on 2 and 3 ranks (width 12: 6 and 4 columns per rank), periodic and zero-padded, for every
    configuration above (the residual formulations through their sweep preconditioner)."""
    f = field_bin(b)
    base = ["-bbd_quiet", "-bbd_depth", "6", "-bbd_width", "12", "-bbd_tfinal", "0.4"]
    configs = {"flow": [], "damped": ["-bbd_dynamics", "damped", "-bbd_gamma", "2"],
               "residual": ["-bbd_formulation", "residual", "-ts_dt", "0.01", "-ts_adapt_type", "none"],
               "switching": ["-bbd_loss", "ce", "-bbd_periodic", "0", "-bbd_sample_dt", "0.15"],
               "continuum": ["-bbd_mode", "continuum", "-da_grid_x", "17", "-da_grid_y", "16"],
               "damped-residual": ["-bbd_dynamics", "damped", "-bbd_formulation", "residual", "-ts_dt", "0.01",
                                   "-ts_adapt_type", "none"],
               "assembled": ["-bbd_formulation", "residual", "-bbd_jacobian", "assembled", "-bbd_loss", "ce", "-ts_dt", "0.01",
                             "-ts_adapt_type", "none"],
               "assembled-padded-lu": ["-bbd_formulation", "residual", "-bbd_jacobian", "assembled", "-bbd_periodic", "0",
                                       "-pc_type", "lu", "-pc_factor_mat_solver_type", "mumps", "-ts_dt", "0.01", "-ts_adapt_type", "none"],
               "fd-color": ["-bbd_formulation", "residual", "-snes_fd_color", "-bbd_loss", "ce", "-ts_dt", "0.01", "-ts_adapt_type", "none"],
               "fd-color-damped": ["-bbd_dynamics", "damped", "-bbd_formulation", "residual", "-snes_fd_color", "-bbd_periodic", "0",
                                   "-ts_dt", "0.01", "-ts_adapt_type", "none"],
               "damped-padded": ["-bbd_dynamics", "damped", "-bbd_gamma", "2", "-bbd_periodic", "0", "-bbd_sample_dt", "0.15"],
               "residual-padded": ["-bbd_formulation", "residual", "-ts_dt", "0.01", "-ts_adapt_type", "none",
                                   "-bbd_periodic", "0", "-bbd_loss", "ce"],
               "damped-residual-padded": ["-bbd_dynamics", "damped", "-bbd_formulation", "residual", "-ts_dt", "0.01",
                                          "-ts_adapt_type", "none", "-bbd_periodic", "0"],
               "continuum-padded": ["-bbd_mode", "continuum", "-da_grid_x", "17", "-da_grid_y", "16", "-bbd_periodic", "0"],
               "continuum-damped": ["-bbd_mode", "continuum", "-bbd_dynamics", "damped", "-da_grid_x", "17", "-da_grid_y", "16"]}
    for name, extra in configs.items():
        run([f] + base + extra + ["-bbd_output", "l1.h5"])
        runs = [(n, ["-da_processors_x", str(px), "-da_processors_y", str(py)], "%d x %d" % (px, py))
                for n, px, py in ((2, 2, 1), (4, 2, 2), (3, 3, 1))]
        runs += [(n, ["-bbd_sweep_ghost", str(g)], "g = %d" % g) for n, g in ((2, 1), (2, 6), (3, 2), (3, 3))]
        for n, opts, what in runs:
            out = "l%d.h5" % n
            run([f] + base + extra + opts + ["-bbd_output", out], nproc=n)
            for q in ("z", "a", "loss", "flux"):
                ref, got = traj("l1.h5", q), traj(out, q)
                err = np.abs(got - ref).max() / np.abs(ref).max()
                check(err <= 1e-12, "layouts %s on %d ranks (%s): /trajectory/%s differs by %.2e" % (name, n, what, q, err))


def solver_line(out):
    """(Newton, Krylov) iteration totals from bbd-field's 'solver:' line."""
    w = [l for l in out.splitlines() if l.startswith("solver:")][0].split()
    return int(w[w.index("Newton") - 1]), int(w[w.index("Krylov") - 1])


# the -snes_test_jacobian matrix of the assembled Jacobians: (loss, periodic, activation); tanh and
# softplus (sigma'' not odd), hinge (zero loss Hessian) once
JACOBIAN_KINDS = [(loss, per, act) for loss in ("mse", "ce", "kl", "hinge") for per in ("1", "0") for act in ("tanh", "softplus")
                  if loss != "hinge" or (act == "tanh" and per == "1")]


def test_jacobian(args, nproc, tol, what):
    """Run bbd-field ARGS with -snes_test_jacobian and check that it compares at least twice and
    every ||J - Jfd||_F/||J||_F is below tol; returns the figures."""
    out = run(args + ["-snes_test_jacobian"], nproc=nproc).stdout
    rel = [float(l.split("=")[1].split(",")[0]) for l in out.splitlines() if "||J - Jfd||_F/||J||_F =" in l]
    check(len(rel) >= 2, "-snes_test_jacobian printed %d comparisons (%s, %d ranks)" % (len(rel), what, nproc))
    check(rel and max(rel) < tol, "analytic Jacobian: ||J - Jfd||/||J|| = %s (%s, %d ranks)" % (rel, what, nproc))
    return rel


def case_field_jacobian(b):
    """The assembled analytic Jacobian of the residual formulation (docs/theory.md section 14):
    (1) -snes_test_jacobian: ||J - Jfd||_F/||J||_F < 1e-6 for mse, ce, kl (and hinge), periodic and
    zero-padded width, tanh and softplus (sigma'' not odd), on 1 and 2 ranks, and on 2 and 4 ranks
    with -da_processors_x 2 (the matrix on the TS layout). The finite-difference
    Jacobian's own truncation error is about 1e-7 of ||J|| here (entries up to shift/h and 1/dy^2); a
    missing or wrong block shows as 1e-4 or more. (2) assembled and matrix-free runs give the same
    trajectory (1e-9) and bbd-net's (1e-8, as net-field-residual) with tight adaptive BDF. (3) Krylov
    iterations per Newton step with the sweep preconditioner at M = N = 32..256 (stable networks:
    a_2 scaled to stability number 0.24, time step dt = 0.32/N, i.e. dt times the largest stencil
    rate fixed) stay flat: max/min < 1.5; and for one fixed problem (built-in fields, M = N^2/32 so
    the stability number stays 0.24) on 32x32, 128x64, 512x128 at fixed dt = 0.01 they differ by at
    most 0.5 (observed 3.33, 3.67, 3.67). (4) -pc_type lu solves each Newton system in one
    iteration with the assembled matrix; mf with -pc_type lu is refused with a message."""
    f = field_bin(b)
    one = ["-bbd_quiet", "-bbd_depth", "4", "-bbd_width", "6", "-bbd_formulation", "residual",
           "-bbd_jacobian", "assembled", "-ts_type", "beuler", "-ts_dt", "0.01", "-ts_adapt_type", "none",
           "-bbd_tfinal", "0.01", "-bbd_output_dt", "0.01", "-bbd_output", "tj.h5"]
    for p in (1, 2):
        for loss, per, act in JACOBIAN_KINDS:
            test_jacobian([f] + one + ["-bbd_loss", loss, "-bbd_periodic", per, "-bbd_activation", act], p, 1e-6,
                          "%s, periodic %s, %s" % (loss, per, act))
    # ... and on the TS layout split in depth (the matrix numbered through the DMDA's AO)
    for p, px, py in ((2, 2, 1), (4, 2, 2)):
        for loss in ("mse", "ce"):
            for per in ("1", "0"):
                test_jacobian([f] + one + ["-bbd_width", "8", "-bbd_loss", loss, "-bbd_periodic", per, "-da_processors_x", str(px),
                                           "-da_processors_y", str(py)], p, 1e-6, "%s, periodic %s, %d x %d layout" % (loss, per, px, py))
    # (2) the same trajectory
    O = ["-bbd_quiet", "-bbd_depth", "6", "-bbd_width", "8", "-bbd_tfinal", "0.1", "-bbd_output_dt", "0.05", "-bbd_loss", "ce"]
    run([b, "-bbd_family", "field", "-ts_rtol", "1e-12", "-ts_atol", "1e-12", "-bbd_output", "n.h5"] + O)
    tight = ["-bbd_formulation", "residual", "-ts_type", "bdf", "-ts_bdf_order", "5", "-ts_rtol", "1e-11", "-ts_atol", "1e-11",
             "-snes_rtol", "1e-12", "-snes_atol", "1e-14", "-ksp_rtol", "1e-12"]
    for p in (1, 2):
        for jac in ("mf", "assembled"):
            run([f, "-bbd_jacobian", jac, "-bbd_output", "%s%d.h5" % (jac, p)] + O + tight, nproc=p)
        for q in ("z", "a", "b", "loss"):
            ref, mf, asm = traj("n.h5", q), traj("mf%d.h5" % p, q), traj("assembled%d.h5" % p, q)
            e1 = np.abs(asm - mf).max() / np.abs(mf).max()
            e2 = np.abs(asm - ref).max() / np.abs(ref).max()
            check(e1 < 1e-9, "assembled vs matrix-free Jacobian on %d ranks: %s differs by %.2e" % (p, q, e1))
            check(e2 < 1e-8, "assembled Jacobian on %d ranks: %s differs from bbd-net by %.2e" % (p, q, e2))
    # (3) Krylov iterations per Newton step, 32^2 .. 256^2
    per, fixed = [], []
    for n in (32, 64, 128, 256):
        run([b, "-bbd_quiet", "-bbd_family", "field", "-bbd_depth", str(n), "-bbd_width", str(n), "-bbd_tfinal", "0",
             "-bbd_output", "s.h5"])
        with h5py.File("s.h5", "r+") as h:  # a_2 scaled: the stability number h max|a_2| max sigma'/dy^2 ~ N^2/M stays 0.24
            h["state/a"][2] = h["state/a"][2] * min(1.0, 32.0 / n)
            if "z" in h["state"]:
                del h["state/z"]
        for dt, lst in ((0.32 / n, per), (0.001, fixed)):
            out = run([f, "-bbd_init", "s.h5", "-bbd_formulation", "residual", "-ts_type", "beuler", "-ts_dt", repr(dt),
                       "-ts_adapt_type", "none", "-bbd_tfinal", repr(3 * dt), "-bbd_output_dt", repr(3 * dt),
                       "-snes_linesearch_type", "basic", "-bbd_output", "k.h5"]).stdout
            newton, krylov = solver_line(out)
            lst.append(krylov / newton)
    check(max(per) / min(per) < 1.5 and max(per) <= 5, "Krylov iterations per Newton step not flat: %s (at dt = 0.001: %s)" % (per, fixed))
    check(max(fixed) <= 5, "Krylov iterations per Newton step at fixed dt = 0.001 exceed 5: %s" % fixed)
    # ... and one fixed problem at fixed dt = 0.01: the built-in fields unscaled, depth refined like
    # width squared so that the forward-map stability number stays 0.24 (M = N^2/32): the lattices
    # approach one continuum problem, whose stencil rates do not change, so neither may the count
    same = []
    for n, m in ((32, 32), (64, 128), (128, 512)):
        out = run([f, "-bbd_depth", str(m), "-bbd_width", str(n), "-bbd_formulation", "residual", "-ts_type", "beuler",
                   "-ts_dt", "0.01", "-ts_adapt_type", "none", "-bbd_tfinal", "0.03", "-bbd_output_dt", "0.03",
                   "-bbd_output", "kf.h5"]).stdout
        newton, krylov = solver_line(out)
        same.append(krylov / newton)
    check(max(same) - min(same) <= 0.5 and max(same) <= 5,
          "Krylov iterations per Newton step for one problem on grids 32x32, 128x64, 512x128 at dt = 0.01: %s" % same)
    # (4) a user's -pc_type wins over the sweep default
    out = run([f, "-bbd_depth", "16", "-bbd_width", "16", "-bbd_formulation", "residual", "-bbd_jacobian", "assembled",
               "-pc_type", "lu", "-ts_type", "beuler", "-ts_dt", "0.01", "-ts_adapt_type", "none", "-bbd_tfinal", "0.03",
               "-bbd_output_dt", "0.03", "-bbd_output", "lu.h5"]).stdout
    newton, krylov = solver_line(out)
    check(krylov == newton, "-pc_type lu with the assembled Jacobian: %d Krylov iterations for %d Newton steps" % (krylov, newton))
    p = run([f, "-bbd_quiet", "-bbd_depth", "4", "-bbd_width", "6", "-bbd_formulation", "residual", "-pc_type", "lu",
             "-bbd_output", "bad.h5"], expect_ok=False)
    check(p.returncode > 0 and "-bbd_jacobian assembled" in p.stdout + p.stderr, "mf with -pc_type lu: no clear error")
    check("-bbd_jacobian" in run([f, "-help"]).stdout, "bbd-field -help does not list -bbd_jacobian")


def read_aij(path):
    """The AIJ matrices PETSc's binary viewer wrote to path (-ksp_view_mat binary:path appends the
    operator of every linear solve): a list of (row lengths, column indices, values)."""
    d, o, mats = open(path, "rb").read(), 0, []
    while o < len(d):
        cid, m, _, nz = np.frombuffer(d[o:o + 16], ">i4")
        check(cid == 1211216, "%s: not a PETSc binary matrix at byte %d" % (path, o))
        if cid != 1211216:
            break
        o += 16
        rl = np.frombuffer(d[o:o + 4 * m], ">i4")
        cj = np.frombuffer(d[o + 4 * m:o + 4 * (m + nz)], ">i4")
        v = np.frombuffer(d[o + 4 * (m + nz):o + 4 * (m + nz) + 8 * nz], ">f8")
        o += 4 * (m + nz) + 8 * nz
        mats.append((rl, cj, v))
    return mats


def case_field_arkimex(b):
    """-ts_type arkimex with the residual formulations (docs/usage.md, solver table). Their IFunction
    is not U' - G(U) (lattice: G(U) U' + loss term; continuum: beta algebraic), so arkimex tableaus
    whose first stage is explicit cannot take that stage's slope from -F(U, 0): before the check,
    the default tableau (3) ran and ended 3% off in the loss at t = 0.1 (lattice flow 16 x 16,
    rtol 1e-6), with steps shrinking like the tolerance. bbd-field declares the equation implicit,
    uses l2 when no tableau is chosen and refuses the explicit-first-stage ones by name.
    (1) Adaptive arkimex (l2, the default here, and prssp2; rtol = atol = 1e-8) reproduces the
    sweep formulation's trajectory (rk, 1e-12) in lattice and continuum mode, flow and damped:
    some 100 steps at 1e-8 of local error against a change of z of O(0.1) bound the difference by
    1e-5 (observed 2e-8 to 1.1e-6).
    (2) -ts_arkimex_type 3 is refused by name, no output file."""
    f = field_bin(b)
    for mode in (["-bbd_mode", "lattice", "-bbd_depth", "16", "-bbd_width", "16"], ["-bbd_mode", "continuum", "-da_grid_x", "17", "-da_grid_y", "16"]):
        for dyn in ("flow", "damped"):
            o = ["-bbd_quiet"] + mode + ["-bbd_dynamics", dyn, "-bbd_tfinal", "0.2", "-bbd_output_dt", "0.1"]
            run([f] + o + ["-ts_rtol", "1e-12", "-ts_atol", "1e-12", "-bbd_output", "ref.h5"])
            zr = traj("ref.h5", "z")
            for tab in ([], ["-ts_arkimex_type", "prssp2"]):
                run([f] + o + ["-bbd_formulation", "residual", "-ts_type", "arkimex", "-ts_rtol", "1e-8", "-ts_atol", "1e-8", "-bbd_output", "a.h5"] + tab)
                z = traj("a.h5", "z")
                d = np.abs(z - zr).max() / np.abs(zr[-1] - zr[0]).max()
                check(z.shape == zr.shape and d < 1e-5, "arkimex %s (%s %s): differs from the sweep formulation by %.2e of the change of z" % (" ".join(tab) or "default", mode[1], dyn, d))
    p = run([f, "-bbd_quiet", "-bbd_depth", "8", "-bbd_width", "8", "-bbd_formulation", "residual", "-ts_type", "arkimex", "-ts_arkimex_type", "3",
             "-bbd_tfinal", "0.01", "-bbd_output", "bad.h5"], expect_ok=False)
    check(p.returncode != 0 and "-ts_arkimex_type 3" in p.stdout + p.stderr and not os.path.exists("bad.h5"), "arkimex 3 with the residual formulation is not refused by name")


def case_field_fdcolor(b):
    """-snes_fd_color and -snes_fd with the residual formulation (docs/theory.md section 14): the
    finite-difference Jacobian on the exact pattern of the analytic one, coloured by MatColoring.
    Grids of width 16 and 32 (periodic: powers of two, not multiples of 5 or 3) and zero padded, 1
    and 2 ranks (2: also with -da_processors_x 2, the matrix on the TS layout).
    (1) -snes_test_jacobian: the coloured Jacobian equals PETSc's dense difference to 1e-10
    relative (both difference the same residual with the same step per column, so they agree to
    rounding; a colouring that puts two columns sharing a row into one colour, or a pattern that
    misses an entry, differs by O(1)): flow mse and ce, and damped (its box superset pattern).
    (2) Against the analytic assembled matrix, operator by operator (-ksp_view_mat) with
    -pc_type lu: the same pattern and values within 1e-5 of the largest entry (the differences'
    truncation error: -snes_test_jacobian reports 1.5e-6 in Frobenius norm for the analytic
    matrix at 8 x 16; a wrong entry is O(1)); one Krylov iteration per Newton step, the same Newton
    count, and the trajectory to 1e-9 (solver tolerances 1e-12). (3) -snes_fd (dense) runs on a
    tiny grid and gives the coloured run's trajectory (1e-9). The refusals are in field-badinput."""
    f = field_bin(b)
    step = ["-bbd_quiet", "-bbd_formulation", "residual", "-ts_type", "beuler", "-ts_dt", "0.01", "-ts_adapt_type", "none",
            "-bbd_output_dt", "0.01"]
    # (1)
    for depth, width in ((8, 16), (16, 32)):
        for per in ("1", "0"):
            for p in (1, 2):
                for extra in (["-bbd_loss", "mse"], ["-bbd_loss", "ce"], ["-bbd_dynamics", "damped", "-bbd_gamma", "2", "-bbd_loss", "ce"]):
                    if width == 32 and "damped" in extra:
                        continue
                    out = run([f] + step + ["-bbd_tfinal", "0.01", "-bbd_depth", str(depth), "-bbd_width", str(width),
                                            "-bbd_periodic", per, "-snes_fd_color", "-snes_test_jacobian",
                                            "-bbd_output", "t.h5"] + extra, nproc=p).stdout
                    rel = [float(l.split("=")[1].split(",")[0]) for l in out.splitlines() if "||J - Jfd||_F/||J||_F =" in l]
                    what = "%d x %d, periodic %s, %s, %d ranks" % (depth, width, per, " ".join(extra), p)
                    check(len(rel) >= 2, "-snes_fd_color -snes_test_jacobian printed %d comparisons (%s)" % (len(rel), what))
                    check(rel and max(rel) < 1e-10, "-snes_fd_color: ||J - Jfd||/||J|| = %s against the dense difference (%s)" % (rel, what))
    # (2)
    tight = ["-bbd_tfinal", "0.03", "-bbd_depth", "8", "-bbd_width", "16", "-bbd_loss", "ce", "-pc_type", "lu",
             "-pc_factor_mat_solver_type", "mumps", "-snes_rtol", "1e-12", "-snes_atol", "1e-13"]
    for per in ("1", "0"):
        for p, lay in ((1, []), (2, []), (2, ["-da_processors_x", "2", "-da_processors_y", "1"])):
            what = "periodic %s, %d ranks %s" % (per, p, " ".join(lay))
            res = {}
            for name, jac in (("an", ["-bbd_jacobian", "assembled"]), ("fd", ["-snes_fd_color"])):
                for x in glob.glob(name + ".bin*"):
                    os.remove(x)
                out = run([f] + step[1:] + tight + lay + jac + ["-bbd_periodic", per, "-ksp_view_mat", "binary:%s.bin" % name,
                                                                "-bbd_output", name + ".h5"], nproc=p).stdout
                res[name] = (solver_line(out), read_aij(name + ".bin"))
            (na, ka), A = res["an"]
            (nf, kf), B = res["fd"]
            check(kf == nf and ka == na, "-pc_type lu: %d/%d Krylov for %d/%d Newton steps (fd/analytic; %s)" % (kf, ka, nf, na, what))
            check(nf == na, "-snes_fd_color took %d Newton steps, the analytic Jacobian %d (%s)" % (nf, na, what))
            check(len(A) == len(B) and len(A) >= 3, "%d and %d operators written (%s)" % (len(A), len(B), what))
            for (ra, ca, va), (rb, cb, vb) in zip(A, B):
                same = len(ra) == len(rb) and (ra == rb).all() and len(ca) == len(cb) and (ca == cb).all()
                check(same, "-snes_fd_color: the pattern differs from the analytic matrix's (%s)" % what)
                if same:
                    err = np.abs(va - vb).max() / np.abs(va).max()
                    check(err < 1e-5, "-snes_fd_color: entries differ from the analytic ones by %.2e of the largest (%s)" % (err, what))
            for q in ("z", "a", "loss"):
                ref, got = traj("an.h5", q), traj("fd.h5", q)
                err = np.abs(got - ref).max() / np.abs(ref).max()
                check(err < 1e-9, "-snes_fd_color against the analytic Jacobian: /trajectory/%s differs by %.2e (%s)" % (q, err, what))
    # (3)
    tiny = step[1:] + ["-bbd_tfinal", "0.02", "-bbd_depth", "4", "-bbd_width", "8", "-pc_type", "lu", "-snes_rtol", "1e-12", "-snes_atol", "1e-13"]
    n1, k1 = solver_line(run([f] + tiny + ["-snes_fd", "-bbd_output", "d.h5"]).stdout)
    run([f] + tiny + ["-snes_fd_color", "-bbd_output", "c.h5"])
    check(k1 == n1, "-snes_fd -pc_type lu: %d Krylov iterations for %d Newton steps" % (k1, n1))
    for q in ("z", "a", "loss"):
        ref, got = traj("c.h5", q), traj("d.h5", q)
        err = np.abs(got - ref).max() / np.abs(ref).max()
        check(err < 1e-9, "-snes_fd against -snes_fd_color: /trajectory/%s differs by %.2e" % (q, err))


def case_field_damped_residual(b):
    """Damped dynamics in the implicit residual formulation (docs/theory.md section 14, "Damped
    dynamics in residual form"), Newton-Krylov with the sweep on the momentum rows as preconditioner.
    (1) Against bbd-net's damped trajectory (tight explicit reference, rtol 1e-12): BDF2 with fixed
    steps dt = 0.01, 0.005, 0.0025; the difference (/trajectory/z, a, b, a_dot, b_dot, loss) falls at
    second order each time dt halves (ratio in [3, 5.5]: observed 3.8-4.3) and is below 3e-3 relative
    at dt = 0.0025 (observed 6e-7 to 9e-4), periodic and zero-padded with mixed activations and
    random sample switching (z jumps to the forward pass, z_dot to the tangent pass), on 1 and 2
    ranks (the two agree to 1e-10).
    (2) Backward Euler on the residual form gives the damped sweep formulation's backward-Euler
    trajectory (the same ODE, the same method; tight Newton tolerances) to 1e-8 (observed 1e-12),
    on 1 and 2 ranks, also from a damped bbd-net state with nonzero velocities.
    (3) A run to T and a run to T/2 restarted from its file to T give the same trajectory bitwise.
    (4) Krylov iterations per Newton step (printed by bbd-field) stay at most 6 at 16^2 and 32^2
    (observed 2.93, 3.00 at dt = 0.05; 3.00 at 64^2); without the preconditioner (-pc_type none) the
    solve fails or needs > 10x more (observed: GMRES does not converge in 300 iterations)."""
    f = field_bin(b)
    base = ["-bbd_quiet", "-bbd_depth", "6", "-bbd_width", "8", "-bbd_dynamics", "damped", "-bbd_gamma", "2",
            "-bbd_output_dt", "0.1", "-bbd_sample_dt", "0.15", "-bbd_tfinal", "0.6"]
    tight = ["-snes_rtol", "1e-12", "-snes_atol", "1e-14", "-ksp_rtol", "1e-12"]
    res = ["-bbd_formulation", "residual"]
    qs = ["z", "a", "b", "a_dot", "b_dot", "loss"]

    def dist(ref, got):
        with h5py.File(ref, "r") as n, h5py.File(got, "r") as g:
            check(np.array_equal(n["trajectory/time"][()], g["trajectory/time"][()]), "damped residual: saved times of %s differ" % got)
            check(np.array_equal(n["trajectory/sample"][()], g["trajectory/sample"][()]), "damped residual: samples of %s differ" % got)
            return {q: np.abs(g["trajectory/" + q][()] - n["trajectory/" + q][()]).max() / np.abs(n["trajectory/" + q][()]).max()
                    for q in qs}

    # (1) against bbd-net at BDF2's order
    for k, extra in enumerate([["-bbd_loss", "mse"],
                               ["-bbd_periodic", "0", "-bbd_activation", "tanh,sin,tanh,gelu,tanh,erf",
                                "-bbd_sample_order", "random", "-bbd_kappa", "1,0.1,0.01"]]):
        run([b] + base + extra + ["-ts_rtol", "1e-12", "-ts_atol", "1e-12", "-bbd_output", "net%d.h5" % k])
        for p in (1, 2):
            errs = []
            for dt in ("0.01", "0.005", "0.0025"):
                out = "bdf%d_%d_%s.h5" % (k, p, dt)
                run([f] + base + extra + res + tight + ["-ts_type", "bdf", "-ts_dt", dt, "-ts_adapt_type", "none",
                                                        "-bbd_output", out], nproc=p)
                errs.append(dist("net%d.h5" % k, out))
                if p == 2:
                    d = dist("bdf%d_1_%s.h5" % (k, dt), out)
                    check(max(d.values()) < 1e-10, "damped residual %s: 2 ranks differ from 1 rank by %s" % (extra, d))
            for q in qs:
                e = [x[q] for x in errs]
                check(e[2] < 3e-3, "damped residual %s on %d ranks, BDF2 at dt = 0.0025: /trajectory/%s differs from bbd-net by %.2e"
                      % (extra, p, q, e[2]))
                for i in (0, 1):
                    check(3 <= e[i] / e[i + 1] <= 5.5, "damped residual %s on %d ranks: the BDF2 error of /trajectory/%s falls by %.2f (not 4) when dt halves (%s)"
                          % (extra, p, q, e[i] / e[i + 1], e))

    # (2) the same method on the sweep formulation
    step = ["-ts_type", "beuler", "-ts_dt", "0.01", "-ts_adapt_type", "none"] + tight
    for k, extra in enumerate([["-bbd_loss", "mse"],
                               ["-bbd_periodic", "0", "-bbd_activation", "tanh,sin,tanh,gelu,tanh,erf",
                                "-bbd_sample_order", "random", "-bbd_kappa", "1,0,0.01"]]):
        run([f] + base + extra + step + ["-bbd_output", "sw%d.h5" % k])
        for p in (1, 2):
            run([f] + base + extra + step + res + ["-bbd_output", "re%d_%d.h5" % (k, p)], nproc=p)
            d = dist("sw%d.h5" % k, "re%d_%d.h5" % (k, p))
            check(max(d.values()) < 1e-8, "damped residual %s on %d ranks: differs from the sweep formulation (backward Euler) by %s" % (extra, p, d))
    run([b] + base[:-2] + ["-bbd_tfinal", "0.3", "-bbd_periodic", "0", "-bbd_output", "mid.h5"])
    with h5py.File("mid.h5", "r") as h:
        check(np.abs(h["state/b_dot"][()]).max() > 1e-3, "damped residual: the hand-off state is at rest; the test shows nothing")
    ini = ["-bbd_quiet", "-bbd_init", "mid.h5", "-bbd_tfinal", "0.6"] + step
    run([f] + ini + ["-bbd_output", "csw.h5"])
    for p in (1, 2):
        run([f] + ini + res + ["-bbd_output", "cre%d.h5" % p], nproc=p)
        d = dist("csw.h5", "cre%d.h5" % p)
        check(max(d.values()) < 1e-8, "damped residual from a bbd-net state on %d ranks: differs from the sweep formulation by %s" % (p, d))

    # (3) restart, bitwise
    opts = ["-bbd_quiet", "-bbd_depth", "6", "-bbd_width", "8", "-bbd_dynamics", "damped", "-bbd_gamma", "2",
            "-bbd_sample_dt", "0.15", "-bbd_sample_order", "random", "-bbd_output_dt", "0.1"] + res
    run([f] + opts + ["-bbd_tfinal", "1", "-bbd_output", "full.h5"])
    run([f] + opts + ["-bbd_tfinal", "0.5", "-bbd_output", "half.h5"])
    run([f, "-bbd_quiet", "-bbd_init", "half.h5", "-bbd_tfinal", "1", "-bbd_output", "rest.h5"] + res)
    for q in ["time", "z", "a", "b", "a_dot", "b_dot", "loss", "sample"]:
        check(np.array_equal(traj("full.h5", q)[5:], traj("rest.h5", q)),
              "damped residual restart: /trajectory/%s differs from the uninterrupted run" % q)

    # (4) Krylov iterations per Newton step
    step = ["-ts_type", "beuler", "-ts_dt", "0.05", "-ts_adapt_type", "none", "-bbd_tfinal", "0.5", "-bbd_output_dt", "0.5",
            "-bbd_sample_dt", "0.25", "-bbd_dynamics", "damped", "-bbd_gamma", "2"]
    per = []
    for n in (16, 32):
        out = run([f, "-bbd_depth", str(n), "-bbd_width", str(n), "-bbd_output", "r.h5"] + res + step).stdout
        line = [l for l in out.splitlines() if l.startswith("solver:")][0]
        per.append(float(line.split("(")[1].split()[0]))
    check(max(per) <= 6, "damped residual: Krylov iterations per Newton step %s (at most 6 expected)" % per)
    p = run([f, "-bbd_depth", "16", "-bbd_width", "16", "-pc_type", "none", "-ksp_max_it", "300", "-ts_max_snes_failures", "1", "-bbd_output", "rn.h5"]
            + res + step, expect_ok=False)
    lines = [l for l in p.stdout.splitlines() if l.startswith("solver:")]
    check(p.returncode != 0 or float(lines[0].split("(")[1].split()[0]) > 10 * per[0],
          "damped residual without the preconditioner converged as fast: the test no longer shows what the preconditioner does")


def case_field_stiff(b):
    """The residual form with an active second moment of mobility (large rates: docs/theory.md
    section 14, "Large rates and the residual form"). Newton on the residual diverges from the
    previous step's state when dt is larger than the rates allow (flow, 6 x 8, kappa_2 = 0.1: at the
    first step for dt >= 3e-4 or so); such a step is rejected and retried with a quarter of it
    (BbdTSConfigureWith: -ts_max_snes_failures unlimited, at most -ts_max_reject retries per step).
    (1) Flow, backward Euler at fixed -ts_dt 0.002: the first step fails and the first segment
    [0, 0.05] is taken with steps of 0.0005, the later ones with 0.002 (checked: 1 Newton failure,
    100 + 75 steps). The sweep formulation with that step sequence (0.0005 to t = 0.05, then a restart
    with 0.002) solves the same discrete equations: agreement to the Newton tolerance (1e-8, tight
    Newton and Krylov tolerances; as in net-field-residual), on 1 and 2 ranks.
    (2) Damped (kappa_2 = 0.5, gamma = 2), backward Euler at fixed -ts_dt 0.01: Newton failures
    reduce the step to 0.0025 or less; the trajectory against a tight explicit reference (rk 5dp,
    1e-12) is then at most the error of the sweep formulation's backward Euler with fixed steps
    of 0.01 (first order in the step, and every step of the residual run is at most 0.01); observed
    0.09-0.14 of it."""
    f = field_bin(b)
    tight = ["-snes_rtol", "1e-12", "-snes_atol", "1e-14", "-ksp_rtol", "1e-12"]
    base = ["-bbd_depth", "6", "-bbd_width", "8", "-bbd_kappa", "1,0.1,0.1", "-bbd_output_dt", "0.05",
            "-ts_type", "beuler", "-ts_adapt_type", "none"] + tight
    qs = ["z", "a", "b", "loss"]
    run([f, "-bbd_quiet"] + base + ["-bbd_tfinal", "0.05", "-ts_dt", "0.0005", "-bbd_output", "sw1.h5"])
    run([f, "-bbd_quiet", "-bbd_init", "sw1.h5"] + base + ["-bbd_tfinal", "0.2", "-ts_dt", "0.002", "-bbd_output", "sw2.h5"])
    for p in (1, 2):
        out = run([f] + base + ["-bbd_tfinal", "0.2", "-ts_dt", "0.002", "-bbd_formulation", "residual",
                                "-bbd_output", "re%d.h5" % p], nproc=p).stdout
        fail = [l for l in out.splitlines() if l.startswith("Newton failures:")]
        w = [l for l in out.splitlines() if l.startswith("solver:")][0].split()
        steps = int(w[1])
        # bench/field.sh reads the solver: line by position: fields 2, 8, 11 are steps, Newton, Krylov
        check((w[2], w[8], w[9], w[11]) == ("steps", "Newton", "and", "Krylov") and (int(w[7]), int(w[10])) == solver_line(out),
              "the solver: line changed its fields (bench/field.sh reads 2, 8, 11): %s" % " ".join(w))
        check(fail and int(fail[0].split()[2]) == 1 and steps == 175,
              "stiff flow on %d ranks: expected 1 Newton failure at the first step and 100 + 75 steps, got %s, %d steps: "
              "the comparison below assumes that step sequence" % (p, fail, steps))
        for q in qs:
            ref = np.concatenate([traj("sw1.h5", q), traj("sw2.h5", q)[1:]])
            got = traj("re%d.h5" % p, q)
            if ref.shape != got.shape:
                check(False, "stiff flow on %d ranks: /trajectory/%s has shape %s, the sweep runs %s" % (p, q, got.shape, ref.shape))
                continue
            err = np.abs(got - ref).max() / np.abs(ref).max()
            check(err < 1e-8, "stiff flow on %d ranks: /trajectory/%s of the residual form differs from the sweep form with the same steps by %.2e" % (p, q, err))

    damped = ["-bbd_quiet", "-bbd_depth", "6", "-bbd_width", "8", "-bbd_dynamics", "damped", "-bbd_gamma", "2",
              "-bbd_kappa", "1,0.1,0.5", "-bbd_tfinal", "0.2", "-bbd_output_dt", "0.05"]
    fixed = ["-ts_type", "beuler", "-ts_adapt_type", "none", "-ts_dt", "0.01"] + tight
    run([f] + damped + ["-ts_rtol", "1e-12", "-ts_atol", "1e-12", "-bbd_output", "dref.h5"])
    run([f] + damped + fixed + ["-bbd_output", "dsw.h5"])
    out = run([f] + damped[1:] + fixed + ["-bbd_formulation", "residual", "-bbd_output", "dre.h5"]).stdout
    check(any(l.startswith("Newton failures:") for l in out.splitlines()),
          "stiff damped: no Newton failure at dt = 0.01; the test no longer shows the retries")
    for q in ["z", "a", "a_dot", "loss"]:
        ref = traj("dref.h5", q)
        e_sw = np.abs(traj("dsw.h5", q) - ref).max() / np.abs(ref).max()
        e_re = np.abs(traj("dre.h5", q) - ref).max() / np.abs(ref).max()
        check(e_re <= e_sw, "stiff damped: /trajectory/%s of the residual form is off by %.2e, more than the sweep form's backward Euler at the largest step (%.2e)" % (q, e_re, e_sw))


def switch_line(out):
    """(all, as TS events, location error, at segment ends) from bbd-field's 'sample switches:' line."""
    line = [l for l in out.splitlines() if l.startswith("sample switches:")][0]
    w = line.replace("(", " ").replace(";", " ").split()
    return int(w[2]), int(w[3]), float(w[9]), int(w[13])


def rel_diffs(ref, got, qs):
    """max |got - ref| / max |ref| of /trajectory/q for each q, after checking times and samples agree."""
    with h5py.File(ref, "r") as n, h5py.File(got, "r") as g:
        check(np.array_equal(n["trajectory/time"][()], g["trajectory/time"][()]), "%s: saved times differ from %s" % (got, ref))
        check(np.array_equal(n["trajectory/sample"][()], g["trajectory/sample"][()]), "%s: samples differ from %s" % (got, ref))
        return {q: np.abs(g["trajectory/" + q][()] - n["trajectory/" + q][()]).max() / np.abs(n["trajectory/" + q][()]).max()
                for q in qs}


def case_field_events(b):
    """Sample switching as PETSc TS events (-bbd_switch events; docs/theory.md section 14).
    (1) Random sample order, switches every 0.15 to T = 0.45 with saved times every 0.1: one switch
    inside a solve (0.15), one on a saved time (0.3) and one on T (0.45): 3 expected, each applied
    exactly once. The trajectory (/trajectory/z, a, b, loss; damped also a_dot, b_dot) agrees with
    -bbd_switch segments and with bbd-net to 1e-8 relative (tight tolerances; observed 3e-13 for rk,
    3e-9 for bdf, the integrators' own error), for flow and damped: the sweep formulation (rk) on 1
    and 2 ranks and with the depth split (-da_processors_x 2: the jump is applied on the solver's
    layout), the residual formulation with bdf on 1 and 2 ranks. The run summary counts 3
    switches, all as TS events (none left to the segment ends), located within 1e-15 of k sample_dt
    (a linear event function: the secant lands on t_k to rounding, a few ulp; observed 1.1e-16);
    -bbd_switch segments counts the same 3 at segment ends.
    (2) A run to 1 and a run to 0.5 (inside a sample interval) or 0.3 (a switch on a saved time)
    restarted from its file give the same trajectory, bitwise: rk (flow, damped), the residual form
    with beuler (damped) and with bdf (flow).
    (3) With a loose -ts_event_tol each switch is still applied once (events may take it early, within
    the tolerance), also when a restart starts within the tolerance before a switch time.
    (4) -help lists -bbd_switch; a bad value, events in continuum mode and a time stepper that cannot
    roll a step back are refused (net-field-badinput)."""
    f = field_bin(b)
    base = ["-bbd_depth", "6", "-bbd_width", "8", "-bbd_tfinal", "0.45", "-bbd_output_dt", "0.1",
            "-bbd_sample_dt", "0.15", "-bbd_sample_order", "random"]
    rk = ["-ts_rtol", "1e-12", "-ts_atol", "1e-12"]
    bdf = ["-bbd_formulation", "residual", "-ts_type", "bdf", "-ts_bdf_order", "5", "-ts_rtol", "1e-11", "-ts_atol", "1e-11",
           "-snes_rtol", "1e-12", "-snes_atol", "1e-14", "-ksp_rtol", "1e-12"]
    expected = 3  # floor(0.45 / 0.15) - floor(0 / 0.15)
    split = ["-da_processors_x", "2", "-da_processors_y", "1"]
    for dyn in (["-bbd_dynamics", "flow"], ["-bbd_dynamics", "damped", "-bbd_gamma", "2"]):
        qs = ["z", "a", "b", "loss"] + (["a_dot", "b_dot"] if "damped" in dyn else [])
        run([b, "-bbd_quiet"] + base + dyn + rk + ["-bbd_output", "net.h5"])
        for form, solver, layouts in (("sweep rk", rk, [(1, []), (2, []), (2, split)]), ("residual bdf", bdf, [(1, []), (2, [])])):
            what = "%s %s" % (dyn[1], form)
            out = run([f] + base + dyn + solver + ["-bbd_output", "seg.h5"]).stdout
            n, nev, err, nseg = switch_line(out)
            check((n, nev, nseg) == (expected, 0, expected), "segments %s: %d switches (%d events, %d at segment ends), %d expected" % (what, n, nev, nseg, expected))
            for p, lay in layouts:
                tag = "events %s on %d ranks%s" % (what, p, " (depth split)" if lay else "")
                out = run([f] + base + dyn + solver + lay + ["-bbd_switch", "events", "-bbd_output", "ev.h5"], nproc=p).stdout
                n, nev, err, nseg = switch_line(out)
                check((n, nev, nseg) == (expected, expected, 0), "%s: %d switches (%d as events, %d at segment ends), %d expected as events" % (tag, n, nev, nseg, expected))
                check(err <= 1e-15, "%s: a switch was applied %.2e from its time k sample_dt" % (tag, err))
                for ref, name in (("seg.h5", "-bbd_switch segments"), ("net.h5", "bbd-net")):
                    d = rel_diffs(ref, "ev.h5", qs)
                    check(max(d.values()) <= 1e-8, "%s differs from %s: %s" % (tag, name, d))

    # (2) restarts
    qs = ["time", "z", "a", "b", "loss", "L", "flux", "sample"]
    for extra, exact in ((["-bbd_dynamics", "flow"], True), (["-bbd_dynamics", "damped", "-bbd_gamma", "2"], True),
                         (["-bbd_dynamics", "damped", "-bbd_formulation", "residual"], True),
                         (["-bbd_formulation", "residual", "-ts_type", "bdf"], True)):
        opts = SMALL + ["-bbd_sample_dt", "0.15", "-bbd_sample_order", "random", "-bbd_output_dt", "0.1", "-bbd_switch", "events"]
        again = [o for o in extra if o not in ("-bbd_dynamics", "flow", "damped")]  # the file holds the dynamics
        run([f] + opts + extra + ["-bbd_tfinal", "1", "-bbd_output", "full.h5"])
        for H in ("0.5", "0.3"):
            run([f] + opts + extra + ["-bbd_tfinal", H, "-bbd_output", "half.h5"])
            run([f, "-bbd_quiet", "-bbd_init", "half.h5", "-bbd_tfinal", "1", "-bbd_switch", "events", "-bbd_output", "rest.h5"] + again)
            k = int(np.argmin(abs(traj("full.h5", "time") - float(H))))
            for q in qs:
                ref, got = traj("full.h5", q)[k:], traj("rest.h5", q)
                if exact:
                    check(np.array_equal(ref, got), "events restart %s at %s: /trajectory/%s differs from the uninterrupted run" % (extra, H, q))
                else:
                    err = np.abs(got - ref).max() / max(np.abs(ref).max(), 1e-300)
                    check(ref.shape == got.shape and err <= 1e-12, "events restart %s at %s: /trajectory/%s differs by %.2e" % (extra, H, q, err))
    # (3) a loose -ts_event_tol 1e-3 with saved times every 0.1499: the events take each switch up to
    # 1e-3 early (at the saved time 0.1499 j, 4e-4 before 0.15 j), still once each (4 in (0, 0.6]);
    # a run restarted at 0.1499, within the tolerance before the switch at 0.15, takes that switch
    # at its start (PETSc would not see it), the other 3 as events
    loose = ["-bbd_depth", "4", "-bbd_width", "6", "-bbd_sample_dt", "0.15", "-bbd_output_dt", "0.1499"]
    out = run([f] + loose + ["-bbd_tfinal", "0.6", "-bbd_switch", "events", "-ts_event_tol", "1e-3", "-bbd_output", "tol.h5"]).stdout
    n, nev, err, nseg = switch_line(out)
    check((n, nev, nseg) == (4, 4, 0) and 3e-4 < err < 5e-4, "-ts_event_tol 1e-3: %d switches (%d events, %d at segment ends, %.2e early), 4 events 4e-4 early expected" % (n, nev, nseg, err))
    run([f, "-bbd_quiet"] + loose + ["-bbd_tfinal", "0.1499", "-bbd_output", "h.h5"])
    out = run([f, "-bbd_init", "h.h5", "-bbd_tfinal", "0.6", "-bbd_switch", "events", "-ts_event_tol", "1e-3", "-bbd_output", "g.h5"]).stdout
    n, nev, err, nseg = switch_line(out)
    check((n, nev, nseg) == (4, 3, 1), "restart 1e-4 before a switch, -ts_event_tol 1e-3: %d switches (%d events, %d at the start), 4 (3, 1) expected" % (n, nev, nseg))
    check("-bbd_switch" in run([f, "-help"]).stdout, "bbd-field -help does not list -bbd_switch")


def case_field_damped_jacobian(b):
    """The assembled analytic Jacobian of the damped residual formulation (docs/theory.md section 14,
    "The Jacobian of the damped residual").
    (1) -snes_test_jacobian at states with nonzero velocities (0.3 time units of damped dynamics from
    rest, gamma = 2: max |z_dot| ~ 0.26, |a_dot| ~ 0.06, checked > 0.05 and 0.01), for the losses,
    paddings and activations of net-field-jacobian plus mixed activations with an active a_2 and a
    frozen a_1, 4 x 6 grids, 1 and 2 ranks: ||J - Jfd||_F/||J||_F < 1e-7. The figure is the finite
    difference's own error (PETSc differences with a relative step ~1.5e-8, so each entry carries
    an error of about 1e-8 of its size); observed 1.0e-9 to 8.3e-9. Dropping any one of the
    velocity-squared terms of dB (s''' v^2 in dQ/dz, 2 s'' v in dQ/dv, 2 w s'' v in d(2 w D(s' v))/dz)
    raises it to 1.1e-6 .. 1.1e-5, so they are all seen.
    (2) From a damped bbd-net state with velocities, zero padding, ce, sample switching, backward
    Euler with tight Newton tolerances: the assembled Jacobian with the default sweep preconditioner
    (1 and 2 ranks) and with -pc_type lu give the matrix-free trajectory (the same nonlinear systems,
    solved to 1e-12) to 1e-10 (observed 1e-13); with -pc_type lu every Newton step takes one Krylov
    iteration (the matrix is the exact Jacobian)."""
    f = field_bin(b)
    grid = ["-bbd_quiet", "-bbd_depth", "4", "-bbd_width", "6", "-bbd_dynamics", "damped", "-bbd_gamma", "2"]
    step = ["-bbd_formulation", "residual", "-bbd_jacobian", "assembled", "-ts_type", "beuler", "-ts_dt", "0.01",
            "-ts_adapt_type", "none", "-bbd_tfinal", "0.32", "-bbd_output_dt", "0.02", "-bbd_output", "tj.h5"]
    kinds = [["-bbd_loss", loss, "-bbd_periodic", per, "-bbd_activation", act] for loss, per, act in JACOBIAN_KINDS]
    kinds.append(["-bbd_loss", "ce", "-bbd_periodic", "0", "-bbd_activation", "tanh,sin,gelu,erf", "-bbd_kappa", "1,0,0.01"])
    for kind in kinds:
        run([f] + grid + kind + ["-bbd_tfinal", "0.3", "-bbd_output_dt", "0.3", "-bbd_output", "s.h5"])
        with h5py.File("s.h5", "r") as h:
            check(np.abs(h["state/z_dot"][()]).max() > 0.05 and np.abs(h["state/a_dot"][()]).max() > 0.01,
                  "damped Jacobian %s: the state is nearly at rest; the velocity terms are not tested" % kind)
        for p in (1, 2):
            test_jacobian([f, "-bbd_quiet", "-bbd_init", "s.h5"] + step, p, 1e-7, "damped, " + " ".join(kind))
        if kind is kinds[0]:  # the matrix on the TS layout split in depth (numbered through the DMDA's AO)
            test_jacobian([f, "-bbd_quiet", "-bbd_init", "s.h5", "-da_processors_x", "2"] + step, 2, 1e-7, "damped, 2 x 1 layout, " + " ".join(kind))
    # (2) the same trajectory; -pc_type lu
    run([b, "-bbd_quiet", "-bbd_family", "field", "-bbd_depth", "6", "-bbd_width", "8", "-bbd_dynamics", "damped", "-bbd_gamma", "2",
         "-bbd_output_dt", "0.1", "-bbd_sample_dt", "0.15", "-bbd_tfinal", "0.3", "-bbd_periodic", "0", "-bbd_loss", "ce",
         "-bbd_output", "mid.h5"])
    ini = ["-bbd_init", "mid.h5", "-bbd_tfinal", "0.8", "-bbd_output_dt", "0.1", "-bbd_formulation", "residual", "-ts_type", "beuler",
           "-ts_dt", "0.01", "-ts_adapt_type", "none", "-snes_rtol", "1e-12", "-snes_atol", "1e-14", "-ksp_rtol", "1e-12"]
    for p, name, extra in ((1, "mf1", []), (2, "mf2", []), (1, "as1", ["-bbd_jacobian", "assembled"]),
                           (2, "as2", ["-bbd_jacobian", "assembled"]), (1, "lu1", ["-bbd_jacobian", "assembled", "-pc_type", "lu"])):
        out = run([f] + ini + extra + ["-bbd_output", name + ".h5"], nproc=p).stdout
        if name == "lu1":
            newton, krylov = solver_line(out)
            check(krylov == newton, "damped, -pc_type lu with the assembled Jacobian: %d Krylov iterations for %d Newton steps" % (krylov, newton))
        if name.startswith("mf"):
            continue
        for q in ("z", "a", "b", "a_dot", "b_dot", "loss"):
            ref, got = traj("mf%d.h5" % p, q), traj(name + ".h5", q)
            e = np.abs(got - ref).max() / np.abs(ref).max()
            check(e < 1e-10, "damped, %s vs the matrix-free Jacobian on %d ranks: /trajectory/%s differs by %.2e" % (name, p, q, e))


def xdmf_check(xdmf, h5, expect):
    """Every temporal collection of the .xdmf: one grid per saved time with the file's times, and
    each attribute a hyperslab of an existing dataset (declared shape = the dataset's) whose
    selection is slice t (and component j) with the topology's shape; expect maps collection names
    to their attribute names."""
    import xml.etree.ElementTree as ET
    root = ET.parse(xdmf).getroot()
    topos = root.findall("Domain/Topology")
    colls = {c.get("Name"): c for c in root.findall("Domain/Grid")}
    check(sorted(colls) == sorted(expect), "%s: collections %s, expected %s" % (xdmf, sorted(colls), sorted(expect)))
    with h5py.File(h5, "r") as h:
        times = h["trajectory/time"][()]
        for ci, (name, coll) in enumerate(colls.items()):
            shape = tuple(int(v) for v in topos[ci].get("Dimensions").split())
            grids = coll.findall("Grid")
            check(len(grids) == len(times), "%s: %d grids in %s for %d saved times" % (xdmf, len(grids), name, len(times)))
            for t, g in enumerate(grids):
                check(abs(float(g.find("Time").get("Value")) - times[t]) <= 1e-15 * max(1, abs(times[t])), "%s: time %d" % (xdmf, t))
                attrs = {x.get("Name"): x for x in g.findall("Attribute")}
                check(sorted(attrs) == sorted(expect[name]), "%s: %s attributes %s, expected %s" % (xdmf, name, sorted(attrs), sorted(expect[name])))
                for an, x in attrs.items():
                    sel, ref = x.findall("DataItem/DataItem")
                    fname, path = ref.text.strip().split(":")
                    check(fname == h5 and path in h, "%s: reference %s" % (xdmf, ref.text))
                    dims = tuple(int(v) for v in ref.get("Dimensions").split())
                    check(dims == h[path].shape, "%s: %s declares %s, the file has %s" % (xdmf, path, dims, h[path].shape))
                    v = [int(s) for s in sel.text.split()]
                    r = len(dims)
                    start, stride, count = v[:r], v[r:2 * r], v[2 * r:]
                    comp = [int(an.split("_")[1])] if r == 4 else []
                    check(start == [t] + comp + [0, 0] and stride == [1] * r and tuple(count) == (1,) * (r - 2) + shape,
                          "%s: %s at t %d selects %s" % (xdmf, an, t, v))
                    base = an[:-4] if an.endswith("_dot") else an
                    want = ("a" if base.startswith("a_") else base) + ("_dot" if an.endswith("_dot") else "")
                    check(path == "/trajectory/" + want, "%s: %s reads %s" % (xdmf, an, path))


def case_field_xdmf(b):
    """The .xdmf beside a bbd-field result (ParaView) describes what the .h5 holds: lattice mode z on
    the grid and a_j, b on the layer grid; continuum mode z and a_j on the grid; the velocities too
    in damped dynamics."""
    aj = ["a_0", "a_1", "a_2"]
    dots = ["a_0_dot", "a_1_dot", "a_2_dot"]
    for dyn in ("flow", "damped"):
        d = dyn == "damped"
        run([field_bin(b), "-bbd_quiet", "-bbd_depth", "4", "-bbd_width", "8", "-bbd_tfinal", "0.2", "-bbd_output_dt",
             "0.1", "-bbd_dynamics", dyn, "-bbd_output", "x%s.h5" % dyn])
        xdmf_check("x%s.xdmf" % dyn, "x%s.h5" % dyn,
                   {"trajectory": ["z"], "layers": aj + ["b"] + (dots + ["b_dot"] if d else [])})
        run([field_bin(b), "-bbd_quiet", "-bbd_mode", "continuum", "-da_grid_x", "9", "-da_grid_y", "8", "-bbd_tfinal", "0.1",
             "-bbd_output_dt", "0.05", "-bbd_dynamics", dyn, "-bbd_output", "xc%s.h5" % dyn])
        xdmf_check("xc%s.xdmf" % dyn, "xc%s.h5" % dyn, {"trajectory": ["z"] + aj + (["z_dot"] + dots if d else [])})


FIELD_BAD = [
    (["-bbd_sweep_ghost", "5"], "-bbd_sweep_ghost"),  # 2 ranks own 4 width columns each
    (["-bbd_sweep_ghost", "-1"], "-bbd_sweep_ghost"),
    (["-bbd_mode", "continuum", "-bbd_activation", "relu"], "relu"),
    (["-bbd_mode", "continuum", "-bbd_init", "nothere.h5"], "-bbd_init"),
    (["-bbd_mode", "continuum", "-bbd_formulation", "residual", "-ts_type", "arkimex", "-ts_arkimex_type", "2e"], "-ts_arkimex_type 2e"),
    (["-da_processors_x", "3"], "-da_processors_x 3 does not divide"),
    (["-da_processors_x", "2", "-da_processors_y", "2"], "-da_processors_y 2 is 4"),
    (["-bbd_mode", "continuum", "-da_grid_x", "2"], "-da_grid_x"),
    (["-bbd_mode", "continuum", "-bbd_activation", "tanh,sin,tanh,tanh"], "-bbd_activation"),
    (["-bbd_mode", "spectral"], "-bbd_mode"),
    (["-bbd_family", "dense"], "dense"),
    (["-bbd_dynamics", "sgd"], "-bbd_dynamics sgd"),
    (["-bbd_batch", "2"], "-bbd_batch"),
    (["-da_grid_x", "9"], "-da_grid_x"),
    (["-da_grid_y", "7"], "-da_grid_y"),
    (["-da_refine", "1"], "-da_refine"),
    (["-bbd_init", "nothere.h5"], "nothere.h5"),
    (["-bbd_jacobian", "dense"], "-bbd_jacobian"),
    (["-bbd_formulation", "residual", "-pc_type", "lu"], "-bbd_jacobian assembled"),
    (["-bbd_jacobian", "assembled"], "-bbd_formulation residual"),
    (["-snes_fd_color"], "-snes_fd_color"),
    (["-snes_fd"], "-snes_fd"),
    (["-bbd_mode", "continuum", "-snes_fd_color"], "add -bbd_formulation residual"),  # the sweep formulation; continuum's residual form takes it
    (["-bbd_mode", "continuum", "-bbd_formulation", "residual", "-pc_type", "lu"], "-snes_fd_color"),
    (["-bbd_formulation", "residual", "-snes_fd_color", "-snes_fd"], "choose one"),
    # a Newton failure ends the run with a message when retries are off (-ts_max_snes_failures 1,
    # PETSc's default) or when every allowed retry fails (here 2, down to dt/16); without the limit
    # one Newton iteration converges at dt ~ 1e-9 and the segment crawls on
    (["-bbd_formulation", "residual", "-snes_max_it", "1", "-ts_adapt_type", "none", "-ts_max_snes_failures", "1"], "try a smaller -ts_dt"),
    (["-bbd_formulation", "residual", "-snes_max_it", "1", "-ts_adapt_type", "none", "-ts_max_reject", "2"], "-ts_max_reject times"),
    (["-bbd_dynamics", "damped", "-bbd_formulation", "residual", "-pc_type", "lu"], "-bbd_jacobian assembled"),
    (["-bbd_switch", "tsevents"], "-bbd_switch"),
    (["-bbd_mode", "continuum", "-bbd_switch", "events"], "-bbd_switch events"),
    (["-bbd_switch", "events", "-bbd_sample_dt", "0.1", "-ts_type", "euler"], "-ts_type euler"),
]


def case_field_badinput(b):
    """bbd-field refuses what it cannot do with an error naming it, and leaves no output."""
    for opts, word in FIELD_BAD:
        for f in os.listdir("."):
            os.remove(f)
        nproc = 2 if "-da_processors_x" in opts or "-bbd_sweep_ghost" in opts else 1
        p = run([field_bin(b), "-bbd_quiet", "-bbd_depth", "4", "-bbd_width", "8", "-bbd_output", "out.h5"] + opts,
                nproc=nproc, expect_ok=False)
        text = p.stdout + p.stderr
        check(p.returncode > 0, "bbd-field %s: exit code %d" % (opts, p.returncode))
        check(word in text, "bbd-field %s: the message does not name %r:\n%s" % (opts, word, text[:1500]))
        check(not [f for f in os.listdir(".") if f.startswith("out.")], "bbd-field %s: left output behind" % opts)


def case_help(b):
    """-help of every executable: the contract's options and ours, each bbd option listed once with its
    full default (lists in full), under the program's own heading and before PETSc's general options;
    bbd-field lists its grid options and its introduction names every mode and formulation; bbd-compare
    lists its own options and its runs' once each; -help runs nothing."""
    def options(text):
        return [l.split()[0].rstrip(":") for l in text.splitlines() if l.startswith("  -bbd_") or l.startswith("  -da_grid_")]

    def once_before_petsc(name, text):
        opts = options(text)
        dup = sorted(set(o for o in opts if opts.count(o) > 1))
        check(not dup, "%s -help lists %s more than once" % (name, dup))
        first, petsc = text.find("\n  -bbd_"), text.find("Options for all PETSc programs")
        check(0 <= first < petsc, "%s -help: the bbd options do not come before PETSc's general options" % name)

    p = run([b, "-help"])
    for opt in ["-bbd_family", "-bbd_depth", "-bbd_width", "-bbd_widths", "-bbd_activation", "-bbd_loss",
                "-bbd_dynamics", "-bbd_eta", "-bbd_gamma", "-bbd_kappa", "-bbd_tfinal", "-bbd_output_dt",
                "-bbd_init", "-bbd_output", "-bbd_sample_dt", "-bbd_sample_order", "-bbd_seed", "-bbd_mode",
                "-bbd_batch", "-bbd_data", "-bbd_nsamples", "-bbd_residual", "-bbd_h", "-bbd_periodic", "-ts_type"]:
        check(opt in p.stdout, "-help does not list %s" % opt)
    check("-bbd_kappa <1.,0.1,0.>" in p.stdout, "bbd-net -help: -bbd_kappa without its full default 1,0.1,0")
    once_before_petsc("bbd-net", p.stdout)
    check(not os.path.exists("bbd-net.h5"), "bbd-net -help ran the training")
    p = run([field_bin(b), "-help"])
    for opt in ["-bbd_mode", "-bbd_formulation", "-bbd_jacobian", "-bbd_sweep_ghost", "-da_grid_x", "-da_grid_y", "-ts_type"]:
        check(opt in p.stdout, "bbd-field -help does not list %s" % opt)
    check("-bbd_kappa <1.,0.1,0.>" in p.stdout, "bbd-field -help: -bbd_kappa without its full default 1,0.1,0")
    once_before_petsc("bbd-field", p.stdout)
    intro = p.stdout[:p.stdout.find("\n  -bbd_")]
    for word in ("lattice", "continuum", "sweep", "residual", "damped"):
        check(word in intro, "bbd-field -help: the introduction does not describe %s" % word)
    check(not os.path.exists("bbd-field.h5"), "bbd-field -help ran the solver")
    p = run([compare_bin(b), "-help"])
    for opt in ["-bbd_resolutions", "-bbd_reference_grid", "-bbd_compare_times", "-bbd_tfinal", "-bbd_output", "-bbd_init",
                "-bbd_kappa", "-bbd_formulation", "-ts_type"]:
        check(opt in p.stdout, "bbd-compare -help does not list %s" % opt)
    check("-bbd_resolutions <8,16,32,64>" in p.stdout, "bbd-compare -help: -bbd_resolutions without its full default 8,16,32,64")
    once_before_petsc("bbd-compare", p.stdout)
    check(not os.path.exists("compare.h5"), "bbd-compare -help ran the comparison")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("case")
    ap.add_argument("--bin", required=True)
    ap.add_argument("--src", default=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    a = ap.parse_args()
    b = os.path.abspath(a.bin)
    with tempfile.TemporaryDirectory(prefix="bbd-test-") as d:
        os.chdir(d)
        if a.case.startswith("restart-"):
            case_restart(b, a.case.split("-", 1)[1])
        elif a.case == "reference":
            case_reference(b, a.src)
        elif a.case == "meshes":
            case_meshes(b, a.src)
        else:
            globals()["case_" + a.case.replace("-", "_")](b)
    if FAILS:
        print("\n".join("FAIL " + f for f in FAILS))
        sys.exit(1)


if __name__ == "__main__":
    main()
