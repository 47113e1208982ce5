static const char help[] = "t302: the bulk-boundary decomposition at one instant against an independent implementation: T_m,\n\
dissipation, energy rate, L, L_bulk, L_boundary, flux, symmetry defect; hand-computed defects; energy continuity.\n";

/* For every test network, loss and dynamics (batch of 2 samples, random velocity for damped):
   - every quantity of BbdSnapshotCompute (loss, T_m, dissipation, energy rate, L, L_bulk,
     L_boundary, flux J_0..J_M, symmetry defect) against RefSnapshot below, a second
     implementation written from the definitions in docs/theory/discrete.md and energy.md
     (its own activations from libm, losses, stencils, forward, backward, tangent passes and
     parameter layout): 1e-12 relative to the natural scale of each quantity (largest T_m,
     T + |l|, largest |J|); they differ only by rounding (1e-14 relative in practice);
   - L = L_bulk + L_boundary of the library's own numbers (1e-12 relative to T + |l|) and
     beta (z-form) = db/dt (1e-10);
   - flow and sgd: J_(m+1) - J_m = 2 T_m; damped: J_(m+1) - J_m = dT_m/dt + 2 gamma T_m, both
     to 1e-11 relative to the largest flux or kinetic term (identities, so only rounding);
   - J_M = -eta dl/dt with dl/dt by a central difference of the batch loss along the velocity
     (fourth order, step 1e-4/max|velocity|: 1e-6 relative);
   - symmetry defect: exactly 0 for repeated layers, +inf where dense shapes differ, and the
     value of the independent implementation elsewhere; and hand-computed values with a known
     sign (DefectByHand): two layers that differ only in their activation, input and
     velocities chosen so that defect_0 = c/2 (|beta_H1|^2 - |beta|^2) is +1, -1, +-1/2 exactly
     or a closed form in sin 1, tanh 1. */
#include "bbdtest.h"
#include <math.h>

/* ---- An independent implementation of the decomposition, from the definitions of
   docs/theory/discrete.md (sections 1-6) and energy.md (sections 7-8) only: its own activations
   (libm), loss, stencils, passes and parameter layout; it shares nothing with src/ but the
   net's definition (widths, activations, h, rho, kappa, ...), its data and its state. ---- */
#define RMAXP 2048 /* parameters */
#define RMAXZ 512  /* neurons of one sample */
#define RMAXB 4    /* samples of a batch */

typedef struct {
  PetscReal loss, L, L_bulk, L_boundary, T[16], diss[16], rate[16], flux[17], defect[16];
} RefSnap;

/* sigma and sigma' of the activations, from their definitions */
static void RefAct(BbdActivation act, PetscInt n, const PetscReal *z, PetscReal *s, PetscReal *d1)
{
  for (PetscInt i = 0; i < n; i++) {
    const double x = z[i], g = 1 / (1 + exp(-x)), Phi = 0.5 * (1 + erf(x / sqrt(2.0))), phi = exp(-0.5 * x * x) / sqrt(2 * M_PI);
    double       v = 0, p = 0;
    switch (act) {
    case BBD_ACT_TANH: v = tanh(x), p = 1 / (cosh(x) * cosh(x)); break;
    case BBD_ACT_ERF: v = erf(x), p = 2 / sqrt(M_PI) * exp(-x * x); break;
    case BBD_ACT_SIGMOID: v = g, p = g * (1 - g); break;
    case BBD_ACT_SOFTPLUS: v = log(1 + exp(x)), p = g; break;
    case BBD_ACT_GELU: v = x * Phi, p = Phi + x * phi; break;
    case BBD_ACT_SWISH: v = x * g, p = g + x * g * (1 - g); break;
    case BBD_ACT_SIN: v = sin(x), p = cos(x); break;
    case BBD_ACT_LINEAR: v = x, p = 1; break;
    case BBD_ACT_RELU: v = x > 0 ? x : 0, p = x > 0 ? 1 : 0; break;
    }
    s[i] = v;
    if (d1) d1[i] = p;
  }
}

