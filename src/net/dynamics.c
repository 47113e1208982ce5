/* Training dynamics (docs/theory.md section 3).
   sgd   : theta_{k+1} = theta_k + v_k(theta_k), one step per unit of time, batch k
   flow  : dtheta/dt = v(theta), v = -eta metric^-1 grad l_batch            (PETSc TS)
   damped: dtheta/dt = thetadot, dthetadot/dt = -gamma thetadot + v(theta)   (PETSc TS)
   A TS run is cut into segments at every saved time and every sample switch; the batch is
   fixed inside a segment (z jumps at a switch; theta and thetadot are continuous) and every
   segment starts from the same initial step, so a restart from a saved time continues the
   uninterrupted trajectory exactly. */
#include "bbdimpl.h"
#include <stdarg.h>
#include <stdlib.h>

typedef struct {
  BbdNet     net;
  PetscInt  *idx;  /* batch of the current segment */
  VecScatter scat; /* distributed state -> full copy on every rank */
  Vec        full;
  PetscReal *vel;
  PetscReal  tstart, wall0;
  PetscInt   nsaved, nout;
  PetscReal  worst_split, worst_law, worst_beta; /* identity residuals over the saved times */
  PetscBool  warned_stability;
} RunCtx;

static PetscErrorCode Progress(RunCtx *ctx, const BbdSnapshot *snap)
{
  BbdNet    net   = ctx->net;
  PetscInt  every = net->progress;
  PetscReal t     = snap->time;

  PetscFunctionBeginUser;
  if (net->quiet) PetscFunctionReturn(0);
  if (every < 0) every = PetscMax(1, ctx->nout / 10);
  if (every == 0) PetscFunctionReturn(0);
  if ((ctx->nsaved - 1) % every == 0 || t >= net->tfinal) {
    PetscReal span = PetscMax(net->tfinal - ctx->tstart, PETSC_SMALL);
    if (ctx->nsaved == 1) PetscCall(PetscPrintf(net->comm, "  %10s %13s %13s %13s %13s %13s %7s %8s\n", "t", "loss", "L", "L_bulk", "L_boundary", "J_out", "done", "wall"));
    PetscCall(PetscPrintf(net->comm, "  %10.5g %13.6e %13.6e %13.6e %13.6e %13.6e %6.1f%% %7.2fs\n", (double)t, (double)snap->loss, (double)snap->L, (double)snap->L_bulk, (double)snap->L_boundary, (double)snap->flux[net->M], (double)(100.0 * (t - ctx->tstart) / span), (double)(MPI_Wtime() - ctx->wall0)));
  }
  PetscFunctionReturn(0);
}

