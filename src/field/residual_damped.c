/* The implicit residual formulation of DAMPED dynamics in bbd-field's lattice mode
   (-bbd_dynamics damped -bbd_formulation residual; docs/theory.md section 14, "Damped dynamics
   in residual form"). Unknowns per point U = (z, a_0..a_P, v, w_0..w_P), v and w the velocities
   of z and a (the dof layout of the damped sweep formulation), U' their time derivatives.
   With s, s', s'' = sigma, sigma', sigma'' of z^(m), V' = v' + gamma v and W_j = w_j' + gamma w_j:
     kinematic rows     R_z = z' - v,  R_a = a' - w                      (every point)
     the damped bias rate B^(m) = b''^(m) + gamma b'^(m)
                        = (V'^(m+1) - rho V'^(m))/h - sum_j W_j D_j s - sum_j a_j D_j(s' V'^(m) + s'' (v^(m))^2)
                          - 2 sum_j w_j D_j(s' v^(m))
     momentum rows      R_v^(0) = V'^(0),  R_v^(m) = (B^(m-1) - rho B^(m))/h - s' .* sum_j D_j^T(a_j B^(m)),
                        R_v^(M) = B^(M-1) + eta lam^(M),
                        R_w^(m) = W_j/kappa_j - B^(m) .* D_j s   (W_j for a frozen moment and at k = M),
   i.e. the flow's residual (src/residual.c) with (z', a') -> (V', W), beta -> B, plus the two
   velocity-squared terms in B. The part of dR/dU' on (v', w') is the flow's G(z, a); the Jacobian
   of an implicit step is [[shift I, -I], [dR_mom/d(z, a), (shift + gamma) G + (velocity terms)]],
   and the preconditioner (PCSHELL) eliminates the kinematic rows: dv = ((shift + gamma) G)^-1 r_v
   by one sweep with sources (sweep.c), then dq = (r_q + dv)/shift. The Jacobian is applied matrix-free
   or assembled analytically (-bbd_jacobian assembled: src/fieldjac_damped.c).
   The residual is evaluated in one pass over the columns in storage order, as in residual.c: a
   window of five columns of sigma, sigma', s' V' + s'' v^2, s' v and three columns of B; on several
   ranks the columns come from residual.c's local vectors with two ghost columns. */
#include "fieldimpl.h"

/* sigma, sigma', Q = s' V' + s'' v^2 and P = s' v of column i into its window slot (zero outside a
   non-periodic width: they are sigma(z) and its time derivatives, padded by zero) */
static void ColumnActivation(BbdField f, const PetscScalar *u, const PetscScalar *ud, PetscInt i)
{
  BbdNet             net = f->net;
  const PetscInt     NX = net->M + 1, dof = f->dof, V = net->P + 2, s = BbdFieldSlot(i, 5) * NX;
  const PetscReal    gamma = net->gamma;
  PetscReal         *S = f->wS + s, *D = f->wD + s, *Q = f->wQ + s, *P = f->wP + s, *D2 = f->wC;
  const PetscScalar *c, *cd;

  if (!BbdFieldInside(f, i)) {
    for (PetscInt k = 0; k < NX; k++) S[k] = D[k] = Q[k] = P[k] = 0;
    return;
  }
  c  = BbdFieldCol(f, u, i);
  cd = BbdFieldCol(f, ud, i);
  BbdFieldColumnSigma(f, c, S, D, D2);
  for (PetscInt k = 0; k < NX; k++) {
    const PetscReal v = c[k * dof + V];
    Q[k] = D[k] * (cd[k * dof + V] + gamma * v) + D2[k] * v * v;
    P[k] = D[k] * v;
  }
}

/* B of column i into its window slot; with fo (the owned column's F), also the kinematic rows,
   R_w and R_v^(0) */
