#!/usr/bin/python3
"""Numerical verification of the identities of docs/theory.md (about a minute):
losses and backprop against finite differences, the change of variables and beta = db/dt,
flow continuity 2 T_m = J_(m+1) - J_m and J_M = -eta dl/dt, the damped law
J_(m+1) - J_m = dT_m/dt + 2 gamma T_m (instantaneous, and along a DOP853 trajectory with a
finite-difference dT_m/dt), and the Lagrangian z-form of the damped law (docs/theory.md section 8)
(j_k = -J_k for batch 1; not closed for batch 2). Both families, batch 1 and 2.
Usage: /usr/bin/python3 tests/ref/verify_identities.py"""
import os
import sys
import numpy as np
from scipy.integrate import solve_ivp
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from check_bbd import Net, loss, activation, flatten, unflatten, zero_like, axpy_tree, ACTIVATIONS, LOSSES

rng = np.random.default_rng(1)
out = []


def say(*a):
    s = " ".join(str(x) for x in a)
    print(s)
    out.append(s)


def make(family, lossname="mse", periodic=True, acts=None, eta=0.7, gamma=1.3, kappa=(1.0, 0.3, 0.05)):
    if family == "field":
        N, M = 7, 4
        net = Net("field", [N] * (M + 1), acts or ["tanh", "sin", "tanh", "softplus"], 1.0, 1.0 / M, eta, gamma,
                  kappa, periodic, lossname)
        th = [{"a": np.array([1 + 0.3 * rng.standard_normal(N), 0.05 * rng.standard_normal(N),
                              0.004 * (1 + 0.2 * rng.standard_normal(N))]), "b": 0.3 * rng.standard_normal(N)}
              for m in range(M)]
        nin, nout = N, N
    else:
        n = [3, 5, 4, 2]
        M = 3
        net = Net("dense", n, acts or ["tanh", "gelu", "swish"], 0.0, 1.0, eta, gamma, (1,), True, lossname)
        th = [{"W": 0.8 * rng.standard_normal((n[m + 1], n[m])), "b": 0.3 * rng.standard_normal(n[m + 1])}
              for m in range(M)]
        nin, nout = n[0], n[-1]
    return net, th, nin, nout


def targets(net, lossname, S, nout):
    if lossname in ("ce", "kl"):
        Y = rng.random((S, nout)) + 0.1
        Y[:, 0] = 0.0  # exercise 0 log 0
        Y /= net.w * Y.sum(1, keepdims=True)
        return Y
    if lossname == "hinge":
        return np.where(rng.random((S, nout)) < 0.5, -1.0, 1.0)
    return rng.standard_normal((S, nout))


def lbatch(net, th, Xs, Ys):
    return np.mean([net.backward(th, net.forward(th, X), Y)[0] for X, Y in zip(Xs, Ys)])


def fd_dir(f, x, d, e=1e-5):
    return (-f(x + 2 * e * d) + 8 * f(x + e * d) - 8 * f(x - e * d) + f(x - 2 * e * d)) / (12 * e)


# ---------------------------------------------------------------- 1d losses
say("## 1d losses: w * lam vs central FD of l (w = 1 and w = 1/7)")
for w in (1.0, 1.0 / 7):
    for ln in LOSSES:
        Z = rng.standard_normal(7) * 1.5
        if ln in ("ce", "kl"):
            Y = rng.random(7); Y[2] = 0; Y /= w * Y.sum()
        elif ln == "hinge":
            Y = np.where(rng.random(7) < .5, -1., 1.)
        else:
            Y = rng.standard_normal(7)
        l, lam = loss(ln, Z, Y, w)
        g = np.array([(loss(ln, Z + 1e-6 * e, Y, w)[0] - loss(ln, Z - 1e-6 * e, Y, w)[0]) / 2e-6 for e in np.eye(7)])
        err = np.max(np.abs(w * lam - g)) / np.max(np.abs(g))
        extra = ""
        if ln in ("ce", "kl"):
            p = np.exp(Z) / (w * np.exp(Z).sum())
            extra = " w*sum p = %.15f" % (w * p.sum())
            if ln == "kl":
                nz = Y > 0
                extra += ", kl - (ce + w sum Y log Y) = %.1e" % (l - loss("ce", Z, Y, w)[0] - w * np.sum(Y[nz] * np.log(Y[nz])))
        say("  w=%.4f %-5s rel err %.2e%s" % (w, ln, err, extra))

