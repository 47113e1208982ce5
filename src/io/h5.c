/* HDF5 helpers of every writer and reader of the library (docs/output.md), and the one atomic
   write path (BbdAtomicFile*): errors are PETSc errors naming the file and the attribute or
   dataset. Writing is rank-0 use; reading is done by every rank with serial HDF5. */
#include "ioimpl.h"
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* ---------------------------------------------------------------- writing (rank 0) */


PetscErrorCode BbdH5WriteAttrString(hid_t loc, const char *file, const char *name, const char *str)
{
  hid_t type, space, attr;

  PetscFunctionBeginUser;
  H5W(type = H5Tcopy(H5T_C_S1), "%s: attribute %s: cannot create string type", file, name);
  H5W(H5Tset_size(type, H5T_VARIABLE), "%s: attribute %s", file, name);
  H5W(H5Tset_cset(type, H5T_CSET_ASCII), "%s: attribute %s", file, name);
  H5W(space = H5Screate(H5S_SCALAR), "%s: attribute %s", file, name);
  H5W(attr = H5Acreate2(loc, name, type, space, H5P_DEFAULT, H5P_DEFAULT), "%s: cannot create attribute %s", file, name);
  H5W(H5Awrite(attr, type, &str), "%s: cannot write attribute %s", file, name);
  H5W(H5Aclose(attr), "%s: attribute %s", file, name);
  H5W(H5Sclose(space), "%s: attribute %s", file, name);
  H5W(H5Tclose(type), "%s: attribute %s", file, name);
  PetscFunctionReturn(0);
}

/* n values; scalar dataspace when scalar is true (n must be 1) */
PetscErrorCode BbdH5WriteAttr(hid_t loc, const char *file, const char *name, hid_t ftype, hid_t mtype, PetscBool scalar, hsize_t n, const void *v)
{
  hid_t space, attr;

  PetscFunctionBeginUser;
  H5W(space = scalar ? H5Screate(H5S_SCALAR) : H5Screate_simple(1, &n, NULL), "%s: attribute %s", file, name);
  H5W(attr = H5Acreate2(loc, name, ftype, space, H5P_DEFAULT, H5P_DEFAULT), "%s: cannot create attribute %s", file, name);
  H5W(H5Awrite(attr, mtype, v), "%s: cannot write attribute %s", file, name);
  H5W(H5Aclose(attr), "%s: attribute %s", file, name);
  H5W(H5Sclose(space), "%s: attribute %s", file, name);
  PetscFunctionReturn(0);
}

PetscErrorCode BbdH5WriteAttrInt(hid_t loc, const char *file, const char *name, long long v)
{
  PetscFunctionBeginUser;
  PetscCall(BbdH5WriteAttr(loc, file, name, H5T_STD_I32LE, H5T_NATIVE_LLONG, PETSC_TRUE, 1, &v));
  PetscFunctionReturn(0);
}

PetscErrorCode BbdH5WriteAttrReal(hid_t loc, const char *file, const char *name, PetscReal v)
{
  PetscFunctionBeginUser;
  PetscCall(BbdH5WriteAttr(loc, file, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, PETSC_TRUE, 1, &v));
  PetscFunctionReturn(0);
}

/* a fixed-size (contiguous) dataset of doubles */
PetscErrorCode BbdH5WriteArray(hid_t loc, const char *file, const char *name, int rank, const hsize_t *dims, const PetscReal *v)
{
  hid_t space, dset;

  PetscFunctionBeginUser;
  H5W(space = H5Screate_simple(rank, dims, NULL), "%s: dataset %s", file, name);
  H5W(dset = H5Dcreate2(loc, name, H5T_IEEE_F64LE, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), "%s: cannot create dataset %s", file, name);
  H5W(H5Dwrite(dset, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, v), "%s: cannot write dataset %s", file, name);
  H5W(H5Dclose(dset), "%s: dataset %s", file, name);
  H5W(H5Sclose(space), "%s: dataset %s", file, name);
  PetscFunctionReturn(0);
}

/* ---------------------------------------------------------------- reader (every rank) */

