/* The time loop of the field solver: segments between saved times, sample switches (between
   segments or as TS events), saving and the final summary lines. */
#include "fieldimpl.h"

/* -bbd_switch events (docs/theory.md section 14, "Sample switching as TS events"): the event
   function is t - t_k of the next switch time t_k = (batch + 1) sample_dt. It is linear in t, so
   PETSc's regula falsi puts the end of the retaken step on t_k to rounding. */
static PetscErrorCode SwitchEvent(TS ts, PetscReal t, Vec U, PetscScalar *fv, void *ctx)
{
  BbdField f = (BbdField)ctx;

  PetscFunctionBeginUser;
  (void)ts;
  (void)U;
  fv[0] = t - (PetscReal)(f->batch + 1) * f->net->sample_dt;
  PetscFunctionReturn(0);
}

/* the switch on the solver's vector U (the TS layout: moved to the width-only f->U and back) */
static PetscErrorCode SwitchPostEvent(TS ts, PetscInt nzero, PetscInt zero[], PetscReal t, Vec U, PetscBool forward, void *ctx)
{
  BbdField        f  = (BbdField)ctx;
  const PetscReal tk = (PetscReal)(f->batch + 1) * f->net->sample_dt;

  PetscFunctionBeginUser;
  (void)nzero;
  (void)zero;
  PetscCheck(forward, f->comm, PETSC_ERR_SUP, "-bbd_switch events: no adjoint solves");
  PetscCall(BbdFieldFromTS(f, U, f->U));
  PetscCall(BbdFieldLatticeSwitchBatch(f, f->batch + 1));
  PetscCall(BbdFieldToTS(f, f->U, U));
  f->nswitch_event++;
  f->switch_err = PetscMax(f->switch_err, PetscAbsReal(t - tk));
  PetscCall(TSRestartStep(ts)); /* no FSAL stage, no BDF history across the jump (PETSc also restarts on a changed U) */
  PetscFunctionReturn(0);
}

/* -bbd_switch events: the segment [t, tend] between saved times, its sample switches located by
   TS events. The event is terminal: PETSc 3.18 accepts the first step after a non-terminal event
   without error control (TSAdaptChoose while the event status is not NONE), and a restarted BDF
   then takes its order-1 start with the rest of the rolled-back step (observed: 1e-5 relative
   error at -ts_rtol 1e-11). So the solve stops at the switch and continues towards tend from the
   initial step, every step error-controlled. Every solve starts from the same solver state (a
   fresh event handler, step counter 0, the initial step), so that a restart from a saved time
   continues exactly like the uninterrupted run. */
static PetscErrorCode SolveSegmentEvents(BbdField f, TS ts, PetscReal t, PetscReal tend, PetscReal dt0)
{
  PetscInt    dir = 1, steps, nits, lits, fails;
  PetscBool   term = PETSC_TRUE, given;
  PetscReal   tol  = 1e-3 * BbdTimeEps(f->net); /* PETSc's 1e-6 would take a step ending that near t_k for the switch */
  const char *prefix;

  PetscFunctionBeginUser;
  PetscCall(TSGetOptionsPrefix(ts, &prefix));
  PetscCall(PetscOptionsGetReal(NULL, prefix, "-ts_event_tol", &tol, &given));
  while (t < tend - BbdTimeEps(f->net)) {
    if ((PetscReal)(f->batch + 1) * f->net->sample_dt - t < tol) { /* a switch within the tolerance after the start: PETSc skips the */
      PetscCall(BbdFieldLatticeSwitchBatch(f, f->batch + 1));                        /* sign change of a step that starts at |g| < tol, so take it here */
      f->nswitch_seg++;
    }
    PetscCall(TSGetStepNumber(ts, &steps));
    PetscCall(TSGetSNESIterations(ts, &nits));
    PetscCall(TSGetKSPIterations(ts, &lits));
    PetscCall(TSGetSNESFailures(ts, &fails));
    f->acc_steps += steps; /* TSSolve zeroes these with the step counter */
    f->acc_newton += nits;
    f->acc_krylov += lits;
    f->acc_fail += fails;
    PetscCall(TSSetStepNumber(ts, 0)); /* TSSolve then evaluates the event function at t (TSEventInitialize) */
    PetscCall(TSSetEventHandler(ts, 1, &dir, &term, SwitchEvent, SwitchPostEvent, f));
    if (!given) PetscCall(TSSetEventTolerances(ts, tol, NULL));
    PetscCall(BbdFieldSolveSegment(f, ts, t, tend, dt0, &t));
  }
  PetscFunctionReturn(0);
}

