"""Write bbd-net-like result files (docs/output.md layout) from a second, independent
NumPy implementation (field layers as explicit N x N banded matrices, scipy losses),
to test tests/ref/check_bbd.py (see selftest.py). Trajectories: RK4 with a fixed
step (flow, damped) or the exact SGD step."""
import numpy as np
import h5py
from scipy.special import logsumexp, ndtr, erf, expit


def act(name, z):
    if name == "tanh":
        return np.tanh(z), 1 / np.cosh(z) ** 2
    if name == "erf":
        return erf(z), 2 / np.sqrt(np.pi) * np.exp(-z * z)
    if name == "sigmoid":
        return expit(z), expit(z) * expit(-z)
    if name == "softplus":
        return np.logaddexp(0, z), expit(z)
    if name == "gelu":
        return z * ndtr(z), ndtr(z) + z * np.exp(-z * z / 2) / np.sqrt(2 * np.pi)
    if name == "swish":
        return z * expit(z), expit(z) + z * expit(z) * expit(-z)
    if name == "sin":
        return np.sin(z), np.cos(z)
    if name == "linear":
        return z, np.ones_like(z)
    if name == "relu":
        return np.where(z > 0, z, 0.0), np.where(z > 0, 1.0, 0.0)


def lossf(name, Z, Y, w):
    if name == "mse":
        return w / 2 * np.sum((Z - Y) ** 2), Z - Y
    if name in ("ce", "kl"):
        logp = Z - logsumexp(Z) - np.log(w)
        ent = np.sum(np.where(Y > 0, Y * np.log(np.where(Y > 0, Y, 1)), 0))
        l = -w * np.sum(Y * logp) + (w * ent if name == "kl" else 0)
        return l, np.exp(logp) * w * Y.sum() - Y
    if name == "hinge":
        mask = 1 - Y * Z > 0
        return w * np.sum(np.where(mask, 1 - Y * Z, 0)), np.where(mask, -Y, 0.0)