/* Does every component of an absolute path exist? (H5Lexists needs the parents) */
PetscBool BbdH5PathExists(hid_t fid, const char *path)
{
  char buf[PETSC_MAX_PATH_LEN];

  if (strlen(path) >= sizeof(buf)) return PETSC_FALSE;
  strcpy(buf, path);
  for (char *p = buf + 1;; p++) {
    if (*p == '/' || !*p) {
      char c = *p;

      *p = 0;
      if (H5Lexists(fid, buf, H5P_DEFAULT) <= 0) return PETSC_FALSE;
      if (!c) return PETSC_TRUE;
      *p = c;
    }
  }
}

/* A string attribute of loc (fixed- or variable-length, scalar or one element),
   returned in *str (PetscMalloc'd; NULL if absent and not required). */
PetscErrorCode BbdH5ReadAttrString(hid_t loc, const char *file, const char *where, const char *name, PetscBool required, char **str)
{
  hid_t       attr, type, mtype, space;
  H5T_class_t cls;
  hssize_t    np;
  htri_t      vlen;
  size_t      size;
  herr_t      err;
  char       *s = NULL;

  PetscFunctionBeginUser;
  *str = NULL;
  if (H5Aexists(loc, name) <= 0) {
    PetscCheck(!required, PETSC_COMM_SELF, PETSC_ERR_FILE_READ, "%s: attribute %s%s is missing", file, where, name);
    PetscFunctionReturn(0);
  }
  PetscCheck((attr = H5Aopen(loc, name, H5P_DEFAULT)) >= 0, PETSC_COMM_SELF, PETSC_ERR_FILE_READ, "%s: cannot open attribute %s%s", file, where, name);
  type  = H5Aget_type(attr);
  space = H5Aget_space(attr);
  cls   = type >= 0 ? H5Tget_class(type) : H5T_NO_CLASS;
  np    = space >= 0 ? H5Sget_simple_extent_npoints(space) : -1;
  if (space >= 0) H5Sclose(space);
  if (cls != H5T_STRING || np != 1) {
    if (type >= 0) H5Tclose(type);
    H5Aclose(attr);
    SETERRQ(PETSC_COMM_SELF, PETSC_ERR_USER_INPUT, "%s: attribute %s%s must be a single string", file, where, name);
  }
  vlen  = H5Tis_variable_str(type);
  size  = H5Tget_size(type);
  mtype = H5Tcopy(H5T_C_S1);
  H5Tset_cset(mtype, H5Tget_cset(type)); /* HDF5 does not convert between ASCII and UTF-8 */
  if (vlen > 0) {
    char *p = NULL;

    H5Tset_size(mtype, H5T_VARIABLE);
    err = H5Aread(attr, mtype, &p);
    if (err >= 0 && p) {
      if (PetscStrallocpy(p, &s)) s = NULL;
    }
    if (p) H5free_memory(p);
  } else {
    H5Tset_size(mtype, size + 1);
    H5Tset_strpad(mtype, H5T_STR_NULLTERM);
    if (PetscCalloc1(size + 1, &s)) s = NULL;
    err = s ? H5Aread(attr, mtype, s) : -1;
    if (err < 0 && s) {
      (void)PetscFree(s);
      s = NULL;
    }
  }
  H5Tclose(mtype);
  H5Tclose(type);
  H5Aclose(attr);
  PetscCheck(err >= 0 && s, PETSC_COMM_SELF, PETSC_ERR_FILE_READ, "%s: cannot read string attribute %s%s", file, where, name);
  for (size_t k = strlen(s); k > 0 && s[k - 1] == ' '; k--) s[k - 1] = 0; /* space-padded strings */
  *str = s;
  PetscFunctionReturn(0);
}

/* A numeric attribute with nmin..nmax values, as doubles (isint: must be an
   integer type, values returned exactly as long long in iv). */
