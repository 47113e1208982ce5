/* The bulk-boundary decomposition along a trajectory (docs/theory.md sections 3 and 6).
   Change of variables: b^(m) = (z^(m+1) - rho z^(m))/h - Phi_m(z^(m)).
   Bias velocity, local in (z, dz, a, da):
     beta^(m) = (dz^(m+1) - rho dz^(m))/h - Phi_m[thetadot](z^(m)) - Phi_m'(z^(m)) dz^(m).
   L = sum_m T_m - l with T_m = c [1/2 sum_j |a_j'|^2/kappa_j + 1/2 |b'|^2] (c = h dy; dense c = 1);
   L_boundary = c/2 |beta^(0)|^2 - l, L_bulk = the rest, with beta from the neuron form.
   Flux J_k = -eta w mean_s lam_s^(k) . dz_s^(k); flow: J_(m+1) - J_m = 2 T_m;
   damped: J_(m+1) - J_m = dT_m/dt + 2 gamma T_m. */
#include "bbdimpl.h"

PetscErrorCode BbdBiasFromNeurons(BbdNet net, const PetscReal *theta, const PetscReal *z, PetscReal *b)
{
  PetscReal *s;

  PetscFunctionBeginUser;
  PetscCall(PetscMalloc1(net->nzmax, &s));
  for (PetscInt m = 0; m < net->M; m++) {
    const PetscInt   n1 = net->n[m + 1];
    const PetscReal *zm = z + net->zoff[m], *zn = z + net->zoff[m + 1];
    PetscReal       *bm = b + net->boff[m];
    BbdActivationEval(net->act[m], net->n[m], zm, s, NULL, NULL);
    PetscCall(BbdPhi(net, m, theta, s, bm));
    for (PetscInt i = 0; i < n1; i++) bm[i] = (zn[i] - (net->rho != 0 ? net->rho * zm[i] : 0)) / net->h - bm[i];
  }
  PetscCall(PetscFree(s));
  PetscFunctionReturn(0);
}

PetscErrorCode BbdBeta(BbdNet net, PetscInt m, PetscInt hl, const PetscReal *theta, const PetscReal *thetadot, const PetscReal *z, const PetscReal *dz, PetscReal *beta)
{
  const PetscInt   n0 = net->n[m], n1 = net->n[m + 1];
  const PetscReal *zm = z + net->zoff[m], *dzm = dz + net->zoff[m], *dzn = dz + net->zoff[m + 1];
  PetscReal       *s, *d1, *t;

  PetscFunctionBeginUser;
  PetscCall(PetscMalloc3(n0, &s, n0, &d1, n1, &t));
  BbdActivationEval(net->act[hl], n0, zm, s, d1, NULL);
  PetscCall(BbdPhi(net, m, thetadot, s, beta)); /* Phi[thetadot](z) */
  for (PetscInt i = 0; i < n0; i++) d1[i] *= dzm[i];
  PetscCall(BbdPhi(net, m, theta, d1, t)); /* Phi'(z) dz */
  for (PetscInt i = 0; i < n1; i++) beta[i] = (dzn[i] - (net->rho != 0 ? net->rho * dzm[i] : 0)) / net->h - beta[i] - t[i];
  PetscCall(PetscFree3(s, d1, t));
  PetscFunctionReturn(0);
}

PetscErrorCode BbdSnapshotCreate(BbdNet net, BbdSnapshot *snap)
{
  PetscInt M = net->M;

  PetscFunctionBeginUser;
  PetscCall(PetscMemzero(snap, sizeof(*snap)));
  PetscCall(PetscCalloc5(M, &snap->layer_kinetic, M + 1, &snap->flux, M, &snap->dissipation, M, &snap->energy_rate, PetscMax(M - 1, 1), &snap->defect));
  PetscCall(PetscCalloc3(net->nparam, &snap->theta, net->nparam, &snap->thetadot, net->nz, &snap->z));
  PetscFunctionReturn(0);
}

PetscErrorCode BbdSnapshotDestroy(BbdSnapshot *snap)
{
  PetscFunctionBeginUser;
  PetscCall(PetscFree5(snap->layer_kinetic, snap->flux, snap->dissipation, snap->energy_rate, snap->defect));
  PetscCall(PetscFree3(snap->theta, snap->thetadot, snap->z));
  PetscFunctionReturn(0);
}

/* cell volume of layer m */
static inline PetscReal Cell(BbdNet net) { return net->family == BBD_FAMILY_FIELD ? net->h * net->dy : 1.0; }

/* c [1/2 sum_j |a_j'|^2/kappa_j] (dense: 1/2 |W'|^2) and c 1/2 |b'|^2 of layer m for velocity u,
   and optionally the same bilinear forms of (u, w): c [sum_j u_a.w_a/kappa_j] + c u_b.w_b */