# ---------------------------------------------------------------- stencil transposes
for per in (True, False):
    net, th, nin, nout = make("field", periodic=per)
    E = np.eye(7)
    for j in (1, 2):
        Dm = np.array([net.D(j, e) for e in E]).T
        DTm = np.array([net.DT(j, e) for e in E]).T
        say("  periodic=%d D_%d: |D^T - DT| = %.1e, |D1^T + D1| or |D2^T - D2| = %.1e" %
            (per, j, np.abs(Dm.T - DTm).max(), np.abs(Dm.T + (1 if j == 1 else -1) * Dm).max()))

# ---------------------------------------------------------------- 1a gradients, change of variables
say("## 1a backprop gradient vs FD (directional, 4th order), velocity = -eta metric^-1 grad")
for fam in ("field", "dense"):
    for per in ((True, False) if fam == "field" else (True,)):
        for ln in LOSSES:
            for B in (1, 2):
                net, th, nin, nout = make(fam, ln, per)
                Xs = rng.standard_normal((B, nin)); Ys = targets(net, ln, B, nout)
                v, lb, zs, lams = net.velocity(th, Xs, Ys)
                g = zero_like(th)
                for s in range(B):
                    gs = net.grad(th, zs[s], lams[s])
                    g = axpy_tree(1.0 / B, gs, g)
                x0 = flatten(th); gv = flatten(g)
                f = lambda x: lbatch(net, unflatten(x, th), Xs, Ys)
                errs = []
                for k in range(6):
                    d = rng.standard_normal(x0.size)
                    errs.append(abs(fd_dir(f, x0, d) - gv @ d) / (np.abs(gv) @ np.abs(d)))
                # metric: c theta' = -eta K grad l
                if fam == "field":
                    verr = max(np.abs(v[m]["a"][j] + net.eta * net.kappa[j] / net.c * g[m]["a"][j]).max()
                               for m in range(net.M) for j in range(3))
                    verr = max(verr, max(np.abs(v[m]["b"] + net.eta / net.c * g[m]["b"]).max() for m in range(net.M)))
                else:
                    verr = max(max(np.abs(v[m]["W"] + net.eta * g[m]["W"]).max(), np.abs(v[m]["b"] + net.eta * g[m]["b"]).max()) for m in range(net.M))
                say("  %-5s periodic=%d %-5s B=%d grad FD rel err max %.1e   velocity vs -eta K grad/c %.1e" %
                    (fam, per, ln, B, max(errs), verr))

say("## 1a change of variables b = (z^(m+1)-rho z^(m))/h - Phi_m(z^(m)) and beta = db/dt")
for fam in ("field", "dense"):
    for per in ((True, False) if fam == "field" else (True,)):
        net, th, nin, nout = make(fam, "mse", per)
        for B in (1, 2):
            Xs = rng.standard_normal((B, nin)); Ys = targets(net, "mse", B, nout)
            thdot = unflatten(rng.standard_normal(flatten(th).size), th)  # arbitrary velocity
            for s in range(B):
                z = net.forward(th, Xs[s])
                bz = net.bias_from_neurons(th, z)
                e_b = max(np.abs(bz[m] - th[m]["b"]).max() for m in range(net.M))
                dz = net.tangent(th, thdot, z)
                beta = [net.beta(m, th, thdot, z, dz) for m in range(net.M)]
                e_beta = max(np.abs(beta[m] - thdot[m]["b"]).max() for m in range(net.M)) / max(np.abs(thdot[m]["b"]).max() for m in range(net.M))
                # beta with dz from FD of the forward pass (independent of the tangent pass)
                x0, dv = flatten(th), flatten(thdot)
                dzfd = [fd_dir(lambda x: net.forward(unflatten(x, th), Xs[s])[k], x0, dv, 1e-4) for k in range(net.M + 1)]
                e_tan = max(np.abs(dzfd[k] - dz[k]).max() for k in range(net.M + 1)) / max(np.abs(dz[k]).max() for k in range(1, net.M + 1))
                betafd = [net.beta(m, th, thdot, z, dzfd) for m in range(net.M)]
                e_bfd = max(np.abs(betafd[m] - thdot[m]["b"]).max() for m in range(net.M)) / max(np.abs(thdot[m]["b"]).max() for m in range(net.M))
                # L = L_bulk + L_boundary
                say("  %-5s periodic=%d B=%d sample %d: |b(z)-b| %.1e  beta vs b' %.1e  tangent vs FD dz %.1e  beta(FD dz) vs b' %.1e"
                    % (fam, per, B, s, e_b, e_beta, e_tan, e_bfd))

