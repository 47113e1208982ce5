/* Continuum mode: the saved times (kept on rank 0) and the result file. */
#include "fieldimpl.h"
#include <unistd.h>

typedef struct {
  Vec        Ftmp;                                 /* work: a right-hand side */
  PetscInt   Tmax;                                 /* the saved times planned */
  PetscReal *rt, *rloss, *rz, *ra, *rflux, *rdiss; /* rank 0: the saved times, loss, z, a, flux, dissipation density */
  PetscInt  *rsample;                              /* rank 0: the sample in use at each saved time */
  PetscReal *rbl;                                  /* rank 0, with switching: b at the last saved time */
  PetscReal *rzd, *rad;                            /* rank 0, damped: the velocities z_dot, a_dot of the saved times */
} ContinuumData;

/* one saved time: state, loss, the energy flux J(x) = int beta dz/dt dy and the dissipation density (kept on rank 0) */
PetscErrorCode BbdFieldContinuumSave(BbdField f, PetscReal t)
{
  BbdNet             net = f->net;
  ContinuumData     *d   = (ContinuumData *)f->data;
  Vec                Ftmp = d->Ftmp;
  const PetscInt     M = net->M, NX = M + 1, N = net->n[0], P = net->P, ym = f->ym, T = f->T;
  const PetscScalar *all;
  PetscReal         *J, *lam;
  PetscMPIInt        rank;

  PetscFunctionBeginUser;
  PetscCall(PetscLogEventBegin(BBD_Diagnostics, 0, 0, 0, 0));
  PetscCheck(T < d->Tmax, f->comm, PETSC_ERR_PLIB, "more saved times than planned");
  PetscCallMPI(MPI_Comm_rank(f->comm, &rank));
  PetscCall(BbdFieldRHSContinuum(NULL, t, f->U, Ftmp, f)); /* beta and dz/dt of this state */
  PetscCall(PetscCalloc2(2 * NX, &J, N, &lam));
  /* J(x) and the dissipation density D(x) = int (beta^2 + sum_j a_j'^2 / kappa_j) / 2 dy: the law d_x J = 2 D;
     damped: J(x) = int beta z_t dy with z_t = v, D(x) = int (beta b_t + sum_j a_j_t beta D_j s) / 2 dy (the same law) */
  for (PetscInt k = 0; k < NX; k++)
    for (PetscInt j = 0; j < ym; j++) {
      const PetscReal b = f->beta[k * ym + j];
      PetscReal       d = 0.5 * b * b;
      if (f->damped) {
        J[k] += net->dy * b * f->zdr[k * f->gym + j + f->ys - f->gys];
        J[NX + k] += net->dy * 0.5 * f->cP[k * ym + j];
        continue;
      }
      J[k] += net->dy * b * f->zdot[k * ym + j];
      for (PetscInt c = 0; c <= P; c++)
        if (net->kappa[c] > 0) d += 0.5 * PetscSqr(f->dar[(c * NX + k) * ym + j]) / net->kappa[c];
      J[NX + k] += net->dy * d;
    }
  PetscCall(MPIU_Allreduce(MPI_IN_PLACE, J, (PetscMPIInt)(2 * NX), MPIU_REAL, MPIU_SUM, f->comm));
  PetscCall(BbdFieldGatherAll(f, &all));
  if (!rank) {
    PetscReal *Z = d->rz + (size_t)T * NX * N;
    for (PetscInt i = 0; i < N; i++)
      for (PetscInt k = 0; k < NX; k++) {
        const PetscScalar *p = all + (i * NX + k) * f->dof;
        Z[k * N + i]         = p[0];
        for (PetscInt c = 0; c <= P; c++) d->ra[(((size_t)T * (P + 1) + c) * NX + k) * N + i] = p[1 + c];
        if (f->damped) {
          d->rzd[((size_t)T * NX + k) * N + i] = p[P + 2];
          for (PetscInt c = 0; c <= P; c++) d->rad[(((size_t)T * (P + 1) + c) * NX + k) * N + i] = p[P + 3 + c];
        }
      }
    d->rt[T]    = t;
    d->rloss[T] = BbdLossEval(net->loss, N, net->dy, Z + M * N, net->Y + f->sample * N, lam);
    PetscCall(PetscArraycpy(d->rflux + T * NX, J, NX));
    d->rsample[T] = f->sample;
    if (f->bi >= 0)
      for (PetscInt i = 0; i < N; i++)
        for (PetscInt k = 0; k < NX; k++) d->rbl[k * N + i] = all[(i * NX + k) * f->dof + f->bi];
    PetscCall(PetscArraycpy(d->rdiss + T * NX, J + NX, NX));
    if (!net->quiet) PetscCall(PetscPrintf(PETSC_COMM_SELF, "  t = %-10.5g loss = %-13.6e J(1) = %-13.6e\n", (double)t, (double)d->rloss[T], (double)J[M]));
    PetscCheck(!PetscIsInfOrNanReal(d->rloss[T]), PETSC_COMM_SELF, PETSC_ERR_NOT_CONVERGED, "the continuum fields diverged at t = %g; reduce the time step or refine the grid", (double)t);
  }
  PetscCall(VecRestoreArrayRead(f->Uall, &all));
  PetscCall(PetscFree2(J, lam));
  f->T++;
  PetscCall(PetscLogEventEnd(BBD_Diagnostics, 0, 0, 0, 0));
  PetscFunctionReturn(0);
}

