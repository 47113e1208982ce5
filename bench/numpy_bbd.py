#!/usr/bin/python3
"""Plain NumPy reference for the bbd-net benchmark (bench/run.sh).

The way a researcher writes it today: one Python loop over layers, every
layer vectorised over width (and over the samples of a batch), np.roll for
the periodic width stencils, batched matmuls for the dense family. It
integrates the same training dynamics as bbd-net (docs/theory.md sections
1-5, docs/theory/conventions.md) from the state in an HDF5 file that bbd-net wrote:

  field family  z^(m+1) = z^(m) + h (sum_j a_j^(m) .* D_j sigma(z^(m)) + b^(m)),
                D_0 = I, D_1 = centred first difference, D_2 = second difference
                (periodic: np.roll; otherwise zero padding), dy = 1/N, h = 1/M
  dense family  z^(m+1) = rho z^(m) + h (W^(m) sigma(z^(m)) + b^(m))
  loss          l = w sum_i ell_i (w = dy field, 1 dense); lam^(M) = (1/w) dl/dZ
  backprop      lam^(m) = rho lam^(m+1) + h sigma'(z^(m)) .* Phi_m^T lam^(m+1)
  velocity      field: da_j = -eta kappa_j mean_s lam^(m+1) .* D_j sigma(z^(m)),
                       db   = -eta mean_s lam^(m+1)
                dense: dW = -eta h mean_s lam^(m+1) sigma(z^(m))^T, db = -eta h mean_s lam^(m+1)
                       (h = 1 in the dense family)
  flow          fixed-step classic RK4 of d theta/dt = velocity
  sgd           theta <- theta + velocity of batch k, k = 0, 1, ... (one step = one unit of time)

Batch in use at time t: k = floor((t + 1e-12) / sample_dt) (sample_dt <= 0: k = 0),
samples (k B .. k B + B - 1) mod S (cyclic order only).

Only the integration loop is timed (no file I/O). Output: key = value lines on
standard output (run.sh parses them) and, with --output, the final state in the
same HDF5 layout (/state/...).

Usage:
  /usr/bin/python3 bench/numpy_bbd.py INIT.h5 [--dynamics flow|sgd] [--tfinal T]
      [--dt DT] [--batch B] [--sample-dt TAU] [--output OUT.h5] [--compare REF.h5]
      [--repeat R]
"""
import argparse
import math
import sys
import time

import h5py
import numpy as np

try:
    from scipy.special import erf as _erf, erfc as _erfc
except ImportError:  # plain NumPy fallback (slow, only for erf/gelu)
    _erf = np.vectorize(math.erf, otypes=[float])
    _erfc = np.vectorize(math.erfc, otypes=[float])


# ---------------------------------------------------------------- activations
def activation(name):
    """Return f(z) -> (sigma(z), sigma'(z))."""
    name = name.lower()
    if name == "tanh":
        def f(z):
            s = np.tanh(z)
            return s, 1.0 - s * s
    elif name == "erf":
        def f(z):
            return _erf(z), (2.0 / math.sqrt(math.pi)) * np.exp(-z * z)
    elif name == "sigmoid":
        def f(z):
            s = 0.5 * (1.0 + np.tanh(0.5 * z))
            return s, s * (1.0 - s)
    elif name == "softplus":
        def f(z):
            return np.logaddexp(0.0, z), 0.5 * (1.0 + np.tanh(0.5 * z))
    elif name == "gelu":
        def f(z):
            Phi = 0.5 * _erfc(-z / math.sqrt(2.0))
            return z * Phi, Phi + z * np.exp(-0.5 * z * z) / math.sqrt(2 * math.pi)
    elif name == "swish":
        def f(z):
            g = 0.5 * (1.0 + np.tanh(0.5 * z))
            return z * g, g + z * g * (1.0 - g)
    elif name == "sin":
        def f(z):
            return np.sin(z), np.cos(z)
    elif name == "linear":
        def f(z):
            return z, np.ones_like(z)
    elif name == "relu":
        def f(z):
            return np.maximum(z, 0.0), (z > 0).astype(z.dtype)
    else:
        raise SystemExit(f"numpy_bbd: unknown activation {name!r}")
    return f