static PetscErrorCode Save(RunCtx *ctx, BbdOutput out, BbdSnapshot *snap, PetscReal t, const PetscReal *theta, const PetscReal *thetadot)
{
  BbdNet net = ctx->net;

  PetscFunctionBeginUser;
  PetscCall(PetscLogEventBegin(BBD_Diagnostics, 0, 0, 0, 0));
  PetscCall(BbdSnapshotCompute(net, t, theta, thetadot, snap));
  PetscCall(PetscLogEventEnd(BBD_Diagnostics, 0, 0, 0, 0));
  PetscCheck(!PetscIsInfOrNanReal(snap->loss) && PetscAbsReal(snap->loss) < 1e100, net->comm, PETSC_ERR_NOT_CONVERGED, "training diverged at t = %g (loss is %g); reduce -bbd_eta or the time step", (double)t, (double)snap->loss);
  for (PetscInt k = 0; k < net->nparam; k++) PetscCheck(PetscAbsReal(theta[k]) < 1e100, net->comm, PETSC_ERR_NOT_CONVERGED, "training diverged at t = %g (a parameter is %g); reduce -bbd_eta or the time step", (double)t, (double)theta[k]);
  PetscCall(PetscLogEventBegin(BBD_Output, 0, 0, 0, 0));
  PetscCall(BbdOutputAppend(out, snap));
  PetscCall(PetscLogEventEnd(BBD_Output, 0, 0, 0, 0));
  ctx->nsaved++;
  if (net->family == BBD_FAMILY_FIELD && !ctx->warned_stability) { /* training can move a_2 past the limit */
    PetscReal sn = BbdNetStabilityNumber(net);
    if (sn > 0.5) {
      ctx->warned_stability = PETSC_TRUE;
      PetscCall(PetscPrintf(net->comm, "WARNING: at t = %g the forward-map stability number is %.3g > 1/2: the lattice's depth step is unstable from here on (docs/theory.md section 14)\n", (double)t, (double)sn));
    }
  }
  { /* the identities the decomposition must satisfy, as a running check on real runs */
    PetscReal T = 0, J = 0, law = 0;
    for (PetscInt m = 0; m < net->M; m++) T += snap->layer_kinetic[m];
    for (PetscInt k = 0; k <= net->M; k++) J = PetscMax(J, PetscAbsReal(snap->flux[k]));
    for (PetscInt m = 0; m < net->M; m++) law = PetscMax(law, PetscAbsReal(snap->flux[m + 1] - snap->flux[m] - 2 * snap->dissipation[m] - snap->energy_rate[m]));
    ctx->worst_split = PetscMax(ctx->worst_split, PetscAbsReal(snap->L - snap->L_bulk - snap->L_boundary) / PetscMax(T + PetscAbsReal(snap->loss), PETSC_SMALL));
    ctx->worst_law   = PetscMax(ctx->worst_law, law / PetscMax(J, PETSC_SMALL));
    ctx->worst_beta  = PetscMax(ctx->worst_beta, snap->beta_mismatch);
  }
  PetscCall(Progress(ctx, snap));
  PetscFunctionReturn(0);
}

static PetscErrorCode Summary(RunCtx *ctx)
{
  BbdNet net = ctx->net;

  PetscFunctionBeginUser;
  if (net->quiet) PetscFunctionReturn(0);
  PetscCall(PetscPrintf(net->comm, "BBD identities over %" PetscInt_FMT " saved times (relative):\n", ctx->nsaved));
  PetscCall(PetscPrintf(net->comm, "  L - (L_bulk + L_boundary)               %9.2e\n", (double)ctx->worst_split));
  PetscCall(PetscPrintf(net->comm, "  energy continuity J_(m+1) - J_m - 2 d_m %9.2e%s\n", (double)ctx->worst_law, net->dyn == BBD_DYN_DAMPED ? " (damped: - dT_m/dt)" : ""));
  PetscCall(PetscPrintf(net->comm, "  beta (neuron form) - db/dt               %9.2e\n", (double)ctx->worst_beta));
  PetscFunctionReturn(0);
}

/* number of saved times in [t0, tfinal]: multiples of output_dt, plus t0 and tfinal */
static PetscInt CountOutputs(BbdNet net)
{
  return (PetscInt)(PetscFloorReal(net->tfinal / net->output_dt + 1e-9) - PetscFloorReal(net->t0 / net->output_dt + 1e-9)) + 2;
}

PetscErrorCode BbdRunSGD(BbdNet net, BbdOutput out)
{
  RunCtx      ctx = {0};
  BbdSnapshot snap;
  PetscInt    k0 = (PetscInt)net->t0, k1 = (PetscInt)net->tfinal, every = (PetscInt)net->output_dt, *idx;
  PetscReal  *v, loss;

  PetscFunctionBeginUser;
  ctx.net    = net;
  ctx.tstart = net->t0;
  ctx.wall0  = MPI_Wtime();
  ctx.nout   = CountOutputs(net);
  PetscCall(BbdSnapshotCreate(net, &snap));
  PetscCall(PetscMalloc2(net->nparam, &v, net->batch, &idx));
  for (PetscInt k = k0; k < k1; k++) {
    if (k == k0 || k % every == 0) PetscCall(Save(&ctx, out, &snap, (PetscReal)k, net->theta, NULL));
    PetscCall(BbdNetBatchFromIndex(net, k, idx));
    net->lam_partial = PETSC_TRUE;
    PetscCall(BbdFlowVelocityBatch(net, idx, net->theta, v, &loss));
    net->lam_partial = PETSC_FALSE;
    PetscCheck(!PetscIsInfOrNanReal(loss), net->comm, PETSC_ERR_NOT_CONVERGED, "training diverged at step %" PetscInt_FMT " (loss is %g); reduce -bbd_eta", k, (double)loss);
    for (PetscInt i = 0; i < net->nparam; i++) net->theta[i] += v[i];
  }
  PetscCall(Save(&ctx, out, &snap, (PetscReal)k1, net->theta, NULL));
  PetscCall(Summary(&ctx));
  net->t0 = (PetscReal)k1;
  PetscCall(PetscFree2(v, idx));
  PetscCall(BbdSnapshotDestroy(&snap));
  PetscFunctionReturn(0);
}

