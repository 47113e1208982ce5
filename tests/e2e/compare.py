#!/usr/bin/python3
"""End-to-end tests of bbd-compare: convergence of the lattices to the continuum, coarse-graining
dense networks, continuum runs from a network file.

Usage: /usr/bin/python3 tests/e2e/compare.py CASE --bin BUILD/bin/bbd-net [--src SOURCE_DIR]
(tests/e2e/common.py); every case is a CTest test of the same name.
"""
import os

import numpy as np

from common import check, compare_bin, field_bin, h5py, main, run


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


def case_compare_badinput(b):
    """Every input bbd-compare refuses: a non-zero exit (no signal), a message naming the option
    or the file and what is wrong, and no compare.h5 left behind that looks complete. (A chosen
    time between saved times names the nearest one, so it is no error.)"""
    c, f = compare_bin(b), field_bin(b)
    quick = ["-bbd_resolutions", "4,8", "-bbd_tfinal", "0.1", "-bbd_plot", "false", "-bbd_quiet"]
    # files to start from: a continuum result with 4 depth points (too few to recover b), a
    # continuum result whose nx attribute disagrees with its arrays, a lattice state with one
    # activation per layer, a dense network with unequal widths
    run([f, "-bbd_quiet", "-bbd_mode", "continuum", "-da_grid_x", "4", "-da_grid_y", "8", "-bbd_tfinal", "0.01",
         "-bbd_output_dt", "0.01", "-bbd_output", "c4.h5"])
    run([f, "-bbd_quiet", "-bbd_mode", "continuum", "-da_grid_x", "9", "-da_grid_y", "8", "-bbd_tfinal", "0.01",
         "-bbd_output_dt", "0.01", "-bbd_output", "cnx.h5"])
    with h5py.File("cnx.h5", "r+") as h:
        h.attrs["nx"] = np.int32(7)
    run([b, "-bbd_quiet", "-bbd_depth", "3", "-bbd_width", "8", "-bbd_activation", "tanh,erf,tanh", "-bbd_tfinal", "0.01",
         "-bbd_output_dt", "0.01", "-bbd_output", "acts.h5"])
    run([b, "-bbd_quiet", "-bbd_family", "dense", "-bbd_widths", "8,6,8", "-bbd_tfinal", "0.01", "-bbd_output_dt", "0.01",
         "-bbd_output", "widths.h5"])
    cases = [(["-bbd_depth", "8"], "-bbd_depth"), (["-bbd_width", "8"], "-bbd_width"),
             (["-bbd_output_dt", "0.01"], "-bbd_output_dt"), (["-bbd_mode", "continuum"], "-bbd_mode"),
             (["-da_grid_x", "9"], "-da_grid_x"), (["-da_grid_y", "8"], "-da_grid_y"),
             (["-bbd_resolutions", "8"], "-bbd_resolutions"), (["-bbd_resolutions", "2,8"], "too small"),
             (["-bbd_resolutions", "16,8"], "must increase"), (["-bbd_tfinal", "-1"], "-bbd_tfinal"),
             (["-bbd_activation", "relu"], "relu"), (["-bbd_reference_grid", "3,3"], "-bbd_reference_grid"),
             (["-bbd_dynamics", "damped"], "gradient flow"), (["-bbd_compare_times", "2"], "outside [0, tfinal]"),
             (["-bbd_init", "c4.h5"], "at least 5 depth points"), (["-bbd_init", "cnx.h5"], "nx = 7"),
             (["-bbd_init", "acts.h5"], "one activation for all depths"),
             (["-bbd_init", "widths.h5"], "one width for all layers"),
             (["-bbd_init", "missing.h5"], "missing.h5")]
    for opts, word in cases:
        if os.path.exists("compare.h5"):
            os.remove("compare.h5")
        # the later options win in PETSc: the bad one comes last
        p = run([c] + quick + opts, expect_ok=False)
        text = p.stdout + p.stderr
        check(p.returncode > 0, "bbd-compare %s: exit code %d (expected an error, no signal)" % (" ".join(opts), p.returncode))
        check(word in text, "bbd-compare %s: the message does not say %r:\n%s" % (" ".join(opts), word, text[-1500:]))
        check(not os.path.exists("compare.h5"), "bbd-compare %s: left compare.h5 behind" % " ".join(opts))


CASES = {
    "compare-convergence": lambda b, src: case_compare(b),
    "compare-coarse": lambda b, src: case_compare_coarse(b),
    "compare-init": lambda b, src: case_compare_init(b),
    "compare-badinput": lambda b, src: case_compare_badinput(b),
}

if __name__ == "__main__":
    main(CASES)
