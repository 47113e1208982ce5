#!/usr/bin/python3
"""End-to-end tests of bbd-net (discrete networks): restarts, ranks, sample order, the damped
limits, the independent reference checker, Fashion-MNIST.

Usage: /usr/bin/python3 tests/e2e/net.py CASE --bin BUILD/bin/bbd-net [--src SOURCE_DIR]
(tests/e2e/common.py); every case is a CTest test of the same name.
"""
import os
import subprocess
import sys

import numpy as np

from common import ENV, SMALL, check, h5py, main, run, traj


def final_state(path):
    with h5py.File(path, "r") as f:
        return np.concatenate([f["state/a"][()].ravel(), f["state/b"][()].ravel()])


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


CASES = {
    "net-restart-flow": lambda b, src: case_restart(b, "flow"),
    "net-restart-damped": lambda b, src: case_restart(b, "damped"),
    "net-restart-sgd": lambda b, src: case_restart(b, "sgd"),
    "net-mpi": lambda b, src: case_mpi(b),
    "net-order": lambda b, src: case_order(b),
    "net-damped-limit": lambda b, src: case_damped_limit(b),
    "net-damped-rate": lambda b, src: case_damped_rate(b),
    "net-reference": lambda b, src: case_reference(b, src),
    "net-fashion": lambda b, src: case_fashion(b),
}

if __name__ == "__main__":
    main(CASES)
