#!/usr/bin/python3
"""End-to-end tests of bbd-net (run by CTest; silent on success, exit 1 with a reason on failure).

Usage: /usr/bin/python3 tests/cases.py CASE --bin BUILD/bin/bbd-net [--src SOURCE_DIR]
Cases: restart-flow, restart-damped, restart-sgd, mpi, order, damped-limit, damped-rate,
badinput, reference, fashion, help.
"""
import argparse
import os
import subprocess
import sys
import tempfile

import numpy as np

try:
    import h5py
except ImportError:  # the CI installs python3-h5py; say so instead of a traceback
    sys.exit("tests/cases.py needs h5py: apt-get install python3-h5py")

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
    dynamics, both families, a restart, and an error path (a truncated -bbd_init file)."""
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
        [f, "-bbd_quiet", "-bbd_depth", "3", "-bbd_width", "5", "-bbd_formulation", "residual", "-ts_dt", "0.01",
         "-bbd_tfinal", "0.02", "-bbd_output", "vf2.h5"],
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


def case_field_restart(b):
    """bbd-field: a run to T and a run to T/2 restarted from its file (/state holds z) to T give
    the same trajectory, bitwise, with random sample switching."""
    f = field_bin(b)
    opts = SMALL + ["-bbd_sample_dt", "0.15", "-bbd_sample_order", "random", "-bbd_output_dt", "0.1",
                    "-ts_adapt_type", "basic"]
    run([f] + opts + ["-bbd_tfinal", "1", "-bbd_output", "full.h5"])
    run([f] + opts + ["-bbd_tfinal", "0.5", "-bbd_output", "half.h5"])
    run([f, "-bbd_quiet", "-bbd_init", "half.h5", "-bbd_tfinal", "1", "-bbd_output", "rest.h5", "-ts_adapt_type", "basic"])
    for q in ["time", "z", "a", "b", "loss", "L", "flux", "sample"]:
        check(np.array_equal(traj("full.h5", q)[5:], traj("rest.h5", q)),
              "field restart: /trajectory/%s differs from the uninterrupted run" % q)


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


def case_field_continuum(b):
    """Continuum mode: self-convergence at second order in the grid spacing (depth and width
    refined together, smooth built-in fields, tight TS tolerances; injection onto the coarse
    points), errors falling monotonically; the same fields on 1, 2 and 3 ranks; the output flux
    J(1) = -eta dl/dt against a time difference of the saved loss."""
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
    t, l, J = traj("cl.h5", "time"), traj("cl.h5", "loss"), traj("cl.h5", "flux")
    dl = (l[2:] - l[:-2]) / (t[2:] - t[:-2])
    rel = np.abs(-0.8 * dl - J[1:-1, -1]).max() / np.abs(J[:, -1]).max()
    check(rel < 1e-3, "continuum: J(1) differs from -eta dl/dt by %.2e (relative)" % rel)


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
    check(len(rows) == 8, "compare: the two tables have %d rows:\n%s" % (len(rows), p.stdout))
    later, rows = rows[4:], rows[:4]
    with h5py.File("compare.h5", "r") as f:
        times, ezt = f["convergence/times"][()], f["convergence/error_z_at_times"][()]
    check(list(times) == [0.5, 1.0], "compare: chosen times %s" % times)
    check(np.allclose(ezt[:, -1], ez, rtol=1e-14), "compare: Z distance at tfinal differs between the tables")
    check(np.allclose([[float(v) for v in r[1:]] for r in later], ezt, rtol=1e-4), "compare: second table != compare.h5")
    for r, row in enumerate(rows):
        printed = [float(v) for v in row[2:3] + row[4:4 + ea.shape[1]] + row[4 + ea.shape[1]:5 + ea.shape[1]]]
        stored = [ez[r]] + list(ea[r]) + [el[r]]
        check(np.allclose(printed, stored, rtol=1e-4, atol=1e-300), "compare: row %d printed %s, stored %s" % (r, printed, stored))
        if r:
            check(abs(float(row[-1]) - order[r - 1]) < 1e-3, "compare: printed order %s, stored %s" % (row[-1], order[r - 1]))
    for fig in ("compare-convergence.png", "compare-fields.png", "compare-flux.png"):
        check(os.path.exists(fig) and os.path.getsize(fig) > 1000, "compare: figure %s missing" % fig)
    p = run([compare_bin(b), "-bbd_resolutions", "8,16", "-bbd_output", "np.h5", "-bbd_plot_script", "/nonexistent.py"])
    check("not drawn" in p.stdout + p.stderr and os.path.exists("np.h5"), "compare without plotting: no note or no result")
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
    p = run([f, "-bbd_depth", "16", "-bbd_width", "16", "-bbd_formulation", "residual", "-pc_type", "none",
             "-ksp_max_it", "300", "-bbd_output", "rn.h5"] + step, expect_ok=False)
    lines = [l for l in p.stdout.splitlines() if l.startswith("solver:")]
    check(p.returncode != 0 or float(lines[0].split("(")[1].split()[0]) > 10 * per[0],
          "residual form without the sweep preconditioner converged as fast: the test no longer shows what the preconditioner does")


def solver_line(out):
    """(Newton, Krylov) iteration totals from bbd-field's 'solver:' line."""
    w = [l for l in out.splitlines() if l.startswith("solver:")][0].split()
    return int(w[w.index("Newton") - 1]), int(w[w.index("Krylov") - 1])