class MNet:
    def __init__(s, family, n, acts, lossname, eta, gamma, kappa, periodic, residual=False):
        s.family, s.n, s.acts, s.lossname = family, n, acts, lossname
        s.M = len(n) - 1
        s.eta, s.gamma, s.kappa, s.periodic = eta, gamma, np.array(kappa, float), periodic
        if family == "field":
            N = n[0]
            s.rho, s.h, s.w = 1.0, 1.0 / s.M, 1.0 / N
            Sp = np.eye(N, k=1)
            Sm = np.eye(N, k=-1)
            if periodic:
                Sp[N - 1, 0] = 1
                Sm[0, N - 1] = 1
            s.D = [np.eye(N), (Sp - Sm) * N / 2, (Sp - 2 * np.eye(N) + Sm) * N * N]
            s.c = s.h * s.w
        else:
            s.rho, s.h, s.w, s.c = (1.0 if residual else 0.0), 1.0, 1.0, 1.0

    def W(s, th, m):
        if s.family == "field":
            return sum(th[m][0][j][:, None] * s.D[j] for j in range(3))
        return th[m][0]

    def Wdot(s, thd, m):
        return s.W(thd, m)

    def fwd(s, th, X):
        z = [X]
        for m in range(s.M):
            z.append((s.rho * z[m] if s.rho else 0) + s.h * (s.W(th, m) @ act(s.acts[m], z[m])[0] + th[m][1]))
        return z

    def bwd(s, th, z, Y):
        l, lam = lossf(s.lossname, z[-1], Y, s.w)
        L = [lam]
        for m in range(s.M - 1, -1, -1):
            L.insert(0, (s.rho * L[0] if s.rho else 0) + s.h * act(s.acts[m], z[m])[1] * (s.W(th, m).T @ L[0]))
        return l, L

    def vel(s, th, XB, YB):
        B = len(XB)
        v = [[np.zeros_like(p) for p in th[m]] for m in range(s.M)]
        ls, zs, lams = [], [], []
        for X, Y in zip(XB, YB):
            z = s.fwd(th, X)
            l, lam = s.bwd(th, z, Y)
            ls.append(l), zs.append(z), lams.append(lam)
            for m in range(s.M):
                sg = act(s.acts[m], z[m])[0]
                if s.family == "field":
                    for j in range(3):
                        v[m][0][j] -= s.eta * s.kappa[j] * lam[m + 1] * (s.D[j] @ sg) / B
                else:
                    v[m][0] -= s.eta * np.outer(lam[m + 1], sg) / B
                v[m][1] -= s.eta * lam[m + 1] / B
        return v, np.mean(ls), zs, lams

    def tan(s, th, thd, z):
        dz = [np.zeros_like(z[0])]
        for m in range(s.M):
            sg, d1 = act(s.acts[m], z[m])
            dz.append((s.rho * dz[m] if s.rho else 0) + s.h * (s.W(th, m) @ (d1 * dz[m]) + s.Wdot(thd, m) @ sg + thd[m][1]))
        return dz

    def beta(s, th, thd, z, dz, m, a):
        sg, d1 = act(a, z[m])
        return (dz[m + 1] - (s.rho * dz[m] if s.rho else 0)) / s.h - s.Wdot(thd, m) @ sg - s.W(th, m) @ (d1 * dz[m])

    def kinA(s, thd, m):
        if s.family == "field":
            return 0.5 * s.c * sum(np.sum(thd[m][0][j] ** 2) / s.kappa[j] for j in range(3) if s.kappa[j] > 0)
        return 0.5 * np.sum(thd[m][0] ** 2)

    def diag(s, th, thd, XB, YB, dyn):
        v, lb, zs, lams = s.vel(th, XB, YB)
        if dyn != "damped":
            thd = v
        dzs = [s.tan(th, thd, z) for z in zs]
        T = np.array([s.kinA(thd, m) + 0.5 * s.c * np.sum(thd[m][1] ** 2) for m in range(s.M)])
        be = [s.beta(th, thd, zs[0], dzs[0], m, s.acts[m]) for m in range(s.M)]
        Lb = sum(s.kinA(thd, m) for m in range(s.M)) + sum(0.5 * s.c * np.sum(be[m] ** 2) for m in range(1, s.M))
        Ld = 0.5 * s.c * np.sum(be[0] ** 2) - lb
        J = np.array([-s.eta * s.w * np.mean([lams[q][k] @ dzs[q][k] for q in range(len(XB))]) for k in range(s.M + 1)])
        if dyn == "damped":
            acc = [[-s.gamma * thd[m][i] + v[m][i] for i in range(2)] for m in range(s.M)]
            if s.family == "field":
                rate = np.array([s.c * (sum(np.sum(thd[m][0][j] * acc[m][0][j]) / s.kappa[j] for j in range(3) if s.kappa[j] > 0)
                                        + np.sum(thd[m][1] * acc[m][1])) for m in range(s.M)])
            else:
                rate = np.array([np.sum(thd[m][0] * acc[m][0]) + np.sum(thd[m][1] * acc[m][1]) for m in range(s.M)])
            diss = s.gamma * T
        else:
            rate, diss = np.zeros(s.M), T
        dfc = []
        for k in range(s.M - 1):
            if s.family == "dense" and th[k][0].shape != th[k + 1][0].shape:
                dfc.append(np.inf)
            else:
                bn = s.beta(th, thd, zs[0], dzs[0], k, s.acts[k + 1])
                dfc.append(0.5 * s.c * (np.sum(bn ** 2) - np.sum(be[k] ** 2)))
        return dict(z=zs[0], v=v, thd=thd, loss=lb, T=T, L=T.sum() - lb, Lbulk=Lb, Lbdry=Ld, J=J, diss=diss, rate=rate,
                    defect=np.array(dfc))


def flat(th):
    return np.concatenate([np.ravel(p) for t in th for p in t])


