/* What the two lattice types (sweep and residual formulation) share: the state on the grid and
   the network's parameters (both ways), a saved time (the snapshot of the BBD diagnostics) and a
   sample switch. */
#include "fieldimpl.h"

typedef struct {
  BbdOutput   out;  /* the result file, written as the run goes (src/io/output.c) */
  BbdSnapshot snap; /* the BBD diagnostics of a saved time (src/net/bbd.c) */
} LatticeData;

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

/* the initial state: the network's parameters (built-in or -bbd_init) and the forward pass of the
   sample in use at t0; the private data */
PetscErrorCode BbdFieldLatticeSetUp(BbdField f)
{
  BbdNet       net = f->net;
  PetscInt     idx[1];
  LatticeData *d;

  PetscFunctionBeginUser;
  PetscCall(PetscNew(&d));
  f->data  = d;
  f->batch = BbdNetBatchIndex(net, net->t0);
  PetscCall(BbdNetBatchFromIndex(net, f->batch, idx));
  f->sample = -1;
  PetscCall(BbdFieldLatticeNetToState(f, idx[0]));
  PetscFunctionReturn(0);
}

PetscErrorCode BbdFieldLatticeView(BbdField f)
{
  BbdNet net = f->net;

  PetscFunctionBeginUser;
  PetscCall(PetscPrintf(f->comm, "bbd-field, %s mode, grid %" PetscInt_FMT " x %" PetscInt_FMT " (depth x width), %d rank(s)\n", f->mode, net->M + 1, net->n[0], f->size));
  PetscCall(BbdNetView(net, PETSC_VIEWER_STDOUT_(f->comm)));
  PetscFunctionReturn(0);
}

/* the result file with the grid */
PetscErrorCode BbdFieldLatticeBegin(BbdField f)
{
  BbdNet       net = f->net;
  LatticeData *d   = (LatticeData *)f->data;
  PetscReal   *x, *y;

  PetscFunctionBeginUser;
  PetscCall(BbdSnapshotCreate(net, &d->snap));
  PetscCall(PetscLogEventBegin(BBD_Output, 0, 0, 0, 0));
  PetscCall(BbdOutputCreate(net, net->output_file, &d->out));
  PetscCall(PetscMalloc2(net->M + 1, &x, net->n[0], &y));
  for (PetscInt k = 0; k <= net->M; k++) x[k] = (PetscReal)k / net->M;
  for (PetscInt i = 0; i < net->n[0]; i++) y[i] = (PetscReal)i / net->n[0];
  PetscCall(BbdOutputWriteGrid(d->out, net->M + 1, x, net->n[0], y));
  PetscCall(PetscFree2(x, y));
  PetscCall(PetscLogEventEnd(BBD_Output, 0, 0, 0, 0));
  PetscFunctionReturn(0);
}

/* one saved time: the network's parameters from the state, the BBD diagnostics, appended to the result */
PetscErrorCode BbdFieldLatticeSave(BbdField f, PetscReal t)
{
  BbdNet       net  = f->net;
  LatticeData *d    = (LatticeData *)f->data;
  BbdSnapshot *snap = &d->snap;
  PetscReal   *z, *zd;

  PetscFunctionBeginUser;
  PetscCall(PetscMalloc2(net->nz, &z, net->nz, &zd));
  PetscCall(BbdFieldLatticeStateToNet(f, z, zd));
  PetscCall(PetscLogEventBegin(BBD_Diagnostics, 0, 0, 0, 0));
  PetscCall(BbdSnapshotCompute(net, t, net->theta, f->damped ? net->thetadot : NULL, snap));
  PetscCall(PetscLogEventEnd(BBD_Diagnostics, 0, 0, 0, 0));
  PetscCheck(!PetscIsInfOrNanReal(snap->loss), f->comm, PETSC_ERR_NOT_CONVERGED, "the field diverged at t = %g (loss is %g); reduce -bbd_eta or the time step", (double)t, (double)snap->loss);
  PetscCall(PetscArraycpy(snap->z, z, net->nz)); /* the solver's own neurons */
  PetscCall(PetscLogEventBegin(BBD_Output, 0, 0, 0, 0));
  PetscCall(BbdOutputAppend(d->out, snap));
  PetscCall(PetscLogEventEnd(BBD_Output, 0, 0, 0, 0));
  f->T++;
  if (!net->quiet) PetscCall(PetscPrintf(f->comm, "  t = %-10.5g loss = %-13.6e L = %-13.6e L_bulk = %-13.6e L_boundary = %-13.6e\n", (double)t, (double)snap->loss, (double)snap->L, (double)snap->L_bulk, (double)snap->L_boundary));
  PetscCall(PetscFree2(z, zd));
  PetscFunctionReturn(0);
}