static void LayerKinetic(BbdNet net, PetscInt m, const PetscReal *u, const PetscReal *w, PetscReal *Ta, PetscReal *Tb, PetscReal *rate)
{
  const PetscInt   n0 = net->n[m], n1 = net->n[m + 1];
  const PetscReal  c = Cell(net);
  const PetscReal *ua = u + net->woff[m], *ub = u + net->boff[m];
  PetscReal        sa = 0, sb = 0, r = 0;

  if (net->family == BBD_FAMILY_FIELD) {
    for (PetscInt j = 0; j <= net->P; j++) {
      PetscReal sj = 0, rj = 0;
      if (net->kappa[j] == 0) continue;
      for (PetscInt i = 0; i < n0; i++) sj += ua[j * n0 + i] * ua[j * n0 + i];
      if (w)
        for (PetscInt i = 0; i < n0; i++) rj += ua[j * n0 + i] * w[net->woff[m] + j * n0 + i];
      sa += sj / net->kappa[j];
      r += rj / net->kappa[j];
    }
  } else {
    for (PetscInt k = 0; k < n0 * n1; k++) sa += ua[k] * ua[k];
    if (w)
      for (PetscInt k = 0; k < n0 * n1; k++) r += ua[k] * w[net->woff[m] + k];
  }
  for (PetscInt i = 0; i < n1; i++) sb += ub[i] * ub[i];
  if (w)
    for (PetscInt i = 0; i < n1; i++) r += ub[i] * w[net->boff[m] + i];
  *Ta = 0.5 * c * sa;
  *Tb = 0.5 * c * sb;
  if (rate) *rate = c * r;
}

PetscErrorCode BbdSnapshotCompute(BbdNet net, PetscReal t, const PetscReal *theta, const PetscReal *thetadot, BbdSnapshot *snap)
{
  const PetscInt  M = net->M, B = net->batch, nz = net->nz;
  const PetscReal c = Cell(net);
  PetscInt       *idx;
  PetscReal      *v, *acc = NULL, *dz, *beta, *beta2, T = 0, bulk = 0, bmax = 0, dmax = 0;
  const PetscReal *thd;

  PetscFunctionBeginUser;
  PetscCall(PetscMalloc5(B, &idx, net->nparam, &v, B * nz, &dz, net->nzmax, &beta, net->nzmax, &beta2));
  PetscCall(BbdNetBatchSamples(net, t, idx));
  PetscCall(BbdFlowVelocityBatch(net, idx, theta, v, &snap->loss));
  thd = (net->dyn == BBD_DYN_DAMPED) ? thetadot : v;
  if (net->dyn == BBD_DYN_DAMPED) {
    PetscCall(PetscMalloc1(net->nparam, &acc));
    for (PetscInt k = 0; k < net->nparam; k++) acc[k] = -net->gamma * thd[k] + v[k]; /* equation of motion */
  }
  snap->time   = t;
  snap->sample = idx[0];
  PetscCall(PetscArraycpy(snap->theta, theta, net->nparam));
  PetscCall(PetscArraycpy(snap->thetadot, thd, net->nparam));
  PetscCall(PetscArraycpy(snap->z, net->wz, nz));
  for (PetscInt s = 0; s < B; s++) PetscCall(BbdTangent(net, theta, thd, net->wz + s * nz, NULL, dz + s * nz));

  /* kinetic terms from the parameter velocities; bias part again from the neuron form */
  for (PetscInt m = 0; m < M; m++) {
    PetscReal Ta, Tb, rate = 0, bb = 0;
    LayerKinetic(net, m, thd, acc, &Ta, &Tb, acc ? &rate : NULL);
    snap->layer_kinetic[m] = Ta + Tb;
    snap->dissipation[m]   = (net->dyn == BBD_DYN_DAMPED ? net->gamma : 1.0) * (Ta + Tb);
    snap->energy_rate[m]   = rate;
    T += Ta + Tb;
    PetscCall(BbdBeta(net, m, m, theta, thd, net->wz, dz, beta));
    for (PetscInt i = 0; i < net->n[m + 1]; i++) {
      const PetscReal bd = thd[net->boff[m] + i];
      bb += beta[i] * beta[i];
      bmax = PetscMax(bmax, PetscAbsReal(bd));
      dmax = PetscMax(dmax, PetscAbsReal(beta[i] - bd));
    }
    bulk += Ta + (m > 0 ? 0.5 * c * bb : 0);
    if (m == 0) snap->L_boundary = 0.5 * c * bb - snap->loss;
    /* symmetry defect: this layer's bulk term with the next layer's hyper-parameters */
    if (m < M - 1) {
      if (net->family == BBD_FAMILY_DENSE && (net->n[m] != net->n[m + 1] || net->n[m + 1] != net->n[m + 2])) snap->defect[m] = (PetscReal)INFINITY; /* no map between layers of different shapes */
      else {
        PetscReal bb2 = 0;
        PetscCall(BbdBeta(net, m, m + 1, theta, thd, net->wz, dz, beta2));
        for (PetscInt i = 0; i < net->n[m + 1]; i++) bb2 += beta2[i] * beta2[i];
        snap->defect[m] = 0.5 * c * (bb2 - bb);
      }
    }
  }
  snap->L             = T - snap->loss;
  snap->L_bulk        = bulk;
  snap->beta_mismatch = bmax > 0 ? dmax / bmax : dmax;

  /* energy flux through neuron layer k, averaged over the batch */
  for (PetscInt k = 0; k <= M; k++) {
    PetscReal J = 0;
    for (PetscInt s = 0; s < B; s++) {
      const PetscReal *l = net->wlam + s * nz + net->zoff[k], *d = dz + s * nz + net->zoff[k];
      for (PetscInt i = 0; i < net->n[k]; i++) J += l[i] * d[i];
    }
    snap->flux[k] = -net->eta * net->dy * J / B;
  }
  PetscCall(PetscFree5(idx, v, dz, beta, beta2));
  PetscCall(PetscFree(acc));
  PetscFunctionReturn(0);
}
