/* The XDMF description of a field-solver result for ParaView and VisIt (FILE.xdmf beside FILE.h5). */
#include "fieldimpl.h"

/* ParaView: an XDMF description of /trajectory/z on the (depth, width) grid */
/* one XDMF attribute: slice t (and component j >= 0 of a field with nc components) of the
   trajectory dataset /trajectory/name of shape T x [nc x] nx x ny */
static void XdmfAttribute(FILE *fp, const char *label, const char *base, const char *name, PetscInt t, PetscInt T, PetscInt j, PetscInt nc, PetscInt nx, PetscInt ny)
{
  fprintf(fp, "    <Attribute Name=\"%s\" AttributeType=\"Scalar\" Center=\"Node\">\n", label);
  if (j < 0) {
    fprintf(fp, "     <DataItem ItemType=\"HyperSlab\" Dimensions=\"1 %d %d\" Type=\"HyperSlab\">\n", (int)nx, (int)ny);
    fprintf(fp, "      <DataItem Dimensions=\"3 3\" Format=\"XML\">%d 0 0 1 1 1 1 %d %d</DataItem>\n", (int)t, (int)nx, (int)ny);
    fprintf(fp, "      <DataItem Dimensions=\"%d %d %d\" NumberType=\"Float\" Precision=\"8\" Format=\"HDF\">%s:/trajectory/%s</DataItem>\n", (int)T, (int)nx, (int)ny, base, name);
  } else {
    fprintf(fp, "     <DataItem ItemType=\"HyperSlab\" Dimensions=\"1 1 %d %d\" Type=\"HyperSlab\">\n", (int)nx, (int)ny);
    fprintf(fp, "      <DataItem Dimensions=\"3 4\" Format=\"XML\">%d %d 0 0 1 1 1 1 1 1 %d %d</DataItem>\n", (int)t, (int)j, (int)nx, (int)ny);
    fprintf(fp, "      <DataItem Dimensions=\"%d %d %d %d\" NumberType=\"Float\" Precision=\"8\" Format=\"HDF\">%s:/trajectory/%s</DataItem>\n", (int)T, (int)nc, (int)nx, (int)ny, base, name);
  }
  fprintf(fp, "     </DataItem>\n    </Attribute>\n");
}

/* FILE.xdmf beside FILE.h5 (ParaView, VisIt): the saved times as a temporal collection on the
   (depth x width) grid with z (and z_dot, a_j, a_j_dot in continuum mode, where the moments live
   on every node); in lattice mode a second collection "layers" on the M x N layer grid
   (x_m = m h, m = 0..M-1) with a_j and b (and their velocities in damped dynamics). */
