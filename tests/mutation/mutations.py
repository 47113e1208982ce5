"""Planted mistakes for tests/mutation/run.py. Each entry: an id, the exact code `find` (it must
occur exactly once in src/, so the list survives code moving between files), its `replace`, the
CTest names (a regex) expected to catch it, and why the mistake is plausible. `equivalent` names
a mutation that cannot change results (it is listed, not counted as a survivor)."""

MUTATIONS = [
    dict(id="mse-gradient-sign", find="if (lam) lam[i] = Z[i] - Y[i];", replace="if (lam) lam[i] = Y[i] - Z[i];",
         tests="t102|reference", why="the sign of the loss gradient"),
    dict(id="softmax-gradient-weight", find="if (lam) lam[i] = w * sumy * PetscExpReal(logp) - Y[i];",
         replace="if (lam) lam[i] = sumy * PetscExpReal(logp) - Y[i];", tests="t102|reference",
         why="a missing cell weight in the ce/kl gradient"),
    dict(id="hinge-subgradient", find="if (lam) lam[i] = margin > 0 ? -Y[i] : 0;",
         replace="if (lam) lam[i] = margin >= 0 ? -Y[i] : 0;", tests="t102", equivalent="the kink Y Z = 1 is hit only on a set of measure zero; a test can place Z there exactly",
         why="the subgradient at the kink"),
    dict(id="dissipation-factor", find="snap->dissipation[m]   = (net->dyn == BBD_DYN_DAMPED ? net->gamma : 1.0) * (Ta + Tb);",
         replace="snap->dissipation[m]   = (net->dyn == BBD_DYN_DAMPED ? 2 * net->gamma : 1.0) * (Ta + Tb);",
         tests="t302|reference|damped", why="a wrong factor in the damped dissipation gamma T"),
    dict(id="defect-sign", find="snap->defect[m] = 0.5 * c * (bb2 - bb);", replace="snap->defect[m] = 0.5 * c * (bb - bb2);",
         tests="t302|reference", why="the sign of the symmetry defect"),
    dict(id="continuum-a2-rate-sign", find="f->dar[(c * NX + k) * ym + j] = net->kappa[c] * beta[k * ym + j] * D[c];",
         replace="f->dar[(c * NX + k) * ym + j] = (c == 2 ? -1 : 1) * net->kappa[c] * beta[k * ym + j] * D[c];",
         tests="continuum", why="the sign of the trained diffusion moment's rate in continuum mode"),
    dict(id="heun-corrector-depth", find="rhs(f, k1, p, lo, hi, g2);", replace="rhs(f, k0, p, lo, hi, g2);",
         tests="continuum", why="the corrector stage of the depth integration evaluated at the wrong depth"),
    dict(id="heun-predictor-half", find="for (PetscInt jj = lo1; jj < hi1; jj++) p[jj] = x[jj] + h * g1[jj - lo1];",
         replace="for (PetscInt jj = lo1; jj < hi1; jj++) p[jj] = x[jj] + 0.5 * h * g1[jj - lo1];",
         tests="continuum", why="a predictor with half a step"),
    dict(id="interp-stencil-shift", find="s = (PetscInt)PetscFloorReal(u) - (np - 1) / 2; /* np = 4: nodes floor(u)-1 .. floor(u)+2 */",
         replace="s = (PetscInt)PetscFloorReal(u) - (np - 1) / 2 + 1;", tests="t401|init|compare",
         why="an interpolation stencil shifted by one node"),
    dict(id="dense-restart-no-Wdot", find="if (!v || BbdH5PathExists(fid, path)) PetscCall(BbdH5ReadDataset(fid, file, path, 2, d, th + net->woff[m]));",
         replace="if (!v) PetscCall(BbdH5ReadDataset(fid, file, path, 2, d, th + net->woff[m]));",
         tests="restart|t201", why="a damped dense restart that does not read W_dot"),
    dict(id="sweep-source-factor", find="for (PetscInt jj = lo; jj < hi; jj++) bn[jj] += h * r[gys + jj][m][0];",
         replace="for (PetscInt jj = lo; jj < hi; jj++) bn[jj] += 2 * h * r[gys + jj][m][0];",
         tests="residual|jacobian|t5", why="a wrong factor in the sweep preconditioner's sources"),
    dict(id="softmax-hessian-sign", find="(k == j ? 1 : 0) - J->q[k]", replace="(k == j ? 1 : 0) + J->q[k]",
         tests="jacobian|t5", why="the sign in the softmax Hessian of the assembled Jacobian"),
]