/* the summary line of the rejected Newton solves (BbdTSConfigureWith: each failed step is retried
   with a smaller one), printed before the solver: line when there were any */
PetscErrorCode BbdFieldPrintFailures(BbdField f, TS ts, PetscInt fails)
{
  TSAdapt   adapt;
  PetscReal scale;

  PetscFunctionBeginUser;
  PetscCall(TSGetAdapt(ts, &adapt));
  PetscCall(TSAdaptGetScaleSolveFailed(adapt, &scale));
  PetscCall(PetscPrintf(f->comm, "Newton failures: %" PetscInt_FMT " (each step retried with %g of its time step; -ts_adapt_monitor lists them)\n", fails, (double)scale));
  PetscFunctionReturn(0);
}

/* the time loop: segments between saved times and (-bbd_switch segments) sample switches */
static PetscErrorCode Integrate(BbdField f, TS ts, PetscReal dt0, BbdOutput out, BbdSnapshot *snap, PetscInt *T, PetscReal *z, PetscReal *zd)
{
  BbdNet    net = f->net;
  PetscReal t = net->t0, eps = BbdTimeEps(net), *x, *y;

  PetscFunctionBeginUser;
  PetscCall(PetscMalloc2(net->M + 1, &x, net->n[0], &y));
  for (PetscInt k = 0; k <= net->M; k++) x[k] = (PetscReal)k / net->M;
  for (PetscInt i = 0; i < net->n[0]; i++) y[i] = (PetscReal)i / net->n[0];
  PetscCall(BbdOutputWriteGrid(out, net->M + 1, x, net->n[0], y));
  PetscCall(PetscFree2(x, y));
  PetscCall(BbdFieldLatticeSave(f, out, snap, t, T));
  while (t < net->tfinal - eps) {
    PetscReal tend;
    PetscBool save = PETSC_TRUE;
    PetscInt  k;
    if (f->events) {
      tend = BbdTSNextSave(net, t);
      PetscCall(SolveSegmentEvents(f, ts, t, tend, dt0));
    } else {
      BbdTSNextSegment(net, t, &tend, &save);
      PetscCall(BbdFieldSolveSegment(f, ts, t, tend, dt0, NULL));
    }
    t = tend;
    /* a switch at the segment end (with events only one just after it, within BatchIndex's
       1e-9 sample_dt: a switch on a saved time is taken by the event at the solve's last step) */
    k = BbdNetBatchIndex(net, t);
    if (k > f->batch) { /* (an event may have taken a switch a little early, within its tolerance) */
      PetscCall(BbdFieldLatticeSwitchBatch(f, k));
      f->nswitch_seg++;
    }
    if (save) PetscCall(BbdFieldLatticeSave(f, out, snap, t, T));
  }
  net->t0 = t;
  PetscCall(BbdFieldLatticeStateToNet(f, z, zd));
  PetscFunctionReturn(0);
}