/* rank 0 writes the continuum result to a temporary name, then renames it */
PetscErrorCode BbdFieldContinuumWrite(BbdField f)
{
  BbdNet         net = f->net;
  ContinuumData *res = (ContinuumData *)f->data;
  const PetscInt M = net->M, NX = M + 1, N = net->n[0], P = net->P, T = f->T;
  char           act[64];
  BbdAtomicFile  af;
  const char    *file = net->output_file;
  hid_t          fid, g;
  hsize_t        d[4];
  PetscReal     *x, *y, kap[BBD_MAX_MOMENTS];
  PetscMPIInt    rank;

  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Comm_rank(f->comm, &rank));
  if (rank) PetscFunctionReturn(0);
  PetscCall(PetscLogEventBegin(BBD_Output, 0, 0, 0, 0));
  PetscCall(BbdH5CreateAtomic(file, &af, &fid));
  PetscCall(BbdH5WriteAttrString(fid, af.tmp, "family", "field"));
  PetscCall(BbdH5WriteAttrString(fid, af.tmp, "mode", "continuum"));
  PetscCall(PetscStrncpy(act, BbdActivations[net->act[0]], sizeof(act)));
  PetscCall(BbdH5WriteAttrString(fid, af.tmp, "activation", act));
  PetscCall(BbdH5WriteAttrString(fid, af.tmp, "loss", BbdLosses[net->loss]));
  PetscCall(BbdH5WriteAttrString(fid, af.tmp, "dynamics", BbdDynamicsTypes[net->dyn]));
  PetscCall(BbdH5WriteAttrReal(fid, af.tmp, "eta", net->eta));
  PetscCall(BbdH5WriteAttrInt(fid, af.tmp, "periodic", net->periodic));
  PetscCall(BbdH5WriteAttrInt(fid, af.tmp, "nx", NX));
  PetscCall(BbdH5WriteAttrInt(fid, af.tmp, "ny", N));
  PetscCall(BbdH5WriteAttrInt(fid, af.tmp, "version", BBD_VERSION));
  for (PetscInt c = 0; c <= P; c++) kap[c] = net->kappa[c];
  d[0] = (hsize_t)P + 1;
  PetscCall(BbdH5WriteArray(fid, af.tmp, "kappa_values", 1, d, kap)); /* kept for older readers */
  { /* the definition in the attributes every -bbd_init reads (depth = NX - 1 cells, NX widths
       of NY, h = 1/(NX-1)) and the run settings, so the file restarts a continuum run */
    PetscInt *w;
    PetscCall(PetscMalloc1(NX, &w));
    for (PetscInt k = 0; k < NX; k++) w[k] = N;
    PetscCall(BbdH5WriteAttrInt(fid, af.tmp, "depth", M));
    PetscCall(BbdH5WriteAttrInts(fid, af.tmp, "widths", NX, w));
    PetscCall(PetscFree(w));
    PetscCall(BbdH5WriteAttrReals(fid, af.tmp, "kappa", P + 1, kap));
    PetscCall(BbdH5WriteAttrReal(fid, af.tmp, "rho", net->rho));
    PetscCall(BbdH5WriteAttrReal(fid, af.tmp, "h", net->h));
    PetscCall(BbdH5WriteAttrReal(fid, af.tmp, "gamma", net->gamma));
    PetscCall(BbdH5WriteAttrString(fid, af.tmp, "sample_order", BbdSampleOrders[net->order]));
    PetscCall(BbdH5WriteAttrInt(fid, af.tmp, "seed", (long long)net->seed));
    PetscCall(BbdH5WriteAttrReal(fid, af.tmp, "sample_dt", net->sample_dt));
    PetscCall(BbdH5WriteAttrReal(fid, af.tmp, "tfinal", net->tfinal));
    PetscCall(BbdH5WriteAttrReal(fid, af.tmp, "output_dt", net->output_dt));
    PetscCall(BbdH5WriteAttrInt(fid, af.tmp, "batch", net->batch));
  }
  PetscCall(PetscMalloc2(NX, &x, N, &y));
  for (PetscInt k = 0; k < NX; k++) x[k] = (PetscReal)k / M;
  for (PetscInt i = 0; i < N; i++) y[i] = (PetscReal)i / N;
  PetscCheck((g = H5Gcreate2(fid, "grid", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT)) >= 0, PETSC_COMM_SELF, PETSC_ERR_FILE_WRITE, "%s: /grid", af.tmp);
  d[0] = (hsize_t)NX;
  PetscCall(BbdH5WriteArray(g, af.tmp, "x", 1, d, x));
  d[0] = (hsize_t)N;
  PetscCall(BbdH5WriteArray(g, af.tmp, "y", 1, d, y));
  H5Gclose(g);
  PetscCall(PetscFree2(x, y));
  PetscCheck((g = H5Gcreate2(fid, "data", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT)) >= 0, PETSC_COMM_SELF, PETSC_ERR_FILE_WRITE, "%s: /data", af.tmp);
  d[0] = (hsize_t)net->S;
  d[1] = (hsize_t)N;
  PetscCall(BbdH5WriteArray(g, af.tmp, "X", 2, d, net->X));
  PetscCall(BbdH5WriteArray(g, af.tmp, "Y", 2, d, net->Y));
  H5Gclose(g);
  PetscCheck((g = H5Gcreate2(fid, "trajectory", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT)) >= 0, PETSC_COMM_SELF, PETSC_ERR_FILE_WRITE, "%s: /trajectory", af.tmp);
  d[0] = (hsize_t)T;
  PetscCall(BbdH5WriteArray(g, af.tmp, "time", 1, d, res->rt));
  PetscCall(BbdH5WriteArray(g, af.tmp, "loss", 1, d, res->rloss));
  { /* the sample in use at each saved time (int64, as in lattice results) */
    hid_t sp = H5Screate_simple(1, d, NULL), ds;
    long long *smp;
    PetscCall(PetscMalloc1(T, &smp));
    for (PetscInt i = 0; i < T; i++) smp[i] = res->rsample[i];
    ds = H5Dcreate2(g, "sample", H5T_STD_I64LE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    PetscCheck(ds >= 0 && H5Dwrite(ds, H5T_NATIVE_LLONG, H5S_ALL, H5S_ALL, H5P_DEFAULT, smp) >= 0, PETSC_COMM_SELF, PETSC_ERR_FILE_WRITE, "%s: /trajectory/sample", af.tmp);
    H5Dclose(ds);
    H5Sclose(sp);
    PetscCall(PetscFree(smp));
  }
  d[1] = (hsize_t)NX;
  PetscCall(BbdH5WriteArray(g, af.tmp, "flux", 2, d, res->rflux));
  PetscCall(BbdH5WriteArray(g, af.tmp, "dissipation_density", 2, d, res->rdiss));
  d[2] = (hsize_t)N;
  PetscCall(BbdH5WriteArray(g, af.tmp, "z", 3, d, res->rz));
  d[1] = (hsize_t)P + 1;
  d[2] = (hsize_t)NX;
  d[3] = (hsize_t)N;
  PetscCall(BbdH5WriteArray(g, af.tmp, "a", 4, d, res->ra));
  if (f->damped) {
    PetscCall(BbdH5WriteArray(g, af.tmp, "a_dot", 4, d, res->rad));
    d[1] = (hsize_t)NX;
    d[2] = (hsize_t)N;
    PetscCall(BbdH5WriteArray(g, af.tmp, "z_dot", 3, d, res->rzd));
  }
  H5Gclose(g);
  PetscCheck((g = H5Gcreate2(fid, "state", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT)) >= 0, PETSC_COMM_SELF, PETSC_ERR_FILE_WRITE, "%s: /state", af.tmp);
  PetscCall(BbdH5WriteAttrReal(g, af.tmp, "time", res->rt[T - 1]));
  d[0] = (hsize_t)NX;
  d[1] = (hsize_t)N;
  PetscCall(BbdH5WriteArray(g, af.tmp, "z", 2, d, res->rz + (size_t)(T - 1) * NX * N));
  d[0] = (hsize_t)P + 1;
  d[1] = (hsize_t)NX;
  d[2] = (hsize_t)N;
  PetscCall(BbdH5WriteArray(g, af.tmp, "a", 3, d, res->ra + (size_t)(T - 1) * (P + 1) * NX * N));
  if (f->bi >= 0) { /* with sample switching: the bias field, so that a restart switches exactly */
    d[0] = (hsize_t)NX;
    d[1] = (hsize_t)N;
    PetscCall(BbdH5WriteArray(g, af.tmp, "b", 2, d, res->rbl));
    d[0] = (hsize_t)P + 1;
    d[1] = (hsize_t)NX;
    d[2] = (hsize_t)N;
  }
  if (f->damped) { /* the velocities: a damped result restarts exactly */
    PetscCall(BbdH5WriteArray(g, af.tmp, "a_dot", 3, d, res->rad + (size_t)(T - 1) * (P + 1) * NX * N));
    d[0] = (hsize_t)NX;
    d[1] = (hsize_t)N;
    PetscCall(BbdH5WriteArray(g, af.tmp, "z_dot", 2, d, res->rzd + (size_t)(T - 1) * NX * N));
  }
  H5Gclose(g);
  PetscCall(BbdH5CommitAtomic(&af, fid));
  PetscCall(PetscLogEventEnd(BBD_Output, 0, 0, 0, 0));
  PetscFunctionReturn(0);
}

