/* The lattice sweeps (docs/theory.md sections 4 and 14): the backward sweep (backprop) and the
   forward (tangent) sweep of the state last transposed in, with or without sources; the explicit
   right-hand sides of the lattice sweep formulation (flow, damped), and the sweep preconditioner
   with the Jacobian callback of the lattice residual formulation. See field.c's opening comment
   for the equations. */
#include "fieldimpl.h"

/* The backward sweep alone: f->beta[m * ym + j] = beta^(m), m = 0..M-1, and the ghosted rows
   f->bg[m * gym + jj] (r: sources, indexed by global width, on the g ghost columns when g > 1; or NULL).
   Communication-avoiding (g = f->sg): beta^(m) gets g ghost columns from the width neighbours at
   m = M-1, M-1-g, ...; the next layers are computed on the owned columns and a ghost range that
   shrinks by one column per layer (the radius-1 stencil), so one exchange serves g layers. */
static PetscErrorCode SweepBackward(BbdField f, const PetscScalar ***r, PetscBool with_loss)
{
  BbdNet          net = f->net;
  const PetscInt  M = net->M, ys = f->ys, ym = f->ym, gys = f->gys, gym = f->gym, o = ys - gys, g = f->sg;
  const PetscReal rho = net->rho, h = net->h;
  PetscReal      *zr = f->zr, *D1 = f->D1, *bg = f->bg, *pt = f->gb;

  PetscFunctionBeginUser;
  PetscCall(PetscLogEventBegin(BBD_FIELD_SweepBackward, 0, 0, 0, 0));
  /* beta^(m) from the output boundary inward (this is backprop) */
  if (with_loss) {
    PetscCall(BbdFieldOutputGradient(f, zr + M * gym + o, f->beta + (M - 1) * ym));
    for (PetscInt j = 0; j < ym; j++) f->beta[(M - 1) * ym + j] *= -net->eta;
  } else PetscCall(PetscArrayzero(f->beta + (M - 1) * ym, ym));
  if (r)
    for (PetscInt j = 0; j < ym; j++) f->beta[(M - 1) * ym + j] += r[ys + j][M][0];
  PetscCall(PetscArraycpy(bg + (M - 1) * gym + o, f->beta + (M - 1) * ym, ym));
  for (PetscInt m = M - 1; m >= 1; m--) {
    const PetscReal *d1 = D1 + m * gym;
    PetscReal       *b = bg + m * gym, *bn = bg + (m - 1) * gym;
    const PetscInt   e = g - (M - 1 - m) % g, lo = o - (e - 1), hi = o + ym + e - 1; /* beta^(m) is valid on e ghost columns */
    if (e == g) PetscCall(BbdFieldExchangeGhosts(f, 1, &b, g));
    RowPhiTSpan(f, m, b, lo, hi, pt);
    for (PetscInt jj = lo; jj < hi; jj++) bn[jj] = rho * b[jj] + h * d1[jj] * pt[jj - lo];
    if (r)
      for (PetscInt jj = lo; jj < hi; jj++) bn[jj] += h * r[gys + jj][m][0];
    BbdFieldZeroOutside(f, bn);
    PetscCall(PetscArraycpy(f->beta + (m - 1) * ym, bn + o, ym));
  }
  PetscCall(PetscLogEventEnd(BBD_FIELD_SweepBackward, 0, 0, 0, 0));
  PetscFunctionReturn(0);
}

/* The block-triangular solve of the residual system (docs/theory.md section 14) with sources:
   out = G(U)^-1 src on the rows of the state last transposed in (BbdFieldTransposeIn):
     beta^(M-1) = src_z^(M) (- eta lam^(M) with the loss),
     beta^(m-1) = rho beta^(m) + h sigma' .* sum_j D_j^T (a_j beta^(m)) + h src_z^(m),
     a_j'^(m) = kappa_j (src_a^(m) + beta^(m) .* D_j sigma(z^(m)))   (src_a for kappa_j = 0),
     z'^(0) = src_z^(0),  z'^(m+1) = rho z'^(m) + h (beta^(m) + sum_j a_j' D_j sigma + sum_j a_j D_j (sigma' z'^(m))).
   src = NULL with the loss: the gradient-flow rates (the explicit right-hand side).
   The forward sweep exchanges z'^(m) and the rows beta^(m..m+g-1) at m = 0, g, 2g, ... (one message
   each way) and computes the g layers on shrinking ghost ranges like the backward sweep. */
