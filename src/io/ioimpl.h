/* Private helpers of src/io (h5.c, output.c, state.c): HDF5 attribute and dataset access with
   errors that name the file, and the packing of field-family parameters to the file's layout. */
#ifndef IOIMPL_H
#define IOIMPL_H
#include <bbdimpl.h>
#include <hdf5.h>

#if !defined(PETSC_USE_REAL_DOUBLE)
  #error "src/io moves PetscReal through H5T_NATIVE_DOUBLE: build PETSc with double precision"
#endif

#define H5W(expr, ...) PetscCheck((expr) >= 0, PETSC_COMM_SELF, PETSC_ERR_FILE_WRITE, __VA_ARGS__)

/* writing (h5.c; BbdH5WriteArray, BbdH5WriteAttrString/Real/Int/Reals/Ints are in bbdimpl.h):
   n values of an attribute, a scalar dataspace when scalar is true (n must be 1) */
PETSC_INTERN PetscErrorCode BbdH5WriteAttr(hid_t, const char *file, const char *name, hid_t ftype, hid_t mtype, PetscBool scalar, hsize_t n, const void *v);
/* reading (h5.c) */
PETSC_INTERN PetscErrorCode BbdH5Open(const char *file, hid_t *fid); /* read-only; *fid >= 0 or an error naming the file */
PETSC_INTERN PetscBool      BbdH5PathExists(hid_t fid, const char *path);
PETSC_INTERN PetscErrorCode BbdH5ReadAttrString(hid_t, const char *file, const char *where, const char *name, PetscBool required, char **str);
PETSC_INTERN PetscErrorCode BbdH5ReadAttrNumbers(hid_t, const char *file, const char *where, const char *name, PetscBool required, PetscBool isint, PetscInt nmin, PetscInt nmax, PetscReal *rv, long long *iv, PetscInt *n, PetscBool *found);
PETSC_INTERN PetscErrorCode BbdH5ReadAttrInt(hid_t, const char *file, const char *name, PetscBool required, PetscInt *v, PetscBool *found);
PETSC_INTERN PetscErrorCode BbdH5ReadAttrReal(hid_t, const char *file, const char *where, const char *name, PetscBool required, PetscReal *v, PetscBool *found);
PETSC_INTERN PetscErrorCode BbdH5ReadDatasetShape(hid_t fid, const char *file, const char *path, int rank, hsize_t *dims);
PETSC_INTERN PetscErrorCode BbdH5ReadDataset(hid_t fid, const char *file, const char *path, int rank, const hsize_t *dims, PetscReal *v);

/* field family: theta (packed, per layer) <-> a [P+1][M][N], b [M][N] */
static inline void PackField(BbdNet net, const PetscReal *theta, PetscReal *a, PetscReal *b)
{
  const PetscInt M = net->M, N = net->n[0];

  for (PetscInt m = 0; m < M; m++) {
    for (PetscInt j = 0; j <= net->P; j++)
      for (PetscInt i = 0; i < N; i++) a[(j * M + m) * N + i] = theta[net->woff[m] + j * N + i];
    for (PetscInt i = 0; i < N; i++) b[m * N + i] = theta[net->boff[m] + i];
  }
}

static inline void UnpackField(BbdNet net, const PetscReal *a, const PetscReal *b, PetscReal *theta)
{
  const PetscInt M = net->M, N = net->n[0];

  for (PetscInt m = 0; m < M; m++) {
    if (a)
      for (PetscInt j = 0; j <= net->P; j++)
        for (PetscInt i = 0; i < N; i++) theta[net->woff[m] + j * N + i] = a[(j * M + m) * N + i];
    if (b)
      for (PetscInt i = 0; i < N; i++) theta[net->boff[m] + i] = b[m * N + i];
  }
}
#endif