/* the whole state on this rank: the vector itself on one rank, else a copy gathered from all;
   restore with VecRestoreArrayRead(*full, u) */
static PetscErrorCode GetFullState(RunCtx *ctx, Vec U, Vec *full, const PetscScalar **u)
{
  PetscMPIInt size;

  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Comm_size(ctx->net->comm, &size));
  if (size == 1) *full = U;
  else {
    PetscCall(VecScatterBegin(ctx->scat, U, ctx->full, INSERT_VALUES, SCATTER_FORWARD));
    PetscCall(VecScatterEnd(ctx->scat, U, ctx->full, INSERT_VALUES, SCATTER_FORWARD));
    *full = ctx->full;
  }
  PetscCall(VecGetArrayRead(*full, u));
  PetscFunctionReturn(0);
}

static PetscErrorCode RHSFunction(TS ts, PetscReal t, Vec U, Vec F, void *vctx)
{
  RunCtx            *ctx = (RunCtx *)vctx;
  BbdNet             net = ctx->net;
  const PetscScalar *u;
  PetscScalar       *f;
  Vec                full;
  PetscInt           lo, hi, np = net->nparam;
  PetscReal          loss;

  PetscFunctionBeginUser;
  (void)ts;
  (void)t;
  PetscCall(GetFullState(ctx, U, &full, &u));
  net->lam_partial = PETSC_TRUE;
  PetscCall(BbdFlowVelocityBatch(net, ctx->idx, u, ctx->vel, &loss));
  net->lam_partial = PETSC_FALSE;
  PetscCall(VecGetOwnershipRange(F, &lo, &hi));
  PetscCall(VecGetArray(F, &f));
  if (net->dyn == BBD_DYN_FLOW) {
    for (PetscInt g = lo; g < hi; g++) f[g - lo] = ctx->vel[g];
  } else {
    for (PetscInt g = lo; g < hi; g++) f[g - lo] = g < np ? u[np + g] : -net->gamma * u[g] + ctx->vel[g - np];
  }
  PetscCall(VecRestoreArray(F, &f));
  PetscCall(VecRestoreArrayRead(full, &u));
  PetscFunctionReturn(0);
}

/* copy the full state to the net (theta, and thetadot for damped) */
static PetscErrorCode Gather(RunCtx *ctx, Vec U)
{
  BbdNet             net = ctx->net;
  const PetscScalar *u;
  Vec                full;

  PetscFunctionBeginUser;
  PetscCall(GetFullState(ctx, U, &full, &u));
  PetscCall(PetscArraycpy(net->theta, u, net->nparam));
  if (net->dyn == BBD_DYN_DAMPED) PetscCall(PetscArraycpy(net->thetadot, u + net->nparam, net->nparam));
  PetscCall(VecRestoreArrayRead(full, &u));
  PetscFunctionReturn(0);
}

/* time tolerance of segment ends (relative to the run's scale) */
PetscReal BbdTimeEps(BbdNet net)
{
  return 1e-9 * PetscMax(1.0, PetscAbsReal(net->tfinal));
}

/* The next saved time after t: an exact multiple k output_dt, so that a run stopped there and
   restarted sees the same times; tfinal if it comes first. */
