/* Training data: net->S samples X [S][n0] and targets Y [S][nM], replicated on
   every rank (docs/theory.md, sections 1-5).

   builtin, dense family: X_s ~ N(0, 1) (random stream 1); Y_s = Z(X_s) of a
     random teacher network of the same architecture, W ~ N(0, 1)/sqrt(fan_in),
     b ~ 0.1 N(0, 1) (stream 2).
   builtin, field family (y_i = i/N, dy = 1/N): with c_k, d_k ~ 0.5 N(0, 1) (stream 1)
       X_s(y) = sum_{k=1..3} (c_k cos 2 pi k y + d_k sin 2 pi k y) / k
       Y_s(y) = 0.5 X_s(y - 1/8) + 0.3 sin 2 pi y
     (the shift is evaluated exactly from the Fourier form, not interpolated).
   Both: ce/kl targets are the softmax density p_i = exp(Y_i) / (w sum_k exp(Y_k))
     of the raw target (w = dy), hinge targets are sign(Y) (+1 at 0).
   FILE.h5: /data/X [S, n0], /data/Y [S, nM] (double).
   fashion-mnist: the Debian dataset-fashion-mnist training set, X = pixel/255,
     Y one-hot (hinge: +1 for the class, -1 otherwise). */
#include <bbdimpl.h>
#include "core/lossimpl.h"
#include <hdf5.h>
#include <zlib.h>

#if !defined(PETSC_USE_REAL_DOUBLE)
  #error "data.c reads HDF5 as H5T_NATIVE_DOUBLE straight into PetscReal: build PETSc with double precision"
#endif

#define BBD_BUILTIN_SAMPLES 8
#define BBD_FIELD_MODES     3

/* Turn raw targets into the form the loss needs (its shape_target: softmax density for ce/kl,
   sign for hinge). */
static PetscErrorCode DataShapeTargets(BbdNet net, PetscInt nM, PetscReal *Y)
{
  const BbdLossOps *L = BbdLossGetOps(net->loss);

  PetscFunctionBeginUser;
  for (PetscInt s = 0; s < net->S; s++) L->shape_target(nM, net->dy, Y + s * nM);
  PetscFunctionReturn(0);
}

static PetscErrorCode DataBuiltinDense(BbdNet net)
{
  const PetscInt M = net->M, n0 = net->n[0], nM = net->n[M];
  PetscReal     *theta, *z;

  PetscFunctionBeginUser;
  PetscCheck(net->zoff && net->woff && net->boff && net->nparam > 0, net->comm, PETSC_ERR_ORDER, "BbdDataBuild: the builtin teacher needs the layout: call BbdNetSetLayout() first");
  PetscCall(PetscCalloc1(net->nparam, &theta));
  PetscCall(PetscMalloc1(net->nz, &z));
  /* the counter is the position in theta, so the teacher depends only on the seed and the architecture */
  for (PetscInt m = 0; m < M; m++) {
    const PetscReal scale = 1 / PetscSqrtReal((PetscReal)net->n[m]);

    for (PetscInt k = 0; k < net->n[m + 1] * net->n[m]; k++) {
      const PetscInt p = net->woff[m] + k;
      theta[p]         = scale * BbdRandNormal(net->seed, 2, (unsigned long)p);
    }
    for (PetscInt k = 0; k < net->n[m + 1]; k++) {
      const PetscInt p = net->boff[m] + k;
      theta[p]         = 0.1 * BbdRandNormal(net->seed, 2, (unsigned long)p);
    }
  }
  for (PetscInt s = 0; s < net->S; s++) {
    for (PetscInt i = 0; i < n0; i++) net->X[s * n0 + i] = BbdRandNormal(net->seed, 1, (unsigned long)(s * n0 + i));
    PetscCall(BbdForward(net, theta, net->X + s * n0, z));
    PetscCall(PetscArraycpy(net->Y + s * nM, z + net->zoff[M], nM));
  }
  PetscCall(PetscFree(theta));
  PetscCall(PetscFree(z));
  PetscFunctionReturn(0);
}

