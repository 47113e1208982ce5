static const char help[] = "t501: the sweep preconditioner of bbd-field's lattice residual formulation is the exact\n\
inverse of the operator it claims (docs/theory.md section 14).\n";

/* The residual F(U, U') of the lattice residual formulation is affine in U', so the operator
   G(U) = dF/dU' is E(x) = F(U, x) - F(U, 0), two evaluations of the TS's IFunction (no Jacobian
   code involved). The preconditioner (the PC of the TS's SNES, set up by the TS's IJacobian at
   the linearisation point U with the shift) claims to invert, exactly, by one sweep:
     flow:   P = shift G(U);
     damped: unknowns (q, p) = ((z, a_j), their velocities (v, w_j)) per point, and
             P = [[shift I, -I], [0, (shift + gamma) G_mom(U)]], with G_mom = dR_mom/dp' the
             momentum rows' part of E, the kinematic rows q' - p eliminated exactly.
   For random x, y = P x (from E) and z = PC(y):
   - exactness (the backward error): |P z - y| <= 1e-13 |y| (max norms). Only the rounding of
     the residual's evaluation remains: observed at most 6e-16. An inexact inverse leaves its
     own error here (a factor 1.01 planted in one source term of the sweep gives ~1e-3).
   - the forward error: |z - x| <= eps cond(P) |x|, cond(P) = ||P||_inf ||P^-1||_inf computed
     column by column (P e_j from residuals, P^-1 e_j by the PC). P is badly conditioned
     (cond 3e4 to 1.1e7 here: rows from shift/kappa_j to shift/h^2, the moment stencils'
     1/dy^2 = 36), so x itself comes back only to about 1e-12 (observed at most 0.005 of
     eps cond(P)), which is rounding, not an error of the sweep.
   Checked on depth 4 x width 6 at a state moved from the initial one by 0.05 in every unknown
   (the forward map stays stable): flow and damped, periodic and zero-padded width, mixed
   activations, a frozen moment (kappa_1 = 0), mse and ce, shifts 100 and 3.7, with the
   matrix-free Newton operator and with -bbd_jacobian assembled; on 2 ranks also
   with -bbd_sweep_ghost 1, 2 and the default 3, and the depth split -da_processors_x 2 (the TS
   layout differs from the sweeps'). -view prints the figures. */
#include "fieldtest.h"

static PetscBool view; /* -view: print the figures */

/* y = P x at the linearisation point U (F0 = F(U, 0); work: F1, xp) from residual evaluations */
static PetscErrorCode ApplyP(FieldTest *t, Vec U, Vec F0, PetscReal shift, PetscReal gamma, PetscBool damped, Vec x, Vec y, Vec F1, Vec xp)
{
  PetscFunctionBeginUser;
  PetscCall(FieldTestResidual(t, U, x, F1));
  PetscCall(VecWAXPY(y, -1, F0, F1)); /* E(x) = G(U) x */
  PetscCall(VecScale(y, shift));
  if (damped) { /* y += [-x_p on the q rows; gamma G_mom x_p on the p rows] */
    const PetscInt     V = t->dof / 2;
    PetscScalar       *a, *ya;
    const PetscScalar *xa;
    PetscInt           nl;
    PetscCall(VecCopy(x, xp)); /* x_p: x with its q part zeroed */
    PetscCall(VecGetLocalSize(xp, &nl));
    PetscCall(VecGetArray(xp, &a));
    for (PetscInt i = 0; i < nl; i += t->dof)
      for (PetscInt q = 0; q < V; q++) a[i + q] = 0;
    PetscCall(VecRestoreArray(xp, &a));
    PetscCall(FieldTestResidual(t, U, xp, F1));
    PetscCall(VecAXPY(F1, -1, F0)); /* [0; G_mom x_p] (the kinematic rows see only q') */
    PetscCall(VecAXPY(y, gamma, F1));
    PetscCall(VecGetArrayRead(x, &xa));
    PetscCall(VecGetArray(y, &ya));
    for (PetscInt i = 0; i < nl; i += t->dof)
      for (PetscInt q = 0; q < V; q++) ya[i + q] -= xa[i + V + q];
    PetscCall(VecRestoreArray(y, &ya));
    PetscCall(VecRestoreArrayRead(x, &xa));
  }
  PetscFunctionReturn(0);
}

