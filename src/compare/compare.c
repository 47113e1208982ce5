/* bbd-compare: does the field theory describe trained networks, and how fast do they approach
   it? (docs/reference.md, docs/theory.md section 15). Field-family networks at widths N (depth M = N
   unless the forward-map stability number asks for more) are trained by gradient flow with the
   reference module from the built-in smooth fields; the continuum equations are integrated from
   the same fields on a fine grid whose points contain every network's lattice (injection);
   relative L2 distances of the output field Z(y), of z(x, y), of each a_j and of the loss at
   tfinal give the observed order log2(e(N)/e(2N)). With -bbd_init of a field-family state the
   file's fields replace the built-in ones: interpolated onto every lattice (src/coarsen.c) and,
   for the continuum, onto the reference grid. */
#include "compareimpl.h"
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define BBD_MAX_RES 16

typedef struct {
  PetscInt  K, N[BBD_MAX_RES], M[BBD_MAX_RES], NX, NY;
  PetscBool periodic; /* width boundary of every run */
  PetscReal ez[BBD_MAX_RES], ezf[BBD_MAX_RES], ea[BBD_MAX_RES][BBD_MAX_MOMENTS], el[BBD_MAX_RES], order[BBD_MAX_RES];
  char      out[PETSC_MAX_PATH_LEN], dir[PETSC_MAX_PATH_LEN], files[BBD_MAX_RES + 1][PETSC_MAX_PATH_LEN + 32];
  PetscInt  nt;                           /* chosen times of the second table */
  PetscReal times[16], ezt[BBD_MAX_RES][16], ezft[BBD_MAX_RES][16], eat[BBD_MAX_RES][16][BBD_MAX_MOMENTS], elt[BBD_MAX_RES][16];
} Compare;

/* largest |a_2| of the initial fields (amax < 0: the built-in ones) times the largest sigma' */
static PetscReal StabilityFactor(BbdActivation act, PetscReal amax)
{
  PetscReal smax = 0, zs[401], d1[401], a[BBD_MAX_MOMENTS], b;

  if (amax < 0)
    for (PetscInt k = 0; k <= 64; k++)
      for (PetscInt i = 0; i < 64; i++) {
        BbdFieldAnalytic(2, k / 64.0, i / 64.0, a, &b);
        amax = PetscMax(amax, PetscAbsReal(a[2]));
      }
  for (PetscInt k = 0; k <= 400; k++) zs[k] = -10 + 0.05 * k;
  BbdActivationEval(act, 401, zs, NULL, d1, NULL);
  for (PetscInt k = 0; k <= 400; k++) smax = PetscMax(smax, PetscAbsReal(d1[k]));
  return amax * smax;
}

/* read a dataset of a result file (serial HDF5, every rank) */
static PetscErrorCode ReadAll(const char *file, const char *path, PetscReal **v, hsize_t *dims, int *rank)
{
  hid_t   fid, d, sp;
  hsize_t n = 1;

  PetscFunctionBeginUser;
  PetscCheck((fid = H5Fopen(file, H5F_ACC_RDONLY, H5P_DEFAULT)) >= 0, PETSC_COMM_SELF, PETSC_ERR_FILE_OPEN, "cannot open %s", file);
  PetscCheck((d = H5Dopen2(fid, path, H5P_DEFAULT)) >= 0, PETSC_COMM_SELF, PETSC_ERR_FILE_READ, "%s: no dataset %s", file, path);
  sp    = H5Dget_space(d);
  *rank = H5Sget_simple_extent_ndims(sp);
  H5Sget_simple_extent_dims(sp, dims, NULL);
  for (int r = 0; r < *rank; r++) n *= dims[r];
  PetscCall(PetscMalloc1(n, v));
  PetscCheck(H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, *v) >= 0, PETSC_COMM_SELF, PETSC_ERR_FILE_READ, "%s: cannot read %s", file, path);
  H5Sclose(sp);
  H5Dclose(d);
  H5Fclose(fid);
  PetscFunctionReturn(0);
}

/* index of saved time t in a result file */
static PetscErrorCode TimeIndex(const char *file, PetscReal t, PetscInt *k)
{
  PetscReal *tt;
  hsize_t    d[4];
  int        r;

  PetscFunctionBeginUser;
  PetscCall(ReadAll(file, "/trajectory/time", &tt, d, &r));
  *k = -1;
  for (PetscInt i = 0; i < (PetscInt)d[0]; i++)
    if (PetscAbsReal(tt[i] - t) <= 1e-9 * PetscMax(1, PetscAbsReal(t))) *k = i;
  PetscCall(PetscFree(tt));
  PetscCheck(*k >= 0, PETSC_COMM_SELF, PETSC_ERR_USER_INPUT, "-bbd_compare_times: %g is not a saved time of %s (saved every tfinal/10)", (double)t, file);
  PetscFunctionReturn(0);
}