/* the parameter layout of include/bbd.h / bbdimpl.h: per layer a_0..a_P then b (field), W row-major then b (dense) */
static void RefLayout(BbdNet net, PetscInt *wo, PetscInt *bo, PetscInt *zo, PetscInt *np, PetscInt *nz)
{
  PetscInt o = 0;
  for (PetscInt m = 0; m < net->M; m++) {
    wo[m] = o;
    o += net->family == BBD_FAMILY_FIELD ? (net->P + 1) * net->n[0] : net->n[m + 1] * net->n[m];
    bo[m] = o;
    o += net->n[m + 1];
  }
  *np = o, o = 0;
  for (PetscInt m = 0; m <= net->M; m++) zo[m] = o, o += net->n[m];
  *nz = o;
}

/* s_(i+k) with periodic wrap or zero padding */
static PetscReal RefAt(BbdNet net, const PetscReal *s, PetscInt i, PetscInt k)
{
  const PetscInt N = net->n[0], j = i + k;
  if (j >= 0 && j < N) return s[j];
  return net->periodic ? s[(j + N) % N] : 0;
}

/* (D_j s)_i; the transposes: D_0^T = D_0, D_1^T = -D_1, D_2^T = D_2 (section 1) */
static PetscReal RefD(BbdNet net, PetscInt j, const PetscReal *s, PetscInt i)
{
  const PetscReal dy = 1.0 / net->n[0];
  if (j == 0) return s[i];
  if (j == 1) return (RefAt(net, s, i, 1) - RefAt(net, s, i, -1)) / (2 * dy);
  return (RefAt(net, s, i, 1) - 2 * s[i] + RefAt(net, s, i, -1)) / (dy * dy);
}

/* out = Phi_m[p](s): sum_j p_j .* D_j s (field), W s (dense) */
static void RefPhi(BbdNet net, const PetscInt *wo, PetscInt m, const PetscReal *p, const PetscReal *s, PetscReal *out)
{
  const PetscInt n0 = net->n[m], n1 = net->n[m + 1];
  for (PetscInt i = 0; i < n1; i++) {
    PetscReal r = 0;
    if (net->family == BBD_FAMILY_FIELD)
      for (PetscInt j = 0; j <= net->P; j++) r += p[wo[m] + j * n0 + i] * RefD(net, j, s, i);
    else
      for (PetscInt k = 0; k < n0; k++) r += p[wo[m] + i * n0 + k] * s[k];
    out[i] = r;
  }
}

/* out = Phi_m[p]^T u: sum_j D_j^T (p_j .* u) (field), W^T u (dense) */
static void RefPhiT(BbdNet net, const PetscInt *wo, PetscInt m, const PetscReal *p, const PetscReal *u, PetscReal *out)
{
  const PetscInt n0 = net->n[m], n1 = net->n[m + 1];
  PetscReal      q[RMAXZ];
  for (PetscInt k = 0; k < n0; k++) out[k] = 0;
  if (net->family == BBD_FAMILY_FIELD) {
    for (PetscInt j = 0; j <= net->P; j++) {
      for (PetscInt i = 0; i < n0; i++) q[i] = p[wo[m] + j * n0 + i] * u[i];
      for (PetscInt i = 0; i < n0; i++) out[i] += (j == 1 ? -1 : 1) * RefD(net, j, q, i);
    }
  } else
    for (PetscInt i = 0; i < n1; i++)
      for (PetscInt k = 0; k < n0; k++) out[k] += p[wo[m] + i * n0 + k] * u[i];
}

/* loss of one sample and lam^(M) = (1/w) dl/dZ (section 2) */
static PetscReal RefLoss(BbdNet net, PetscInt n, const PetscReal *Z, const PetscReal *Y, PetscReal *lam)
{
  const PetscReal w = net->family == BBD_FAMILY_FIELD ? 1.0 / net->n[0] : 1.0;
  PetscReal       l = 0, zmax = Z[0], se = 0, sy = 0;
  switch (net->loss) {
  case BBD_LOSS_MSE:
    for (PetscInt i = 0; i < n; i++) l += 0.5 * w * (Z[i] - Y[i]) * (Z[i] - Y[i]), lam[i] = Z[i] - Y[i];
    break;
  case BBD_LOSS_CE:
  case BBD_LOSS_KL:
    for (PetscInt i = 0; i < n; i++) zmax = PetscMax(zmax, Z[i]);
    for (PetscInt i = 0; i < n; i++) se += exp(Z[i] - zmax), sy += Y[i];
    for (PetscInt i = 0; i < n; i++) {
      const PetscReal logp = Z[i] - zmax - log(w * se);
      lam[i] = w * sy * exp(logp) - Y[i];
      if (Y[i] != 0) l += net->loss == BBD_LOSS_CE ? -w * Y[i] * logp : w * Y[i] * (log(Y[i]) - logp);
    }
    break;
  case BBD_LOSS_HINGE:
    for (PetscInt i = 0; i < n; i++) {
      l += w * PetscMax(0, 1 - Y[i] * Z[i]);
      lam[i] = 1 - Y[i] * Z[i] > 0 ? -Y[i] : 0;
    }
    break;
  }
  return l;
}

