/* The assembled analytic Jacobian of the DAMPED residual formulation (-bbd_dynamics damped
   -bbd_formulation residual -bbd_jacobian assembled; docs/theory.md section 14, "The Jacobian of
   the damped residual"): J = shift dR/dU' + dR/dU for residual_damped.c's residual with
   U = (z, a_0..a_P, v, w_0..w_P) per point,
     R_z = z' - v,  R_a = a' - w,  R_v^(0) = V'^(0),
     R_v^(m) = (B^(m-1) - rho B^(m))/h - s' .* sum_j D_j^T(a_j B^(m)),  R_v^(M) = B^(M-1) + eta lam(Z),
     R_w^(m) = W_j/kappa_j - B^(m) .* D_j s   (W_j for a frozen moment and at k = M),
     B^(m) = (V'^(m+1) - rho V'^(m))/h - sum_j [W_j D_j s + a_j D_j Q + 2 w_j D_j Pv],
   with V' = v' + gamma v, W_j = w_j' + gamma w_j, Q = s' V' + s'' v^2, Pv = s' v (s, s', s'' of z^(m)).
   The momentum rows are the flow Jacobian's (fieldjac.c) with beta -> B, their rows and the
   columns of z' -> v; B's derivative differs from beta's (the shift enters with gamma, and the
   velocity-squared terms bring sigma''' through d Q/dz). The stencil (width radius 2, depth radius
   1), the radius-2 ghosted grid f->da2, the exact MATPREALLOCATOR preallocation and the matrix
   itself are fieldjac.c's (BbdFieldJacobianCreate/Assemble call BbdFieldJacFillDamped). */
#include "fieldjac.h"

/* Q = s' V' + s'' v^2 at depth m, ghosted width jj (zero outside a non-periodic width: s' = s'' = 0 there) */
static inline PetscReal Qd(BbdField f, const JacCtx *J, const PetscScalar ***u, const PetscScalar ***ud, PetscInt m, PetscInt jj)
{
  const PetscInt  V = f->net->P + 2, w = J->gys + jj, o = m * J->gym + jj;
  const PetscReal v = u[w][m][V];

  return J->d[o] * (ud[w][m][V] + f->net->gamma * v) + J->e[o] * v * v;
}

/* sigma''' of z on the ghosted rows (into J->t) and B^(m) on the rows with both neighbours ghosted
   (into J->bt); s, s', s'' are BbdFieldJacLinearise's */
static PetscErrorCode LineariseDamped(BbdField f, JacCtx *J, const PetscScalar ***u, const PetscScalar ***ud)
{
  BbdNet          net = f->net;
  const PetscInt  M = net->M, NX = M + 1, N = net->n[0], P = net->P, V = P + 2, gym = J->gym, gys = J->gys;
  const PetscReal rho = net->rho, h = net->h, gamma = net->gamma;
  PetscReal       S[3][3], *z;

  PetscFunctionBeginUser;
  Stencils(net, S);
  PetscCall(PetscMalloc1(gym, &z));
  for (PetscInt k = 0; k < NX; k++) {
    for (PetscInt jj = 0; jj < gym; jj++) z[jj] = u[gys + jj][k][0];
    BbdActivationEval3(net->act[PetscMin(k, M - 1)], gym, z, J->t + k * gym);
    if (!net->periodic)
      for (PetscInt jj = 0; jj < gym; jj++)
        if (gys + jj < 0 || gys + jj >= N) J->t[k * gym + jj] = 0;
  }
  PetscCall(PetscFree(z));
  for (PetscInt m = 0; m < M; m++) {
    const PetscReal *s = J->s + m * gym, *d = J->d + m * gym;
    for (PetscInt jj = 1; jj < gym - 1; jj++) {
      const PetscInt w = gys + jj;
      PetscReal      b = (ud[w][m + 1][V] + gamma * u[w][m + 1][V] - rho * (ud[w][m][V] + gamma * u[w][m][V])) / h;
      if (!net->periodic && (w < 0 || w >= N)) {
        J->bt[m * gym + jj] = 0;
        continue;
      }
      for (PetscInt c = 0; c <= P; c++) {
        const PetscReal a = u[w][m][1 + c], wc = u[w][m][V + 1 + c], Wc = ud[w][m][V + 1 + c] + gamma * wc;
        for (PetscInt l = -1; l <= 1; l++) b -= S[c][l + 1] * (Wc * s[jj + l] + a * Qd(f, J, u, ud, m, jj + l) + 2 * wc * d[jj + l] * u[w + l][m][V]);
      }
      J->bt[m * gym + jj] = b;
    }
  }
  PetscFunctionReturn(0);
}

/* scale * (shift d B^(m)_jj / dU' + d B^(m)_jj / dU) into the row buffer (jj ghosted). With
   sg = shift + gamma, Wa_l = sum_c a_c S_c[l], Ww_l = sum_c w_c S_c[l], Wt_l = sum_c W_c S_c[l]
   (at jj) and x = jj + l:
     v^(m+1)_jj: sg/h
     v^(m)_x:    sg (-rho/h [l = 0] - Wa_l s'_x) - 2 Wa_l s''_x v_x - 2 Ww_l s'_x
     z^(m)_x:    -Wt_l s'_x - Wa_l (s''_x V'_x + s'''_x v_x^2) - 2 Ww_l s''_x v_x
     a_c^(m)_jj: -(D_c Q)_jj
     w_c^(m)_jj: -sg (D_c s)_jj - 2 (D_c (s' v))_jj */
