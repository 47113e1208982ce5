/* Reading a state file (-bbd_init): the network's definition from the root attributes, then
   /state and /data (docs/output.md; the layout is the one BbdOutput writes, src/io/output.c).
   Every rank reads the file itself; every failure (missing, foreign, truncated, wrong attribute,
   wrong shape, non-finite value) is a PETSc error naming the file and the attribute or dataset. */
#include "ioimpl.h"
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* activation: one name for every layer, or exactly M comma-separated names */
static PetscErrorCode ParseActivations(BbdNet net, const char *file, char *list)
{
  char     what[PETSC_MAX_PATH_LEN + 64], *tok, *next;
  PetscInt k = 0;

  PetscFunctionBeginUser;
  PetscCall(PetscSNPrintf(what, sizeof(what), "%s: attribute activation", file));
  if (!strchr(list, ',')) {
    PetscCall(BbdActivationFromString(PETSC_COMM_SELF, what, list, &net->act[0]));
    for (PetscInt m = 1; m < net->M; m++) net->act[m] = net->act[0];
    PetscFunctionReturn(0);
  }
  for (tok = list; tok; tok = next, k++) {
    if ((next = strchr(tok, ','))) *next++ = 0;
    while (*tok == ' ') tok++;
    for (size_t l = strlen(tok); l > 0 && tok[l - 1] == ' '; l--) tok[l - 1] = 0;
    PetscCheck(k < net->M, PETSC_COMM_SELF, PETSC_ERR_USER_INPUT, "%s: attribute activation lists more than depth = %" PetscInt_FMT " names", file, net->M);
    PetscCall(BbdActivationFromString(PETSC_COMM_SELF, what, tok, &net->act[k]));
  }
  PetscCheck(k == net->M, PETSC_COMM_SELF, PETSC_ERR_USER_INPUT, "%s: attribute activation lists %" PetscInt_FMT " names, expected one or depth = %" PetscInt_FMT, file, k, net->M);
  PetscFunctionReturn(0);
}

