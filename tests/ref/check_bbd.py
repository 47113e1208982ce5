#!/usr/bin/python3
"""Independent NumPy checker for BBD-Field result files (docs/theory.md).

Usage: /usr/bin/python3 tests/ref/check_bbd.py RESULT.h5 [--tol 1e-10] [-v]

For every saved time it rebuilds, from the saved parameters (and, for damped
dynamics, the saved velocity), the forward pass z, the loss, the per-layer
kinetic energy T_m, L, L_bulk, L_boundary, the flux J_k, the dissipation, the
energy rate (damped) and the symmetry defect, and compares them with the file
(norm-wise relative error per quantity and time). For flow and sgd the velocity
is recomputed from the parameters and the batch in use (and compared with the
saved velocity when present). The batch is reconstructed from /trajectory/sample
for batch size 1 and for cyclic order; for random order with batch > 1 the
quantities that need the whole batch are skipped (reported as such).
It also checks the continuity law read from the file alone:
J_(m+1) - J_m = 2 T_m (flow, sgd) or dT_m/dt + 2 gamma T_m (damped).

Exit status: 0 if every check passes, 1 if any fails or the file is malformed.
The module also serves as the reference implementation (class Net) used by the
scratch derivation checks; it needs only numpy (and h5py to read files).
"""
import math
import sys

import numpy as np

try:
    from scipy.special import erf as _erf, erfc as _erfc
except ImportError:  # pragma: no cover
    _erf = np.vectorize(math.erf)
    _erfc = np.vectorize(math.erfc)

# ---------------------------------------------------------------- activations


def _sigmoid(z):
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def activation(name, z):
    """Return sigma(z), sigma'(z), sigma''(z)."""
    z = np.asarray(z, dtype=float)
    if name == "tanh":
        s = np.tanh(z)
        d1 = 1 - s * s
        return s, d1, -2 * s * d1
    if name == "erf":
        d1 = 2 / math.sqrt(math.pi) * np.exp(-z * z)
        return _erf(z), d1, -2 * z * d1
    if name == "sigmoid":
        g, gm = _sigmoid(z), _sigmoid(-z)
        return g, g * gm, g * gm * (gm - g)
    if name == "softplus":
        g, gm = _sigmoid(z), _sigmoid(-z)
        return np.maximum(z, 0) + np.log1p(np.exp(-np.abs(z))), g, g * gm
    if name == "gelu":
        Phi = 0.5 * _erfc(-z / math.sqrt(2))
        phi = np.exp(-0.5 * z * z) / math.sqrt(2 * math.pi)
        return z * Phi, Phi + z * phi, phi * (2 - z * z)
    if name == "swish":
        g, gm = _sigmoid(z), _sigmoid(-z)
        return z * g, g + z * g * gm, g * gm * (2 + z * (gm - g))
    if name == "sin":
        return np.sin(z), np.cos(z), -np.sin(z)
    if name == "linear":
        return z.copy(), np.ones_like(z), np.zeros_like(z)
    if name == "relu":
        return np.maximum(z, 0), (z > 0).astype(float), np.zeros_like(z)
    raise ValueError("unknown activation %r" % name)


ACTIVATIONS = ("tanh", "erf", "sigmoid", "softplus", "gelu", "swish", "sin", "linear", "relu")

# --------------------------------------------------------------------- losses


def loss(name, Z, Y, w):
    """l = w sum_i ell_i and lam = (1/w) dl/dZ (docs/theory/conventions.md)."""
    Z = np.asarray(Z, float)
    Y = np.asarray(Y, float)
    if name == "mse":
        return 0.5 * w * np.sum((Z - Y) ** 2), Z - Y
    if name in ("ce", "kl"):
        zmax = np.max(Z)
        logp = (Z - zmax) - math.log(w * np.sum(np.exp(Z - zmax)))
        lam = w * np.sum(Y) * np.exp(logp) - Y
        nz = Y != 0
        if name == "ce":
            l = -w * np.sum(Y[nz] * logp[nz])
        else:
            l = w * np.sum(Y[nz] * (np.log(Y[nz]) - logp[nz]))
        return l, lam
    if name == "hinge":
        margin = 1 - Y * Z
        return w * np.sum(np.maximum(margin, 0)), np.where(margin > 0, -Y, 0.0)
    raise ValueError("unknown loss %r" % name)


LOSSES = ("mse", "ce", "kl", "hinge")

# -------------------------------------------------------------------- network


