static const char help[] = "t301: exact passes: flow velocity vs finite differences of the loss, b -> z -> b round trip,\n\
tangent pass vs finite differences of the forward pass, beta = db/dt.\n";

/* For every test network and every loss (tests/bbdtest.h):
   1. the flow velocity equals -eta metric^-1 grad l with grad l by central differences
      (metric: field a_j: h dy / kappa_j, b: h dy; dense: 1). Step 1e-6 on O(1) quantities:
      truncation O(1e-12 * l''') and cancellation O(1e-16/1e-6); tolerance 1e-6 relative.
   2. b^(m) = (z^(m+1) - rho z^(m))/h - Phi_m(z^(m)) returns theta's b to rounding: the division
      by h amplifies rounding of z, so the tolerance is 1e-13 max|z| / h.
   3. the tangent pass equals the central difference of z(theta + eps thetadot): 1e-6 relative.
   5. a batch pass (BLAS 3 for dense nets) equals the mean of single-sample passes.
   4. beta^(m) from the neuron form (theory section 3) equals thetadot's b^(m) for an arbitrary
      velocity: again rounding amplified by 1/h: 1e-12 max|dz| / h. */
#include "bbdtest.h"

static PetscReal LossOf(BbdNet net, const PetscReal *theta, PetscReal *z)
{
  PetscReal *lam;
  PetscReal  l;
  PetscMalloc1(net->nz, &lam);
  BbdForward(net, theta, net->X, z);
  l = BbdLossEval(net->loss, net->n[net->M], net->dy, z + net->zoff[net->M], net->Y, lam + net->zoff[net->M]);
  PetscFree(lam);
  return l;
}

static PetscErrorCode CheckNet(const char *opts)
{
  BbdNet     net;
  PetscInt   idx[1] = {0}, np;
  PetscReal *v, *g, *th, *z, *zp, *zm, *dz, *b, *beta, loss, eps = 1e-6;

  PetscFunctionBeginUser;
  PetscCall(TestNetCreate(opts, 0.05, &net));
  np = net->nparam;
  PetscCall(PetscMalloc5(np, &v, np, &g, np, &th, np, &b, net->nzmax, &beta));
  PetscCall(PetscMalloc4(net->nz, &z, net->nz, &zp, net->nz, &zm, net->nz, &dz));

  /* 1. velocity vs finite differences */
  PetscCall(BbdFlowVelocityBatch(net, idx, net->theta, v, &loss));
  PetscCall(PetscArraycpy(th, net->theta, np));
  for (PetscInt k = 0; k < np; k++) {
    PetscReal lp, lm, metric = 1;
    th[k] = net->theta[k] + eps;
    lp    = LossOf(net, th, zp);
    th[k] = net->theta[k] - eps;
    lm    = LossOf(net, th, zm);
    th[k] = net->theta[k];
    if (net->family == BBD_FAMILY_FIELD) {
      PetscInt m = 0, j;
      while (m + 1 < net->M && k >= net->woff[m + 1]) m++;
      j      = (k - net->woff[m]) / net->n[0];
      metric = net->h * net->dy / (j <= net->P ? net->kappa[j] : 1.0);
      if (j <= net->P && net->kappa[j] == 0) metric = PETSC_INFINITY;
    }
    g[k] = -net->eta * (lp - lm) / (2 * eps) / metric;
  }
  CHECK(MaxAbsDiff(np, v, g) <= 1e-6 * PetscMax(MaxAbs(np, g), 1e-3), "%s: velocity differs from -eta metric^-1 grad l by %g (scale %g)", opts, (double)MaxAbsDiff(np, v, g), (double)MaxAbs(np, g));
  CHECK(PetscAbsReal(loss - LossOf(net, net->theta, z)) <= 1e-14 * PetscAbsReal(loss) + 1e-300, "%s: loss of the batch pass differs from a plain forward pass", opts);

  /* 2. b -> z -> b */
  PetscCall(BbdForward(net, net->theta, net->X, z));
  PetscCall(PetscArrayzero(b, np));
  PetscCall(BbdBiasFromNeurons(net, net->theta, z, b));
  for (PetscInt m = 0; m < net->M; m++) {
    PetscReal d = MaxAbsDiff(net->n[m + 1], b + net->boff[m], net->theta + net->boff[m]);
    CHECK(d <= 1e-13 * PetscMax(MaxAbs(net->nz, z), 1) / net->h, "%s: b^(%" PetscInt_FMT ") round trip error %g", opts, m, (double)d);
  }

  /* 3. tangent vs finite differences; 4. beta = db/dt */
  PetscCall(BbdTangent(net, net->theta, net->thetadot, z, NULL, dz));
  for (PetscInt k = 0; k < np; k++) th[k] = net->theta[k] + eps * net->thetadot[k];
  (void)LossOf(net, th, zp);
  for (PetscInt k = 0; k < np; k++) th[k] = net->theta[k] - eps * net->thetadot[k];
  (void)LossOf(net, th, zm);
  for (PetscInt k = 0; k < net->nz; k++) zp[k] = (zp[k] - zm[k]) / (2 * eps);
  CHECK(MaxAbsDiff(net->nz, dz, zp) <= 1e-6 * PetscMax(MaxAbs(net->nz, zp), 1), "%s: tangent pass differs from finite differences by %g", opts, (double)MaxAbsDiff(net->nz, dz, zp));
  for (PetscInt m = 0; m < net->M; m++) {
    PetscReal d;
    PetscCall(BbdBeta(net, m, m, net->theta, net->thetadot, z, dz, beta));
    d = MaxAbsDiff(net->n[m + 1], beta, net->thetadot + net->boff[m]);
    CHECK(d <= 1e-12 * PetscMax(MaxAbs(net->nz, dz), 1) / net->h, "%s: beta^(%" PetscInt_FMT ") differs from db/dt by %g", opts, m, (double)d);
  }
  PetscCall(PetscFree5(v, g, th, b, beta));
  PetscCall(PetscFree4(z, zp, zm, dz));
  PetscCall(BbdNetDestroy(&net));
  PetscFunctionReturn(0);
}

