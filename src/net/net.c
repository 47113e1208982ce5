/* BbdNet: definition, options, layout and built-in initial state.
   Layer map (docs/theory.md section 1): z^(m+1) = rho z^(m) + h (Phi_m(z^(m)) + b^(m)). */
#include "bbdimpl.h"

PetscErrorCode BbdNetCreate(MPI_Comm comm, BbdNet *net)
{
  BbdNet n;

  PetscFunctionBeginUser;
  PetscCall(BbdLogInitialize());
  PetscCall(PetscNew(&n));
  n->comm      = comm;
  n->family    = BBD_FAMILY_FIELD;
  n->M         = 8;
  n->P         = 2;
  n->rho       = 1;
  n->h         = 1;
  n->dy        = 1;
  n->kappa[0]  = 1;
  n->kappa[1]  = 0.1;
  n->kappa[2]  = 0;
  n->periodic  = PETSC_TRUE;
  n->loss      = BBD_LOSS_MSE;
  n->dyn       = BBD_DYN_FLOW;
  n->eta       = 1;
  n->gamma     = 4;
  n->tfinal    = 1;
  n->output_dt = 0.1;
  n->order     = BBD_ORDER_CYCLIC;
  n->batch     = 1;
  n->progress  = -1;
  n->width     = 16;
  n->act0      = BBD_ACT_TANH;
  PetscCall(PetscStrcpy(n->output_file, "bbd-net.h5"));
  *net = n;
  PetscFunctionReturn(0);
}

PetscErrorCode BbdNetDestroy(BbdNet *net)
{
  BbdNet n = *net;

  PetscFunctionBeginUser;
  if (!n) PetscFunctionReturn(0);
  PetscCall(PetscFree(n->n));
  PetscCall(PetscFree(n->act));
  PetscCall(PetscFree3(n->woff, n->boff, n->zoff));
  PetscCall(PetscFree(n->X));
  PetscCall(PetscFree(n->Y));
  PetscCall(PetscFree(n->theta));
  PetscCall(PetscFree(n->thetadot));
  PetscCall(PetscFree(n->state_z));
  PetscCall(PetscFree(n->state_zdot));
  PetscCall(PetscFree(n->perm));
  PetscCall(PetscFree3(n->wz, n->ws, n->wd1));
  PetscCall(PetscFree4(n->wlam, n->wdz, n->wtmp, n->wtmp2));
  PetscCall(PetscFree(n->widths));
  PetscCall(PetscFree(n->prefix));
  PetscCall(PetscFree(n));
  *net = NULL;
  PetscFunctionReturn(0);
}

/* Parse "name" or "n1,n2,...,nM" into per-layer activations. */
static PetscErrorCode ParseActivations(BbdNet net, const char *list, BbdActivation *act, PetscInt M)
{
  char   buf[4096], *tok, *save = NULL;
  PetscInt k = 0;

  PetscFunctionBeginUser;
  PetscCall(PetscStrncpy(buf, list, sizeof(buf)));
  for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
    PetscCheck(k < M, net->comm, PETSC_ERR_USER_INPUT, "-bbd_activation: %s lists more than M = %" PetscInt_FMT " activations (give one name, or one per weight layer)", list, M);
    PetscCall(BbdActivationFromString(net->comm, "-bbd_activation", tok, &act[k++]));
  }
  PetscCheck(k == 1 || k == M, net->comm, PETSC_ERR_USER_INPUT, "-bbd_activation: %s lists %" PetscInt_FMT " activations; give one name, or exactly M = %" PetscInt_FMT, list, k, M);
  for (; k < M; k++) act[k] = act[0];
  PetscFunctionReturn(0);
}

