/* The helpers every field-solver type shares (docs/developing-field.md): the ghost exchange of
   width rows, the output row and the loss gradient on it, the transpose of the state into width
   rows, the width stencils of one row and the gather of the whole state. They call nothing of the
   types. */
#include "fieldimpl.h"
#include "core/lossimpl.h"

/* ghosted width rows (owned part at f->ys - f->gys): fill w ghost columns on each side of every
   row from the width neighbours' owned columns, one message each way for all rows (w <= the
   ghost width of the state and <= every rank's width); zero outside a non-periodic width */
PetscErrorCode BbdFieldExchangeGhosts(BbdField f, PetscInt nrows, PetscReal *const *rows, PetscInt w)
{
  const PetscInt o = f->ys - f->gys, N = f->ym, n = nrows * w;
  PetscReal     *sl = f->xbuf, *sr = sl + n, *rl = sr + n, *rr = rl + n;

  PetscFunctionBeginUser;
  if (!n) PetscFunctionReturn(0);
  for (PetscInt q = 0; q < nrows; q++)
    for (PetscInt p = 0; p < w; p++) {
      sl[q * w + p] = rows[q][o + p];
      sr[q * w + p] = rows[q][o + N - w + p];
    }
  if (f->size == 1) {
    for (PetscInt p = 0; p < n; p++) {
      rl[p] = f->net->periodic ? sr[p] : 0;
      rr[p] = f->net->periodic ? sl[p] : 0;
    }
  } else {
    MPI_Request req[4];
    PetscCall(PetscArrayzero(rl, 2 * n)); /* MPI_PROC_NULL leaves the zero padding */
    PetscCallMPI(MPI_Irecv(rl, (PetscMPIInt)n, MPIU_REAL, f->left, 7003, f->comm, &req[0]));
    PetscCallMPI(MPI_Irecv(rr, (PetscMPIInt)n, MPIU_REAL, f->right, 7004, f->comm, &req[1]));
    PetscCallMPI(MPI_Isend(sr, (PetscMPIInt)n, MPIU_REAL, f->right, 7003, f->comm, &req[2]));
    PetscCallMPI(MPI_Isend(sl, (PetscMPIInt)n, MPIU_REAL, f->left, 7004, f->comm, &req[3]));
    PetscCallMPI(MPI_Waitall(4, req, MPI_STATUSES_IGNORE));
  }
  for (PetscInt q = 0; q < nrows; q++)
    for (PetscInt p = 0; p < w; p++) {
      rows[q][o - w + p] = rl[q * w + p];
      rows[q][o + N + p] = rr[q * w + p];
    }
  PetscFunctionReturn(0);
}

/* zero the ghost columns of a ghosted width row that lie outside a non-periodic width */
void BbdFieldZeroOutside(BbdField f, PetscReal *row)
{
  const PetscInt N = f->net->n[0], gys = f->gys, gym = f->gym;

  if (f->net->periodic) return;
  for (PetscInt jj = 0; jj < -gys && jj < gym; jj++) row[jj] = 0;
  for (PetscInt jj = PetscMax(N - gys, 0); jj < gym; jj++) row[jj] = 0;
}

/* the whole output row on every rank from its owned entries: *all (restore with
   VecRestoreArrayRead(f->Zall, all)) */
PetscErrorCode BbdFieldOutputRowAll(BbdField f, const PetscReal *own, const PetscScalar **all)
{
  PetscScalar *g;

  PetscFunctionBeginUser;
  PetscCall(VecGetArray(f->rowg, &g));
  PetscCall(PetscArraycpy(g, own, f->ym));
  PetscCall(VecRestoreArray(f->rowg, &g));
  PetscCall(VecScatterBegin(f->zscat, f->rowg, f->Zall, INSERT_VALUES, SCATTER_FORWARD));
  PetscCall(VecScatterEnd(f->zscat, f->rowg, f->Zall, INSERT_VALUES, SCATTER_FORWARD));
  PetscCall(VecGetArrayRead(f->Zall, all));
  PetscFunctionReturn(0);
}