static void ColumnB(BbdField f, const PetscScalar *u, const PetscScalar *ud, PetscInt i, PetscScalar *fo)
{
  BbdNet             net = f->net;
  const PetscInt     M = net->M, NX = M + 1, dof = f->dof, P = net->P, V = P + 2;
  const PetscReal    rho = net->rho, ih = 1.0 / net->h, gamma = net->gamma, c1 = 0.5 / net->dy, c2 = 1.0 / (net->dy * net->dy);
  const PetscReal *PETSC_RESTRICT   Sl = f->wS + BbdFieldSlot(i - 1, 5) * NX, *PETSC_RESTRICT S = f->wS + BbdFieldSlot(i, 5) * NX, *PETSC_RESTRICT Sr = f->wS + BbdFieldSlot(i + 1, 5) * NX;
  const PetscReal *PETSC_RESTRICT   Ql = f->wQ + BbdFieldSlot(i - 1, 5) * NX, *PETSC_RESTRICT Q = f->wQ + BbdFieldSlot(i, 5) * NX, *PETSC_RESTRICT Qr = f->wQ + BbdFieldSlot(i + 1, 5) * NX;
  const PetscReal *PETSC_RESTRICT   Pl = f->wP + BbdFieldSlot(i - 1, 5) * NX, *PETSC_RESTRICT Pc = f->wP + BbdFieldSlot(i, 5) * NX, *PETSC_RESTRICT Pr = f->wP + BbdFieldSlot(i + 1, 5) * NX;
  PetscReal *PETSC_RESTRICT         B = f->wB + BbdFieldSlot(i, 3) * NX;
  const PetscScalar *PETSC_RESTRICT c, *PETSC_RESTRICT cd;

  if (!BbdFieldInside(f, i)) {
    for (PetscInt m = 0; m < M; m++) B[m] = 0;
    return;
  }
  c  = BbdFieldCol(f, u, i);
  cd = BbdFieldCol(f, ud, i);
  if (P == 2 && dof == 8) { /* the default: the sums over j written out, R_w in a loop of its own */
    const PetscReal ik0 = f->ik[0], ik1 = f->ik[1], ik2 = f->ik[2], fr0 = f->fr[0], fr1 = f->fr[1], fr2 = f->fr[2];

    for (PetscInt m = 0; m < M; m++) {
      const PetscScalar *a = c + m * 8 + 1, *w = c + m * 8 + 5, *wd = cd + m * 8 + 5;
      const PetscReal    Ds1 = c1 * (Sr[m] - Sl[m]), Ds2 = c2 * (Sr[m] - 2 * S[m] + Sl[m]);
      const PetscReal    DQ1 = c1 * (Qr[m] - Ql[m]), DQ2 = c2 * (Qr[m] - 2 * Q[m] + Ql[m]);
      const PetscReal    DP1 = c1 * (Pr[m] - Pl[m]), DP2 = c2 * (Pr[m] - 2 * Pc[m] + Pl[m]);
      const PetscReal    Vn = cd[(m + 1) * 8 + 4] + gamma * c[(m + 1) * 8 + 4], Vm = cd[m * 8 + 4] + gamma * c[m * 8 + 4];
      PetscReal          b  = (Vn - rho * Vm) * ih;
      b -= a[0] * Q[m] + (wd[0] + gamma * w[0]) * S[m] + 2 * w[0] * Pc[m];
      b -= a[1] * DQ1 + (wd[1] + gamma * w[1]) * Ds1 + 2 * w[1] * DP1;
      b -= a[2] * DQ2 + (wd[2] + gamma * w[2]) * Ds2 + 2 * w[2] * DP2;
      B[m] = b;
    }
    if (fo)
      for (PetscInt m = 0; m < M; m++) {
        const PetscScalar *w = c + m * 8 + 5, *wd = cd + m * 8 + 5;
        const PetscReal    b = B[m], Ds1 = c1 * (Sr[m] - Sl[m]), Ds2 = c2 * (Sr[m] - 2 * S[m] + Sl[m]);
        fo[m * 8 + 5] = (wd[0] + gamma * w[0]) * ik0 - fr0 * b * S[m];
        fo[m * 8 + 6] = (wd[1] + gamma * w[1]) * ik1 - fr1 * b * Ds1;
        fo[m * 8 + 7] = (wd[2] + gamma * w[2]) * ik2 - fr2 * b * Ds2;
      }
  } else {
    for (PetscInt m = 0; m < M; m++) {
      const PetscScalar *a = c + m * dof + 1, *w = c + m * dof + V + 1, *wd = cd + m * dof + V + 1;
      const PetscReal    Ds[3] = {S[m], c1 * (Sr[m] - Sl[m]), c2 * (Sr[m] - 2 * S[m] + Sl[m])};
      const PetscReal    DQ[3] = {Q[m], c1 * (Qr[m] - Ql[m]), c2 * (Qr[m] - 2 * Q[m] + Ql[m])};
      const PetscReal    DP[3] = {Pc[m], c1 * (Pr[m] - Pl[m]), c2 * (Pr[m] - 2 * Pc[m] + Pl[m])};
      const PetscReal    Vn = cd[(m + 1) * dof + V] + gamma * c[(m + 1) * dof + V], Vm = cd[m * dof + V] + gamma * c[m * dof + V];
      PetscReal          b  = (Vn - rho * Vm) * ih, W[3];
      for (PetscInt j = 0; j <= P; j++) {
        W[j] = wd[j] + gamma * w[j];
        b -= a[j] * DQ[j] + W[j] * Ds[j] + 2 * w[j] * DP[j];
      }
      B[m] = b;
      if (fo)
        for (PetscInt j = 0; j <= P; j++) fo[m * dof + V + 1 + j] = W[j] * f->ik[j] - f->fr[j] * b * Ds[j];
    }
  }
  if (fo) {
    for (PetscInt k = 0; k < NX; k++)
      for (PetscInt q = 0; q < V; q++) fo[k * dof + q] = cd[k * dof + q] - c[k * dof + V + q]; /* (z, a)' = (v, w) */
    fo[V] = cd[V] + gamma * c[V]; /* the sample is fixed inside a segment: v^(0) stays 0 */
    for (PetscInt j = 0; j <= P; j++) fo[M * dof + V + 1 + j] = cd[M * dof + V + 1 + j] + gamma * c[M * dof + V + 1 + j];
  }
}