/* An option that contradicts the definition read from -bbd_init is an error. */
#define CHECK_FILE_CONFLICT(set, cond, opt, fmtv)                                                                            \
  PetscCheck(!(set) || !net->fromfile || (cond), net->comm, PETSC_ERR_USER_INPUT, "%s contradicts the network definition in -bbd_init %s (the file says " fmtv ")", opt, net->init_file

/* -help lines of array options with every default value (PETSc's own show only the first) */
static PetscErrorCode HelpArrayBegin(PetscOptionItems *PetscOptionsObject, const char opt[], PetscInt ndefault, const char none[], PetscBool *print)
{
  PetscFunctionBeginUser;
  *print = (PetscBool)(PetscOptionsObject->printhelp && PetscOptionsObject->count == 1 && !PetscOptionsObject->alreadyprinted);
  if (*print) PetscCall((*PetscHelpPrintf)(PetscOptionsObject->comm, "  -%s%s <%s", PetscOptionsObject->prefix ? PetscOptionsObject->prefix : "", opt + 1, ndefault ? "" : (none ? none : "none")));
  PetscFunctionReturn(0);
}

PetscErrorCode BbdOptionsRealArray(PetscOptionItems *PetscOptionsObject, const char opt[], const char text[], const char none[], PetscReal value[], PetscInt ndefault, PetscInt *n, PetscBool *set)
{
  PetscBool print;

  PetscFunctionBeginUser;
  PetscCall(HelpArrayBegin(PetscOptionsObject, opt, ndefault, none, &print));
  if (print) {
    for (PetscInt k = 0; k < ndefault; k++) PetscCall((*PetscHelpPrintf)(PetscOptionsObject->comm, "%s%g", k ? "," : "", (double)value[k]));
    PetscCall((*PetscHelpPrintf)(PetscOptionsObject->comm, ">: %s\n", text));
  }
  PetscCall(PetscOptionsGetRealArray(PetscOptionsObject->options, PetscOptionsObject->prefix, opt, value, n, set));
  PetscFunctionReturn(0);
}

PetscErrorCode BbdOptionsIntArray(PetscOptionItems *PetscOptionsObject, const char opt[], const char text[], const char none[], PetscInt value[], PetscInt ndefault, PetscInt *n, PetscBool *set)
{
  PetscBool print;

  PetscFunctionBeginUser;
  PetscCall(HelpArrayBegin(PetscOptionsObject, opt, ndefault, none, &print));
  if (print) {
    for (PetscInt k = 0; k < ndefault; k++) PetscCall((*PetscHelpPrintf)(PetscOptionsObject->comm, "%s%" PetscInt_FMT, k ? "," : "", value[k]));
    PetscCall((*PetscHelpPrintf)(PetscOptionsObject->comm, ">: %s\n", text));
  }
  PetscCall(PetscOptionsGetIntArray(PetscOptionsObject->options, PetscOptionsObject->prefix, opt, value, n, set));
  PetscFunctionReturn(0);
}

PetscErrorCode BbdOptionsHeading(PetscOptionItems *PetscOptionsObject, const char head[])
{
  PetscFunctionBeginUser;
  if (PetscOptionsObject->printhelp && PetscOptionsObject->count == 1 && !PetscOptionsObject->alreadyprinted) PetscCall((*PetscHelpPrintf)(PetscOptionsObject->comm, " %s:\n", head));
  PetscFunctionReturn(0);
}

PetscErrorCode BbdNetSetOptions(BbdNet net, PetscOptions options)
{
  PetscFunctionBeginUser;
  PetscCheck(!net->setfromoptions_called, net->comm, PETSC_ERR_ORDER, "BbdNetSetOptions: call it before BbdNetSetFromOptions");
  net->options = options;
  PetscFunctionReturn(0);
}

PetscErrorCode BbdNetSetOptionsPrefix(BbdNet net, const char prefix[])
{
  PetscFunctionBeginUser;
  PetscCheck(!net->setfromoptions_called, net->comm, PETSC_ERR_ORDER, "BbdNetSetOptionsPrefix: call it before BbdNetSetFromOptions");
  PetscCall(PetscFree(net->prefix));
  PetscCall(PetscStrallocpy(prefix, &net->prefix));
  PetscFunctionReturn(0);
}

/* the definition is built (and checked against -bbd_init) by SetFromOptions: its setters come first */
#define CHECK_DEFINITION_SETTER(net, name) PetscCheck(!(net)->setfromoptions_called, (net)->comm, PETSC_ERR_ORDER, "%s: a definition setter; call it before BbdNetSetFromOptions", name)

PetscErrorCode BbdNetSetFamily(BbdNet net, BbdFamily family)
{
  PetscFunctionBeginUser;
  CHECK_DEFINITION_SETTER(net, "BbdNetSetFamily");
  net->family = family;
  PetscFunctionReturn(0);
}

PetscErrorCode BbdNetSetDepth(BbdNet net, PetscInt M)
{
  PetscFunctionBeginUser;
  CHECK_DEFINITION_SETTER(net, "BbdNetSetDepth");
  PetscCheck(M >= 1 && M <= 100000, net->comm, PETSC_ERR_USER_INPUT, "BbdNetSetDepth %" PetscInt_FMT ": the depth must be between 1 and 100000", M);
  net->M = M;
  PetscFunctionReturn(0);
}

PetscErrorCode BbdNetSetWidth(BbdNet net, PetscInt N)
{
  PetscFunctionBeginUser;
  CHECK_DEFINITION_SETTER(net, "BbdNetSetWidth");
  PetscCheck(N >= 1 && N <= 100000000, net->comm, PETSC_ERR_USER_INPUT, "BbdNetSetWidth %" PetscInt_FMT ": the width must be positive", N);
  net->width = N;
  PetscFunctionReturn(0);
}

PetscErrorCode BbdNetSetWidths(BbdNet net, PetscInt n, const PetscInt w[])
{
  PetscFunctionBeginUser;
  CHECK_DEFINITION_SETTER(net, "BbdNetSetWidths");
  PetscCheck(n == 0 || (n >= 2 && n < 4096), net->comm, PETSC_ERR_USER_INPUT, "BbdNetSetWidths: %" PetscInt_FMT " widths; give 2 to 4095 (M+1), or 0 for none", n);
  PetscCall(PetscFree(net->widths));
  PetscCall(PetscMalloc1(n, &net->widths));
  PetscCall(PetscArraycpy(net->widths, w, n));
  net->nwidths = n;
  PetscFunctionReturn(0);
}

PetscErrorCode BbdNetSetActivation(BbdNet net, BbdActivation act)
{
  PetscFunctionBeginUser;
  CHECK_DEFINITION_SETTER(net, "BbdNetSetActivation");
  net->act0 = act;
  PetscFunctionReturn(0);
}

PetscErrorCode BbdNetSetLoss(BbdNet net, BbdLoss loss)
{
  PetscFunctionBeginUser;
  CHECK_DEFINITION_SETTER(net, "BbdNetSetLoss");
  net->loss = loss;
  PetscFunctionReturn(0);
}

PetscErrorCode BbdNetSetKappa(BbdNet net, PetscInt n, const PetscReal k[])
{
  PetscFunctionBeginUser;
  CHECK_DEFINITION_SETTER(net, "BbdNetSetKappa");
  PetscCheck(n == net->P + 1, net->comm, PETSC_ERR_USER_INPUT, "BbdNetSetKappa needs %" PetscInt_FMT " values (one per moment), got %" PetscInt_FMT, net->P + 1, n);
  for (PetscInt j = 0; j < n; j++) {
    PetscCheck((PetscIsNormalReal(k[j]) && k[j] > 0) || k[j] == 0, net->comm, PETSC_ERR_USER_INPUT, "BbdNetSetKappa: value %" PetscInt_FMT " is %g; mobilities must be finite and >= 0", j, (double)k[j]);
    net->kappa[j] = k[j];
  }
  PetscFunctionReturn(0);
}

PetscErrorCode BbdNetSetPeriodic(BbdNet net, PetscBool periodic)
{
  PetscFunctionBeginUser;
  CHECK_DEFINITION_SETTER(net, "BbdNetSetPeriodic");
  net->periodic = periodic;
  PetscFunctionReturn(0);
}

PetscErrorCode BbdNetSetInitFile(BbdNet net, const char file[])
{
  PetscFunctionBeginUser;
  CHECK_DEFINITION_SETTER(net, "BbdNetSetInitFile");
  PetscCall(PetscStrncpy(net->init_file, file ? file : "", sizeof(net->init_file)));
  PetscFunctionReturn(0);
}

PetscErrorCode BbdNetSetDynamics(BbdNet net, BbdDynamics dyn)
{
  PetscFunctionBeginUser;
  if (net->dyn != dyn && dyn == BBD_DYN_SGD && net->tfinal == 1 && net->output_dt == 0.1) {
    net->tfinal    = 100; /* sgd counts steps: defaults in steps */
    net->output_dt = 10;
  }
  net->dyn = dyn;
  PetscFunctionReturn(0);
}

PetscErrorCode BbdNetSetEta(BbdNet net, PetscReal eta)
{
  PetscFunctionBeginUser;
  PetscCheck(PetscIsNormalReal(eta) && eta > 0, net->comm, PETSC_ERR_USER_INPUT, "BbdNetSetEta %g: the learning rate must be a positive number", (double)eta);
  net->eta = eta;
  PetscFunctionReturn(0);
}

PetscErrorCode BbdNetSetGamma(BbdNet net, PetscReal gamma)
{
  PetscFunctionBeginUser;
  PetscCheck((PetscIsNormalReal(gamma) && gamma > 0) || gamma == 0, net->comm, PETSC_ERR_USER_INPUT, "BbdNetSetGamma %g: the damping must be a number >= 0", (double)gamma);
  net->gamma = gamma;
  PetscFunctionReturn(0);
}

PetscErrorCode BbdNetSetTFinal(BbdNet net, PetscReal tfinal)
{
  PetscFunctionBeginUser;
  PetscCheck(PetscIsNormalReal(tfinal) || tfinal == 0, net->comm, PETSC_ERR_USER_INPUT, "BbdNetSetTFinal: not a finite number");
  net->tfinal     = tfinal;
  net->tfinal_set = PETSC_TRUE;
  PetscFunctionReturn(0);
}

PetscErrorCode BbdNetSetOutputDt(BbdNet net, PetscReal dt)
{
  PetscFunctionBeginUser;
  PetscCheck(PetscIsNormalReal(dt) && dt > 0, net->comm, PETSC_ERR_USER_INPUT, "BbdNetSetOutputDt %g: must be a positive number", (double)dt);
  net->output_dt = dt;
  PetscFunctionReturn(0);
}

PetscErrorCode BbdNetSetSampleDt(BbdNet net, PetscReal dt)
{
  PetscFunctionBeginUser;
  PetscCheck((PetscIsNormalReal(dt) && dt > 0) || dt == 0, net->comm, PETSC_ERR_USER_INPUT, "BbdNetSetSampleDt %g: must be >= 0", (double)dt);
  net->sample_dt = dt;
  PetscFunctionReturn(0);
}

PetscErrorCode BbdNetSetBatch(BbdNet net, PetscInt batch)
{
  PetscFunctionBeginUser;
  PetscCheck(batch >= 1, net->comm, PETSC_ERR_USER_INPUT, "BbdNetSetBatch %" PetscInt_FMT ": must be >= 1", batch);
  PetscCheck(!net->theta, net->comm, PETSC_ERR_ORDER, "BbdNetSetBatch: call it before BbdNetSetUp");
  net->batch = batch;
  PetscFunctionReturn(0);
}

PetscErrorCode BbdNetSetSeed(BbdNet net, PetscInt seed)
{
  PetscFunctionBeginUser;
  PetscCheck(seed >= 0, net->comm, PETSC_ERR_USER_INPUT, "BbdNetSetSeed: must be >= 0");
  net->seed = (unsigned long)seed;
  PetscFunctionReturn(0);
}

PetscErrorCode BbdNetSetOutputFile(BbdNet net, const char file[])
{
  PetscFunctionBeginUser;
  PetscCheck(file && file[0], net->comm, PETSC_ERR_USER_INPUT, "BbdNetSetOutputFile: give a file name");
  PetscCall(PetscStrncpy(net->output_file, file, sizeof(net->output_file)));
  PetscFunctionReturn(0);
}

PetscErrorCode BbdNetSetQuiet(BbdNet net, PetscBool quiet)
{
  PetscFunctionBeginUser;
  net->quiet = quiet;
  PetscFunctionReturn(0);
}

PetscErrorCode BbdNetSetFromOptions(BbdNet net)
{
  PetscBool   set = PETSC_FALSE, set2, setM = PETSC_FALSE, flg = PETSC_FALSE, tset = PETSC_FALSE;
  PetscInt    M, N, nw = 4096, nk = BBD_MAX_MOMENTS, ival, *widths;
  PetscReal   kappa[BBD_MAX_MOMENTS], rval, hres = 1;
  char        actlist[4096], mode[64] = "lattice";
  PetscEnum   e;

  PetscFunctionBeginUser;
  PetscCall(PetscStrncpy(actlist, BbdActivations[net->act0], sizeof(actlist)));
  BbdOptionsBegin(net->comm, net->options, net->prefix, "Network and training options (docs/reference.md)");
  PetscCall(BbdOptionsHeading(PetscOptionsObject, "The network"));
  if (!net->composed) PetscCall(PetscOptionsString("-bbd_init", "Start from a saved state (HDF5, docs/output.md); the network definition comes from the file", "BbdNetSetFromOptions", net->init_file, net->init_file, sizeof(net->init_file), NULL));
  if (net->init_file[0]) PetscCall(BbdStateReadDefinition(net, net->init_file));

  e = (PetscEnum)net->family;
  PetscCall(PetscOptionsEnum("-bbd_family", "Network family", "BbdNetSetFromOptions", BbdFamilies, e, &e, &set));
  CHECK_FILE_CONFLICT(set, (BbdFamily)e == net->family, "-bbd_family", "%s"), BbdFamilies[net->family]);
  net->family = (BbdFamily)e;

  M = net->M; /* 8, BbdNetSetDepth's or the file's */
  if (!net->composed) PetscCall(PetscOptionsInt("-bbd_depth", "Number of weight layers M", "BbdNetSetFromOptions", M, &M, &setM));
  CHECK_FILE_CONFLICT(setM, M == net->M, "-bbd_depth", "%" PetscInt_FMT), net->M);
  PetscCheck(M >= 1 && M <= 100000, net->comm, PETSC_ERR_USER_INPUT, "-bbd_depth %" PetscInt_FMT ": the depth must be between 1 and 100000", M);
  N = net->fromfile ? net->n[0] : net->width;
  set = PETSC_FALSE;
  if (!net->composed) PetscCall(PetscOptionsInt("-bbd_width", "Width N (field family; dense: hidden width)", "BbdNetSetFromOptions", N, &N, &set));
  CHECK_FILE_CONFLICT(set, N == net->n[0], "-bbd_width", "%" PetscInt_FMT), net->n[0]);
  PetscCheck(N >= 1 && N <= 100000000, net->comm, PETSC_ERR_USER_INPUT, "-bbd_width %" PetscInt_FMT ": the width must be positive", N);
  PetscCall(PetscCalloc1(nw, &widths));
  for (PetscInt k = 0; k < net->nwidths; k++) widths[k] = net->widths[k];
  PetscCall(BbdOptionsIntArray(PetscOptionsObject, "-bbd_widths", "Dense family: all widths n0,...,nM (none: all equal to -bbd_width)", "none", widths, net->nwidths, &nw, &set2));
  if (!set2) nw = net->nwidths;
  set2 = (PetscBool)(nw > 0);
  PetscCheck(nw < 4096, net->comm, PETSC_ERR_USER_INPUT, "-bbd_widths: more than 4095 widths");
  if (set2) {
    PetscCheck(net->family == BBD_FAMILY_DENSE, net->comm, PETSC_ERR_USER_INPUT, "-bbd_widths is for the dense family; the field family has one width (-bbd_width)");
    PetscCheck(nw >= 2, net->comm, PETSC_ERR_USER_INPUT, "-bbd_widths needs at least two widths n0,n1");
    for (PetscInt k = 0; k < nw; k++) PetscCheck(widths[k] >= 1, net->comm, PETSC_ERR_USER_INPUT, "-bbd_widths: width %" PetscInt_FMT " is %" PetscInt_FMT "; widths must be positive", k, widths[k]);
    if (net->fromfile) {
      PetscBool same = (PetscBool)(nw == net->M + 1);
      for (PetscInt k = 0; same && k < nw; k++) same = (PetscBool)(widths[k] == net->n[k]);
      PetscCheck(same, net->comm, PETSC_ERR_USER_INPUT, "-bbd_widths contradicts the widths stored in -bbd_init %s", net->init_file);
    }
    if (!setM) M = nw - 1;
    else PetscCheck(M == nw - 1, net->comm, PETSC_ERR_USER_INPUT, "-bbd_depth %" PetscInt_FMT " but -bbd_widths lists %" PetscInt_FMT " widths (need M+1)", M, nw);
  }
  set = PETSC_FALSE;
  if (!net->composed) PetscCall(PetscOptionsString("-bbd_activation", "Activation: one of tanh,erf,sigmoid,softplus,gelu,swish,sin,linear,relu, or a comma list of M names (one per layer)", "BbdNetSetFromOptions", actlist, actlist, sizeof(actlist), &set));
  if (!net->fromfile) {
    net->M = M;
    PetscCall(PetscMalloc1(M + 1, &net->n));
    for (PetscInt m = 0; m <= M; m++) net->n[m] = nw ? widths[m] : N;
    if (net->family == BBD_FAMILY_DENSE && !nw) net->n[0] = net->n[M] = N; /* default dense: all widths N */
    PetscCall(PetscMalloc1(M, &net->act));
    PetscCall(ParseActivations(net, actlist, net->act, M));
  } else if (set) {
    BbdActivation *act;
    PetscBool      same = PETSC_TRUE;
    PetscCall(PetscMalloc1(net->M, &act));
    PetscCall(ParseActivations(net, actlist, act, net->M));
    for (PetscInt m = 0; m < net->M; m++) same = (PetscBool)(same && act[m] == net->act[m]);
    PetscCall(PetscFree(act));
    PetscCheck(same, net->comm, PETSC_ERR_USER_INPUT, "-bbd_activation %s contradicts the activations stored in -bbd_init %s", actlist, net->init_file);
  }

  PetscCall(PetscFree(widths));

  e = (PetscEnum)net->loss;
  PetscCall(PetscOptionsEnum("-bbd_loss", "Loss", "BbdNetSetFromOptions", BbdLosses, e, &e, &set));
  CHECK_FILE_CONFLICT(set, (BbdLoss)e == net->loss, "-bbd_loss", "%s"), BbdLosses[net->loss]);
  net->loss = (BbdLoss)e;

  if (net->family == BBD_FAMILY_FIELD) {
    PetscBool per = net->periodic;
    for (PetscInt m = 1; m <= net->M; m++) PetscCheck(net->n[m] == net->n[0], net->comm, PETSC_ERR_USER_INPUT, "field family: all widths must be equal");
    for (PetscInt j = 0; j < BBD_MAX_MOMENTS; j++) kappa[j] = net->kappa[j];
    nk = BBD_MAX_MOMENTS;
    PetscCall(BbdOptionsRealArray(PetscOptionsObject, "-bbd_kappa", "Field family: mobilities k0,k1,k2 of the moments a_0..a_2 (0 freezes)", NULL, kappa, BBD_MAX_MOMENTS, &nk, &set));
    if (set) {
      PetscCheck(nk == net->P + 1, net->comm, PETSC_ERR_USER_INPUT, "-bbd_kappa needs %" PetscInt_FMT " values (one per moment a_0..a_%" PetscInt_FMT "), got %" PetscInt_FMT, net->P + 1, net->P, nk);
      for (PetscInt j = 0; j < nk; j++) {
        PetscCheck(PetscIsNormalReal(kappa[j]) || kappa[j] == 0, net->comm, PETSC_ERR_USER_INPUT, "-bbd_kappa: value %" PetscInt_FMT " is not a finite number", j);
        PetscCheck(kappa[j] >= 0, net->comm, PETSC_ERR_USER_INPUT, "-bbd_kappa: value %" PetscInt_FMT " is %g; mobilities must be >= 0", j, (double)kappa[j]);
        CHECK_FILE_CONFLICT(PETSC_TRUE, kappa[j] == net->kappa[j], "-bbd_kappa", "kappa_%" PetscInt_FMT " = %g"), j, (double)net->kappa[j]);
        net->kappa[j] = kappa[j];
      }
    }
    PetscCall(PetscOptionsBool("-bbd_periodic", "Field family: periodic in width (else zero padding)", "BbdNetSetFromOptions", per, &per, &set));
    CHECK_FILE_CONFLICT(set, per == net->periodic, "-bbd_periodic", "%d"), (int)net->periodic);
    net->periodic = per;
    net->rho      = 1;
    net->h        = 1.0 / net->M;
    net->dy       = 1.0 / net->n[0];
  } else {
    PetscBool res = net->residual;
    PetscCall(PetscOptionsBool("-bbd_residual", "Dense family: residual form z' = z + h (W sigma(z) + b)", "BbdNetSetFromOptions", res, &res, &set));
    CHECK_FILE_CONFLICT(set, res == net->residual, "-bbd_residual", "%d"), (int)net->residual);
    net->residual = res;
    hres = net->fromfile ? net->h : 1;
    PetscCall(PetscOptionsReal("-bbd_h", "Dense residual form: step h", "BbdNetSetFromOptions", hres, &hres, &set));
    CHECK_FILE_CONFLICT(set, hres == net->h, "-bbd_h", "%g"), (double)net->h);
    PetscCheck(hres > 0 && PetscIsNormalReal(hres), net->comm, PETSC_ERR_USER_INPUT, "-bbd_h %g: the step must be a positive number", (double)hres);
    if (res) {
      for (PetscInt m = 1; m <= net->M; m++) PetscCheck(net->n[m] == net->n[0], net->comm, PETSC_ERR_USER_INPUT, "-bbd_residual needs all widths equal (-bbd_widths)");
      net->rho = 1;
      net->h   = hres;
    } else {
      PetscCheck(!set, net->comm, PETSC_ERR_USER_INPUT, "-bbd_h is only meaningful with -bbd_residual");
      net->rho = 0;
      net->h   = 1;
    }
    net->dy = 1;
    net->P  = 0;
  }

  if (PetscOptionsObject->printhelp) { /* -help lists the other family's options too (with their defaults) */
    PetscBool db = PETSC_FALSE;
    PetscReal dr[BBD_MAX_MOMENTS] = {1, 0.1, 0};
    PetscInt  dn = BBD_MAX_MOMENTS;
    if (net->family == BBD_FAMILY_FIELD) {
      PetscCall(PetscOptionsBool("-bbd_residual", "Dense family: residual form z' = z + h (W sigma(z) + b)", "BbdNetSetFromOptions", db, &db, NULL));
      PetscCall(PetscOptionsReal("-bbd_h", "Dense residual form: step h", "BbdNetSetFromOptions", dr[0], &dr[0], NULL));
    } else {
      db = PETSC_TRUE;
      PetscCall(BbdOptionsRealArray(PetscOptionsObject, "-bbd_kappa", "Field family: mobilities k0,k1,k2 of the moments a_0..a_2 (0 freezes)", NULL, dr, BBD_MAX_MOMENTS, &dn, NULL));
      PetscCall(PetscOptionsBool("-bbd_periodic", "Field family: periodic in width (else zero padding)", "BbdNetSetFromOptions", db, &db, NULL));
    }
  }

  PetscCall(BbdOptionsHeading(PetscOptionsObject, "Training dynamics"));
  e = (PetscEnum)net->dyn;
  PetscCall(PetscOptionsEnum("-bbd_dynamics", "Training dynamics", "BbdNetSetFromOptions", BbdDynamicsTypes, e, &e, NULL));
  PetscCall(BbdNetSetDynamics(net, (BbdDynamics)e));
  rval     = net->eta;
  PetscCall(PetscOptionsReal("-bbd_eta", "Learning rate eta", "BbdNetSetFromOptions", rval, &rval, &set));
  CHECK_FILE_CONFLICT(set, rval == net->eta, "-bbd_eta", "%g"), (double)net->eta);
  PetscCheck(PetscIsNormalReal(rval) && rval > 0, net->comm, PETSC_ERR_USER_INPUT, "-bbd_eta %g: the learning rate must be a positive number", (double)rval);
  net->eta = rval;
  PetscCall(PetscOptionsReal("-bbd_gamma", "Damping gamma (damped dynamics)", "BbdNetSetFromOptions", net->gamma, &net->gamma, NULL));
  PetscCheck((PetscIsNormalReal(net->gamma) && net->gamma > 0) || net->gamma == 0, net->comm, PETSC_ERR_USER_INPUT, "-bbd_gamma %g: the damping must be a number >= 0", (double)net->gamma);
  if (!net->composed) {
    PetscCall(PetscOptionsReal("-bbd_tfinal", "End time (sgd: number of steps; default 1, sgd 100)", "BbdNetSetFromOptions", net->tfinal, &net->tfinal, &tset));
    PetscCall(PetscOptionsReal("-bbd_output_dt", "Spacing of saved snapshots, start and tfinal included (default 0.1, sgd 10)", "BbdNetSetFromOptions", net->output_dt, &net->output_dt, NULL));
  }
  net->tfinal_set = (PetscBool)(net->tfinal_set || tset);
  PetscCheck(PetscIsNormalReal(net->tfinal) || net->tfinal == 0, net->comm, PETSC_ERR_USER_INPUT, "-bbd_tfinal is not a finite number");
  PetscCheck(PetscIsNormalReal(net->output_dt) && net->output_dt > 0, net->comm, PETSC_ERR_USER_INPUT, "-bbd_output_dt %g: must be a positive number", (double)net->output_dt);
  PetscCall(PetscOptionsReal("-bbd_sample_dt", "Switch to the next batch of samples every sample_dt (0: never switch)", "BbdNetSetFromOptions", net->sample_dt, &net->sample_dt, NULL));
  PetscCheck((PetscIsNormalReal(net->sample_dt) && net->sample_dt > 0) || net->sample_dt == 0, net->comm, PETSC_ERR_USER_INPUT, "-bbd_sample_dt %g: must be >= 0", (double)net->sample_dt);
  e = (PetscEnum)net->order;
  PetscCall(PetscOptionsEnum("-bbd_sample_order", "Order in which batches are visited", "BbdNetSetFromOptions", BbdSampleOrders, e, &e, NULL));
  net->order = (BbdSampleOrder)e;
  PetscCall(PetscOptionsInt("-bbd_batch", "Samples per batch (the loss is their mean)", "BbdNetSetFromOptions", net->batch, &net->batch, NULL));
  PetscCheck(net->batch >= 1, net->comm, PETSC_ERR_USER_INPUT, "-bbd_batch %" PetscInt_FMT ": must be >= 1", net->batch);
  ival = (PetscInt)net->seed;
  PetscCall(PetscOptionsInt("-bbd_seed", "Seed of every random choice", "BbdNetSetFromOptions", ival, &ival, NULL));
  PetscCheck(ival >= 0, net->comm, PETSC_ERR_USER_INPUT, "-bbd_seed must be >= 0");
  net->seed = (unsigned long)ival;
  PetscCall(BbdOptionsHeading(PetscOptionsObject, "Data"));
  PetscCall(PetscOptionsString("-bbd_data", "Data: builtin, FILE.h5 (/data/X, /data/Y) or fashion-mnist", "BbdNetSetFromOptions", net->data_source, net->data_source, sizeof(net->data_source), NULL));
  PetscCall(PetscOptionsInt("-bbd_nsamples", "Number of samples to use (0: the source's default)", "BbdNetSetFromOptions", net->nsamples, &net->nsamples, NULL));
  PetscCheck(net->nsamples >= 0, net->comm, PETSC_ERR_USER_INPUT, "-bbd_nsamples must be >= 0");
  PetscCall(BbdOptionsHeading(PetscOptionsObject, "Output"));
  if (!net->composed) PetscCall(PetscOptionsString("-bbd_output", "Result file (HDF5)", "BbdNetSetFromOptions", net->output_file, net->output_file, sizeof(net->output_file), NULL));
  PetscCall(PetscOptionsInt("-bbd_progress", "Print a progress line every this many saved times (0: never; default -1: about 10 lines per run)", "BbdNetSetFromOptions", net->progress, &net->progress, NULL));
  if (!net->composed) PetscCall(PetscOptionsBool("-bbd_quiet", "Print nothing but errors", "BbdNetSetFromOptions", net->quiet, &net->quiet, NULL));
  if (!net->for_field && !net->composed) { /* bbd-field reads -bbd_mode itself */
    PetscCall(PetscOptionsString("-bbd_mode", "bbd-field discretisation (lattice|continuum); bbd-net is always the lattice", "BbdNetSetFromOptions", mode, mode, sizeof(mode), &flg));
    PetscCheck(!flg || !strcmp(mode, "lattice"), net->comm, PETSC_ERR_USER_INPUT, "-bbd_mode %s: bbd-net integrates the network itself (lattice); continuum mode is bbd-field's", mode);
  }
  PetscOptionsEnd();

  if (net->dyn == BBD_DYN_SGD) {
    PetscCheck(net->output_dt == PetscFloorReal(net->output_dt), net->comm, PETSC_ERR_USER_INPUT, "-bbd_output_dt %g: with sgd, time counts steps, so output_dt must be a whole number", (double)net->output_dt);
    PetscCheck(net->sample_dt == 0, net->comm, PETSC_ERR_USER_INPUT, "-bbd_sample_dt: sgd takes a new batch at every step; sample_dt is for flow and damped");
  }
  if (net->dyn == BBD_DYN_DAMPED) PetscCheck(net->gamma >= 0, net->comm, PETSC_ERR_USER_INPUT, "-bbd_gamma must be >= 0");
  net->setfromoptions_called = PETSC_TRUE;
  PetscFunctionReturn(0);
}