PetscErrorCode BbdH5ReadAttrNumbers(hid_t loc, const char *file, const char *where, const char *name, PetscBool required, PetscBool isint, PetscInt nmin, PetscInt nmax, PetscReal *rv, long long *iv, PetscInt *n, PetscBool *found)
{
  hid_t       attr, type, space;
  H5T_class_t cls;
  hssize_t    np;
  herr_t      err;

  PetscFunctionBeginUser;
  if (found) *found = PETSC_FALSE;
  if (n) *n = 0;
  if (H5Aexists(loc, name) <= 0) {
    PetscCheck(!required, PETSC_COMM_SELF, PETSC_ERR_FILE_READ, "%s: attribute %s%s is missing", file, where, name);
    PetscFunctionReturn(0);
  }
  PetscCheck((attr = H5Aopen(loc, name, H5P_DEFAULT)) >= 0, PETSC_COMM_SELF, PETSC_ERR_FILE_READ, "%s: cannot open attribute %s%s", file, where, name);
  type  = H5Aget_type(attr);
  space = H5Aget_space(attr);
  cls   = type >= 0 ? H5Tget_class(type) : H5T_NO_CLASS;
  np    = space >= 0 ? H5Sget_simple_extent_npoints(space) : -1;
  if (type >= 0) H5Tclose(type);
  if (space >= 0) H5Sclose(space);
  if (!(cls == H5T_INTEGER || (!isint && cls == H5T_FLOAT))) {
    H5Aclose(attr);
    SETERRQ(PETSC_COMM_SELF, PETSC_ERR_USER_INPUT, "%s: attribute %s%s must be %s", file, where, name, isint ? "an integer" : "a number");
  }
  if (np < nmin || np > nmax) {
    H5Aclose(attr);
    if (nmin == nmax) SETERRQ(PETSC_COMM_SELF, PETSC_ERR_USER_INPUT, "%s: attribute %s%s has %lld values, expected %" PetscInt_FMT, file, where, name, (long long)np, nmin);
    SETERRQ(PETSC_COMM_SELF, PETSC_ERR_USER_INPUT, "%s: attribute %s%s has %lld values, expected %" PetscInt_FMT " to %" PetscInt_FMT, file, where, name, (long long)np, nmin, nmax);
  }
  err = isint ? H5Aread(attr, H5T_NATIVE_LLONG, iv) : H5Aread(attr, H5T_NATIVE_DOUBLE, rv);
  H5Aclose(attr);
  PetscCheck(err >= 0, PETSC_COMM_SELF, PETSC_ERR_FILE_READ, "%s: cannot read attribute %s%s", file, where, name);
  for (hssize_t k = 0; k < np; k++) {
    if (isint) PetscCheck(iv[k] >= PETSC_MIN_INT && iv[k] <= PETSC_MAX_INT, PETSC_COMM_SELF, PETSC_ERR_USER_INPUT, "%s: attribute %s%s = %lld is out of range", file, where, name, iv[k]);
    else PetscCheck(!PetscIsInfOrNanReal(rv[k]), PETSC_COMM_SELF, PETSC_ERR_USER_INPUT, "%s: attribute %s%s[%lld] = %g is not finite", file, where, name, (long long)k, (double)rv[k]);
  }
  if (n) *n = (PetscInt)np;
  if (found) *found = PETSC_TRUE;
  PetscFunctionReturn(0);
}

PetscErrorCode BbdH5ReadAttrInt(hid_t loc, const char *file, const char *name, PetscBool required, PetscInt *v, PetscBool *found)
{
  long long iv;
  PetscBool f;

  PetscFunctionBeginUser;
  PetscCall(BbdH5ReadAttrNumbers(loc, file, "", name, required, PETSC_TRUE, 1, 1, NULL, &iv, NULL, &f));
  if (f) *v = (PetscInt)iv;
  if (found) *found = f;
  PetscFunctionReturn(0);
}

PetscErrorCode BbdH5ReadAttrReal(hid_t loc, const char *file, const char *where, const char *name, PetscBool required, PetscReal *v, PetscBool *found)
{
  PetscFunctionBeginUser;
  PetscCall(BbdH5ReadAttrNumbers(loc, file, where, name, required, PETSC_FALSE, 1, 1, v, NULL, NULL, found));
  PetscFunctionReturn(0);
}

static void FormatShape(char *s, size_t len, int rank, const hsize_t *d)
{
  size_t k = (size_t)snprintf(s, len, "[");

  for (int i = 0; i < rank && k < len; i++) k += (size_t)snprintf(s + k, len - k, "%s%llu", i ? ", " : "", (unsigned long long)d[i]);
  if (k < len) snprintf(s + k, len - k, "]");
}