PetscErrorCode BbdFieldWriteXdmf(BbdField f, PetscInt T)
{
  BbdNet      net = f->net;
  PetscMPIInt rank;
  char        xf[PETSC_MAX_PATH_LEN + 8], lab[32];
  BbdAtomicFile af;
  const char *h5 = net->output_file, *base;
  FILE       *fp;
  PetscReal  *times;
  const PetscInt NX = net->M + 1, NY = net->n[0], M = net->M, P = net->P;

  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Comm_rank(f->comm, &rank));
  if (rank) PetscFunctionReturn(0);
  PetscCall(PetscLogEventBegin(BBD_Output, 0, 0, 0, 0));
  base = strrchr(h5, '/') ? strrchr(h5, '/') + 1 : h5;
  PetscCall(PetscSNPrintf(xf, sizeof(xf), "%s", h5));
  if (strlen(xf) > 3 && !strcmp(xf + strlen(xf) - 3, ".h5")) xf[strlen(xf) - 3] = 0;
  PetscCall(PetscStrlcat(xf, ".xdmf", sizeof(xf)));
  PetscCall(BbdAtomicFileBegin(&af, xf));
  PetscCall(PetscMalloc1(T, &times));
  {
    hid_t fid = H5Fopen(h5, H5F_ACC_RDONLY, H5P_DEFAULT), d;
    PetscCheck(fid >= 0, PETSC_COMM_SELF, PETSC_ERR_FILE_OPEN, "cannot reopen %s to describe it in %s", h5, xf);
    d = H5Dopen2(fid, "/trajectory/time", H5P_DEFAULT);
    H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, times);
    H5Dclose(d);
    H5Fclose(fid);
  }
  fp = fopen(af.tmp, "w");
  PetscCheck(fp, PETSC_COMM_SELF, PETSC_ERR_FILE_OPEN, "cannot write %s", af.tmp);
  fprintf(fp, "<?xml version=\"1.0\" ?>\n<Xdmf Version=\"3.0\">\n <Domain>\n");
  fprintf(fp, "  <Topology Name=\"grid\" TopologyType=\"2DCoRectMesh\" Dimensions=\"%d %d\"/>\n", (int)NX, (int)NY);
  fprintf(fp, "  <Geometry Name=\"geo\" GeometryType=\"ORIGIN_DXDY\">\n   <DataItem Format=\"XML\" Dimensions=\"2\">0 0</DataItem>\n");
  fprintf(fp, "   <DataItem Format=\"XML\" Dimensions=\"2\">%.17g %.17g</DataItem>\n  </Geometry>\n", 1.0 / M, 1.0 / NY);
  if (!f->continuum) {
    fprintf(fp, "  <Topology Name=\"layers\" TopologyType=\"2DCoRectMesh\" Dimensions=\"%d %d\"/>\n", (int)M, (int)NY);
    fprintf(fp, "  <Geometry Name=\"layergeo\" GeometryType=\"ORIGIN_DXDY\">\n   <DataItem Format=\"XML\" Dimensions=\"2\">0 0</DataItem>\n");
    fprintf(fp, "   <DataItem Format=\"XML\" Dimensions=\"2\">%.17g %.17g</DataItem>\n  </Geometry>\n", 1.0 / M, 1.0 / NY);
  }
  fprintf(fp, "  <Grid Name=\"trajectory\" GridType=\"Collection\" CollectionType=\"Temporal\">\n");
  for (PetscInt t = 0; t < T; t++) {
    fprintf(fp, "   <Grid Name=\"t%d\" GridType=\"Uniform\">\n    <Time Value=\"%.17g\"/>\n", (int)t, (double)times[t]);
    fprintf(fp, "    <Topology Reference=\"/Xdmf/Domain/Topology[1]\"/>\n    <Geometry Reference=\"/Xdmf/Domain/Geometry[1]\"/>\n");
    XdmfAttribute(fp, "z", base, "z", t, T, -1, 0, NX, NY);
    if (f->continuum && f->damped) XdmfAttribute(fp, "z_dot", base, "z_dot", t, T, -1, 0, NX, NY);
    for (PetscInt j = 0; f->continuum && j <= P; j++) {
      PetscCall(PetscSNPrintf(lab, sizeof(lab), "a_%d", (int)j));
      XdmfAttribute(fp, lab, base, "a", t, T, j, P + 1, NX, NY);
      if (!f->damped) continue;
      PetscCall(PetscSNPrintf(lab, sizeof(lab), "a_%d_dot", (int)j));
      XdmfAttribute(fp, lab, base, "a_dot", t, T, j, P + 1, NX, NY);
    }
    fprintf(fp, "   </Grid>\n");
  }
  fprintf(fp, "  </Grid>\n");
  if (!f->continuum) { /* lattice mode: the parameters of layer m at x_m = m h, m = 0..M-1 */
    fprintf(fp, "  <Grid Name=\"layers\" GridType=\"Collection\" CollectionType=\"Temporal\">\n");
    for (PetscInt t = 0; t < T; t++) {
      fprintf(fp, "   <Grid Name=\"layers_t%d\" GridType=\"Uniform\">\n    <Time Value=\"%.17g\"/>\n", (int)t, (double)times[t]);
      fprintf(fp, "    <Topology Reference=\"/Xdmf/Domain/Topology[2]\"/>\n    <Geometry Reference=\"/Xdmf/Domain/Geometry[2]\"/>\n");
      for (PetscInt j = 0; j <= P; j++) {
        PetscCall(PetscSNPrintf(lab, sizeof(lab), "a_%d", (int)j));
        XdmfAttribute(fp, lab, base, "a", t, T, j, P + 1, M, NY);
        if (!f->damped) continue;
        PetscCall(PetscSNPrintf(lab, sizeof(lab), "a_%d_dot", (int)j));
        XdmfAttribute(fp, lab, base, "a_dot", t, T, j, P + 1, M, NY);
      }
      XdmfAttribute(fp, "b", base, "b", t, T, -1, 0, M, NY);
      if (f->damped) XdmfAttribute(fp, "b_dot", base, "b_dot", t, T, -1, 0, M, NY);
      fprintf(fp, "   </Grid>\n");
    }
    fprintf(fp, "  </Grid>\n");
  }
  fprintf(fp, " </Domain>\n</Xdmf>\n");
  if (fclose(fp)) {
    (void)BbdAtomicFileAbort(&af);
    SETERRQ(PETSC_COMM_SELF, PETSC_ERR_FILE_WRITE, "cannot write %s", af.tmp);
  }
  PetscCall(BbdAtomicFileCommit(&af));
  PetscCall(PetscFree(times));
  PetscCall(PetscLogEventEnd(BBD_Output, 0, 0, 0, 0));
  PetscFunctionReturn(0);
}
