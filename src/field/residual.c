/* The residual of the implicit (residual) formulation of bbd-field's lattice mode, in one pass
   over the grid in storage order (docs/theory.md section 14; shared theory section 4):
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
#include <stdint.h>

#if defined(__x86_64__) && defined(__GNUC__)
  #include "core/tanh4.h"
  #define BBD_RESIDUAL_AVX2 1
#endif
/* the windows of the AVX2 kernels, in slots of f->vnx doubles: per column of the five-column window
   sigma, sigma', sigma' z', z' (contiguous in depth), per column of the three-column window beta,
   the moments a_0..a_2 and the rows R_a0..R_a2 (the dofs taken out of the interleaved column once) */
enum {VS = 0, VD = 5, VQ = 10, VZD = 15, VB = 20, VA0 = 23, VA1 = 26, VA2 = 29, VF0 = 32, VF1 = 35, VF2 = 38, VSLOTS = 41};

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

#if defined(BBD_RESIDUAL_AVX2)
/* The same residual for tanh, P = 2 (dof 4: z, a_0, a_1, a_2 per point), four depths at a time in
   AVX2 registers. Each kernel reads the interleaved points of a column once, four points (16
   doubles) at a time, and takes the dofs apart with unpack instructions (a 4 x 4 transpose); what
   the later kernels need of a column (sigma, sigma', sigma' z', z', beta, a_j, R_aj) goes into the
   contiguous window slots above, so no kernel transposes a column twice. act: sigma = tanh z
   (BbdTanh4, src/tanh4.h) straight from the column, sigma' = 1 - sigma^2 in the same loop; mid: beta and
   R_a; last: R_z, and the whole owned column of F is stored once, four points at a time. The
   beta step of column i + 1 and the R_z step of column i run in one loop (ColumnBetaRzAVX2).
   The arithmetic is that of ColumnActivation/ColumnBeta/ColumnRz (FMA contracts some products:
   the results agree with theirs to rounding). Depths past the last multiple of 4 take the scalar
   formulas from the same slots. */
static inline PetscReal *VSlot(BbdField f, PetscInt base, PetscInt i, PetscInt n)
{
  return f->vw + (base + BbdFieldSlot(i, n)) * f->vnx + 4;
}

/* z (dof 0) of the four points at p */
__attribute__((target("avx2,fma"), always_inline)) static inline __m256d Dof0x4(const PetscScalar *p)
{
  const __m256d x02 = _mm256_insertf128_pd(_mm256_castpd128_pd256(_mm_loadu_pd(p)), _mm_loadu_pd(p + 8), 1);
  const __m256d x13 = _mm256_insertf128_pd(_mm256_castpd128_pd256(_mm_loadu_pd(p + 4)), _mm_loadu_pd(p + 12), 1);
  return _mm256_unpacklo_pd(x02, x13);
}

/* all four dofs of the four points at p */
__attribute__((target("avx2,fma"), always_inline)) static inline void Load4x4(const PetscScalar *p, __m256d *d0, __m256d *d1, __m256d *d2, __m256d *d3)
{
  const __m256d x02 = _mm256_insertf128_pd(_mm256_castpd128_pd256(_mm_loadu_pd(p)), _mm_loadu_pd(p + 8), 1);
  const __m256d x13 = _mm256_insertf128_pd(_mm256_castpd128_pd256(_mm_loadu_pd(p + 4)), _mm_loadu_pd(p + 12), 1);
  const __m256d y02 = _mm256_insertf128_pd(_mm256_castpd128_pd256(_mm_loadu_pd(p + 2)), _mm_loadu_pd(p + 10), 1);
  const __m256d y13 = _mm256_insertf128_pd(_mm256_castpd128_pd256(_mm_loadu_pd(p + 6)), _mm_loadu_pd(p + 14), 1);
  *d0 = _mm256_unpacklo_pd(x02, x13);
  *d1 = _mm256_unpackhi_pd(x02, x13);
  *d2 = _mm256_unpacklo_pd(y02, y13);
  *d3 = _mm256_unpackhi_pd(y02, y13);
}

