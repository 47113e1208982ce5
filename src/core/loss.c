/* Losses on the network output (docs/theory.md, section 1).

   With cell weight w (dense: 1; field: dy) and n output units:
     mse:   l = w/2 sum_i (Z_i - Y_i)^2             lam_i = Z_i - Y_i
     ce:    l = -w sum_i Y_i log p_i                lam_i = (w sum_k Y_k) p_i - Y_i
     kl:    l =  w sum_i Y_i log(Y_i / p_i)         lam_i = (w sum_k Y_k) p_i - Y_i
     hinge: l =  w sum_i max(0, 1 - Y_i Z_i)        lam_i = -Y_i if Y_i Z_i < 1, else 0
   where p_i = exp(Z_i) / (w sum_k exp(Z_k)) is the softmax DENSITY (w sum p = 1),
   lam_i = (1/w) dl/dZ_i is the gradient per unit width, 0 log 0 = 0, and the
   hinge subgradient at the kink Y Z = 1 is 0.

   log p_i = (Z_i - Zmax) - log(w sum_k exp(Z_k - Zmax)): shifting by the
   maximum keeps every exponent <= 0, so nothing overflows for large Z. */
#include <bbdimpl.h>

const char *const BbdLosses[] = {"mse", "ce", "kl", "hinge", "BbdLoss", "BBD_LOSS_", NULL};

PetscErrorCode BbdLossFromString(MPI_Comm comm, const char *what, const char *name, BbdLoss *loss)
{
  char      valid[128] = "";
  PetscBool match;

  PetscFunctionBeginUser;
  PetscCheck(name, comm, PETSC_ERR_USER_INPUT, "%s: no loss given", what);
  for (PetscInt i = 0; i <= (PetscInt)BBD_LOSS_HINGE; i++) {
    PetscCall(PetscStrcasecmp(name, BbdLosses[i], &match));
    if (match) {
      *loss = (BbdLoss)i;
      PetscFunctionReturn(0);
    }
    PetscCall(PetscStrlcat(valid, i ? ", " : "", sizeof(valid)));
    PetscCall(PetscStrlcat(valid, BbdLosses[i], sizeof(valid)));
  }
  SETERRQ(comm, PETSC_ERR_USER_INPUT, "%s: unknown loss \"%s\"; valid names: %s", what, name, valid);
}

PetscReal BbdLossEval(BbdLoss loss, PetscInt n, PetscReal w, const PetscReal *Z, const PetscReal *Y, PetscReal *lam)
{
  PetscReal l = 0;

  switch (loss) {
  case BBD_LOSS_MSE:
    for (PetscInt i = 0; i < n; i++) {
      l += 0.5 * (Z[i] - Y[i]) * (Z[i] - Y[i]);
      if (lam) lam[i] = Z[i] - Y[i];
    }
    break;
  case BBD_LOSS_CE:
  case BBD_LOSS_KL: {
    PetscReal zmax = PETSC_MIN_REAL, sumexp = 0, sumy = 0, logw;

    for (PetscInt i = 0; i < n; i++) zmax = PetscMax(zmax, Z[i]);
    for (PetscInt i = 0; i < n; i++) {
      sumexp += PetscExpReal(Z[i] - zmax);
      sumy += Y[i];
    }
    logw = PetscLogReal(w * sumexp); /* log p_i = Z_i - zmax - logw */
    for (PetscInt i = 0; i < n; i++) {
      const PetscReal logp = Z[i] - zmax - logw;

      if (Y[i] != 0) l += loss == BBD_LOSS_CE ? -Y[i] * logp : Y[i] * (PetscLogReal(Y[i]) - logp);
      if (lam) lam[i] = w * sumy * PetscExpReal(logp) - Y[i];
    }
  } break;
  case BBD_LOSS_HINGE:
    for (PetscInt i = 0; i < n; i++) {
      const PetscReal margin = 1 - Y[i] * Z[i];

      if (margin > 0) l += margin;
      if (lam) lam[i] = margin > 0 ? -Y[i] : 0;
    }
    break;
  }
  return w * l;
}

PetscErrorCode BbdLossCheckTarget(MPI_Comm comm, BbdLoss loss, const char *what, PetscInt n, PetscReal w, const PetscReal *Y)
{
  PetscReal sum = 0;

  PetscFunctionBeginUser;
  for (PetscInt i = 0; i < n; i++) {
    PetscCheck(!PetscIsInfOrNanReal(Y[i]), comm, PETSC_ERR_USER_INPUT, "%s: entry %" PetscInt_FMT " is NaN or Inf (targets must be finite)", what, i);
    switch (loss) {
    case BBD_LOSS_MSE:
      break;
    case BBD_LOSS_CE:
    case BBD_LOSS_KL:
      PetscCheck(Y[i] >= 0, comm, PETSC_ERR_USER_INPUT, "%s: entry %" PetscInt_FMT " is %g < 0, but loss %s needs a density (Y >= 0, w sum Y = 1)", what, i, (double)Y[i], BbdLosses[loss]);
      sum += Y[i];
      break;
    case BBD_LOSS_HINGE:
      PetscCheck(Y[i] == 1 || Y[i] == -1, comm, PETSC_ERR_USER_INPUT, "%s: entry %" PetscInt_FMT " is %g, but loss hinge needs targets +1 or -1", what, i, (double)Y[i]);
      break;
    }
  }
  if (loss == BBD_LOSS_CE || loss == BBD_LOSS_KL)
    PetscCheck(PetscAbsReal(w * sum - 1) <= 1e-6, comm, PETSC_ERR_USER_INPUT, "%s: w sum Y = %.10g with w = %g, but loss %s needs a density (w sum Y = 1 within 1e-6)", what, (double)(w * sum), (double)w, BbdLosses[loss]);
  PetscFunctionReturn(0);
}