class Net:
    """Discrete network z^(m+1) = rho z^(m) + h (Phi_m(z^(m)) + b^(m)).

    theta: list over layers m of dicts {"a": (P+1, N) array, "b": (N,)} (field)
    or {"W": (n(m+1), n(m)), "b": (n(m+1),)} (dense)."""

    def __init__(self, family, widths, acts, rho, h, eta=1.0, gamma=0.0, kappa=(1.0, 1.0, 1.0),
                 periodic=True, lossname="mse"):
        self.family = family
        self.n = [int(v) for v in widths]
        self.M = len(self.n) - 1
        self.acts = list(acts)
        assert len(self.acts) == self.M
        self.rho, self.h, self.eta, self.gamma = float(rho), float(h), float(eta), float(gamma)
        self.kappa = np.asarray(kappa, float)
        self.periodic = bool(periodic)
        self.lossname = lossname
        if family == "field":
            assert all(v == self.n[0] for v in self.n)
            self.w = 1.0 / self.n[0]  # dy
            self.c = self.h * self.w
        else:
            self.w = 1.0
            self.c = 1.0

    # stencils in width: shifts with periodic wrap or zero padding
    def _sp(self, s):  # (Sp s)_i = s_{i+1}
        if self.periodic:
            return np.roll(s, -1)
        r = np.zeros_like(s)
        r[:-1] = s[1:]
        return r

    def _sm(self, s):  # (Sm s)_i = s_{i-1}
        if self.periodic:
            return np.roll(s, 1)
        r = np.zeros_like(s)
        r[1:] = s[:-1]
        return r

    def D(self, j, s):
        dy = self.w
        if j == 0:
            return s
        if j == 1:
            return (self._sp(s) - self._sm(s)) / (2 * dy)
        if j == 2:
            return (self._sp(s) - 2 * s + self._sm(s)) / dy**2
        raise ValueError("moment order > 2")

    def DT(self, j, u):  # adjoint (Sp^T = Sm)
        dy = self.w
        if j == 0:
            return u
        if j == 1:
            return (self._sm(u) - self._sp(u)) / (2 * dy)
        return (self._sm(u) - 2 * u + self._sp(u)) / dy**2

    def _r(self, v):
        """rho v (rho = 0 in the dense family, where the widths may differ)."""
        return self.rho * v if self.rho != 0 else 0.0

    # layer pieces -------------------------------------------------------
    def Phi(self, m, th, z, act=None):
        s = activation(act or self.acts[m], z)[0]
        if self.family == "field":
            return sum(th["a"][j] * self.D(j, s) for j in range(th["a"].shape[0]))
        return th["W"] @ s

    def dPhi_theta(self, m, thdot, z, act=None):
        """Phi_m with the parameters replaced by their velocities (linear in theta)."""
        s = activation(act or self.acts[m], z)[0]
        if self.family == "field":
            return sum(thdot["a"][j] * self.D(j, s) for j in range(thdot["a"].shape[0]))
        return thdot["W"] @ s

    def Phi_z(self, m, th, z, v, act=None):
        """Phi_m'(z) v."""
        d1 = activation(act or self.acts[m], z)[1]
        if self.family == "field":
            return sum(th["a"][j] * self.D(j, d1 * v) for j in range(th["a"].shape[0]))
        return th["W"] @ (d1 * v)

    def Phi_zT(self, m, th, z, u, act=None):
        """Phi_m'(z)^T u."""
        d1 = activation(act or self.acts[m], z)[1]
        if self.family == "field":
            return d1 * sum(self.DT(j, th["a"][j] * u) for j in range(th["a"].shape[0]))
        return d1 * (th["W"].T @ u)

    # passes ---------------------------------------------------------------
    def forward(self, theta, X):
        z = [np.asarray(X, float)]
        for m in range(self.M):
            z.append(self._r(z[m]) + self.h * (self.Phi(m, theta[m], z[m]) + theta[m]["b"]))
        return z

    def backward(self, theta, z, Y):
        l, lamM = loss(self.lossname, z[-1], Y, self.w)
        lam = [None] * (self.M + 1)
        lam[self.M] = lamM
        for m in range(self.M - 1, -1, -1):
            lam[m] = self._r(lam[m + 1]) + self.h * self.Phi_zT(m, theta[m], z[m], lam[m + 1])
        return l, lam

    def grad(self, theta, z, lam):
        """dl/dtheta of one sample (dl/dz^(m) = w lam^(m))."""
        g = []
        for m in range(self.M):
            s = activation(self.acts[m], z[m])[0]
            hw = self.h * self.w
            if self.family == "field":
                ga = np.array([hw * lam[m + 1] * self.D(j, s) for j in range(len(self.kappa))])
                g.append({"a": ga, "b": hw * lam[m + 1]})
            else:
                g.append({"W": hw * np.outer(lam[m + 1], s), "b": hw * lam[m + 1]})
        return g

    def velocity(self, theta, Xs, Ys):
        """Flow velocity -eta metric^-1 grad l_batch; returns (vel, l_batch, zs, lams)."""
        B = len(Xs)
        vel = zero_like(theta)
        zs, lams, ls = [], [], []
        for X, Y in zip(Xs, Ys):
            z = self.forward(theta, X)
            l, lam = self.backward(theta, z, Y)
            zs.append(z)
            lams.append(lam)
            ls.append(l)
            for m in range(self.M):
                s = activation(self.acts[m], z[m])[0]
                if self.family == "field":
                    for j in range(len(self.kappa)):
                        vel[m]["a"][j] += -self.eta * self.kappa[j] * lam[m + 1] * self.D(j, s) / B
                else:  # metric 1, dl/dtheta = h lam (h = 1 unless the residual form sets it)
                    vel[m]["W"] += -self.eta * self.h * np.outer(lam[m + 1], s) / B
                vel[m]["b"] += -self.eta * (1.0 if self.family == "field" else self.h) * lam[m + 1] / B
        return vel, float(np.mean(ls)), zs, lams

    def tangent(self, theta, thdot, z, dX=None):
        dz = [np.zeros_like(z[0]) if dX is None else np.asarray(dX, float)]
        for m in range(self.M):
            dz.append(self._r(dz[m]) + self.h * (self.Phi_z(m, theta[m], z[m], dz[m])
                                                    + self.dPhi_theta(m, thdot[m], z[m]) + thdot[m]["b"]))
        return dz

    def bias_from_neurons(self, theta, z):
        return [(z[m + 1] - self._r(z[m])) / self.h - self.Phi(m, theta[m], z[m]) for m in range(self.M)]

    def beta(self, m, theta, thdot, z, dz, act=None):
        """Local bias velocity beta^(m) from (z, dz, theta, thdot), activation `act`."""
        return ((dz[m + 1] - self._r(dz[m])) / self.h - self.dPhi_theta(m, thdot[m], z[m], act)
                - self.Phi_z(m, theta[m], z[m], dz[m], act))

    def kin_a(self, m, thdot):
        """c/2 sum_j |a_j'|^2 / kappa_j (kappa_j = 0 dropped); dense c/2 |W'|^2."""
        if self.family == "field":
            return 0.5 * self.c * sum(np.sum(thdot[m]["a"][j] ** 2) / self.kappa[j]
                                      for j in range(len(self.kappa)) if self.kappa[j] > 0)
        return 0.5 * self.c * np.sum(thdot[m]["W"] ** 2)

    def layer_kinetic(self, thdot):
        return np.array([self.kin_a(m, thdot) + 0.5 * self.c * np.sum(thdot[m]["b"] ** 2) for m in range(self.M)])

    def kin_dot(self, thdot, thddot):
        """dT_m/dt = c [sum_j a_j'.a_j''/kappa_j + b'.b''] (dense W'.W'')."""
        r = np.zeros(self.M)
        for m in range(self.M):
            if self.family == "field":
                r[m] = sum(np.sum(thdot[m]["a"][j] * thddot[m]["a"][j]) / self.kappa[j]
                           for j in range(len(self.kappa)) if self.kappa[j] > 0)
            else:
                r[m] = np.sum(thdot[m]["W"] * thddot[m]["W"])
            r[m] = self.c * (r[m] + np.sum(thdot[m]["b"] * thddot[m]["b"]))
        return r

    def diagnostics(self, theta, thdot, Xs, Ys, dynamics):
        """All BBD quantities at one time for the batch (Xs, Ys); the first sample is the one
        whose z, beta, L_bulk, L_boundary and symmetry defect are reported. thdot: the velocity
        (damped: the state's; None: the flow velocity of the batch)."""
        v, lb, zs, lams = self.velocity(theta, Xs, Ys)
        if thdot is None:  # flow, sgd: the velocity is the flow velocity of the batch
            thdot = v
        B = len(Xs)
        dzs = [self.tangent(theta, thdot, z) for z in zs]
        T = self.layer_kinetic(thdot)
        z, dz = zs[0], dzs[0]
        beta = [self.beta(m, theta, thdot, z, dz) for m in range(self.M)]
        kin_a = np.array([self.kin_a(m, thdot) for m in range(self.M)])
        Lboundary = 0.5 * self.c * np.sum(beta[0] ** 2) - lb
        Lbulk = np.sum(kin_a) + sum(0.5 * self.c * np.sum(beta[m] ** 2) for m in range(1, self.M))
        J = np.array([-self.eta * self.w * np.mean([np.dot(lams[s][k], dzs[s][k]) for s in range(B)])
                      for k in range(self.M + 1)])
        if dynamics == "damped":
            thdd = axpy_tree(-self.gamma, thdot, v)
            rate = self.kin_dot(thdot, thdd)
            diss = self.gamma * T
        else:
            rate = np.zeros(self.M)
            diss = T.copy()
        defect = np.zeros(max(self.M - 1, 0))
        for k in range(self.M - 1):
            if self.family == "dense" and (theta[k]["W"].shape != theta[k + 1]["W"].shape):
                defect[k] = np.inf
                continue
            bk_own = 0.5 * self.c * np.sum(beta[k] ** 2)
            bk_next = 0.5 * self.c * np.sum(self.beta(k, theta, thdot, z, dz, act=self.acts[k + 1]) ** 2)
            defect[k] = bk_next - bk_own
        bmis = max(np.max(np.abs(beta[m] - thdot[m]["b"])) for m in range(self.M)) / \
            max(max(np.max(np.abs(thdot[m]["b"])) for m in range(self.M)), 1e-300)
        return dict(z=z, dz=dz, beta=beta, loss=lb, layer_kinetic=T, L=np.sum(T) - lb, L_bulk=Lbulk,
                    L_boundary=Lboundary, flux=J, dissipation=diss, energy_rate=rate,
                    symmetry_defect=defect, velocity=v, thdot=thdot, beta_mismatch=bmis, lams=lams, zs=zs,
                    dzs=dzs)


