/* BbdField: the database, prefix and setters a program configures a run with (include/bbd.h:
   before BbdFieldSetFromOptions a setter gives the default and an option wins). The field's
   options live in its net, which serves every read of the field, its grid and its time stepper. */
#include "fieldimpl.h"

PetscErrorCode BbdFieldSetOptions(BbdField f, PetscOptions options)
{
  PetscFunctionBeginUser;
  PetscCall(BbdNetSetOptions(f->net, options));
  PetscFunctionReturn(0);
}

PetscErrorCode BbdFieldSetOptionsPrefix(BbdField f, const char prefix[])
{
  PetscFunctionBeginUser;
  PetscCall(BbdNetSetOptionsPrefix(f->net, prefix));
  PetscFunctionReturn(0);
}

PetscErrorCode BbdFieldGetNet(BbdField f, BbdNet *net)
{
  PetscFunctionBeginUser;
  *net = f->net;
  PetscFunctionReturn(0);
}

PetscErrorCode BbdFieldSetMode(BbdField f, const char mode[])
{
  PetscFunctionBeginUser;
  PetscCheck(!f->net->setfromoptions_called, f->comm, PETSC_ERR_ORDER, "BbdFieldSetMode: call it before BbdFieldSetFromOptions");
  PetscCheck(!strcmp(mode, "lattice") || !strcmp(mode, "continuum"), f->comm, PETSC_ERR_USER_INPUT, "BbdFieldSetMode %s: use lattice or continuum", mode);
  PetscCall(PetscStrncpy(f->mode, mode, sizeof(f->mode)));
  PetscFunctionReturn(0);
}

PetscErrorCode BbdFieldSetFormulation(BbdField f, const char form[])
{
  PetscFunctionBeginUser;
  PetscCheck(!f->net->setfromoptions_called, f->comm, PETSC_ERR_ORDER, "BbdFieldSetFormulation: call it before BbdFieldSetFromOptions");
  PetscCheck(!strcmp(form, "sweep") || !strcmp(form, "residual"), f->comm, PETSC_ERR_USER_INPUT, "BbdFieldSetFormulation %s: use sweep or residual", form);
  f->residual = (PetscBool)!strcmp(form, "residual");
  PetscFunctionReturn(0);
}

PetscErrorCode BbdFieldSetGrid(BbdField f, PetscInt NX, PetscInt NY)
{
  PetscFunctionBeginUser;
  PetscCheck(!f->net->setfromoptions_called, f->comm, PETSC_ERR_ORDER, "BbdFieldSetGrid: call it before BbdFieldSetFromOptions");
  PetscCheck(NX >= 3 && NY >= 3, f->comm, PETSC_ERR_USER_INPUT, "BbdFieldSetGrid %" PetscInt_FMT " x %" PetscInt_FMT ": the grid needs at least 3 points in each direction", NX, NY);
  f->net->grid[0] = NX;
  f->net->grid[1] = NY;
  PetscFunctionReturn(0);
}
