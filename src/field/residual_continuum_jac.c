/* The Jacobian of continuum mode's residual form (residual_continuum.c), assembled by colouring
   from exact directional derivatives. */
#include "residual_continuum.h"
#include "core/lossimpl.h"

/* ---- The Jacobian of the residual form (-bbd_jacobian assembled; docs/theory.md section 14,
   "The Jacobian of continuum mode's residual form"). JacVec is the exact directional derivative
   dF = (dF/dU + shift dF/dU') dU at the linearisation point, written operation by operation from
   BbdFieldCRIFunction (each row's linearisation below the row); the matrix is assembled from it by colouring
   (fieldjac.c), so its entries are exact to rounding. */
typedef struct {
  Vec        Udlin, dloc, xw, yw; /* U' of the linearisation point, the direction on f->dag's ghosts, width-only work vectors */
  PetscReal *lb, *lzd, *lad;      /* owned [NX][ym]: beta, z' (damped: v') and a' (damped: w', [P+1][NX][ym]) of the point */
  PetscReal *d2, *d3;             /* ghosted rows: sigma'', sigma''' (damped) of z at the point */
  PetscReal *q;                   /* [N + 1] the loss's Hessian state at the output row (BbdLossOps.linearise; ce, kl: the softmax of all widths, sum Y) */
  PetscReal *tz, *ta, *tv, *tw;   /* ghosted rows of the direction: dz, da (damped: dv, dw) */
  PetscReal *sdz;                 /* ghosted rows s' dz (zero outside a non-periodic width) */
  PetscReal *tb, *tbi, *dw;       /* owned [NX][ym]: dbeta, db (sample switching), d(z') = shift dz (damped: d(v') = shift dv) */
  PetscReal *dRb, *dRz;           /* owned [NX][ym]: the linearised beta and tangent rows */
  PetscReal *cR, *dcR, *dbt;      /* damped, owned [NX][ym]: the tangent sources, their derivative, that of b_t */
  PetscReal *o, *g;               /* owned work rows (12), ghosted work rows (6) */
} CJac;

PetscErrorCode BbdFieldContinuumResidualDestroy(BbdField f)
{
  CJac *J = (CJac *)f->cjac;

  PetscFunctionBeginUser;
  if (!J) PetscFunctionReturn(0);
  PetscCall(VecDestroy(&J->Udlin));
  PetscCall(VecDestroy(&J->dloc));
  PetscCall(VecDestroy(&J->xw));
  PetscCall(VecDestroy(&J->yw));
  PetscCall(PetscFree6(J->lb, J->lzd, J->lad, J->d2, J->d3, J->q));
  PetscCall(PetscFree5(J->tz, J->ta, J->tv, J->tw, J->tb));
  PetscCall(PetscFree4(J->tbi, J->dw, J->dRb, J->dRz));
  PetscCall(PetscFree5(J->cR, J->dcR, J->dbt, J->o, J->g));
  PetscCall(PetscFree(J->sdz));
  PetscCall(PetscFree(f->cjac));
  PetscFunctionReturn(0);
}

PetscErrorCode BbdFieldCRJacCreate(BbdField f)
{
  BbdNet         net = f->net;
  const PetscInt NX = net->M + 1, P = net->P, ym = f->ym, gym = f->gym, n = NX * ym, ng = NX * gym;
  CJac          *J;

  PetscFunctionBeginUser;
  PetscCall(PetscNew(&J));
  PetscCall(VecDuplicate(f->U, &J->Udlin));
  PetscCall(VecDuplicate(f->U, &J->xw));
  PetscCall(VecDuplicate(f->U, &J->yw));
  PetscCall(VecDuplicate(f->Uloc, &J->dloc));
  PetscCall(PetscMalloc6(n, &J->lb, n, &J->lzd, (P + 1) * n, &J->lad, ng, &J->d2, ng, &J->d3, net->n[0] + 1, &J->q));
  PetscCall(PetscMalloc5(ng, &J->tz, (P + 1) * ng, &J->ta, ng, &J->tv, (P + 1) * ng, &J->tw, n, &J->tb));
  PetscCall(PetscMalloc4(n, &J->tbi, n, &J->dw, n, &J->dRb, n, &J->dRz));
  PetscCall(PetscMalloc5(n, &J->cR, n, &J->dcR, n, &J->dbt, 12 * ym, &J->o, 5 * gym, &J->g));
  PetscCall(PetscMalloc1(ng, &J->sdz));
  f->cjac = J;
  PetscFunctionReturn(0);
}