static PetscErrorCode DataBuiltinField(BbdNet net)
{
  const PetscInt N = net->n[0];

  PetscFunctionBeginUser;
  PetscCheck(net->n[net->M] == N, net->comm, PETSC_ERR_USER_INPUT, "field family needs a uniform width, got n0 = %" PetscInt_FMT " and nM = %" PetscInt_FMT, N, net->n[net->M]);
  for (PetscInt s = 0; s < net->S; s++) {
    PetscReal c[BBD_FIELD_MODES], d[BBD_FIELD_MODES];

    for (PetscInt k = 0; k < BBD_FIELD_MODES; k++) {
      c[k] = 0.5 * BbdRandNormal(net->seed, 1, (unsigned long)(2 * BBD_FIELD_MODES * s + 2 * k));
      d[k] = 0.5 * BbdRandNormal(net->seed, 1, (unsigned long)(2 * BBD_FIELD_MODES * s + 2 * k + 1));
    }
    for (PetscInt i = 0; i < N; i++) {
      const PetscReal y = (PetscReal)i / N, ys = y - 0.125;
      PetscReal       x = 0, xs = 0;

      for (PetscInt k = 0; k < BBD_FIELD_MODES; k++) {
        const PetscReal w = 2 * PETSC_PI * (k + 1);

        x += (c[k] * PetscCosReal(w * y) + d[k] * PetscSinReal(w * y)) / (k + 1);
        xs += (c[k] * PetscCosReal(w * ys) + d[k] * PetscSinReal(w * ys)) / (k + 1);
      }
      net->X[s * N + i] = x;
      net->Y[s * N + i] = 0.5 * xs + 0.3 * PetscSinReal(2 * PETSC_PI * y);
    }
  }
  PetscFunctionReturn(0);
}

static PetscErrorCode DataBuiltin(BbdNet net)
{
  PetscFunctionBeginUser;
  net->S = net->nsamples > 0 ? net->nsamples : BBD_BUILTIN_SAMPLES;
  PetscCall(PetscMalloc1(net->S * net->n[0], &net->X));
  PetscCall(PetscMalloc1(net->S * net->n[net->M], &net->Y));
  if (net->family == BBD_FAMILY_DENSE) PetscCall(DataBuiltinDense(net));
  else PetscCall(DataBuiltinField(net));
  PetscCall(DataShapeTargets(net, net->n[net->M], net->Y));
  PetscFunctionReturn(0);
}

/* Read a rank-2 double dataset into a new array; *rows from the file, cols must match. */
static PetscErrorCode DataReadH5Matrix(MPI_Comm comm, hid_t file, const char *fname, const char *dset, PetscInt cols, const char *colwhat, PetscInt *rows, PetscReal **A)
{
  hid_t   d, space;
  int     rank;
  hsize_t dims[2] = {0, 0};
  herr_t  err;

  PetscFunctionBeginUser;
  PetscCheck(H5Lexists(file, "/data", H5P_DEFAULT) > 0 && H5Lexists(file, dset, H5P_DEFAULT) > 0, comm, PETSC_ERR_FILE_READ, "%s: dataset %s is missing (the data file needs /data/X [S, n0] and /data/Y [S, nM])", fname, dset);
  d = H5Dopen2(file, dset, H5P_DEFAULT);
  PetscCheck(d >= 0, comm, PETSC_ERR_FILE_READ, "%s: cannot open dataset %s", fname, dset);
  space = H5Dget_space(d);
  rank  = H5Sget_simple_extent_ndims(space);
  if (rank == 2) H5Sget_simple_extent_dims(space, dims, NULL);
  H5Sclose(space);
  if (rank != 2 || (PetscInt)dims[1] != cols) H5Dclose(d);
  PetscCheck(rank == 2, comm, PETSC_ERR_FILE_READ, "%s: dataset %s has rank %d, expected rank 2 [samples, units]", fname, dset, rank);
  PetscCheck((PetscInt)dims[1] == cols, comm, PETSC_ERR_USER_INPUT, "%s: dataset %s has %" PetscInt_FMT " columns, expected %" PetscInt_FMT " (%s)", fname, dset, (PetscInt)dims[1], cols, colwhat);
  *rows = (PetscInt)dims[0];
  PetscCall(PetscMalloc1(*rows * cols, A));
  err = H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, *A);
  H5Dclose(d);
  PetscCheck(err >= 0, comm, PETSC_ERR_FILE_READ, "%s: cannot read dataset %s as double", fname, dset);
  PetscFunctionReturn(0);
}