def case_field_jacobian(b):
    """The assembled analytic Jacobian of the residual formulation (docs/theory.md section 14):
    (1) -snes_test_jacobian: ||J - Jfd||_F/||J||_F < 1e-6 for mse, ce, kl (and hinge), periodic and
    zero-padded width, tanh and softplus (sigma'' not odd), on 1 and 2 ranks. The finite-difference
    Jacobian's own truncation error is about 1e-7 of ||J|| here (entries up to shift/h and 1/dy^2); a
    missing or wrong block shows as 1e-4 or more. (2) assembled and matrix-free runs give the same
    trajectory (1e-9) and bbd-net's (1e-8, as net-field-residual) with tight adaptive BDF. (3) Krylov
    iterations per Newton step with the sweep preconditioner at M = N = 32..256 (stable networks:
    a_2 scaled to stability number 0.24, time step dt = 0.32/N, i.e. dt times the largest stencil
    rate fixed) stay flat: max/min < 1.5. (4) -pc_type lu solves each Newton system in one
    iteration with the assembled matrix; mf with -pc_type lu is refused with a message."""
    f = field_bin(b)
    one = ["-bbd_quiet", "-bbd_depth", "4", "-bbd_width", "6", "-bbd_formulation", "residual",
           "-bbd_jacobian", "assembled", "-ts_type", "beuler", "-ts_dt", "0.01", "-ts_adapt_type", "none",
           "-bbd_tfinal", "0.01", "-bbd_output_dt", "0.01", "-bbd_output", "tj.h5", "-snes_test_jacobian"]
    worst = 0
    for p in (1, 2):
        for loss in ("mse", "ce", "kl", "hinge"):
            for per in ("1", "0"):
                for act in ("tanh", "softplus"):
                    if loss == "hinge" and (act != "tanh" or per != "1"):
                        continue
                    out = run([f] + one + ["-bbd_loss", loss, "-bbd_periodic", per, "-bbd_activation", act], nproc=p).stdout
                    rel = [float(l.split("=")[1].split(",")[0]) for l in out.splitlines() if "||J - Jfd||_F/||J||_F =" in l]
                    check(len(rel) >= 2, "-snes_test_jacobian printed %d comparisons (%s, %s, %s, %d ranks)" % (len(rel), loss, per, act, p))
                    check(rel and max(rel) < 1e-6, "analytic Jacobian: ||J - Jfd||/||J|| = %s (%s, periodic %s, %s, %d ranks)" % (rel, loss, per, act, p))
                    worst = max([worst] + rel)
    print("field-jacobian: worst ||J - Jfd||_F/||J||_F = %.2e" % worst)
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
    print("field-jacobian: Krylov per Newton, N = 32, 64, 128, 256: dt = 0.32/N %s; dt = 0.001 %s"
          % (["%.2f" % v for v in per], ["%.2f" % v for v in fixed]))
    check(max(per) / min(per) < 1.5 and max(per) <= 5, "Krylov iterations per Newton step not flat: %s" % per)
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


