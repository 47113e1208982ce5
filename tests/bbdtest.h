/* Shared helpers of the unit tests: build a net from an option string through the real
   option path, and count failures. Tests are silent when they pass. */
#ifndef BBDTEST_H
#define BBDTEST_H
#include <bbdimpl.h>

static int nfail = 0;
#define bbd_nfail nfail

#define CHECK(cond, ...) \
  do { \
    if (!(cond)) { \
      nfail++; \
      printf("FAIL %s:%d: ", __FILE__, __LINE__); \
      printf(__VA_ARGS__); \
      printf("\n"); \
    } \
  } while (0)

/* Keeps the message of an expected error (ctx: a buffer of at least 512 chars) so a test can
   check what it says. */
static inline PetscErrorCode CatchError(MPI_Comm comm, int line, const char *func, const char *file, PetscErrorCode n, PetscErrorType p, const char *mess, void *ctx)
{
  (void)comm, (void)line, (void)func, (void)file;
  if (p == PETSC_ERROR_INITIAL) PetscStrncpy((char *)ctx, mess, 512);
  return n;
}

/* A net configured by `opts` (PETSc option syntax), set up with its data and initial state,
   then with its parameters (and velocity) perturbed by `noise` times standard normals so that
   identities are checked away from any special initial state. */
static inline PetscErrorCode TestNetCreate(const char *opts, PetscReal noise, BbdNet *net)
{
  PetscFunctionBeginUser;
  PetscCall(PetscOptionsClear(NULL));
  PetscCall(PetscOptionsInsertString(NULL, opts));
  PetscCall(BbdNetCreate(PETSC_COMM_WORLD, net));
  PetscCall(BbdNetSetFromOptions(*net));
  PetscCall(BbdNetSetUp(*net));
  for (PetscInt k = 0; k < (*net)->nparam; k++) {
    (*net)->theta[k] += noise * BbdRandNormal(99, 1, (unsigned long)k);
    (*net)->thetadot[k] = BbdRandNormal(99, 2, (unsigned long)k);
  }
  PetscCall(BbdNetFreezeVelocity(*net, (*net)->thetadot));
  PetscFunctionReturn(0);
}

static inline PetscReal MaxAbs(PetscInt n, const PetscReal *a)
{
  PetscReal m = 0;
  for (PetscInt i = 0; i < n; i++) m = PetscMax(m, PetscAbsReal(a[i]));
  return m;
}

static inline PetscReal MaxAbsDiff(PetscInt n, const PetscReal *a, const PetscReal *b)
{
  PetscReal m = 0;
  for (PetscInt i = 0; i < n; i++) m = PetscMax(m, PetscAbsReal(a[i] - b[i]));
  return m;
}

/* the configurations every identity is checked on: both families, periodic and zero-padded
   width, residual dense, mixed activations, every loss is appended by the tests */
static const char *const bbd_test_nets[] = {
  "-bbd_family field -bbd_depth 4 -bbd_width 8 -bbd_kappa 1,0.5,0.25",
  "-bbd_family field -bbd_depth 3 -bbd_width 7 -bbd_kappa 0.7,0.3,0.2 -bbd_periodic 0 -bbd_activation sin,softplus,gelu",
  "-bbd_family field -bbd_depth 5 -bbd_width 6 -bbd_kappa 1,0,0.1 -bbd_activation erf,swish,sigmoid,linear,tanh",
  "-bbd_family dense -bbd_widths 3,5,4,2",
  "-bbd_family dense -bbd_widths 4,4,4,4 -bbd_residual -bbd_h 0.5 -bbd_activation relu,tanh,gelu",
  "-bbd_family dense -bbd_widths 6,3,5,3 -bbd_activation swish,sin,erf",
};
static const char *const bbd_test_losses[] = {"mse", "ce", "kl", "hinge"};

#endif
