/* Losses on the network output (docs/theory.md, section 2), one operations table per loss
   (src/core/lossimpl.h; adding a loss: docs/developing-loss.md).

   With cell weight w (dense: 1; field: dy) and n output units:
     mse:   l = w/2 sum_i (Z_i - Y_i)^2             lam_i = Z_i - Y_i
     ce:    l = -w sum_i Y_i log p_i                lam_i = (w sum_k Y_k) p_i - Y_i
     kl:    l =  w sum_i Y_i log(Y_i / p_i)         lam_i = (w sum_k Y_k) p_i - Y_i
     hinge: l =  w sum_i max(0, 1 - Y_i Z_i)        lam_i = -Y_i if Y_i Z_i < 1, else 0
   where p_i = exp(Z_i) / (w sum_k exp(Z_k)) is the softmax DENSITY (w sum p = 1),
   lam_i = (1/w) dl/dZ_i is the gradient per unit width, 0 log 0 = 0, and the
   hinge subgradient at the kink Y Z = 1 is 0.

   log p_i = (Z_i - Zmax) - log(w sum_k exp(Z_k - Zmax)): shifting by the
   maximum keeps every exponent <= 0, so nothing overflows for large Z.

   Hessians d lam_j / dZ_k: mse delta_jk; ce, kl sumY q_j (delta_jk - q_k) with the softmax
   q = w p (sum q = 1) and sumY = sum_k Y_k; hinge 0 away from the kinks. */
#include "lossimpl.h"

const char *const BbdLosses[] = {"mse", "ce", "kl", "hinge", "BbdLoss", "BBD_LOSS_", NULL};

/* ---- shared pieces ---- */

static inline PetscErrorCode CheckFinite(MPI_Comm comm, const char *what, PetscInt i, PetscReal y)
{
  PetscFunctionBeginUser;
  PetscCheck(!PetscIsInfOrNanReal(y), comm, PETSC_ERR_USER_INPUT, "%s: entry %" PetscInt_FMT " is NaN or Inf (targets must be finite)", what, i);
  PetscFunctionReturn(0);
}

/* one-hot: on for class c, off elsewhere */
static inline void OneHot(PetscInt n, PetscInt c, PetscReal on, PetscReal off, PetscReal *Y)
{
  for (PetscInt i = 0; i < n; i++) Y[i] = i == c ? on : off;
}

/* ---- mse ---- */

static PetscReal MseEval(PetscInt n, PetscReal w, const PetscReal *Z, const PetscReal *Y, PetscReal *lam)
{
  PetscReal l = 0;

  for (PetscInt i = 0; i < n; i++) {
    l += 0.5 * (Z[i] - Y[i]) * (Z[i] - Y[i]);
    if (lam) lam[i] = Z[i] - Y[i];
  }
  return w * l;
}

static PetscReal MseHessianEntry(PetscInt n, const PetscReal *H, PetscReal eta, PetscInt j, PetscInt k)
{
  (void)n, (void)H, (void)j, (void)k;
  return eta; /* d lam_j / dZ_j = 1 */
}

static PetscErrorCode MseCheckTarget(MPI_Comm comm, const char *what, PetscInt n, PetscReal w, const PetscReal *Y)
{
  PetscFunctionBeginUser;
  (void)w;
  for (PetscInt i = 0; i < n; i++) PetscCall(CheckFinite(comm, what, i, Y[i]));
  PetscFunctionReturn(0);
}

/* interpolated like the fields */
static PetscErrorCode MseInterpTarget(PetscInt N, const PetscReal *src, PetscInt NY, PetscBool periodic, PetscReal *dst)
{
  PetscFunctionBeginUser;
  PetscCall(BbdInterpY(N, src, NY, periodic, dst));
  PetscFunctionReturn(0);
}

static void MseShapeTarget(PetscInt n, PetscReal w, PetscReal *Y)
{
  (void)n, (void)w, (void)Y; /* every finite target is one */
}

static void MseLabelTarget(PetscInt n, PetscReal w, PetscInt c, PetscReal *Y)
{
  (void)w;
  OneHot(n, c, 1, 0, Y);
}