/* the four points at p from their dofs */
__attribute__((target("avx2,fma"), always_inline)) static inline void Store4x4(PetscScalar *p, __m256d d0, __m256d d1, __m256d d2, __m256d d3)
{
  const __m256d t0 = _mm256_unpacklo_pd(d0, d1), t1 = _mm256_unpackhi_pd(d0, d1), t2 = _mm256_unpacklo_pd(d2, d3), t3 = _mm256_unpackhi_pd(d2, d3);
  _mm256_storeu_pd(p, _mm256_permute2f128_pd(t0, t2, 0x20));
  _mm256_storeu_pd(p + 4, _mm256_permute2f128_pd(t1, t3, 0x20));
  _mm256_storeu_pd(p + 8, _mm256_permute2f128_pd(t0, t2, 0x31));
  _mm256_storeu_pd(p + 12, _mm256_permute2f128_pd(t1, t3, 0x31));
}

/* sigma, sigma', sigma' z' and z' of column i into its window slots (zero outside a non-periodic width) */
__attribute__((target("avx2,fma"))) static void ColumnActivationAVX2(BbdField f, const PetscScalar *u, const PetscScalar *ud, PetscInt i)
{
  const PetscInt                    M = f->net->M;
  PetscReal *PETSC_RESTRICT         S = VSlot(f, VS, i, 5), *PETSC_RESTRICT D = VSlot(f, VD, i, 5), *PETSC_RESTRICT Q = VSlot(f, VQ, i, 5), *PETSC_RESTRICT Zd = VSlot(f, VZD, i, 5);
  const PetscScalar *PETSC_RESTRICT c, *PETSC_RESTRICT cd, *cn, *cdn;
  const __m256d                     one = _mm256_set1_pd(1.0);
  PetscInt                          k   = 0;

  if (!BbdFieldInside(f, i)) {
    for (PetscInt m = 0; m <= M; m++) S[m] = D[m] = Q[m] = Zd[m] = 0;
    return;
  }
  c  = BbdFieldCol(f, u, i);
  cd = BbdFieldCol(f, ud, i);
  cn  = i + 1 <= f->ys + f->ym + 1 ? BbdFieldCol(f, u, i + 1) : c; /* the next column of U and U' (the pass's last: ys + ym + 1), */
  cdn = i + 1 <= f->ys + f->ym + 1 ? BbdFieldCol(f, ud, i + 1) : cd; /* prefetched into L2 one column (4 (M + 1) doubles) ahead */
  for (; k + 4 <= M; k += 4) {
    const __m256d zd = Dof0x4(cd + 4 * k), s = BbdTanh4(Dof0x4(c + 4 * k)), d = _mm256_fnmadd_pd(s, s, one);
    _mm_prefetch((const char *)(cn + 4 * k), _MM_HINT_T1);
    _mm_prefetch((const char *)(cn + 4 * k + 8), _MM_HINT_T1);
    _mm_prefetch((const char *)(cdn + 4 * k), _MM_HINT_T1);
    _mm_prefetch((const char *)(cdn + 4 * k + 8), _MM_HINT_T1);
    _mm256_store_pd(S + k, s);
    _mm256_store_pd(D + k, d);
    _mm256_store_pd(Q + k, _mm256_mul_pd(d, zd));
    _mm256_store_pd(Zd + k, zd);
  }
  if (k < M) { /* the last depths through the same vector tanh: a value's tanh never depends on its position */
    PetscReal zt[4] = {0, 0, 0, 0}, st[4];
    for (PetscInt m = k; m < M; m++) zt[m - k] = c[4 * m];
    _mm256_storeu_pd(st, BbdTanh4(_mm256_loadu_pd(zt)));
    for (PetscInt m = k; m < M; m++) {
      S[m]  = st[m - k];
      D[m]  = 1 - S[m] * S[m];
      Zd[m] = cd[4 * m];
      Q[m]  = D[m] * Zd[m];
    }
  }
  Zd[M] = cd[4 * M];
}