def zero_like(theta):
    return [{k: np.zeros_like(v) for k, v in th.items()} for th in theta]


def axpy_tree(alpha, x, y):
    """alpha x + y over parameter trees."""
    return [{k: alpha * x[m][k] + y[m][k] for k in x[m]} for m in range(len(x))]


def flatten(theta):
    return np.concatenate([np.ravel(th[k]) for th in theta for k in sorted(th)])


def unflatten(vec, like):
    out, i = [], 0
    for th in like:
        d = {}
        for k in sorted(th):
            n = th[k].size
            d[k] = vec[i:i + n].reshape(th[k].shape)
            i += n
        out.append(d)
    return out

# ------------------------------------------------------------------ the file


def _attr(f, name, default=None):
    if name not in f.attrs:
        if default is None:
            raise KeyError("missing root attribute %r" % name)
        return default
    v = f.attrs[name]
    if isinstance(v, bytes):
        return v.decode()
    if isinstance(v, np.ndarray) and v.dtype.kind in "SO":
        v = v.ravel()
        return ",".join(x.decode() if isinstance(x, bytes) else str(x) for x in v)
    if isinstance(v, np.ndarray) and v.size == 1 and name not in ("widths", "kappa"):
        return v.item()
    return v


def read_file(path):
    import h5py
    f = h5py.File(path, "r")
    a = {k: _attr(f, k) for k in ("family", "activation", "loss", "dynamics", "depth", "widths", "rho", "h",
                                  "eta", "batch")}
    a["gamma"] = float(_attr(f, "gamma", 0.0))
    a["periodic"] = bool(int(_attr(f, "periodic", 1)))
    a["sample_dt"] = float(_attr(f, "sample_dt", 0.0))
    a["sample_order"] = str(_attr(f, "sample_order", "cyclic"))
    a["kappa"] = np.atleast_1d(np.asarray(_attr(f, "kappa", np.array([1.0, 1.0, 1.0])), float))
    M = int(a["depth"])
    acts = [s.strip().lower() for s in str(a["activation"]).split(",") if s.strip()]
    if len(acts) == 1:
        acts = acts * M
    if len(acts) != M:
        raise ValueError("activation attribute has %d names, depth is %d" % (len(acts), M))
    a["acts"] = acts
    return f, a