def unflat(x, like):
    out, i = [], 0
    for t in like:
        r = []
        for p in t:
            r.append(x[i:i + p.size].reshape(p.shape))
            i += p.size
        out.append(r)
    return out


def make_data(net, S, rng):
    n0, nM = net.n[0], net.n[-1]
    if net.family == "field":
        y = np.arange(n0) / n0
        X = np.array([np.sin(2 * np.pi * (y + rng.random())) + 0.3 * rng.standard_normal(n0) for _ in range(S)])
    else:
        X = rng.standard_normal((S, n0))
    if net.lossname in ("ce", "kl"):
        Y = rng.random((S, nM))
        Y[:, 0] = 0
        Y /= net.w * Y.sum(1, keepdims=True)
    elif net.lossname == "hinge":
        Y = np.where(rng.random((S, nM)) < 0.5, -1.0, 1.0)
    else:
        Y = rng.standard_normal((S, nM))
    return X, Y


def run(path, family="field", n=None, acts=("tanh",), lossname="mse", dyn="flow", eta=1.0, gamma=2.0,
        kappa=(1.0, 0.1, 0.0), periodic=True, B=1, S=3, sample_dt=0.2, tfinal=0.6, out_dt=0.1, seed=3,
        residual=False, step=None, time_scale=1.0):
    rng = np.random.default_rng(seed)
    M = len(n) - 1
    acts = list(acts) * M if len(acts) == 1 else list(acts)
    net = MNet(family, n, acts, lossname, eta, gamma, kappa, periodic, residual)
    if family == "field":
        N = n[0]
        th = [[np.array([1 + 0.2 * rng.standard_normal(N), 0.05 * rng.standard_normal(N), 0.002 * np.ones(N)]),
               0.2 * rng.standard_normal(N)] for m in range(M)]
    else:
        th = [[rng.standard_normal((n[m + 1], n[m])) / np.sqrt(n[m]), 0.1 * rng.standard_normal(n[m + 1])] for m in range(M)]
    thd = [[0 * p for p in t] for t in th]
    X, Y = make_data(net, S, rng)

    def batch(t):
        k = int(round(t)) if dyn == "sgd" else (int(np.floor((t + 1e-12) / sample_dt)) if sample_dt > 0 else 0)
        return [(k * B + i) % S for i in range(B)]

    recs = []
    t, dt = 0.0, (1.0 if dyn == "sgd" else (step or 0.002))
    nsteps = int(round(tfinal / dt))
    every = int(round(out_dt / dt)) if dyn != "sgd" else 1
    for step in range(nsteps + 1):
        t = step * dt
        idx = batch(t)
        if step % every == 0:
            d = net.diag(th, thd, X[idx], Y[idx], dyn)
            recs.append((t, idx[0], [[p.copy() for p in q] for q in th], d))
        if step == nsteps:
            break
        # advance (RK4 within the batch in use; sgd: one Euler step of size 1)
        if dyn == "sgd":
            v = net.vel(th, X[idx], Y[idx])[0]
            th = unflat(flat(th) + flat(v), th)
        else:
            nth = len(flat(th))

            def f(y):
                a = unflat(y[:nth], th)
                v = net.vel(a, X[idx], Y[idx])[0]
                if dyn == "flow":
                    return flat(v)
                return np.concatenate([y[nth:], -gamma * y[nth:] + flat(v)])
            y = flat(th) if dyn == "flow" else np.concatenate([flat(th), flat(thd)])
            k1 = f(y); k2 = f(y + dt / 2 * k1); k3 = f(y + dt / 2 * k2); k4 = f(y + dt * k3)
            y = y + dt / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
            th = unflat(y[:nth], th)
            if dyn == "damped":
                thd = unflat(y[nth:], th)
    with h5py.File(path, "w") as F:
        A = F.attrs
        A["family"], A["activation"], A["loss"], A["dynamics"] = family, ",".join(acts), lossname, dyn
        A["depth"], A["widths"] = M, np.array(n, dtype=np.int64)
        A["rho"], A["h"], A["eta"], A["gamma"] = net.rho, net.h, eta, gamma
        A["kappa"], A["periodic"], A["batch"] = np.array(kappa, float), int(periodic), B
        A["sample_dt"], A["sample_order"], A["seed"] = sample_dt, "cyclic", seed
        F["data/X"], F["data/Y"] = X, Y
        Tn = len(recs)
        g = F.create_group("trajectory")
        g["time"] = np.array([r[0] for r in recs]) * time_scale
        g["sample"] = np.array([r[1] for r in recs], dtype=np.int64)
        for key, nm in (("loss", "loss"), ("L", "L"), ("Lbulk", "L_bulk"), ("Lbdry", "L_boundary")):
            g[nm] = np.array([r[3][key] for r in recs])
        for key, nm in (("T", "layer_kinetic"), ("J", "flux"), ("diss", "dissipation"), ("rate", "energy_rate"),
                        ("defect", "symmetry_defect")):
            g[nm] = np.array([r[3][key] for r in recs])
        if family == "field":
            g["a"] = np.array([[[r[2][m][0][j] for m in range(M)] for j in range(3)] for r in recs])
            g["b"] = np.array([[r[2][m][1] for m in range(M)] for r in recs])
            g["a_dot"] = np.array([[[r[3]["thd"][m][0][j] for m in range(M)] for j in range(3)] for r in recs])
            g["b_dot"] = np.array([[r[3]["thd"][m][1] for m in range(M)] for r in recs])
            g["z"] = np.array([np.array(r[3]["z"]) for r in recs])
        else:
            for m in range(M):
                g["layer_%d/W" % m] = np.array([r[2][m][0] for r in recs])
                g["layer_%d/b" % m] = np.array([r[2][m][1] for r in recs])
                g["layer_%d/W_dot" % m] = np.array([r[3]["thd"][m][0] for r in recs])
                g["layer_%d/b_dot" % m] = np.array([r[3]["thd"][m][1] for r in recs])
            for m in range(M + 1):
                g["z_%d" % m] = np.array([r[3]["z"][m] for r in recs])
    return path