/* The beta step of one column j, shared by ColumnBetaAVX2 and the merged ColumnBetaRzAVX2: its
   constants and window slots, four depths at a time in registers, and the scalar tail */
typedef struct {
  PetscReal                         rho, ih, c1, c2, ik[3], fr[3];
  const PetscReal *PETSC_RESTRICT   Sl, *PETSC_RESTRICT S, *PETSC_RESTRICT Sr, *PETSC_RESTRICT Ql, *PETSC_RESTRICT Q, *PETSC_RESTRICT Qr, *PETSC_RESTRICT Zd;
  PetscReal *PETSC_RESTRICT         B, *PETSC_RESTRICT A0, *PETSC_RESTRICT A1, *PETSC_RESTRICT A2, *PETSC_RESTRICT F0, *PETSC_RESTRICT F1, *PETSC_RESTRICT F2;
  const PetscScalar *PETSC_RESTRICT c, *PETSC_RESTRICT cd;
} BetaCol;

static void BetaColInit(BbdField f, const PetscScalar *u, const PetscScalar *ud, PetscInt j, BetaCol *K)
{
  BbdNet net = f->net;

  K->rho = net->rho, K->ih = 1.0 / net->h, K->c1 = 0.5 / net->dy, K->c2 = 1.0 / (net->dy * net->dy);
  for (PetscInt q = 0; q < 3; q++) K->ik[q] = f->ik[q], K->fr[q] = f->fr[q];
  K->Sl = VSlot(f, VS, j - 1, 5), K->S = VSlot(f, VS, j, 5), K->Sr = VSlot(f, VS, j + 1, 5);
  K->Ql = VSlot(f, VQ, j - 1, 5), K->Q = VSlot(f, VQ, j, 5), K->Qr = VSlot(f, VQ, j + 1, 5), K->Zd = VSlot(f, VZD, j, 5);
  K->B = VSlot(f, VB, j, 3), K->A0 = VSlot(f, VA0, j, 3), K->A1 = VSlot(f, VA1, j, 3), K->A2 = VSlot(f, VA2, j, 3);
  K->F0 = VSlot(f, VF0, j, 3), K->F1 = VSlot(f, VF1, j, 3), K->F2 = VSlot(f, VF2, j, 3);
  K->c = BbdFieldInside(f, j) ? BbdFieldCol(f, u, j) : NULL;
  K->cd = BbdFieldInside(f, j) ? BbdFieldCol(f, ud, j) : NULL;
}

