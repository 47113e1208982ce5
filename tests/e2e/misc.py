#!/usr/bin/python3
"""End-to-end tests across the executables: refused input (bbd-net and bbd-field), -help,
memcheck of small runs of both programs, the standard grids in meshes/.

Usage: /usr/bin/python3 tests/e2e/misc.py CASE --bin BUILD/bin/bbd-net [--src SOURCE_DIR]
(tests/e2e/common.py); every case is a CTest test of the same name.
"""
import os

import numpy as np

from common import SMALL, check, compare_bin, field_bin, h5py, main, run


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


FIELD_BAD = [
    (["-bbd_sweep_ghost", "5"], "-bbd_sweep_ghost"),  # 2 ranks own 4 width columns each
    (["-bbd_sweep_ghost", "-1"], "-bbd_sweep_ghost"),
    (["-bbd_mode", "continuum", "-bbd_activation", "relu"], "relu"),
    (["-bbd_mode", "continuum", "-bbd_init", "nothere.h5"], "-bbd_init"),
    (["-bbd_mode", "continuum", "-bbd_formulation", "residual", "-ts_type", "arkimex", "-ts_arkimex_type", "2e"], "-ts_arkimex_type 2e"),
    (["-da_processors_x", "3"], "-da_processors_x 3 does not divide"),
    (["-da_processors_x", "2", "-da_processors_y", "2"], "-da_processors_y 2 is 4"),
    (["-bbd_mode", "continuum", "-da_grid_x", "2"], "-da_grid_x"),
    (["-bbd_mode", "continuum", "-bbd_activation", "tanh,sin,tanh,tanh"], "-bbd_activation"),
    (["-bbd_mode", "spectral"], "-bbd_mode"),
    (["-bbd_family", "dense"], "dense"),
    (["-bbd_dynamics", "sgd"], "-bbd_dynamics sgd"),
    (["-bbd_batch", "2"], "-bbd_batch"),
    (["-da_grid_x", "9"], "-da_grid_x"),
    (["-da_grid_y", "7"], "-da_grid_y"),
    (["-da_refine", "1"], "-da_refine"),
    (["-bbd_init", "nothere.h5"], "nothere.h5"),
    (["-bbd_jacobian", "dense"], "-bbd_jacobian"),
    (["-bbd_formulation", "residual", "-pc_type", "lu"], "-bbd_jacobian assembled"),
    (["-bbd_jacobian", "assembled"], "-bbd_formulation residual"),
    (["-snes_fd_color"], "-snes_fd_color"),
    (["-snes_fd"], "-snes_fd"),
    (["-bbd_mode", "continuum", "-snes_fd_color"], "add -bbd_formulation residual"),  # the sweep formulation; continuum's residual form takes it
    (["-bbd_mode", "continuum", "-bbd_formulation", "residual", "-pc_type", "lu"], "-snes_fd_color"),
    (["-bbd_formulation", "residual", "-snes_fd_color", "-snes_fd"], "choose one"),
    # a Newton failure ends the run with a message when retries are off (-ts_max_snes_failures 1,
    # PETSc's default) or when every allowed retry fails (here 2, down to dt/16); without the limit
    # one Newton iteration converges at dt ~ 1e-9 and the segment crawls on
    (["-bbd_formulation", "residual", "-snes_max_it", "1", "-ts_adapt_type", "none", "-ts_max_snes_failures", "1"], "try a smaller -ts_dt"),
    (["-bbd_formulation", "residual", "-snes_max_it", "1", "-ts_adapt_type", "none", "-ts_max_reject", "2"], "-ts_max_reject times"),
    (["-bbd_dynamics", "damped", "-bbd_formulation", "residual", "-pc_type", "lu"], "-bbd_jacobian assembled"),
    (["-bbd_switch", "tsevents"], "-bbd_switch"),
    (["-bbd_mode", "continuum", "-bbd_switch", "events"], "-bbd_switch events"),
    (["-bbd_switch", "events", "-bbd_sample_dt", "0.1", "-ts_type", "euler"], "-ts_type euler"),
]