# ---------------------------------------------------------------- losses
def loss_and_lam(kind, Z, Y, w):
    """Per-sample losses l_s [B] and lam = (1/w) dl/dZ [B, n] (rows are samples)."""
    if kind == "mse":
        r = Z - Y
        return 0.5 * w * np.sum(r * r, axis=1), r
    if kind in ("ce", "kl"):
        zmax = Z.max(axis=1, keepdims=True)
        logp = Z - zmax - np.log(w * np.sum(np.exp(Z - zmax), axis=1, keepdims=True))
        p = np.exp(logp)
        sumy = Y.sum(axis=1, keepdims=True)
        lam = w * sumy * p - Y
        if kind == "ce":
            l = -w * np.sum(np.where(Y != 0, Y * logp, 0.0), axis=1)
        else:
            Ys = np.where(Y > 0, Y, 1.0)
            l = w * np.sum(np.where(Y != 0, Y * (np.log(Ys) - logp), 0.0), axis=1)
        return l, lam
    if kind == "hinge":
        margin = 1.0 - Y * Z
        return w * np.sum(np.maximum(margin, 0.0), axis=1), np.where(margin > 0, -Y, 0.0)
    raise SystemExit(f"numpy_bbd: unknown loss {kind!r}")


# ---------------------------------------------------------------- width stencils
def shift(s, k, periodic):
    """out_i = s_{i+k} along the last axis (k = +-1); zero outside when not periodic."""
    if periodic:
        return np.roll(s, -k, axis=-1)
    out = np.zeros_like(s)
    if k > 0:
        out[..., :-k] = s[..., k:]
    else:
        out[..., -k:] = s[..., :k]
    return out


def stencils(s, nmom, dy, periodic):
    """[D_0 s, ..., D_P s] (P = nmom - 1 <= 2)."""
    out = [s]
    if nmom > 1:
        sp, sm = shift(s, 1, periodic), shift(s, -1, periodic)
        out.append((sp - sm) / (2 * dy))
        if nmom > 2:
            out.append((sp - 2 * s + sm) / (dy * dy))
    return out


def stencil_T(v, j, dy, periodic):
    """D_j^T v, with D_1^T = -D_1 and D_2^T = D_2 (periodic or zero padding)."""
    vp, vm = shift(v, 1, periodic), shift(v, -1, periodic)
    if j == 1:
        return (vm - vp) / (2 * dy)
    return (vp - 2 * v + vm) / (dy * dy)


# ---------------------------------------------------------------- the networks
class FieldNet:
    def __init__(self, cfg):
        self.M, self.N = cfg["depth"], cfg["widths"][0]
        self.rho, self.h, self.eta = cfg["rho"], cfg["h"], cfg["eta"]
        self.kappa = np.asarray(cfg["kappa"], dtype=float)
        self.periodic = bool(cfg["periodic"])
        self.dy = 1.0 / self.N
        self.acts = [activation(a) for a in cfg["activations"]]
        self.loss = cfg["loss"]

    def forward(self, theta, X):
        """z[m] [B, N] and the stored sigma, sigma' of every layer."""
        a, b = theta
        z, S, dS = [X], [], []
        for m in range(self.M):
            s, ds = self.acts[m](z[m])
            D = stencils(s, a.shape[0], self.dy, self.periodic)
            Phi = sum(a[j, m] * D[j] for j in range(a.shape[0]))
            z.append(self.rho * z[m] + self.h * (Phi + b[m]))
            S.append(D)
            dS.append(ds)
        return z, S, dS

    def velocity(self, theta, X, Y):
        """Flow velocity (da, db) of the batch loss, and the batch loss."""
        a, b = theta
        B = X.shape[0]
        z, S, dS = self.forward(theta, X)
        l, lam = loss_and_lam(self.loss, z[-1], Y, self.dy)
        da, db = np.zeros_like(a), np.zeros_like(b)
        for m in range(self.M - 1, -1, -1):
            # lam is lam^(m+1) here
            db[m] = -self.eta * lam.sum(axis=0) / B
            for j in range(a.shape[0]):
                if self.kappa[j] != 0:
                    da[j, m] = -self.eta * self.kappa[j] * np.sum(lam * S[m][j], axis=0) / B
            if m == 0:  # lam^(0) is not needed for the velocity
                break
            # Phi_m^T lam = sum_j D_j^T (a_j .* lam)
            back = a[0, m] * lam
            for j in range(1, a.shape[0]):
                back = back + stencil_T(a[j, m] * lam, j, self.dy, self.periodic)
            lam = self.rho * lam + self.h * dS[m] * back
        return (da, db), l.mean()

    def batch_loss(self, theta, X, Y):
        z, _, _ = self.forward(theta, X)
        return loss_and_lam(self.loss, z[-1], Y, self.dy)[0].mean()