static PetscErrorCode ReadDefinition_Private(BbdNet net, hid_t fid, const char *file)
{
  char          *s, what[PETSC_MAX_PATH_LEN + 64];
  PetscEnum      e;
  PetscBool      found;
  PetscInt       M = 0, version = 0, periodic = 0, residual = 0, nk = 0;
  long long     *w;
  PetscReal      rho = 0, h = 0, eta = 0, gamma = 0, kappa[BBD_MAX_MOMENTS] = {0};
  BbdFamily      family;
  PetscErrorCode ierr;

  PetscFunctionBeginUser;
  PetscCall(BbdH5ReadAttrInt(fid, file, "version", PETSC_FALSE, &version, &found));
  PetscCheck(!found || version <= BBD_VERSION, PETSC_COMM_SELF, PETSC_ERR_USER_INPUT, "%s: layout version %" PetscInt_FMT " is newer than this program's (%d): update BBD-Field", file, version, BBD_VERSION);
  PetscCall(BbdH5ReadAttrString(fid, file, "", "family", PETSC_TRUE, &s));
  ierr = PetscEnumFind(BbdFamilies, s, &e, &found);
  PetscCall(PetscStrncpy(what, s, sizeof(what)));
  PetscCall(PetscFree(s));
  PetscCheck(!ierr && found, PETSC_COMM_SELF, PETSC_ERR_USER_INPUT, "%s: attribute family is \"%s\", expected dense or field", file, what);
  family = (BbdFamily)e;

  PetscCall(BbdH5ReadAttrInt(fid, file, "depth", PETSC_TRUE, &M, NULL));
  PetscCheck(M >= 1, PETSC_COMM_SELF, PETSC_ERR_USER_INPUT, "%s: attribute depth = %" PetscInt_FMT " must be >= 1", file, M);
  PetscCall(PetscMalloc1(M + 1, &w));
  ierr = BbdH5ReadAttrNumbers(fid, file, "", "widths", PETSC_TRUE, PETSC_TRUE, M + 1, M + 1, NULL, w, NULL, NULL);
  if (ierr) PetscCall(PetscFree(w));
  PetscCall(ierr);
  PetscCall(PetscFree(net->n));
  PetscCall(PetscMalloc1(M + 1, &net->n));
  for (PetscInt m = 0; m <= M; m++) net->n[m] = (PetscInt)w[m];
  PetscCall(PetscFree(w));
  for (PetscInt m = 0; m <= M; m++) {
    PetscCheck(net->n[m] >= 1, PETSC_COMM_SELF, PETSC_ERR_USER_INPUT, "%s: attribute widths[%" PetscInt_FMT "] = %" PetscInt_FMT " must be >= 1", file, m, net->n[m]);
    PetscCheck(family != BBD_FAMILY_FIELD || net->n[m] == net->n[0], PETSC_COMM_SELF, PETSC_ERR_USER_INPUT, "%s: field family needs equal widths, but widths[%" PetscInt_FMT "] = %" PetscInt_FMT " != widths[0] = %" PetscInt_FMT, file, m, net->n[m], net->n[0]);
  }

  PetscCall(BbdH5ReadAttrReal(fid, file, "", "rho", PETSC_TRUE, &rho, NULL));
  PetscCall(BbdH5ReadAttrReal(fid, file, "", "h", PETSC_TRUE, &h, NULL));
  PetscCheck(h > 0, PETSC_COMM_SELF, PETSC_ERR_USER_INPUT, "%s: attribute h = %g must be > 0", file, (double)h);
  PetscCall(BbdH5ReadAttrReal(fid, file, "", "eta", PETSC_TRUE, &eta, NULL));
  PetscCall(BbdH5ReadAttrReal(fid, file, "", "gamma", PETSC_FALSE, &gamma, &found));
  if (found) net->gamma = gamma;
  { /* run settings stored beside the definition: defaults that options may change, so a
       restart visits the same samples (extension of the contract) */
    PetscReal r = 0;
    PetscInt  k = 0;
    char     *so = NULL;
    PetscCall(BbdH5ReadAttrReal(fid, file, "", "sample_dt", PETSC_FALSE, &r, &found));
    if (found && r >= 0) net->sample_dt = r;
    PetscCall(BbdH5ReadAttrReal(fid, file, "", "output_dt", PETSC_FALSE, &r, &found));
    if (found && r > 0) net->output_dt = r;
    PetscCall(BbdH5ReadAttrInt(fid, file, "batch", PETSC_FALSE, &k, &found));
    if (found && k >= 1) net->batch = k;
    PetscCall(BbdH5ReadAttrInt(fid, file, "seed", PETSC_FALSE, &k, &found));
    if (found && k >= 0) net->seed = (unsigned long)k;
    PetscCall(BbdH5ReadAttrString(fid, file, "", "sample_order", PETSC_FALSE, &so));
    if (so) {
      if (!strcmp(so, "random")) net->order = BBD_ORDER_RANDOM;
      else if (!strcmp(so, "cyclic")) net->order = BBD_ORDER_CYCLIC;
      PetscCall(PetscFree(so));
    }
  }
  if (family == BBD_FAMILY_FIELD) {
    PetscCall(BbdH5ReadAttrNumbers(fid, file, "", "kappa", PETSC_TRUE, PETSC_FALSE, 1, BBD_MAX_MOMENTS, kappa, NULL, &nk, NULL));
    for (PetscInt j = 0; j < BBD_MAX_MOMENTS; j++) {
      net->kappa[j] = j < nk ? kappa[j] : 0;
      PetscCheck(net->kappa[j] >= 0, PETSC_COMM_SELF, PETSC_ERR_USER_INPUT, "%s: attribute kappa[%" PetscInt_FMT "] = %g must be >= 0", file, j, (double)net->kappa[j]);
    }
    net->P = nk - 1;
  }
  PetscCall(BbdH5ReadAttrInt(fid, file, "periodic", PETSC_TRUE, &periodic, NULL));
  PetscCall(BbdH5ReadAttrInt(fid, file, "residual", PETSC_FALSE, &residual, NULL));

  net->family   = family;
  net->M        = M;
  net->rho      = rho;
  net->h        = h;
  net->eta      = eta;
  net->periodic = periodic ? PETSC_TRUE : PETSC_FALSE;
  net->residual = residual ? PETSC_TRUE : PETSC_FALSE;
  net->dy       = family == BBD_FAMILY_FIELD ? 1.0 / net->n[0] : 1.0;

  PetscCall(PetscFree(net->act));
  PetscCall(PetscMalloc1(M, &net->act));
  PetscCall(BbdH5ReadAttrString(fid, file, "", "activation", PETSC_TRUE, &s));
  ierr = ParseActivations(net, file, s);
  PetscCall(PetscFree(s));
  PetscCall(ierr);

  PetscCall(BbdH5ReadAttrString(fid, file, "", "loss", PETSC_TRUE, &s));
  PetscCall(PetscSNPrintf(what, sizeof(what), "%s: attribute loss", file));
  ierr = BbdLossFromString(PETSC_COMM_SELF, what, s, &net->loss);
  PetscCall(PetscFree(s));
  PetscCall(ierr);

  PetscCall(BbdH5ReadAttrString(fid, file, "", "dynamics", PETSC_FALSE, &s));
  if (s) {
    ierr = PetscEnumFind(BbdDynamicsTypes, s, &e, &found);
    if (!ierr && found) net->dyn = (BbdDynamics)e;
    else PetscCall(PetscSNPrintf(what, sizeof(what), "%s", s));
    PetscCall(PetscFree(s));
    PetscCheck(!ierr && found, PETSC_COMM_SELF, PETSC_ERR_USER_INPUT, "%s: attribute dynamics is \"%s\", expected sgd, flow or damped", file, what);
  }
  net->data_in_init = (PetscBool)(BbdH5PathExists(fid, "/data/X") && BbdH5PathExists(fid, "/data/Y"));
  net->fromfile     = PETSC_TRUE;
  PetscFunctionReturn(0);
}