/* the whole snapshot at t = 0 (cyclic order: batch 0 is samples 0..B-1) from the definitions */
static void RefSnapshot(BbdNet net, const PetscReal *theta, const PetscReal *thetadot_damped, RefSnap *r)
{
  const PetscInt  M = net->M, B = net->batch, P = net->P;
  const PetscBool field = (PetscBool)(net->family == BBD_FAMILY_FIELD), damped = (PetscBool)(net->dyn == BBD_DYN_DAMPED);
  const PetscReal h = field ? 1.0 / M : net->h, rho = field || net->residual ? 1 : 0, w = field ? 1.0 / net->n[0] : 1.0, c = field ? h * w : 1;
  PetscInt        wo[16], bo[16], zo[17], np, nz;
  static PetscReal z[RMAXB][RMAXZ], lam[RMAXB][RMAXZ], dz[RMAXB][RMAXZ], v[RMAXP], thd[RMAXP], acc[RMAXP];
  PetscReal        s[RMAXZ], d1[RMAXZ], t1[RMAXZ], t2[RMAXZ], beta[RMAXZ];

  RefLayout(net, wo, bo, zo, &np, &nz);
  for (PetscInt k = 0; k < np; k++) v[k] = 0;
  r->loss = 0;
  for (PetscInt q = 0; q < B; q++) { /* forward, loss, backward; velocity (section 4) */
    const PetscInt smp = q % net->S;
    for (PetscInt i = 0; i < net->n[0]; i++) z[q][i] = net->X[smp * net->n[0] + i];
    for (PetscInt m = 0; m < M; m++) {
      RefAct(net->act[m], net->n[m], z[q] + zo[m], s, NULL);
      RefPhi(net, wo, m, theta, s, t1);
      for (PetscInt i = 0; i < net->n[m + 1]; i++) z[q][zo[m + 1] + i] = rho * (rho ? z[q][zo[m] + i] : 0) + h * (t1[i] + theta[bo[m] + i]);
    }
    r->loss += RefLoss(net, net->n[M], z[q] + zo[M], net->Y + smp * net->n[M], lam[q] + zo[M]) / B;
    for (PetscInt m = M - 1; m >= 0; m--) {
      RefAct(net->act[m], net->n[m], z[q] + zo[m], s, d1);
      RefPhiT(net, wo, m, theta, lam[q] + zo[m + 1], t1);
      for (PetscInt i = 0; i < net->n[m]; i++) lam[q][zo[m] + i] = (rho ? lam[q][zo[m + 1] + i] : 0) + h * d1[i] * t1[i];
      for (PetscInt i = 0; i < net->n[m + 1]; i++) { /* -eta G^-1 dl/dtheta, dl/db = h w lam^(m+1), G = c/kappa_j, c (field), 1 (dense) */
        const PetscReal g = h * w * lam[q][zo[m + 1] + i];
        v[bo[m] + i] += -net->eta * g / c / B;
        if (field)
          for (PetscInt j = 0; j <= P; j++) v[wo[m] + j * net->n[0] + i] += -net->eta * net->kappa[j] / c * g * RefD(net, j, s, i) / B;
        else
          for (PetscInt k = 0; k < net->n[m]; k++) v[wo[m] + i * net->n[m] + k] += -net->eta * g * s[k] / B;
      }
    }
  }
  for (PetscInt k = 0; k < np; k++) thd[k] = damped ? thetadot_damped[k] : v[k];
  for (PetscInt k = 0; k < np; k++) acc[k] = -net->gamma * thd[k] + v[k];
  for (PetscInt q = 0; q < B; q++) { /* tangent pass (section 5) */
    for (PetscInt i = 0; i < net->n[0]; i++) dz[q][i] = 0;
    for (PetscInt m = 0; m < M; m++) {
      RefAct(net->act[m], net->n[m], z[q] + zo[m], s, d1);
      for (PetscInt i = 0; i < net->n[m]; i++) t2[i] = d1[i] * dz[q][zo[m] + i];
      RefPhi(net, wo, m, theta, t2, t1);
      RefPhi(net, wo, m, thd, s, t2);
      for (PetscInt i = 0; i < net->n[m + 1]; i++) dz[q][zo[m + 1] + i] = (rho ? dz[q][zo[m] + i] : 0) + h * (t1[i] + t2[i] + thd[bo[m] + i]);
    }
  }
  r->L_bulk = 0;
  {
    PetscReal T = 0;
    for (PetscInt m = 0; m < M; m++) { /* T_m, dT_m/dt (section 3, 8); beta from the z-form, first sample (section 5, 6) */
      PetscReal sa = 0, sb = 0, ra = 0, bb[2] = {0, 0};
      const PetscInt na = field ? net->n[0] : net->n[m] * net->n[m + 1];
      for (PetscInt j = 0; j <= (field ? P : 0); j++) {
        const PetscReal mob = field ? net->kappa[j] : 1;
        if (mob == 0) continue;
        for (PetscInt i = 0; i < na; i++) {
          const PetscInt k = wo[m] + j * na + i;
          sa += thd[k] * thd[k] / mob, ra += thd[k] * acc[k] / mob;
        }
      }
      for (PetscInt i = 0; i < net->n[m + 1]; i++) sb += thd[bo[m] + i] * thd[bo[m] + i], ra += thd[bo[m] + i] * acc[bo[m] + i];
      r->T[m]    = 0.5 * c * (sa + sb);
      r->diss[m] = damped ? net->gamma * r->T[m] : r->T[m];
      r->rate[m] = damped ? c * ra : 0;
      T += r->T[m];
      for (PetscInt hk = 0; hk < 2 && (hk == 0 || m < M - 1); hk++) {
        const BbdActivation H = net->act[m + hk];
        if (hk && !field && (net->n[m] != net->n[m + 1] || net->n[m + 1] != net->n[m + 2])) break;
        RefAct(H, net->n[m], z[0] + zo[m], s, d1);
        for (PetscInt i = 0; i < net->n[m]; i++) t2[i] = d1[i] * dz[0][zo[m] + i];
        RefPhi(net, wo, m, theta, t2, t1);
        RefPhi(net, wo, m, thd, s, t2);
        for (PetscInt i = 0; i < net->n[m + 1]; i++) {
          beta[i] = (dz[0][zo[m + 1] + i] - (rho ? dz[0][zo[m] + i] : 0)) / h - t2[i] - t1[i];
          bb[hk] += beta[i] * beta[i];
        }
      }
      if (m < M - 1) r->defect[m] = !field && (net->n[m] != net->n[m + 1] || net->n[m + 1] != net->n[m + 2]) ? (PetscReal)INFINITY : 0.5 * c * (bb[1] - bb[0]);
      r->L_bulk += 0.5 * c * sa + (m > 0 ? 0.5 * c * bb[0] : 0);
      if (m == 0) r->L_boundary = 0.5 * c * bb[0] - r->loss;
    }
    r->L = T - r->loss;
  }
  for (PetscInt k = 0; k <= M; k++) { /* flux (section 7) */
    PetscReal J = 0;
    for (PetscInt q = 0; q < B; q++)
      for (PetscInt i = 0; i < net->n[k]; i++) J += lam[q][zo[k] + i] * dz[q][zo[k] + i];
    r->flux[k] = -net->eta * w * J / B;
  }
}