PetscReal BbdTSNextSave(BbdNet net, PetscReal t)
{
  PetscReal tout = (PetscFloorReal(t / net->output_dt + 1e-9) + 1) * net->output_dt;

  return tout > net->tfinal + BbdTimeEps(net) ? net->tfinal : tout;
}

/* The end of the segment that starts at t: the next saved time or the next sample switch before it. */
void BbdTSNextSegment(BbdNet net, PetscReal t, PetscReal *tend, PetscBool *save)
{
  const PetscReal eps  = BbdTimeEps(net);
  PetscReal       tout = BbdTSNextSave(net, t);

  *tend = tout;
  *save = PETSC_TRUE;
  if (net->sample_dt > 0) {
    PetscReal tsw = (PetscFloorReal(t / net->sample_dt + 1e-9) + 1) * net->sample_dt;
    if (tsw < tout - eps) { /* a switch that coincides with a saved time is that time */
      *tend = tsw;
      *save = PETSC_FALSE;
    }
  }
}

/* Defaults of every run (rk 5dp, tight tolerances, Jacobian-free Newton-Krylov without a
   preconditioner for implicit types), then the command line; the segments must end exactly
   at their end times, whatever the options say. */
PetscErrorCode BbdTSConfigure(BbdNet net, TS ts, PetscReal *dt0)
{
  PetscFunctionBeginUser;
  PetscCall(BbdTSConfigureWith(net, ts, TSRK, PETSC_FALSE, dt0));
  PetscFunctionReturn(0);
}

/* the same with another default type, and (own_solver) leaving the caller's Jacobian and
   preconditioner in place instead of the Jacobian-free default */
PetscErrorCode BbdTSConfigureWith(BbdNet net, TS ts, TSType type, PetscBool own_solver, PetscReal *dt0)
{
  SNES             snes;
  KSP              ksp;
  PC               pc;
  TSExactFinalTimeOption eft;

  PetscFunctionBeginUser;
  PetscCall(TSSetProblemType(ts, TS_NONLINEAR));
  PetscCall(TSSetType(ts, type));
  PetscCall(TSRKSetType(ts, TSRK5DP));
  PetscCall(TSSetTolerances(ts, 1e-10, NULL, 1e-10, NULL));
  PetscCall(TSSetExactFinalTime(ts, TS_EXACTFINALTIME_MATCHSTEP));
  PetscCall(TSSetMaxSteps(ts, PETSC_MAX_INT));
  PetscCall(TSSetTimeStep(ts, 0.01 * PetscMin(net->output_dt, net->sample_dt > 0 ? net->sample_dt : net->output_dt)));
  if (!own_solver) {
    PetscCall(TSGetSNES(ts, &snes));
    PetscCall(SNESSetUseMatrixFree(snes, PETSC_FALSE, PETSC_TRUE));
    PetscCall(SNESGetKSP(snes, &ksp));
    PetscCall(KSPGetPC(ksp, &pc));
    PetscCall(PCSetType(pc, PCNONE));
  }
  /* the net's database and prefix for the time stepper and every solver inside it (set on each:
     the SNES, KSP and PC exist already, and the residual formulation configured them first) */
  PetscCall(PetscObjectSetOptions((PetscObject)ts, net->options));
  if (net->prefix) PetscCall(TSSetOptionsPrefix(ts, net->prefix));
  {
    SNESLineSearch ls;
    TSAdapt        adapt;
    PetscCall(TSGetSNES(ts, &snes));
    PetscCall(SNESGetKSP(snes, &ksp));
    PetscCall(KSPGetPC(ksp, &pc));
    PetscCall(SNESGetLineSearch(snes, &ls));
    PetscCall(TSGetAdapt(ts, &adapt));
    PetscCall(PetscObjectSetOptions((PetscObject)snes, net->options));
    PetscCall(PetscObjectSetOptions((PetscObject)ksp, net->options));
    PetscCall(PetscObjectSetOptions((PetscObject)pc, net->options));
    PetscCall(PetscObjectSetOptions((PetscObject)ls, net->options));
    PetscCall(PetscObjectSetOptions((PetscObject)adapt, net->options));
  }
  /* a failed Newton solve rejects the step, which is retried with a quarter of it (TSAdapt's
     -ts_adapt_scale_solve_failed, 0.25), at most -ts_max_reject (10) times per step; PETSc's
     default ends the run at the first failure. With -ts_adapt_type none the reduced step stays
     until the end of the segment (every segment starts again from dt0, so restarts stay exact).
     Large rates need this in the residual form (docs/theory.md section 14, "Large rates and the
     residual form"). */
  PetscCall(TSSetMaxSNESFailures(ts, -1));
  PetscCall(TSSetErrorIfStepFails(ts, PETSC_FALSE)); /* a failed step ends TSSolve with a reason: BbdTSSolveSegment says what to do */
  PetscCall(TSSetFromOptions(ts));
  PetscCall(TSGetExactFinalTime(ts, &eft));
  PetscCheck(eft == TS_EXACTFINALTIME_MATCHSTEP, net->comm, PETSC_ERR_USER_INPUT, "-ts_exact_final_time: runs are cut at every saved time and sample switch and must end there exactly; only matchstep is allowed");
  PetscCall(TSGetTimeStep(ts, dt0));
  PetscCheck(*dt0 > 0 && PetscIsNormalReal(*dt0), net->comm, PETSC_ERR_USER_INPUT, "-ts_dt %g: the time step must be positive", (double)*dt0);
  PetscFunctionReturn(0);
}

