static const char help[] = "t203: the one atomic write path (BbdAtomicFile): nothing under the final name until commit.\n";

/* Every file the library writes goes through BbdAtomicFileBegin/Commit/Abort (src/io/h5.c).
   Checks: the temporary name differs from the final one; before the commit only the temporary
   file exists (an old file of the final name is untouched); the commit replaces the old file
   with the new content and leaves no temporary file; abort removes the temporary file and
   leaves the old final file; aborting twice is no error; a commit whose rename fails (the
   final name is a non-empty directory) is an error that names both files and keeps the
   complete temporary file; an empty name is refused. Rank 0 only (the writers are rank-0 use). */
#include "bbdtest.h"
#include <sys/stat.h>
#include <unistd.h>

static int Exists(const char *p)
{
  return access(p, F_OK) == 0;
}

static void Put(const char *p, const char *text)
{
  FILE *fp = fopen(p, "w");
  if (fp) {
    fputs(text, fp);
    fclose(fp);
  }
}

static int Holds(const char *p, const char *text)
{
  char  buf[64] = {0};
  FILE *fp      = fopen(p, "r");
  if (!fp) return 0;
  if (!fgets(buf, sizeof(buf), fp)) buf[0] = 0;
  fclose(fp);
  return !strcmp(buf, text);
}

int main(int argc, char **argv)
{
  BbdAtomicFile  a, b;
  char           dir[] = "/tmp/t203.XXXXXX", file[256], sub[300], msg[512] = {0};
  PetscErrorCode ierr;
  PetscMPIInt    rank;

  PetscCall(PetscInitialize(&argc, &argv, NULL, help));
  PetscCallMPI(MPI_Comm_rank(PETSC_COMM_WORLD, &rank));
  if (!rank) {
    CHECK(mkdtemp(dir), "mkdtemp");
    snprintf(file, sizeof(file), "%s/out.h5", dir);
    Put(file, "old");

    PetscCall(BbdAtomicFileBegin(&a, file));
    CHECK(strcmp(a.tmp, a.file) && !strcmp(a.file, file), "temporary name %s must differ from the final %s", a.tmp, a.file);
    Put(a.tmp, "new");
    CHECK(Holds(file, "old"), "the old final file changed before the commit");
    PetscCall(BbdAtomicFileCommit(&a));
    CHECK(Holds(file, "new"), "after the commit the final file must hold the new content");
    CHECK(!Exists(a.tmp), "after the commit the temporary file %s must be gone", a.tmp);

    PetscCall(BbdAtomicFileBegin(&a, file));
    Put(a.tmp, "partial");
    PetscCall(BbdAtomicFileAbort(&a));
    CHECK(!Exists(a.tmp), "abort must remove %s", a.tmp);
    CHECK(Holds(file, "new"), "abort must leave the old final file");
    PetscCall(BbdAtomicFileAbort(&a)); /* already gone: no error */

    snprintf(sub, sizeof(sub), "%s/dir", dir); /* rename(2) onto a non-empty directory fails */
    mkdir(sub, 0700);
    snprintf(file, sizeof(file), "%s/dir/x", dir);
    Put(file, "x");
    PetscCall(BbdAtomicFileBegin(&b, sub));
    Put(b.tmp, "complete");
    PetscCall(PetscPushErrorHandler(CatchError, msg));
    ierr = BbdAtomicFileCommit(&b);
    CHECK(ierr == PETSC_ERR_FILE_WRITE, "a failed rename must be PETSC_ERR_FILE_WRITE, got %d", (int)ierr);
    CHECK(strstr(msg, b.tmp) && strstr(msg, sub), "the error must name both files: %s", msg);
    CHECK(Holds(b.tmp, "complete"), "a failed rename must keep the complete temporary file");
    ierr = BbdAtomicFileBegin(&b, "");
    CHECK(ierr == PETSC_ERR_USER_INPUT, "an empty file name must be refused, got %d", (int)ierr);
    PetscCall(PetscPopErrorHandler());
    unlink(b.tmp);
    unlink(file);
    rmdir(sub);
    snprintf(file, sizeof(file), "%s/out.h5", dir);
    unlink(file);
    rmdir(dir);
  }
  PetscCall(PetscFinalize());
  return nfail ? 1 : 0;
}