def case_field_badinput(b):
    """bbd-field refuses what it cannot do with an error naming it, and leaves no output."""
    for opts, word in FIELD_BAD:
        for f in os.listdir("."):
            os.remove(f)
        nproc = 2 if "-da_processors_x" in opts or "-bbd_sweep_ghost" in opts else 1
        p = run([field_bin(b), "-bbd_quiet", "-bbd_depth", "4", "-bbd_width", "8", "-bbd_output", "out.h5"] + opts,
                nproc=nproc, expect_ok=False)
        text = p.stdout + p.stderr
        check(p.returncode > 0, "bbd-field %s: exit code %d" % (opts, p.returncode))
        check(word in text, "bbd-field %s: the message does not name %r:\n%s" % (opts, word, text[:1500]))
        check(not [f for f in os.listdir(".") if f.startswith("out.")], "bbd-field %s: left output behind" % opts)


def case_help(b):
    """-help of every executable: the contract's options and ours, each bbd option listed once with its
    full default (lists in full), under the program's own heading and before PETSc's general options;
    bbd-field lists its grid options and its introduction names every mode and formulation; bbd-compare
    lists its own options and its runs' once each; -help runs nothing."""
    def options(text):
        return [l.split()[0].rstrip(":") for l in text.splitlines() if l.startswith("  -bbd_") or l.startswith("  -da_grid_")]

    def once_before_petsc(name, text):
        opts = options(text)
        dup = sorted(set(o for o in opts if opts.count(o) > 1))
        check(not dup, "%s -help lists %s more than once" % (name, dup))
        first, petsc = text.find("\n  -bbd_"), text.find("Options for all PETSc programs")
        check(0 <= first < petsc, "%s -help: the bbd options do not come before PETSc's general options" % name)

    p = run([b, "-help"])
    for opt in ["-bbd_family", "-bbd_depth", "-bbd_width", "-bbd_widths", "-bbd_activation", "-bbd_loss",
                "-bbd_dynamics", "-bbd_eta", "-bbd_gamma", "-bbd_kappa", "-bbd_tfinal", "-bbd_output_dt",
                "-bbd_init", "-bbd_output", "-bbd_sample_dt", "-bbd_sample_order", "-bbd_seed", "-bbd_mode",
                "-bbd_batch", "-bbd_data", "-bbd_nsamples", "-bbd_residual", "-bbd_h", "-bbd_periodic", "-ts_type"]:
        check(opt in p.stdout, "-help does not list %s" % opt)
    check("-bbd_kappa <1.,0.1,0.>" in p.stdout, "bbd-net -help: -bbd_kappa without its full default 1,0.1,0")
    once_before_petsc("bbd-net", p.stdout)
    check(not os.path.exists("bbd-net.h5"), "bbd-net -help ran the training")
    p = run([field_bin(b), "-help"])
    for opt in ["-bbd_mode", "-bbd_formulation", "-bbd_jacobian", "-bbd_sweep_ghost", "-da_grid_x", "-da_grid_y", "-ts_type"]:
        check(opt in p.stdout, "bbd-field -help does not list %s" % opt)
    check("-bbd_kappa <1.,0.1,0.>" in p.stdout, "bbd-field -help: -bbd_kappa without its full default 1,0.1,0")
    once_before_petsc("bbd-field", p.stdout)
    intro = p.stdout[:p.stdout.find("\n  -bbd_")]
    for word in ("lattice", "continuum", "sweep", "residual", "damped"):
        check(word in intro, "bbd-field -help: the introduction does not describe %s" % word)
    check(not os.path.exists("bbd-field.h5"), "bbd-field -help ran the solver")
    p = run([compare_bin(b), "-help"])
    for opt in ["-bbd_resolutions", "-bbd_reference_grid", "-bbd_compare_times", "-bbd_tfinal", "-bbd_output", "-bbd_init",
                "-bbd_kappa", "-bbd_formulation", "-ts_type"]:
        check(opt in p.stdout, "bbd-compare -help does not list %s" % opt)
    check("-bbd_resolutions <8,16,32,64>" in p.stdout, "bbd-compare -help: -bbd_resolutions without its full default 8,16,32,64")
    once_before_petsc("bbd-compare", p.stdout)
    check(not os.path.exists("compare.h5"), "bbd-compare -help ran the comparison")