/* the initial state on the grid (continuum_init.c) and the private data */
PetscErrorCode BbdFieldContinuumSetUp(BbdField f)
{
  BbdNet         net = f->net;
  const PetscInt M   = net->M;
  ContinuumData *d;

  PetscFunctionBeginUser;
  PetscCall(PetscNew(&d));
  f->data = d;
  if (f->damped) PetscCall(PetscMalloc3((M + 1) * f->gym, &f->cR, (M + 1) * f->ym, &f->cP, (M + 1) * f->ym, &f->cB));
  PetscCall(BbdFieldContinuumInit(f));
  f->batch = BbdNetBatchIndex(net, net->t0); /* the batch of f->sample */
  PetscFunctionReturn(0);
}

PetscErrorCode BbdFieldContinuumView(BbdField f)
{
  BbdNet          net = f->net;
  const PetscReal sn  = BbdNetStabilityNumber(net);

  PetscFunctionBeginUser;
  PetscCall(PetscPrintf(f->comm, "bbd-field, continuum mode (%s dynamics), grid %" PetscInt_FMT " x %" PetscInt_FMT " (depth x width), h = %g, dy = %g, activation %s, loss %s, eta = %g, gamma = %g, kappa = (%g, %g, %g), %d rank(s)\n", BbdDynamicsTypes[net->dyn], net->M + 1, net->n[0], (double)net->h, (double)net->dy, BbdActivations[net->act[0]], BbdLosses[net->loss], (double)net->eta, (double)net->gamma, (double)net->kappa[0], (double)net->kappa[1], (double)net->kappa[2], f->size));
  /* the depth steps are explicit Heun steps: the same bound as the lattice's (docs/theory.md section 14, Stability) */
  PetscCall(PetscPrintf(f->comm, "  forward-map stability number h max|a_2| max sigma'/dy^2 = %.3g%s\n", (double)sn, sn > 0.5 ? " > 1/2: WARNING, the depth steps on this grid are unstable (refine depth like the square of width: -da_grid_x)" : " (stable: <= 1/2)"));
  PetscFunctionReturn(0);
}