/* Shape of a numeric dataset of the given rank; dims[k] > 0 on input must match. */
PetscErrorCode BbdH5ReadDatasetShape(hid_t fid, const char *file, const char *path, int rank, hsize_t *dims)
{
  hid_t       dset, type, space;
  H5T_class_t cls;
  int         r;
  hsize_t     fd[H5S_MAX_RANK];
  PetscBool   ok;
  char        want[128], got[128];

  PetscFunctionBeginUser;
  PetscCheck(BbdH5PathExists(fid, path), PETSC_COMM_SELF, PETSC_ERR_FILE_READ, "%s: dataset %s is missing", file, path);
  PetscCheck((dset = H5Dopen2(fid, path, H5P_DEFAULT)) >= 0, PETSC_COMM_SELF, PETSC_ERR_FILE_READ, "%s: cannot open dataset %s", file, path);
  type  = H5Dget_type(dset);
  space = H5Dget_space(dset);
  cls   = type >= 0 ? H5Tget_class(type) : H5T_NO_CLASS;
  r     = space >= 0 ? H5Sget_simple_extent_ndims(space) : -1;
  if (r >= 0 && r <= H5S_MAX_RANK && H5Sget_simple_extent_dims(space, fd, NULL) < 0) r = -1;
  if (type >= 0) H5Tclose(type);
  if (space >= 0) H5Sclose(space);
  H5Dclose(dset);
  PetscCheck(cls == H5T_FLOAT || cls == H5T_INTEGER, PETSC_COMM_SELF, PETSC_ERR_USER_INPUT, "%s: dataset %s must hold numbers", file, path);
  PetscCheck(r >= 0, PETSC_COMM_SELF, PETSC_ERR_FILE_READ, "%s: cannot read the shape of dataset %s", file, path);
  ok = (PetscBool)(r == rank);
  for (int k = 0; ok && k < rank; k++) ok = (PetscBool)(fd[k] > 0 && (dims[k] == 0 || dims[k] == fd[k]));
  if (!ok) {
    FormatShape(want, sizeof(want), rank, dims);
    FormatShape(got, sizeof(got), r, fd);
    SETERRQ(PETSC_COMM_SELF, PETSC_ERR_USER_INPUT, "%s: dataset %s has shape %s, expected %s%s", file, path, got, want, rank == 2 && dims[0] == 0 ? " (0: any length >= 1)" : "");
  }
  for (int k = 0; k < rank; k++) dims[k] = fd[k];
  PetscFunctionReturn(0);
}

/* Read a dataset of exactly shape dims into v and check every value is finite. */
PetscErrorCode BbdH5ReadDataset(hid_t fid, const char *file, const char *path, int rank, const hsize_t *dims, PetscReal *v)
{
  hsize_t d[H5S_MAX_RANK], n = 1;
  hid_t   dset;
  herr_t  err;

  PetscFunctionBeginUser;
  for (int k = 0; k < rank; k++) n *= (d[k] = dims[k]);
  PetscCall(BbdH5ReadDatasetShape(fid, file, path, rank, d));
  PetscCheck((dset = H5Dopen2(fid, path, H5P_DEFAULT)) >= 0, PETSC_COMM_SELF, PETSC_ERR_FILE_READ, "%s: cannot open dataset %s", file, path);
  err = H5Dread(dset, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, v);
  H5Dclose(dset);
  PetscCheck(err >= 0, PETSC_COMM_SELF, PETSC_ERR_FILE_READ, "%s: cannot read dataset %s (corrupt or truncated file?)", file, path);
  for (hsize_t k = 0; k < n; k++) {
    if (PetscIsInfOrNanReal(v[k])) {
      hsize_t idx[H5S_MAX_RANK], r = k;
      char    s[128];

      for (int i = rank - 1; i >= 0; i--) {
        idx[i] = r % dims[i];
        r /= dims[i];
      }
      FormatShape(s, sizeof(s), rank, idx);
      SETERRQ(PETSC_COMM_SELF, PETSC_ERR_USER_INPUT, "%s: dataset %s has the non-finite value %g at index %s", file, path, (double)v[k], s);
    }
  }
  PetscFunctionReturn(0);
}

