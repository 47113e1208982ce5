/* Continuum mode in residual form (bbd-field -bbd_mode continuum -bbd_formulation residual;
   docs/theory.md section 14, "Continuum mode in residual form").

   Continuum mode discretises the two ODEs in depth by Heun steps. Heun's step is not locally
   invertible for the bias rate, so beta cannot be eliminated point by point as in lattice mode:
   it is an unknown of its own, algebraic (no time derivative), stored as the last dof. With the
   rates U' and beta the residual rows are the discrete equations themselves, local on the grid:

     R_beta^M = beta_M + eta lam(Z)                                        (output boundary)
     R_beta^k = (beta_k - beta_k+1)/h - (A_k+1 beta_k+1 + A_k (beta_k+1 + h A_k+1 beta_k+1))/2
     R_a^k    = a_k'/kappa - beta_k D s_k   (a_k' for a frozen moment)
     R_z^0    = z_0'                                                        (input boundary)
     R_z^k+1  = (z_k+1' - z_k')/h - (T_k(z_k') + T_k+1(z_k' + h T_k(z_k')))/2

   with A_k beta = s_k' sum_c D_c^T (a_c,k beta) and T_k(w) = beta_k + sum_c a_c,k' D_c s_k +
   sum_c a_c,k D_c (s_k' w). They vanish exactly when beta is the Heun adjoint sweep of the state and
   U' the Heun tangent sweep, i.e. when U' is continuum mode's explicit right-hand side.
   Damped dynamics add the velocities v, w (state (z, a, v, w, beta)): kinematic rows z' - v,
   a' - w; R_w = (w' + gamma w)/kappa - beta D s; R_v^0 = v_0' + gamma v_0 and the Heun relation of
   the acceleration sweep, with the sources cR built from w' (BbdFieldContinuumDampedSources); the
   beta rows as in flow. With sample switching b is carried too: R_b = b' - beta (damped: - b_t).

   Preconditioner: the rows are linear in (U', beta) with coefficients from the state, and the
   system in those unknowns is solved exactly by the sweeps with sources (adjoint sweep from the
   output, moment rates locally, tangent sweep from the input). Dropping the dependence of the
   coefficients and of the loss gradient on the state (O(1/shift), as in lattice mode) gives the
   preconditioner: shift G^-1 for (z, a), G^-1 for beta; damped: (shift + gamma) for (v, w) and
   the kinematic rows eliminated.

   Newton's matrix is applied matrix-free, or with -snes_fd_color / -snes_fd differenced on a box
   superset of the pattern (fieldjac.c, FillBox); then any -pc_type can use it. */
#include "fieldimpl.h"
#include "residual_continuum.h"

/* beta of the state (owned rows into f->beta) */
PetscErrorCode BbdFieldCRReadBeta(BbdField f, Vec U)
{
  const PetscInt     NX = f->net->M + 1, ym = f->ym, ys = f->ys, B = f->dof - 1;
  const PetscScalar ***u;

  PetscFunctionBeginUser;
  PetscCall(DMDAVecGetArrayDOFRead(f->da, U, &u));
  for (PetscInt k = 0; k < NX; k++)
    for (PetscInt j = 0; j < ym; j++) f->beta[k * ym + j] = u[ys + j][k][B];
  PetscCall(DMDAVecRestoreArrayDOFRead(f->da, U, &u));
  PetscFunctionReturn(0);
}

/* an owned row into the ghosted work row f->rg with one ghost column each side (the stencils'
   radius; zero outside a non-periodic width) */
static PetscErrorCode Ghost1(BbdField f, const PetscReal *own)
{
  PetscReal *gh = f->rg;

  PetscFunctionBeginUser;
  PetscCall(PetscArraycpy(gh + f->ys - f->gys, own, f->ym));
  PetscCall(BbdFieldExchangeGhosts(f, 1, &gh, 1));
  BbdFieldZeroOutside(f, gh);
  PetscFunctionReturn(0);
}