class DenseNet:
    def __init__(self, cfg):
        self.M, self.n = cfg["depth"], cfg["widths"]
        self.rho, self.h, self.eta = cfg["rho"], cfg["h"], cfg["eta"]
        self.acts = [activation(a) for a in cfg["activations"]]
        self.loss = cfg["loss"]

    def forward(self, theta, X):
        W, b = theta
        z, S, dS = [X], [], []
        for m in range(self.M):
            s, ds = self.acts[m](z[m])
            znew = s @ W[m].T + b[m]
            if self.h != 1.0:
                znew *= self.h
            if self.rho != 0.0:
                znew += self.rho * z[m]
            z.append(znew)
            S.append(s)
            dS.append(ds)
        return z, S, dS

    def velocity(self, theta, X, Y):
        W, b = theta
        B = X.shape[0]
        z, S, dS = self.forward(theta, X)
        l, lam = loss_and_lam(self.loss, z[-1], Y, 1.0)
        dW, db = [None] * self.M, [None] * self.M
        for m in range(self.M - 1, -1, -1):
            # dl/dW^(m) = h lam^(m+1) sigma(z^(m))^T; metric 1 (h = 1 unless residual form)
            dW[m] = (-self.eta * self.h / B) * (lam.T @ S[m])
            db[m] = (-self.eta * self.h / B) * lam.sum(axis=0)
            if m > 0:  # lam^(0) is not needed for the velocity
                back = lam @ W[m]
                lam = (self.rho * lam if self.rho != 0.0 else 0.0) + self.h * dS[m] * back
        return (dW, db), l.mean()

    def batch_loss(self, theta, X, Y):
        z, _, _ = self.forward(theta, X)
        return loss_and_lam(self.loss, z[-1], Y, 1.0)[0].mean()


# ---------------------------------------------------------------- state algebra
def axpy(theta, alpha, v):
    """theta + alpha v for the (params, biases) pair (arrays or lists of arrays)."""
    out = []
    for t, d in zip(theta, v):
        if isinstance(t, list):
            out.append([ti + alpha * di for ti, di in zip(t, d)])
        else:
            out.append(t + alpha * d)
    return tuple(out)


def flatten(theta):
    parts = []
    for t in theta:
        parts.extend(t if isinstance(t, list) else [t])
    return np.concatenate([np.ravel(p) for p in parts])


# ---------------------------------------------------------------- file I/O
def _str(v):
    if isinstance(v, bytes):
        return v.decode()
    if isinstance(v, np.ndarray):
        if v.shape == () or v.size == 1:
            return _str(v.reshape(-1)[0])
        return [_str(x) for x in v]
    return str(v)


def read_file(path):
    with h5py.File(path, "r") as f:
        at = f.attrs
        cfg = {}
        cfg["family"] = _str(at["family"]).lower()
        cfg["loss"] = _str(at["loss"]).lower()
        cfg["dynamics"] = _str(at["dynamics"]).lower() if "dynamics" in at else "flow"
        cfg["depth"] = int(np.asarray(at["depth"]).reshape(-1)[0])
        cfg["widths"] = [int(x) for x in np.asarray(at["widths"]).reshape(-1)]
        for k in ("rho", "h", "eta"):
            cfg[k] = float(np.asarray(at[k]).reshape(-1)[0])
        cfg["kappa"] = [float(x) for x in np.asarray(at["kappa"]).reshape(-1)] if "kappa" in at else [1.0, 1.0, 1.0]
        cfg["periodic"] = int(np.asarray(at["periodic"]).reshape(-1)[0]) if "periodic" in at else 1
        for k in ("batch", "sample_dt"):
            if k in at:
                cfg[k] = float(np.asarray(at[k]).reshape(-1)[0])
        if "sample_order" in at:
            cfg["sample_order"] = _str(at["sample_order"]).lower()
        acts = _str(at["activation"])
        if isinstance(acts, str):
            acts = [a.strip() for a in acts.split(",") if a.strip()]
        if len(acts) == 1:
            acts = acts * cfg["depth"]
        if len(acts) != cfg["depth"]:
            raise SystemExit(f"numpy_bbd: {len(acts)} activations for depth {cfg['depth']}")
        cfg["activations"] = acts
        X = np.array(f["data/X"], dtype=float)
        Y = np.array(f["data/Y"], dtype=float)
        if X.ndim == 1:
            X, Y = X[None, :], Y[None, :]
        theta = read_state(f, cfg)
        t0 = float(np.asarray(f["state"].attrs["time"]).reshape(-1)[0]) if "time" in f["state"].attrs else 0.0
        traj_loss = np.array(f["trajectory/loss"]) if "trajectory/loss" in f else None
        traj_time = np.array(f["trajectory/time"]) if "trajectory/time" in f else None
    return cfg, X, Y, theta, t0, traj_loss, traj_time