def load_theta(f, a, t, velocity=False):
    M = int(a["depth"])
    tr = f["trajectory"]
    if a["family"] == "field":
        A = tr["a_dot" if velocity else "a"][t]  # [P+1, M, N]
        Bv = tr["b_dot" if velocity else "b"][t]  # [M, N]
        return [{"a": np.array(A[:, m, :], float), "b": np.array(Bv[m], float)} for m in range(M)]
    th = []
    for m in range(M):
        g = tr["layer_%d" % m]
        th.append({"W": np.array(g["W_dot" if velocity else "W"][t], float),
                   "b": np.array(g["b_dot" if velocity else "b"][t], float)})
    return th


def has_velocity(f, a):
    tr = f["trajectory"]
    if a["family"] == "field":
        return "a_dot" in tr and "b_dot" in tr
    return "layer_0" in tr and "W_dot" in tr["layer_0"] and "b_dot" in tr["layer_0"]


def load_z(f, a, t):
    tr = f["trajectory"]
    M = int(a["depth"])
    if a["family"] == "field":
        if "z" not in tr:
            return None
        return [np.array(tr["z"][t, m], float) for m in range(M + 1)]
    if "z_0" not in tr:
        return None
    return [np.array(tr["z_%d" % m][t], float) for m in range(M + 1)]