/* the final state into the network (kept for the caller) and the result's /state */
PetscErrorCode BbdFieldLatticeWrite(BbdField f)
{
  BbdNet       net = f->net;
  LatticeData *d   = (LatticeData *)f->data;
  PetscReal   *z, *zd;

  PetscFunctionBeginUser;
  PetscCall(PetscMalloc2(net->nz, &z, net->nz, &zd));
  PetscCall(BbdFieldLatticeStateToNet(f, z, zd));
  PetscCall(PetscFree(net->state_z));
  PetscCall(PetscMalloc1(net->nz, &net->state_z));
  PetscCall(PetscArraycpy(net->state_z, z, net->nz));
  if (f->damped) {
    PetscCall(PetscFree(net->state_zdot));
    PetscCall(PetscMalloc1(net->nz, &net->state_zdot));
    PetscCall(PetscArraycpy(net->state_zdot, zd, net->nz));
  }
  PetscCall(PetscLogEventBegin(BBD_Output, 0, 0, 0, 0));
  PetscCall(BbdOutputFinish(&d->out, net->t0, net->theta, f->damped ? net->thetadot : NULL));
  PetscCall(PetscLogEventEnd(BBD_Output, 0, 0, 0, 0));
  PetscCall(PetscFree2(z, zd));
  PetscFunctionReturn(0);
}

/* never leave a partial result that looks complete */
PetscErrorCode BbdFieldLatticeAbort(BbdField f)
{
  LatticeData *d = (LatticeData *)f->data;

  PetscFunctionBeginUser;
  PetscCall(BbdOutputAbort(&d->out));
  PetscFunctionReturn(0);
}

PetscErrorCode BbdFieldLatticeSummary(BbdField f)
{
  PetscFunctionBeginUser;
  if (f->net->sample_dt > 0) PetscCall(PetscPrintf(f->comm, "sample switches: %" PetscInt_FMT " (%" PetscInt_FMT " as TS events, located within %.2e of k sample_dt; %" PetscInt_FMT " at segment ends)\n", f->nswitch_event + f->nswitch_seg, f->nswitch_event, (double)f->switch_err, f->nswitch_seg));
  PetscFunctionReturn(0);
}

/* the operations both lattice types share; a type sets its own setts and overrides the rest */
void BbdFieldLatticeSetOps(BbdField f)
{
  f->continuum        = PETSC_FALSE;
  f->ops->setup       = BbdFieldLatticeSetUp;
  f->ops->view        = BbdFieldLatticeView;
  f->ops->begin       = BbdFieldLatticeBegin;
  f->ops->save        = BbdFieldLatticeSave;
  f->ops->switchbatch = BbdFieldLatticeSwitchBatch;
  f->ops->write       = BbdFieldLatticeWrite;
  f->ops->abort       = BbdFieldLatticeAbort;
  f->ops->summary     = BbdFieldLatticeSummary;
  f->ops->destroy     = BbdFieldLatticeDestroy;
}

PetscErrorCode BbdFieldLatticeDestroy(BbdField f)
{
  LatticeData *d = (LatticeData *)f->data;

  PetscFunctionBeginUser;
  if (!d) PetscFunctionReturn(0);
  PetscCall(BbdOutputAbort(&d->out)); /* a no-op after BbdOutputFinish */
  PetscCall(BbdSnapshotDestroy(&d->snap));
  PetscCall(PetscFree(f->data));
  PetscFunctionReturn(0);
}