/* beta, a_j and R_aj at depths m..m+3 into the slots; returns beta, and a_1, a_2 in registers */
__attribute__((target("avx2,fma"), always_inline)) static inline __m256d BetaBlock4(const BetaCol *K, PetscInt m, __m256d *a1o, __m256d *a2o)
{
  const __m256d vc1 = _mm256_set1_pd(K->c1), vc2 = _mm256_set1_pd(K->c2), two = _mm256_set1_pd(2.0);
  const __m256d s = _mm256_load_pd(K->S + m), sl = _mm256_load_pd(K->Sl + m), sr = _mm256_load_pd(K->Sr + m);
  const __m256d q = _mm256_load_pd(K->Q + m), ql = _mm256_load_pd(K->Ql + m), qr = _mm256_load_pd(K->Qr + m);
  __m256d       z, a0, a1, a2, zd, ad0, ad1, ad2, d1, d2, q1, q2, b;

  Load4x4(K->c + 4 * m, &z, &a0, &a1, &a2);
  Load4x4(K->cd + 4 * m, &zd, &ad0, &ad1, &ad2);
  (void)z;
  d1 = _mm256_mul_pd(vc1, _mm256_sub_pd(sr, sl));
  d2 = _mm256_mul_pd(vc2, _mm256_add_pd(_mm256_fnmadd_pd(two, s, sr), sl));
  q1 = _mm256_mul_pd(vc1, _mm256_sub_pd(qr, ql));
  q2 = _mm256_mul_pd(vc2, _mm256_add_pd(_mm256_fnmadd_pd(two, q, qr), ql));
  b  = _mm256_mul_pd(_mm256_fnmadd_pd(_mm256_set1_pd(K->rho), zd, _mm256_loadu_pd(K->Zd + m + 1)), _mm256_set1_pd(K->ih));
  b  = _mm256_fnmadd_pd(a0, q, b);
  b  = _mm256_fnmadd_pd(a1, q1, b);
  b  = _mm256_fnmadd_pd(a2, q2, b);
  b  = _mm256_fnmadd_pd(ad0, s, b);
  b  = _mm256_fnmadd_pd(ad1, d1, b);
  b  = _mm256_fnmadd_pd(ad2, d2, b);
  _mm256_store_pd(K->B + m, b);
  _mm256_store_pd(K->A0 + m, a0);
  _mm256_store_pd(K->A1 + m, a1);
  _mm256_store_pd(K->A2 + m, a2);
  _mm256_store_pd(K->F0 + m, _mm256_fnmadd_pd(_mm256_mul_pd(_mm256_set1_pd(K->fr[0]), b), s, _mm256_mul_pd(ad0, _mm256_set1_pd(K->ik[0]))));
  _mm256_store_pd(K->F1 + m, _mm256_fnmadd_pd(_mm256_mul_pd(_mm256_set1_pd(K->fr[1]), b), d1, _mm256_mul_pd(ad1, _mm256_set1_pd(K->ik[1]))));
  _mm256_store_pd(K->F2 + m, _mm256_fnmadd_pd(_mm256_mul_pd(_mm256_set1_pd(K->fr[2]), b), d2, _mm256_mul_pd(ad2, _mm256_set1_pd(K->ik[2]))));
  *a1o = a1;
  *a2o = a2;
  return b;
}

/* the same at the depths m0..M-1 one by one, and R_aj^(M) = a_j'^(M) */
__attribute__((target("avx2,fma"))) static void BetaTail(const BetaCol *K, PetscInt m0, PetscInt M)
{
  const PetscReal c1 = K->c1, c2 = K->c2, *S = K->S, *Sl = K->Sl, *Sr = K->Sr, *Q = K->Q, *Ql = K->Ql, *Qr = K->Qr;

  for (PetscInt m = m0; m < M; m++) {
    const PetscScalar *a = K->c + 4 * m + 1, *ad = K->cd + 4 * m + 1;
    const PetscReal    D0 = S[m], D1 = c1 * (Sr[m] - Sl[m]), D2 = c2 * (Sr[m] - 2 * S[m] + Sl[m]);
    const PetscReal    b = (K->Zd[m + 1] - K->rho * K->Zd[m]) * K->ih - a[0] * Q[m] - a[1] * c1 * (Qr[m] - Ql[m]) - a[2] * c2 * (Qr[m] - 2 * Q[m] + Ql[m]) - ad[0] * D0 - ad[1] * D1 - ad[2] * D2;
    K->B[m]  = b;
    K->A0[m] = a[0];
    K->A1[m] = a[1];
    K->A2[m] = a[2];
    K->F0[m] = ad[0] * K->ik[0] - K->fr[0] * b * D0;
    K->F1[m] = ad[1] * K->ik[1] - K->fr[1] * b * D1;
    K->F2[m] = ad[2] * K->ik[2] - K->fr[2] * b * D2;
  }
  K->F0[M] = K->cd[4 * M + 1];
  K->F1[M] = K->cd[4 * M + 2];
  K->F2[M] = K->cd[4 * M + 3];
}