PetscErrorCode BbdFieldRun(BbdField f)
{
  BbdNet         net = f->net;
  BbdOutput      out;
  BbdSnapshot    snap;
  TS             ts;
  PetscReal      dt0, *z, *zd;
  PetscInt       T = 0;
  PetscErrorCode ierr;

  PetscFunctionBeginUser;
  if (f->continuum) {
    PetscCall(BbdFieldContinuumRun(f));
    PetscFunctionReturn(0);
  }
  if (!net->quiet) {
    PetscCall(PetscPrintf(f->comm, "bbd-field, %s mode, grid %" PetscInt_FMT " x %" PetscInt_FMT " (depth x width), %d rank(s)\n", f->mode, net->M + 1, net->n[0], f->size));
    PetscCall(BbdNetView(net, PETSC_VIEWER_STDOUT_(f->comm)));
    if (f->residual && !f->damped) PetscCall(PetscPrintf(f->comm, "residual evaluation: %s column kernels\n", f->avx2 ? "AVX2/FMA" : "portable"));
  }
  PetscCall(TSCreate(f->comm, &ts));
  PetscCall(TSSetDM(ts, f->dats));
  if (f->residual && f->damped) PetscCall(BbdFieldDampedResidualSetTS(f, ts, &dt0)); /* src/residual_damped.c */
  else if (f->residual) PetscCall(BbdFieldResidualSolver(f, ts, BbdFieldIFunction, BbdFieldIJacobian, BbdFieldPCApplySweep, "BBD sweep: exact inverse of shift * G(U)", &dt0)); /* src/residual.c */
  else {
    PetscCall(BbdFieldSetRHSFunction(f, ts, f->damped ? BbdFieldRHSSweepDamped : BbdFieldRHSSweep));
    PetscCall(BbdTSConfigure(net, ts, &dt0));
  }
  if (f->events) { /* locating an event rolls the step back: the types that can */
    PetscBool ok;
    TSType    type;
    PetscCall(PetscObjectTypeCompareAny((PetscObject)ts, &ok, TSRK, TSBDF, TSTHETA, TSBEULER, TSCN, TSARKIMEX, TSROSW, TSALPHA, ""));
    PetscCall(TSGetType(ts, &type));
    PetscCheck(ok, f->comm, PETSC_ERR_SUP, "-bbd_switch events with -ts_type %s: locating a switch rolls a step back, which %s cannot do; use -bbd_switch segments, or -ts_type rk, bdf, beuler, cn, theta, arkimex, rosw", type, type);
  }
  PetscCall(BbdSnapshotCreate(net, &snap));
  PetscCall(PetscMalloc2(net->nz, &z, net->nz, &zd));
  PetscCall(BbdOutputCreate(net, net->output_file, &out));
  ierr = Integrate(f, ts, dt0, out, &snap, &T, z, zd);
  if (ierr) { /* never leave a partial result that looks complete */
    PetscCall(BbdOutputAbort(&out));
    PetscCall(ierr);
  }
  PetscCall(PetscFree(net->state_z));
  PetscCall(PetscMalloc1(net->nz, &net->state_z));
  PetscCall(PetscArraycpy(net->state_z, z, net->nz));
  if (f->damped) {
    PetscCall(PetscFree(net->state_zdot));
    PetscCall(PetscMalloc1(net->nz, &net->state_zdot));
    PetscCall(PetscArraycpy(net->state_zdot, zd, net->nz));
  }
  PetscCall(BbdOutputFinish(&out, net->t0, net->theta, f->damped ? net->thetadot : NULL));
  PetscCall(BbdFieldWriteXdmf(f, T));
  if (!net->quiet) {
    PetscInt steps, nits, lits, fails;
    PetscCall(TSGetStepNumber(ts, &steps));
    PetscCall(TSGetSNESIterations(ts, &nits));
    PetscCall(TSGetKSPIterations(ts, &lits));
    PetscCall(TSGetSNESFailures(ts, &fails));
    steps += f->acc_steps; /* events: the counters of the earlier segments */
    nits += f->acc_newton;
    lits += f->acc_krylov;
    fails += f->acc_fail;
    if (fails) PetscCall(BbdFieldPrintFailures(f, ts, fails));
    if (net->sample_dt > 0) PetscCall(PetscPrintf(f->comm, "sample switches: %" PetscInt_FMT " (%" PetscInt_FMT " as TS events, located within %.2e of k sample_dt; %" PetscInt_FMT " at segment ends)\n", f->nswitch_event + f->nswitch_seg, f->nswitch_event, (double)f->switch_err, f->nswitch_seg));
    PetscCall(PetscPrintf(f->comm, "solver: %" PetscInt_FMT " steps in the whole run, %" PetscInt_FMT " Newton and %" PetscInt_FMT " Krylov iterations in all (%.2f Krylov per Newton)\n", steps, nits, lits, nits ? (double)lits / nits : 0.0));
    PetscCall(PetscPrintf(f->comm, "wrote %s\n", net->output_file));
  }
  PetscCall(PetscFree2(z, zd));
  PetscCall(BbdSnapshotDestroy(&snap));
  PetscCall(TSDestroy(&ts));
  PetscFunctionReturn(0);
}