def case_valgrind(b):
    """Memcheck finds no invalid access or use of uninitialised memory in small runs of every
    dynamics, both families, a restart, the damped residual form with its assembled Jacobian, and
    an error path (a truncated -bbd_init file)."""
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
        [f, "-bbd_quiet", "-bbd_depth", "3", "-bbd_width", "5", "-bbd_periodic", "0", "-bbd_dynamics", "damped",
         "-bbd_activation", "softplus", "-bbd_tfinal", "0.05", "-bbd_sample_dt", "0.02", "-bbd_output", "vf4.h5"],
        [f, "-bbd_quiet", "-bbd_depth", "3", "-bbd_width", "5", "-bbd_formulation", "residual", "-ts_dt", "0.01",
         "-bbd_tfinal", "0.02", "-bbd_output", "vf2.h5"],
        [f, "-bbd_quiet", "-bbd_depth", "3", "-bbd_width", "5", "-bbd_periodic", "0", "-bbd_dynamics", "damped", "-bbd_loss", "ce",
         "-bbd_kappa", "1,0.1,0.01", "-bbd_formulation", "residual", "-bbd_jacobian", "assembled", "-ts_dt", "0.01",
         "-bbd_tfinal", "0.02", "-bbd_output", "vf5.h5"],
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


def case_log_events(b):
    """-log_view shows the field solver's own events for every type, each counted at least once
    (what -log_view is for: seeing where the time goes): both sweeps and the diagnostics and
    output everywhere; the residual, the Jacobian assembly and the preconditioner in the residual
    forms. bbd-net counts the diagnostics and the output of its saved times."""
    s = ["-bbd_depth", "6", "-bbd_width", "8", "-bbd_tfinal", "0.2", "-bbd_output_dt", "0.1", "-bbd_quiet"]
    c = ["-bbd_mode", "continuum", "-da_grid_x", "9", "-da_grid_y", "8"]
    res = ["-bbd_formulation", "residual", "-bbd_jacobian", "assembled"]
    common = ["BbdSweepBackward", "BbdSweepForward", "BbdDiagnostics", "BbdOutput"]
    for name, opts, events in [("lattice sweep", s, common),
                               ("lattice damped sweep", s + ["-bbd_dynamics", "damped"], common),
                               ("lattice residual", s + res, common + ["BbdResidual", "BbdJacobian", "BbdPCApply"]),
                               ("continuum sweep", s + c, common),
                               ("continuum residual", s + c + res, common + ["BbdResidual", "BbdJacobian", "BbdPCApply"])]:
        log = run([field_bin(b)] + opts + ["-bbd_output", "ev.h5", "-log_view"]).stdout
        counts = {l.split()[0]: l.split()[1] for l in log.splitlines() if l.startswith("Bbd") and len(l.split()) > 1}
        for e in events:
            check(e in counts and counts[e].isdigit() and int(counts[e]) > 0,
                  "%s: -log_view does not count event %s (%s)" % (name, e, counts.get(e)))
    for name, opts in [("bbd-net flow", s), ("bbd-net sgd dense", ["-bbd_family", "dense", "-bbd_dynamics", "sgd", "-bbd_tfinal", "20", "-bbd_quiet"])]:
        log = run([b] + opts + ["-bbd_output", "ev.h5", "-log_view"]).stdout
        counts = {l.split()[0]: l.split()[1] for l in log.splitlines() if l.startswith("Bbd") and len(l.split()) > 1}
        for e in ("BbdDiagnostics", "BbdOutput"):
            check(e in counts and counts[e].isdigit() and int(counts[e]) > 0,
                  "%s: -log_view does not count event %s (%s)" % (name, e, counts.get(e)))


CASES = {
    "net-badinput": lambda b, src: case_badinput(b),
    "field-badinput": lambda b, src: case_field_badinput(b),
    "net-help": lambda b, src: case_help(b),
    "net-valgrind": lambda b, src: case_valgrind(b),
    "field-meshes": lambda b, src: case_meshes(b, src),
    "field-log-events": lambda b, src: case_log_events(b),
}

if __name__ == "__main__":
    main(CASES)