/* beta, a_j and R_aj of column i into its window slots (R_aj^(M) = a_j'^(M) too) */
__attribute__((target("avx2,fma"))) static void ColumnBetaAVX2(BbdField f, const PetscScalar *u, const PetscScalar *ud, PetscInt i, PetscScalar *fo)
{
  const PetscInt M = f->net->M;
  BetaCol        K;
  PetscInt       m = 0;

  (void)fo; /* the owned column's F is written by ColumnRzAVX2 alone, with R_a^(M) = a_j'^(M) from here */
  BetaColInit(f, u, ud, i, &K);
  if (!K.c) { /* zero padding: beta and the moments vanish */
    for (PetscInt k = 0; k < M; k++) K.B[k] = K.A0[k] = K.A1[k] = K.A2[k] = 0;
    return;
  }
  for (; m + 4 <= M; m += 4) {
    __m256d a1, a2;
    (void)BetaBlock4(&K, m, &a1, &a2);
  }
  BetaTail(&K, m, M);
}

/* the depths m0..M-1 of R_z of column i left over by the 4-wide loops, and the boundary rows
   (k = 0, M) of the column, with the right neighbour's beta and moments Br, A1r, A2r (from its
   window slots, or from the merged kernel's column) */
__attribute__((target("avx2,fma"), always_inline)) static inline void RzTail(BbdField f, PetscInt i, PetscInt m0, const PetscReal *Br, const PetscReal *A1r, const PetscReal *A2r, PetscReal lam, PetscScalar *fo)
{
  BbdNet                          net = f->net;
  const PetscInt                  M = net->M;
  const PetscReal                 rho = net->rho, ih = 1.0 / net->h, c1 = 0.5 / net->dy, c2 = 1.0 / (net->dy * net->dy);
  const PetscReal *PETSC_RESTRICT Bl = VSlot(f, VB, i - 1, 3), *PETSC_RESTRICT B = VSlot(f, VB, i, 3);
  const PetscReal *PETSC_RESTRICT A0 = VSlot(f, VA0, i, 3), *PETSC_RESTRICT A1l = VSlot(f, VA1, i - 1, 3);
  const PetscReal *PETSC_RESTRICT A2l = VSlot(f, VA2, i - 1, 3), *PETSC_RESTRICT A2 = VSlot(f, VA2, i, 3);
  const PetscReal *PETSC_RESTRICT F0 = VSlot(f, VF0, i, 3), *PETSC_RESTRICT F1 = VSlot(f, VF1, i, 3), *PETSC_RESTRICT F2 = VSlot(f, VF2, i, 3);
  const PetscReal *PETSC_RESTRICT D = VSlot(f, VD, i, 5), *PETSC_RESTRICT Zd = VSlot(f, VZD, i, 5);

  for (PetscInt m = m0; m < M; m++) {
    const PetscReal g = A0[m] * B[m] - c1 * (A1r[m] * Br[m] - A1l[m] * Bl[m]) + c2 * (A2r[m] * Br[m] - 2 * A2[m] * B[m] + A2l[m] * Bl[m]);
    fo[4 * m]     = (B[m - 1] - rho * B[m]) * ih - D[m] * g;
    fo[4 * m + 1] = F0[m];
    fo[4 * m + 2] = F1[m];
    fo[4 * m + 3] = F2[m];
  }
  fo[0]         = Zd[0];
  fo[4 * M]     = B[M - 1] + net->eta * lam;
  fo[4 * M + 1] = F0[M];
  fo[4 * M + 2] = F1[M];
  fo[4 * M + 3] = F2[M];
}