# ---------------------------------------------------------------- 1b flow continuity
say("## 1b flow continuity 2 T_m = J_(m+1) - J_m, J_M = -eta dl/dt")
for fam in ("field", "dense"):
    for per in ((True, False) if fam == "field" else (True,)):
        for ln in LOSSES:
            for B in (1, 2):
                net, th, nin, nout = make(fam, ln, per)
                Xs = rng.standard_normal((B, nin)); Ys = targets(net, ln, B, nout)
                d = net.diagnostics(th, None, Xs, Ys, "flow")
                J, T = d["flux"], d["layer_kinetic"]
                e1 = np.abs(J[1:] - J[:-1] - 2 * T).max() / np.abs(J).max()
                dl = fd_dir(lambda x: lbatch(net, unflatten(x, th), Xs, Ys), flatten(th), flatten(d["velocity"]), 1e-5)
                e2 = abs(J[-1] + net.eta * dl) / abs(J[-1])
                e3 = abs(d["L"] - d["L_bulk"] - d["L_boundary"]) / (abs(d["L_bulk"]) + abs(d["L_boundary"]))
                say("  %-5s periodic=%d %-5s B=%d |dJ-2T|/|J| %.1e  J_0 = %.1e  |J_M + eta dl/dt|/|J_M| %.1e  L-Lbulk-Lbdry %.1e  beta_mismatch %.1e"
                    % (fam, per, ln, B, e1, J[0], e2, e3, d["beta_mismatch"]))

def damped_case(fam, B, scale):
    """a damped network, B samples and a random velocity (the a_2 rates kept small: stability)"""
    net, th, nin, nout = make(fam, "mse", True)
    Xs = rng.standard_normal((B, nin)); Ys = targets(net, "mse", B, nout)
    thdot = unflatten(scale * rng.standard_normal(flatten(th).size), th)
    if fam == "field":
        for m in range(net.M):
            thdot[m]["a"][2] *= 0.01
    return net, th, Xs, Ys, thdot


# ---------------------------------------------------------------- 1c damped
say("## 1c damped law J_(m+1)-J_m = dT_m/dt + 2 gamma T_m")
for fam in ("field", "dense"):
    for B in (1, 2):
        net, th, Xs, Ys, thdot = damped_case(fam, B, 0.5)
        d = net.diagnostics(th, thdot, Xs, Ys, "damped")
        J = d["flux"]
        e = np.abs(J[1:] - J[:-1] - d["energy_rate"] - 2 * d["dissipation"]).max() / np.abs(J).max()
        say("  instantaneous %-5s B=%d (arbitrary theta'): rel residual %.1e" % (fam, B, e))


def damped_traj(net, th0, td0, Xs, Ys, tf, teval):
    n = flatten(th0).size

    def rhs(t, y):
        th = unflatten(y[:n], th0)
        v = net.velocity(th, Xs, Ys)[0]
        return np.concatenate([y[n:], -net.gamma * y[n:] + flatten(v)])
    sol = solve_ivp(rhs, (0, tf), np.concatenate([flatten(th0), flatten(td0)]), method="DOP853", rtol=1e-13,
                    atol=1e-14, dense_output=True)
    return sol


def dT_dz(net, k, th, thdot, z, dz, beta):
    """partial dT_k/dz^(k) at fixed velocities (formula of theory.md sec. 5, times c)."""
    _, d1, d2 = activation(net.acts[k], z[k])
    if net.family == "field":
        A = sum(net.DT(j, thdot[k]["a"][j] * beta) for j in range(3))
        Bt = sum(net.DT(j, th[k]["a"][j] * beta) for j in range(3))
    else:
        A = thdot[k]["W"].T @ beta
        Bt = th[k]["W"].T @ beta
    return -net.c * (d1 * A + d2 * dz[k] * Bt)


def Pkk(net, k, th, z, beta):
    """P_{k,k} = dT_k/d(dz^(k)) = -c (rho/h + Phi_k'(z)^T) beta^(k)."""
    return -net.c * (net._r(beta) / net.h + net.Phi_zT(k, th[k], z[k], beta))