static PetscErrorCode Sweep(BbdField f, Vec src, PetscBool with_loss, Vec F)
{
  BbdNet             net = f->net;
  const PetscInt     M = net->M, P = net->P, ys = f->ys, ym = f->ym, gys = f->gys, gym = f->gym, o = ys - gys, g = f->sg;
  const PetscReal    rho = net->rho, h = net->h, c1 = 0.5 / net->dy, c2 = 1.0 / (net->dy * net->dy);
  PetscScalar     ***fa;
  const PetscScalar ***r = NULL;
  PetscReal         *D1 = f->D1, *S = f->S, *dz = f->dzg, *dzn = f->dzgn, *w = f->wg, *dar = f->wg + gym, *pt = f->gb;
  PetscReal         *rows[BBD_SWEEP_GHOST_MAX + 1];

  PetscFunctionBeginUser;
  if (src && g > 1) { /* the sources on the g ghost columns */
    PetscCall(DMGlobalToLocalBegin(f->dag, src, INSERT_VALUES, f->srcloc));
    PetscCall(DMGlobalToLocalEnd(f->dag, src, INSERT_VALUES, f->srcloc));
    PetscCall(DMDAVecGetArrayDOFRead(f->dag, f->srcloc, &r));
  } else if (src) PetscCall(DMDAVecGetArrayDOFRead(f->da, src, &r)); /* g = 1: owned columns only */
  PetscCall(SweepBackward(f, r, with_loss));
  PetscCall(PetscLogEventBegin(BBD_FIELD_SweepForward, 0, 0, 0, 0));
  /* forward sweep: moment rates locally, neuron rates from the input outward (tangent pass) */
  PetscCall(DMDAVecGetArrayDOF(f->da, F, &fa));
  for (PetscInt j = 0; j < ym; j++) {
    dz[o + j]        = r ? r[ys + j][0][0] : 0; /* dX/dt = 0: the sample is fixed inside a segment */
    fa[ys + j][0][0] = dz[o + j];
    for (PetscInt c = 1; c < f->dof; c++) fa[ys + j][M][c] = r ? r[ys + j][M][c] : 0;
  }
  for (PetscInt m = 0; m < M; m++) {
    const PetscReal *bm = f->bg + m * gym, *s = S + m * gym, *d1 = D1 + m * gym;
    const PetscInt   e = g - m % g, lo = o - (e - 1), hi = o + ym + e - 1; /* dz^(m) is valid on e ghost columns */
    PetscReal       *t;
    if (e == g) { /* z'^(m) and, for g > 1, the rows beta^(m..m+g-1) on g ghost columns */
      const PetscInt nb = g > 1 ? PetscMin(g, M - m) : 0;
      rows[0] = dz;
      for (PetscInt q = 0; q < nb; q++) rows[1 + q] = f->bg + (m + q) * gym;
      PetscCall(BbdFieldExchangeGhosts(f, 1 + nb, rows, g));
    }
    for (PetscInt jj = lo - 1; jj < hi + 1; jj++) w[jj] = d1[jj] * dz[jj]; /* sigma' dz^(m), ghosted */
    BbdFieldZeroOutside(f, w);
    RowPhiSpan(f, m, w, lo, hi, pt); /* Phi'(z) dz^(m) */
    for (PetscInt jj = lo; jj < hi; jj++) {
      const PetscReal D[3] = {s[jj], c1 * (s[jj + 1] - s[jj - 1]), c2 * (s[jj + 1] - 2 * s[jj] + s[jj - 1])};
      PetscReal       rr   = bm[jj] + pt[jj - lo];
      for (PetscInt c = 0; c <= P; c++) {
        const PetscReal ra = r ? r[gys + jj][m][1 + c] : 0;
        const PetscReal da = net->kappa[c] > 0 ? net->kappa[c] * (ra + bm[jj] * D[c]) : ra;
        dar[c * gym + jj]  = da;
        rr += da * D[c];
      }
      dzn[jj] = rho * dz[jj] + h * rr;
    }
    BbdFieldZeroOutside(f, dzn);
    for (PetscInt j = 0; j < ym; j++) {
      fa[ys + j][m + 1][0] = dzn[o + j];
      for (PetscInt c = 0; c <= P; c++) fa[ys + j][m][1 + c] = dar[c * gym + o + j];
    }
    t   = dz;
    dz  = dzn;
    dzn = t;
  }
  PetscCall(DMDAVecRestoreArrayDOF(f->da, F, &fa));
  if (src && g > 1) PetscCall(DMDAVecRestoreArrayDOFRead(f->dag, f->srcloc, &r));
  else if (src) PetscCall(DMDAVecRestoreArrayDOFRead(f->da, src, &r));
  PetscCall(PetscLogEventEnd(BBD_FIELD_SweepForward, 0, 0, 0, 0));
  PetscFunctionReturn(0);
}

/* the sweep with sources for src/residual_damped.c */
PetscErrorCode BbdFieldSweepSources(BbdField f, Vec src, Vec out)
{
  PetscFunctionBeginUser;
  PetscCall(Sweep(f, src, PETSC_FALSE, out));
  PetscFunctionReturn(0);
}