/* one saved time of a trajectory dataset [T, ...]: the slice at time index k (hyperslab) */
static PetscErrorCode ReadAt(const char *file, const char *path, PetscInt k, PetscInt n, PetscReal *v)
{
  hid_t   fid, d, sp, mem;
  hsize_t dims[5], start[5] = {0}, count[5];
  int     rank;
  hsize_t m = 1;

  PetscFunctionBeginUser;
  PetscCheck((fid = H5Fopen(file, H5F_ACC_RDONLY, H5P_DEFAULT)) >= 0, PETSC_COMM_SELF, PETSC_ERR_FILE_OPEN, "cannot open %s", file);
  PetscCheck((d = H5Dopen2(fid, path, H5P_DEFAULT)) >= 0, PETSC_COMM_SELF, PETSC_ERR_FILE_READ, "%s: no dataset %s", file, path);
  sp   = H5Dget_space(d);
  rank = H5Sget_simple_extent_ndims(sp);
  PetscCheck(rank >= 1 && rank <= 5, PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED, "%s: %s has rank %d", file, path, rank);
  H5Sget_simple_extent_dims(sp, dims, NULL);
  for (int r = 1; r < rank; r++) m *= dims[r];
  PetscCheck((PetscInt)m == n && k < (PetscInt)dims[0], PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED, "%s: %s has %llu values per time (%" PetscInt_FMT " expected) or fewer than %" PetscInt_FMT " times", file, path, (unsigned long long)m, n, k + 1);
  start[0] = (hsize_t)k;
  count[0] = 1;
  for (int r = 1; r < rank; r++) count[r] = dims[r];
  H5Sselect_hyperslab(sp, H5S_SELECT_SET, start, NULL, count, NULL);
  mem = H5Screate_simple(1, &m, NULL);
  PetscCheck(H5Dread(d, H5T_NATIVE_DOUBLE, mem, sp, H5P_DEFAULT, v) >= 0, PETSC_COMM_SELF, PETSC_ERR_FILE_READ, "%s: cannot read %s", file, path);
  H5Sclose(mem);
  H5Sclose(sp);
  H5Dclose(d);
  H5Fclose(fid);
  PetscFunctionReturn(0);
}

/* relative L2 distance of u to v (rows x N each); den = 0 (a field that stays 0): the absolute distance */
static PetscReal RelDistance(PetscInt n, const PetscReal *u, const PetscReal *v)
{
  PetscReal num = 0, den = 0;

  for (PetscInt i = 0; i < n; i++) {
    num += (u[i] - v[i]) * (u[i] - v[i]);
    den += v[i] * v[i];
  }
  return den > 0 ? PetscSqrtReal(num / den) : PetscSqrtReal(num);
}

/* distances of network r to the continuum at saved time t: Z(1, y), z(x, y), each a_j, loss, on
   the network's lattice. The continuum fields are brought there by BbdInterpGrid: injection when
   the reference grid contains the lattice (the default grid does), otherwise interpolation (cubic
   in depth, spectral in periodic width; docs/theory.md section 15). */
static PetscErrorCode DistancesAt(Compare *c, PetscInt r, PetscInt P, PetscReal t, PetscReal *ez, PetscReal *ezf, PetscReal *ea, PetscReal *el)
{
  const PetscInt N = c->N[r], M = c->M[r], NXc = c->NX, NYc = c->NY;
  PetscReal     *un, *uc, *ui, *xt, ln, lc;
  PetscInt       kn, kc;

  PetscFunctionBeginUser;
  PetscCall(TimeIndex(c->files[r], t, &kn));
  PetscCall(TimeIndex(c->files[c->K], t, &kc));
  PetscCall(PetscMalloc4((P + 1) * (M + 1) * N, &un, (P + 1) * NXc * NYc, &uc, (P + 1) * (M + 1) * N, &ui, M + 1, &xt));
  for (PetscInt k = 0; k <= M; k++) xt[k] = (PetscReal)k / M;
  PetscCall(ReadAt(c->files[r], "/trajectory/z", kn, (M + 1) * N, un));
  PetscCall(ReadAt(c->files[c->K], "/trajectory/z", kc, NXc * NYc, uc));
  PetscCall(BbdInterpGrid(1, NXc, 1.0 / (NXc - 1), NYc, uc, M + 1, xt, N, c->periodic, ui));
  *ezf = RelDistance((M + 1) * N, un, ui);
  *ez  = RelDistance(N, un + M * N, ui + M * N);
  PetscCall(ReadAt(c->files[r], "/trajectory/a", kn, (P + 1) * M * N, un));
  PetscCall(ReadAt(c->files[c->K], "/trajectory/a", kc, (P + 1) * NXc * NYc, uc));
  PetscCall(BbdInterpGrid(P + 1, NXc, 1.0 / (NXc - 1), NYc, uc, M, xt, N, c->periodic, ui));
  for (PetscInt j = 0; j <= P; j++) ea[j] = RelDistance(M * N, un + j * M * N, ui + j * M * N);
  PetscCall(ReadAt(c->files[r], "/trajectory/loss", kn, 1, &ln));
  PetscCall(ReadAt(c->files[c->K], "/trajectory/loss", kc, 1, &lc));
  *el = PetscAbsReal(ln - lc) / PetscAbsReal(lc);
  PetscCall(PetscFree4(un, uc, ui, xt));
  PetscFunctionReturn(0);
}