static PetscReal BatchLoss(BbdNet net, const PetscReal *theta)
{
  PetscReal *v, l;
  PetscInt   idx[16];
  PetscMalloc1(net->nparam, &v);
  BbdNetBatchSamples(net, 0, idx);
  BbdFlowVelocityBatch(net, idx, theta, v, &l);
  PetscFree(v);
  return l;
}

/* |got - want| <= tol * scale for n values; inf must match inf */
static void Compare(const char *opts, const char *what, PetscInt n, const PetscReal *got, const PetscReal *want, PetscReal scale, PetscReal tol)
{
  for (PetscInt k = 0; k < n; k++) {
    const PetscBool ok = PetscIsInfReal(want[k]) ? (PetscBool)(PetscIsInfReal(got[k]) && got[k] > 0) : (PetscBool)(PetscAbsReal(got[k] - want[k]) <= tol * scale);
    CHECK(ok, "%s: %s[%" PetscInt_FMT "] = %.17g, independent implementation %.17g (scale %g)", opts, what, k, (double)got[k], (double)want[k], (double)scale);
  }
}

/* expect_defect (M - 1 entries, or NULL): 0 exactly zero, 2 +inf, 1 finite and nonzero (its value is compared anyway) */
static PetscErrorCode CheckIdentities(const char *opts, const int *expect_defect)
{
  BbdNet      net;
  BbdSnapshot snap;
  RefSnap     ref;
  PetscReal  *th, T = 0, Tmax = 0, scale = 0, jscale = 0, rscale, dscale, escale, dldt, eps = 1e-4;
  PetscInt    M, wo[16], bo[16], zo[17], np, nz;
  const int   nfail0 = bbd_nfail;

  PetscFunctionBeginUser;
  PetscCall(TestNetCreate(opts, 0.05, &net));
  M = net->M;
  RefLayout(net, wo, bo, zo, &np, &nz);
  CHECK(np == net->nparam && nz == net->nz && np <= RMAXP && nz <= RMAXZ && net->batch <= RMAXB && M <= 16, "%s: layout: %d parameters, %d neurons", opts, (int)net->nparam, (int)net->nz);
  for (PetscInt m = 0; m < M; m++) CHECK(wo[m] == net->woff[m] && bo[m] == net->boff[m], "%s: parameter layout of layer %d", opts, (int)m);
  if (bbd_nfail > nfail0) { /* the independent implementation does not fit this net */
    PetscCall(BbdNetDestroy(&net));
    PetscFunctionReturn(0);
  }
  PetscCall(BbdSnapshotCreate(net, &snap));
  PetscCall(BbdSnapshotCompute(net, 0, net->theta, net->thetadot, &snap));
  RefSnapshot(net, net->theta, net->thetadot, &ref);
  CHECK(snap.sample == 0, "%s: first sample of batch 0 is %d", opts, (int)snap.sample);

  /* against the independent implementation */
  for (PetscInt m = 0; m < M; m++) T += ref.T[m], Tmax = PetscMax(Tmax, ref.T[m]);
  for (PetscInt k = 0; k <= M; k++) jscale = PetscMax(jscale, PetscAbsReal(ref.flux[k]));
  rscale = Tmax * (1 + net->gamma);
  for (PetscInt m = 0; m < M; m++) rscale = PetscMax(rscale, PetscAbsReal(ref.rate[m]));
  dscale = Tmax;
  for (PetscInt m = 0; m < M - 1; m++)
    if (!PetscIsInfReal(ref.defect[m])) dscale = PetscMax(dscale, PetscAbsReal(ref.defect[m]));
  escale = T + PetscAbsReal(ref.loss);
  Compare(opts, "loss", 1, &snap.loss, &ref.loss, PetscAbsReal(ref.loss), 1e-12);
  Compare(opts, "layer_kinetic", M, snap.layer_kinetic, ref.T, Tmax, 1e-12);
  Compare(opts, "dissipation", M, snap.dissipation, ref.diss, Tmax * (net->dyn == BBD_DYN_DAMPED ? net->gamma : 1), 1e-12);
  Compare(opts, "energy_rate", M, snap.energy_rate, ref.rate, rscale, 1e-12);
  Compare(opts, "L", 1, &snap.L, &ref.L, escale, 1e-12);
  Compare(opts, "L_bulk", 1, &snap.L_bulk, &ref.L_bulk, escale, 1e-12);
  Compare(opts, "L_boundary", 1, &snap.L_boundary, &ref.L_boundary, escale, 1e-12);
  Compare(opts, "flux", M + 1, snap.flux, ref.flux, jscale, 1e-12);
  Compare(opts, "symmetry defect", M - 1, snap.defect, ref.defect, dscale, 1e-12);
  for (PetscInt k = 0; expect_defect && k < M - 1; k++) {
    const PetscReal d = snap.defect[k];
    CHECK(expect_defect[k] != 0 || d == 0, "%s: symmetry defect[%" PetscInt_FMT "] = %g, expected exactly 0 (repeated layers)", opts, k, (double)d);
    CHECK(expect_defect[k] != 2 || (PetscIsInfReal(d) && d > 0), "%s: symmetry defect[%" PetscInt_FMT "] = %g, expected +inf (shapes differ)", opts, k, (double)d);
    CHECK(expect_defect[k] != 1 || (d != 0 && !PetscIsInfReal(d)), "%s: symmetry defect[%" PetscInt_FMT "] = %g, expected finite and nonzero", opts, k, (double)d);
  }

  /* identities of the library's own numbers */
  CHECK(PetscAbsReal(snap.L - (snap.L_bulk + snap.L_boundary)) <= 1e-12 * escale, "%s: L - L_bulk - L_boundary = %g (L = %g)", opts, (double)(snap.L - snap.L_bulk - snap.L_boundary), (double)snap.L);
  CHECK(snap.beta_mismatch <= 1e-10, "%s: beta differs from db/dt (relative %g)", opts, (double)snap.beta_mismatch);
  for (PetscInt k = 0; k <= M; k++) scale = PetscMax(scale, PetscAbsReal(snap.flux[k]));
  for (PetscInt m = 0; m < M; m++) scale = PetscMax(scale, snap.layer_kinetic[m]);
  for (PetscInt m = 0; m < M; m++) {
    PetscReal lhs = snap.flux[m + 1] - snap.flux[m];
    PetscReal rhs = net->dyn == BBD_DYN_DAMPED ? snap.energy_rate[m] + 2 * net->gamma * snap.layer_kinetic[m] : 2 * snap.layer_kinetic[m];
    CHECK(PetscAbsReal(lhs - rhs) <= 1e-11 * scale, "%s: continuity at layer %" PetscInt_FMT ": J_(m+1) - J_m = %.16g, law gives %.16g", opts, m, (double)lhs, (double)rhs);
  }
  PetscCall(PetscMalloc1(net->nparam, &th));
  dldt = 0;
  eps  = 1e-4 / PetscMax(MaxAbs(net->nparam, snap.thetadot), 1e-300); /* a step small against the motion */
  for (int q = -2; q <= 2; q++) { /* fourth-order central difference */
    const PetscReal wq[] = {1, -8, 0, 8, -1};
    if (!q) continue;
    for (PetscInt k = 0; k < net->nparam; k++) th[k] = net->theta[k] + q * eps * snap.thetadot[k];
    dldt += wq[q + 2] * BatchLoss(net, th) / (12 * eps);
  }
  CHECK(PetscAbsReal(snap.flux[M] + net->eta * dldt) <= 1e-6 * PetscMax(PetscAbsReal(net->eta * dldt), 1e-8), "%s: J_M = %g but -eta dl/dt = %g", opts, (double)snap.flux[M], (double)(-net->eta * dldt));
  PetscCall(PetscFree(th));
  PetscCall(BbdSnapshotDestroy(&snap));
  PetscCall(BbdNetDestroy(&net));
  PetscFunctionReturn(0);
}