/* the arrays of the saved times (rank 0) and the work vector */
PetscErrorCode BbdFieldContinuumBegin(BbdField f)
{
  BbdNet         net = f->net;
  const PetscInt NX = net->M + 1, N = net->n[0], P = net->P;
  ContinuumData *d = (ContinuumData *)f->data;
  PetscMPIInt    rank;

  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Comm_rank(f->comm, &rank));
  d->Tmax = (PetscInt)(PetscFloorReal(net->tfinal / net->output_dt + 1e-9) - PetscFloorReal(net->t0 / net->output_dt + 1e-9)) + 3;
  if (!rank) PetscCall(PetscMalloc5(d->Tmax, &d->rt, d->Tmax, &d->rloss, (size_t)d->Tmax * NX * N, &d->rz, (size_t)d->Tmax * (P + 1) * NX * N, &d->ra, (size_t)d->Tmax * NX, &d->rflux));
  if (!rank) PetscCall(PetscMalloc1((size_t)d->Tmax * NX, &d->rdiss));
  if (!rank) PetscCall(PetscMalloc2(d->Tmax, &d->rsample, f->bi >= 0 ? NX * N : 0, &d->rbl));
  if (!rank && f->damped) PetscCall(PetscMalloc2((size_t)d->Tmax * NX * N, &d->rzd, (size_t)d->Tmax * (P + 1) * NX * N, &d->rad));
  PetscCall(VecDuplicate(f->U, &d->Ftmp));
  PetscFunctionReturn(0);
}