def read_state(f, cfg):
    if cfg["family"] == "field":
        return (np.array(f["state/a"], dtype=float), np.array(f["state/b"], dtype=float))
    M = cfg["depth"]
    W = [np.array(f[f"state/layer_{m}/W"], dtype=float) for m in range(M)]
    b = [np.array(f[f"state/layer_{m}/b"], dtype=float).reshape(-1) for m in range(M)]
    return (W, b)


def write_state(path, cfg, theta, t):
    with h5py.File(path, "w") as f:
        for k in ("family", "loss", "dynamics"):
            f.attrs[k] = cfg[k]
        f.attrs["activation"] = ",".join(cfg["activations"])
        f.attrs["depth"] = cfg["depth"]
        f.attrs["widths"] = np.array(cfg["widths"])
        for k in ("rho", "h", "eta"):
            f.attrs[k] = cfg[k]
        f.attrs["kappa"] = np.array(cfg["kappa"])
        f.attrs["periodic"] = cfg["periodic"]
        g = f.create_group("state")
        g.attrs["time"] = t
        if cfg["family"] == "field":
            g["a"], g["b"] = theta
        else:
            for m, (W, b) in enumerate(zip(*theta)):
                g[f"layer_{m}/W"], g[f"layer_{m}/b"] = W, b


# ---------------------------------------------------------------- dynamics
class Batches:
    def __init__(self, X, Y, B, sample_dt):
        self.X, self.Y, self.B, self.sample_dt = X, Y, B, sample_dt
        self.S = X.shape[0]
        self.cache = {}

    def at(self, t):
        k = int(math.floor((t + 1e-12) / self.sample_dt)) if self.sample_dt > 0 else 0
        return self.index(k)

    def index(self, k):
        if k not in self.cache:
            if len(self.cache) > 4:
                self.cache.clear()
            idx = (k * self.B + np.arange(self.B)) % self.S
            self.cache[k] = (np.ascontiguousarray(self.X[idx]), np.ascontiguousarray(self.Y[idx]))
        return self.cache[k]


def run_flow_rk4(net, theta, batches, t0, tfinal, dt):
    """Classic RK4 with step dt, ending exactly at tfinal the way PETSc's TS does
    (TS_EXACTFINALTIME_MATCHSTEP, TSAdapt match-step factors 0.01 and 2): when the
    rest is at most 1.01 dt it is one step, when at most 2 dt two equal steps.
    Time is accumulated step by step, as in TS."""
    t, nsteps = t0, 0
    while t < tfinal - 1e-12 * max(1.0, abs(tfinal)):
        rest = tfinal - t
        h = rest if rest <= 1.01 * dt else (rest / 2 if rest <= 2 * dt else dt)
        k1, _ = net.velocity(theta, *batches.at(t))
        k2, _ = net.velocity(axpy(theta, 0.5 * h, k1), *batches.at(t + 0.5 * h))
        k3, _ = net.velocity(axpy(theta, 0.5 * h, k2), *batches.at(t + 0.5 * h))
        k4, _ = net.velocity(axpy(theta, h, k3), *batches.at(t + h))
        theta = axpy(theta, h / 6, k1)
        theta = axpy(theta, h / 3, k2)
        theta = axpy(theta, h / 3, k3)
        theta = axpy(theta, h / 6, k4)
        t += h
        nsteps += 1
    return theta, nsteps, 4 * nsteps, t


