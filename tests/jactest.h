/* The check shared by t502-jacobian-lattice.c and t503-jacobian-continuum.c: an assembled
   Jacobian of the residual formulation, entry by entry, against central finite differences of
   the residual (tests/fieldtest.h). */
#ifndef JACTEST_H
#define JACTEST_H
#include "fieldtest.h"

static PetscBool view; /* -view: print the figures */

/* At a state U moved from the initial one in every unknown and a random U', Newton's matrix
   J = shift dF/dU' + dF/dU (the TS's IJacobian with -bbd_jacobian assembled), column by column:
     J e_j  against  [F(U + d e_j, U' + shift d e_j) - F(U - d e_j, U' - shift d e_j)] / (2 d),
   d = eps^(1/3) max(1, max|U|), every entry of the column compared (so a missing or extra entry
   of the pattern counts like a wrong value). The central difference errs by about
   d^2 |F'''| / 6 + eps |F| / d, i.e. eps^(2/3) ~ 4e-11 times the scale of the residual's third
   derivatives and values (with the stencils' 1/dy^2 = 36 and 1/h = 4 on these grids):
   observed at most 5e-9 of the column's largest entry (lattice damped; continuum: 5e-10). The
   check asks 1e-7 of it (2700 eps^(2/3)): a wrong factor 1.01 in an entry that is 1e-5 of its
   column's largest still fails. -view prints the worst column of every configuration. */
static PetscErrorCode CheckJacobian(const char *opts, PetscReal shift)
{
  FieldTest t;
  Vec       U, Ud, e, Up, Udp, Fp, Fm, col, fd;
  PetscReal d, umax, worst = 0;
  PetscInt  lo, hi, worstj = -1;

  PetscFunctionBeginUser;
  PetscCall(FieldTestCreate(opts, &t));
  PetscCall(FieldTestState(&t, 0.3, 21, &U));
  PetscCall(FieldTestRandom(&t, 22, &Ud));
  PetscCall(VecDuplicate(U, &e));
  PetscCall(VecDuplicate(U, &Up));
  PetscCall(VecDuplicate(U, &Udp));
  PetscCall(VecDuplicate(U, &Fp));
  PetscCall(VecDuplicate(U, &Fm));
  PetscCall(VecDuplicate(U, &col));
  PetscCall(VecDuplicate(U, &fd));
  PetscCall(FieldTestJacobian(&t, U, Ud, shift));
  PetscCall(VecNorm(U, NORM_INFINITY, &umax));
  d = PetscPowReal(PETSC_MACHINE_EPSILON, 1.0 / 3) * PetscMax(1, umax);
  PetscCall(VecGetOwnershipRange(U, &lo, &hi));
  for (PetscInt j = 0; j < t.n; j++) {
    PetscReal diff, scale;
    PetscCall(VecZeroEntries(e));
    if (j >= lo && j < hi) PetscCall(VecSetValue(e, j, 1, INSERT_VALUES));
    PetscCall(VecAssemblyBegin(e));
    PetscCall(VecAssemblyEnd(e));
    PetscCall(MatMult(t.B, e, col));
    PetscCall(VecWAXPY(Up, d, e, U));
    PetscCall(VecWAXPY(Udp, shift * d, e, Ud));
    PetscCall(FieldTestResidual(&t, Up, Udp, Fp));
    PetscCall(VecWAXPY(Up, -d, e, U));
    PetscCall(VecWAXPY(Udp, -shift * d, e, Ud));
    PetscCall(FieldTestResidual(&t, Up, Udp, Fm));
    PetscCall(VecWAXPY(fd, -1, Fm, Fp));
    PetscCall(VecScale(fd, 0.5 / d));
    PetscCall(FieldTestDiff(col, fd, &diff, &scale));
    scale = PetscMax(scale, 1e-300);
    if (diff / scale > worst) worst = diff / scale, worstj = j;
    CHECK(diff <= 1e-7 * scale, "%s: column %" PetscInt_FMT " of the assembled Jacobian differs from central differences by %.3e of its largest entry %g", opts, j, (double)(diff / scale), (double)scale);
  }
  if (view) PetscCall(PetscPrintf(PETSC_COMM_WORLD, "%s (%" PetscInt_FMT " columns): worst %.3e (column %" PetscInt_FMT ")\n", opts, t.n, (double)worst, worstj));
  PetscCall(VecDestroy(&U));
  PetscCall(VecDestroy(&Ud));
  PetscCall(VecDestroy(&e));
  PetscCall(VecDestroy(&Up));
  PetscCall(VecDestroy(&Udp));
  PetscCall(VecDestroy(&Fp));
  PetscCall(VecDestroy(&Fm));
  PetscCall(VecDestroy(&col));
  PetscCall(VecDestroy(&fd));
  PetscCall(FieldTestDestroy(&t));
  PetscFunctionReturn(0);
}
#endif