def write_all(P):
    """The positive reference files used by selftest.py, written into directory P."""
    files = []
    def r(name, *args, **kw):
        files.append(run(P + "/" + name, *args, **kw))
    r("field_flow_b1.h5", "field", [8] * 7, ("tanh",), "mse", "flow")
    r("field_flow_b2_np.h5", "field", [8] * 5, ("tanh", "sin", "gelu", "swish"), "mse", "flow", B=2, periodic=False, S=5)
    r("field_damped_ce.h5", "field", [8] * 5, ("softplus", "tanh", "tanh", "erf"), "ce", "damped", gamma=1.5, eta=0.5, B=2, S=3)
    r("field_sgd_kl.h5", "field", [8] * 4, ("sigmoid",), "kl", "sgd", eta=0.3, tfinal=4, S=4)
    r("dense_flow.h5", "dense", [4, 6, 5, 3], ("tanh", "gelu", "swish"), "mse", "flow", kappa=(1.0,))
    r("dense_damped_eq.h5", "dense", [5, 5, 5, 5], ("tanh", "sin", "sin"), "kl", "damped", kappa=(1.0,), B=2, S=5)
    r("dense_sgd_hinge.h5", "dense", [4, 6, 2], ("relu", "linear"), "hinge", "sgd", kappa=(1.0,), tfinal=5, eta=0.2, B=2, S=3)
    r("dense_residual_flow.h5", "dense", [4, 4, 4, 4], ("erf",), "ce", "flow", kappa=(1.0,), residual=True)
    return files


if __name__ == "__main__":
    import sys
    import os
    d = sys.argv[1] if len(sys.argv) > 1 else "."
    os.makedirs(d, exist_ok=True)
    for f in write_all(d):
        print("wrote", f)