/* Two layers that differ only in the activation (layer 0: sigma_0, layer 1: sigma_1), damped
   dynamics with a velocity set here, and every input of the first sample equal to x0. The input
   does not move (dz^(0) = 0), so beta^(0) with layer 1's activation is
     beta_H = b' + Phi_0[theta'](sigma_0(x0) - sigma_1(x0)),
   and Phi_0[theta'] of a constant is a0' times it (field, periodic: D_1, D_2 of a constant
   vanish exactly; dense 1 x 1: W' times it). With b' = bd and a0' = W' = 1 at every unit:
     defect_0 = c/2 N [(bd + sigma_0(x0) - sigma_1(x0))^2 - bd^2]     (c N = h for the field, 1 dense).
   Field: the a_1', a_2' velocities are nonzero and must not contribute. */
static PetscErrorCode DefectByHand(const char *opts, PetscReal x0, PetscReal bd, PetscReal want)
{
  BbdNet      net;
  BbdSnapshot snap;
  PetscInt    wo[16], bo[16], zo[17], np, nz;

  PetscFunctionBeginUser;
  PetscCall(TestNetCreate(opts, 0.05, &net));
  RefLayout(net, wo, bo, zo, &np, &nz);
  for (PetscInt i = 0; i < net->n[0]; i++) net->X[i] = x0;
  for (PetscInt k = 0; k < np; k++) net->thetadot[k] = 0.3 + 0.01 * k; /* layer 1 and the other moments: anything */
  for (PetscInt i = 0; i < net->n[1]; i++) net->thetadot[wo[0] + i] = 1, net->thetadot[bo[0] + i] = bd;
  PetscCall(BbdSnapshotCreate(net, &snap));
  PetscCall(BbdSnapshotCompute(net, 0, net->theta, net->thetadot, &snap));
  CHECK(PetscAbsReal(snap.defect[0] - want) <= 1e-14 * PetscAbsReal(want), "%s, x0 = %g, b' = %g: symmetry defect = %.17g, by hand %.17g", opts, (double)x0, (double)bd, (double)snap.defect[0], (double)want);
  PetscCall(BbdSnapshotDestroy(&snap));
  PetscCall(BbdNetDestroy(&net));
  PetscFunctionReturn(0);
}