static PetscErrorCode DataReadH5(BbdNet net, const char *fname)
{
  const PetscInt n0 = net->n[0], nM = net->n[net->M];
  H5E_auto2_t    efunc;
  void          *edata;
  hid_t          file;
  htri_t         ish5;
  PetscInt       SX = 0, SY = 0;
  PetscBool      exists;
  PetscErrorCode ierr;
  char           what[PETSC_MAX_PATH_LEN + 64], colwhat[64];

  PetscFunctionBeginUser;
  PetscCall(PetscTestFile(fname, 'r', &exists));
  PetscCheck(exists, net->comm, PETSC_ERR_FILE_OPEN, "-bbd_data %s: file not found or not readable", fname);
  /* HDF5 would print its own error stack for a bad file; we report the error ourselves */
  H5Eget_auto2(H5E_DEFAULT, &efunc, &edata);
  H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
  ish5 = H5Fis_hdf5(fname);
  file = ish5 > 0 ? H5Fopen(fname, H5F_ACC_RDONLY, H5P_DEFAULT) : -1;
  if (file < 0) H5Eset_auto2(H5E_DEFAULT, efunc, edata);
  PetscCheck(ish5 > 0, net->comm, PETSC_ERR_FILE_OPEN, "-bbd_data %s: not an HDF5 file", fname);
  PetscCheck(file >= 0, net->comm, PETSC_ERR_FILE_OPEN, "-bbd_data %s: HDF5 cannot open the file", fname);
  PetscCall(PetscSNPrintf(colwhat, sizeof(colwhat), "n0, the input width"));
  ierr = DataReadH5Matrix(net->comm, file, fname, "/data/X", n0, colwhat, &SX, &net->X);
  if (!ierr) {
    PetscCall(PetscSNPrintf(colwhat, sizeof(colwhat), "nM, the output width"));
    ierr = DataReadH5Matrix(net->comm, file, fname, "/data/Y", nM, colwhat, &SY, &net->Y);
  }
  H5Fclose(file);
  H5Eset_auto2(H5E_DEFAULT, efunc, edata);
  PetscCall(ierr);
  PetscCheck(SX == SY, net->comm, PETSC_ERR_USER_INPUT, "%s: /data/X has %" PetscInt_FMT " samples but /data/Y has %" PetscInt_FMT, fname, SX, SY);
  PetscCheck(SX > 0, net->comm, PETSC_ERR_USER_INPUT, "%s: /data/X has no samples", fname);
  PetscCheck(net->nsamples <= SX, net->comm, PETSC_ERR_USER_INPUT, "-bbd_nsamples %" PetscInt_FMT " exceeds the %" PetscInt_FMT " samples in %s", net->nsamples, SX, fname);
  net->S = net->nsamples > 0 ? net->nsamples : SX;
  for (PetscInt s = 0; s < net->S; s++) {
    for (PetscInt i = 0; i < n0; i++)
      PetscCheck(!PetscIsInfOrNanReal(net->X[s * n0 + i]), net->comm, PETSC_ERR_USER_INPUT, "%s: /data/X row %" PetscInt_FMT " entry %" PetscInt_FMT " is NaN or Inf (inputs must be finite)", fname, s, i);
    PetscCall(PetscSNPrintf(what, sizeof(what), "%s: /data/Y row %" PetscInt_FMT, fname, s));
    PetscCall(BbdLossCheckTarget(net->comm, net->loss, what, nM, net->dy, net->Y + s * nM));
  }
  PetscFunctionReturn(0);
}