static PetscErrorCode WriteCompare(MPI_Comm comm, Compare *c, PetscInt P, PetscReal tfinal)
{
  PetscMPIInt rank;
  BbdAtomicFile af;
  hid_t       fid, g;
  hsize_t     d[2];
  PetscReal   Nr[BBD_MAX_RES], Mr[BBD_MAX_RES], ea[BBD_MAX_RES * BBD_MAX_MOMENTS];

  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  if (rank) PetscFunctionReturn(0);
  PetscCall(BbdH5CreateAtomic(c->out, &af, &fid));
  PetscCall(BbdH5WriteAttrReal(fid, af.tmp, "tfinal", tfinal));
  PetscCall(BbdH5WriteAttrInt(fid, af.tmp, "reference_nx", c->NX));
  PetscCall(BbdH5WriteAttrInt(fid, af.tmp, "reference_ny", c->NY));
  PetscCall(BbdH5WriteAttrString(fid, af.tmp, "continuum_file", c->files[c->K]));
  for (PetscInt r = 0; r < c->K; r++) {
    char name[32];
    PetscCall(PetscSNPrintf(name, sizeof(name), "network_file_%" PetscInt_FMT, c->N[r]));
    PetscCall(BbdH5WriteAttrString(fid, af.tmp, name, c->files[r]));
  }
  PetscCheck((g = H5Gcreate2(fid, "convergence", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT)) >= 0, PETSC_COMM_SELF, PETSC_ERR_FILE_WRITE, "%s: /convergence", af.tmp);
  for (PetscInt r = 0; r < c->K; r++) {
    Nr[r] = (PetscReal)c->N[r];
    Mr[r] = (PetscReal)c->M[r];
    for (PetscInt j = 0; j <= P; j++) ea[r * (P + 1) + j] = c->ea[r][j];
  }
  d[0] = (hsize_t)c->K;
  PetscCall(BbdH5WriteArray(g, af.tmp, "N", 1, d, Nr));
  PetscCall(BbdH5WriteArray(g, af.tmp, "M", 1, d, Mr));
  PetscCall(BbdH5WriteArray(g, af.tmp, "error_z", 1, d, c->ez));
  PetscCall(BbdH5WriteArray(g, af.tmp, "error_z_field", 1, d, c->ezf));
  PetscCall(BbdH5WriteArray(g, af.tmp, "error_loss", 1, d, c->el));
  d[1] = (hsize_t)P + 1;
  PetscCall(BbdH5WriteArray(g, af.tmp, "error_a", 2, d, ea));
  d[0] = (hsize_t)(c->K - 1);
  if (c->K > 1) PetscCall(BbdH5WriteArray(g, af.tmp, "order", 1, d, c->order));
  {
    PetscReal ezt[BBD_MAX_RES * 16];
    for (PetscInt r = 0; r < c->K; r++)
      for (PetscInt q = 0; q < c->nt; q++) ezt[r * c->nt + q] = c->ezt[r][q];
    d[0] = (hsize_t)c->nt;
    PetscCall(BbdH5WriteArray(g, af.tmp, "times", 1, d, c->times));
    d[0] = (hsize_t)c->K;
    d[1] = (hsize_t)c->nt;
    PetscCall(BbdH5WriteArray(g, af.tmp, "error_z_at_times", 2, d, ezt));
    for (PetscInt r = 0; r < c->K; r++)
      for (PetscInt q = 0; q < c->nt; q++) ezt[r * c->nt + q] = c->ezft[r][q];
    PetscCall(BbdH5WriteArray(g, af.tmp, "error_z_field_at_times", 2, d, ezt));
    for (PetscInt r = 0; r < c->K; r++)
      for (PetscInt q = 0; q < c->nt; q++) ezt[r * c->nt + q] = c->elt[r][q];
    PetscCall(BbdH5WriteArray(g, af.tmp, "error_loss_at_times", 2, d, ezt));
  }
  {
    PetscReal eat[BBD_MAX_RES * 16 * BBD_MAX_MOMENTS];
    hsize_t   d3[3] = {(hsize_t)c->K, (hsize_t)c->nt, (hsize_t)P + 1};
    for (PetscInt r = 0; r < c->K; r++)
      for (PetscInt q = 0; q < c->nt; q++)
        for (PetscInt j = 0; j <= P; j++) eat[(r * c->nt + q) * (P + 1) + j] = c->eat[r][q][j];
    PetscCall(BbdH5WriteArray(g, af.tmp, "error_a_at_times", 3, d3, eat));
  }
  H5Gclose(g);
  PetscCall(BbdH5CommitAtomic(&af, fid));
  PetscFunctionReturn(0);
}