/* Integrate one segment [t, tend] from the same initial step every time (exact restarts). With
   reached (bbd-field -bbd_switch events), a terminal TS event may stop it early: *reached is the
   time it stopped at. */
PetscErrorCode BbdTSSolveSegment(BbdNet net, TS ts, Vec U, PetscReal t, PetscReal tend, PetscReal dt0, PetscReal *stop)
{
  TSConvergedReason reason;
  PetscReal         reached;

  PetscFunctionBeginUser;
  PetscCall(TSSetTime(ts, t));
  PetscCall(TSSetMaxTime(ts, tend));
  PetscCall(TSSetTimeStep(ts, PetscMin(dt0, tend - t)));
  PetscCall(TSRestartStep(ts));
  PetscCall(TSSolve(ts, U));
  PetscCall(TSGetConvergedReason(ts, &reason));
  PetscCall(TSGetTime(ts, &reached));
  if (reason == TS_DIVERGED_STEP_REJECTED) { /* Newton failures or the error control: every retry of one step rejected */
    PetscReal dt;
    PetscCall(TSGetTimeStep(ts, &dt));
    SETERRQ(net->comm, PETSC_ERR_NOT_CONVERGED, "the time stepper failed at t = %g (%s: the step was rejected -ts_max_reject times, down to dt = %g; -ts_adapt_monitor shows why); try a smaller -ts_dt or another -ts_type", (double)reached, TSConvergedReasons[reason], (double)dt);
  }
  PetscCheck(reason >= 0, net->comm, PETSC_ERR_NOT_CONVERGED, "the time stepper failed at t = %g (%s); try a smaller -ts_dt or another -ts_type", (double)reached, TSConvergedReasons[reason]);
  if (stop) *stop = reached;
  PetscCheck((stop && reason == TS_CONVERGED_EVENT) || PetscAbsReal(reached - tend) <= BbdTimeEps(net), net->comm, PETSC_ERR_USER_INPUT, "the time stepper stopped at t = %g before the end of its segment %g (%s): do not limit -ts_max_steps or -ts_max_time", (double)reached, (double)tend, TSConvergedReasons[reason]);
  PetscFunctionReturn(0);
}

