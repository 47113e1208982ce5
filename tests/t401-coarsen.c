static const char help[] = "t401: interpolation between grids (src/coarsen.c): exactness, injection, order.\n";

/* Expectations (docs/theory.md section 15):
   * trigonometric interpolation of N samples reproduces every trigonometric polynomial below
     Nyquist (|k| < N/2) exactly, and the Nyquist mode of even N as cos(pi N y): the only error is
     rounding, a sum of N weights of size <= 1 times the coefficients, bounded by
     100 N eps sum |c_k|;
   * cubic Lagrange interpolation (and one-sided extrapolation) reproduces cubic polynomials to
     rounding (weights <= 4 in size for extrapolation by up to one node spacing: 1e-12 on values
     of size <= 10);
   * on a smooth function the error falls as hs^4: the observed order between successive
     halvings is 4 within 0.3;
   * injection: a target that is a source node gets the node's value bit for bit. */
#include "bbdtest.h"

static PetscReal Trig(PetscInt K, const PetscReal *c, const PetscReal *s, PetscReal y)
{
  PetscReal v = c[0];
  for (PetscInt k = 1; k <= K; k++) v += c[k] * PetscCosReal(2 * PETSC_PI * k * y) + s[k] * PetscSinReal(2 * PETSC_PI * k * y);
  return v;
}

/* f'''' = 1.5^4 e^{1.5 x} + sin(x + 0.3) > 0 on [0, 1]: no sign change that could make one
   resolution's error constant accidentally small */
static PetscReal Smooth(PetscReal x) { return PetscExpReal(1.5 * x) + PetscSinReal(x + 0.3); }

