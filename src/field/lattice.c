/* What the two lattice types (sweep and residual formulation) share: the state on the grid and
   the network's parameters (both ways), a saved time (the snapshot of the BBD diagnostics) and a
   sample switch. */
#include "fieldimpl.h"

/* state -> network parameters: a from the grid, b by the change of variables (theory section 3);
   damped: also z' (zd) and the velocities, a' from the grid, b' = beta from the neuron form
   (theory section 5) */
PetscErrorCode BbdFieldLatticeStateToNet(BbdField f, PetscReal *z, PetscReal *zd)
{
  BbdNet             net = f->net;
  const PetscInt     M = net->M, N = net->n[0], NX = M + 1, V = net->P + 2;
  const PetscScalar *all;

  PetscFunctionBeginUser;
  PetscCall(BbdFieldGatherAll(f, &all));
  for (PetscInt i = 0; i < N; i++)
    for (PetscInt k = 0; k <= M; k++) {
      const PetscScalar *p = all + (i * NX + k) * f->dof;
      z[net->zoff[k] + i]  = p[0];
      if (f->damped) zd[net->zoff[k] + i] = p[V];
      if (k < M)
        for (PetscInt c = 0; c <= net->P; c++) {
          net->theta[net->woff[k] + c * N + i] = p[1 + c];
          if (f->damped) net->thetadot[net->woff[k] + c * N + i] = p[V + 1 + c];
        }
    }
  PetscCall(VecRestoreArrayRead(f->Uall, &all));
  PetscCall(BbdBiasFromNeurons(net, net->theta, z, net->theta));
  if (f->damped)
    for (PetscInt m = 0; m < M; m++) PetscCall(BbdBeta(net, m, m, net->theta, net->thetadot, z, zd, net->thetadot + net->boff[m]));
  PetscFunctionReturn(0);
}

/* network parameters and a sample -> state: z by the forward pass of that sample; damped: z' by
   the tangent pass with the parameter velocities (dX/dt = 0) */
PetscErrorCode BbdFieldLatticeNetToState(BbdField f, PetscInt sample)
{
  BbdNet         net = f->net;
  const PetscInt M = net->M, N = net->n[0], V = net->P + 2;
  PetscReal     *z, *zd = NULL;
  PetscScalar ***u;
  PetscBool      exact = (PetscBool)(net->state_z && f->sample < 0);

  PetscFunctionBeginUser;
  /* the file's neurons belong to this sample when their input row is it, to rounding: the input
     row has rate 0, but a multistep method moves it by a few ulp (BDF2's z0_(n+1) = 4/3 z0_n -
     1/3 z0_(n-1) is not z0 in floating point), and a forward pass in its place would differ from
     the solver's neurons by rounding, breaking the exact restart; another sample differs by O(1) */
  for (PetscInt i = 0; exact && i < N; i++) {
    const PetscReal x = net->X[sample * N + i];
    if (!(PetscAbsReal(net->state_z[i] - x) <= 1e-10 * (1 + PetscAbsReal(x)))) exact = PETSC_FALSE;
  }
  PetscCall(PetscMalloc1(net->nz, &z));
  if (exact) PetscCall(PetscArraycpy(z, net->state_z, net->nz)); /* exact restart: the file's neurons of this very sample */
  else PetscCall(BbdForward(net, net->theta, net->X + sample * N, z));
  if (f->damped) {
    PetscCall(PetscMalloc1(net->nz, &zd));
    if (exact && net->state_zdot) PetscCall(PetscArraycpy(zd, net->state_zdot, net->nz)); /* and their velocities */
    else PetscCall(BbdTangent(net, net->theta, net->thetadot, z, NULL, zd));
  }
  PetscCall(DMDAVecGetArrayDOF(f->da, f->U, &u));
  for (PetscInt j = f->ys; j < f->ys + f->ym; j++)
    for (PetscInt k = 0; k <= M; k++) {
      u[j][k][0] = z[net->zoff[k] + j];
      for (PetscInt c = 0; c <= net->P; c++) u[j][k][1 + c] = k < M ? net->theta[net->woff[k] + c * N + j] : 0;
      if (f->damped) {
        u[j][k][V] = zd[net->zoff[k] + j];
        for (PetscInt c = 0; c <= net->P; c++) u[j][k][V + 1 + c] = k < M ? net->thetadot[net->woff[k] + c * N + j] : 0;
      }
    }
  PetscCall(DMDAVecRestoreArrayDOF(f->da, f->U, &u));
  PetscCall(PetscFree(z));
  PetscCall(PetscFree(zd));
  f->sample = sample;
  PetscFunctionReturn(0);
}

PetscErrorCode BbdFieldLatticeSave(BbdField f, BbdOutput out, BbdSnapshot *snap, PetscReal t, PetscInt *T)
{
  BbdNet     net = f->net;
  PetscReal *z, *zd;

  PetscFunctionBeginUser;
  PetscCall(PetscMalloc2(net->nz, &z, net->nz, &zd));
  PetscCall(BbdFieldLatticeStateToNet(f, z, zd));
  PetscCall(BbdSnapshotCompute(net, t, net->theta, f->damped ? net->thetadot : NULL, snap));
  PetscCheck(!PetscIsInfOrNanReal(snap->loss), f->comm, PETSC_ERR_NOT_CONVERGED, "the field diverged at t = %g (loss is %g); reduce -bbd_eta or the time step", (double)t, (double)snap->loss);
  PetscCall(PetscArraycpy(snap->z, z, net->nz)); /* the solver's own neurons */
  PetscCall(BbdOutputAppend(out, snap));
  (*T)++;
  if (!net->quiet) PetscCall(PetscPrintf(f->comm, "  t = %-10.5g loss = %-13.6e L = %-13.6e L_bulk = %-13.6e L_boundary = %-13.6e\n", (double)t, (double)snap->loss, (double)snap->L, (double)snap->L_bulk, (double)snap->L_boundary));
  PetscCall(PetscFree2(z, zd));
  PetscFunctionReturn(0);
}

/* A sample switch to batch k: theta (and theta') continuous, z jumps to the new sample's forward
   pass (damped: z' to its tangent pass); nothing moves when batch k uses the same sample. */
PetscErrorCode BbdFieldLatticeSwitchBatch(BbdField f, PetscInt k)
{
  BbdNet    net = f->net;
  PetscInt  idx[1];
  PetscReal *z, *zd;

  PetscFunctionBeginUser;
  PetscCall(BbdNetBatchFromIndex(net, k, idx));
  if (idx[0] != f->sample) {
    PetscCall(PetscMalloc2(net->nz, &z, net->nz, &zd));
    PetscCall(BbdFieldLatticeStateToNet(f, z, zd));
    PetscCall(BbdFieldLatticeNetToState(f, idx[0]));
    PetscCall(PetscFree2(z, zd));
  }
  f->batch = k;
  PetscFunctionReturn(0);
}