/* R_v^(1..M) of the owned column i */
static void ColumnRv(BbdField f, const PetscScalar *u, const PetscScalar *ud, PetscInt i, PetscReal lam, PetscScalar *fo)
{
  (void)ud;
  BbdNet             net = f->net;
  const PetscInt     M = net->M, NX = M + 1, dof = f->dof, P = net->P, V = P + 2;
  const PetscReal    rho = net->rho, ih = 1.0 / net->h, c1 = 0.5 / net->dy, c2 = 1.0 / (net->dy * net->dy);
  const PetscReal   *Bl = f->wB + BbdFieldSlot(i - 1, 3) * NX, *B = f->wB + BbdFieldSlot(i, 3) * NX, *Br = f->wB + BbdFieldSlot(i + 1, 3) * NX;
  const PetscReal   *D  = f->wD + BbdFieldSlot(i, 5) * NX;
  const PetscScalar *cl = BbdFieldCol(f, u, i - 1), *c = BbdFieldCol(f, u, i), *cr = BbdFieldCol(f, u, i + 1);

  if (P == 2)
    for (PetscInt m = 1; m < M; m++) {
      const PetscInt  o = m * dof + 1;
      const PetscReal g = c[o] * B[m] - c1 * (cr[o + 1] * Br[m] - cl[o + 1] * Bl[m]) + c2 * (cr[o + 2] * Br[m] - 2 * c[o + 2] * B[m] + cl[o + 2] * Bl[m]);
      fo[m * dof + V]   = (B[m - 1] - rho * B[m]) * ih - D[m] * g;
    }
  else
    for (PetscInt m = 1; m < M; m++) {
      const PetscInt o = m * dof + 1;
      PetscReal      g = c[o] * B[m];
      if (P >= 1) g -= c1 * (cr[o + 1] * Br[m] - cl[o + 1] * Bl[m]);
      fo[m * dof + V] = (B[m - 1] - rho * B[m]) * ih - D[m] * g;
    }
  fo[M * dof + V] = B[M - 1] + net->eta * lam;
}