/* the condition number ||P||_inf ||P^-1||_inf, column by column (P e_j by residuals, P^-1 e_j by the PC) */
static PetscErrorCode Condition(FieldTest *t, Vec U, Vec F0, PetscReal shift, PetscReal gamma, PetscBool damped, PetscReal *cond)
{
  Vec       e, c, F1, xp, rp, ri;
  PetscInt  lo, hi, n;
  PetscReal np, ni;

  PetscFunctionBeginUser;
  PetscCall(VecDuplicate(U, &e));
  PetscCall(VecDuplicate(U, &c));
  PetscCall(VecDuplicate(U, &F1));
  PetscCall(VecDuplicate(U, &xp));
  PetscCall(VecDuplicate(U, &rp));
  PetscCall(VecDuplicate(U, &ri));
  PetscCall(VecZeroEntries(rp));
  PetscCall(VecZeroEntries(ri));
  PetscCall(VecGetOwnershipRange(U, &lo, &hi));
  PetscCall(VecGetSize(U, &n));
  for (PetscInt j = 0; j < n; j++) {
    PetscCall(VecZeroEntries(e));
    if (j >= lo && j < hi) PetscCall(VecSetValue(e, j, 1, INSERT_VALUES));
    PetscCall(VecAssemblyBegin(e));
    PetscCall(VecAssemblyEnd(e));
    PetscCall(ApplyP(t, U, F0, shift, gamma, damped, e, c, F1, xp));
    PetscCall(VecAbs(c));
    PetscCall(VecAXPY(rp, 1, c)); /* row sums of |P| */
    PetscCall(PCApply(t->pc, e, c));
    PetscCall(VecAbs(c));
    PetscCall(VecAXPY(ri, 1, c)); /* row sums of |P^-1| */
  }
  PetscCall(VecNorm(rp, NORM_INFINITY, &np));
  PetscCall(VecNorm(ri, NORM_INFINITY, &ni));
  *cond = np * ni;
  PetscCall(VecDestroy(&e));
  PetscCall(VecDestroy(&c));
  PetscCall(VecDestroy(&F1));
  PetscCall(VecDestroy(&xp));
  PetscCall(VecDestroy(&rp));
  PetscCall(VecDestroy(&ri));
  PetscFunctionReturn(0);
}