/* the table of distances at time t, with the observed order of the Z(1, y) distances */
static PetscErrorCode PrintTable(MPI_Comm comm, Compare *c, PetscInt P, PetscReal t, const PetscReal *ez, const PetscReal *ezf, PetscReal ea[][BBD_MAX_MOMENTS], const PetscReal *el)
{
  PetscFunctionBeginUser;
  PetscCall(PetscPrintf(comm, "\nrelative L2 distance to the continuum solution at t = %g (reference grid %" PetscInt_FMT " x %" PetscInt_FMT ")\n", (double)t, c->NX, c->NY));
  PetscCall(PetscPrintf(comm, "%6s %6s %12s %12s", "N", "M", "Z(1,y)", "z(x,y)"));
  for (PetscInt j = 0; j <= P; j++) PetscCall(PetscPrintf(comm, "      a_%" PetscInt_FMT "   ", j));
  PetscCall(PetscPrintf(comm, "%12s %8s\n", "loss", "order"));
  for (PetscInt r = 0; r < c->K; r++) {
    PetscCall(PetscPrintf(comm, "%6" PetscInt_FMT " %6" PetscInt_FMT " %12.4e %12.4e", c->N[r], c->M[r], (double)ez[r], (double)ezf[r]));
    for (PetscInt j = 0; j <= P; j++) PetscCall(PetscPrintf(comm, " %12.4e", (double)ea[r][j]));
    PetscCall(PetscPrintf(comm, " %12.4e", (double)el[r]));
    if (r) PetscCall(PetscPrintf(comm, " %8.3f\n", (double)(PetscLog2Real(ez[r - 1] / ez[r]) / PetscLog2Real((PetscReal)c->N[r] / c->N[r - 1]))));
    else PetscCall(PetscPrintf(comm, " %8s\n", "-"));
  }
  PetscFunctionReturn(0);
}

/* The database of one run: a copy of the user's options (command line, PETSC_OPTIONS, option
   files: what PetscInitialize read). What bbd-compare sets goes through the setters of a composed
   run, which neither reads nor lists those options (BbdCompareRun refuses the ones it does not
   read itself). The global database is never written. */
static PetscErrorCode RunOptionsCreate(PetscOptions *opt)
{
  int    argc;
  char **args;

  PetscFunctionBeginUser;
  PetscCall(PetscOptionsCreate(opt));
  PetscCall(PetscGetArgs(&argc, &args));
  PetscCall(PetscOptionsInsert(*opt, &argc, &args, NULL));
  PetscFunctionReturn(0);
}

/* An option a run used counts as used in the user's database (only reading it), so that
   BbdCheckUnusedOptions and -options_left see what the runs read; then the run's copy goes. */
static PetscErrorCode RunOptionsDestroy(PetscOptions *opt)
{
  PetscInt n;
  char   **names, **values;

  PetscFunctionBeginUser;
  PetscCall(PetscOptionsLeftGet(NULL, &n, &names, &values));
  for (PetscInt i = 0; i < n; i++) {
    PetscBool used, flg;
    char      name[PETSC_MAX_OPTION_NAME + 1];
    PetscCall(PetscOptionsUsed(*opt, names[i], &used));
    if (!used) continue;
    PetscCall(PetscSNPrintf(name, sizeof(name), "-%s", names[i]));
    PetscCall(PetscOptionsHasName(NULL, NULL, name, &flg));
  }
  PetscCall(PetscOptionsLeftRestore(NULL, &n, &names, &values));
  PetscCall(PetscOptionsDestroy(opt));
  PetscFunctionReturn(0);
}

/* The figures: the plotting script as a separate process, without a shell (any path works), on
   rank 0; bbd-compare's results never depend on it. It runs /usr/bin/python3 (Debian's, with
   python3-matplotlib), else the python3 on PATH; the script exits with status 3 when a module is
   missing. */