static const BbdLossOps LossMse = {"mse", MseEval, BBD_HESSIAN_DIAGONAL, NULL, MseHessianEntry, NULL, MseCheckTarget, MseInterpTarget, MseShapeTarget, MseLabelTarget};

/* ---- ce and kl: the same gradient and Hessian, values differing by sum Y log Y ---- */

static inline PetscReal SoftmaxEval(PetscBool kl, PetscInt n, PetscReal w, const PetscReal *Z, const PetscReal *Y, PetscReal *lam)
{
  PetscReal l = 0, zmax = PETSC_MIN_REAL, sumexp = 0, sumy = 0, logw;

  for (PetscInt i = 0; i < n; i++) zmax = PetscMax(zmax, Z[i]);
  for (PetscInt i = 0; i < n; i++) {
    sumexp += PetscExpReal(Z[i] - zmax);
    sumy += Y[i];
  }
  logw = PetscLogReal(w * sumexp); /* log p_i = Z_i - zmax - logw */
  for (PetscInt i = 0; i < n; i++) {
    const PetscReal logp = Z[i] - zmax - logw;

    if (Y[i] != 0) l += !kl ? -Y[i] * logp : Y[i] * (PetscLogReal(Y[i]) - logp);
    if (lam) lam[i] = w * sumy * PetscExpReal(logp) - Y[i];
  }
  return w * l;
}

static PetscReal CeEval(PetscInt n, PetscReal w, const PetscReal *Z, const PetscReal *Y, PetscReal *lam)
{
  return SoftmaxEval(PETSC_FALSE, n, w, Z, Y, lam);
}

static PetscReal KlEval(PetscInt n, PetscReal w, const PetscReal *Z, const PetscReal *Y, PetscReal *lam)
{
  return SoftmaxEval(PETSC_TRUE, n, w, Z, Y, lam);
}

/* H = (q, sumY): q the softmax of Z (sum q = 1; q = w p), sumY = sum_k Y_k */
static void SoftmaxLinearise(PetscInt n, PetscReal w, const PetscReal *Z, const PetscReal *Y, PetscReal *H)
{
  PetscReal zmax = PETSC_MIN_REAL, sum = 0;

  (void)w;
  for (PetscInt i = 0; i < n; i++) zmax = PetscMax(zmax, Z[i]);
  for (PetscInt i = 0; i < n; i++) sum += (H[i] = PetscExpReal(Z[i] - zmax));
  for (PetscInt i = 0; i < n; i++) H[i] /= sum;
  H[n] = 0;
  for (PetscInt i = 0; i < n; i++) H[n] += Y[i];
}

/* lam_j = sumY q_j - Y_j: d lam_j / dZ_k = sumY q_j (delta_jk - q_k) */
static PetscReal SoftmaxHessianEntry(PetscInt n, const PetscReal *H, PetscReal eta, PetscInt j, PetscInt k)
{
  return eta * H[n] * H[j] * ((k == j ? 1 : 0) - H[k]);
}

/* d lam_j = sumY q_j (dZ_j - q . dZ) */
static void SoftmaxHessVec(PetscInt n, const PetscReal *H, PetscReal eta, const PetscReal *dZ, PetscInt j0, PetscInt m, PetscReal *out)
{
  PetscReal qdz = 0;

  for (PetscInt i = 0; i < n; i++) qdz += H[i] * dZ[i];
  for (PetscInt j = 0; j < m; j++) out[j] = eta * H[n] * H[j0 + j] * (dZ[j0 + j] - qdz);
}

/* a density: Y >= 0, w sum Y = 1 (within 1e-6) */
static inline PetscErrorCode DensityCheckTarget(const char *name, MPI_Comm comm, const char *what, PetscInt n, PetscReal w, const PetscReal *Y)
{
  PetscReal sum = 0;

  PetscFunctionBeginUser;
  for (PetscInt i = 0; i < n; i++) {
    PetscCall(CheckFinite(comm, what, i, Y[i]));
    PetscCheck(Y[i] >= 0, comm, PETSC_ERR_USER_INPUT, "%s: entry %" PetscInt_FMT " is %g < 0, but loss %s needs a density (Y >= 0, w sum Y = 1)", what, i, (double)Y[i], name);
    sum += Y[i];
  }
  PetscCheck(PetscAbsReal(w * sum - 1) <= 1e-6, comm, PETSC_ERR_USER_INPUT, "%s: w sum Y = %.10g with w = %g, but loss %s needs a density (w sum Y = 1 within 1e-6)", what, (double)(w * sum), (double)w, name);
  PetscFunctionReturn(0);
}

