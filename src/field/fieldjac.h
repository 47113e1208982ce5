/* Private helpers of the assembled Jacobians of the residual formulation, shared by the flow
   Jacobian (fieldjac.c) and the damped one (fieldjac_damped.c): the linearisation-point context,
   global column numbering, stencil weights and the row buffer (sorted and merged by FlushRow). */
#ifndef FIELDJAC_H
#define FIELDJAC_H
#include "fieldimpl.h"
#include "core/lossimpl.h"

typedef struct _n_BbdJacCtx {
  PetscInt     gys, gym;       /* ghosted width range of f->da2 (width-stencil radius 2: ghosts of beta's neighbours; residual.c) */
  PetscReal   *s, *d, *e, *bt; /* [NX][gym]: sigma, sigma', sigma'' of z (zero outside a non-periodic width), beta (damped: B) */
  PetscReal   *t;              /* [NX][gym]: sigma''' of z (damped only) */
  PetscReal   *q;              /* [N + 1] the loss's Hessian state at the output row (BbdLossOps.linearise; ce, kl: softmax, sum Y) */
  PetscInt    *cols;           /* one row's columns and values */
  PetscScalar *vals;
  PetscInt     n, cap;
  PetscInt    *win, *out;      /* -da_processors_x > 1: the TS layout's index of natural ones: widths ys-2 .. ys+ym+1 (nwin of them), the output row (all widths) */
  PetscInt     nwin, wstart;
} JacCtx;

/* the global column of (depth k, width i, component c); -1 outside a non-periodic width */
static inline PetscInt Col(BbdField f, PetscInt k, PetscInt i, PetscInt c)
{
  const PetscInt N = f->net->n[0];

  if (i < 0 || i >= N) {
    if (!f->net->periodic) return -1;
    i = ((i % N) + N) % N;
  }
  return (i * (f->net->M + 1) + k) * f->dof + c;
}

static inline void Add(JacCtx *J, PetscInt col, PetscScalar v)
{
  if (col < 0) return;
  J->cols[J->n] = col;
  J->vals[J->n] = v;
  J->n++;
}

/* the width stencil weights S_c[l], l = -1, 0, 1, of D_c (D_c^T has S_c[-l]) */
static inline void Stencils(BbdNet net, PetscReal S[3][3])
{
  const PetscReal c1 = 0.5 / net->dy, c2 = 1.0 / (net->dy * net->dy);

  S[0][0] = 0, S[0][1] = 1, S[0][2] = 0;
  S[1][0] = -c1, S[1][1] = 0, S[1][2] = c1;
  S[2][0] = c2, S[2][1] = -2 * c2, S[2][2] = c2;
}

/* the TS layout's (f->dats) index of the natural one g: width i, depth k, component c */
static inline PetscInt ToTS(BbdField f, const JacCtx *J, PetscInt g)
{
  const PetscInt N = f->net->n[0], col = (f->net->M + 1) * f->dof, i = g / col, o = ((i - J->wstart) % N + N) % N;

  if (!J->win) return g; /* one layout: natural = PETSc ordering */
  if (o < J->nwin) return J->win[o * col + g % col];
  return J->out[i * f->dof + g % f->dof]; /* only the output row couples beyond two widths */
}

/* sort the buffered row, sum repeated columns, and set it (numbered in the TS layout) */
static inline PetscErrorCode FlushRow(BbdField f, JacCtx *J, Mat A, PetscInt row)
{
  PetscInt n = 0;

  PetscFunctionBeginUser;
  PetscCall(PetscSortIntWithScalarArray(J->n, J->cols, J->vals));
  for (PetscInt q = 0; q < J->n; q++) {
    if (n && J->cols[n - 1] == J->cols[q]) J->vals[n - 1] += J->vals[q];
    else {
      J->cols[n] = J->cols[q];
      J->vals[n] = J->vals[q];
      n++;
    }
  }
  if (J->win) {
    row = ToTS(f, J, row);
    for (PetscInt q = 0; q < n; q++) J->cols[q] = ToTS(f, J, J->cols[q]);
  }
  PetscCall(MatSetValues(A, 1, &row, n, J->cols, J->vals, INSERT_VALUES));
  J->n = 0;
  PetscFunctionReturn(0);
}

/* eta d lam_j / dZ_k of the output row into the row buffer (lam = (1/w) dl/dZ, so the cell weight
   drops out), from the loss's state J->q at the linearisation point (src/core/lossimpl.h) */
static inline void AddLossHessian(BbdField f, JacCtx *J, PetscInt j)
{
  BbdNet            net = f->net;
  const PetscInt    M = net->M, N = net->n[0];
  const BbdLossOps *L = BbdLossGetOps(net->loss);

  if (L->hessian == BBD_HESSIAN_DIAGONAL) Add(J, Col(f, M, j, 0), L->hessian_entry(N, J->q, net->eta, j, j));
  else if (L->hessian == BBD_HESSIAN_DENSE)
    for (PetscInt k = 0; k < N; k++) Add(J, Col(f, M, k, 0), L->hessian_entry(N, J->q, net->eta, j, k));
}