PetscErrorCode BbdRunTS(BbdNet net, BbdOutput out)
{
  RunCtx       ctx = {0};
  BbdSnapshot  snap;
  TS           ts;
  Vec          U;
  PetscInt     nstate = (net->dyn == BBD_DYN_DAMPED ? 2 : 1) * net->nparam, lo, hi;
  PetscScalar *u;
  PetscReal    t = net->t0, dt0, eps = BbdTimeEps(net);

  PetscFunctionBeginUser;
  ctx.net    = net;
  ctx.tstart = net->t0;
  ctx.wall0  = MPI_Wtime();
  ctx.nout   = CountOutputs(net);
  PetscCall(BbdSnapshotCreate(net, &snap));
  PetscCall(PetscMalloc2(net->nparam, &ctx.vel, net->batch, &ctx.idx));

  PetscCall(VecCreateMPI(net->comm, PETSC_DECIDE, nstate, &U));
  PetscCall(VecScatterCreateToAll(U, &ctx.scat, &ctx.full));
  PetscCall(VecGetOwnershipRange(U, &lo, &hi));
  PetscCall(VecGetArray(U, &u));
  for (PetscInt g = lo; g < hi; g++) u[g - lo] = g < net->nparam ? net->theta[g] : net->thetadot[g - net->nparam];
  PetscCall(VecRestoreArray(U, &u));

  PetscCall(TSCreate(net->comm, &ts));
  PetscCall(TSSetRHSFunction(ts, NULL, RHSFunction, &ctx));
  PetscCall(BbdTSConfigure(net, ts, &dt0));

  PetscCall(Save(&ctx, out, &snap, t, net->theta, net->thetadot));
  while (t < net->tfinal - eps) {
    PetscReal tend;
    PetscBool save;
    BbdTSNextSegment(net, t, &tend, &save);
    PetscCall(BbdNetBatchSamples(net, 0.5 * (t + tend), ctx.idx));
    PetscCall(BbdTSSolveSegment(net, ts, U, t, tend, dt0, NULL));
    t = tend;
    if (save) {
      PetscCall(Gather(&ctx, U));
      PetscCall(Save(&ctx, out, &snap, t, net->theta, net->thetadot));
    }
  }
  PetscCall(Gather(&ctx, U));
  PetscCall(Summary(&ctx));
  net->t0 = t;
  PetscCall(TSDestroy(&ts));
  PetscCall(VecScatterDestroy(&ctx.scat));
  PetscCall(VecDestroy(&ctx.full));
  PetscCall(VecDestroy(&U));
  PetscCall(PetscFree2(ctx.vel, ctx.idx));
  PetscCall(BbdSnapshotDestroy(&snap));
  PetscFunctionReturn(0);
}

PetscErrorCode BbdNetRun(BbdNet net)
{
  BbdOutput out;
  PetscErrorCode ierr;

  PetscFunctionBeginUser;
  if (!net->quiet) PetscCall(BbdNetView(net, PETSC_VIEWER_STDOUT_(net->comm)));
  PetscCall(BbdOutputCreate(net, net->output_file, &out));
  if (net->dyn == BBD_DYN_SGD) ierr = BbdRunSGD(net, out);
  else ierr = BbdRunTS(net, out);
  if (ierr) {
    /* never leave a partial result that looks complete */
    PetscCall(BbdOutputAbort(&out));
    PetscCall(ierr);
  }
  PetscCall(PetscLogEventBegin(BBD_Output, 0, 0, 0, 0));
  PetscCall(BbdOutputFinish(&out, net->t0, net->theta, net->dyn == BBD_DYN_DAMPED ? net->thetadot : NULL)); /* the time reached */
  PetscCall(PetscLogEventEnd(BBD_Output, 0, 0, 0, 0));
  if (!net->quiet) PetscCall(PetscPrintf(net->comm, "wrote %s\n", net->output_file));
  PetscFunctionReturn(0);
}

PetscErrorCode BbdCheckUnusedOptions(MPI_Comm comm, PetscOptions options)
{
  PetscInt n;
  char   **names, **values;

  PetscFunctionBeginUser;
  PetscCall(PetscOptionsLeftGet(options, &n, &names, &values));
  for (PetscInt i = 0; i < n; i++) PetscCheck(strncmp(names[i], "bbd_", 4), comm, PETSC_ERR_USER_INPUT, "unknown option -%s (run with -help for the list)", names[i]);
  PetscCall(PetscOptionsLeftRestore(options, &n, &names, &values));
  PetscFunctionReturn(0);
}