/* the loss's linearisation state H (N + 1 entries, on every rank; ce, kl: the softmax of all N
   widths and sum Y) at the output row Z (owned entries): BbdLossOps.linearise, nothing if NULL */
PetscErrorCode BbdFieldOutputSoftmax(BbdField f, const PetscReal *Zown, PetscReal *H)
{
  BbdNet             net = f->net;
  const PetscInt     N   = net->n[0];
  const BbdLossOps  *L   = BbdLossGetOps(net->loss);
  const PetscScalar *Z;

  PetscFunctionBeginUser;
  if (!L->linearise) PetscFunctionReturn(0);
  PetscCall(BbdFieldOutputRowAll(f, Zown, &Z));
  L->linearise(N, net->dy, Z, net->Y + f->sample * N, H);
  PetscCall(VecRestoreArrayRead(f->Zall, &Z));
  PetscFunctionReturn(0);
}

/* the loss gradient per unit width on the owned part of the output row Z (owned entries) */
PetscErrorCode BbdFieldOutputGradient(BbdField f, const PetscReal *Zown, PetscReal *lam)
{
  BbdNet             net = f->net;
  const PetscInt     N   = net->n[0];
  const PetscScalar *Z;

  PetscFunctionBeginUser;
  PetscCall(BbdFieldOutputRowAll(f, Zown, &Z));
  (void)BbdLossEval(net->loss, N, net->dy, Z, net->Y + f->sample * N, f->lam); /* f->lam has N entries */
  PetscCall(VecRestoreArrayRead(f->Zall, &Z));
  for (PetscInt j = 0; j < f->ym; j++) lam[j] = f->lam[f->ys + j];
  PetscFunctionReturn(0);
}

/* The grid stores depth fastest; the sweeps run along width rows: transpose the ghosted state
   once per evaluation into rows zr[k][jj], ar[c][k][jj] (k = 0..NX-1), and evaluate sigma and
   sigma' of every row (S, D1), with zero padding outside a non-periodic width. Damped: also the
   velocity rows zdr[k][jj], adr[c][k][jj] and sigma'' (D2). */
PetscErrorCode BbdFieldTransposeIn(BbdField f, Vec U)
{
  BbdNet         net = f->net;
  const PetscInt NX = net->M + 1, P = net->P, gys = f->gys, gym = f->gym, V = P + 2;
  PetscScalar ***u;

  PetscFunctionBeginUser;
  f->lin_in = PETSC_FALSE; /* residual_continuum.c: the rows are no longer the linearisation point's */
  PetscCall(DMGlobalToLocalBegin(f->dag, U, INSERT_VALUES, f->Uloc));
  PetscCall(DMGlobalToLocalEnd(f->dag, U, INSERT_VALUES, f->Uloc));
  PetscCall(DMDAVecGetArrayDOFRead(f->dag, f->Uloc, &u));
  for (PetscInt jj = 0; jj < gym; jj++) {
    PetscScalar **col = u[gys + jj];
    for (PetscInt k = 0; k < NX; k++) {
      f->zr[k * gym + jj] = col[k][0];
      for (PetscInt c = 0; c <= P; c++) f->ar[(c * NX + k) * gym + jj] = col[k][1 + c];
      if (f->damped) {
        f->zdr[k * gym + jj] = col[k][V];
        for (PetscInt c = 0; c <= P; c++) f->adr[(c * NX + k) * gym + jj] = col[k][V + 1 + c];
      }
    }
  }
  PetscCall(DMDAVecRestoreArrayDOFRead(f->dag, f->Uloc, &u));
  for (PetscInt k = 0; k < NX; k++) {
    BbdActivationEval(net->act[PetscMin(k, net->M - 1)], gym, f->zr + k * gym, f->S + k * gym, f->D1 + k * gym, f->damped ? f->D2 + k * gym : NULL);
    BbdFieldZeroOutside(f, f->S + k * gym); /* zero padding of sigma(z) outside the width (sigma(0) need not vanish) */
  }
  PetscFunctionReturn(0);
}