/* R_z of the owned column i, and its whole column of F stored once */
__attribute__((target("avx2,fma"))) static void ColumnRzAVX2(BbdField f, const PetscScalar *u, const PetscScalar *ud, PetscInt i, PetscReal lam, PetscScalar *fo)
{
  (void)ud;
  BbdNet                          net = f->net;
  const PetscInt                  M = net->M;
  const PetscReal                 rho = net->rho, ih = 1.0 / net->h, c1 = 0.5 / net->dy, c2 = 1.0 / (net->dy * net->dy);
  const PetscReal *PETSC_RESTRICT Bl = VSlot(f, VB, i - 1, 3), *PETSC_RESTRICT B = VSlot(f, VB, i, 3), *PETSC_RESTRICT Br = VSlot(f, VB, i + 1, 3);
  const PetscReal *PETSC_RESTRICT A0 = VSlot(f, VA0, i, 3), *PETSC_RESTRICT A1l = VSlot(f, VA1, i - 1, 3), *PETSC_RESTRICT A1r = VSlot(f, VA1, i + 1, 3);
  const PetscReal *PETSC_RESTRICT A2l = VSlot(f, VA2, i - 1, 3), *PETSC_RESTRICT A2 = VSlot(f, VA2, i, 3), *PETSC_RESTRICT A2r = VSlot(f, VA2, i + 1, 3);
  const PetscReal *PETSC_RESTRICT F0 = VSlot(f, VF0, i, 3), *PETSC_RESTRICT F1 = VSlot(f, VF1, i, 3), *PETSC_RESTRICT F2 = VSlot(f, VF2, i, 3);
  const PetscReal *PETSC_RESTRICT D = VSlot(f, VD, i, 5);
  const __m256d                   vrho = _mm256_set1_pd(rho), vih = _mm256_set1_pd(ih), vc1 = _mm256_set1_pd(c1), vc2 = _mm256_set1_pd(c2), two = _mm256_set1_pd(2.0);
  PetscInt                        m = 0;

  (void)u;
  for (; m + 4 <= M; m += 4) { /* R_z^(m) for m = 0 too (B^(-1) is padding), replaced below */
    const __m256d b = _mm256_load_pd(B + m), bl = _mm256_load_pd(Bl + m), br = _mm256_load_pd(Br + m), a2 = _mm256_load_pd(A2 + m);
    __m256d       g, r, t;

    t = _mm256_fmsub_pd(_mm256_load_pd(A1r + m), br, _mm256_mul_pd(_mm256_load_pd(A1l + m), bl));
    r = _mm256_fmadd_pd(_mm256_load_pd(A2l + m), bl, _mm256_fnmadd_pd(_mm256_mul_pd(two, a2), b, _mm256_mul_pd(_mm256_load_pd(A2r + m), br)));
    g = _mm256_fmadd_pd(vc2, r, _mm256_fnmadd_pd(vc1, t, _mm256_mul_pd(_mm256_load_pd(A0 + m), b)));
    r = _mm256_fnmadd_pd(_mm256_load_pd(D + m), g, _mm256_mul_pd(_mm256_fnmadd_pd(vrho, b, _mm256_loadu_pd(B + m - 1)), vih));
    __builtin_prefetch(fo + 4 * m + 128, 1, 3); /* the lines of F 32 points ahead, for writing (the stores of a new column of F otherwise wait on each line) */
    __builtin_prefetch(fo + 4 * m + 136, 1, 3);
    Store4x4(fo + 4 * m, r, _mm256_load_pd(F0 + m), _mm256_load_pd(F1 + m), _mm256_load_pd(F2 + m));
  }
  RzTail(f, i, m, Br, A1r, A2r, lam, fo);
}

/* mid of the merged kernels: beta of the first two columns (ys - 1, ys) only; the later ones are
   computed by ColumnBetaRzAVX2 in the loop that computes R_z of the column before */
__attribute__((target("avx2,fma"))) static void ColumnBetaFirstAVX2(BbdField f, const PetscScalar *u, const PetscScalar *ud, PetscInt i, PetscScalar *fo)
{
  if (i <= f->ys) ColumnBetaAVX2(f, u, ud, i, fo);
}

/* last of the merged kernels: beta (with a_j, R_aj) of column i + 1 and R_z of the owned column i
   in one loop over the depths (beta of column i + 1 at depths m..m+3 is all R_z of column i needs
   of it there), and the whole owned column of F stored once */