/* Open file for reading; *fid < 0 never returned (error instead). */
PetscErrorCode BbdH5Open(const char *file, hid_t *fid)
{
  PetscBool exists;
  htri_t    ish5;
  hid_t     fapl;

  PetscFunctionBeginUser;
  H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
  PetscCall(PetscTestFile(file, 'r', &exists));
  PetscCheck(exists, PETSC_COMM_SELF, PETSC_ERR_FILE_OPEN, "cannot open %s: no such file, or not readable", file);
  ish5 = H5Fis_hdf5(file);
  PetscCheck(ish5 > 0, PETSC_COMM_SELF, PETSC_ERR_FILE_READ, "%s: not an HDF5 file (truncated or foreign?)", file);
  PetscCheck((fapl = H5Pcreate(H5P_FILE_ACCESS)) >= 0, PETSC_COMM_SELF, PETSC_ERR_LIB, "HDF5: cannot create a property list");
  H5Pset_fclose_degree(fapl, H5F_CLOSE_STRONG); /* closing the file closes whatever an error left open */
  *fid = H5Fopen(file, H5F_ACC_RDONLY, fapl);
  H5Pclose(fapl);
  PetscCheck(*fid >= 0, PETSC_COMM_SELF, PETSC_ERR_FILE_READ, "%s: cannot open as HDF5 (truncated or corrupt file?)", file);
  PetscFunctionReturn(0);
}


/*@ BbdStateReadGridInfo - what kind of state file is this: *continuum true when the root
  attribute mode is "continuum" (a bbd-field continuum result: fields on a grid, /state/z and
  /state/a [P+1, NX, NY]); then *nx, *ny from the attributes nx, ny. *t is the /state time
  (0 when absent). Every rank reads. @*/
PetscErrorCode BbdStateReadGridInfo(const char *file, PetscBool *continuum, PetscInt *nx, PetscInt *ny, PetscReal *t)
{
  hid_t          fid, g;
  char          *s = NULL;
  PetscBool      found;
  PetscErrorCode ierr;

  PetscFunctionBeginUser;
  PetscCall(BbdH5Open(file, &fid));
  *continuum = PETSC_FALSE;
  *t         = 0;
  ierr       = BbdH5ReadAttrString(fid, file, "", "mode", PETSC_FALSE, &s);
  if (!ierr && s) *continuum = (PetscBool)!strcmp(s, "continuum");
  if (s) (void)PetscFree(s);
  if (!ierr && *continuum) ierr = BbdH5ReadAttrInt(fid, file, "nx", PETSC_TRUE, nx, NULL);
  if (!ierr && *continuum) ierr = BbdH5ReadAttrInt(fid, file, "ny", PETSC_TRUE, ny, NULL);
  if (!ierr && !BbdH5PathExists(fid, "/state")) {
    H5Fclose(fid);
    SETERRQ(PETSC_COMM_SELF, PETSC_ERR_FILE_READ, "%s: group /state is missing", file);
  }
  if (!ierr) {
    if ((g = H5Gopen2(fid, "/state", H5P_DEFAULT)) < 0) {
      H5Fclose(fid);
      SETERRQ(PETSC_COMM_SELF, PETSC_ERR_FILE_READ, "%s: /state is not a group", file);
    }
    ierr = BbdH5ReadAttrReal(g, file, "/state:", "time", PETSC_FALSE, t, &found);
    H5Gclose(g);
  }
  H5Fclose(fid);
  PetscCall(ierr);
  PetscFunctionReturn(0);
}

/*@ BbdStateReadArray - dataset path of file into *v (PetscMalloc'd): rank and dims as
  expected (dims[k] = 0: any length, the file's comes back in dims). Missing dataset, wrong
  shape, unreadable (truncated) data or non-finite values are errors naming the dataset.
  Every rank reads. @*/
PetscErrorCode BbdStateReadArray(const char *file, const char *path, int rank, hsize_t *dims, PetscReal **v)
{
  hid_t          fid;
  hsize_t        n = 1;
  PetscErrorCode ierr;

  PetscFunctionBeginUser;
  *v = NULL;
  PetscCall(BbdH5Open(file, &fid));
  ierr = BbdH5ReadDatasetShape(fid, file, path, rank, dims);
  if (!ierr) {
    for (int k = 0; k < rank; k++) n *= dims[k];
    ierr = PetscMalloc1((size_t)n, v);
  }
  if (!ierr) ierr = BbdH5ReadDataset(fid, file, path, rank, dims, *v);
  H5Fclose(fid);
  if (ierr) (void)PetscFree(*v);
  PetscCall(ierr);
  PetscFunctionReturn(0);
}