/* the adjoint's right-hand side at depth k on the owned columns: g = A_k beta = s' sum_c D_c^T (a_c beta) */
static PetscErrorCode AdjointRHS(BbdField f, PetscInt k, const PetscReal *beta, PetscReal *g)
{
  const PetscInt o = f->ys - f->gys;

  PetscFunctionBeginUser;
  PetscCall(Ghost1(f, beta));
  BbdFieldRowPhiT(f, k, f->rg, g);
  for (PetscInt j = 0; j < f->ym; j++) g[j] *= f->D1[k * f->gym + j + o];
  PetscFunctionReturn(0);
}

/* sum_c a_c D_c (s' w) at depth k on the owned columns (w owned) */
static PetscErrorCode PhiSigma(BbdField f, PetscInt k, const PetscReal *w, PetscReal *g)
{
  const PetscInt o = f->ys - f->gys;
  PetscReal     *pw = f->rc + 4 * f->ym;

  PetscFunctionBeginUser;
  for (PetscInt j = 0; j < f->ym; j++) pw[j] = f->D1[k * f->gym + j + o] * w[j];
  PetscCall(Ghost1(f, pw));
  BbdFieldRowPhi(f, k, f->rg, g);
  PetscFunctionReturn(0);
}

/* the tangent's right-hand side T_k(w) = beta_k + sum_c a_c' D_c s + sum_c a_c D_c (s' w), with beta
   in f->beta and a' in f->dar (owned) */
static PetscErrorCode TangentRHS(BbdField f, PetscInt k, const PetscReal *w, PetscReal *g)
{
  BbdNet         net = f->net;
  const PetscInt NX = net->M + 1, ym = f->ym, P = net->P;

  PetscFunctionBeginUser;
  PetscCall(PhiSigma(f, k, w, g));
  for (PetscInt j = 0; j < ym; j++) {
    PetscReal D[3];
    Ds(f, k, j, D);
    g[j] += f->beta[k * ym + j];
    for (PetscInt c = 0; c <= P; c++) g[j] += f->dar[(c * NX + k) * ym + j] * D[c];
  }
  PetscFunctionReturn(0);
}

/* the damped acceleration sweep's right-hand side cR_k + sum_c a_c D_c (s' q) (cR ghosted rows) */
static PetscErrorCode DampedTangentRHS(BbdField f, PetscInt k, const PetscReal *q, PetscReal *g)
{
  const PetscInt o = f->ys - f->gys;

  PetscFunctionBeginUser;
  PetscCall(PhiSigma(f, k, q, g));
  for (PetscInt j = 0; j < f->ym; j++) g[j] += f->cR[k * f->gym + j + o];
  PetscFunctionReturn(0);
}

/* The beta rows: out[k * ym + j] = R_beta^k of the rows in b (f->beta or sources), lam = -eta lam(Z) or NULL */
PetscErrorCode BbdFieldCRBetaRows(BbdField f, const PetscReal *b, const PetscReal *lam, PetscReal *out)
{
  const PetscInt  M = f->net->M, ym = f->ym;
  const PetscReal h = f->net->h;
  PetscReal      *g1 = f->rc, *g2 = f->rc + ym;

  PetscFunctionBeginUser;
  for (PetscInt j = 0; j < ym; j++) out[M * ym + j] = b[M * ym + j] - (lam ? lam[j] : 0);
  for (PetscInt k = M - 1; k >= 0; k--) {
    PetscCall(AdjointRHS(f, k + 1, b + (k + 1) * ym, g1));
    for (PetscInt j = 0; j < ym; j++) g2[j] = b[(k + 1) * ym + j] + h * g1[j];
    PetscCall(AdjointRHS(f, k, g2, g2));
    for (PetscInt j = 0; j < ym; j++) out[k * ym + j] = (b[k * ym + j] - b[(k + 1) * ym + j]) / h - 0.5 * (g1[j] + g2[j]);
  }
  PetscFunctionReturn(0);
}

