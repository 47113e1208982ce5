/* The Newton-Krylov set-up of the time stepper that every residual type shares (lattice flow and
   damped, continuum): IFunction, Newton's matrix, the structure-aware preconditioner. */
#include "fieldimpl.h"

/* The Newton-Krylov set-up every residual form shares (lattice flow and damped, continuum): the
   IFunction, Newton's matrix (the analytic Jacobian, finite differences on its pattern, or
   matrix-free), the structure-aware preconditioner as the default PCSHELL (set before
   TSSetFromOptions, so that a user's -pc_type wins), the full Newton step, beuler by default.
   With the matrix-free Jacobian only the shell or no preconditioner can work. */
PetscErrorCode BbdFieldResidualSolver(BbdField f, TS ts, PetscErrorCode (*ifunction)(TS, PetscReal, Vec, Vec, Vec, void *), PetscErrorCode (*ijacobian)(TS, PetscReal, Vec, Vec, PetscReal, Mat, Mat, void *), PetscErrorCode (*pcapply)(PC, Vec, Vec), const char *pcname, PetscReal *dt0)
{
  const PetscBool entries = (PetscBool)(f->jac_assembled || f->jac_fdcolor || f->jac_fd);
  SNES            snes;
  KSP             ksp;
  PC              pc;
  Mat             J;
  PCType          type;
  PetscBool       shell, none, ark;
  SNESLineSearch  ls;

  PetscFunctionBeginUser;
  PetscCall(BbdFieldSetIFunction(f, ts, ifunction));
  PetscCall(TSGetSNES(ts, &snes));
  if (f->jac_fdcolor || f->jac_fd) PetscCall(BbdFieldJacobianFDCreate(f, &J)); /* -snes_fd_color, -snes_fd (fieldjac.c) */
  else if (f->jac_assembled && f->continuum) PetscCall(BbdFieldJacobianColourCreate(f, &J)); /* exact directional derivatives, coloured (residual_continuum.c) */
  else if (f->jac_assembled) PetscCall(BbdFieldJacobianCreate(f, &J));     /* fieldjac.c (damped: filled by fieldjac_damped.c) */
  else PetscCall(MatCreateSNESMF(snes, &J));
  PetscCall(PetscObjectSetOptions((PetscObject)J, f->net->options)); /* the field's database (-mat_mffd_*) */
  PetscCall(TSSetIJacobian(ts, J, J, ijacobian, f));
  PetscCall(MatDestroy(&J));
  PetscCall(SNESGetKSP(snes, &ksp));
  PetscCall(KSPGetPC(ksp, &pc));
  PetscCall(PCSetType(pc, PCSHELL));
  PetscCall(BbdFieldPCShellSetApply(f, pc, pcapply));
  PetscCall(PCShellSetContext(pc, f));
  PetscCall(PCShellSetName(pc, pcname));
  /* the full Newton step: with the preconditioned Newton direction it converges quadratically,
     where backtracking on the residual norm (scaled by 1/h, 1/dy^2) crawls on large grids */
  PetscCall(SNESGetLineSearch(snes, &ls));
  PetscCall(SNESLineSearchSetType(ls, SNESLINESEARCHBASIC));
  /* F(U, U') is not of the form U' - G(U) (lattice: G(U) U' + ...; continuum: beta algebraic): tell
     the integrators, so that arkimex's explicit first stage takes the previous step's slope instead
     of -F(U, 0) (docs/reference.md, -ts_type arkimex) */
  PetscCall(TSSetEquationType(ts, f->continuum ? TS_EQ_DAE_IMPLICIT_INDEX1 : TS_EQ_ODE_IMPLICIT));
  PetscCall(BbdTSConfigureWith(f->net, ts, TSBEULER, PETSC_TRUE, dt0));
  PetscCall(PetscObjectTypeCompare((PetscObject)ts, TSARKIMEX, &ark));
  if (ark) { /* only tableaus whose first stage is implicit (docs/reference.md): l2 unless one is chosen */
    TSARKIMEXType at;
    PetscBool     given, ok = PETSC_FALSE;
    PetscCall(PetscOptionsHasName(f->net->options, f->net->prefix, "-ts_arkimex_type", &given));
    if (!given) PetscCall(TSARKIMEXSetType(ts, TSARKIMEXL2));
    PetscCall(TSARKIMEXGetType(ts, &at));
    for (PetscInt i = 0; i < 3; i++) {
      PetscBool m;
      PetscCall(PetscStrcmp(at, i == 0 ? TSARKIMEXL2 : i == 1 ? TSARKIMEXPRSSP2 : TSARKIMEX1BEE, &m));
      ok = (PetscBool)(ok || m);
    }
    PetscCheck(ok, f->comm, PETSC_ERR_USER_INPUT, "-ts_arkimex_type %s: this tableau's first stage is explicit, which needs an IFunction of the form U' - G(U); the residual formulation's is not (%s). Use -ts_arkimex_type l2 (the default here), prssp2 or 1bee, or another -ts_type (beuler, bdf, theta, cn)", at,
               f->continuum ? "beta is algebraic" : "G(U) U' + loss term");
  }
  PetscCall(PCGetType(pc, &type));
  PetscCall(PetscStrcmp(type, PCSHELL, &shell));
  PetscCall(PetscStrcmp(type, PCNONE, &none));
  PetscCheck(entries || shell || none, f->comm, PETSC_ERR_USER_INPUT, "-pc_type %s: the matrix-free Jacobian has no entries to build it from; use the default sweep preconditioner (-pc_type shell) or none, or -bbd_jacobian assembled (or -snes_fd_color)", type);
  PetscFunctionReturn(0);
}