static PetscErrorCode DrawFigures(const char *script, const char *out)
{
  char  why[PETSC_MAX_PATH_LEN + 128] = "";
  char *args[4];
  pid_t pid;
  int   st = 0;

  PetscFunctionBeginUser;
  args[0] = (char *)"python3";
  args[1] = (char *)script;
  args[2] = (char *)out;
  args[3] = NULL;
  if (access(script, R_OK)) PetscCall(PetscSNPrintf(why, sizeof(why), "the plotting script %s cannot be read (-bbd_plot_script)", script));
  else {
    fflush(stdout);
    fflush(stderr);
    pid = fork();
    if (pid == 0) {
      execv("/usr/bin/python3", args);
      execvp("python3", args);
      _exit(127);
    }
    if (pid < 0) PetscCall(PetscSNPrintf(why, sizeof(why), "fork failed"));
    else if (waitpid(pid, &st, 0) < 0) PetscCall(PetscSNPrintf(why, sizeof(why), "waiting for the plotting script failed"));
    else if (WIFSIGNALED(st)) PetscCall(PetscSNPrintf(why, sizeof(why), "%s was killed by signal %d", script, WTERMSIG(st)));
    else if (WEXITSTATUS(st) == 127) PetscCall(PetscSNPrintf(why, sizeof(why), "python3 could not be run (neither /usr/bin/python3 nor one on PATH)"));
    else if (WEXITSTATUS(st) == 3) PetscCall(PetscSNPrintf(why, sizeof(why), "%s lacks a module (Debian's python3-matplotlib and python3-h5py draw them)", script));
    else if (WEXITSTATUS(st)) PetscCall(PetscSNPrintf(why, sizeof(why), "%s exited with status %d", script, WEXITSTATUS(st)));
  }
  if (why[0]) PetscCall(PetscPrintf(PETSC_COMM_SELF, "note: the figures were not drawn: %s; %s and the table are complete\n", why, out));
  PetscFunctionReturn(0);
}