static PetscErrorCode CheckSweep(const char *opts, PetscReal shift, PetscBool damped)
{
  FieldTest t;
  Vec       U, Ud, x, y, z, Pz, F0, F1, xp;
  PetscReal gamma = 0, fwd, bwd, xmax, ymax, cond = 0;

  PetscFunctionBeginUser;
  PetscCall(FieldTestCreate(opts, &t));
  PetscCall(PetscOptionsGetReal(NULL, NULL, "-bbd_gamma", &gamma, NULL));
  PetscCall(FieldTestState(&t, 0.05, 11, &U));
  PetscCall(FieldTestRandom(&t, 12, &Ud));
  PetscCall(FieldTestRandom(&t, 13, &x));
  PetscCall(VecDuplicate(U, &y));
  PetscCall(VecDuplicate(U, &z));
  PetscCall(VecDuplicate(U, &Pz));
  PetscCall(VecDuplicate(U, &F0));
  PetscCall(VecDuplicate(U, &F1));
  PetscCall(VecDuplicate(U, &xp));
  PetscCall(FieldTestJacobian(&t, U, Ud, shift)); /* the linearisation point and shift */
  PetscCall(VecZeroEntries(z));
  PetscCall(FieldTestResidual(&t, U, z, F0));
  PetscCall(ApplyP(&t, U, F0, shift, gamma, damped, x, y, F1, xp));
  PetscCall(PCApply(t.pc, y, z));
  PetscCall(ApplyP(&t, U, F0, shift, gamma, damped, z, Pz, F1, xp));
  PetscCall(FieldTestDiff(z, x, &fwd, &xmax));
  PetscCall(FieldTestDiff(Pz, y, &bwd, &ymax));
  PetscCall(Condition(&t, U, F0, shift, gamma, damped, &cond));
  CHECK(bwd <= 1e-13 * ymax, "%s, shift %g: the sweep preconditioner does not invert P: |P z - y| = %.3e of |y| for z = PC(y)", opts, (double)shift, (double)(bwd / ymax));
  CHECK(fwd <= PETSC_MACHINE_EPSILON * cond * xmax, "%s, shift %g: PC(P x) = x only to %.3e relative, more than eps cond(P) = %.3e", opts, (double)shift, (double)(fwd / xmax), (double)(PETSC_MACHINE_EPSILON * cond));
  if (view) PetscCall(PetscPrintf(PETSC_COMM_WORLD, "%s, shift %g: |P z - y|/|y| %.3e, |z - x|/|x| %.3e, cond_inf(P) %.2e, |z - x|/|x|/(eps cond) %.4f\n", opts, (double)shift, (double)(bwd / ymax), (double)(fwd / xmax), (double)cond, (double)(fwd / xmax / (PETSC_MACHINE_EPSILON * cond))));
  PetscCall(VecDestroy(&U));
  PetscCall(VecDestroy(&Ud));
  PetscCall(VecDestroy(&x));
  PetscCall(VecDestroy(&y));
  PetscCall(VecDestroy(&z));
  PetscCall(VecDestroy(&Pz));
  PetscCall(VecDestroy(&F0));
  PetscCall(VecDestroy(&F1));
  PetscCall(VecDestroy(&xp));
  PetscCall(FieldTestDestroy(&t));
  PetscFunctionReturn(0);
}

int main(int argc, char **argv)
{
  const char *const nets[] = {
    "-bbd_kappa 1,0.5,0.25",
    "-bbd_periodic 0 -bbd_kappa 1,0.3,0.2 -bbd_activation sin,softplus,gelu,tanh",
    "-bbd_kappa 1,0,0.1 -bbd_activation erf,swish,sigmoid,tanh -bbd_loss ce",
    "-bbd_periodic 0 -bbd_loss ce",
    "-bbd_kappa 1,0.5,0.25 -bbd_jacobian assembled", /* the PC after the analytic Jacobian's assembly */
  };
  const char *const layouts2[] = {"", "-bbd_sweep_ghost 1", "-bbd_sweep_ghost 2", "-da_processors_x 2 -da_processors_y 1"};
  const PetscReal   shifts[]   = {100, 3.7};
  PetscMPIInt       size;
  char              opts[1024];

  PetscCall(PetscInitialize(&argc, &argv, NULL, help));
  PetscCallMPI(MPI_Comm_size(PETSC_COMM_WORLD, &size));
  PetscCall(PetscOptionsHasName(NULL, NULL, "-view", &view));
  for (size_t c = 0; c < sizeof(nets) / sizeof(nets[0]); c++)
    for (int d = 0; d < 2; d++)
      for (size_t l = 0; l < (size > 1 ? sizeof(layouts2) / sizeof(layouts2[0]) : 1); l++)
        for (size_t s = 0; s < 2; s++) {
          PetscCall(PetscSNPrintf(opts, sizeof(opts), "-bbd_quiet -bbd_depth 4 -bbd_width 6 -bbd_formulation residual -bbd_dynamics %s -bbd_gamma 1.5 %s %s", d ? "damped" : "flow", nets[c], layouts2[l]));
          PetscCall(CheckSweep(opts, shifts[s], (PetscBool)d));
        }
  PetscCall(PetscFinalize());
  return nfail ? 1 : 0;
}
