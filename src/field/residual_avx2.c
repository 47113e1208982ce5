/* The AVX2/FMA column kernels of the lattice flow residual (residual.c; -bbd_residual_avx2). */
#include "residual_avx2.h"
#if defined(BBD_RESIDUAL_AVX2)
  #include "core/tanh4.h"

/* The same residual for tanh, P = 2 (dof 4: z, a_0, a_1, a_2 per point), four depths at a time in
   AVX2 registers. Each kernel reads the interleaved points of a column once, four points (16
   doubles) at a time, and takes the dofs apart with unpack instructions (a 4 x 4 transpose); what
   the later kernels need of a column (sigma, sigma', sigma' z', z', beta, a_j, R_aj) goes into the
   contiguous window slots above, so no kernel transposes a column twice. act: sigma = tanh z
   (BbdTanh4, src/tanh4.h) straight from the column, sigma' = 1 - sigma^2 in the same loop; mid: beta and
   R_a; last: R_z, and the whole owned column of F is stored once, four points at a time. The
   beta step of column i + 1 and the R_z step of column i run in one loop (BbdFieldColumnBetaRzAVX2).
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
__attribute__((target("avx2,fma"))) void BbdFieldColumnActivationAVX2(BbdField f, const PetscScalar *u, const PetscScalar *ud, PetscInt i)
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

/* The beta step of one column j, shared by ColumnBetaAVX2 and the merged BbdFieldColumnBetaRzAVX2: its
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
   computed by BbdFieldColumnBetaRzAVX2 in the loop that computes R_z of the column before */
__attribute__((target("avx2,fma"))) void BbdFieldColumnBetaFirstAVX2(BbdField f, const PetscScalar *u, const PetscScalar *ud, PetscInt i, PetscScalar *fo)
{
  if (i <= f->ys) ColumnBetaAVX2(f, u, ud, i, fo);
}

/* last of the merged kernels: beta (with a_j, R_aj) of column i + 1 and R_z of the owned column i
   in one loop over the depths (beta of column i + 1 at depths m..m+3 is all R_z of column i needs
   of it there), and the whole owned column of F stored once */
__attribute__((target("avx2,fma"))) void BbdFieldColumnBetaRzAVX2(BbdField f, const PetscScalar *u, const PetscScalar *ud, PetscInt i, PetscReal lam, PetscScalar *fo)
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