PetscErrorCode BbdNetSetLayout(BbdNet net)
{
  PetscInt M = net->M, off = 0;

  PetscFunctionBeginUser;
  PetscCall(PetscMalloc3(M, &net->woff, M, &net->boff, M + 1, &net->zoff));
  for (PetscInt m = 0; m < M; m++) {
    net->woff[m] = off;
    off += (net->family == BBD_FAMILY_FIELD) ? (net->P + 1) * net->n[0] : net->n[m + 1] * net->n[m];
    net->boff[m] = off;
    off += net->n[m + 1];
  }
  net->nparam = off;
  net->nz     = 0;
  net->nzmax  = 0;
  for (PetscInt m = 0; m <= M; m++) {
    net->zoff[m] = net->nz;
    net->nz += net->n[m];
    net->nzmax = PetscMax(net->nzmax, net->n[m]);
  }
  PetscCall(PetscCalloc1(net->nparam, &net->theta));
  PetscCall(PetscCalloc1(net->nparam, &net->thetadot));
  PetscCall(PetscMalloc3(net->batch * net->nz, &net->wz, net->batch * net->nz, &net->ws, net->batch * net->nz, &net->wd1));
  PetscCall(PetscMalloc4(net->batch * net->nz, &net->wlam, net->batch * net->nz, &net->wdz, 4 * (net->nzmax + 2) * (net->P + 1), &net->wtmp, 4 * (net->nzmax + 2) * (net->P + 1), &net->wtmp2));
  PetscFunctionReturn(0);
}