def expected_first_sample(a, time, S):
    B = int(a["batch"])
    if a["dynamics"] == "sgd":
        k = int(round(time))
    elif a["sample_dt"] > 0:
        k = int(math.floor((time + 1e-12) / a["sample_dt"]))
    else:
        k = 0
    return (k * B) % S


BETA_MISMATCH_LIMIT = 1e-8  # the file's own max|beta - db/dt| / max|db/dt| (rounding level)


class Report:
    def __init__(self, tol, verbose=False):
        self.tol = tol
        self.worst = {}
        self.skipped = {}
        self.notes = []
        self.limits = {}
        self.verbose = verbose

    def cmp(self, name, t, got, ref, scale=None):
        got = np.asarray(got, float)
        ref = np.asarray(ref, float)
        if got.shape != ref.shape:
            self.worst[name] = (np.inf, t, "shape %s vs %s" % (got.shape, ref.shape))
            return
        inf_ref = ~np.isfinite(ref)
        if np.any(inf_ref):
            if np.any(got[inf_ref] != ref[inf_ref]):
                self.worst[name] = (np.inf, t, "non-finite entries differ")
                return
            got, ref = got[~inf_ref], ref[~inf_ref]
        if not np.all(np.isfinite(got)):
            self.worst[name] = (np.inf, t, "non-finite value in file")
            return
        if ref.size == 0:
            self.worst.setdefault(name, (0.0, t, ""))
            return
        sc = np.max(np.abs(ref)) if scale is None else float(scale)
        err = np.max(np.abs(got - ref)) / max(sc, 1e-300) if np.max(np.abs(got - ref)) > 0 else 0.0
        if name not in self.worst or err > self.worst[name][0]:
            self.worst[name] = (err, t, "")

    def limit(self, name, t, value, lim):
        """A value read from the file that must not exceed `lim` (absolute)."""
        v = value if np.isfinite(value) else np.inf
        if name not in self.worst or v > self.worst[name][0]:
            self.worst[name] = (v, t, "limit %g" % lim)
        self.limits[name] = lim

    def skip(self, name, why):
        self.skipped.setdefault(name, why)

    def finish(self):
        fail = False
        print("%-22s %-12s %s" % ("quantity", "worst rel", "at time index / note"))
        for name, (err, t, note) in self.worst.items():
            ok = err <= self.limits.get(name, self.tol)
            fail |= not ok
            print("%-22s %-12.3e %-6s %s%s" % (name, err, t, "ok" if ok else "FAIL", (" " + note) if note else ""))
        for name, why in self.skipped.items():
            print("%-22s %-12s %s" % (name, "skipped", why))
        for n in self.notes:
            print("note:", n)
        print("RESULT:", "FAIL" if fail else "PASS", "(tol %g)" % self.tol)
        return 1 if fail else 0