static PetscErrorCode IFunctionDamped(TS ts, PetscReal t, Vec U, Vec Udot, Vec F, void *ctx)
{
  PetscFunctionBeginUser;
  PetscCall(PetscLogEventBegin(BBD_FIELD_Residual, 0, 0, 0, 0));
  (void)ts;
  (void)t;
  PetscCall(BbdFieldResidualPass((BbdField)ctx, U, Udot, F, ColumnActivation, ColumnB, ColumnRv));
  PetscCall(PetscLogEventEnd(BBD_FIELD_Residual, 0, 0, 0, 0));
  PetscFunctionReturn(0);
}

/* y = P^-1 x: the momentum block by one sweep, dv = ((shift + gamma) G)^-1 x_v, then the kinematic
   rows exactly, dq = (x_q + dv)/shift. The sweep reads and writes the first P+2 dofs of a point:
   the velocity part is moved there in a work vector. */
static PetscErrorCode PCApplyDamped(PC pc, Vec x, Vec y)
{
  BbdField           f;
  PetscInt           n, V;
  const PetscScalar *xa, *oa;
  PetscScalar       *sa, *ya;
  PetscReal          iv, is;

  PetscFunctionBeginUser;
  PetscCall(PetscLogEventBegin(BBD_FIELD_PCApply, 0, 0, 0, 0));
  PetscCall(PCShellGetContext(pc, &f));
  V  = f->net->P + 2;
  iv = 1.0 / (f->shift + f->net->gamma);
  is = 1.0 / f->shift;
  PetscCall(VecGetLocalSize(x, &n)); /* the rows of the linearisation point: transposed in by BbdFieldIJacobian */
  PetscCall(VecGetArrayRead(x, &xa));
  PetscCall(VecGetArray(f->psrc, &sa));
  for (PetscInt p = 0; p < n; p += f->dof)
    for (PetscInt q = 0; q < V; q++) sa[p + q] = xa[p + V + q];
  PetscCall(VecRestoreArray(f->psrc, &sa));
  PetscCall(BbdFieldSweepSources(f, f->psrc, f->pout));
  PetscCall(VecGetArrayRead(f->pout, &oa));
  PetscCall(VecGetArray(y, &ya));
  for (PetscInt p = 0; p < n; p += f->dof)
    for (PetscInt q = 0; q < V; q++) {
      const PetscReal dv = iv * oa[p + q];
      ya[p + V + q]      = dv;
      ya[p + q]          = is * (xa[p + q] + dv);
    }
  PetscCall(VecRestoreArray(y, &ya));
  PetscCall(VecRestoreArrayRead(f->pout, &oa));
  PetscCall(VecRestoreArrayRead(x, &xa));
  PetscCall(PetscLogEventEnd(BBD_FIELD_PCApply, 0, 0, 0, 0));
  PetscFunctionReturn(0);
}

/* the time-stepper of the damped residual formulation: IFunction, matrix-free or assembled Jacobian,
   the preconditioner above (a user's -pc_type wins with the assembled one); default -ts_type beuler */
PetscErrorCode BbdFieldDampedResidualSetTS(BbdField f, TS ts, PetscReal *dt0)
{
  const PetscInt NX = f->net->M + 1;

  PetscFunctionBeginUser;
  if (!f->wP) {
    PetscCall(PetscMalloc2(5 * NX, &f->wP, NX, &f->wC));
    PetscCall(VecDuplicate(f->U, &f->psrc));
    PetscCall(VecDuplicate(f->U, &f->pout));
    PetscCall(VecSet(f->psrc, 0));
  }
  /* the Jacobian (BbdFieldIJacobian, sweep.c: the linearisation point for the preconditioner, and
     the assembled or finite-difference matrix when asked for) and the solver set-up are flow's */
  PetscCall(BbdFieldResidualSolver(f, ts, IFunctionDamped, BbdFieldIJacobian, PCApplyDamped, "BBD damped: sweep on the momentum rows ((shift + gamma) G(U))^-1, kinematic rows eliminated", dt0));
  PetscFunctionReturn(0);
}

PetscErrorCode BbdFieldDampedResidualDestroy(BbdField f)
{
  PetscFunctionBeginUser;
  PetscCall(PetscFree2(f->wP, f->wC));
  PetscCall(VecDestroy(&f->psrc));
  PetscCall(VecDestroy(&f->pout));
  PetscFunctionReturn(0);
}