void BbdFieldAnalytic(PetscInt P, PetscReal x, PetscReal y, PetscReal *a, PetscReal *b)
{
  a[0] = 0.8 + 0.2 * PetscCosReal(2 * PETSC_PI * y) * PetscSinReal(PETSC_PI * x);
  if (P >= 1) a[1] = 0.1 * PetscSinReal(2 * PETSC_PI * (y + x));
  if (P >= 2) a[2] = 0.005 * (1 + 0.5 * PetscCosReal(2 * PETSC_PI * y));
  *b = 0.1 * PetscCosReal(2 * PETSC_PI * (x - y));
}

/* Built-in initial state: smooth moment fields (field family), scaled Gaussian weights (dense). */
static PetscErrorCode BbdNetInitBuiltin(BbdNet net)
{
  PetscFunctionBeginUser;
  if (net->family == BBD_FAMILY_FIELD) {
    PetscInt N = net->n[0];
    for (PetscInt m = 0; m < net->M; m++) {
      PetscReal  x = (PetscReal)m / net->M;
      PetscReal *a = net->theta + net->woff[m], *b = net->theta + net->boff[m];
      for (PetscInt i = 0; i < N; i++) {
        PetscReal aj[BBD_MAX_MOMENTS];
        BbdFieldAnalytic(net->P, x, (PetscReal)i / N, aj, &b[i]);
        for (PetscInt j = 0; j <= net->P; j++) a[j * N + i] = aj[j];
      }
    }
  } else {
    for (PetscInt m = 0; m < net->M; m++) {
      PetscInt   n0 = net->n[m], n1 = net->n[m + 1];
      PetscReal *W = net->theta + net->woff[m], *b = net->theta + net->boff[m];
      PetscReal  scale = (net->residual ? 0.5 : 1.0) / PetscSqrtReal((PetscReal)n0);
      for (PetscInt k = 0; k < n0 * n1; k++) W[k] = scale * BbdRandNormal(net->seed, 100 + (unsigned long)m, (unsigned long)k);
      for (PetscInt k = 0; k < n1; k++) b[k] = 0.1 * BbdRandNormal(net->seed, 100000 + (unsigned long)m, (unsigned long)k);
    }
  }
  PetscFunctionReturn(0);
}