for fam in ("field", "dense"):
    for B in (1, 2):
        net, th, Xs, Ys, td0 = damped_case(fam, B, 0.3)
        sol = damped_traj(net, th, td0, Xs, Ys, 1.0, None)
        n = flatten(th).size
        hs = 2.5e-4 if fam == "field" else 1e-3
        cache = {}

        def rhs(t, y):
            v = net.velocity(unflatten(y[:n], th), Xs, Ys)[0]
            return np.concatenate([y[n:], -net.gamma * y[n:] + flatten(v)])

        def st(tt):
            # stencil states: integrate exactly to tt (an integrator end point) from the base time
            key = round(tt, 12)
            if key not in cache:
                base = round(tt * 10) / 10  # the base times are 0.2, 0.5, 0.8
                y0 = sol.sol(base)
                if abs(tt - base) < 1e-15:
                    y = y0
                else:
                    y = solve_ivp(rhs, (base, tt), y0, method="DOP853", rtol=1e-13, atol=1e-15).y[:, -1]
                cache[key] = y
            y = cache[key]
            return unflatten(y[:n], th), unflatten(y[n:], th)
        worst = dict(rate=0, law=0, law_fd=0, dTdz=0, jJ=0, zlaw=0)
        for t in (0.2, 0.5, 0.8):
            th_t, td_t = st(t)
            d = net.diagnostics(th_t, td_t, Xs, Ys, "damped")
            Tf = lambda tt: net.layer_kinetic(st(tt)[1])
            dTfd = (-Tf(t + 2 * hs) + 8 * Tf(t + hs) - 8 * Tf(t - hs) + Tf(t - 2 * hs)) / (12 * hs)
            J = d["flux"]
            sc = np.abs(J).max()
            worst["rate"] = max(worst["rate"], np.abs(dTfd - d["energy_rate"]).max() / np.abs(d["energy_rate"]).max())
            worst["law"] = max(worst["law"], np.abs(J[1:] - J[:-1] - d["energy_rate"] - 2 * d["dissipation"]).max() / sc)
            worst["law_fd"] = max(worst["law_fd"], np.abs(J[1:] - J[:-1] - dTfd - 2 * d["dissipation"]).max() / sc)
            # theory.md sec. 6 in z-form for the first sample
            def zq(tt):
                a, b = st(tt)
                z = net.forward(a, Xs[0]); dz = net.tangent(a, b, z)
                beta = [net.beta(m, a, b, z, dz) for m in range(net.M)]
                return a, b, z, dz, beta
            a, b, z, dz, beta = zq(t)
            P = lambda tt, k: (lambda q: Pkk(net, k, q[0], q[2], q[4][k]))(zq(tt))
            j = np.zeros(net.M + 1)
            for k in range(1, net.M):
                dP = (-P(t + 2 * hs, k) + 8 * P(t + hs, k) - 8 * P(t - hs, k) + P(t - 2 * hs, k)) / (12 * hs)
                g = dT_dz(net, k, a, b, z, dz, beta[k])
                # check the dT/dz formula by FD in z^(k) at fixed velocities
                def Tk(zk):
                    zz = list(z); zz[k] = zk
                    return 0.5 * net.c * np.sum(net.beta(k, a, b, zz, dz) ** 2)
                gfd = np.array([(Tk(z[k] + 1e-6 * e) - Tk(z[k] - 1e-6 * e)) / 2e-6 for e in np.eye(z[k].size)])
                worst["dTdz"] = max(worst["dTdz"], np.abs(g - gfd).max() / np.abs(g).max())
                j[k] = (dP - g + net.gamma * Pkk(net, k, a, z, beta[k])) @ dz[k]
            # j_M = eta dl/dt (the output boundary): -J_M
            lb = lambda tt: lbatch(net, st(tt)[0], Xs, Ys)
            dl = (-lb(t + 2 * hs) + 8 * lb(t + hs) - 8 * lb(t - hs) + lb(t - 2 * hs)) / (12 * hs)
            j[net.M] = net.eta * dl
            worst["jJ"] = max(worst["jJ"], np.abs(j[:net.M] + J[:net.M]).max() / sc)
            worst["jM"] = max(worst.get("jM", 0), abs(j[net.M] + J[net.M]) / sc)
            T = d["layer_kinetic"]
            worst["zlaw"] = max(worst["zlaw"], np.abs(dTfd + j[1:] - j[:-1] + 2 * net.gamma * T).max() / sc)
            # the z-form Euler-Lagrange equations themselves (the z-form momenta and equations of motion, docs/theory.md section 13), first sample
            D5 = lambda F: (-F(t + 2 * hs) + 8 * F(t + hs) - 8 * F(t - hs) + F(t - 2 * hs)) / (12 * hs)
            qs = {tt: zq(tt) for tt in (t - 2 * hs, t - hs, t + hs, t + 2 * hs)}
            qs[t] = (a, b, z, dz, beta)
            res, ref = 0.0, 0.0
            for k in range(1, net.M + 1):
                Pin = lambda tt, k=k: net.c / net.h * qs[tt][4][k - 1]  # P_{k-1, z^(k)}
                E = D5(Pin) + net.gamma * Pin(t)
                if k < net.M:
                    Pk = lambda tt, k=k: Pkk(net, k, qs[tt][0], qs[tt][2], qs[tt][4][k])
                    E = E + D5(Pk) - dT_dz(net, k, a, b, z, dz, beta[k]) + net.gamma * Pk(t)
                else:
                    lam1 = net.backward(a, z, Ys[0])[1][net.M]
                    E = E + net.eta / B * net.w * lam1
                res = max(res, np.abs(E).max())
                ref = max(ref, np.abs(net.gamma * Pin(t)).max())
            for m in range(net.M):
                s_, d1_, _ = activation(net.acts[m], z[m])
                if fam == "field":
                    for jj in range(3):
                        if net.kappa[jj] == 0:
                            continue
                        Pa = lambda tt, m=m, jj=jj: net.c * (qs[tt][1][m]["a"][jj] / net.kappa[jj] - qs[tt][4][m]
                                                             * net.D(jj, activation(net.acts[m], qs[tt][2][m])[0]))
                        dTa = -net.c * beta[m] * net.D(jj, d1_ * dz[m])
                        res = max(res, np.abs(D5(Pa) + net.gamma * Pa(t) - dTa).max())
                else:
                    Pa = lambda tt, m=m: net.c * (qs[tt][1][m]["W"] - np.outer(qs[tt][4][m], activation(net.acts[m], qs[tt][2][m])[0]))
                    dTa = -net.c * np.outer(beta[m], d1_ * dz[m])
                    res = max(res, np.abs(D5(Pa) + net.gamma * Pa(t) - dTa).max())
            worst["EL"] = max(worst.get("EL", 0), res / ref)
        say("  trajectory %-5s B=%d gamma=%.2f eta=%.2f: |dT/dt(FD) - c<th',th''>| %.1e; law (analytic rate) %.1e;"
            " law (FD rate) %.1e; theory.md dT_k/dz^(k) formula vs FD %.1e; |j_k + J_k| (k<M) %.1e;"
            " |j_M + J_M| %.1e; theory.md law dT_m/dt + j_(m+1) - j_m + 2 gamma T_m %.1e"
            % (fam, B, net.gamma, net.eta, worst["rate"], worst["law"], worst["law_fd"], worst["dTdz"], worst["jJ"], worst["jM"], worst["zlaw"]))
        say("      z-form Euler-Lagrange residual (z, a/W and output equations, docs/theory.md section 13), first sample, "
            "relative to max|gamma P_z|: %.1e" % worst["EL"])

say("## z-form flow flux w beta^(m-1) . dz^(m) (first sample) vs the batch flux")
for fam in ("field", "dense"):
    for B in (1, 2):
        net, th, nin, nout = make(fam, "mse", True)
        Xs = rng.standard_normal((B, nin)); Ys = targets(net, "mse", B, nout)
        d = net.diagnostics(th, None, Xs, Ys, "flow")
        dz, v, T = d["dzs"][0], d["velocity"], d["layer_kinetic"]
        Jt = np.array([0.0] + [net.w * v[m - 1]["b"] @ dz[m] for m in range(1, net.M + 1)])
        say("  %-5s B=%d: its |dJ - 2T|/max|J| = %.1e; vs batch J: %.1e" % (fam, B, np.abs(Jt[1:] - Jt[:-1] - 2 * T).max()
            / np.abs(Jt).max(), np.abs(Jt - d["flux"]).max() / np.abs(d["flux"]).max()))