/* a switch to batch k: z (and z_dot) jump when its sample is another (continuum_init.c) */
PetscErrorCode BbdFieldContinuumSwitchBatch(BbdField f, PetscInt k)
{
  ContinuumData *d = (ContinuumData *)f->data;
  PetscInt       idx[1];

  PetscFunctionBeginUser;
  PetscCall(BbdNetBatchFromIndex(f->net, k, idx));
  if (idx[0] != f->sample) PetscCall(BbdFieldContinuumSwitch(f, idx[0], d->Ftmp));
  f->batch = k;
  PetscFunctionReturn(0);
}

/* the operations both continuum types share; a type sets its own dofs and setts and overrides the rest */
void BbdFieldContinuumSetOps(BbdField f)
{
  f->continuum        = PETSC_TRUE;
  f->ops->read        = BbdFieldContinuumRead;
  f->ops->setup       = BbdFieldContinuumSetUp;
  f->ops->view        = BbdFieldContinuumView;
  f->ops->begin       = BbdFieldContinuumBegin;
  f->ops->save        = BbdFieldContinuumSave;
  f->ops->switchbatch = BbdFieldContinuumSwitchBatch;
  f->ops->write       = BbdFieldContinuumWrite;
  f->ops->destroy     = BbdFieldContinuumDestroy;
}

PetscErrorCode BbdFieldContinuumDestroy(BbdField f)
{
  ContinuumData *d = (ContinuumData *)f->data;

  PetscFunctionBeginUser;
  if (!d) PetscFunctionReturn(0);
  PetscCall(PetscFree5(d->rt, d->rloss, d->rz, d->ra, d->rflux));
  PetscCall(PetscFree(d->rdiss));
  PetscCall(PetscFree2(d->rsample, d->rbl));
  PetscCall(PetscFree2(d->rzd, d->rad));
  PetscCall(VecDestroy(&d->Ftmp));
  PetscCall(PetscFree(f->data));
  PetscFunctionReturn(0);
}