/*@ BbdStateReadDefinition - -bbd_init phase 1: the network's definition from the root
  attributes of file (and the defaults dynamics, gamma). Every rank reads. @*/
PetscErrorCode BbdStateReadDefinition(BbdNet net, const char *file)
{
  hid_t          fid;
  PetscErrorCode ierr;

  PetscFunctionBeginUser;
  PetscCall(BbdH5Open(file, &fid));
  ierr = ReadDefinition_Private(net, fid, file);
  H5Fclose(fid);
  PetscCall(ierr);
  PetscFunctionReturn(0);
}

static PetscErrorCode ReadState_Private(BbdNet net, hid_t fid, const char *file)
{
  const PetscInt M = net->M, nv = net->dyn == BBD_DYN_DAMPED ? 2 : 1;
  const char    *nm[2][2] = {{"a", "b"}, {"a_dot", "b_dot"}}, *dn[2][2] = {{"W", "b"}, {"W_dot", "b_dot"}};
  hid_t          g;
  hsize_t        d[3];
  char           path[64];
  PetscBool      found;
  PetscReal     *buf = NULL;
  PetscErrorCode ierr = 0;

  PetscFunctionBeginUser;
  PetscCheck(net->theta && (nv == 1 || net->thetadot) && net->woff && net->boff, PETSC_COMM_SELF, PETSC_ERR_ORDER, "BbdStateReadState needs the layout (BbdNetSetLayout) and theta allocated");
  { /* a continuum result holds fields on a grid, not a network's lattice */
    char     *mode = NULL;
    PetscBool grid;
    PetscCall(BbdH5ReadAttrString(fid, file, "", "mode", PETSC_FALSE, &mode));
    grid = (PetscBool)(mode && !strcmp(mode, "continuum"));
    PetscCall(PetscFree(mode));
    PetscCheck(!grid, PETSC_COMM_SELF, PETSC_ERR_USER_INPUT, "%s holds continuum fields on a grid (attribute mode = continuum, /state/a [P+1, nx, ny]), not a network's lattice: only bbd-field -bbd_mode continuum starts from it", file);
  }
  PetscCheck(BbdH5PathExists(fid, "/state"), PETSC_COMM_SELF, PETSC_ERR_FILE_READ, "%s: group /state is missing", file);
  PetscCheck((g = H5Gopen2(fid, "/state", H5P_DEFAULT)) >= 0, PETSC_COMM_SELF, PETSC_ERR_FILE_READ, "%s: /state is not a group", file);
  net->t0 = 0;
  ierr    = BbdH5ReadAttrReal(g, file, "/state:", "time", PETSC_FALSE, &net->t0, &found);
  H5Gclose(g);
  PetscCall(ierr);

  if (nv == 2) PetscCall(PetscArrayzero(net->thetadot, net->nparam));
  if (net->family == BBD_FAMILY_FIELD && BbdH5PathExists(fid, "/state/z")) { /* optional: written by bbd-field */
    d[0] = (hsize_t)M + 1;
    d[1] = (hsize_t)net->n[0];
    PetscCall(PetscFree(net->state_z));
    PetscCall(PetscMalloc1(net->nz, &net->state_z));
    PetscCall(BbdH5ReadDataset(fid, file, "/state/z", 2, d, net->state_z));
    if (nv == 2 && BbdH5PathExists(fid, "/state/z_dot")) { /* optional: written by bbd-field's damped runs */
      PetscCall(PetscFree(net->state_zdot));
      PetscCall(PetscMalloc1(net->nz, &net->state_zdot));
      PetscCall(BbdH5ReadDataset(fid, file, "/state/z_dot", 2, d, net->state_zdot));
    }
  }
  if (net->family == BBD_FAMILY_FIELD) {
    const PetscInt N = net->n[0], na = (net->P + 1) * M * N;

    PetscCall(PetscMalloc1(na + M * N, &buf));
    for (PetscInt v = 0; v < nv && !ierr; v++) {
      PetscReal *th = v ? net->thetadot : net->theta;
      PetscBool  ha, hb;

      d[0] = (hsize_t)net->P + 1;
      d[1] = (hsize_t)M;
      d[2] = (hsize_t)N;
      PetscCall(PetscSNPrintf(path, sizeof(path), "/state/%s", nm[v][0]));
      ha = (PetscBool)(!v || BbdH5PathExists(fid, path));
      if (ha) ierr = BbdH5ReadDataset(fid, file, path, 3, d, buf);
      PetscCall(PetscSNPrintf(path, sizeof(path), "/state/%s", nm[v][1]));
      hb = (PetscBool)(!v || BbdH5PathExists(fid, path));
      if (hb && !ierr) ierr = BbdH5ReadDataset(fid, file, path, 2, d + 1, buf + na);
      if (!ierr) UnpackField(net, ha ? buf : NULL, hb ? buf + na : NULL, th);
    }
    PetscCall(PetscFree(buf));
    PetscCall(ierr);
  } else {
    for (PetscInt v = 0; v < nv; v++) {
      PetscReal *th = v ? net->thetadot : net->theta;

      for (PetscInt m = 0; m < M; m++) {
        d[0] = (hsize_t)net->n[m + 1];
        d[1] = (hsize_t)net->n[m];
        PetscCall(PetscSNPrintf(path, sizeof(path), "/state/layer_%" PetscInt_FMT "/%s", m, dn[v][0]));
        if (!v || BbdH5PathExists(fid, path)) PetscCall(BbdH5ReadDataset(fid, file, path, 2, d, th + net->woff[m]));
        PetscCall(PetscSNPrintf(path, sizeof(path), "/state/layer_%" PetscInt_FMT "/%s", m, dn[v][1]));
        if (!v || BbdH5PathExists(fid, path)) PetscCall(BbdH5ReadDataset(fid, file, path, 1, d, th + net->boff[m]));
      }
    }
  }

  if (net->data_in_init && !net->data_source[0]) {
    const PetscInt n0 = net->n[0], nM = net->n[M];
    char           what[PETSC_MAX_PATH_LEN + 64];

    d[0] = 0;
    d[1] = (hsize_t)n0;
    PetscCall(BbdH5ReadDatasetShape(fid, file, "/data/X", 2, d));
    d[1] = (hsize_t)nM;
    PetscCall(BbdH5ReadDatasetShape(fid, file, "/data/Y", 2, d));
    PetscCall(PetscFree(net->X));
    PetscCall(PetscFree(net->Y));
    net->S = (PetscInt)d[0];
    PetscCall(PetscMalloc1(net->S * n0, &net->X));
    PetscCall(PetscMalloc1(net->S * nM, &net->Y));
    d[1] = (hsize_t)n0;
    PetscCall(BbdH5ReadDataset(fid, file, "/data/X", 2, d, net->X));
    d[1] = (hsize_t)nM;
    PetscCall(BbdH5ReadDataset(fid, file, "/data/Y", 2, d, net->Y));
    for (PetscInt k = 0; k < net->S; k++) {
      PetscCall(PetscSNPrintf(what, sizeof(what), "%s: /data/Y row %" PetscInt_FMT, file, k));
      PetscCall(BbdLossCheckTarget(PETSC_COMM_SELF, net->loss, what, nM, net->dy, net->Y + k * nM));
    }
  }
  PetscFunctionReturn(0);
}

/*@ BbdStateReadState - -bbd_init phase 2 (after the layout): /state into net->theta
  (and thetadot for damped dynamics; 0 where the file has no velocity), its time into
  net->t0, and /data into net->X, net->Y, net->S when the file holds data and no other
  data source was requested. Every rank reads. @*/
PetscErrorCode BbdStateReadState(BbdNet net, const char *file)
{
  hid_t          fid;
  PetscErrorCode ierr;

  PetscFunctionBeginUser;
  PetscCall(BbdH5Open(file, &fid));
  ierr = ReadState_Private(net, fid, file);
  H5Fclose(fid);
  PetscCall(ierr);
  PetscFunctionReturn(0);
}
