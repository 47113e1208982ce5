/* Coarse-graining and interpolation of field-family states between grids (docs/theory.md
   section 15). Every map is linear and written as a dense weight matrix W [nt][ns]:
     depth (and non-periodic width): cubic Lagrange interpolation on the uniform source nodes
       x_m = m hs, m = 0..ns-1, through the four nodes around the target (one-sided next to the
       ends, which also extrapolates past the last node); exact for cubic polynomials, error
       O(hs^4) for smooth fields;
     periodic width: the trigonometric interpolant of the N samples at y_i = i/N, evaluated at
       y_j = j/NY through the periodic sinc kernel (the Nyquist mode of even N split evenly
       between +-N/2, i.e. as cos(pi N y)); exact for trigonometric polynomials below Nyquist.
   A target that is a source node gets weight 1 there and 0 elsewhere (injection: the value is
   copied exactly). */
#include "bbdimpl.h"

/* relative distance below which a target coincides with a source node */
#define BBD_NODE_TOL 1e-9

PetscErrorCode BbdInterpWeightsCubic(PetscInt ns, PetscReal hs, PetscInt nt, const PetscReal *xt, PetscReal *W)
{
  const PetscInt np = PetscMin(4, ns);

  PetscFunctionBeginUser;
  PetscCheck(ns >= 1 && nt >= 1 && hs > 0, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "interpolation from %" PetscInt_FMT " nodes to %" PetscInt_FMT " points", ns, nt);
  PetscCall(PetscArrayzero(W, (size_t)nt * ns));
  for (PetscInt k = 0; k < nt; k++) {
    const PetscReal u = xt[k] / hs;
    const PetscReal m = PetscFloorReal(u + 0.5);
    PetscInt        s;

    if (PetscAbsReal(u - m) <= BBD_NODE_TOL && m >= 0 && m < ns) { /* injection */
      W[k * ns + (PetscInt)m] = 1;
      continue;
    }
    s = (PetscInt)PetscFloorReal(u) - (np - 1) / 2; /* np = 4: nodes floor(u)-1 .. floor(u)+2 */
    s = PetscMax(0, PetscMin(s, ns - np));
    for (PetscInt p = 0; p < np; p++) {
      PetscReal w = 1;
      for (PetscInt q = 0; q < np; q++)
        if (q != p) w *= (u - (PetscReal)(s + q)) / (PetscReal)(p - q);
      W[k * ns + s + p] = w;
    }
  }
  PetscFunctionReturn(0);
}

PetscErrorCode BbdInterpWeightsPeriodic(PetscInt N, PetscInt NY, PetscReal *W)
{
  PetscFunctionBeginUser;
  PetscCheck(N >= 1 && NY >= 1, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "interpolation from %" PetscInt_FMT " to %" PetscInt_FMT " width points", N, NY);
  PetscCall(PetscArrayzero(W, (size_t)NY * N));
  for (PetscInt j = 0; j < NY; j++) {
    const long long jn = (long long)j * N;
    if (jn % NY == 0) { /* y_j = j/NY is the source node jN/NY */
      W[j * N + jn / NY] = 1;
      continue;
    }
    for (PetscInt i = 0; i < N; i++) {
      /* s = y_j - y_i = r / (N NY), r = jN - i NY (exact integers, never a multiple of NY) */
      const long long r   = jn - (long long)i * NY;
      const long long r2  = ((r % (2 * NY)) + 2 * NY) % (2 * NY); /* sin(N pi s) = sin(pi r / NY) */
      const PetscReal num = PetscSinReal(PETSC_PI * (PetscReal)r2 / NY), ps = PETSC_PI * (PetscReal)r / ((PetscReal)N * NY);
      W[j * N + i]        = N % 2 ? num / (N * PetscSinReal(ps)) : num / (N * PetscTanReal(ps));
    }
  }
  PetscFunctionReturn(0);
}

