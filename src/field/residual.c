/* The residual of the implicit (residual) formulation of bbd-field's lattice mode, in one pass
   over the grid in storage order (docs/theory.md section 14, "Evaluating the residual in one pass"):
     R_z^(0) = z'^(0),  R_z^(m) = (beta^(m-1) - rho beta^(m))/h - sigma'(z^(m)) .* sum_j D_j^T (a_j^(m) beta^(m)),
     R_z^(M) = beta^(M-1) + eta lam^(M),  R_a^(m) = a_j'^(m)/kappa_j - beta^(m) .* D_j sigma(z^(m))
     (R_a = a_j' for a frozen moment and on the unused row k = M), with the local bias velocity
     beta^(m) = (z'^(m+1) - rho z'^(m))/h - sum_j a_j'^(m) D_j sigma(z^(m)) - sum_j a_j^(m) D_j (sigma'(z^(m)) z'^(m)).
   The grid stores depth fastest: a width column (all depths of one width point) is contiguous.
   R at column i needs beta at columns i-1..i+1, and beta at column c needs sigma(z), sigma'(z) z'
   at columns c-1..c+1: one pass over the columns with a window of five columns of sigma, sigma',
   sigma' z' and three of beta computes R while reading U and U' and writing F once, the
   minimal memory traffic. On one rank the columns are read from the global arrays (periodic wrap
   or zero padding by index); on several ranks from local arrays with two ghost columns. */
#include "fieldimpl.h"
#include "residual_avx2.h"
#include <stdint.h>