PetscErrorCode BbdFieldRHSSweep(TS ts, PetscReal t, Vec U, Vec F, void *ctx)
{
  BbdField f = (BbdField)ctx;

  PetscFunctionBeginUser;
  (void)ts;
  (void)t;
  PetscCall(BbdFieldTransposeIn(f, U));
  PetscCall(Sweep(f, NULL, PETSC_TRUE, F));
  PetscFunctionReturn(0);
}

/* Damped dynamics (docs/theory.md section 14): the state at each point is (z, a_j, z', a_j'),
   the first-order system
     d(z, a)/dt = (z', a'),
     a_j''^(m) = -gamma a_j'^(m) + kappa_j beta^(m) .* D_j sigma(z^(m)),
     b''^(m)   = -gamma b'^(m) + beta^(m),
     z''^(0) = 0,  z''^(m+1) = rho z''^(m) + h [b''^(m) + sum_j (a_j'' D_j s + 2 a_j' D_j(s' z') + a_j D_j(s'' z'^2 + s' z''))],
   with beta^(m) the gradient-flow rates of the backward sweep (the flow velocity of b),
   s, s', s'' = sigma, sigma', sigma'' of z^(m), and the bias velocity from the neuron form
     b'^(m) = (z'^(m+1) - rho z'^(m))/h - sum_j a_j' D_j s - sum_j a_j D_j(s' z'^(m)).
   One backward sweep (beta) and one forward sweep (z''), each exchanging g columns every g layers. */
PetscErrorCode BbdFieldRHSSweepDamped(TS ts, PetscReal t, Vec U, Vec F, void *ctx)
{
  BbdField        f   = (BbdField)ctx;
  BbdNet          net = f->net;
  const PetscInt  M = net->M, P = net->P, NX = M + 1, V = P + 2, ys = f->ys, ym = f->ym, gys = f->gys, gym = f->gym, o = ys - gys;
  const PetscReal rho = net->rho, h = net->h, gamma = net->gamma, c1 = 0.5 / net->dy, c2 = 1.0 / (net->dy * net->dy);
  PetscScalar  ***fa;
  PetscReal      *zdd = f->dzg, *zddn = f->dzgn, *u1 = f->u1, *w = f->wg, *g1 = f->gb, *g2 = f->wg + gym, *sw;
  PetscReal      *rows[BBD_SWEEP_GHOST_MAX + 1];
  const PetscInt  g = f->sg;

  PetscFunctionBeginUser;
  (void)ts;
  (void)t;
  PetscCall(BbdFieldTransposeIn(f, U));
  PetscCall(SweepBackward(f, NULL, PETSC_TRUE)); /* beta^(m): the flow velocity of b^(m) */
  PetscCall(PetscLogEventBegin(BBD_FIELD_SweepForward, 0, 0, 0, 0));
  PetscCall(DMDAVecGetArrayDOF(f->da, F, &fa));
  for (PetscInt j = 0; j < ym; j++) {
    for (PetscInt k = 0; k <= M; k++) fa[ys + j][k][0] = f->zdr[k * gym + j + o]; /* dz/dt = z' */
    zdd[o + j]       = 0; /* dX/dt = 0: the sample is fixed inside a segment */
    fa[ys + j][0][V] = 0;
    for (PetscInt c = 0; c <= P; c++) fa[ys + j][M][1 + c] = fa[ys + j][M][V + 1 + c] = 0; /* no moments at k = M */
  }
  /* z''^(m) on shrinking ghost ranges, exchanged with beta^(m..m+g-1) every g layers (like Sweep) */
  for (PetscInt m = 0; m < M; m++) {
    const PetscReal *s = f->S + m * gym, *d1 = f->D1 + m * gym, *d2 = f->D2 + m * gym;
    const PetscReal *zd = f->zdr + m * gym, *zdn = f->zdr + (m + 1) * gym, *bf = f->bg + m * gym;
    const PetscInt   e = g - m % g, lo = o - (e - 1), hi = o + ym + e - 1; /* z''^(m) is valid on e ghost columns */
    if (e == g) {
      const PetscInt nb = g > 1 ? PetscMin(g, M - m) : 0;
      rows[0] = zdd;
      for (PetscInt q = 0; q < nb; q++) rows[1 + q] = f->bg + (m + q) * gym;
      PetscCall(BbdFieldExchangeGhosts(f, 1 + nb, rows, g));
    }
    for (PetscInt jj = 0; jj < gym; jj++) u1[jj] = d1[jj] * zd[jj]; /* sigma' z' (ghosted) */
    BbdFieldZeroOutside(f, u1);
    RowPhiSpan(f, m, u1, lo, hi, g1); /* Phi'(z) z'^(m) */
    for (PetscInt jj = lo - 1; jj < hi + 1; jj++) w[jj] = d2[jj] * zd[jj] * zd[jj] + d1[jj] * zdd[jj];
    BbdFieldZeroOutside(f, w);
    RowPhiSpan(f, m, w, lo, hi, g2); /* sum_j a_j D_j (sigma'' z'^2 + sigma' z'') */
    for (PetscInt jj = lo; jj < hi; jj++) {
      const PetscReal Ds[3] = {s[jj], c1 * (s[jj + 1] - s[jj - 1]), c2 * (s[jj + 1] - 2 * s[jj] + s[jj - 1])};
      const PetscReal Du[3] = {u1[jj], c1 * (u1[jj + 1] - u1[jj - 1]), c2 * (u1[jj + 1] - 2 * u1[jj] + u1[jj - 1])};
      const PetscBool own   = (PetscBool)(jj >= o && jj < o + ym);
      PetscReal       bd    = (zdn[jj] - rho * zd[jj]) / h - g1[jj - lo], rr;
      for (PetscInt c = 0; c <= P; c++) bd -= f->adr[(c * NX + m) * gym + jj] * Ds[c];
      rr = -gamma * bd + bf[jj] + g2[jj - lo]; /* b'' + Phi(z)'' terms with a */
      for (PetscInt c = 0; c <= P; c++) {
        const PetscReal ad  = f->adr[(c * NX + m) * gym + jj];
        const PetscReal add = -gamma * ad + (net->kappa[c] > 0 ? net->kappa[c] * bf[jj] * Ds[c] : 0);
        if (own) {
          fa[gys + jj][m][1 + c]     = ad;
          fa[gys + jj][m][V + 1 + c] = add;
        }
        rr += add * Ds[c] + 2 * ad * Du[c];
      }
      zddn[jj] = rho * zdd[jj] + h * rr;
      if (own) fa[gys + jj][m + 1][V] = zddn[jj];
    }
    BbdFieldZeroOutside(f, zddn);
    sw   = zdd;
    zdd  = zddn;
    zddn = sw;
  }
  PetscCall(DMDAVecRestoreArrayDOF(f->da, F, &fa));
  PetscCall(PetscLogEventEnd(BBD_FIELD_SweepForward, 0, 0, 0, 0));
  PetscFunctionReturn(0);
}