/* a moment with kappa_j = 0 is frozen: its velocity is zero (damped states included) */
PetscErrorCode BbdNetFreezeVelocity(BbdNet net, PetscReal *thetadot)
{
  PetscFunctionBeginUser;
  if (net->family != BBD_FAMILY_FIELD) PetscFunctionReturn(0);
  for (PetscInt m = 0; m < net->M; m++)
    for (PetscInt j = 0; j <= net->P; j++)
      if (net->kappa[j] == 0) PetscCall(PetscArrayzero(thetadot + net->woff[m] + j * net->n[0], net->n[0]));
  PetscFunctionReturn(0);
}

PetscErrorCode BbdNetSetUp(BbdNet net)
{
  PetscFunctionBeginUser;
  PetscCall(BbdNetSetLayout(net));
  if (net->init_file[0] && !net->init_grid) PetscCall(BbdStateReadState(net, net->init_file));
  else if (!net->init_file[0]) PetscCall(BbdNetInitBuiltin(net));
  if (!net->for_field) { /* bbd-net's neurons come from its forward pass */
    PetscCall(PetscFree(net->state_z));
    PetscCall(PetscFree(net->state_zdot));
  }
  PetscCall(BbdNetFreezeVelocity(net, net->thetadot));
  if (!net->X) PetscCall(BbdDataBuild(net));
  PetscCheck(net->S >= 1, net->comm, PETSC_ERR_USER_INPUT, "no samples in the data");
  PetscCheck(net->batch <= net->S, net->comm, PETSC_ERR_USER_INPUT, "-bbd_batch %" PetscInt_FMT " is larger than the number of samples %" PetscInt_FMT, net->batch, net->S);
  PetscCheck(net->tfinal_set || !net->init_file[0] || net->t0 == 0, net->comm, PETSC_ERR_USER_INPUT, "-bbd_init %s holds a state at t = %g: give the end time with -bbd_tfinal", net->init_file, (double)net->t0);
  PetscCheck(net->tfinal >= net->t0, net->comm, PETSC_ERR_USER_INPUT, "-bbd_tfinal %g is before the start time %g%s%s", (double)net->tfinal, (double)net->t0, net->init_file[0] ? " of -bbd_init " : "", net->init_file);
  if (net->nsamples > 0) { /* also for data read from -bbd_init */
    PetscCheck(net->nsamples <= net->S, net->comm, PETSC_ERR_USER_INPUT, "-bbd_nsamples %" PetscInt_FMT ": the data hold only %" PetscInt_FMT " samples", net->nsamples, net->S);
    net->S = net->nsamples;
  }
  if (net->dyn == BBD_DYN_SGD) PetscCheck(net->tfinal == PetscFloorReal(net->tfinal) && net->t0 == PetscFloorReal(net->t0), net->comm, PETSC_ERR_USER_INPUT, "-bbd_tfinal %g: with sgd, time counts steps and must be a whole number", (double)net->tfinal);
  PetscFunctionReturn(0);
}