def case_field_xdmf(b):
    """The .xdmf beside a bbd-field result is well-formed XML whose HDF5 references exist with the
    shapes it declares, one grid per saved time."""
    import xml.etree.ElementTree as ET
    run([field_bin(b), "-bbd_quiet", "-bbd_depth", "4", "-bbd_width", "8", "-bbd_tfinal", "0.2", "-bbd_output_dt",
         "0.1", "-bbd_output", "x.h5"])
    root = ET.parse("x.xdmf").getroot()
    topo = root.find("Domain/Topology")
    check(topo.get("Dimensions") == "5 8", "xdmf topology %s" % topo.get("Dimensions"))
    grids = root.findall("Domain/Grid/Grid")
    with h5py.File("x.h5", "r") as h:
        T = h["trajectory/time"].shape[0]
        check(len(grids) == T, "xdmf has %d grids for %d saved times" % (len(grids), T))
        for g in grids:
            items = g.findall("Attribute/DataItem/DataItem")
            fname, path = items[1].text.strip().split(":")
            check(fname == "x.h5" and path in h, "xdmf reference %s" % items[1].text)
            check(tuple(int(v) for v in items[1].get("Dimensions").split()) == h[path].shape, "xdmf shape mismatch")


FIELD_BAD = [
    (["-bbd_mode", "continuum", "-bbd_activation", "relu"], "relu"),
    (["-bbd_mode", "continuum", "-bbd_init", "nothere.h5"], "-bbd_init"),
    (["-bbd_mode", "continuum", "-bbd_sample_dt", "0.1"], "-bbd_sample_dt"),
    (["-bbd_mode", "continuum", "-da_grid_x", "2"], "-da_grid_x"),
    (["-bbd_mode", "continuum", "-bbd_activation", "tanh,sin,tanh,tanh"], "-bbd_activation"),
    (["-bbd_mode", "spectral"], "-bbd_mode"),
    (["-bbd_family", "dense"], "dense"),
    (["-bbd_dynamics", "damped"], "damped"),
    (["-bbd_batch", "2"], "-bbd_batch"),
    (["-da_grid_x", "9"], "-da_grid_x"),
    (["-da_grid_y", "7"], "-da_grid_y"),
    (["-da_processors_x", "2", "-da_processors_y", "1"], "-da_processors_x"),
    (["-bbd_init", "nothere.h5"], "nothere.h5"),
    (["-bbd_jacobian", "dense"], "-bbd_jacobian"),
    (["-bbd_formulation", "residual", "-pc_type", "lu"], "-bbd_jacobian assembled"),
]


def case_field_badinput(b):
    """bbd-field refuses what it cannot do with an error naming it, and leaves no output."""
    for opts, word in FIELD_BAD:
        for f in os.listdir("."):
            os.remove(f)
        nproc = 2 if "-da_processors_x" in opts else 1
        p = run([field_bin(b), "-bbd_quiet", "-bbd_depth", "4", "-bbd_width", "8", "-bbd_output", "out.h5"] + opts,
                nproc=nproc, expect_ok=False)
        text = p.stdout + p.stderr
        check(p.returncode > 0, "bbd-field %s: exit code %d" % (opts, p.returncode))
        check(word in text, "bbd-field %s: the message does not name %r:\n%s" % (opts, word, text[:1500]))
        check(not [f for f in os.listdir(".") if f.startswith("out.")], "bbd-field %s: left output behind" % opts)


def case_help(b):
    """-help lists every -bbd_ option (the contract's and ours)."""
    p = run([b, "-help"])
    for opt in ["-bbd_family", "-bbd_depth", "-bbd_width", "-bbd_widths", "-bbd_activation", "-bbd_loss",
                "-bbd_dynamics", "-bbd_eta", "-bbd_gamma", "-bbd_kappa", "-bbd_tfinal", "-bbd_output_dt",
                "-bbd_init", "-bbd_output", "-bbd_sample_dt", "-bbd_sample_order", "-bbd_seed", "-bbd_mode",
                "-bbd_batch", "-bbd_data", "-bbd_nsamples", "-bbd_residual", "-bbd_h", "-bbd_periodic", "-ts_type"]:
        check(opt in p.stdout, "-help does not list %s" % opt)


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