/* -help in reading order. PetscInitialize prints PETSc's general options (debugger, malloc,
   logging, devices) right after a program's introduction, where they bury its own; BbdHelpHoldPetsc
   (before PetscInitialize) holds that text back, BbdHelpBegin (after it) prints the program's
   heading, and BbdPrintPetscHelp prints the held text and the time stepper's options after the
   program's own. Plain C: the first calls come before PETSc is initialised. */
static char     *help_held;
static size_t    help_len, help_cap;
static PetscBool help_holding;

static PetscErrorCode HelpHold(MPI_Comm comm, const char format[], ...)
{
  char    line[8192];
  size_t  n;
  va_list ap;

  (void)comm;
  va_start(ap, format);
  if (PetscVSNPrintf(line, sizeof(line), format, &n, ap)) line[0] = 0;
  va_end(ap);
  n = strlen(line);
  if (help_len + n + 1 > help_cap) {
    char *p = (char *)realloc(help_held, 2 * (help_len + n + 1));
    if (!p) return PETSC_ERR_MEM;
    help_held = p;
    help_cap  = 2 * (help_len + n + 1);
  }
  memcpy(help_held + help_len, line, n + 1);
  help_len += n;
  return 0;
}

void BbdHelpHoldPetsc(int argc, char **argv)
{
  for (int i = 1; i < argc; i++)
    if (!strcmp(argv[i], "-help") && !(i + 1 < argc && !strcmp(argv[i + 1], "intro"))) { /* -help intro exits inside PetscInitialize */
      help_holding    = PETSC_TRUE;
      PetscHelpPrintf = HelpHold;
    }
}

/* print the held text line by line (rank 0 of comm) and free it */
static PetscErrorCode HelpFlush(MPI_Comm comm)
{
  char *line = help_held, *end;

  PetscFunctionBeginUser;
  while (line && *line) {
    end = strchr(line, '\n');
    if (end) *end = 0;
    PetscCall((*PetscHelpPrintf)(comm, "%s%s", line, end ? "\n" : ""));
    line = end ? end + 1 : NULL;
  }
  free(help_held);
  help_held = NULL;
  help_len = help_cap = 0;
  PetscFunctionReturn(0);
}

PetscErrorCode BbdHelpBegin(MPI_Comm comm, const char title[])
{
  PetscBool help;

  PetscFunctionBeginUser;
  if (PetscHelpPrintf == HelpHold) PetscHelpPrintf = PetscHelpPrintfDefault;
  PetscCall(PetscOptionsHasHelp(NULL, &help));
  if (!help) PetscCall(HelpFlush(comm)); /* what PETSc printed without -help (-version) */
  else
    PetscCall((*PetscHelpPrintf)(comm, "========================================================================\n"
                                       "%s (every option once, its default in <>; docs/reference.md)\n"
                                       "========================================================================\n",
                                 title));
  PetscFunctionReturn(0);
}

/* -help: PETSc's general options held back at the start, then the time stepper's (TS, SNES, KSP, PC)
   as the runs configure them */
PetscErrorCode BbdPrintPetscHelp(MPI_Comm comm)
{
  TS   ts;
  SNES snes;

  PetscFunctionBeginUser;
  if (help_holding) {
    PetscCall((*PetscHelpPrintf)(comm, "========================================================================\n"
                                       "PETSc's general options\n"
                                       "========================================================================\n"));
    PetscCall(HelpFlush(comm));
    help_holding = PETSC_FALSE;
  }
  PetscCall((*PetscHelpPrintf)(comm, "========================================================================\n"
                                     "PETSc's time stepper options (TS, SNES, KSP, PC), as the runs configure them\n"
                                     "========================================================================\n"));
  PetscCall(TSCreate(comm, &ts));
  PetscCall(TSSetType(ts, TSRK));
  PetscCall(TSGetSNES(ts, &snes));
  PetscCall(SNESSetUseMatrixFree(snes, PETSC_FALSE, PETSC_TRUE));
  PetscCall(TSSetFromOptions(ts));
  PetscCall(TSDestroy(&ts));
  PetscFunctionReturn(0);
}