/* the owned row own into the ghosted row gh (one ghost column each side; zero outside a non-periodic width) */
static PetscErrorCode GhostInto(BbdField f, const PetscReal *own, PetscReal *gh)
{
  PetscFunctionBeginUser;
  PetscCall(PetscArraycpy(gh + f->ys - f->gys, own, f->ym));
  PetscCall(BbdFieldExchangeGhosts(f, 1, &gh, 1));
  BbdFieldZeroOutside(f, gh);
  PetscFunctionReturn(0);
}

/* the width stencil D_c of the ghosted row r at the owned point j (ghosted jj) */
static inline void DRow(BbdField f, const PetscReal *r, PetscInt jj, PetscReal D[3])
{
  const PetscReal c1 = 0.5 / f->net->dy, c2 = 1.0 / (f->net->dy * f->net->dy);

  D[0] = r[jj];
  D[1] = c1 * (r[jj + 1] - r[jj - 1]);
  D[2] = c2 * (r[jj + 1] - 2 * r[jj] + r[jj - 1]);
}

/* Store the linearisation point (U, U') (width-only layout; its rows are transposed in): beta, the
   rates, sigma'' (and sigma''') of z, the softmax of the output row. */
static PetscErrorCode CJacLinearise(BbdField f, Vec U, Vec Udot)
{
  BbdNet             net = f->net;
  const PetscInt     M = net->M, NX = M + 1, P = net->P, ys = f->ys, ym = f->ym, gym = f->gym, V = f->damped ? P + 2 : 0;
  CJac              *J = (CJac *)f->cjac;
  const PetscScalar ***ud;

  PetscFunctionBeginUser;
  PetscCall(BbdFieldTransposeIn(f, U));
  f->lin_in = PETSC_TRUE;
  PetscCall(BbdFieldCRReadBeta(f, U));
  PetscCall(PetscArraycpy(J->lb, f->beta, NX * ym));
  PetscCall(DMDAVecGetArrayDOFRead(f->da, Udot, &ud));
  for (PetscInt k = 0; k < NX; k++)
    for (PetscInt j = 0; j < ym; j++) {
      J->lzd[k * ym + j] = ud[ys + j][k][V];
      for (PetscInt c = 0; c <= P; c++) J->lad[(c * NX + k) * ym + j] = ud[ys + j][k][V + 1 + c];
    }
  PetscCall(DMDAVecRestoreArrayDOFRead(f->da, Udot, &ud));
  for (PetscInt k = 0; k < NX; k++) {
    const BbdActivation act = net->act[PetscMin(k, M - 1)];
    BbdActivationEval(act, gym, f->zr + k * gym, NULL, NULL, J->d2 + k * gym); /* s, s' are in f->S, f->D1 */
    BbdFieldZeroOutside(f, J->d2 + k * gym);
    if (f->damped) {
      BbdActivationEval3(act, gym, f->zr + k * gym, J->d3 + k * gym);
      BbdFieldZeroOutside(f, J->d3 + k * gym);
    }
  }
  PetscCall(BbdFieldOutputSoftmax(f, f->zr + M * gym + f->ys - f->gys, J->q)); /* the loss's Hessian state (src/core/lossimpl.h) */
  PetscFunctionReturn(0);
}

/* the adjoint's right-hand side g = A_k beta = s' .* PhiT_k(beta) and its derivative
   dg = s'' dz .* PhiT_k(beta) + s' .* (PhiT_k(dbeta) + PhiT_k[da](beta)) (owned rows) */
