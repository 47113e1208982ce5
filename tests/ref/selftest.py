#!/usr/bin/python3
"""Self-test of check_bbd.py: reference files from refgen.py (an independent implementation) must
pass; deliberately corrupted copies must be rejected (exit 1).
Usage: /usr/bin/python3 tests/ref/selftest.py [WORKDIR]   (about a minute)"""
import os
import shutil
import subprocess
import sys
import tempfile

import h5py
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import refgen  # noqa: E402
from check_bbd import Net, read_file, load_theta  # noqa: E402

CHECK = [sys.executable, os.path.join(HERE, "check_bbd.py")]


def net_of(path):
    f, a = read_file(path)
    f.close()
    return Net(a["family"], a["widths"], a["acts"], a["rho"], a["h"], a["eta"], a["gamma"], a["kappa"], a["periodic"],
               a["loss"]), a


def first_sample_flux(f):  # a typical batch bug: the flux of the first sample only
    net, a = net_of(f.filename)
    X, Y = f["data/X"][:], f["data/Y"][:]
    for t in range(len(f["trajectory/time"])):
        s0 = f["trajectory/sample"][t]
        idx = [(s0 + i) % len(X) for i in range(a["batch"])]
        d = net.diagnostics(load_theta(f, a, t), None, X[idx], Y[idx], "flow")
        f["trajectory/flux"][t] = [-net.eta * net.w * d["lams"][0][k] @ d["dzs"][0][k] for k in range(net.M + 1)]


def first_sample_loss(f):  # loss of the first sample instead of the batch mean (L, L_boundary consistent)
    net, a = net_of(f.filename)
    X, Y = f["data/X"][:], f["data/Y"][:]
    for t in range(len(f["trajectory/time"])):
        s0 = f["trajectory/sample"][t]
        th = load_theta(f, a, t)
        dl = net.backward(th, net.forward(th, X[s0]), Y[s0])[0] - f["trajectory/loss"][t]
        f["trajectory/loss"][t] += dl
        f["trajectory/L"][t] -= dl
        f["trajectory/L_boundary"][t] -= dl


def scale(path, fac, index=None):
    def fn(f):
        d = f[path]
        if index is None:
            d[...] = d[...] * fac
        else:
            d[index] = d[index] * fac
    return fn


CORRUPT = [
    ("field_flow_b1.h5", "flux * (1 + 1e-7) at one entry", scale("trajectory/flux", 1 + 1e-7, (3, 2))),
    ("field_flow_b1.h5", "a_1 entry + 1e-9", lambda f: f["trajectory/a"].__setitem__((2, 1, 3, 4), f["trajectory/a"][2, 1, 3, 4] + 1e-9)),
    ("field_damped_ce.h5", "energy_rate sign", scale("trajectory/energy_rate", -1)),
    ("field_damped_ce.h5", "dissipation = T_m (not gamma T_m)", lambda f: f["trajectory/dissipation"].__setitem__(slice(None), f["trajectory/layer_kinetic"][:])),
    ("field_flow_b2_np.h5", "flux of the first sample only", first_sample_flux),
    ("field_flow_b2_np.h5", "periodic attribute flipped", lambda f: f.attrs.__setitem__("periodic", np.int32(1))),
    ("dense_flow.h5", "L_bulk +1e-6, L_boundary -1e-6", lambda f: (f["trajectory/L_bulk"].__setitem__(1, f["trajectory/L_bulk"][1] + 1e-6), f["trajectory/L_boundary"].__setitem__(1, f["trajectory/L_boundary"][1] - 1e-6))),
    ("dense_damped_eq.h5", "symmetry defect sign", scale("trajectory/symmetry_defect", -1)),
    ("field_sgd_kl.h5", "sample index shifted", lambda f: f["trajectory/sample"].__setitem__(slice(None), (f["trajectory/sample"][:] + 1) % 4)),
    ("dense_sgd_hinge.h5", "loss of the first sample, not the batch", first_sample_loss),
    ("field_flow_b1.h5", "missing dataset", lambda f: f.__delitem__("trajectory/flux")),
    ("field_flow_b1.h5", "h attribute 1/M -> 1/(M+1)", lambda f: f.attrs.__setitem__("h", 1.0 / 7)),
]


def main():
    work = sys.argv[1] if len(sys.argv) > 1 else tempfile.mkdtemp(prefix="check_bbd_selftest.")
    os.makedirs(work, exist_ok=True)
    bad = 0
    for path in refgen.write_all(work):
        r = subprocess.run(CHECK + [path], capture_output=True, text=True)
        print("%-50s %s" % (os.path.basename(path), "accepted" if r.returncode == 0 else "REJECTED (wrong)"))
        if r.returncode:
            print(r.stdout)
        bad += r.returncode != 0
    for i, (src, what, fn) in enumerate(CORRUPT):
        dst = os.path.join(work, "corrupt_%02d.h5" % i)
        shutil.copy(os.path.join(work, src), dst)
        with h5py.File(dst, "r+") as f:
            fn(f)
        r = subprocess.run(CHECK + [dst], capture_output=True, text=True)
        fails = [l.split()[0] for l in r.stdout.splitlines() if "FAIL" in l and not l.startswith("RESULT")]
        print("%-50s %s %s" % (src + ": " + what, "rejected" if r.returncode else "ACCEPTED (wrong)", ",".join(fails)))
        bad += r.returncode == 0
    # self-consistent at every saved time, but not a solution of the dynamics
    for what, kw in (("coarse RK4 step 0.05", dict(step=0.05)), ("time axis * 1.001", dict(time_scale=1.001, sample_dt=0))):
        dst = os.path.join(work, "corrupt_traj_%d.h5" % len(what))
        refgen.run(dst, "field", [8] * 5, ("tanh",), "mse", "flow", seed=5, **kw)
        r = subprocess.run(CHECK + [dst], capture_output=True, text=True)
        fails = [l.split()[0] for l in r.stdout.splitlines() if "FAIL" in l and not l.startswith("RESULT")]
        print("%-50s %s %s" % ("trajectory: " + what, "rejected" if r.returncode else "ACCEPTED (wrong)", ",".join(fails)))
        bad += r.returncode == 0
    print("selftest:", "FAIL" if bad else "PASS", "(%s)" % work)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