__attribute__((target("avx2,fma"))) static void ColumnBetaRzAVX2(BbdField f, const PetscScalar *u, const PetscScalar *ud, PetscInt i, PetscReal lam, PetscScalar *fo)
{
  BbdNet                            net = f->net;
  const PetscInt                    M = net->M;
  const PetscReal                   rho = net->rho, ih = 1.0 / net->h, c1 = 0.5 / net->dy, c2 = 1.0 / (net->dy * net->dy);
  const PetscInt                    j = i + 1; /* the column whose beta is computed */
  const PetscReal *PETSC_RESTRICT   Bl = VSlot(f, VB, i - 1, 3), *PETSC_RESTRICT B = VSlot(f, VB, i, 3);
  const PetscReal *PETSC_RESTRICT   A0 = VSlot(f, VA0, i, 3), *PETSC_RESTRICT A1l = VSlot(f, VA1, i - 1, 3), *PETSC_RESTRICT A2l = VSlot(f, VA2, i - 1, 3), *PETSC_RESTRICT A2 = VSlot(f, VA2, i, 3);
  const PetscReal *PETSC_RESTRICT   F0 = VSlot(f, VF0, i, 3), *PETSC_RESTRICT F1 = VSlot(f, VF1, i, 3), *PETSC_RESTRICT F2 = VSlot(f, VF2, i, 3);
  const PetscReal *PETSC_RESTRICT   D = VSlot(f, VD, i, 5);
  const __m256d                     vrho = _mm256_set1_pd(rho), vih = _mm256_set1_pd(ih), vc1 = _mm256_set1_pd(c1), vc2 = _mm256_set1_pd(c2), two = _mm256_set1_pd(2.0);
  BetaCol                           K;
  PetscInt                          m = 0;

  BetaColInit(f, u, ud, j, &K);
  if (!K.c) { /* zero padding: beta and the moments of column j vanish */
    ColumnBetaAVX2(f, u, ud, j, NULL);
    ColumnRzAVX2(f, u, ud, i, lam, fo);
    return;
  }
  for (; m + 4 <= M; m += 4) {
    __m256d a1, a2, br, g, r, t;

    br = BetaBlock4(&K, m, &a1, &a2); /* beta of column j (as ColumnBetaAVX2) */
    { /* R_z of column i (as ColumnRzAVX2), with column j's beta and moments from the registers */
      const __m256d b = _mm256_load_pd(B + m), bl = _mm256_load_pd(Bl + m), a2c = _mm256_load_pd(A2 + m);

      t = _mm256_fmsub_pd(a1, br, _mm256_mul_pd(_mm256_load_pd(A1l + m), bl));
      r = _mm256_fmadd_pd(_mm256_load_pd(A2l + m), bl, _mm256_fnmadd_pd(_mm256_mul_pd(two, a2c), b, _mm256_mul_pd(a2, br)));
      g = _mm256_fmadd_pd(vc2, r, _mm256_fnmadd_pd(vc1, t, _mm256_mul_pd(_mm256_load_pd(A0 + m), b)));
      r = _mm256_fnmadd_pd(_mm256_load_pd(D + m), g, _mm256_mul_pd(_mm256_fnmadd_pd(vrho, b, _mm256_loadu_pd(B + m - 1)), vih));
      __builtin_prefetch(fo + 4 * m + 128, 1, 3); /* the lines of F 32 points ahead, for writing */
      __builtin_prefetch(fo + 4 * m + 136, 1, 3);
      Store4x4(fo + 4 * m, r, _mm256_load_pd(F0 + m), _mm256_load_pd(F1 + m), _mm256_load_pd(F2 + m));
    }
  }
  BetaTail(&K, m, M); /* the last depths of beta of column j, then of R_z of column i */
  RzTail(f, i, m, K.B, K.A1, K.A2, lam, fo);
}
#endif

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
  PetscFunctionBeginUser;
  (void)ts;
  (void)t;
#if defined(BBD_RESIDUAL_AVX2)
  if (((BbdField)ctx)->avx2) {
    PetscCall(BbdFieldResidualPass((BbdField)ctx, U, Udot, F, ColumnActivationAVX2, ColumnBetaFirstAVX2, ColumnBetaRzAVX2));
    PetscFunctionReturn(0);
  }
#endif
  PetscCall(BbdFieldResidualPass((BbdField)ctx, U, Udot, F, ColumnActivation, ColumnBeta, ColumnRz));
  PetscFunctionReturn(0);
}