static PetscErrorCode AdjointLin(BbdField f, PetscInt k, const PetscReal *b, const PetscReal *db, PetscReal *g, PetscReal *dg)
{
  CJac           *J = (CJac *)f->cjac;
  const PetscInt  ym = f->ym, gym = f->gym, o = f->ys - f->gys;
  PetscReal      *G0 = J->g, *G1 = J->g + gym, *P1 = J->o + 9 * ym, *P2 = J->o + 10 * ym, *P3 = J->o + 11 * ym;
  const PetscReal *s1 = f->D1 + k * gym, *s2 = J->d2 + k * gym, *dz = J->tz + k * gym;

  PetscFunctionBeginUser;
  PetscCall(GhostInto(f, b, G0));
  PetscCall(GhostInto(f, db, G1));
  RowPhiTSpanA(f, f->ar, k, G0, o, o + ym, P1);
  RowPhiTSpanA(f, f->ar, k, G1, o, o + ym, P2);
  RowPhiTSpanA(f, J->ta, k, G0, o, o + ym, P3);
  for (PetscInt j = 0; j < ym; j++) {
    const PetscInt jj = j + o;
    g[j]              = s1[jj] * P1[j];
    dg[j]             = s2[jj] * dz[jj] * P1[j] + s1[jj] * (P2[j] + P3[j]);
  }
  PetscFunctionReturn(0);
}

/* the beta rows' derivative (BbdFieldCRBetaRows linearised) into J->dRb; dlam = eta d lam (owned) */
static PetscErrorCode BetaRowsLin(BbdField f, const PetscReal *dlam)
{
  CJac           *J = (CJac *)f->cjac;
  const PetscInt  M = f->net->M, ym = f->ym;
  const PetscReal h = f->net->h, *b = J->lb, *db = J->tb;
  PetscReal      *g1 = J->o, *dg1 = J->o + ym, *q = J->o + 2 * ym, *dq = J->o + 3 * ym, *g2 = J->o + 4 * ym, *dg2 = J->o + 5 * ym, *out = J->dRb;

  PetscFunctionBeginUser;
  for (PetscInt j = 0; j < ym; j++) out[M * ym + j] = db[M * ym + j] + dlam[j]; /* R = beta_M + eta lam(Z) */
  for (PetscInt k = M - 1; k >= 0; k--) {
    PetscCall(AdjointLin(f, k + 1, b + (k + 1) * ym, db + (k + 1) * ym, g1, dg1));
    for (PetscInt j = 0; j < ym; j++) {
      q[j]  = b[(k + 1) * ym + j] + h * g1[j];
      dq[j] = db[(k + 1) * ym + j] + h * dg1[j];
    }
    PetscCall(AdjointLin(f, k, q, dq, g2, dg2));
    for (PetscInt j = 0; j < ym; j++) out[k * ym + j] = (db[k * ym + j] - db[(k + 1) * ym + j]) / h - 0.5 * (dg1[j] + dg2[j]);
  }
  PetscFunctionReturn(0);
}

/* the tangent-type right-hand side at depth k and its derivative (owned rows):
   flow:   T_k(w)  = beta_k + sum_c a_c' D_c s + Phi_k(s' w),
           dT_k    = dbeta_k + sum_c (shift da_c D_c s + a_c' D_c(s' dz)) + Phi_k[da](s' w) + Phi_k(s'' dz w + s' dw);
   damped: cR_k + Phi_k(s' w), with d cR_k (DampedSourcesLin) in place of the first terms. */
static PetscErrorCode TangentLin(BbdField f, PetscInt k, const PetscReal *w, const PetscReal *dw, PetscReal *t, PetscReal *dt)
{
  BbdNet          net = f->net;
  CJac           *J   = (CJac *)f->cjac;
  const PetscInt  NX = net->M + 1, P = net->P, ym = f->ym, gym = f->gym, o = f->ys - f->gys;
  const PetscReal *s1 = f->D1 + k * gym, *s2 = J->d2 + k * gym, *dz = J->tz + k * gym;
  const PetscReal *E = J->sdz + k * gym;
  PetscReal      *G0 = J->g, *G1 = J->g + gym, *P1 = J->o + 9 * ym, *P2 = J->o + 10 * ym, *P3 = J->o + 11 * ym, *u = J->o + 8 * ym;

  PetscFunctionBeginUser;
  for (PetscInt j = 0; j < ym; j++) u[j] = s1[j + o] * w[j];
  PetscCall(GhostInto(f, u, G0));
  for (PetscInt j = 0; j < ym; j++) u[j] = s2[j + o] * dz[j + o] * w[j] + s1[j + o] * dw[j];
  PetscCall(GhostInto(f, u, G1));
  RowPhiSpanA(f, f->ar, k, G0, o, o + ym, P1);
  RowPhiSpanA(f, J->ta, k, G0, o, o + ym, P2);
  RowPhiSpanA(f, f->ar, k, G1, o, o + ym, P3);
  if (f->damped) {
    for (PetscInt j = 0; j < ym; j++) {
      t[j]  = J->cR[k * ym + j] + P1[j];
      dt[j] = J->dcR[k * ym + j] + P2[j] + P3[j];
    }
    PetscFunctionReturn(0);
  }
  for (PetscInt j = 0; j < ym; j++) {
    PetscReal D[3], DE[3];
    Ds(f, k, j, D);
    DRow(f, E, j + o, DE);
    t[j]  = J->lb[k * ym + j] + P1[j];
    dt[j] = J->tb[k * ym + j] + P2[j] + P3[j];
    for (PetscInt c = 0; c <= P; c++) {
      t[j] += J->lad[(c * NX + k) * ym + j] * D[c];
      dt[j] += f->shift * J->ta[(c * NX + k) * gym + j + o] * D[c] + J->lad[(c * NX + k) * ym + j] * DE[c];
    }
  }
  PetscFunctionReturn(0);
}