/* The Newton matrix shift G(U) + dF/dU: assembled analytically (-bbd_jacobian assembled,
   fieldjac.c), by finite differences of the time step's residual on the same pattern
   (-snes_fd_color, -snes_fd), or applied matrix-free. The structure-aware preconditioner inverts its dominant
   part shift G(U) exactly by one sweep at the linearisation point. */
PetscErrorCode BbdFieldIJacobian(TS ts, PetscReal t, Vec U, Vec Udot, PetscReal shift, Mat A, Mat B, void *ctx)
{
  BbdField f = (BbdField)ctx;

  PetscFunctionBeginUser;
  PetscCall(PetscLogEventBegin(BBD_FIELD_Jacobian, 0, 0, 0, 0));
  (void)t;
  PetscCall(BbdFieldFromTS(f, U, f->Ulin)); /* the linearisation point, width-only layout */
  PetscCall(BbdFieldTransposeIn(f, f->Ulin)); /* its rows, for every preconditioner application until the next Jacobian */
  f->shift = shift;
  if (f->jac_fdcolor || f->jac_fd) PetscCall(BbdFieldJacobianFD(f, ts, U, B));
  else if (f->jac_assembled) {
    PetscCall(BbdFieldFromTS(f, Udot, f->split ? f->Udsw : Udot));
    PetscCall(BbdFieldJacobianAssemble(f, f->Ulin, f->split ? f->Udsw : Udot, shift, B));
  }
  if (A != B || !(f->jac_assembled || f->jac_fdcolor || f->jac_fd)) { /* the matrix-free operator (also with -snes_mf_operator) */
    PetscCall(MatAssemblyBegin(A, MAT_FINAL_ASSEMBLY));
    PetscCall(MatAssemblyEnd(A, MAT_FINAL_ASSEMBLY));
  }
  PetscCall(PetscLogEventEnd(BBD_FIELD_Jacobian, 0, 0, 0, 0));
  PetscFunctionReturn(0);
}

PetscErrorCode BbdFieldPCApplySweep(PC pc, Vec x, Vec y)
{
  BbdField f;

  PetscFunctionBeginUser;
  PetscCall(PetscLogEventBegin(BBD_FIELD_PCApply, 0, 0, 0, 0));
  PetscCall(PCShellGetContext(pc, &f)); /* the rows of the linearisation point: transposed in by IJacobian */
  PetscCall(Sweep(f, x, PETSC_FALSE, y));
  PetscCall(VecScale(y, 1.0 / f->shift));
  PetscCall(PetscLogEventEnd(BBD_FIELD_PCApply, 0, 0, 0, 0));
  PetscFunctionReturn(0);
}