int main(int argc, char **argv)
{
  char              opts[1024];
  const char *const dyns[] = {"flow", "damped", "sgd"};
  const int         zero[] = {0, 0, 0, 0, 0}, act2[] = {0, 1, 1, 0}, wid4[] = {0, 0, 2, 2, 2};
  const char *const dense1 = "-bbd_family dense -bbd_widths 1,1,1 -bbd_dynamics damped -bbd_batch 1 -bbd_sample_order cyclic";
  const char *const field1 = "-bbd_family field -bbd_depth 2 -bbd_width 4 -bbd_dynamics damped -bbd_batch 1 -bbd_sample_order cyclic -bbd_kappa 1,0.5,0.25";

  PetscCall(PetscInitialize(&argc, &argv, NULL, help));
  for (size_t c = 0; c < sizeof(bbd_test_nets) / sizeof(bbd_test_nets[0]); c++)
    for (size_t l = 0; l < 4; l++)
      for (size_t d = 0; d < 3; d++) {
        PetscCall(PetscSNPrintf(opts, sizeof(opts), "%s -bbd_loss %s -bbd_dynamics %s -bbd_batch 2 -bbd_sample_order cyclic -bbd_gamma 1.5 -bbd_eta 0.6", bbd_test_nets[c], bbd_test_losses[l], dyns[d]));
        PetscCall(CheckIdentities(opts, NULL));
      }
  PetscCall(CheckIdentities("-bbd_family field -bbd_depth 5 -bbd_width 8 -bbd_sample_order cyclic", zero));
  PetscCall(CheckIdentities("-bbd_family field -bbd_depth 5 -bbd_width 8 -bbd_activation tanh,tanh,sin,tanh,tanh -bbd_sample_order cyclic", act2));
  PetscCall(CheckIdentities("-bbd_family dense -bbd_widths 4,4,4,4,4,4 -bbd_sample_order cyclic", zero));
  PetscCall(CheckIdentities("-bbd_family dense -bbd_widths 4,4,4,4,4,4 -bbd_activation gelu,gelu,erf,gelu,gelu -bbd_sample_order cyclic", act2));
  PetscCall(CheckIdentities("-bbd_family dense -bbd_widths 4,4,4,4,6,4,4 -bbd_sample_order cyclic", wid4));

  /* hand-computed defects: linear then relu at x0 = -2: sigma_0 - sigma_1 = -2 */
  PetscCall(PetscSNPrintf(opts, sizeof(opts), "%s -bbd_activation linear,relu", dense1));
  PetscCall(DefectByHand(opts, -2, 0.5, 1.0));  /* 1/2 ((-1.5)^2 - 0.5^2) */
  PetscCall(DefectByHand(opts, -2, 1.5, -1.0)); /* 1/2 ((-0.5)^2 - 1.5^2) */
  PetscCall(PetscSNPrintf(opts, sizeof(opts), "%s -bbd_activation linear,relu", field1));
  PetscCall(DefectByHand(opts, -2, 0.5, 0.5));  /* h/2 (2.25 - 0.25), h = 1/2 */
  PetscCall(DefectByHand(opts, -2, 1.5, -0.5)); /* h/2 (0.25 - 2.25) */
  PetscCall(PetscSNPrintf(opts, sizeof(opts), "%s -bbd_activation sin,tanh", dense1));
  PetscCall(DefectByHand(opts, 1, -0.25, 0.5 * ((-0.25 + sin(1.0) - tanh(1.0)) * (-0.25 + sin(1.0) - tanh(1.0)) - 0.0625)));
  PetscCall(PetscFinalize());
  return bbd_nfail ? 1 : 0;
}