/* The adjoint sweep with sources r (R_beta = r solved for beta): into f->beta */
static PetscErrorCode BetaSweep(BbdField f, const PetscReal *r)
{
  const PetscInt  M = f->net->M, ym = f->ym;
  const PetscReal h = f->net->h;
  PetscReal      *b = f->beta, *g1 = f->rc, *g2 = f->rc + ym;

  PetscFunctionBeginUser;
  PetscCall(PetscLogEventBegin(BBD_FIELD_SweepBackward, 0, 0, 0, 0));
  for (PetscInt j = 0; j < ym; j++) b[M * ym + j] = r[M * ym + j];
  for (PetscInt k = M - 1; k >= 0; k--) {
    PetscCall(AdjointRHS(f, k + 1, b + (k + 1) * ym, g1));
    for (PetscInt j = 0; j < ym; j++) g2[j] = b[(k + 1) * ym + j] + h * g1[j];
    PetscCall(AdjointRHS(f, k, g2, g2));
    for (PetscInt j = 0; j < ym; j++) b[k * ym + j] = b[(k + 1) * ym + j] + 0.5 * h * (g1[j] + g2[j]) + h * r[k * ym + j];
  }
  PetscCall(PetscLogEventEnd(BBD_FIELD_SweepBackward, 0, 0, 0, 0));
  PetscFunctionReturn(0);
}

/* Heun relation of a tangent-type sweep: out[k] = R^k of the rows w (k >= 1; out[0] untouched),
   with the right-hand side rhs(k, w) (flow: T_k, damped: the acceleration sweep's) */
PetscErrorCode BbdFieldCRTangentRows(BbdField f, BbdFieldCRTangentFn rhs, const PetscReal *w, PetscReal *out)
{
  const PetscInt  M = f->net->M, ym = f->ym;
  const PetscReal h = f->net->h;
  PetscReal      *t1 = f->rc, *q = f->rc + ym, *t2 = f->rc + 2 * ym;

  PetscFunctionBeginUser;
  for (PetscInt k = 0; k < M; k++) {
    PetscCall(rhs(f, k, w + k * ym, t1));
    for (PetscInt j = 0; j < ym; j++) q[j] = w[k * ym + j] + h * t1[j];
    PetscCall(rhs(f, k + 1, q, t2));
    for (PetscInt j = 0; j < ym; j++) out[(k + 1) * ym + j] = (w[(k + 1) * ym + j] - w[k * ym + j]) / h - 0.5 * (t1[j] + t2[j]);
  }
  PetscFunctionReturn(0);
}

/* the same relation solved with sources r (w[0] = r[0] given): into w */
static PetscErrorCode TangentSweep(BbdField f, BbdFieldCRTangentFn rhs, const PetscReal *r, PetscReal *w)
{
  const PetscInt  M = f->net->M, ym = f->ym;
  const PetscReal h = f->net->h;
  PetscReal      *t1 = f->rc, *q = f->rc + ym, *t2 = f->rc + 2 * ym;

  PetscFunctionBeginUser;
  PetscCall(PetscLogEventBegin(BBD_FIELD_SweepForward, 0, 0, 0, 0));
  for (PetscInt j = 0; j < ym; j++) w[j] = r[j];
  for (PetscInt k = 0; k < M; k++) {
    PetscCall(rhs(f, k, w + k * ym, t1));
    for (PetscInt j = 0; j < ym; j++) q[j] = w[k * ym + j] + h * t1[j];
    PetscCall(rhs(f, k + 1, q, t2));
    for (PetscInt j = 0; j < ym; j++) w[(k + 1) * ym + j] = w[k * ym + j] + 0.5 * h * (t1[j] + t2[j]) + h * r[(k + 1) * ym + j];
  }
  PetscCall(PetscLogEventEnd(BBD_FIELD_SweepForward, 0, 0, 0, 0));
  PetscFunctionReturn(0);
}