int main(int argc, char **argv)
{
  const PetscReal eps = PETSC_MACHINE_EPSILON;
  PetscReal       src[256], dst[256], c[64], s[64];
  unsigned long   draw = 0;

  PetscCall(PetscInitialize(&argc, &argv, NULL, help));

  /* the cubic stencil is the four nearest nodes: a target between interior nodes m and m+1 uses
     nodes m-1..m+2, with the Lagrange weights written out (midpoint: -1/16, 9/16, 9/16, -1/16;
     a quarter of the way: -7/128, 105/128, 35/128, -5/128); a stencil shifted by one node is
     still exact for cubics, so only the weights themselves show it */
  {
    const PetscReal xt[2] = {3.5 * 0.25, 2.25 * 0.25}, want[2][4] = {{-1.0 / 16, 9.0 / 16, 9.0 / 16, -1.0 / 16}, {-7.0 / 128, 105.0 / 128, 35.0 / 128, -5.0 / 128}};
    const PetscInt  first[2] = {2, 1};
    PetscReal       W[2 * 8];
    PetscCall(BbdInterpWeightsCubic(8, 0.25, 2, xt, W));
    for (PetscInt k = 0; k < 2; k++)
      for (PetscInt m = 0; m < 8; m++) {
        const PetscReal w = m >= first[k] && m < first[k] + 4 ? want[k][m - first[k]] : 0;
        CHECK(PetscAbsReal(W[k * 8 + m] - w) <= 4 * PETSC_MACHINE_EPSILON, "cubic weight of node %" PetscInt_FMT " for x = %g is %.17g, expected %.17g (the four nearest nodes)", m, (double)xt[k], (double)W[k * 8 + m], (double)w);
      }
  }

  /* spectral: exact below Nyquist, for odd and even N, onto finer, coarser and unrelated grids */
  {
    const PetscInt Ns[] = {7, 8, 12, 15}, NYs[] = {5, 9, 16, 20, 31};
    for (PetscInt a = 0; a < 4; a++)
      for (PetscInt b = 0; b < 5; b++) {
        const PetscInt N = Ns[a], NY = NYs[b], K = (N - 1) / 2; /* |k| <= K < N/2 */
        PetscReal      l1 = 0, err = 0;
        for (PetscInt k = 0; k <= K; k++) {
          c[k] = BbdRandNormal(5, 1, draw++);
          s[k] = k ? BbdRandNormal(5, 1, draw++) : 0;
          l1 += PetscAbsReal(c[k]) + PetscAbsReal(s[k]);
        }
        for (PetscInt i = 0; i < N; i++) src[i] = Trig(K, c, s, (PetscReal)i / N);
        PetscCall(BbdInterpY(N, src, NY, PETSC_TRUE, dst));
        for (PetscInt j = 0; j < NY; j++) err = PetscMax(err, PetscAbsReal(dst[j] - Trig(K, c, s, (PetscReal)j / NY)));
        CHECK(err <= 100 * N * eps * l1, "spectral N = %" PetscInt_FMT " -> NY = %" PetscInt_FMT ": error %.3e on a trigonometric polynomial below Nyquist (bound %.1e)", N, NY, (double)err, (double)(100 * N * eps * l1));
      }
    /* Nyquist mode of even N: cos(pi N y) comes back as itself, sin(pi N y) (zero samples) as 0 */
    for (PetscInt N = 4; N <= 10; N += 2) {
      PetscReal err = 0;
      for (PetscInt i = 0; i < N; i++) src[i] = PetscCosReal(PETSC_PI * i);
      PetscCall(BbdInterpY(N, src, 13, PETSC_TRUE, dst));
      for (PetscInt j = 0; j < 13; j++) err = PetscMax(err, PetscAbsReal(dst[j] - PetscCosReal(PETSC_PI * N * j / 13.0)));
      CHECK(err <= 100 * N * eps, "spectral N = %" PetscInt_FMT ": the Nyquist mode is not cos(pi N y) (error %.3e)", N, (double)err);
    }
  }

  /* injection: targets on source nodes copy the values bit for bit (random data, no structure) */
  {
    const PetscInt N = 24, NYs[] = {3, 6, 8, 12, 24, 48};
    for (PetscInt b = 0; b < 6; b++) {
      PetscBool same = PETSC_TRUE;
      for (PetscInt i = 0; i < N; i++) src[i] = BbdRandNormal(6, 1, (unsigned long)i);
      for (PetscInt per = 0; per < 2; per++) {
        PetscCall(BbdInterpY(N, src, NYs[b], (PetscBool)per, dst));
        for (PetscInt j = 0; j < NYs[b]; j++)
          if ((j * N) % NYs[b] == 0) same = (PetscBool)(same && dst[j] == src[j * N / NYs[b]]);
      }
      CHECK(same, "injection N = %" PetscInt_FMT " -> NY = %" PetscInt_FMT ": a common point's value changed", N, NYs[b]);
    }
    {
      PetscReal xt[5] = {0, 0.25, 0.5, 0.75, 1.0 - 1.0 / 12}; /* nodes m/12 of 12 (depth: m < 12) */
      PetscCall(BbdInterpX(12, 1.0 / 12, src, 5, xt, dst));
      CHECK(dst[0] == src[0] && dst[1] == src[3] && dst[2] == src[6] && dst[3] == src[9] && dst[4] == src[11], "injection in depth: a common point's value changed");
    }
  }

  /* cubic: exact for cubic polynomials, inside, near the ends and extrapolated past the last node */
  {
    const PetscInt ns = 10;
    PetscReal      xt[41], err = 0, p[4] = {0.3, -1.2, 2.5, 1.7};
    for (PetscInt k = 0; k < 41; k++) xt[k] = 1.0 * k / 40 + 0.0123 * (k % 3); /* up to 1.0246: extrapolation */
    for (PetscInt m = 0; m < ns; m++) {
      PetscReal x = m * 0.1;
      src[m]      = p[0] + x * (p[1] + x * (p[2] + x * p[3]));
    }
    PetscCall(BbdInterpX(ns, 0.1, src, 41, xt, dst));
    for (PetscInt k = 0; k < 41; k++) err = PetscMax(err, PetscAbsReal(dst[k] - (p[0] + xt[k] * (p[1] + xt[k] * (p[2] + xt[k] * p[3])))));
    CHECK(err <= 1e-12, "cubic: error %.3e on a cubic polynomial (expected rounding, <= 1e-12)", (double)err);
    /* non-periodic width uses the same cubic: a cubic in y on y_i = i/N comes back exactly */
    for (PetscInt i = 0; i < 16; i++) {
      PetscReal y = i / 16.0;
      src[i]      = p[0] + y * (p[1] + y * (p[2] + y * p[3]));
    }
    PetscCall(BbdInterpY(16, src, 23, PETSC_FALSE, dst));
    err = 0;
    for (PetscInt j = 0; j < 23; j++) {
      PetscReal y = j / 23.0;
      err         = PetscMax(err, PetscAbsReal(dst[j] - (p[0] + y * (p[1] + y * (p[2] + y * p[3])))));
    }
    CHECK(err <= 1e-12, "cubic in non-periodic width: error %.3e on a cubic polynomial", (double)err);
  }

  /* cubic: fourth-order convergence on a smooth function, on [0, 1] with nodes m/ns (m < ns):
     the midpoints (m + 1/2)/ns (interior stencils and the one-sided ones at the ends) and x = 1
     (extrapolation by one spacing, as a lattice's layers onto the continuum grid): targets at
     fixed positions relative to the nodes, so the error constant is the same at every ns */
  {
    PetscReal e[4], xt[200];
    for (PetscInt r = 0; r < 4; r++) {
      const PetscInt ns = 12 << r;
      for (PetscInt m = 0; m < ns; m++) xt[m] = (m + 0.5) / ns;
      xt[ns] = 1;
      for (PetscInt m = 0; m < ns; m++) src[m] = Smooth((PetscReal)m / ns);
      PetscCall(BbdInterpX(ns, 1.0 / ns, src, ns + 1, xt, dst));
      e[r] = 0;
      for (PetscInt k = 0; k <= ns; k++) e[r] = PetscMax(e[r], PetscAbsReal(dst[k] - Smooth(xt[k])));
    }
    for (PetscInt r = 1; r < 4; r++) {
      PetscReal order = PetscLog2Real(e[r - 1] / e[r]);
      CHECK(e[r] < e[r - 1] && PetscAbsReal(order - 4) <= 0.3, "cubic: observed order %.3f between ns = %d and %d (errors %.3e, %.3e), expected 4", (double)order, 12 << (r - 1), 12 << r, (double)e[r - 1], (double)e[r]);
    }
  }

  /* grid: tensor product (cubic in x) * (trigonometric in y) is exact on any target grid */
  {
    const PetscInt ms = 9, N = 10, nt = 7, NY = 13;
    PetscReal      xt[7], err = 0, g[2 * 9 * 10], out[2 * 7 * 13];
    for (PetscInt k = 0; k < nt; k++) xt[k] = k / 6.0;
    for (PetscInt f = 0; f < 2; f++)
      for (PetscInt m = 0; m < ms; m++)
        for (PetscInt i = 0; i < N; i++) {
          PetscReal x = (PetscReal)m / ms, y = (PetscReal)i / N;
          g[(f * ms + m) * N + i] = (1 + f + x * x * x - x) * (0.5 + PetscCosReal(2 * PETSC_PI * (2 * y + 0.1 * f)));
        }
    PetscCall(BbdInterpGrid(2, ms, 1.0 / ms, N, g, nt, xt, NY, PETSC_TRUE, out));
    for (PetscInt f = 0; f < 2; f++)
      for (PetscInt k = 0; k < nt; k++)
        for (PetscInt j = 0; j < NY; j++) {
          PetscReal x = xt[k], y = (PetscReal)j / NY;
          err         = PetscMax(err, PetscAbsReal(out[(f * nt + k) * NY + j] - (1 + f + x * x * x - x) * (0.5 + PetscCosReal(2 * PETSC_PI * (2 * y + 0.1 * f)))));
        }
    CHECK(err <= 1e-12, "grid: error %.3e on a cubic-times-trigonometric field", (double)err);
  }

  /* targets: densities stay densities (>= 0, dy sum = 1); hinge labels stay +-1 */
  {
    const PetscInt N = 16, NY = 10;
    PetscReal      sum = 0, mn = 1;
    PetscBool      ok  = PETSC_TRUE;
    for (PetscInt i = 0; i < N; i++) src[i] = i == 3 ? N : 0; /* a spike: its interpolant oscillates below 0 */
    PetscCall(BbdInterpTargets(BBD_LOSS_CE, N, src, NY, PETSC_TRUE, dst));
    for (PetscInt j = 0; j < NY; j++) sum += dst[j] / NY, mn = PetscMin(mn, dst[j]);
    CHECK(mn >= 0 && PetscAbsReal(sum - 1) <= 1e-14, "targets ce: min %g, dy sum %.16g (expected >= 0 and 1)", (double)mn, (double)sum);
    for (PetscInt i = 0; i < N; i++) src[i] = (i / 4) % 2 ? 1 : -1;
    PetscCall(BbdInterpTargets(BBD_LOSS_HINGE, N, src, 24, PETSC_TRUE, dst));
    for (PetscInt j = 0; j < 24; j++) ok = (PetscBool)(ok && (dst[j] == 1 || dst[j] == -1));
    CHECK(ok, "targets hinge: a label is not +-1");
  }
  PetscCall(PetscFinalize());
  return nfail ? 1 : 0;
}