/* 5. the batched pass (BLAS 3 for dense) equals the mean of single-sample passes */
static PetscErrorCode CheckBatch(const char *opts)
{
  BbdNet     net;
  PetscInt   idx[3] = {2, 0, 1}, one[1], np;
  PetscReal *v, *v1, *vs, l, l1, ls = 0;

  PetscFunctionBeginUser;
  PetscCall(TestNetCreate(opts, 0.05, &net));
  np = net->nparam;
  PetscCall(PetscCalloc3(np, &v, np, &v1, np, &vs));
  PetscCall(BbdFlowVelocityBatch(net, idx, net->theta, v, &l));
  net->batch = 1;
  for (PetscInt s = 0; s < 3; s++) {
    one[0] = idx[s];
    PetscCall(BbdFlowVelocityBatch(net, one, net->theta, v1, &l1));
    for (PetscInt k = 0; k < np; k++) vs[k] += v1[k] / 3;
    ls += l1 / 3;
  }
  net->batch = 3;
  CHECK(MaxAbsDiff(np, v, vs) <= 1e-13 * MaxAbs(np, vs), "%s: batched velocity differs from the mean of single passes by %g", opts, (double)MaxAbsDiff(np, v, vs));
  CHECK(PetscAbsReal(l - ls) <= 1e-14 * PetscAbsReal(ls), "%s: batched loss differs", opts);
  PetscCall(PetscFree3(v, v1, vs));
  PetscCall(BbdNetDestroy(&net));
  PetscFunctionReturn(0);
}

int main(int argc, char **argv)
{
  char opts[1024];

  PetscCall(PetscInitialize(&argc, &argv, NULL, help));
  for (size_t c = 0; c < sizeof(bbd_test_nets) / sizeof(bbd_test_nets[0]); c++)
    for (size_t l = 0; l < 4; l++) {
      PetscCall(PetscSNPrintf(opts, sizeof(opts), "%s -bbd_loss %s -bbd_eta 0.7", bbd_test_nets[c], bbd_test_losses[l]));
      PetscCall(CheckNet(opts));
      PetscCall(PetscSNPrintf(opts, sizeof(opts), "%s -bbd_loss %s -bbd_batch 3", bbd_test_nets[c], bbd_test_losses[l]));
      PetscCall(CheckBatch(opts));
    }
  PetscCall(PetscFinalize());
  return bbd_nfail ? 1 : 0;
}