PetscErrorCode BbdH5WriteAttrReals(hid_t loc, const char *file, const char *name, PetscInt n, const PetscReal *v)
{
  PetscFunctionBeginUser;
  PetscCall(BbdH5WriteAttr(loc, file, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, PETSC_FALSE, (hsize_t)n, v));
  PetscFunctionReturn(0);
}

PetscErrorCode BbdH5WriteAttrInts(hid_t loc, const char *file, const char *name, PetscInt n, const PetscInt *v)
{
  long long *w;

  PetscFunctionBeginUser;
  PetscCall(PetscMalloc1(n, &w));
  for (PetscInt k = 0; k < n; k++) w[k] = v[k];
  PetscCall(BbdH5WriteAttr(loc, file, name, H5T_STD_I32LE, H5T_NATIVE_LLONG, PETSC_FALSE, (hsize_t)n, w));
  PetscCall(PetscFree(w));
  PetscFunctionReturn(0);
}

/* ---------------------------------------------------------------- atomic files */

/*@ BbdAtomicFileBegin - every file the library writes is written under a temporary name,
  FILE.tmp.<pid>, and renamed to FILE only when complete (BbdAtomicFileCommit), so a reader never
  sees a half-written file and a killed run leaves no file that looks complete. Fills a->tmp. @*/
PetscErrorCode BbdAtomicFileBegin(BbdAtomicFile *a, const char *file)
{
  size_t len;

  PetscFunctionBeginUser;
  PetscCall(PetscStrlen(file, &len));
  PetscCheck(len > 0 && len < PETSC_MAX_PATH_LEN, PETSC_COMM_SELF, PETSC_ERR_USER_INPUT, "output file name is empty or too long");
  PetscCall(PetscStrncpy(a->file, file, sizeof(a->file)));
  PetscCall(PetscSNPrintf(a->tmp, sizeof(a->tmp), "%s.tmp.%d", file, (int)getpid()));
  PetscFunctionReturn(0);
}

/*@ BbdAtomicFileCommit - rename the complete temporary file to its final name (replacing an
  old file). On failure the temporary file is kept and the error names it. @*/
PetscErrorCode BbdAtomicFileCommit(BbdAtomicFile *a)
{
  PetscFunctionBeginUser;
  PetscCheck(rename(a->tmp, a->file) == 0, PETSC_COMM_SELF, PETSC_ERR_FILE_WRITE, "cannot rename %s to %s (%s); the complete result is left in %s", a->tmp, a->file, strerror(errno), a->tmp);
  PetscFunctionReturn(0);
}

/*@ BbdAtomicFileAbort - remove the temporary file (no error when it does not exist). @*/
PetscErrorCode BbdAtomicFileAbort(BbdAtomicFile *a)
{
  PetscFunctionBeginUser;
  PetscCheck(!unlink(a->tmp) || errno == ENOENT, PETSC_COMM_SELF, PETSC_ERR_FILE_WRITE, "cannot remove the temporary file %s (%s)", a->tmp, strerror(errno));
  PetscFunctionReturn(0);
}

/*@ BbdH5CreateAtomic - an HDF5 file written in one go through the atomic write path: begins
  af for file and creates its temporary file (rank-0 use). Finish with BbdH5CommitAtomic. @*/
PetscErrorCode BbdH5CreateAtomic(const char *file, BbdAtomicFile *af, hid_t *fid)
{
  PetscFunctionBeginUser;
  PetscCall(BbdAtomicFileBegin(af, file));
  H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
  *fid = H5Fcreate(af->tmp, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  PetscCheck(*fid >= 0, PETSC_COMM_SELF, PETSC_ERR_FILE_OPEN, "cannot create the output file %s (temporary name of %s): does the directory exist and is it writable?", af->tmp, file);
  PetscFunctionReturn(0);
}

/*@ BbdH5CommitAtomic - close fid and rename the complete file to its final name (on a failed
  close the temporary file is removed). @*/
PetscErrorCode BbdH5CommitAtomic(BbdAtomicFile *af, hid_t fid)
{
  PetscFunctionBeginUser;
  if (H5Fclose(fid) < 0) {
    (void)BbdAtomicFileAbort(af);
    SETERRQ(PETSC_COMM_SELF, PETSC_ERR_FILE_WRITE, "cannot complete %s (closing %s failed)", af->file, af->tmp);
  }
  PetscCall(BbdAtomicFileCommit(af));
  PetscFunctionReturn(0);
}