static PetscErrorCode CeCheckTarget(MPI_Comm comm, const char *what, PetscInt n, PetscReal w, const PetscReal *Y)
{
  return DensityCheckTarget("ce", comm, what, n, w, Y);
}

static PetscErrorCode KlCheckTarget(MPI_Comm comm, const char *what, PetscInt n, PetscReal w, const PetscReal *Y)
{
  return DensityCheckTarget("kl", comm, what, n, w, Y);
}

/* the density interpolated, clipped at 0 and rescaled to unit mass (dy sum Y = 1 with dy = 1/NY) */
static inline PetscErrorCode DensityInterpTarget(const char *name, PetscInt N, const PetscReal *src, PetscInt NY, PetscBool periodic, PetscReal *dst)
{
  PetscReal sum = 0;

  PetscFunctionBeginUser;
  PetscCall(BbdInterpY(N, src, NY, periodic, dst));
  for (PetscInt j = 0; j < NY; j++) sum += (dst[j] = PetscMax(dst[j], 0));
  PetscCheck(sum > 0, PETSC_COMM_SELF, PETSC_ERR_USER_INPUT, "a target density of loss %s vanishes on the %" PetscInt_FMT "-point grid", name, NY);
  for (PetscInt j = 0; j < NY; j++) dst[j] *= NY / sum;
  PetscFunctionReturn(0);
}

static PetscErrorCode CeInterpTarget(PetscInt N, const PetscReal *src, PetscInt NY, PetscBool periodic, PetscReal *dst)
{
  return DensityInterpTarget("ce", N, src, NY, periodic, dst);
}

static PetscErrorCode KlInterpTarget(PetscInt N, const PetscReal *src, PetscInt NY, PetscBool periodic, PetscReal *dst)
{
  return DensityInterpTarget("kl", N, src, NY, periodic, dst);
}

/* the softmax density p_i = exp(Y_i) / (w sum_k exp(Y_k)) of the raw target */
static void SoftmaxShapeTarget(PetscInt n, PetscReal w, PetscReal *Y)
{
  PetscReal ymax = Y[0], sum = 0;

  for (PetscInt i = 1; i < n; i++) ymax = PetscMax(ymax, Y[i]);
  for (PetscInt i = 0; i < n; i++) sum += (Y[i] = PetscExpReal(Y[i] - ymax));
  for (PetscInt i = 0; i < n; i++) Y[i] /= w * sum;
}

/* the point mass 1/w on class c (w = 1 in the dense family: the one-hot vector) */
static void SoftmaxLabelTarget(PetscInt n, PetscReal w, PetscInt c, PetscReal *Y)
{
  OneHot(n, c, 1 / w, 0, Y);
}

static const BbdLossOps LossCe = {"ce", CeEval, BBD_HESSIAN_DENSE, SoftmaxLinearise, SoftmaxHessianEntry, SoftmaxHessVec, CeCheckTarget, CeInterpTarget, SoftmaxShapeTarget, SoftmaxLabelTarget};
static const BbdLossOps LossKl = {"kl", KlEval, BBD_HESSIAN_DENSE, SoftmaxLinearise, SoftmaxHessianEntry, SoftmaxHessVec, KlCheckTarget, KlInterpTarget, SoftmaxShapeTarget, SoftmaxLabelTarget};

/* ---- hinge ---- */

static PetscReal HingeEval(PetscInt n, PetscReal w, const PetscReal *Z, const PetscReal *Y, PetscReal *lam)
{
  PetscReal l = 0;

  for (PetscInt i = 0; i < n; i++) {
    const PetscReal margin = 1 - Y[i] * Z[i];

    if (margin > 0) l += margin;
    if (lam) lam[i] = margin > 0 ? -Y[i] : 0;
  }
  return w * l;
}