/* Read an IDX header: magic, then ndim dimensions, all big-endian 32-bit. */
static PetscErrorCode DataReadIdxHeader(MPI_Comm comm, gzFile f, const char *fname, int magic, int ndim, PetscInt *dims)
{
  unsigned char b[16];
  int           want = 4 * (ndim + 1), got = gzread(f, b, (unsigned)want);

  PetscFunctionBeginUser;
  PetscCheck(got == want, comm, PETSC_ERR_FILE_READ, "%s: truncated IDX header", fname);
  for (int k = 0; k <= ndim; k++) {
    const PetscInt v = ((PetscInt)b[4 * k] << 24) | ((PetscInt)b[4 * k + 1] << 16) | ((PetscInt)b[4 * k + 2] << 8) | (PetscInt)b[4 * k + 3];

    if (k == 0) PetscCheck(v == magic, comm, PETSC_ERR_FILE_READ, "%s: IDX magic number %" PetscInt_FMT ", expected %d", fname, v, magic);
    else dims[k - 1] = v;
  }
  PetscFunctionReturn(0);
}

/* Headers, pixels and labels of the first S (nsamples; 0: all) training images.
   The caller owns the open files, so it can close them whatever happens here. */
static PetscErrorCode DataFashionRead(BbdNet net, gzFile gi, const char *fimg, gzFile gl, const char *flab, unsigned char **pix, unsigned char **lab)
{
  PetscInt dimg[3], dlab[1], S;

  PetscFunctionBeginUser;
  PetscCall(DataReadIdxHeader(net->comm, gi, fimg, 2051, 3, dimg));
  PetscCall(DataReadIdxHeader(net->comm, gl, flab, 2049, 1, dlab));
  PetscCheck(dimg[1] == 28 && dimg[2] == 28, net->comm, PETSC_ERR_FILE_READ, "%s: images are %" PetscInt_FMT "x%" PetscInt_FMT ", expected 28x28", fimg, dimg[1], dimg[2]);
  PetscCheck(dimg[0] == dlab[0] && dimg[0] > 0, net->comm, PETSC_ERR_FILE_READ, "%s has %" PetscInt_FMT " images but %s has %" PetscInt_FMT " labels", fimg, dimg[0], flab, dlab[0]);
  PetscCheck(net->nsamples <= dimg[0], net->comm, PETSC_ERR_USER_INPUT, "-bbd_nsamples %" PetscInt_FMT " exceeds the %" PetscInt_FMT " Fashion-MNIST training images", net->nsamples, dimg[0]);
  S = net->nsamples > 0 ? net->nsamples : dimg[0];
  PetscCall(PetscMalloc1(S * 28 * 28, pix));
  PetscCall(PetscMalloc1(S, lab));
  PetscCheck(gzread(gi, *pix, (unsigned)(S * 28 * 28)) == (int)(S * 28 * 28), net->comm, PETSC_ERR_FILE_READ, "%s: truncated (expected %" PetscInt_FMT " images)", fimg, S);
  PetscCheck(gzread(gl, *lab, (unsigned)S) == (int)S, net->comm, PETSC_ERR_FILE_READ, "%s: truncated (expected %" PetscInt_FMT " labels)", flab, S);
  net->S = S;
  PetscFunctionReturn(0);
}

