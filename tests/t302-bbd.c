static const char help[] = "t302: the bulk-boundary decomposition at one instant: L = L_bulk + L_boundary, energy\n\
continuity (flow and damped), the output flux -eta dl/dt, and the symmetry defect.\n";

/* For every test network, loss and dynamics (batch of 2 samples, random velocity for damped):
   - L = T - l (parameter velocities) equals L_bulk + L_boundary (neuron form): 1e-12 relative
     to T + |l| (the sums have a few hundred terms);
   - flow and sgd: J_(m+1) - J_m = 2 T_m; damped: J_(m+1) - J_m = dT_m/dt + 2 gamma T_m, both
     to 1e-11 relative to the largest flux or kinetic term (identities, so only rounding);
   - J_0 = 0 (the input does not move) and J_M = -eta dl/dt with dl/dt by a central difference
     of the batch loss along the velocity (fourth order, step 1e-4/max|velocity|: 1e-6 relative);
   - symmetry defect: exactly 0 for repeated layers; nonzero exactly at the pairs that involve
     a layer with another activation (field and dense), +inf where dense shapes differ. */
#include "bbdtest.h"

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

static PetscErrorCode CheckIdentities(const char *opts)
{
  BbdNet      net;
  BbdSnapshot snap;
  PetscReal  *th, T = 0, scale = 0, dldt, eps = 1e-4;
  PetscInt    M;

  PetscFunctionBeginUser;
  PetscCall(TestNetCreate(opts, 0.05, &net));
  M = net->M;
  PetscCall(BbdSnapshotCreate(net, &snap));
  PetscCall(BbdSnapshotCompute(net, 0, net->theta, net->thetadot, &snap));
  for (PetscInt m = 0; m < M; m++) T += snap.layer_kinetic[m];
  CHECK(PetscAbsReal(snap.L - (snap.L_bulk + snap.L_boundary)) <= 1e-12 * (T + PetscAbsReal(snap.loss)), "%s: L - L_bulk - L_boundary = %g (L = %g)", opts, (double)(snap.L - snap.L_bulk - snap.L_boundary), (double)snap.L);
  CHECK(PetscAbsReal(snap.L - (T - snap.loss)) <= 1e-14 * (T + PetscAbsReal(snap.loss)), "%s: L != T - l", opts);
  CHECK(snap.beta_mismatch <= 1e-10, "%s: beta differs from db/dt (relative %g)", opts, (double)snap.beta_mismatch);
  for (PetscInt k = 0; k <= M; k++) scale = PetscMax(scale, PetscAbsReal(snap.flux[k]));
  for (PetscInt m = 0; m < M; m++) scale = PetscMax(scale, snap.layer_kinetic[m]);
  for (PetscInt m = 0; m < M; m++) {
    PetscReal lhs = snap.flux[m + 1] - snap.flux[m];
    PetscReal rhs = net->dyn == BBD_DYN_DAMPED ? snap.energy_rate[m] + 2 * net->gamma * snap.layer_kinetic[m] : 2 * snap.layer_kinetic[m];
    CHECK(PetscAbsReal(lhs - rhs) <= 1e-11 * scale, "%s: continuity at layer %" PetscInt_FMT ": J_(m+1) - J_m = %.16g, law gives %.16g", opts, m, (double)lhs, (double)rhs);
    CHECK(net->dyn != BBD_DYN_DAMPED || snap.dissipation[m] == net->gamma * snap.layer_kinetic[m], "%s: damped dissipation is not gamma T_m", opts);
  }
  CHECK(snap.flux[0] == 0, "%s: J_0 = %g but the input does not move", opts, (double)snap.flux[0]);
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

/* expect[k]: 0 exactly zero, 1 nonzero and finite, 2 +inf */
static PetscErrorCode CheckDefect(const char *opts, const int *expect)
{
  BbdNet      net;
  BbdSnapshot snap;

  PetscFunctionBeginUser;
  PetscCall(TestNetCreate(opts, 0.05, &net));
  PetscCall(BbdSnapshotCreate(net, &snap));
  PetscCall(BbdSnapshotCompute(net, 0, net->theta, net->thetadot, &snap));
  for (PetscInt k = 0; k < net->M - 1; k++) {
    PetscReal d = snap.defect[k];
    int       got = d == 0 ? 0 : (PetscIsInfReal(d) ? 2 : 1);
    CHECK(got == expect[k], "%s: symmetry defect[%" PetscInt_FMT "] = %g, expected %s", opts, k, (double)d, expect[k] == 0 ? "exactly 0" : expect[k] == 1 ? "nonzero" : "inf");
  }
  PetscCall(BbdSnapshotDestroy(&snap));
  PetscCall(BbdNetDestroy(&net));
  PetscFunctionReturn(0);
}

int main(int argc, char **argv)
{
  char              opts[1024];
  const char *const dyns[] = {"flow", "damped", "sgd"};
  const int         zero[] = {0, 0, 0, 0, 0}, act2[] = {0, 1, 1, 0}, wid4[] = {0, 0, 2, 2, 2};

  PetscCall(PetscInitialize(&argc, &argv, NULL, help));
  for (size_t c = 0; c < sizeof(bbd_test_nets) / sizeof(bbd_test_nets[0]); c++)
    for (size_t l = 0; l < 4; l++)
      for (size_t d = 0; d < 3; d++) {
        PetscCall(PetscSNPrintf(opts, sizeof(opts), "%s -bbd_loss %s -bbd_dynamics %s -bbd_batch 2 -bbd_gamma 1.5 -bbd_eta 0.6", bbd_test_nets[c], bbd_test_losses[l], dyns[d]));
        PetscCall(CheckIdentities(opts));
      }
  PetscCall(CheckDefect("-bbd_family field -bbd_depth 5 -bbd_width 8", zero));
  PetscCall(CheckDefect("-bbd_family field -bbd_depth 5 -bbd_width 8 -bbd_activation tanh,tanh,sin,tanh,tanh", act2));
  PetscCall(CheckDefect("-bbd_family dense -bbd_widths 4,4,4,4,4,4", zero));
  PetscCall(CheckDefect("-bbd_family dense -bbd_widths 4,4,4,4,4,4 -bbd_activation gelu,gelu,erf,gelu,gelu", act2));
  PetscCall(CheckDefect("-bbd_family dense -bbd_widths 4,4,4,4,6,4,4", wid4));
  PetscCall(PetscFinalize());
  return bbd_nfail ? 1 : 0;
}