PetscErrorCode BbdCompareRun(MPI_Comm comm)
{
  Compare       c;
  PetscInt      nres = BBD_MAX_RES, ref[2] = {0, 0}, nref = 2, P = 2;
  PetscReal     tfinal = 1, factor, threshold = 0.1;
  char          init[PETSC_MAX_PATH_LEN] = "";
  FieldSource   src = {0};
  PetscReal     amax = -1;
  PetscBool     set, quiet = PETSC_FALSE, plot = PETSC_TRUE, scriptset = PETSC_FALSE;
  char          actname[64] = "tanh", script[PETSC_MAX_PATH_LEN] = BBD_PLOT_SCRIPT_SRC; /* the source tree's, else the installed one */
  BbdActivation act;

  PetscFunctionBeginUser;
  PetscCall(PetscMemzero(&c, sizeof(c)));
  c.periodic = PETSC_TRUE;
  PetscCall(PetscOptionsGetBool(NULL, NULL, "-bbd_periodic", &c.periodic, NULL)); /* the built-in runs' (listed and checked by their nets) */
  c.K = 4;
  for (PetscInt r = 0; r < 4; r++) c.N[r] = 8 << r;
  PetscCall(PetscStrcpy(c.out, "compare.h5"));
  BbdOptionsBegin(comm, NULL, NULL, "bbd-compare options (docs/reference.md)");
  PetscCall(BbdOptionsIntArray(PetscOptionsObject, "-bbd_resolutions", "Network widths N (depth M = N unless stability needs more)", NULL, c.N, c.K, &nres, &set));
  if (set) c.K = nres;
  PetscCall(BbdOptionsIntArray(PetscOptionsObject, "-bbd_reference_grid", "Continuum grid NX,NY (0,0: NY = 2 max N, NX - 1 a multiple of every M, stable; a grid that does not contain a lattice is interpolated onto it)", NULL, ref, 2, &nref, NULL));
  PetscCall(PetscOptionsReal("-bbd_tfinal", "End time of every run (saved every tfinal/10)", "BbdCompareRun", tfinal, &tfinal, NULL));
  PetscCall(PetscOptionsString("-bbd_output", "Comparison file (HDF5); the runs go to FILE.d/", "BbdCompareRun", c.out, c.out, sizeof(c.out), NULL));
  PetscCall(PetscOptionsString("-bbd_activation", "Activation of every run (one for all depths)", "BbdCompareRun", actname, actname, sizeof(actname), NULL));
  PetscCall(PetscOptionsBool("-bbd_quiet", "Print only the table (the runs are always quiet)", "BbdCompareRun", quiet, &quiet, NULL));
  c.nt = 16;
  PetscCall(BbdOptionsRealArray(PetscOptionsObject, "-bbd_compare_times", "Chosen times of the distance tables (multiples of tfinal/10; none: tfinal/2 and tfinal)", "none", c.times, 0, &c.nt, &set));
  if (!set) c.nt = 0;
  PetscCall(PetscOptionsBool("-bbd_plot", "Draw the PNG figures (Debian's python3-matplotlib)", "BbdCompareRun", plot, &plot, NULL));
  PetscCall(PetscOptionsString("-bbd_plot_script", "The plotting script (default: the source tree's, else the installed one)", "BbdCompareRun", script, script, sizeof(script), &scriptset));
  PetscCall(PetscOptionsReal("-bbd_locality_threshold", "Dense -bbd_init: the locality remainder below which a continuum description applies", "BbdCompareRun", threshold, &threshold, NULL));
  PetscCall(PetscOptionsString("-bbd_init", "A dense state to coarse-grain onto the grid, or a field-family lattice state of any resolution: the initial fields of every network and of the continuum", "BbdCompareRun", init, init, sizeof(init), &set));
  PetscOptionsEnd();
  {
    PetscBool hashelp;
    PetscCall(PetscOptionsHasHelp(NULL, &hashelp));
    if (hashelp) { /* the options of every run, each once: a composed run lists only those it reads */
      BbdField field;
      PetscCall((*PetscHelpPrintf)(comm, "----------------------------------------\nOptions of every run, the networks' (bbd-net) and the continuum's (bbd-field); bbd-compare sets\ndepth, width, activation, tfinal, output_dt, output, init, quiet, mode and grid itself:\n"));
      PetscCall(BbdFieldCreate(comm, &field));
      field->net->composed = PETSC_TRUE;
      PetscCall(BbdFieldSetFromOptions(field));
      PetscCall(BbdFieldDestroy(&field));
      PetscFunctionReturn(0);
    }
  }
  { /* what a composed run does not read: said here rather than as an unknown option at the end */
    const char *own[] = {"-bbd_depth", "-bbd_width", "-bbd_output_dt", "-bbd_mode", "-da_grid_x", "-da_grid_y"};
    for (size_t k = 0; k < sizeof(own) / sizeof(own[0]); k++) {
      PetscBool flg;
      PetscCall(PetscOptionsHasName(NULL, NULL, own[k], &flg));
      PetscCheck(!flg, comm, PETSC_ERR_USER_INPUT, "%s: bbd-compare sets the depth and width of its networks (-bbd_resolutions; M = N unless stability needs more), the continuum's mode and grid (-bbd_reference_grid) and output_dt = tfinal/10 itself", own[k]);
    }
  }
  if (init[0]) {
    BbdNet net;
    PetscCall(BbdNetCreate(comm, &net)); /* the user's -bbd_init network, as the user's options describe it */
    PetscCall(BbdNetSetFromOptions(net));
    if (net->family == BBD_FAMILY_FIELD) { /* the initial fields of every run */
      PetscCall(BbdCompareFieldSourceRead(comm, net, &src));
      c.periodic = net->periodic;
      PetscCall(PetscStrncpy(actname, BbdActivations[net->act[0]], sizeof(actname)));
      amax = 0;
      if (net->P >= 2)
        for (PetscInt k = 0; k < src.ns * net->n[0]; k++) amax = PetscMax(amax, PetscAbsReal(src.a[2 * src.ns * net->n[0] + k]));
    } else {
      PetscCall(BbdNetSetUp(net));
      PetscCall(BbdCompareCoarseGrainDense(comm, net, c.out, threshold));
      PetscCall(BbdNetDestroy(&net));
      PetscFunctionReturn(0);
    }
  }
  if (!scriptset && access(script, R_OK)) PetscCall(PetscStrcpy(script, BBD_PLOT_SCRIPT));
  PetscCheck(c.K >= 2 && c.K <= BBD_MAX_RES, comm, PETSC_ERR_USER_INPUT, "-bbd_resolutions: give 2 to %d widths", BBD_MAX_RES);
  for (PetscInt r = 0; r < c.K; r++) {
    PetscCheck(c.N[r] >= 4, comm, PETSC_ERR_USER_INPUT, "-bbd_resolutions: width %" PetscInt_FMT " is too small (>= 4)", c.N[r]);
    PetscCheck(r == 0 || c.N[r] > c.N[r - 1], comm, PETSC_ERR_USER_INPUT, "-bbd_resolutions must increase");
  }
  PetscCheck(tfinal > 0 && PetscIsNormalReal(tfinal), comm, PETSC_ERR_USER_INPUT, "-bbd_tfinal %g: must be positive", (double)tfinal);
  PetscCall(BbdActivationFromString(comm, "-bbd_activation", actname, &act));
  PetscCheck(act != BBD_ACT_RELU, comm, PETSC_ERR_USER_INPUT, "-bbd_activation relu: not C^2, the continuum equations are not defined for it");
  factor = StabilityFactor(act, amax);
  /* depths: M = N unless h max|a_2| max sigma' / dy^2 <= 1/2 needs more */
  for (PetscInt r = 0; r < c.K; r++) {
    PetscInt Mmin = (PetscInt)PetscCeilReal(2 * factor * c.N[r] * c.N[r] - 1e-9);
    c.M[r]        = PetscMax(c.N[r], Mmin);
  }
  /* the reference grid contains every lattice: NY a multiple of every N, NX - 1 of every M */
  c.NY = ref[0] > 0 ? ref[1] : 2 * c.N[c.K - 1];
  {
    PetscInt l = 1, want;
    for (PetscInt r = 0; r < c.K; r++) {
      PetscInt a = l, b = c.M[r];
      while (b) { PetscInt t = a % b; a = b; b = t; }
      l = l / a * c.M[r];
    }
    want = PetscMax(2 * c.NY, (PetscInt)PetscCeilReal(factor * c.NY * c.NY / 0.45));
    c.NX = (ref[0] > 0 ? ref[0] - 1 : ((want + l - 1) / l) * l) + 1;
  }
  PetscCheck(c.NX >= 4 && c.NY >= 4, comm, PETSC_ERR_USER_INPUT, "-bbd_reference_grid %" PetscInt_FMT ",%" PetscInt_FMT ": the continuum grid needs at least 4 points in each direction", c.NX, c.NY);
  for (PetscInt r = 0; r < c.K; r++)
    if (c.NY % c.N[r] || (c.NX - 1) % c.M[r])
      PetscCall(PetscPrintf(comm, "note: the reference grid %" PetscInt_FMT " x %" PetscInt_FMT " does not contain the lattice of N = %" PetscInt_FMT " (M = %" PetscInt_FMT "): the continuum is interpolated onto it (cubic in depth, %s in width)\n", c.NX, c.NY, c.N[r], c.M[r], c.periodic ? "spectral" : "cubic"));
  PetscCall(PetscSNPrintf(c.dir, sizeof(c.dir), "%s.d", c.out));
  {
    PetscMPIInt rank;
    PetscCallMPI(MPI_Comm_rank(comm, &rank));
    if (!rank) (void)mkdir(c.dir, 0755);
    PetscCallMPI(MPI_Barrier(comm));
  }
  if (!quiet) PetscCall(PetscPrintf(comm, "bbd-compare: networks N = %" PetscInt_FMT "..%" PetscInt_FMT ", continuum reference grid %" PetscInt_FMT " x %" PetscInt_FMT ", t in [0, %g]\n", c.N[0], c.N[c.K - 1], c.NX, c.NY, (double)tfinal));

  /* every run composed through the API, each with its own database (RunOptionsCreate) */
  for (PetscInt r = 0; r < c.K; r++) {
    BbdNet       net;
    PetscOptions opt;
    PetscCall(PetscSNPrintf(c.files[r], sizeof(c.files[r]), "%s/network-N%" PetscInt_FMT ".h5", c.dir, c.N[r]));
    PetscCall(RunOptionsCreate(&opt));
    PetscCall(BbdNetCreate(comm, &net));
    PetscCall(BbdNetSetOptions(net, opt));
    net->composed = PETSC_TRUE;
    PetscCall(BbdNetSetDepth(net, c.M[r]));
    PetscCall(BbdNetSetWidth(net, c.N[r]));
    PetscCall(BbdNetSetActivation(net, act));
    PetscCall(BbdNetSetTFinal(net, tfinal));
    PetscCall(BbdNetSetOutputDt(net, tfinal / 10));
    PetscCall(BbdNetSetOutputFile(net, c.files[r]));
    PetscCall(BbdNetSetQuiet(net, PETSC_TRUE));
    if (src.net) { /* the source's fields on this lattice */
      char f0[PETSC_MAX_PATH_LEN + 32];
      PetscCall(PetscSNPrintf(f0, sizeof(f0), "%s/init-N%" PetscInt_FMT ".h5", c.dir, c.N[r]));
      PetscCall(BbdCompareFieldSourceWrite(comm, &src, PETSC_FALSE, c.M[r], c.N[r], f0));
      PetscCall(BbdNetSetInitFile(net, f0));
    }
    if (!quiet) PetscCall(PetscPrintf(comm, "  network N = %" PetscInt_FMT ", M = %" PetscInt_FMT "%s -> %s\n", c.N[r], c.M[r], c.M[r] > c.N[r] ? " (depth raised for the forward map's stability)" : "", c.files[r]));
    PetscCall(BbdNetSetFromOptions(net));
    PetscCheck(net->family == BBD_FAMILY_FIELD && net->dyn == BBD_DYN_FLOW, comm, PETSC_ERR_USER_INPUT, "bbd-compare compares field-family networks trained by gradient flow");
    P = net->P;
    PetscCall(BbdNetSetUp(net));
    PetscCall(BbdNetRun(net));
    PetscCall(BbdNetDestroy(&net));
    PetscCall(RunOptionsDestroy(&opt));
  }
  {
    BbdField     field;
    BbdNet       net;
    PetscOptions opt;
    PetscCall(PetscSNPrintf(c.files[c.K], sizeof(c.files[c.K]), "%s/continuum.h5", c.dir));
    PetscCall(RunOptionsCreate(&opt));
    PetscCall(BbdFieldCreate(comm, &field));
    PetscCall(BbdFieldSetOptions(field, opt));
    PetscCall(BbdFieldGetNet(field, &net));
    net->composed = PETSC_TRUE;
    PetscCall(BbdFieldSetMode(field, "continuum"));
    PetscCall(BbdFieldSetGrid(field, c.NX, c.NY));
    PetscCall(BbdNetSetActivation(net, act));
    PetscCall(BbdNetSetTFinal(net, tfinal));
    PetscCall(BbdNetSetOutputDt(net, tfinal / 10));
    PetscCall(BbdNetSetOutputFile(net, c.files[c.K]));
    PetscCall(BbdNetSetQuiet(net, PETSC_TRUE));
    if (src.net) { /* the source itself at t = 0, interpolated onto the grid */
      char f0[PETSC_MAX_PATH_LEN + 32];
      PetscCall(PetscSNPrintf(f0, sizeof(f0), "%s/init-source.h5", c.dir));
      PetscCall(BbdCompareFieldSourceWrite(comm, &src, PETSC_TRUE, 0, 0, f0));
      PetscCall(BbdNetSetInitFile(net, f0));
    } else { /* the largest network's definition, its grid replaced by the reference grid */
      PetscCall(BbdNetSetDepth(net, c.M[c.K - 1]));
      PetscCall(BbdNetSetWidth(net, c.N[c.K - 1]));
    }
    if (!quiet) PetscCall(PetscPrintf(comm, "  continuum %" PetscInt_FMT " x %" PetscInt_FMT " -> %s\n", c.NX, c.NY, c.files[c.K]));
    PetscCall(BbdFieldSetFromOptions(field));
    PetscCall(BbdFieldSetUp(field));
    PetscCall(BbdFieldRun(field));
    PetscCall(BbdFieldDestroy(&field));
    PetscCall(RunOptionsDestroy(&opt));
  }
  PetscCall(BbdCompareFieldSourceDestroy(&src));
  for (PetscInt r = 0; r < c.K; r++) {
    PetscCall(DistancesAt(&c, r, P, tfinal, &c.ez[r], &c.ezf[r], c.ea[r], &c.el[r]));
  }
  if (!c.nt) {
    c.nt       = 2;
    c.times[0] = 0.5 * tfinal;
    c.times[1] = tfinal;
  }
  for (PetscInt q = 0; q < c.nt; q++) {
    PetscCheck(c.times[q] >= 0 && c.times[q] <= tfinal * (1 + 1e-12), comm, PETSC_ERR_USER_INPUT, "-bbd_compare_times: %g is outside [0, tfinal]", (double)c.times[q]);
    c.times[q] = PetscFloorReal(c.times[q] / (tfinal / 10) + 0.5) * (tfinal / 10); /* the saved time it names */
    for (PetscInt r = 0; r < c.K; r++) PetscCall(DistancesAt(&c, r, P, c.times[q], &c.ezt[r][q], &c.ezft[r][q], c.eat[r][q], &c.elt[r][q]));
  }
  for (PetscInt r = 0; r + 1 < c.K; r++) c.order[r] = PetscLog2Real(c.ez[r] / c.ez[r + 1]) / PetscLog2Real((PetscReal)c.N[r + 1] / c.N[r]);
  PetscCall(WriteCompare(comm, &c, P, tfinal));

  PetscCall(PrintTable(comm, &c, P, tfinal, c.ez, c.ezf, c.ea, c.el));
  for (PetscInt q = 0; q < c.nt; q++) {
    PetscReal ez[BBD_MAX_RES], ezf[BBD_MAX_RES], ea[BBD_MAX_RES][BBD_MAX_MOMENTS], el[BBD_MAX_RES];
    if (PetscAbsReal(c.times[q] - tfinal) <= 1e-9 * tfinal) continue; /* the table above */
    for (PetscInt r = 0; r < c.K; r++) {
      ez[r]  = c.ezt[r][q];
      ezf[r] = c.ezft[r][q];
      el[r]  = c.elt[r][q];
      for (PetscInt j = 0; j <= P; j++) ea[r][j] = c.eat[r][q][j];
    }
    PetscCall(PrintTable(comm, &c, P, c.times[q], ez, ezf, ea, el));
  }
  PetscCall(PetscPrintf(comm, "(order: log2 of successive Z(1,y) distances; lattice networks approach the continuum at about first order in depth and second in width)\nwrote %s and the runs in %s/\n", c.out, c.dir));
  if (plot) {
    PetscMPIInt rank;
    PetscCallMPI(MPI_Comm_rank(comm, &rank));
    if (!rank) PetscCall(DrawFigures(script, c.out));
  }
  PetscFunctionReturn(0);
}