/* the tangent rows' derivative (BbdFieldCRTangentRows linearised, k >= 1) into J->dRz, with the rates
   w = J->lzd and their derivative J->dw */
static PetscErrorCode TangentRowsLin(BbdField f)
{
  CJac           *J = (CJac *)f->cjac;
  const PetscInt  M = f->net->M, ym = f->ym;
  const PetscReal h = f->net->h, *w = J->lzd, *dw = J->dw;
  PetscReal      *t1 = J->o, *dt1 = J->o + ym, *q = J->o + 2 * ym, *dq = J->o + 3 * ym, *t2 = J->o + 4 * ym, *dt2 = J->o + 5 * ym;

  PetscFunctionBeginUser;
  for (PetscInt k = 0; k < M; k++) {
    PetscCall(TangentLin(f, k, w + k * ym, dw + k * ym, t1, dt1));
    for (PetscInt j = 0; j < ym; j++) {
      q[j]  = w[k * ym + j] + h * t1[j];
      dq[j] = dw[k * ym + j] + h * dt1[j];
    }
    PetscCall(TangentLin(f, k + 1, q, dq, t2, dt2));
    for (PetscInt j = 0; j < ym; j++) J->dRz[(k + 1) * ym + j] = (dw[(k + 1) * ym + j] - dw[k * ym + j]) / h - 0.5 * (dt1[j] + dt2[j]);
  }
  PetscFunctionReturn(0);
}

/* damped: the acceleration sweep's sources cR (BbdFieldContinuumDampedSources with w_t = w') and
   their derivative, and the derivative of b_t, on the owned columns:
     u = s' v, p = s'' v^2, b_t = d_x v - Phi(u) - sum_c w_c D_c s,
     cR = -gamma b_t + beta + Phi(p) + sum_c (w_c' D_c s + 2 w_c D_c u);
     du = s'' dz v + s' dv, dp = s''' dz v^2 + 2 s'' v dv, db_t = d_x dv - Phi[da](u) - Phi(du) - sum_c (dw_c D_c s + w_c D_c(s' dz)),
     dcR = -gamma db_t + dbeta + Phi[da](p) + Phi(dp) + sum_c (shift dw_c D_c s + w_c' D_c(s' dz) + 2 dw_c D_c u + 2 w_c D_c du) */