PetscErrorCode BbdFieldResidualSetUp(BbdField f)
{
  BbdNet          net = f->net;
  const PetscInt  NX  = net->M + 1;
  const PetscInt *ly;
  PetscInt        ny;

  PetscFunctionBeginUser;
  PetscCheck(net->P <= 2, f->comm, PETSC_ERR_SUP, "the residual formulation handles moments a_0..a_2");
  for (PetscInt j = 0; j <= net->P; j++) { /* R_a = a_j'/kappa_j - beta D_j sigma, or a_j' for a frozen moment */
    f->ik[j] = net->kappa[j] > 0 ? 1.0 / net->kappa[j] : 1.0;
    f->fr[j] = net->kappa[j] > 0 ? 1.0 : 0.0;
  }
  f->oneact = PETSC_TRUE;
  for (PetscInt m = 0; m < net->M; m++) f->oneact = (PetscBool)(f->oneact && net->act[m] == net->act[0]);
  PetscCall(PetscMalloc5(5 * NX, &f->wS, 5 * NX, &f->wD, 5 * NX, &f->wQ, 3 * NX, &f->wB, NX, &f->zcol));
  PetscCall(PetscCalloc1(NX * f->dof, &f->zerocol));
#if defined(BBD_RESIDUAL_AVX2)
  f->avx2 = (PetscBool)(f->avx2 && net->P == 2 && f->dof == 4 && f->oneact && net->act[0] == BBD_ACT_TANH && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"));
#else
  f->avx2 = PETSC_FALSE;
#endif
  if (f->avx2) { /* VSLOTS slots of vnx doubles, 4 of padding before each column (B^(-1) is read and unused) and after it */
    f->vnx = 4 + 4 * ((NX + 3) / 4) + 4;
    PetscCall(PetscCalloc1(VSLOTS * f->vnx + 4, &f->vbuf));
    f->vw = (PetscReal *)(((uintptr_t)f->vbuf + 31) & ~(uintptr_t)31);
  }
  if (f->size > 1 || f->jac_assembled || f->jac_fdcolor || f->jac_fd) { /* the width-radius-2 ghosts of the residual (several ranks) and of the assembled Jacobian (fieldjac.c) */
    PetscCall(DMDAGetInfo(f->da, NULL, NULL, &ny, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL));
    PetscCall(DMDAGetOwnershipRanges(f->da, NULL, &ly, NULL));
    for (PetscInt r = 0; r < f->size && f->size > 1; r++) PetscCheck(ly[r] >= 2, f->comm, PETSC_ERR_USER_INPUT, "-bbd_formulation residual: every rank needs at least 2 width points (rank %" PetscInt_FMT " has %" PetscInt_FMT "); use fewer ranks or a wider grid", r, ly[r]);
    PetscCall(DMDACreate2d(f->comm, DM_BOUNDARY_NONE, net->periodic ? DM_BOUNDARY_PERIODIC : DM_BOUNDARY_GHOSTED, DMDA_STENCIL_BOX, NX, ny, 1, f->size, f->dof, 2, NULL, ly, &f->da2));
    PetscCall(DMSetUp(f->da2));
    PetscCall(DMCreateLocalVector(f->da2, &f->U2loc));
    PetscCall(VecDuplicate(f->U2loc, &f->Ud2loc));
    PetscCall(VecSet(f->U2loc, 0)); /* zero padding outside a non-periodic width stays zero */
    PetscCall(VecSet(f->Ud2loc, 0));
    PetscCall(DMDAGetGhostCorners(f->da2, NULL, &f->gys2, NULL, NULL, &f->gym2, NULL));
  }
  PetscFunctionReturn(0);
}

PetscErrorCode BbdFieldResidualDestroy(BbdField f)
{
  PetscFunctionBeginUser;
  PetscCall(PetscFree5(f->wS, f->wD, f->wQ, f->wB, f->zcol));
  PetscCall(PetscFree(f->zerocol));
  PetscCall(PetscFree(f->vbuf));
  PetscCall(VecDestroy(&f->U2loc));
  PetscCall(VecDestroy(&f->Ud2loc));
  PetscCall(DMDestroy(&f->da2));
  PetscFunctionReturn(0);
}

/* sigma, sigma' (and sigma'' with D2) of the neurons z of a column (depth k uses layer min(k, M-1)'s activation) */
void BbdFieldColumnSigma(BbdField f, const PetscScalar *c, PetscReal *S, PetscReal *D, PetscReal *D2)
{
  BbdNet         net = f->net;
  const PetscInt NX = net->M + 1, dof = f->dof;

  for (PetscInt k = 0; k < NX; k++) f->zcol[k] = c[k * dof];
  if (f->oneact) BbdActivationEval(net->act[0], NX, f->zcol, S, D, D2);
  else
    for (PetscInt k = 0; k < NX; k++) BbdActivationEval(net->act[PetscMin(k, net->M - 1)], 1, f->zcol + k, S + k, D + k, D2 ? D2 + k : NULL);
}

/* sigma, sigma' and sigma' z' of column i into its window slot (zero outside a non-periodic width) */
static void ColumnActivation(BbdField f, const PetscScalar *u, const PetscScalar *ud, PetscInt i)
{
  BbdNet             net = f->net;
  const PetscInt     NX = net->M + 1, dof = f->dof, s = BbdFieldSlot(i, 5) * NX;
  PetscReal         *S = f->wS + s, *D = f->wD + s, *Q = f->wQ + s;
  const PetscScalar *c, *cd;

  if (!BbdFieldInside(f, i)) {
    for (PetscInt k = 0; k < NX; k++) S[k] = D[k] = Q[k] = 0;
    return;
  }
  c  = BbdFieldCol(f, u, i);
  cd = BbdFieldCol(f, ud, i);
  BbdFieldColumnSigma(f, c, S, D, NULL);
  for (PetscInt k = 0; k < NX; k++) Q[k] = D[k] * cd[k * dof];
}

/* beta of column i into its window slot; with fo (the owned column's F), also R_a and R_z^(0) */
static void ColumnBeta(BbdField f, const PetscScalar *u, const PetscScalar *ud, PetscInt i, PetscScalar *fo)
{
  BbdNet                        net = f->net;
  const PetscInt                M = net->M, NX = M + 1, dof = f->dof, P = net->P;
  const PetscReal               rho = net->rho, ih = 1.0 / net->h, c1 = 0.5 / net->dy, c2 = 1.0 / (net->dy * net->dy);
  const PetscReal               ik0 = f->ik[0], ik1 = f->ik[1], ik2 = f->ik[2], fr0 = f->fr[0], fr1 = f->fr[1], fr2 = f->fr[2];
  const PetscReal *PETSC_RESTRICT Sl = f->wS + BbdFieldSlot(i - 1, 5) * NX, *PETSC_RESTRICT S = f->wS + BbdFieldSlot(i, 5) * NX, *PETSC_RESTRICT Sr = f->wS + BbdFieldSlot(i + 1, 5) * NX;
  const PetscReal *PETSC_RESTRICT Ql = f->wQ + BbdFieldSlot(i - 1, 5) * NX, *PETSC_RESTRICT Q = f->wQ + BbdFieldSlot(i, 5) * NX, *PETSC_RESTRICT Qr = f->wQ + BbdFieldSlot(i + 1, 5) * NX;
  PetscReal *PETSC_RESTRICT       B = f->wB + BbdFieldSlot(i, 3) * NX;
  const PetscScalar *PETSC_RESTRICT c, *PETSC_RESTRICT cd;

  if (!BbdFieldInside(f, i)) {
    for (PetscInt m = 0; m < M; m++) B[m] = 0;
    return;
  }
  c  = BbdFieldCol(f, u, i);
  cd = BbdFieldCol(f, ud, i);
  if (P == 2) { /* the default, without branches in the loops */
    for (PetscInt m = 0; m < M; m++) {
      const PetscScalar *a = c + m * dof + 1, *ad = cd + m * dof + 1;
      const PetscReal    D0 = S[m], D1 = c1 * (Sr[m] - Sl[m]), D2 = c2 * (Sr[m] - 2 * S[m] + Sl[m]);
      B[m] = (cd[(m + 1) * dof] - rho * cd[m * dof]) * ih - a[0] * Q[m] - a[1] * c1 * (Qr[m] - Ql[m]) - a[2] * c2 * (Qr[m] - 2 * Q[m] + Ql[m]) - ad[0] * D0 - ad[1] * D1 - ad[2] * D2;
    }
    if (fo)
      for (PetscInt m = 0; m < M; m++) {
        const PetscScalar *ad = cd + m * dof + 1;
        const PetscReal    b = B[m], D0 = S[m], D1 = c1 * (Sr[m] - Sl[m]), D2 = c2 * (Sr[m] - 2 * S[m] + Sl[m]);
        fo[m * dof + 1] = ad[0] * ik0 - fr0 * b * D0;
        fo[m * dof + 2] = ad[1] * ik1 - fr1 * b * D1;
        fo[m * dof + 3] = ad[2] * ik2 - fr2 * b * D2;
      }
  } else {
    for (PetscInt m = 0; m < M; m++) {
      const PetscScalar *a = c + m * dof + 1, *ad = cd + m * dof + 1;
      const PetscReal    D[3] = {S[m], c1 * (Sr[m] - Sl[m]), c2 * (Sr[m] - 2 * S[m] + Sl[m])};
      PetscReal          b    = (cd[(m + 1) * dof] - rho * cd[m * dof]) * ih - a[0] * Q[m];
      if (P >= 1) b -= a[1] * c1 * (Qr[m] - Ql[m]);
      for (PetscInt j = 0; j <= P; j++) b -= ad[j] * D[j];
      B[m] = b;
      if (fo)
        for (PetscInt j = 0; j <= P; j++) fo[m * dof + 1 + j] = ad[j] * f->ik[j] - f->fr[j] * b * D[j];
    }
  }
  if (fo) {
    fo[0] = cd[0];
    for (PetscInt j = 0; j <= P; j++) fo[M * dof + 1 + j] = cd[M * dof + 1 + j];
  }
}

/* R_z^(1..M) of the owned column i */
static void ColumnRz(BbdField f, const PetscScalar *u, const PetscScalar *ud, PetscInt i, PetscReal lam, PetscScalar *fo)
{
  (void)ud;
  BbdNet             net = f->net;
  const PetscInt     M = net->M, NX = M + 1, dof = f->dof, P = net->P;
  const PetscReal    rho = net->rho, ih = 1.0 / net->h, c1 = 0.5 / net->dy, c2 = 1.0 / (net->dy * net->dy);
  const PetscReal   *Bl = f->wB + BbdFieldSlot(i - 1, 3) * NX, *B = f->wB + BbdFieldSlot(i, 3) * NX, *Br = f->wB + BbdFieldSlot(i + 1, 3) * NX;
  const PetscReal   *D  = f->wD + BbdFieldSlot(i, 5) * NX;
  const PetscScalar *cl = BbdFieldCol(f, u, i - 1), *c = BbdFieldCol(f, u, i), *cr = BbdFieldCol(f, u, i + 1);

  if (P == 2)
    for (PetscInt m = 1; m < M; m++) {
      const PetscInt  o = m * dof + 1;
      const PetscReal g = c[o] * B[m] - c1 * (cr[o + 1] * Br[m] - cl[o + 1] * Bl[m]) + c2 * (cr[o + 2] * Br[m] - 2 * c[o + 2] * B[m] + cl[o + 2] * Bl[m]);
      fo[m * dof]       = (B[m - 1] - rho * B[m]) * ih - D[m] * g;
    }
  else
    for (PetscInt m = 1; m < M; m++) {
      const PetscInt o = m * dof + 1;
      PetscReal      g = c[o] * B[m];
      if (P >= 1) g -= c1 * (cr[o + 1] * Br[m] - cl[o + 1] * Bl[m]);
      fo[m * dof] = (B[m - 1] - rho * B[m]) * ih - D[m] * g;
    }
  fo[M * dof] = B[M - 1] + net->eta * lam;
}

/* One pass over the columns (shared with the damped residual, src/residual_damped.c): at step i
   act fills the window slot of column i, mid computes column i-1 (beta or B, and the rows that
   need only that column: fo = NULL for a ghost column), last the rows of column i-2 that need
   three columns of mid. U and U' are the global arrays on one rank, local arrays with two ghost
   columns on several. */
PetscErrorCode BbdFieldResidualPass(BbdField f, Vec U, Vec Udot, Vec F, BbdColumnAct act, BbdColumnMid mid, BbdColumnLast last)
{
  const PetscInt     M = f->net->M, dof = f->dof, ys = f->ys, ym = f->ym, stride = (M + 1) * dof;
  const PetscScalar *u, *ud;
  PetscScalar       *fa;
  PetscReal         *Z = f->g2, *lam = f->pw;

  PetscFunctionBeginUser;
  if (f->size > 1) {
    PetscCall(DMGlobalToLocalBegin(f->da2, U, INSERT_VALUES, f->U2loc));
    PetscCall(DMGlobalToLocalEnd(f->da2, U, INSERT_VALUES, f->U2loc));
    PetscCall(DMGlobalToLocalBegin(f->da2, Udot, INSERT_VALUES, f->Ud2loc));
    PetscCall(DMGlobalToLocalEnd(f->da2, Udot, INSERT_VALUES, f->Ud2loc));
    PetscCall(VecGetArrayRead(f->U2loc, &u));
    PetscCall(VecGetArrayRead(f->Ud2loc, &ud));
  } else {
    PetscCall(VecGetArrayRead(U, &u));
    PetscCall(VecGetArrayRead(Udot, &ud));
  }
  /* the loss gradient at the output needs the whole output row (softmax couples all widths) */
  for (PetscInt j = 0; j < ym; j++) Z[j] = BbdFieldCol(f, u, ys + j)[M * dof];
  PetscCall(BbdFieldOutputGradient(f, Z, lam));
  PetscCall(VecGetArray(F, &fa));
  for (PetscInt i = ys - 2; i <= ys + ym + 1; i++) {
    act(f, u, ud, i);
    if (i >= ys) mid(f, u, ud, i - 1, i - 1 >= ys && i - 1 < ys + ym ? fa + (i - 1 - ys) * stride : NULL);
    if (i >= ys + 2) last(f, u, ud, i - 2, lam[i - 2 - ys], fa + (i - 2 - ys) * stride);
  }
  PetscCall(VecRestoreArray(F, &fa));
  if (f->size > 1) {
    PetscCall(VecRestoreArrayRead(f->U2loc, &u));
    PetscCall(VecRestoreArrayRead(f->Ud2loc, &ud));
  } else {
    PetscCall(VecRestoreArrayRead(U, &u));
    PetscCall(VecRestoreArrayRead(Udot, &ud));
  }
  PetscFunctionReturn(0);
}

PetscErrorCode BbdFieldIFunction(TS ts, PetscReal t, Vec U, Vec Udot, Vec F, void *ctx)
{
  BbdColumnAct  act  = ColumnActivation;
  BbdColumnMid  mid  = ColumnBeta;
  BbdColumnLast last = ColumnRz;

  PetscFunctionBeginUser;
  (void)ts;
  (void)t;
#if defined(BBD_RESIDUAL_AVX2)
  if (((BbdField)ctx)->avx2) act = BbdFieldColumnActivationAVX2, mid = BbdFieldColumnBetaFirstAVX2, last = BbdFieldColumnBetaRzAVX2;
#endif
  PetscCall(PetscLogEventBegin(BBD_FIELD_Residual, 0, 0, 0, 0));
  PetscCall(BbdFieldResidualPass((BbdField)ctx, U, Udot, F, act, mid, last));
  PetscCall(PetscLogEventEnd(BBD_FIELD_Residual, 0, 0, 0, 0));
  PetscFunctionReturn(0);
}

/* the time stepper of the lattice flow residual: the IFunction above, the Jacobian callback and
   the sweep preconditioner of sweep.c, the shared Newton-Krylov set-up (implicit.c) */
PetscErrorCode BbdFieldFlowResidualSetTS(BbdField f, TS ts, PetscReal *dt0)
{
  PetscFunctionBeginUser;
  PetscCall(BbdFieldResidualSolver(f, ts, BbdFieldIFunction, BbdFieldIJacobian, BbdFieldPCApplySweep, "BBD sweep: exact inverse of shift * G(U)", dt0));
  PetscFunctionReturn(0);
}