def run_sgd(net, theta, batches, t0, tfinal):
    k0 = int(round(t0))
    nsteps = int(round(tfinal - t0))
    for k in range(k0, k0 + nsteps):
        v, _ = net.velocity(theta, *batches.index(k))
        theta = axpy(theta, 1.0, v)
    return theta, nsteps, nsteps, float(k0 + nsteps)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("init", help="HDF5 file written by bbd-net (its /state is the initial state)")
    p.add_argument("--dynamics", choices=["flow", "sgd"], help="default: the file's dynamics attribute")
    p.add_argument("--tfinal", type=float, required=True)
    p.add_argument("--dt", type=float, default=0.01, help="RK4 step (flow)")
    p.add_argument("--batch", type=int, help="samples per batch (default: file attribute, else 1)")
    p.add_argument("--sample-dt", type=float, help="flow: time per batch (<= 0: always batch 0)")
    p.add_argument("--output", help="write the final state here (HDF5, /state layout)")
    p.add_argument("--compare", help="HDF5 file whose /state is compared with the final state")
    p.add_argument("--repeat", type=int, default=1, help="time the integration this many times, report the best")
    args = p.parse_args(argv)

    cfg, X, Y, theta0, t0, traj_loss, traj_time = read_file(args.init)
    dyn = args.dynamics or cfg["dynamics"]
    if cfg.get("sample_order", "cyclic") != "cyclic":
        raise SystemExit("numpy_bbd: only cyclic sample order is reproducible here")
    B = args.batch or int(cfg.get("batch", 1))
    sample_dt = args.sample_dt if args.sample_dt is not None else cfg.get("sample_dt", 0.0)
    net = FieldNet(cfg) if cfg["family"] == "field" else DenseNet(cfg)
    batches = Batches(X, Y, B, sample_dt)

    loss0 = net.batch_loss(theta0, *(batches.at(t0) if dyn == "flow" else batches.index(int(round(t0)))))
    best = best_cpu = math.inf
    for _ in range(max(1, args.repeat)):
        tic, tic_cpu = time.perf_counter(), time.process_time()
        if dyn == "flow":
            theta, nsteps, nevals, tend = run_flow_rk4(net, theta0, batches, t0, args.tfinal, args.dt)
        elif dyn == "sgd":
            theta, nsteps, nevals, tend = run_sgd(net, theta0, batches, t0, args.tfinal)
        else:
            raise SystemExit(f"numpy_bbd: dynamics {dyn!r} not implemented (flow, sgd)")
        best = min(best, time.perf_counter() - tic)
        best_cpu = min(best_cpu, time.process_time() - tic_cpu)
    # one gradient evaluation alone (forward + backward + velocity), best of several
    Xb, Yb = batches.at(t0) if dyn == "flow" else batches.index(int(round(t0)))
    tgrad = math.inf
    for _ in range(max(3, min(20, int(0.5 / max(best / max(nevals, 1), 1e-9))))):
        tic = time.perf_counter()
        net.velocity(theta0, Xb, Yb)
        tgrad = min(tgrad, time.perf_counter() - tic)
    lossf = net.batch_loss(theta, *(batches.at(tend) if dyn == "flow" else batches.index(int(round(tend)))))

    print(f"family = {cfg['family']}")
    print(f"widths = {','.join(map(str, cfg['widths']))}")
    print(f"dynamics = {dyn}")
    print(f"batch = {B}")
    print(f"t0 = {t0:.17g}")
    print(f"tfinal = {tend:.17g}")
    print(f"steps = {nsteps}")
    print(f"grad_evals = {nevals}")
    print(f"time_total = {best:.6e}")
    print(f"time_total_cpu = {best_cpu:.6e}")
    print(f"time_per_step = {best / max(nsteps, 1):.6e}")
    print(f"time_per_unit_time = {best / max(tend - t0, 1e-300):.6e}")
    print(f"time_per_grad = {tgrad:.6e}")
    print(f"loss_initial = {loss0:.17g}")
    print(f"loss_final = {lossf:.17g}")
    if traj_loss is not None and len(traj_loss):
        print(f"file_loss_initial = {float(traj_loss[0]):.17g}")
    if args.output:
        write_state(args.output, cfg, theta, tend)
    if args.compare:
        with h5py.File(args.compare, "r") as f:
            ref = read_state(f, cfg)
            ref_loss = np.array(f["trajectory/loss"]) if "trajectory/loss" in f else None
            ref_time = np.array(f["trajectory/time"]) if "trajectory/time" in f else None
        a, r = flatten(theta), flatten(ref)
        a0 = flatten(theta0)
        print(f"reldiff_state = {np.linalg.norm(a - r) / np.linalg.norm(r):.3e}")
        print(f"reldiff_change = {np.linalg.norm(a - r) / max(np.linalg.norm(r - a0), 1e-300):.3e}")
        print(f"maxabs_diff = {np.max(np.abs(a - r)):.3e}")
        if ref_loss is not None and len(ref_loss):
            print(f"ref_loss_initial = {float(ref_loss[0]):.17g}")
            print(f"ref_loss_final = {float(ref_loss[-1]):.17g}")
            if ref_time is not None:
                print(f"ref_time_final = {float(ref_time[-1]):.17g}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