static PetscErrorCode DataFashionMnist(BbdNet net)
{
  const PetscInt npix = 28 * 28, ncls = 10;
  const char    *dir  = getenv("BBD_FASHION_DIR");
  char           fimg[PETSC_MAX_PATH_LEN], flab[PETSC_MAX_PATH_LEN];
  PetscBool      e1, e2;
  gzFile         gi, gl;
  unsigned char *pix = NULL, *lab = NULL;
  PetscErrorCode ierr;

  PetscFunctionBeginUser;
  PetscCheck(net->family == BBD_FAMILY_DENSE, net->comm, PETSC_ERR_USER_INPUT, "-bbd_data fashion-mnist needs -bbd_family dense");
  PetscCheck(net->n[0] == npix && net->n[net->M] == ncls, net->comm, PETSC_ERR_USER_INPUT, "-bbd_data fashion-mnist needs -bbd_widths 784,...,10 (input 784, output 10); got input %" PetscInt_FMT ", output %" PetscInt_FMT, net->n[0], net->n[net->M]);
  if (!dir || !dir[0]) dir = "/usr/share/datasets/fashion-mnist";
  PetscCall(PetscSNPrintf(fimg, sizeof(fimg), "%s/train-images-idx3-ubyte.gz", dir));
  PetscCall(PetscSNPrintf(flab, sizeof(flab), "%s/train-labels-idx1-ubyte.gz", dir));
  PetscCall(PetscTestFile(fimg, 'r', &e1));
  PetscCall(PetscTestFile(flab, 'r', &e2));
  PetscCheck(e1 && e2, net->comm, PETSC_ERR_FILE_OPEN, "-bbd_data fashion-mnist: %s not found; install the Debian package dataset-fashion-mnist (apt-get install dataset-fashion-mnist)", e1 ? flab : fimg);
  gi = gzopen(fimg, "rb");
  gl = gzopen(flab, "rb");
  if (!gi || !gl) {
    if (gi) gzclose(gi);
    if (gl) gzclose(gl);
  }
  PetscCheck(gi && gl, net->comm, PETSC_ERR_FILE_OPEN, "-bbd_data fashion-mnist: cannot open %s", gi ? flab : fimg);
  ierr = DataFashionRead(net, gi, fimg, gl, flab, &pix, &lab);
  gzclose(gi);
  gzclose(gl);
  if (ierr) {
    PetscCall(PetscFree(pix));
    PetscCall(PetscFree(lab));
  }
  PetscCall(ierr);
  PetscCall(PetscMalloc1(net->S * npix, &net->X));
  PetscCall(PetscMalloc1(net->S * ncls, &net->Y));
  for (PetscInt s = 0; s < net->S; s++) {
    PetscCheck(lab[s] < ncls, net->comm, PETSC_ERR_FILE_READ, "%s: label %d of image %" PetscInt_FMT " is not a class 0..9", flab, (int)lab[s], s);
    for (PetscInt i = 0; i < npix; i++) net->X[s * npix + i] = pix[s * npix + i] / 255.0;
    BbdLossGetOps(net->loss)->label_target(ncls, net->dy, lab[s], net->Y + s * ncls);
  }
  PetscCall(PetscFree(pix));
  PetscCall(PetscFree(lab));
  PetscFunctionReturn(0);
}

PetscErrorCode BbdDataBuild(BbdNet net)
{
  const char *src = net->data_source;
  size_t      len;
  PetscBool   builtin, fashion, h5 = PETSC_FALSE;

  PetscFunctionBeginUser;
  PetscCall(PetscFree(net->X));
  PetscCall(PetscFree(net->Y));
  net->S = 0;
  PetscCall(PetscStrlen(src, &len));
  PetscCall(PetscStrcmp(src, "builtin", &builtin));
  PetscCall(PetscStrcmp(src, "fashion-mnist", &fashion));
  if (len > 3) PetscCall(PetscStrcmp(src + len - 3, ".h5", &h5));
  if (!len || builtin) PetscCall(DataBuiltin(net));
  else if (fashion) PetscCall(DataFashionMnist(net));
  else if (h5) PetscCall(DataReadH5(net, src));
  else SETERRQ(net->comm, PETSC_ERR_USER_INPUT, "-bbd_data %s: unknown data source; use builtin, fashion-mnist or a file ending in .h5", src);
  PetscFunctionReturn(0);
}