static PetscErrorCode DampedSourcesLin(BbdField f)
{
  BbdNet          net = f->net;
  CJac           *J   = (CJac *)f->cjac;
  const PetscInt  M = net->M, NX = M + 1, P = net->P, ym = f->ym, gym = f->gym, o = f->ys - f->gys;
  const PetscReal h = net->h, gamma = net->gamma;
  PetscReal      *U1 = J->g, *DU = J->g + gym, *PW = J->g + 2 * gym, *DP = J->g + 3 * gym;
  PetscReal      *g1 = J->o, *dg1 = J->o + ym, *g2 = J->o + 2 * ym, *dg2 = J->o + 3 * ym, *x = J->o + 4 * ym;

  PetscFunctionBeginUser;
  for (PetscInt k = 0; k < NX; k++) {
    const PetscReal *s1 = f->D1 + k * gym, *s2 = J->d2 + k * gym, *s3 = J->d3 + k * gym, *v = f->zdr + k * gym, *dv = J->tv + k * gym, *dz = J->tz + k * gym;
    const PetscReal *E = J->sdz + k * gym, *vp, *vm, *vmm, *dvp, *dvm, *dvmm;
    for (PetscInt jj = 0; jj < gym; jj++) {
      U1[jj] = s1[jj] * v[jj];
      DU[jj] = s2[jj] * dz[jj] * v[jj] + s1[jj] * dv[jj];
      PW[jj] = s2[jj] * v[jj] * v[jj];
      DP[jj] = s3[jj] * dz[jj] * v[jj] * v[jj] + 2 * s2[jj] * v[jj] * dv[jj];
    }
    BbdFieldZeroOutside(f, U1);
    BbdFieldZeroOutside(f, DU);
    BbdFieldZeroOutside(f, PW);
    BbdFieldZeroOutside(f, DP);
    RowPhiSpanA(f, f->ar, k, U1, o, o + ym, g1);
    RowPhiSpanA(f, J->ta, k, U1, o, o + ym, dg1);
    RowPhiSpanA(f, f->ar, k, DU, o, o + ym, x);
    for (PetscInt j = 0; j < ym; j++) dg1[j] += x[j];
    RowPhiSpanA(f, f->ar, k, PW, o, o + ym, g2);
    RowPhiSpanA(f, J->ta, k, PW, o, o + ym, dg2);
    RowPhiSpanA(f, f->ar, k, DP, o, o + ym, x);
    for (PetscInt j = 0; j < ym; j++) dg2[j] += x[j];
    if (k == 0) { /* d_x v: one-sided at the ends (as BbdFieldContinuumDampedSources) */
      vp = f->zdr + gym, vm = v, vmm = f->zdr + 2 * gym;
      dvp = J->tv + gym, dvm = dv, dvmm = J->tv + 2 * gym;
    } else if (k == M) {
      vp = v, vm = f->zdr + (M - 1) * gym, vmm = f->zdr + (M - 2) * gym;
      dvp = dv, dvm = J->tv + (M - 1) * gym, dvmm = J->tv + (M - 2) * gym;
    } else {
      vp = f->zdr + (k + 1) * gym, vm = f->zdr + (k - 1) * gym, vmm = NULL;
      dvp = J->tv + (k + 1) * gym, dvm = J->tv + (k - 1) * gym, dvmm = NULL;
    }
    for (PetscInt j = 0; j < ym; j++) {
      const PetscInt jj = j + o;
      PetscReal      dxv, ddxv, bt, dbt, r, dr, D[3], DUk[3], DDU[3], DE[3];
      if (k == 0) {
        dxv  = (-3 * vm[jj] + 4 * vp[jj] - vmm[jj]) / (2 * h);
        ddxv = (-3 * dvm[jj] + 4 * dvp[jj] - dvmm[jj]) / (2 * h);
      } else if (k == M) {
        dxv  = (3 * vp[jj] - 4 * vm[jj] + vmm[jj]) / (2 * h);
        ddxv = (3 * dvp[jj] - 4 * dvm[jj] + dvmm[jj]) / (2 * h);
      } else {
        dxv  = (vp[jj] - vm[jj]) / (2 * h);
        ddxv = (dvp[jj] - dvm[jj]) / (2 * h);
      }
      Ds(f, k, j, D);
      DRow(f, U1, jj, DUk);
      DRow(f, DU, jj, DDU);
      DRow(f, E, jj, DE);
      bt  = dxv - g1[j];
      dbt = ddxv - dg1[j];
      for (PetscInt c = 0; c <= P; c++) {
        const PetscReal wc = f->adr[(c * NX + k) * gym + jj], dwc = J->tw[(c * NX + k) * gym + jj];
        bt -= wc * D[c];
        dbt -= dwc * D[c] + wc * DE[c];
      }
      r  = -gamma * bt + J->lb[k * ym + j] + g2[j];
      dr = -gamma * dbt + J->tb[k * ym + j] + dg2[j];
      for (PetscInt c = 0; c <= P; c++) {
        const PetscReal wc = f->adr[(c * NX + k) * gym + jj], dwc = J->tw[(c * NX + k) * gym + jj], wt = J->lad[(c * NX + k) * ym + j];
        r += wt * D[c] + 2 * wc * DUk[c];
        dr += f->shift * dwc * D[c] + wt * DE[c] + 2 * dwc * DUk[c] + 2 * wc * DDU[c];
      }
      J->cR[k * ym + j]  = r;
      J->dcR[k * ym + j] = dr;
      J->dbt[k * ym + j] = dbt;
    }
  }
  PetscFunctionReturn(0);
}