static PetscErrorCode HingeCheckTarget(MPI_Comm comm, const char *what, PetscInt n, PetscReal w, const PetscReal *Y)
{
  PetscFunctionBeginUser;
  (void)w;
  for (PetscInt i = 0; i < n; i++) {
    PetscCall(CheckFinite(comm, what, i, Y[i]));
    PetscCheck(Y[i] == 1 || Y[i] == -1, comm, PETSC_ERR_USER_INPUT, "%s: entry %" PetscInt_FMT " is %g, but loss hinge needs targets +1 or -1", what, i, (double)Y[i]);
  }
  PetscFunctionReturn(0);
}

/* the label of the nearest source point */
static PetscErrorCode HingeInterpTarget(PetscInt N, const PetscReal *src, PetscInt NY, PetscBool periodic, PetscReal *dst)
{
  PetscFunctionBeginUser;
  for (PetscInt j = 0; j < NY; j++) {
    PetscInt i = (PetscInt)PetscFloorReal((PetscReal)j * N / NY + 0.5);
    i          = periodic ? i % N : PetscMin(i, N - 1);
    dst[j]     = src[i];
  }
  PetscFunctionReturn(0);
}

/* sign(Y), +1 at 0 */
static void HingeShapeTarget(PetscInt n, PetscReal w, PetscReal *Y)
{
  (void)w;
  for (PetscInt i = 0; i < n; i++) Y[i] = Y[i] >= 0 ? 1 : -1;
}

static void HingeLabelTarget(PetscInt n, PetscReal w, PetscInt c, PetscReal *Y)
{
  (void)w;
  OneHot(n, c, 1, -1, Y);
}

static const BbdLossOps LossHinge = {"hinge", HingeEval, BBD_HESSIAN_ZERO, NULL, NULL, NULL, HingeCheckTarget, HingeInterpTarget, HingeShapeTarget, HingeLabelTarget};

/* ---- the table, in the order of BbdLoss and BbdLosses[] ---- */

static const BbdLossOps *const LossTable[] = {[BBD_LOSS_MSE] = &LossMse, [BBD_LOSS_CE] = &LossCe, [BBD_LOSS_KL] = &LossKl, [BBD_LOSS_HINGE] = &LossHinge};
#define NLOSS ((PetscInt)(sizeof(LossTable) / sizeof(LossTable[0])))
_Static_assert(sizeof(BbdLosses) / sizeof(BbdLosses[0]) == NLOSS + 3, "BbdLosses[] names every loss of LossTable[] (then the enum name, the prefix, NULL)");

const BbdLossOps *BbdLossGetOps(BbdLoss loss)
{
  return (PetscInt)loss >= 0 && (PetscInt)loss < NLOSS ? LossTable[loss] : NULL;
}

PetscErrorCode BbdLossFromString(MPI_Comm comm, const char *what, const char *name, BbdLoss *loss)
{
  char      valid[128] = "";
  PetscBool match;

  PetscFunctionBeginUser;
  PetscCheck(name, comm, PETSC_ERR_USER_INPUT, "%s: no loss given", what);
  for (PetscInt i = 0; i < NLOSS; i++) {
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
  return LossTable[loss]->eval(n, w, Z, Y, lam);
}

PetscErrorCode BbdLossCheckTarget(MPI_Comm comm, BbdLoss loss, const char *what, PetscInt n, PetscReal w, const PetscReal *Y)
{
  PetscFunctionBeginUser;
  PetscCall(LossTable[loss]->check_target(comm, what, n, w, Y));
  PetscFunctionReturn(0);
}

/* A target row on N points -> NY points, still a valid target of the loss (docs/theory.md
   section 15): mse interpolates like the fields; ce and kl interpolate the density, clip it at 0
   and rescale it to unit mass; hinge takes the label of the nearest source point. */
PetscErrorCode BbdInterpTargets(BbdLoss loss, PetscInt N, const PetscReal *src, PetscInt NY, PetscBool periodic, PetscReal *dst)
{
  PetscFunctionBeginUser;
  PetscCall(LossTable[loss]->interp_target(N, src, NY, periodic, dst));
  PetscFunctionReturn(0);
}