/* Batch in use at time t (flow/damped: switches every sample_dt; sgd: step k = t). */
PetscInt BbdNetBatchIndex(BbdNet net, PetscReal t)
{
  if (net->dyn == BBD_DYN_SGD) return (PetscInt)PetscFloorReal(t + 1e-9);
  if (net->sample_dt <= 0) return 0;
  return (PetscInt)PetscFloorReal(t / net->sample_dt + 1e-9);
}

/* Sample indices of batch k. Cyclic: kB..kB+B-1 mod S. Random: a permutation of 0..S-1 per
   epoch (Fisher-Yates driven by the seed and the epoch), read B at a time. Pure functions of
   (seed, k): every rank and every restart sees the same samples. */
PetscErrorCode BbdNetBatchFromIndex(BbdNet net, PetscInt k, PetscInt *idx)
{
  PetscInt B = net->batch, S = net->S;

  PetscFunctionBeginUser;
  for (PetscInt s = 0; s < B; s++) {
    PetscInt g = k * B + s; /* global position in the sequence of visits */
    PetscInt epoch = g / S, pos = g % S;
    if (net->order == BBD_ORDER_CYCLIC) idx[s] = pos;
    else {
      if (!net->perm || net->perm_epoch != epoch) { /* one permutation per epoch, kept */
        if (!net->perm) PetscCall(PetscMalloc1(S, &net->perm));
        for (PetscInt i = 0; i < S; i++) net->perm[i] = i;
        for (PetscInt i = S - 1; i > 0; i--) {
          PetscInt j = (PetscInt)(BbdRandUniform(net->seed, 7777 + (unsigned long)epoch, (unsigned long)i) * (i + 1)), tmp;
          if (j > i) j = i;
          tmp = net->perm[i], net->perm[i] = net->perm[j], net->perm[j] = tmp;
        }
        net->perm_epoch = epoch;
      }
      idx[s] = net->perm[pos];
    }
  }
  PetscFunctionReturn(0);
}

