/* Activations sigma and their first two derivatives (docs/theory.md, section 1).

   tanh:     s = tanh z,                  s' = 1 - s^2,              s'' = -2 s s'
   erf:      s = erf z,                   s' = (2/sqrt(pi)) e^{-z^2}, s'' = -2 z s'
   sigmoid:  s = 1/(1 + e^{-z}),          s' = s (1 - s),            s'' = s' (1 - 2 s)
   softplus: s = log(1 + e^z),            s' = sigmoid(z),           s'' = sigmoid(z) sigmoid(-z)
   gelu:     s = z Phi(z),                s' = Phi(z) + z phi(z),    s'' = phi(z) (2 - z^2)
             Phi(z) = erfc(-z/sqrt 2)/2, phi(z) = e^{-z^2/2}/sqrt(2 pi)  (exact, not the tanh fit)
   swish:    s = z g, g = sigmoid(z),     s' = g + z g (1 - g),      s'' = g (1 - g) (2 + z (1 - 2 g))
   sin:      s = sin z,                   s' = cos z,                s'' = -sin z
   linear:   s = z,                       s' = 1,                    s'' = 0
   relu:     s = max(z, 0),               s' = [z > 0] (0 at the kink), s'' = 0

   Third derivatives (BbdActivationEval3, separate so that BbdActivationEval is unchanged),
   with g = sigmoid(z), gm = 1 - g, phi as above:
   tanh: -2 s' (1 - 3 s^2); erf: s' (4 z^2 - 2); sigmoid: g gm (1 - 6 g gm);
   softplus: g gm (gm - g); gelu: phi(z) z (z^2 - 4); swish: g gm (3 (gm - g) + z (1 - 6 g gm))
   (s = z g: s''' = 3 g'' + z g''' with g'' = g gm (gm - g), g''' = g gm (1 - 6 g gm));
   sin: -cos z; linear and relu: 0.

   Numerics: sigmoid is evaluated as 1/(1 + e^{-|z|}) mirrored, so e^{..} never
   overflows, and 1 - g is computed as sigmoid(-z) rather than by cancellation;
   softplus = max(z, 0) + log1p(e^{-|z|}) is exact to rounding for all z. */
#include <bbdimpl.h>

const char *const BbdActivations[] = {"tanh", "erf", "sigmoid", "softplus", "gelu", "swish", "sin", "linear", "relu", "BbdActivation", "BBD_ACT_", NULL};

/* g = sigmoid(z) and gm = 1 - g = sigmoid(-z), both to full relative accuracy */
static inline void Sigmoid2(PetscReal z, PetscReal *g, PetscReal *gm)
{
  PetscReal e = PetscExpReal(-PetscAbsReal(z)), lo = e / (1 + e), hi = 1 / (1 + e);

  *g  = z >= 0 ? hi : lo;
  *gm = z >= 0 ? lo : hi;
}

PetscErrorCode BbdActivationFromString(MPI_Comm comm, const char *what, const char *name, BbdActivation *act)
{
  char      valid[256] = "";
  PetscBool match;

  PetscFunctionBeginUser;
  PetscCheck(name, comm, PETSC_ERR_USER_INPUT, "%s: no activation given", what);
  for (PetscInt i = 0; i <= (PetscInt)BBD_ACT_RELU; i++) {
    PetscCall(PetscStrcasecmp(name, BbdActivations[i], &match));
    if (match) {
      *act = (BbdActivation)i;
      PetscFunctionReturn(0);
    }
    PetscCall(PetscStrlcat(valid, i ? ", " : "", sizeof(valid)));
    PetscCall(PetscStrlcat(valid, BbdActivations[i], sizeof(valid)));
  }
  SETERRQ(comm, PETSC_ERR_USER_INPUT, "%s: unknown activation \"%s\"; valid names: %s", what, name, valid);
}

#if defined(BBD_HAVE_LIBMVEC) && defined(__x86_64__)
  #include <immintrin.h>
/* glibc's vector math library (>= 2.35): tanh on 4 (AVX2, chosen at run time) or 2 (SSE2)
   doubles, within 4 ulp like libm.
   The activation is most of the cost of a pass through a field network. */
__m128d _ZGVbN2v_tanh(__m128d);
__m256d _ZGVdN4v_tanh(__m256d);
__attribute__((target("avx2"))) static void TanhN_AVX2(PetscInt n, const PetscReal *z, PetscReal *s)
{
  PetscInt i = 0;
  for (; i + 4 <= n; i += 4) _mm256_storeu_pd(s + i, _ZGVdN4v_tanh(_mm256_loadu_pd(z + i)));
  if (i < n) { /* the tail through the same vector routine: a value's tanh never depends on its position */
    PetscReal zt[4] = {0, 0, 0, 0}, st[4];
    for (PetscInt k = i; k < n; k++) zt[k - i] = z[k];
    _mm256_storeu_pd(st, _ZGVdN4v_tanh(_mm256_loadu_pd(zt)));
    for (PetscInt k = i; k < n; k++) s[k] = st[k - i];
  }
}
static void TanhN(PetscInt n, const PetscReal *z, PetscReal *s)
{
  static int avx2 = -1;
  PetscInt   i    = 0;

  if (avx2 < 0) avx2 = __builtin_cpu_supports("avx2") ? 1 : 0;
  if (avx2) {
    TanhN_AVX2(n, z, s);
    return;
  }
  for (; i + 2 <= n; i += 2) _mm_storeu_pd(s + i, _ZGVbN2v_tanh(_mm_loadu_pd(z + i)));
  if (i < n) {
    PetscReal zt[2] = {z[i], 0}, st[2];
    _mm_storeu_pd(st, _ZGVbN2v_tanh(_mm_loadu_pd(zt)));
    s[i] = st[0];
  }
}
#else
static void TanhN(PetscInt n, const PetscReal *z, PetscReal *s)
{
  for (PetscInt i = 0; i < n; i++) s[i] = PetscTanhReal(z[i]);
}
#endif

