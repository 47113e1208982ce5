#!/usr/bin/python3
"""Figures of a bbd-compare result (Debian's python3-matplotlib and python3-h5py).

Usage: /usr/bin/python3 examples/plot_compare.py compare.h5
Writes, beside the file: <stem>-convergence.png (distances to the continuum against N, log-log),
<stem>-fields.png (z(x, y) at tfinal of a network beside the continuum field) and
<stem>-flux.png (the energy flux J(x) through depth at several times of training).
"""
import os
import sys

try:
    import h5py
    import numpy as np
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
except ImportError as e:  # say what is missing; status 3 tells bbd-compare a module is missing
    print("plot_compare.py: %s (install python3-matplotlib python3-h5py)" % e, file=sys.stderr)
    sys.exit(3)


def attr(f, name):
    v = f.attrs[name]
    return v.decode() if isinstance(v, bytes) else str(v)


def main(path):
    stem = os.path.splitext(path)[0]
    base = os.path.dirname(os.path.abspath(path))
    with h5py.File(path, "r") as f:
        c = f["convergence"]
        N, ez, ezf, el, ea = c["N"][()], c["error_z"][()], c["error_z_field"][()], c["error_loss"][()], c["error_a"][()]
        tfinal = float(f.attrs["tfinal"])
        cont = attr(f, "continuum_file")
        nets = {int(n): attr(f, "network_file_%d" % n) for n in N}
    resolve = lambda p: p if os.path.isabs(p) or os.path.exists(p) else os.path.join(base, os.path.basename(os.path.dirname(p)), os.path.basename(p))
    cont = resolve(cont)
    nets = {n: resolve(p) for n, p in nets.items()}

    fig, ax = plt.subplots(figsize=(6, 4.5))
    ax.loglog(N, ez, "o-", label="Z(1, y)")
    ax.loglog(N, ezf, "s-", label="z(x, y)")
    for j in range(ea.shape[1]):
        if np.any(ea[:, j] > 0):
            ax.loglog(N, ea[:, j], "^-", label="a_%d" % j)
    ax.loglog(N, el, "d-", label="loss")
    ax.loglog(N, ez[0] * (N[0] / N), "k--", lw=0.8, label="slope 1")
    ax.loglog(N, ez[0] * (N[0] / N) ** 2, "k:", lw=0.8, label="slope 2")
    ax.set_xlabel("network width N")
    ax.set_ylabel("relative L2 distance to the continuum")
    ax.set_title("lattice networks vs the continuum field theory, t = %g" % tfinal)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(stem + "-convergence.png", dpi=120)

    n_show = int(N[1]) if len(N) > 1 else int(N[0])
    with h5py.File(nets[n_show], "r") as g, h5py.File(cont, "r") as h:
        zn, zc = g["trajectory/z"][-1], h["trajectory/z"][-1]
        Jn, Jc, tn, tc = g["trajectory/flux"][()], h["trajectory/flux"][()], g["trajectory/time"][()], h["trajectory/time"][()]
    fig, axs = plt.subplots(1, 2, figsize=(10, 4), sharey=True)
    vmin, vmax = min(zn.min(), zc.min()), max(zn.max(), zc.max())
    for ax, z, title in ((axs[0], zn, "network N = %d" % n_show), (axs[1], zc, "continuum %d x %d" % zc.shape)):
        im = ax.imshow(z.T, origin="lower", aspect="auto", extent=(0, 1, 0, 1), vmin=vmin, vmax=vmax, cmap="viridis")
        ax.set_xlabel("depth x")
        ax.set_title("z(x, y), t = %g: %s" % (tfinal, title))
    axs[0].set_ylabel("width y")
    fig.colorbar(im, ax=axs, shrink=0.9)
    fig.savefig(stem + "-fields.png", dpi=120)

    fig, ax = plt.subplots(figsize=(6, 4.5))
    picks = sorted(set(np.linspace(0, len(tc) - 1, 4).astype(int)))
    for k in picks:
        l, = ax.plot(np.linspace(0, 1, Jc.shape[1]), Jc[k], label="continuum, t = %.2g" % tc[k])
        kn = int(np.argmin(abs(tn - tc[k])))
        ax.plot(np.linspace(0, 1, Jn.shape[1]), Jn[kn], "o", ms=3, color=l.get_color())
    ax.set_xlabel("depth x")
    ax.set_ylabel("energy flux J(x)")
    ax.set_title("flux through depth (dots: network N = %d)" % n_show)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(stem + "-flux.png", dpi=120)
    print("figures: %s-convergence.png, %s-fields.png, %s-flux.png" % (stem, stem, stem))


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