PetscErrorCode BbdFieldContinuumRun(BbdField f)
{
  BbdNet         net = f->net;
  const PetscInt NX = net->M + 1, N = net->n[0], P = net->P;
  TS             ts;
  Vec            Ftmp;
  PetscReal      t = net->t0, dt0, eps = BbdTimeEps(net);
  PetscMPIInt    rank;
  PetscErrorCode ierr = 0;

  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Comm_rank(f->comm, &rank));
  if (!net->quiet) PetscCall(PetscPrintf(f->comm, "bbd-field, continuum mode (%s dynamics), grid %" PetscInt_FMT " x %" PetscInt_FMT " (depth x width), h = %g, dy = %g, activation %s, loss %s, eta = %g, gamma = %g, kappa = (%g, %g, %g), %d rank(s)\n", BbdDynamicsTypes[net->dyn], NX, N, (double)net->h, (double)net->dy, BbdActivations[net->act[0]], BbdLosses[net->loss], (double)net->eta, (double)net->gamma, (double)net->kappa[0], (double)net->kappa[1], (double)net->kappa[2], f->size));
  if (!net->quiet) { /* the depth steps are explicit Heun steps: the same bound as the lattice's (docs/theory.md section 14, Stability) */
    const PetscReal sn = BbdNetStabilityNumber(net);
    PetscCall(PetscPrintf(f->comm, "  forward-map stability number h max|a_2| max sigma'/dy^2 = %.3g%s\n", (double)sn, sn > 0.5 ? " > 1/2: WARNING, the depth steps on this grid are unstable (refine depth like the square of width: -da_grid_x)" : " (stable: <= 1/2)"));
  }
  f->Tmax = (PetscInt)(PetscFloorReal(net->tfinal / net->output_dt + 1e-9) - PetscFloorReal(net->t0 / net->output_dt + 1e-9)) + 3;
  if (!rank) PetscCall(PetscMalloc5(f->Tmax, &f->rt, f->Tmax, &f->rloss, (size_t)f->Tmax * NX * N, &f->rz, (size_t)f->Tmax * (P + 1) * NX * N, &f->ra, (size_t)f->Tmax * NX, &f->rflux));
  if (!rank) PetscCall(PetscMalloc1((size_t)f->Tmax * NX, &f->rdiss));
  if (!rank) PetscCall(PetscMalloc2(f->Tmax, &f->rsample, f->bi >= 0 ? NX * N : 0, &f->rbl));
  if (!rank && f->damped) PetscCall(PetscMalloc2((size_t)f->Tmax * NX * N, &f->rzd, (size_t)f->Tmax * (P + 1) * NX * N, &f->rad));
  PetscCall(TSCreate(f->comm, &ts));
  PetscCall(TSSetDM(ts, f->dats));
  if (f->residual) {
    PetscCall(BbdFieldContinuumResidualSetTS(f, ts, &dt0)); /* residual_continuum.c */
    PetscCall(BbdFieldContinuumResidualConsistent(f, f->U));
  } else {
    PetscCall(BbdFieldSetRHSFunction(f, ts, BbdFieldRHSContinuum));
    PetscCall(BbdTSConfigure(net, ts, &dt0));
  }
  PetscCall(VecDuplicate(f->U, &Ftmp));
  ierr = BbdFieldContinuumSave(f, t, Ftmp);
  while (!ierr && t < net->tfinal - eps) {
    PetscReal tend;
    PetscBool save;
    BbdTSNextSegment(net, t, &tend, &save);
    /* residual form: beta afresh from the state at every segment start, as a restart computes it
       (the file has no beta), so that restarts continue bitwise; the Newton-solved beta differs
       from it by the Newton tolerance and only seeds the first Newton iterate */
    if (f->residual) ierr = BbdFieldContinuumResidualConsistent(f, f->U);
    if (!ierr) ierr = BbdFieldSolveSegment(f, ts, t, tend, dt0, NULL);
    t    = tend;
    if (!ierr && f->bi >= 0) { /* a sample switch: z (and z_dot) jump, the parameters are continuous */
      PetscInt idx[1];
      PetscCall(BbdNetBatchSamples(net, t, idx));
      if (idx[0] != f->sample) ierr = BbdFieldContinuumSwitch(f, idx[0], Ftmp);
    }
    if (!ierr && save) ierr = BbdFieldContinuumSave(f, t, Ftmp);
  }
  PetscCall(ierr);
  PetscCall(BbdFieldContinuumWrite(f));
  PetscCall(BbdFieldWriteXdmf(f, f->T));
  PetscCallMPI(MPI_Barrier(f->comm));
  if (!net->quiet) {
    PetscInt steps, nits, lits, fails;
    PetscCall(TSGetStepNumber(ts, &steps));
    PetscCall(TSGetSNESIterations(ts, &nits));
    PetscCall(TSGetKSPIterations(ts, &lits));
    PetscCall(TSGetSNESFailures(ts, &fails));
    if (fails) PetscCall(BbdFieldPrintFailures(f, ts, fails));
    PetscCall(PetscPrintf(f->comm, "solver: %" PetscInt_FMT " steps in the whole run, %" PetscInt_FMT " Newton and %" PetscInt_FMT " Krylov iterations in all (%.2f Krylov per Newton)\n", steps, nits, lits, nits ? (double)lits / nits : 0.0));
    PetscCall(PetscPrintf(f->comm, "wrote %s\n", net->output_file));
  }
  if (!rank) PetscCall(PetscFree5(f->rt, f->rloss, f->rz, f->ra, f->rflux));
  if (!rank) PetscCall(PetscFree(f->rdiss));
  if (!rank) PetscCall(PetscFree2(f->rsample, f->rbl));
  if (!rank && f->damped) PetscCall(PetscFree2(f->rzd, f->rad));
  PetscCall(VecDestroy(&Ftmp));
  PetscCall(TSDestroy(&ts));
  PetscFunctionReturn(0);
}