def check(path, tol=1e-10, verbose=False, traj_tol=1e-5, integrate=True):
    f, a = read_file(path)
    rep = Report(tol, verbose)
    fam, dyn = a["family"], a["dynamics"]
    if fam not in ("field", "dense") or dyn not in ("flow", "sgd", "damped"):
        raise ValueError("unknown family/dynamics %r/%r" % (fam, dyn))
    widths = np.atleast_1d(a["widths"]).astype(int)
    kappa = a["kappa"]
    net = Net(fam, widths, a["acts"], a["rho"], a["h"], a["eta"], a["gamma"], kappa, a["periodic"], a["loss"])
    # the definition itself must follow the conventions (docs/theory.md section 1)
    M = int(a["depth"])
    bad = []
    if len(widths) != M + 1:
        bad.append("widths has %d entries, depth %d" % (len(widths), M))
    if fam == "field":
        if len(set(widths.tolist())) != 1:
            bad.append("field widths differ")
        if a["rho"] != 1 or abs(a["h"] * M - 1) > 1e-14:
            bad.append("field needs rho = 1, h = 1/M (file: rho %g, h %.17g)" % (a["rho"], a["h"]))
        if len(kappa) != 3 or np.any(kappa < 0):
            bad.append("kappa must hold 3 values >= 0 (file: %s)" % kappa)
    else:
        if a["rho"] not in (0, 1) or not a["h"] > 0 or (a["rho"] == 0 and a["h"] != 1):
            bad.append("dense needs rho = 0 with h = 1, or rho = 1 with h > 0 (file: rho %g, h %g)" % (a["rho"], a["h"]))
        if a["rho"] == 1 and len(set(widths.tolist())) != 1:
            bad.append("dense residual form needs equal widths")
    if a["loss"] not in LOSSES:
        bad.append("unknown loss %r" % a["loss"])
    rep.worst["attributes"] = (float(len(bad)) * np.inf if bad else 0.0, 0, "; ".join(bad))
    X = np.array(f["data/X"], float)
    Y = np.array(f["data/Y"], float)
    S = X.shape[0]
    if X.shape[1] != widths[0] or Y.shape[1] != widths[-1]:
        raise ValueError("/data shapes %s, %s do not match widths" % (X.shape, Y.shape))
    B = int(a["batch"])
    tr = f["trajectory"]
    times = np.array(tr["time"], float)
    samples = np.array(tr["sample"]).astype(int)
    cyclic = a["sample_order"].lower().startswith("cyc")
    whole_batch = (B == 1) or cyclic
    vel_saved = has_velocity(f, a)
    if dyn == "damped" and not vel_saved:
        raise KeyError("damped result without a_dot/b_dot (W_dot/b_dot)")
    names_scalar = ("loss", "L", "L_bulk", "L_boundary")
    ninferred = 0
    hist = []  # (time, theta, velocity used, acceleration (damped) or None, batch known) per saved time
    for t in range(len(times)):
        s0 = samples[t]
        if cyclic:
            rep.cmp("sample", t, [s0], [expected_first_sample(a, times[t], S)], scale=1.0)
        theta = load_theta(f, a, t)
        thsaved = load_theta(f, a, t, velocity=True) if vel_saved else None
        batch_known = whole_batch
        if whole_batch:
            idx = [(s0 + i) % S for i in range(B)]
        else:
            idx = infer_batch(net, theta, thsaved, X, Y, s0, B, dyn, tr, t) if vel_saved else None
            if idx is None:
                idx = [s0]
                rep.notes.append("time index %d: random order, batch %d: batch not reconstructed" % (t, B)) \
                    if len(rep.notes) < 5 else None
            else:
                batch_known = True
                ninferred += 1
        if dyn == "damped":
            dd = net.diagnostics(theta, thsaved, X[idx], Y[idx], "damped")
        elif batch_known:
            dd = net.diagnostics(theta, None, X[idx], Y[idx], dyn)
            if vel_saved:
                rep.cmp("velocity", t, flatten(thsaved), flatten(dd["velocity"]))
        elif vel_saved:  # flow/sgd, batch unknown: use the saved velocity
            dd = net.diagnostics(theta, thsaved, X[idx], Y[idx], dyn)
        else:
            dd = None
        if dd is not None:
            acc = axpy_tree(-net.gamma, dd["thdot"], dd["velocity"]) if (dyn == "damped" and batch_known) else None
            hist.append((times[t], theta, dd["thdot"], acc, batch_known, idx))
        else:
            hist.append(None)
        if "beta_mismatch" in tr:
            # a rounding-level self-check of the file: beta (z-form) against the saved db/dt
            rep.limit("beta_mismatch(file)", t, float(tr["beta_mismatch"][t]), BETA_MISMATCH_LIMIT)
        # neurons of the first sample
        zf = load_z(f, a, t)
        z_ref = net.forward(theta, X[s0])
        if zf is not None:
            rep.cmp("z", t, np.concatenate(zf), np.concatenate(z_ref))
        if dd is None:
            for n in names_scalar + ("layer_kinetic", "flux", "dissipation", "energy_rate", "symmetry_defect"):
                rep.skip(n, "at some times: velocity neither saved nor reconstructable")
            continue
        T = dd["layer_kinetic"]
        for q in ("loss", "L", "L_bulk", "L_boundary", "layer_kinetic", "flux", "dissipation", "energy_rate"):
            if q not in tr:
                raise KeyError("missing dataset /trajectory/%s" % q)
        escale = max(np.sum(T), abs(dd["loss"]), 1e-300)
        rep.cmp("layer_kinetic", t, tr["layer_kinetic"][t], T)
        # the defect compares kinetic-type terms: scale by the largest layer term
        if int(a["depth"]) > 1 and "symmetry_defect" in tr:
            rep.cmp("symmetry_defect", t, tr["symmetry_defect"][t], dd["symmetry_defect"],
                    scale=max(np.max(np.abs(dd["symmetry_defect"][np.isfinite(dd["symmetry_defect"])]), initial=0),
                              np.max(T), 0.5 * dd["layer_kinetic"].max()))
        L_bb = dd["L_bulk"] + abs(dd["L_boundary"])
        # need only the first sample and the velocity
        rep.cmp("L_bulk", t, tr["L_bulk"][t], dd["L_bulk"], scale=max(escale, L_bb))
        rep.cmp("dissipation", t, tr["dissipation"][t], dd["dissipation"])
        # continuity and L = L_bulk + L_boundary from the file's own numbers
        Jf = np.array(tr["flux"][t], float)
        rhs = np.array(tr["energy_rate"][t], float) + 2 * np.array(tr["dissipation"][t], float)
        rep.cmp("continuity(file)", t, Jf[1:] - Jf[:-1], rhs, scale=max(np.max(np.abs(Jf)), 1e-300))
        rep.cmp("L=Lbulk+Lbdry(file)", t, [tr["L"][t]], [tr["L_bulk"][t] + tr["L_boundary"][t]],
                scale=max(escale, L_bb))
        if batch_known:
            rep.cmp("loss", t, tr["loss"][t], dd["loss"])
            rep.cmp("L", t, tr["L"][t], dd["L"], scale=escale)
            rep.cmp("L_boundary", t, tr["L_boundary"][t], dd["L_boundary"], scale=max(escale, L_bb))
            rep.cmp("flux", t, tr["flux"][t], dd["flux"], scale=max(np.max(np.abs(dd["flux"])), 1e-300))
            rscale = max(np.max(np.abs(dd["energy_rate"])), np.max(np.abs(dd["dissipation"])), np.max(T))
            rep.cmp("energy_rate", t, tr["energy_rate"][t], dd["energy_rate"], scale=rscale)
        else:
            for n in ("loss", "L", "L_boundary", "flux", "energy_rate"):
                rep.skip(n, "at some times: the batch (random order, batch > 1) was not reconstructed")
    trajectory_checks(rep, net, a, X, Y, dyn, hist, traj_tol, integrate)
    if ninferred:
        rep.notes.append("random order, batch %d: the batch was inferred at %d of %d saved times by matching %s "
                         "over all candidate batches that start with /trajectory/sample (so that quantity is not an "
                         "independent check there)" % (B, ninferred, len(times),
                                                       "the energy rate" if dyn == "damped" else "the velocity"))
    return rep.finish()


