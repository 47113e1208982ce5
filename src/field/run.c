/* The time loop of the field solver, one for every type: segments between saved times, sample
   switches (between segments, or as TS events), saving, and the final summary lines. It calls the
   type only through its operations (f->ops, fieldimpl.h). */
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
  PetscCall(f->ops->switchbatch(f, f->batch + 1));
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
  PetscCall(PetscOptionsGetReal(f->net->options, prefix, "-ts_event_tol", &tol, &given));
  while (t < tend - BbdTimeEps(f->net)) {
    if ((PetscReal)(f->batch + 1) * f->net->sample_dt - t < tol) { /* a switch within the tolerance after the start: PETSc skips the */
      PetscCall(f->ops->switchbatch(f, f->batch + 1));                                /* sign change of a step that starts at |g| < tol, so take it here */
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
static PetscErrorCode PrintFailures(BbdField f, TS ts, PetscInt fails)
{
  TSAdapt   adapt;
  PetscReal scale;

  PetscFunctionBeginUser;
  PetscCall(TSGetAdapt(ts, &adapt));
  PetscCall(TSAdaptGetScaleSolveFailed(adapt, &scale));
  PetscCall(PetscPrintf(f->comm, "Newton failures: %" PetscInt_FMT " (each step retried with %g of its time step; -ts_adapt_monitor lists them)\n", fails, (double)scale));
  PetscFunctionReturn(0);
}

/* the segments between saved times and (-bbd_switch segments) sample switches, from net->t0 */
static PetscErrorCode Integrate(BbdField f, TS ts, PetscReal dt0)
{
  BbdNet    net = f->net;
  PetscReal t = net->t0, eps = BbdTimeEps(net);

  PetscFunctionBeginUser;
  PetscCall(f->ops->save(f, t));
  while (t < net->tfinal - eps) {
    PetscReal tend;
    PetscBool save = PETSC_TRUE;
    PetscInt  k;
    if (f->events) {
      tend = BbdTSNextSave(net, t);
      PetscCall(SolveSegmentEvents(f, ts, t, tend, dt0));
    } else {
      BbdTSNextSegment(net, t, &tend, &save);
      if (f->ops->segment) PetscCall(f->ops->segment(f));
      PetscCall(BbdFieldSolveSegment(f, ts, t, tend, dt0, NULL));
    }
    t = tend;
    /* a switch at the segment end (with events only one just after it, within BatchIndex's
       1e-9 sample_dt: a switch on a saved time is taken by the event at the solve's last step) */
    k = BbdNetBatchIndex(net, t);
    if (k > f->batch) { /* (an event may have taken a switch a little early, within its tolerance) */
      PetscCall(f->ops->switchbatch(f, k));
      f->nswitch_seg++;
    }
    if (save) PetscCall(f->ops->save(f, t));
  }
  net->t0 = t;
  PetscFunctionReturn(0);
}

/*@ BbdFieldCreateTS - the time stepper a run integrates with: created on the solver's grid and
  configured by the type (ops->setts) from the options, not started. *dt0 is the first step. @*/
PetscErrorCode BbdFieldCreateTS(BbdField f, TS *ts, PetscReal *dt0)
{
  PetscFunctionBeginUser;
  PetscCheck(f->ops->setts, f->comm, PETSC_ERR_ORDER, "BbdFieldRun: no type set (call BbdFieldSetFromOptions or BbdFieldSetType, then BbdFieldSetUp)");
  PetscCall(TSCreate(f->comm, ts));
  PetscCall(TSSetDM(*ts, f->dats));
  PetscCall(f->ops->setts(f, *ts, dt0));
  PetscFunctionReturn(0);
}

PetscErrorCode BbdFieldRun(BbdField f)
{
  BbdNet         net = f->net;
  TS             ts;
  PetscReal      dt0;
  PetscErrorCode ierr;

  PetscFunctionBeginUser;
  PetscCheck(f->ops->setts, f->comm, PETSC_ERR_ORDER, "BbdFieldRun: no type set (call BbdFieldSetFromOptions or BbdFieldSetType, then BbdFieldSetUp)");
  if (!net->quiet) PetscCall(f->ops->view(f));
  PetscCall(BbdFieldCreateTS(f, &ts, &dt0));
  if (f->events) { /* locating an event rolls the step back: the types that can */
    PetscBool ok;
    TSType    type;
    PetscCall(PetscObjectTypeCompareAny((PetscObject)ts, &ok, TSRK, TSBDF, TSTHETA, TSBEULER, TSCN, TSARKIMEX, TSROSW, TSALPHA, ""));
    PetscCall(TSGetType(ts, &type));
    PetscCheck(ok, f->comm, PETSC_ERR_SUP, "-bbd_switch events with -ts_type %s: locating a switch rolls a step back, which %s cannot do; use -bbd_switch segments, or -ts_type rk, bdf, beuler, cn, theta, arkimex, rosw", type, type);
  }
  PetscCall(f->ops->begin(f));
  ierr = Integrate(f, ts, dt0);
  if (ierr) {
    if (f->ops->abort) PetscCall(f->ops->abort(f));
    PetscCall(ierr);
  }
  PetscCall(f->ops->write(f));
  PetscCall(BbdFieldWriteXdmf(f, f->T));
  PetscCallMPI(MPI_Barrier(f->comm));
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
    if (fails) PetscCall(PrintFailures(f, ts, fails));
    if (f->ops->summary) PetscCall(f->ops->summary(f));
    PetscCall(PetscPrintf(f->comm, "solver: %" PetscInt_FMT " steps in the whole run, %" PetscInt_FMT " Newton and %" PetscInt_FMT " Krylov iterations in all (%.2f Krylov per Newton)\n", steps, nits, lits, nits ? (double)lits / nits : 0.0));
    PetscCall(PetscPrintf(f->comm, "wrote %s\n", net->output_file));
  }
  PetscCall(TSDestroy(&ts));
  PetscFunctionReturn(0);
}