PetscErrorCode BbdNetBatchSamples(BbdNet net, PetscReal t, PetscInt *idx)
{
  PetscFunctionBeginUser;
  PetscCall(BbdNetBatchFromIndex(net, BbdNetBatchIndex(net, t), idx));
  PetscFunctionReturn(0);
}

/* Forward-map stability number of a field network (docs/theory.md section 14, "Stability"): the explicit
   step in depth of the diffusion term a_2 D_2 sigma(z) is stable only if
   h max|a_2| max sigma' / dy^2 <= 1/2. sigma' is bounded over a wide z range by sampling. */
PetscReal BbdNetStabilityNumber(BbdNet net)
{
  PetscReal amax = 0, smax = 0, zs[401], d1[401];

  if (net->family != BBD_FAMILY_FIELD || net->P < 2) return 0;
  for (PetscInt m = 0; m < net->M; m++)
    for (PetscInt i = 0; i < net->n[0]; i++) amax = PetscMax(amax, PetscAbsReal(net->theta[net->woff[m] + 2 * net->n[0] + i]));
  for (PetscInt k = 0; k <= 400; k++) zs[k] = -10 + 0.05 * k;
  for (PetscInt m = 0; m < net->M; m++) {
    BbdActivationEval(net->act[m], 401, zs, NULL, d1, NULL);
    for (PetscInt k = 0; k <= 400; k++) smax = PetscMax(smax, PetscAbsReal(d1[k]));
  }
  return net->h * amax * smax / (net->dy * net->dy);
}