/* the bias-rate row's derivatives (flow: beta, damped: B) times scale into the row buffer */
typedef void (*JacAddRate)(BbdField, JacCtx *, const PetscScalar ***u, const PetscScalar ***ud, PetscInt m, PetscInt jj, PetscReal shift, PetscReal scale);

/* the bulk row of depth m (1 <= m < M) of width j (ghosted jj), R = (b^(m-1) - rho b^(m))/h -
   s' .* sum_c D_c^T (a_c b^(m)) with b the bias rate (flow: beta, damped: B, through addrate) and
   s' = sigma'(z^(m)); flushed as the row of component comp */
static inline PetscErrorCode AddBulkRow(BbdField f, JacCtx *J, const PetscScalar ***u, const PetscScalar ***ud, PetscInt m, PetscInt j, PetscInt jj, PetscInt comp, PetscReal shift, JacAddRate addrate, Mat A)
{
  BbdNet           net = f->net;
  const PetscInt   P = net->P, gym = J->gym;
  const PetscReal  d = J->d[m * gym + jj], *bt = J->bt + m * gym;
  PetscReal        S[3][3], T = 0;

  PetscFunctionBeginUser;
  Stencils(net, S);
  addrate(f, J, u, ud, m - 1, jj, shift, 1 / net->h);
  addrate(f, J, u, ud, m, jj, shift, -net->rho / net->h);
  for (PetscInt l = -1; l <= 1; l++) { /* - s' .* sum_c D_c^T (a_c b^(m)), D_c^T has weights S_c[-l] */
    PetscReal K = 0;
    if (Col(f, m, j + l, 0) < 0) continue;
    for (PetscInt c = 0; c <= P; c++) {
      const PetscReal Kc = S[c][1 - l];
      if (Kc == 0) continue; /* structural zeros of the stencils */
      K += Kc * u[j + l][m][1 + c];
      T += Kc * u[j + l][m][1 + c] * bt[jj + l];
      Add(J, Col(f, m, j + l, 1 + c), -d * Kc * bt[jj + l]);
    }
    addrate(f, J, u, ud, m, jj + l, shift, -d * K);
  }
  Add(J, Col(f, m, j, 0), -J->e[m * gym + jj] * T); /* s'' through the factor s' */
  PetscCall(FlushRow(f, J, A, Col(f, m, j, comp)));
  PetscFunctionReturn(0);
}

/* the moment rows of width j (ghosted jj), components off + 1 + c: R = A_c/kappa_c - b D_c s with
   dA_c = diag da_c (flow: shift; damped: shift + gamma), b the bias rate; diag alone for a frozen
   moment and on the unused row k = M */
static inline PetscErrorCode AddMomentRows(BbdField f, JacCtx *J, const PetscScalar ***u, const PetscScalar ***ud, PetscInt j, PetscInt jj, PetscInt off, PetscReal diag, PetscReal shift, JacAddRate addrate, Mat A)
{
  BbdNet         net = f->net;
  const PetscInt M = net->M, P = net->P, gym = J->gym;
  PetscReal      S[3][3];

  PetscFunctionBeginUser;
  Stencils(net, S);
  for (PetscInt m = 0; m <= M; m++)
    for (PetscInt c = 0; c <= P; c++) {
      const PetscInt row = Col(f, m, j, off + 1 + c);
      if (m == M || net->kappa[c] <= 0) Add(J, row, diag);
      else {
        const PetscReal *s = J->s + m * gym, *d = J->d + m * gym, b = J->bt[m * gym + jj];
        PetscReal        Ds = 0;
        for (PetscInt l = -1; l <= 1; l++) Ds += S[c][l + 1] * s[jj + l];
        Add(J, row, diag / net->kappa[c]);
        addrate(f, J, u, ud, m, jj, shift, -Ds);
        for (PetscInt l = -1; l <= 1; l++)
          if (S[c][l + 1] != 0) Add(J, Col(f, m, j + l, 0), -b * S[c][l + 1] * d[jj + l]);
      }
      PetscCall(FlushRow(f, J, A, row));
    }
  PetscFunctionReturn(0);
}

/* fieldjac.c (the fill of the dynamics in use is f->dyn->jacfill: BbdFieldJacFillFlow or BbdFieldJacFillDamped) */
PETSC_INTERN PetscErrorCode BbdFieldJacFillFlow(BbdField, JacCtx *, Vec U, Vec Udot, PetscReal shift, Mat);
PETSC_INTERN PetscErrorCode BbdFieldJacLinearise(BbdField, JacCtx *, Vec U, Vec Udot, const PetscScalar ****u, const PetscScalar ****ud);
/* fieldjac_damped.c */
PETSC_INTERN PetscErrorCode BbdFieldJacFillDamped(BbdField, JacCtx *, Vec U, Vec Udot, PetscReal shift, Mat);
#endif