/* tanh, the default, without a per-entry switch */
static void EvalTanh(PetscInt n, const PetscReal *z, PetscReal *s, PetscReal *d1, PetscReal *d2)
{
  PetscReal buf[256], *v = s ? s : buf;

  if (!s && n > 256) {
    for (PetscInt i = 0; i < n; i += 256) EvalTanh(PetscMin(256, n - i), z + i, NULL, d1 ? d1 + i : NULL, d2 ? d2 + i : NULL);
    return;
  }
  TanhN(n, z, v);
  if (d1)
    for (PetscInt i = 0; i < n; i++) d1[i] = 1 - v[i] * v[i];
  if (d2)
    for (PetscInt i = 0; i < n; i++) d2[i] = -2 * v[i] * (1 - v[i] * v[i]);
}

void BbdActivationEval(BbdActivation act, PetscInt n, const PetscReal *z, PetscReal *s, PetscReal *d1, PetscReal *d2)
{
  if (act == BBD_ACT_TANH) {
    EvalTanh(n, z, s, d1, d2);
    return;
  }
  {
  const PetscReal c_erf = 2 / PetscSqrtReal(PETSC_PI), c_phi = 1 / PetscSqrtReal(2 * PETSC_PI), r2 = 1 / PetscSqrtReal(2.0);

  for (PetscInt i = 0; i < n; i++) {
    const PetscReal x = z[i];
    PetscReal       v = 0, p = 0, q = 0, g, gm, t;

    switch (act) {
    case BBD_ACT_TANH:
      v = PetscTanhReal(x);
      p = 1 - v * v;
      q = -2 * v * p;
      break;
    case BBD_ACT_ERF:
      v = PetscErfReal(x);
      p = c_erf * PetscExpReal(-x * x);
      q = -2 * x * p;
      break;
    case BBD_ACT_SIGMOID:
      Sigmoid2(x, &g, &gm);
      v = g;
      p = g * gm;
      q = p * (gm - g);
      break;
    case BBD_ACT_SOFTPLUS:
      Sigmoid2(x, &g, &gm);
      v = PetscMax(x, 0) + log1p(PetscExpReal(-PetscAbsReal(x)));
      p = g;
      q = g * gm;
      break;
    case BBD_ACT_GELU:
      t = c_phi * PetscExpReal(-0.5 * x * x);
      v = x * 0.5 * erfc(-x * r2);
      p = 0.5 * erfc(-x * r2) + x * t;
      q = t * (2 - x * x);
      break;
    case BBD_ACT_SWISH:
      Sigmoid2(x, &g, &gm);
      v = x * g;
      p = g + x * g * gm;
      q = g * gm * (2 + x * (gm - g));
      break;
    case BBD_ACT_SIN:
      v = PetscSinReal(x);
      p = PetscCosReal(x);
      q = -v;
      break;
    case BBD_ACT_LINEAR:
      v = x;
      p = 1;
      q = 0;
      break;
    case BBD_ACT_RELU:
      v = x > 0 ? x : 0;
      p = x > 0 ? 1 : 0;
      q = 0;
      break;
    }
    if (s) s[i] = v;
    if (d1) d1[i] = p;
    if (d2) d2[i] = q;
  }
  }
}

void BbdActivationEval3(BbdActivation act, PetscInt n, const PetscReal *z, PetscReal *d3)
{
  const PetscReal c_erf = 2 / PetscSqrtReal(PETSC_PI), c_phi = 1 / PetscSqrtReal(2 * PETSC_PI);

  for (PetscInt i = 0; i < n; i++) {
    const PetscReal x = z[i];
    PetscReal       q = 0, v, p, g, gm;

    switch (act) {
    case BBD_ACT_TANH:
      v = PetscTanhReal(x);
      p = 1 - v * v;
      q = -2 * p * (1 - 3 * v * v);
      break;
    case BBD_ACT_ERF:
      q = c_erf * PetscExpReal(-x * x) * (4 * x * x - 2);
      break;
    case BBD_ACT_SIGMOID:
      Sigmoid2(x, &g, &gm);
      q = g * gm * (1 - 6 * g * gm);
      break;
    case BBD_ACT_SOFTPLUS:
      Sigmoid2(x, &g, &gm);
      q = g * gm * (gm - g);
      break;
    case BBD_ACT_GELU:
      q = c_phi * PetscExpReal(-0.5 * x * x) * x * (x * x - 4);
      break;
    case BBD_ACT_SWISH:
      Sigmoid2(x, &g, &gm);
      q = g * gm * (3 * (gm - g) + x * (1 - 6 * g * gm));
      break;
    case BBD_ACT_SIN:
      q = -PetscCosReal(x);
      break;
    case BBD_ACT_LINEAR:
    case BBD_ACT_RELU:
      q = 0;
      break;
    }
    d3[i] = q;
  }
}

/* The other enum name arrays, in PetscOptionsEnum form, live here beside the
   activations so that every option-name table is in one place. */
const char *const BbdFamilies[]      = {"dense", "field", "BbdFamily", "BBD_FAMILY_", NULL};
const char *const BbdDynamicsTypes[] = {"sgd", "flow", "damped", "BbdDynamics", "BBD_DYN_", NULL};
const char *const BbdSampleOrders[]  = {"cyclic", "random", "BbdSampleOrder", "BBD_ORDER_", NULL};
