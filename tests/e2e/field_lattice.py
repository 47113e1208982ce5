#!/usr/bin/python3
"""End-to-end tests of bbd-field in lattice mode (sweep formulation, and what every formulation
shares): against bbd-net, restarts and hand-offs, implicit steppers, sample switching as events,
layouts across ranks, the .xdmf.

Usage: /usr/bin/python3 tests/e2e/field_lattice.py CASE --bin BUILD/bin/bbd-net [--src SOURCE_DIR]
(tests/e2e/common.py); every case is a CTest test of the same name.
"""
import os
import subprocess
import sys

import numpy as np

from common import HERE, SMALL, check, field_bin, h5py, main, run, traj


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


CASES = {
    "field-lattice": lambda b, src: case_field_lattice(b),
    "field-restart": lambda b, src: case_field_restart(b),
    "field-damped": lambda b, src: case_field_damped(b),
    "field-handoff": lambda b, src: case_field_handoff(b),
    "field-implicit": lambda b, src: case_field_implicit(b),
    "field-events": lambda b, src: case_field_events(b),
    "field-layouts": lambda b, src: case_field_layouts(b),
    "field-xdmf": lambda b, src: case_field_xdmf(b),
}

if __name__ == "__main__":
    main(CASES)
