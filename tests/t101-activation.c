static const char help[] = "t101: activation derivatives against finite differences, stability, name parsing.\n";

/* sigma' is checked against the central difference of sigma, sigma'' against
   the central difference of sigma', and sigma''' (BbdActivationEval3) against
   that of sigma'', with step h = 1e-5 at 100 points in [-4, 4] (none closer
   than 0.04 to relu's kink at 0). The central-difference error is
   h^2/6 |f'''| + eps |f| / h <= 1e-10 * 3 + 2.2e-16 * 4 / 1e-5 ~ 4e-10 for these
   functions (|f'''| <= 16 on [-4, 4]: for f = sigma'' it is sigma^(5), largest
   for tanh at 0; |f| <= 4), so a tolerance of 1e-8 (1 + |f'|) has a margin of
   ~25 but still catches any wrong formula (a wrong term is O(1e-2) or larger
   somewhere on the grid). */
#include "bbdtest.h"



int main(int argc, char **argv)
{
  const PetscReal h = 1e-5, tol = 1e-8;
  const PetscInt  npt = 100;

  PetscCall(PetscInitialize(&argc, &argv, NULL, help));
  for (PetscInt a = 0; a <= BBD_ACT_RELU; a++) {
    for (PetscInt k = 0; k < npt; k++) {
      const PetscReal z[3] = {-4 + 8 * (k + 0.5) / npt - h, -4 + 8 * (k + 0.5) / npt, -4 + 8 * (k + 0.5) / npt + h};
      PetscReal       s[3], d1[3], d2[3], d3[3], fd1, fd2, fd3;

      BbdActivationEval((BbdActivation)a, 3, z, s, d1, d2);
      BbdActivationEval3((BbdActivation)a, 3, z, d3);
      fd1 = (s[2] - s[0]) / (2 * h);
      fd2 = (d1[2] - d1[0]) / (2 * h);
      fd3 = (d2[2] - d2[0]) / (2 * h);
      CHECK(PetscAbsReal(fd1 - d1[1]) <= tol * (1 + PetscAbsReal(d1[1])), "%s: sigma'(%g) = %.12g, finite difference %.12g", BbdActivations[a], (double)z[1], (double)d1[1], (double)fd1);
      CHECK(PetscAbsReal(fd2 - d2[1]) <= tol * (1 + PetscAbsReal(d2[1])), "%s: sigma''(%g) = %.12g, finite difference %.12g", BbdActivations[a], (double)z[1], (double)d2[1], (double)fd2);
      CHECK(PetscAbsReal(fd3 - d3[1]) <= tol * (1 + PetscAbsReal(d3[1])), "%s: sigma'''(%g) = %.12g, finite difference of sigma'' %.12g", BbdActivations[a], (double)z[1], (double)d3[1], (double)fd3);
    }
    { /* large |z|: finite values with the right asymptotes; NULL outputs allowed */
      const PetscReal zb[2] = {-800, 800};
      PetscReal       s[2], d1[2], d2[2], d3[2];

      BbdActivationEval((BbdActivation)a, 2, zb, s, NULL, NULL);
      BbdActivationEval((BbdActivation)a, 2, zb, NULL, d1, d2);
      BbdActivationEval3((BbdActivation)a, 2, zb, d3);
      for (PetscInt i = 0; i < 2; i++) CHECK(!PetscIsInfOrNanReal(s[i]) && !PetscIsInfOrNanReal(d1[i]) && !PetscIsInfOrNanReal(d2[i]) && !PetscIsInfOrNanReal(d3[i]), "%s: not finite at z = %g", BbdActivations[a], (double)zb[i]);
    }
  }
  { /* exact values and asymptotes; relative tolerance 1e-14 is a few ulps */
    const PetscReal z[4] = {1, -800, 800, 0};
    PetscReal       s[4], d1[4], d2[4];

    BbdActivationEval(BBD_ACT_GELU, 1, z, s, NULL, NULL);
    CHECK(PetscAbsReal(s[0] - 0.8413447460685429) <= 1e-14, "gelu(1) = %.17g, expected 0.8413447460685429 (exact erf form)", (double)s[0]);
    BbdActivationEval(BBD_ACT_SOFTPLUS, 3, z, s, d1, NULL);
    CHECK(PetscAbsReal(s[0] - PetscLogReal(1 + PetscExpReal(1.0))) <= 1e-14 && s[1] >= 0 && s[1] < 1e-300 && s[2] == 800 && d1[2] == 1, "softplus: wrong value or asymptote: %g %g %g", (double)s[0], (double)s[1], (double)s[2]);
    BbdActivationEval(BBD_ACT_SIGMOID, 3, z, s, d1, NULL);
    CHECK(s[1] >= 0 && s[1] < 1e-300 && s[2] == 1 && d1[2] == 0, "sigmoid: wrong asymptote: %g %g", (double)s[1], (double)s[2]);
    BbdActivationEval(BBD_ACT_RELU, 4, z, s, d1, d2);
    CHECK(s[3] == 0 && d1[3] == 0 && d2[3] == 0 && d1[0] == 1 && s[1] == 0, "relu: at 0 expected (0, 0, 0), got (%g, %g, %g)", (double)s[3], (double)d1[3], (double)d2[3]);
  }
  { /* names: the PetscOptionsEnum layout, parsing every name, and refusing an unknown one */
    BbdActivation  act;
    PetscErrorCode ierr;
    PetscBool      same;
    char           msg[512] = "", *hit1, *hit2;

    PetscCall(PetscStrcmp(BbdActivations[BBD_ACT_RELU + 1], "BbdActivation", &same));
    CHECK(same && BbdActivations[BBD_ACT_RELU + 3] == NULL, "BbdActivations[] is not in PetscOptionsEnum form");
    for (PetscInt a = 0; a <= BBD_ACT_RELU; a++) {
      PetscCall(BbdActivationFromString(PETSC_COMM_SELF, "-bbd_activation", BbdActivations[a], &act));
      CHECK(act == (BbdActivation)a, "parsing \"%s\" gave %d", BbdActivations[a], (int)act);
    }
    PetscCall(PetscPushErrorHandler(CatchError, msg));
    ierr = BbdActivationFromString(PETSC_COMM_SELF, "-bbd_activation", "tanhh", &act);
    PetscCall(PetscPopErrorHandler());
    CHECK(ierr == PETSC_ERR_USER_INPUT, "unknown activation: expected error %d, got %d", PETSC_ERR_USER_INPUT, (int)ierr);
    /* the message must name the option and list the valid names */
    PetscCall(PetscStrstr(msg, "-bbd_activation", &hit1));
    PetscCall(PetscStrstr(msg, "softplus", &hit2));
    CHECK(hit1 && hit2, "unknown activation: message does not name the option and the valid names: \"%s\"", msg);
  }
  PetscCall(PetscFinalize());
  return nfail ? 1 : 0;
}