/* the same on the owned width (out[j], j = 0..ym-1) */
void BbdFieldRowPhiT(BbdField f, PetscInt k, const PetscReal *gv, PetscReal *out)
{
  const PetscInt o = f->ys - f->gys;
  RowPhiTSpan(f, k, gv, o, o + f->ym, out);
}

void BbdFieldRowPhi(BbdField f, PetscInt k, const PetscReal *gu, PetscReal *out)
{
  const PetscInt o = f->ys - f->gys;
  RowPhiSpan(f, k, gu, o, o + f->ym, out);
}

/* whole state on every rank (natural ordering: ((i * NX) + k) * dof + c) */
PetscErrorCode BbdFieldGatherAll(BbdField f, const PetscScalar **all)
{
  PetscFunctionBeginUser;
  PetscCall(BbdFieldGatherVec(f, f->U, all));
  PetscFunctionReturn(0);
}

/* the same for any vector of the width-only layout */
PetscErrorCode BbdFieldGatherVec(BbdField f, Vec v, const PetscScalar **all)
{
  PetscFunctionBeginUser;
  PetscCall(DMDAGlobalToNaturalBegin(f->da, v, INSERT_VALUES, f->Unat));
  PetscCall(DMDAGlobalToNaturalEnd(f->da, v, INSERT_VALUES, f->Unat));
  PetscCall(VecScatterBegin(f->allscat, f->Unat, f->Uall, INSERT_VALUES, SCATTER_FORWARD));
  PetscCall(VecScatterEnd(f->allscat, f->Unat, f->Uall, INSERT_VALUES, SCATTER_FORWARD));
  PetscCall(VecGetArrayRead(f->Uall, all));
  PetscFunctionReturn(0);
}

PetscClassId  BBD_FIELD_CLASSID;
PetscLogEvent BBD_FIELD_SweepBackward, BBD_FIELD_SweepForward, BBD_FIELD_Residual, BBD_FIELD_Jacobian, BBD_FIELD_PCApply;
static PetscBool BbdFieldPackageInitialized = PETSC_FALSE;

static PetscErrorCode BbdFieldFinalizeEvents(void)
{
  PetscFunctionBeginUser;
  BbdFieldPackageInitialized = PETSC_FALSE;
  PetscFunctionReturn(0);
}

/* the class "BbdField" and the log events of the field solver (-log_view): the backward and
   forward sweeps (lattice sweeps, continuum Heun sweeps, with or without sources), the residual
   evaluation, the Jacobian (assembly, colouring, differencing) and the preconditioner; the BBD
   diagnostics and the HDF5 output are the library's shared events (src/core/log.c) */
PetscErrorCode BbdFieldInitializePackage(void)
{
  PetscFunctionBeginUser;
  if (BbdFieldPackageInitialized) PetscFunctionReturn(0);
  BbdFieldPackageInitialized = PETSC_TRUE;
  PetscCall(PetscClassIdRegister("BbdField", &BBD_FIELD_CLASSID));
  PetscCall(PetscLogEventRegister("BbdSweepBackward", BBD_FIELD_CLASSID, &BBD_FIELD_SweepBackward));
  PetscCall(PetscLogEventRegister("BbdSweepForward", BBD_FIELD_CLASSID, &BBD_FIELD_SweepForward));
  PetscCall(PetscLogEventRegister("BbdResidual", BBD_FIELD_CLASSID, &BBD_FIELD_Residual));
  PetscCall(PetscLogEventRegister("BbdJacobian", BBD_FIELD_CLASSID, &BBD_FIELD_Jacobian));
  PetscCall(PetscLogEventRegister("BbdPCApply", BBD_FIELD_CLASSID, &BBD_FIELD_PCApply));
  PetscCall(BbdLogInitialize()); /* the diagnostics and output events are the library's (src/core/log.c) */
  PetscCall(PetscRegisterFinalize(BbdFieldFinalizeEvents));
  PetscFunctionReturn(0);
}