PetscErrorCode BbdInterpWeightsY(PetscInt N, PetscInt NY, PetscBool periodic, PetscReal *W)
{
  PetscReal *y;

  PetscFunctionBeginUser;
  if (periodic) {
    PetscCall(BbdInterpWeightsPeriodic(N, NY, W));
    PetscFunctionReturn(0);
  }
  PetscCall(PetscMalloc1(NY, &y));
  for (PetscInt j = 0; j < NY; j++) y[j] = (PetscReal)j / NY;
  PetscCall(BbdInterpWeightsCubic(N, 1.0 / N, NY, y, W));
  PetscCall(PetscFree(y));
  PetscFunctionReturn(0);
}

void BbdInterpApply(PetscInt nt, PetscInt ns, const PetscReal *W, PetscInt outer, PetscInt inner, const PetscReal *src, PetscReal *dst)
{
  for (PetscInt o = 0; o < outer; o++)
    for (PetscInt k = 0; k < nt; k++) {
      PetscReal *d = dst + ((size_t)o * nt + k) * inner;
      for (PetscInt c = 0; c < inner; c++) d[c] = 0;
      for (PetscInt m = 0; m < ns; m++) {
        const PetscReal  w = W[(size_t)k * ns + m];
        const PetscReal *s = src + ((size_t)o * ns + m) * inner;
        if (w == 0) continue; /* injection copies exactly; cubic rows are sparse */
        if (w == 1) {
          for (PetscInt c = 0; c < inner; c++) d[c] += s[c];
        } else {
          for (PetscInt c = 0; c < inner; c++) d[c] += w * s[c];
        }
      }
    }
}

PetscErrorCode BbdInterpY(PetscInt N, const PetscReal *src, PetscInt NY, PetscBool periodic, PetscReal *dst)
{
  PetscReal *W;

  PetscFunctionBeginUser;
  PetscCall(PetscMalloc1((size_t)NY * N, &W));
  PetscCall(BbdInterpWeightsY(N, NY, periodic, W));
  BbdInterpApply(NY, N, W, 1, 1, src, dst);
  PetscCall(PetscFree(W));
  PetscFunctionReturn(0);
}

PetscErrorCode BbdInterpX(PetscInt ns, PetscReal hs, const PetscReal *src, PetscInt nt, const PetscReal *xt, PetscReal *dst)
{
  PetscReal *W;

  PetscFunctionBeginUser;
  PetscCall(PetscMalloc1((size_t)nt * ns, &W));
  PetscCall(BbdInterpWeightsCubic(ns, hs, nt, xt, W));
  BbdInterpApply(nt, ns, W, 1, 1, src, dst);
  PetscCall(PetscFree(W));
  PetscFunctionReturn(0);
}

/* nf fields [ns][N] on (x_m = m hs, y_i = i/N) -> [nt][NY] on (xt[k], y_j = j/NY): width first
   (each source depth row), then depth (each target width column) */
PetscErrorCode BbdInterpGrid(PetscInt nf, PetscInt ns, PetscReal hs, PetscInt N, const PetscReal *src, PetscInt nt, const PetscReal *xt, PetscInt NY, PetscBool periodic, PetscReal *dst)
{
  PetscReal *Wy, *Wx, *tmp;

  PetscFunctionBeginUser;
  PetscCall(PetscMalloc3((size_t)NY * N, &Wy, (size_t)nt * ns, &Wx, (size_t)nf * ns * NY, &tmp));
  PetscCall(BbdInterpWeightsY(N, NY, periodic, Wy));
  PetscCall(BbdInterpWeightsCubic(ns, hs, nt, xt, Wx));
  BbdInterpApply(NY, N, Wy, nf * ns, 1, src, tmp);
  BbdInterpApply(nt, ns, Wx, nf, NY, tmp, dst);
  PetscCall(PetscFree3(Wy, Wx, tmp));
  PetscFunctionReturn(0);
}