/* y = (dF/dU + shift dF/dU') x at the linearisation point (width-only layout) */
static PetscErrorCode JacVec(BbdField f, Vec X, Vec Y)
{
  BbdNet             net = f->net;
  CJac              *J   = (CJac *)f->cjac;
  const PetscInt     M = net->M, NX = M + 1, N = net->n[0], P = net->P, ys = f->ys, ym = f->ym, gys = f->gys, gym = f->gym, o = ys - gys, B = f->dof - 1, V = P + 2;
  const PetscReal    shift = f->shift, gamma = net->gamma, sg = shift + (f->damped ? gamma : 0);
  const PetscScalar ***x;
  PetscScalar     ***y;
  PetscReal         *dlam = J->o + 6 * ym;
  const BbdLossOps  *L    = BbdLossGetOps(net->loss);

  PetscFunctionBeginUser;
  if (!f->lin_in) { /* the rows of the linearisation point (residual evaluations in between replace them) */
    PetscCall(BbdFieldTransposeIn(f, f->Ulin));
    f->lin_in = PETSC_TRUE;
  }
  /* the direction: ghosted rows of dz, da (dv, dw), owned dbeta, db */
  PetscCall(DMGlobalToLocalBegin(f->dag, X, INSERT_VALUES, J->dloc));
  PetscCall(DMGlobalToLocalEnd(f->dag, X, INSERT_VALUES, J->dloc));
  PetscCall(DMDAVecGetArrayDOFRead(f->dag, J->dloc, &x));
  for (PetscInt jj = 0; jj < gym; jj++)
    for (PetscInt k = 0; k < NX; k++) {
      const PetscScalar *xx = x[gys + jj][k];
      J->tz[k * gym + jj]   = xx[0];
      for (PetscInt c = 0; c <= P; c++) J->ta[(c * NX + k) * gym + jj] = xx[1 + c];
      if (f->damped) {
        J->tv[k * gym + jj] = xx[V];
        for (PetscInt c = 0; c <= P; c++) J->tw[(c * NX + k) * gym + jj] = xx[V + 1 + c];
      }
    }
  for (PetscInt k = 0; k < NX; k++) {
    BbdFieldZeroOutside(f, J->tz + k * gym);
    BbdFieldZeroOutside(f, J->tv + k * gym);
    for (PetscInt jj = 0; jj < gym; jj++) J->sdz[k * gym + jj] = f->D1[k * gym + jj] * J->tz[k * gym + jj];
    for (PetscInt c = 0; c <= P; c++) {
      BbdFieldZeroOutside(f, J->ta + (c * NX + k) * gym);
      BbdFieldZeroOutside(f, J->tw + (c * NX + k) * gym);
    }
    for (PetscInt j = 0; j < ym; j++) {
      const PetscScalar *xx = x[ys + j][k];
      J->tb[k * ym + j]     = xx[B];
      J->tbi[k * ym + j]    = f->bi >= 0 ? xx[f->bi] : 0;
      J->dw[k * ym + j]     = shift * (f->damped ? J->tv[k * gym + j + o] : J->tz[k * gym + j + o]);
    }
  }
  PetscCall(DMDAVecRestoreArrayDOFRead(f->dag, J->dloc, &x));
  /* eta d lam of the output row (the loss's Hessian at the linearisation point; a dense one needs the whole row dZ) */
  if (L->hessian == BBD_HESSIAN_DENSE) {
    const PetscScalar *dZ;
    PetscCall(BbdFieldOutputRowAll(f, J->tz + M * gym + o, &dZ));
    L->hessvec(N, J->q, net->eta, dZ, ys, ym, dlam);
    PetscCall(VecRestoreArrayRead(f->Zall, &dZ));
  } else
    for (PetscInt j = 0; j < ym; j++) dlam[j] = L->hessian == BBD_HESSIAN_DIAGONAL ? L->hessian_entry(N, J->q, net->eta, ys + j, ys + j) * J->tz[M * gym + j + o] : 0;
  PetscCall(BetaRowsLin(f, dlam));
  if (f->damped) PetscCall(DampedSourcesLin(f));
  PetscCall(TangentRowsLin(f));
  PetscCall(DMDAVecGetArrayDOF(f->da, Y, &y));
  for (PetscInt k = 0; k < NX; k++) {
    const PetscReal *dz = J->tz + k * gym, *E = J->sdz + k * gym;
    for (PetscInt j = 0; j < ym; j++) {
      const PetscInt jj = j + o;
      PetscScalar   *yy = y[ys + j][k];
      PetscReal      D[3], DE[3];
      Ds(f, k, j, D);
      DRow(f, E, jj, DE);
      yy[B] = J->dRb[k * ym + j];
      if (f->bi >= 0) yy[f->bi] = shift * J->tbi[k * ym + j] - (f->damped ? J->dbt[k * ym + j] : J->tb[k * ym + j]);
      if (!f->damped) yy[0] = k ? J->dRz[k * ym + j] : shift * dz[jj];
      else {
        yy[0] = shift * dz[jj] - J->tv[k * gym + jj];
        yy[V] = k ? J->dRz[k * ym + j] : sg * J->tv[k * gym + jj];
      }
      for (PetscInt c = 0; c <= P; c++) {
        const PetscInt  r  = f->damped ? V + 1 + c : 1 + c;
        const PetscReal da = f->damped ? J->tw[(c * NX + k) * gym + jj] : J->ta[(c * NX + k) * gym + jj];
        if (f->damped) yy[1 + c] = shift * J->ta[(c * NX + k) * gym + jj] - da;
        yy[r] = net->kappa[c] > 0 ? sg * da / net->kappa[c] - J->tb[k * ym + j] * D[c] - J->lb[k * ym + j] * DE[c] : sg * da;
      }
    }
  }
  PetscCall(DMDAVecRestoreArrayDOF(f->da, Y, &y));
  PetscFunctionReturn(0);
}

