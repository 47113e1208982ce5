/* The operations of a loss: one table per loss, all of them in src/core/loss.c, so the reference
   module, the field solver's linearisations and assembled Jacobians, the interpolation of targets
   and the data builders never ask which loss they have (adding one: docs/developing-loss.md).

   Notation (loss.c): n outputs Z with targets Y and cell weight w (dense: 1; field: dy); the value
   l(Z, Y) carries the factor w, the gradient is per unit width, lam_i = (1/w) dl/dZ_i, and the
   Hessian is that of lam, d lam_j / dZ_k (so the cell weight drops out of it). */
#ifndef LOSSIMPL_H
#define LOSSIMPL_H
#include <bbdimpl.h>

/* the pattern of d lam_j / dZ_k, which decides the entries the Jacobians insert */
typedef enum {
  BBD_HESSIAN_ZERO,     /* zero almost everywhere (piecewise linear): no entries at all */
  BBD_HESSIAN_DIAGONAL, /* lam_j depends on Z_j only: the entry k = j */
  BBD_HESSIAN_DENSE     /* lam_j depends on every Z_k (softmax): the output row couples all widths */
} BbdLossHessianType;

typedef struct {
  const char *name; /* as in BbdLosses[] */
  /* w l(Z, Y), and when lam != NULL the gradient lam = (1/w) dl/dZ (n entries) */
  PetscReal (*eval)(PetscInt n, PetscReal w, const PetscReal *Z, const PetscReal *Y, PetscReal *lam);
  BbdLossHessianType hessian;
  /* the state H (n + 1 entries) the Hessian needs at (Z, Y), from all n outputs; NULL when the
     Hessian is constant (the callers then need not gather the output row) */
  void (*linearise)(PetscInt n, PetscReal w, const PetscReal *Z, const PetscReal *Y, PetscReal *H);
  /* eta d lam_j / dZ_k from the state H, for k = j (diagonal) or every k (dense); NULL for zero */
  PetscReal (*hessian_entry)(PetscInt n, const PetscReal *H, PetscReal eta, PetscInt j, PetscInt k);
  /* dense only (else NULL): out[i] = eta sum_k (d lam_(j0+i) / dZ_k) dZ_k for i < m, from the state
     H and the whole direction dZ (n entries). A diagonal loss's product is hessian_entry(j, j) dZ_j. */
  void (*hessvec)(PetscInt n, const PetscReal *H, PetscReal eta, const PetscReal *dZ, PetscInt j0, PetscInt m, PetscReal *out);
  /* refuse (PETSC_ERR_USER_INPUT, the message naming `what`) a target row that is not finite or
     not admissible for the loss */
  PetscErrorCode (*check_target)(MPI_Comm comm, const char *what, PetscInt n, PetscReal w, const PetscReal *Y);
  /* a target row on N width points y_i = i/N -> NY points, still a valid target with w = 1/NY */
  PetscErrorCode (*interp_target)(PetscInt N, const PetscReal *src, PetscInt NY, PetscBool periodic, PetscReal *dst);
  /* a raw target row (any finite reals, e.g. a teacher's output) into a valid target, in place */
  void (*shape_target)(PetscInt n, PetscReal w, PetscReal *Y);
  /* the target of class label c among n classes (one-hot in the loss's form) */
  void (*label_target)(PetscInt n, PetscReal w, PetscInt c, PetscReal *Y);
} BbdLossOps;

/* the operations of a loss; NULL past the last loss (so for (i = 0; BbdLossGetOps(i); i++) visits all) */
PETSC_INTERN const BbdLossOps *BbdLossGetOps(BbdLoss);

#endif