PetscErrorCode BbdFieldCRIFunction(TS ts, PetscReal t, Vec U, Vec Udot, Vec F, void *ctx)
{
  BbdField           f   = (BbdField)ctx;
  BbdNet             net = f->net;
  const PetscInt     M = net->M, NX = M + 1, P = net->P, ys = f->ys, ym = f->ym, o = ys - f->gys, B = f->dof - 1, V = P + 2;
  const PetscReal    gamma = net->gamma;
  const PetscScalar ***u, ***ud;
  PetscScalar     ***fa;
  PetscReal         *lam = f->rc + 3 * ym, *Rb = f->rrows, *Rz = f->rrows + NX * ym, *zd = f->zdot, *ad = f->dar;

  PetscFunctionBeginUser;
  PetscCall(PetscLogEventBegin(BBD_FIELD_Residual, 0, 0, 0, 0));
  (void)ts;
  (void)t;
  f->lin_in = PETSC_FALSE;
  PetscCall(BbdFieldTransposeIn(f, U));
  PetscCall(BbdFieldCRReadBeta(f, U));
  PetscCall(DMDAVecGetArrayDOFRead(f->da, U, &u));
  PetscCall(DMDAVecGetArrayDOFRead(f->da, Udot, &ud));
  /* the rates the sweeps act on: z' and a' (damped: v' and w') */
  for (PetscInt k = 0; k < NX; k++)
    for (PetscInt j = 0; j < ym; j++) {
      zd[k * ym + j] = ud[ys + j][k][f->damped ? V : 0];
      for (PetscInt c = 0; c <= P; c++) ad[(c * NX + k) * ym + j] = ud[ys + j][k][(f->damped ? V : 0) + 1 + c];
    }
  PetscCall(BbdFieldOutputGradient(f, f->zr + M * f->gym + o, lam));
  for (PetscInt j = 0; j < ym; j++) lam[j] *= -net->eta;
  PetscCall(BbdFieldCRBetaRows(f, f->beta, lam, Rb));
  if (f->damped) {
    for (PetscInt k = 0; k < NX; k++) /* beta where the sources read it */
      for (PetscInt j = 0; j < ym; j++) f->bg[k * f->gym + j + o] = f->beta[k * ym + j];
    PetscCall(BbdFieldContinuumDampedSources(f, 0, PETSC_TRUE)); /* cR with w_t = w' */
    PetscCall(BbdFieldCRTangentRows(f, DampedTangentRHS, zd, Rz));
  } else PetscCall(BbdFieldCRTangentRows(f, TangentRHS, zd, Rz));
  PetscCall(DMDAVecGetArrayDOF(f->da, F, &fa));
  for (PetscInt j = 0; j < ym; j++)
    for (PetscInt k = 0; k < NX; k++) {
      const PetscScalar *uu = u[ys + j][k], *uud = ud[ys + j][k];
      PetscScalar       *ff = fa[ys + j][k];
      PetscReal          D[3];
      Ds(f, k, j, D);
      ff[B] = Rb[k * ym + j];
      if (f->bi >= 0) ff[f->bi] = uud[f->bi] - (f->damped ? f->cB[k * ym + j] : f->beta[k * ym + j]); /* b carried for sample switching: b' = b_t */
      if (!f->damped) {
        ff[0] = k ? Rz[k * ym + j] : uud[0];
        for (PetscInt c = 0; c <= P; c++) ff[1 + c] = net->kappa[c] > 0 ? uud[1 + c] / net->kappa[c] - f->beta[k * ym + j] * D[c] : uud[1 + c];
      } else {
        ff[0] = uud[0] - uu[V];
        ff[V] = k ? Rz[k * ym + j] : uud[V] + gamma * uu[V];
        for (PetscInt c = 0; c <= P; c++) {
          const PetscReal A = uud[V + 1 + c] + gamma * uu[V + 1 + c];
          ff[1 + c]         = uud[1 + c] - uu[V + 1 + c];
          ff[V + 1 + c]     = net->kappa[c] > 0 ? A / net->kappa[c] - f->beta[k * ym + j] * D[c] : A;
        }
      }
    }
  PetscCall(DMDAVecRestoreArrayDOF(f->da, F, &fa));
  PetscCall(DMDAVecRestoreArrayDOFRead(f->da, U, &u));
  PetscCall(DMDAVecRestoreArrayDOFRead(f->da, Udot, &ud));
  PetscCall(PetscLogEventEnd(BBD_FIELD_Residual, 0, 0, 0, 0));
  PetscFunctionReturn(0);
}