INFER_MAX_CANDIDATES = 5000
INFER_ACCEPT = 1e-7


def infer_batch(net, theta, thsaved, X, Y, s0, B, dyn, tr, t):
    """Random sample order with batch > 1: find the batch [s0, ...] whose flow velocity (flow, sgd) or
    energy rate (damped) reproduces the file. Returns the sample list, or None."""
    import itertools
    S = X.shape[0]
    if math.comb(S + B - 2, B - 1) > INFER_MAX_CANDIDATES:
        return None
    vs = {}

    def v1(s):
        if s not in vs:
            vs[s] = net.velocity(theta, X[[s]], Y[[s]])[0]
        return vs[s]
    if dyn == "damped":
        target = np.array(tr["energy_rate"][t], float)
        T = net.layer_kinetic(thsaved)
        scale = max(np.max(np.abs(target)), net.gamma * np.max(T), 1e-300)
    else:
        target = flatten(thsaved)
        scale = max(np.max(np.abs(target)), 1e-300)
    best, besterr, nmatch = None, np.inf, 0
    for rest in itertools.combinations_with_replacement(range(S), B - 1):
        idx = [s0] + list(rest)
        vm = flatten(v1(idx[0]))
        for s in idx[1:]:
            vm = vm + flatten(v1(s))
        vm = vm / B
        if dyn == "damped":
            got = net.kin_dot(thsaved, axpy_tree(-net.gamma, thsaved, unflatten(vm, thsaved)))
        else:
            got = vm
        err = np.max(np.abs(got - target)) / scale
        nmatch += err <= INFER_ACCEPT
        if err < besterr:
            best, besterr = idx, err
    # ambiguous (e.g. a damped run at rest: every batch gives the same energy rate): give up
    return best if (besterr <= INFER_ACCEPT and nmatch == 1) else None


INTEGRATE_MAX_EVALS = 5000
NONSMOOTH_TRAJ_TOL = 1e-3


class _Budget(Exception):
    pass