static void AddB(BbdField f, JacCtx *J, const PetscScalar ***u, const PetscScalar ***ud, PetscInt m, PetscInt jj, PetscReal shift, PetscReal scale)
{
  BbdNet           net = f->net;
  const PetscInt   P = net->P, V = P + 2, gym = J->gym, i = J->gys + jj;
  const PetscReal  rho = net->rho, h = net->h, gamma = net->gamma, sg = shift + gamma;
  const PetscReal *s = J->s + m * gym, *d = J->d + m * gym, *e = J->e + m * gym, *t = J->t + m * gym;
  PetscReal        S[3][3];

  Stencils(net, S);
  Add(J, Col(f, m + 1, i, V), scale * sg / h);
  for (PetscInt l = -1; l <= 1; l++) {
    const PetscInt  x = jj + l;
    const PetscReal v = u[i + l][m][V], Vp = ud[i + l][m][V] + gamma * v;
    PetscReal       Wa = 0, Ww = 0, Wt = 0;
    if (Col(f, m, i + l, 0) < 0) continue;
    for (PetscInt c = 0; c <= P; c++) {
      Wa += u[i][m][1 + c] * S[c][l + 1];
      Ww += u[i][m][V + 1 + c] * S[c][l + 1];
      Wt += (ud[i][m][V + 1 + c] + gamma * u[i][m][V + 1 + c]) * S[c][l + 1];
    }
    Add(J, Col(f, m, i + l, V), scale * (sg * ((l == 0 ? -rho / h : 0) - Wa * d[x]) - 2 * Wa * e[x] * v - 2 * Ww * d[x]));
    Add(J, Col(f, m, i + l, 0), scale * (-Wt * d[x] - Wa * (e[x] * Vp + t[x] * v * v) - 2 * Ww * e[x] * v));
  }
  for (PetscInt c = 0; c <= P; c++) {
    PetscReal Ds = 0, DQ = 0, DP = 0;
    for (PetscInt l = -1; l <= 1; l++) {
      Ds += S[c][l + 1] * s[jj + l];
      DQ += S[c][l + 1] * Qd(f, J, u, ud, m, jj + l);
      DP += S[c][l + 1] * d[jj + l] * u[i + l][m][V];
    }
    Add(J, Col(f, m, i, 1 + c), scale * -DQ);
    Add(J, Col(f, m, i, V + 1 + c), scale * (-sg * Ds - 2 * DP));
  }
}

/* insert every row of J = shift dR/dU' + dR/dU (the same entries whatever the values: the dry run
   into the preallocator and the assembly share it) */
PetscErrorCode BbdFieldJacFillDamped(BbdField f, JacCtx *J, Vec U, Vec Udot, PetscReal shift, Mat A)
{
  BbdNet             net = f->net;
  const PetscInt     M = net->M, P = net->P, V = P + 2;
  const PetscReal    sg = shift + net->gamma;
  const PetscScalar ***u, ***ud;

  PetscFunctionBeginUser;
  PetscCall(BbdFieldJacLinearise(f, J, U, Udot, &u, &ud)); /* s, s', s'', the softmax of Z */
  PetscCall(LineariseDamped(f, J, u, ud));                 /* s''', B */
  for (PetscInt j = f->ys; j < f->ys + f->ym; j++) {
    const PetscInt jj = j - J->gys;
    /* kinematic rows R_z = z' - v, R_a = a' - w at every depth */
    for (PetscInt k = 0; k <= M; k++)
      for (PetscInt q = 0; q < V; q++) {
        Add(J, Col(f, k, j, q), shift);
        Add(J, Col(f, k, j, V + q), -1);
        PetscCall(FlushRow(f, J, A, Col(f, k, j, q)));
      }
    /* momentum rows of v */
    Add(J, Col(f, 0, j, V), sg); /* R_v^(0) = v' + gamma v */
    PetscCall(FlushRow(f, J, A, Col(f, 0, j, V)));
    for (PetscInt m = 1; m < M; m++) PetscCall(AddBulkRow(f, J, u, ud, m, j, jj, V, shift, AddB, A));
    AddB(f, J, u, ud, M - 1, jj, shift, 1); /* R_v^(M) = B^(M-1) + eta lam(Z) */
    AddLossHessian(f, J, j);
    PetscCall(FlushRow(f, J, A, Col(f, M, j, V)));
    PetscCall(AddMomentRows(f, J, u, ud, j, jj, V, sg, shift, AddB, A));
  }
  PetscCall(DMDAVecRestoreArrayDOFRead(f->da2, f->U2loc, &u));
  PetscCall(DMDAVecRestoreArrayDOFRead(f->da2, f->Ud2loc, &ud));
  PetscCall(MatAssemblyBegin(A, MAT_FINAL_ASSEMBLY));
  PetscCall(MatAssemblyEnd(A, MAT_FINAL_ASSEMBLY));
  PetscFunctionReturn(0);
}