/* the same on the TS layout (the colouring's directions) */
static PetscErrorCode JacVecTS(BbdField f, Vec X, Vec Y)
{
  CJac *J = (CJac *)f->cjac;

  PetscFunctionBeginUser;
  PetscCall(BbdFieldFromTS(f, X, J->xw));
  PetscCall(JacVec(f, J->xw, J->yw));
  PetscCall(BbdFieldToTS(f, J->yw, Y));
  PetscFunctionReturn(0);
}

PetscErrorCode BbdFieldCRIJacobian(TS ts, PetscReal t, Vec U, Vec Udot, PetscReal shift, Mat A, Mat Bm, void *ctx)
{
  BbdField f = (BbdField)ctx;

  PetscFunctionBeginUser;
  PetscCall(PetscLogEventBegin(BBD_FIELD_Jacobian, 0, 0, 0, 0));
  (void)t;
  PetscCall(BbdFieldFromTS(f, U, f->Ulin));
  f->shift = shift;
  if (f->jac_fdcolor || f->jac_fd) PetscCall(BbdFieldJacobianFD(f, ts, U, Bm)); /* -snes_fd_color on the box pattern (fieldjac.c), -snes_fd */
  f->lin_in = PETSC_FALSE; /* transposed in at the first preconditioner application (after the differencing's residuals) */
  if (f->jac_assembled) { /* exact: coloured directional derivatives of the residual */
    CJac *J = (CJac *)f->cjac;
    PetscCall(BbdFieldFromTS(f, Udot, J->Udlin));
    PetscCall(CJacLinearise(f, f->Ulin, J->Udlin));
    PetscCall(BbdFieldJacobianColourAssemble(f, JacVecTS, Bm));
  }
  if (A != Bm || !(f->jac_fdcolor || f->jac_fd || f->jac_assembled)) { /* the matrix-free operator (also with -snes_mf_operator) */
    PetscCall(MatAssemblyBegin(A, MAT_FINAL_ASSEMBLY));
    PetscCall(MatAssemblyEnd(A, MAT_FINAL_ASSEMBLY));
  }
  PetscCall(PetscLogEventEnd(BBD_FIELD_Jacobian, 0, 0, 0, 0));
  PetscFunctionReturn(0);
}
