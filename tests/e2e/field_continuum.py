#!/usr/bin/python3
"""End-to-end tests of bbd-field in continuum mode: self-convergence (flow and damped), the
residual form, sample switching, starting from -bbd_init.

Usage: /usr/bin/python3 tests/e2e/field_continuum.py CASE --bin BUILD/bin/bbd-net [--src SOURCE_DIR]
(tests/e2e/common.py); every case is a CTest test of the same name.
"""
import os

import numpy as np

from common import check, field_bin, h5py, main, newton_failed, run, solver_line, traj


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


def case_field_continuum_damped(b):
    """Continuum mode with damped dynamics (docs/theory.md section 14, "Continuum damped dynamics").
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
            check(not extra or newton_failed(p), "continuum residual %s %s: failed otherwise than by a diverged Newton solve:\n%s"
                  % (dyn, " ".join(extra), (p.stdout + p.stderr)[-1500:]))
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


CASES = {
    "field-continuum": lambda b, src: case_field_continuum(b),
    "field-continuum-damped": lambda b, src: case_field_continuum_damped(b),
    "field-continuum-residual": lambda b, src: case_field_continuum_residual(b),
    "field-continuum-switch": lambda b, src: case_field_continuum_switch(b),
    "field-continuum-init": lambda b, src: case_field_continuum_init(b),
}

if __name__ == "__main__":
    main(CASES)