/* y = (the residual's linear part at the linearisation point)^-1 x, by the sweeps with sources */
PetscErrorCode BbdFieldCRPCApply(PC pc, Vec x, Vec y)
{
  BbdField           f;
  BbdNet             net;
  PetscInt           M, NX, P, ys, ym, B, V;
  PetscReal          s1, s2;
  const PetscScalar ***r;
  PetscScalar     ***ya;
  PetscReal         *rb, *rz, *zd, *ad;

  PetscFunctionBeginUser;
  PetscCall(PetscLogEventBegin(BBD_FIELD_PCApply, 0, 0, 0, 0));
  PetscCall(PCShellGetContext(pc, &f));
  net = f->net;
  M = net->M, NX = M + 1, P = net->P, ys = f->ys, ym = f->ym, B = f->dof - 1, V = f->damped ? P + 2 : 0;
  s1 = f->shift, s2 = f->shift + (f->damped ? net->gamma : 0);
  rb = f->rrows, rz = f->rrows + NX * ym, zd = f->zdot, ad = f->dar;
  if (!f->lin_in) { /* the rows of the linearisation point (the residual evaluations in between replace them) */
    PetscCall(BbdFieldTransposeIn(f, f->Ulin));
    f->lin_in = PETSC_TRUE;
  }
  PetscCall(DMDAVecGetArrayDOFRead(f->da, x, &r));
  for (PetscInt k = 0; k < NX; k++)
    for (PetscInt j = 0; j < ym; j++) {
      rb[k * ym + j] = r[ys + j][k][B];
      rz[k * ym + j] = r[ys + j][k][V];
    }
  PetscCall(BetaSweep(f, rb)); /* delta beta into f->beta */
  for (PetscInt k = 0; k < NX; k++) /* (shift [+ gamma]) delta a (damped: delta w) */
    for (PetscInt j = 0; j < ym; j++) {
      PetscReal D[3];
      Ds(f, k, j, D);
      for (PetscInt c = 0; c <= P; c++) {
        const PetscReal ra = r[ys + j][k][V + 1 + c];
        ad[(c * NX + k) * ym + j] = net->kappa[c] > 0 ? net->kappa[c] * (ra + f->beta[k * ym + j] * D[c]) : ra;
      }
    }
  PetscCall(TangentSweep(f, TangentRHS, rz, zd)); /* (shift [+ gamma]) delta z (damped: delta v) */
  PetscCall(DMDAVecGetArrayDOF(f->da, y, &ya));
  for (PetscInt j = 0; j < ym; j++)
    for (PetscInt k = 0; k < NX; k++) {
      PetscScalar *yy = ya[ys + j][k];
      yy[B]           = f->beta[k * ym + j];
      if (f->bi >= 0) yy[f->bi] = (r[ys + j][k][f->bi] + (f->damped ? 0 : f->beta[k * ym + j])) / s1; /* damped: b_t's dependence on (v, w) dropped */
      yy[V]           = zd[k * ym + j] / s2;
      for (PetscInt c = 0; c <= P; c++) yy[V + 1 + c] = ad[(c * NX + k) * ym + j] / s2;
      if (f->damped) { /* the kinematic rows eliminated: shift dq - dp = r_q */
        yy[0] = (r[ys + j][k][0] + yy[V]) / s1;
        for (PetscInt c = 0; c <= P; c++) yy[1 + c] = (r[ys + j][k][1 + c] + yy[V + 1 + c]) / s1;
      }
    }
  PetscCall(DMDAVecRestoreArrayDOF(f->da, y, &ya));
  PetscCall(DMDAVecRestoreArrayDOFRead(f->da, x, &r));
  PetscCall(PetscLogEventEnd(BBD_FIELD_PCApply, 0, 0, 0, 0));
  PetscFunctionReturn(0);
}

/* beta of the state U (width-only layout) set to the adjoint sweep of its z, a: the algebraic rows hold */
PetscErrorCode BbdFieldContinuumResidualConsistent(BbdField f, Vec U)
{
  const PetscInt NX = f->net->M + 1, ym = f->ym, ys = f->ys, B = f->dof - 1;
  PetscScalar ***u;
  Vec            F;

  PetscFunctionBeginUser;
  PetscCall(VecDuplicate(U, &F));
  PetscCall(BbdFieldRHSContinuum(NULL, 0, U, F, f)); /* f->beta */
  PetscCall(VecDestroy(&F));
  PetscCall(DMDAVecGetArrayDOF(f->da, U, &u));
  for (PetscInt k = 0; k < NX; k++)
    for (PetscInt j = 0; j < ym; j++) u[ys + j][k][B] = f->beta[k * ym + j];
  PetscCall(DMDAVecRestoreArrayDOF(f->da, U, &u));
  PetscFunctionReturn(0);
}
