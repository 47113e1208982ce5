/* The library-internal interface of src/io: the one atomic write path, the result writer
   (output.c), reading -bbd_init states (state.c) and the plain HDF5 helpers (h5.c) that the field
   solver's and bbd-compare's writers use. Included through src/bbdimpl.h. */
#ifndef BBD_IO_H
#define BBD_IO_H
#include "net/netimpl.h"
#include <hdf5.h>

/* The one atomic write path of every file the library writes (src/io/h5.c): write to tmp,
   then BbdAtomicFileCommit renames it to file; BbdAtomicFileAbort removes it. */
typedef struct {
  char file[PETSC_MAX_PATH_LEN], tmp[PETSC_MAX_PATH_LEN + 32];
} BbdAtomicFile;
PETSC_INTERN PetscErrorCode BbdAtomicFileBegin(BbdAtomicFile *, const char *file);
PETSC_INTERN PetscErrorCode BbdAtomicFileCommit(BbdAtomicFile *);
PETSC_INTERN PetscErrorCode BbdAtomicFileAbort(BbdAtomicFile *);

/* Output file writer (src/io/output.c): writes through a BbdAtomicFile. */
typedef struct _p_BbdOutput *BbdOutput;

/* src/io/output.c (the writer), src/io/state.c (reading -bbd_init) */
PETSC_INTERN PetscErrorCode BbdOutputCreate(BbdNet, const char *file, BbdOutput *);
PETSC_INTERN PetscErrorCode BbdOutputAppend(BbdOutput, const BbdSnapshot *);
PETSC_INTERN PetscErrorCode BbdOutputFinish(BbdOutput *, PetscReal t, const PetscReal *theta, const PetscReal *thetadot); /* writes /state, renames */
PETSC_INTERN PetscErrorCode BbdOutputAbort(BbdOutput *); /* removes the temporary file */
/* -bbd_init, phase 1 (before options): the definition from the root attributes into
   net (family, act, loss, M, n, rho, h, eta, kappa, periodic, residual; defaults dyn, gamma).
   Marks what it set in net->fromfile. Phase 2 (after BbdNetSetLayout): /data (if present
   and net->data_source is empty) and /state into net->theta (and thetadot), time -> net->t0. */
PETSC_INTERN PetscErrorCode BbdStateReadDefinition(BbdNet, const char *file);
PETSC_INTERN PetscErrorCode BbdStateReadState(BbdNet, const char *file);


/* src/io: extra datasets of field-solver results; plain HDF5 writers and readers (h5.c) */
PETSC_INTERN PetscErrorCode BbdOutputWriteGrid(BbdOutput, PetscInt nx, const PetscReal *x, PetscInt ny, const PetscReal *y);

/* an HDF5 file written in one go through the atomic write path (h5.c) */
PETSC_INTERN PetscErrorCode BbdH5CreateAtomic(const char *file, BbdAtomicFile *, hid_t *fid);
PETSC_INTERN PetscErrorCode BbdH5CommitAtomic(BbdAtomicFile *, hid_t fid);
PETSC_INTERN PetscErrorCode BbdH5WriteArray(hid_t, const char *file, const char *name, int rank, const hsize_t *dims, const PetscReal *v);
PETSC_INTERN PetscErrorCode BbdH5WriteAttrString(hid_t, const char *file, const char *name, const char *str);
PETSC_INTERN PetscErrorCode BbdH5WriteAttrReal(hid_t, const char *file, const char *name, PetscReal v);
PETSC_INTERN PetscErrorCode BbdH5WriteAttrInt(hid_t, const char *file, const char *name, long long v);
PETSC_INTERN PetscErrorCode BbdH5WriteAttrReals(hid_t, const char *file, const char *name, PetscInt n, const PetscReal *v);
PETSC_INTERN PetscErrorCode BbdH5WriteAttrInts(hid_t, const char *file, const char *name, PetscInt n, const PetscInt *v);
PETSC_INTERN PetscErrorCode BbdStateReadGridInfo(const char *file, PetscBool *continuum, PetscInt *nx, PetscInt *ny, PetscReal *t);
PETSC_INTERN PetscErrorCode BbdStateReadArray(const char *file, const char *path, int rank, hsize_t *dims, PetscReal **v); /* PetscMalloc'd; dims[k] = 0: any */
#endif