def trajectory_checks(rep, net, a, X, Y, dyn, hist, traj_tol, integrate=True):
    """Is the saved sequence of states a solution of the dynamics?
    sgd: consecutive saved steps k, k+1 must satisfy theta_(k+1) = theta_k + v_k (rounding level, --tol).
    flow/damped (cyclic order, or batch 1 without a switch inside the interval): integrate the dynamics
    with scipy's DOP853 (rtol 1e-12) from the saved state at t1 to t2, switching batches at the multiples
    of sample_dt, and compare with the saved state at t2, relative to |theta(t2) - theta(t1)|
    (damped: also the velocity); limit --traj-tol (the solver's own tolerance decides what is reachable)."""
    S = X.shape[0]
    B = int(a["batch"])
    cyclic = a["sample_order"].lower().startswith("cyc")
    sdt = a["sample_dt"]
    if dyn != "sgd" and integrate and ("relu" in net.acts or net.lossname == "hinge"):
        traj_tol = max(traj_tol, NONSMOOTH_TRAJ_TOL)
        rep.notes.append("relu/hinge: the velocity has kinks, integrators are only low order across them; "
                         "re-integration limit relaxed to %g" % traj_tol)
    for i in range(len(hist) - 1):
        h1, h2 = hist[i], hist[i + 1]
        if h1 is None or h2 is None:
            continue
        t1, th1, v1, acc1, k1, idx1 = h1
        t2, th2, v2, acc2, k2, idx2 = h2
        d = flatten(th2) - flatten(th1)
        dn = max(np.max(np.abs(d)), 1e-300)
        if dyn == "sgd":
            if abs(t2 - t1 - 1) < 1e-9 and k1:
                rep.cmp("trajectory(sgd step)", i, d, flatten(v1), scale=dn)
            continue
        if not integrate:
            continue
        # pieces with a fixed batch
        if sdt > 0:
            kk1 = int(math.floor((t1 + 1e-12) / sdt))
            kk2 = int(math.floor((t2 - 1e-12) / sdt))
        else:
            kk1 = kk2 = 0
        if not cyclic and (kk1 != kk2 or not k1):
            continue
        if not cyclic:
            batches = [(t1, t2, idx1)]
        else:
            batches = []
            for k in range(kk1, kk2 + 1):
                lo = t1 if k == kk1 else k * sdt
                hi = t2 if k == kk2 else (k + 1) * sdt
                batches.append((lo, hi, [(k * B + j) % S for j in range(B)]))
        if dyn == "flow":
            y = flatten(th1)
        else:
            y = np.concatenate([flatten(th1), flatten(v1)])
        n = flatten(th1).size
        try:
            from scipy.integrate import solve_ivp
        except ImportError:
            rep.skip("trajectory(integrated)", "scipy not available")
            return
        nev = [0]
        for lo, hi, idx in batches:
            if hi <= lo:
                continue

            def rhs(t, yy, idx=idx):
                nev[0] += 1
                if nev[0] > INTEGRATE_MAX_EVALS:
                    raise _Budget()
                th = unflatten(yy[:n], th1)
                v = flatten(net.velocity(th, X[idx], Y[idx])[0])
                if dyn == "flow":
                    return v
                return np.concatenate([yy[n:], -net.gamma * yy[n:] + v])
            try:
                y = solve_ivp(rhs, (lo, hi), y, method="DOP853", rtol=1e-12, atol=1e-14).y[:, -1]
            except _Budget:
                y = None
                break
        if y is None:
            rep.skip("trajectory(integrated)", "at some intervals: more than %d velocity evaluations (a kink of "
                     "relu or hinge makes the flow non-smooth; the integrator chatters)" % INTEGRATE_MAX_EVALS)
            continue
        rep.limit("trajectory(integrated)", i, np.max(np.abs(y[:n] - flatten(th2))) / dn, traj_tol)
        if dyn == "damped":
            dv = flatten(v2) - flatten(v1)
            rep.limit("trajectory(integr., vel.)", i,
                      np.max(np.abs(y[n:] - flatten(v2))) / max(np.max(np.abs(dv)), 1e-300), traj_tol)


def main(argv):
    import argparse
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("file")
    p.add_argument("--tol", type=float, default=1e-10)
    p.add_argument("--traj-tol", type=float, default=1e-5,
                   help="limit of the re-integration check between saved times (flow, damped), relative to the change")
    p.add_argument("--no-integrate", action="store_true", help="skip re-integrating the dynamics between saved times")
    p.add_argument("-v", "--verbose", action="store_true")
    o = p.parse_args(argv)
    try:
        return check(o.file, o.tol, o.verbose, o.traj_tol, not o.no_integrate)
    except (KeyError, ValueError, OSError) as e:
        print("check_bbd: malformed or unreadable file %s: %s" % (o.file, e))
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