PetscErrorCode BbdNetView(BbdNet net, PetscViewer v)
{
  PetscFunctionBeginUser;
  PetscCall(PetscViewerASCIIPrintf(v, "BBD network: family %s, depth M = %" PetscInt_FMT ", widths", BbdFamilies[net->family], net->M));
  for (PetscInt m = 0; m <= PetscMin(net->M, 12); m++) PetscCall(PetscViewerASCIIPrintf(v, " %" PetscInt_FMT, net->n[m]));
  if (net->M > 12) PetscCall(PetscViewerASCIIPrintf(v, " ..."));
  PetscCall(PetscViewerASCIIPrintf(v, ", rho = %g, h = %g\n", (double)net->rho, (double)net->h));
  PetscCall(PetscViewerASCIIPrintf(v, "  activation %s%s, loss %s, dynamics %s, eta = %g", BbdActivations[net->act[0]], net->M > 1 && net->act[1] != net->act[0] ? " (varies by layer)" : "", BbdLosses[net->loss], BbdDynamicsTypes[net->dyn], (double)net->eta));
  if (net->dyn == BBD_DYN_DAMPED) PetscCall(PetscViewerASCIIPrintf(v, ", gamma = %g", (double)net->gamma));
  if (net->family == BBD_FAMILY_FIELD) PetscCall(PetscViewerASCIIPrintf(v, ", kappa = (%g, %g, %g), %s", (double)net->kappa[0], (double)net->kappa[1], (double)net->kappa[2], net->periodic ? "periodic" : "zero-padded"));
  if (net->family == BBD_FAMILY_FIELD && net->theta && net->P >= 2) {
    PetscReal sn = BbdNetStabilityNumber(net);
    PetscCall(PetscViewerASCIIPrintf(v, "\n  forward-map stability number h max|a_2| max sigma'/dy^2 = %.3g%s", (double)sn, sn > 0.5 ? " > 1/2: WARNING, this lattice's depth step is unstable (raise -bbd_depth)" : " (stable: <= 1/2)"));
  }
  PetscCall(PetscViewerASCIIPrintf(v, "\n  %" PetscInt_FMT " samples, batch %" PetscInt_FMT ", t in [%g, %g], output every %g\n", net->S, net->batch, (double)net->t0, (double)net->tfinal, (double)net->output_dt));
  PetscFunctionReturn(0);
}
