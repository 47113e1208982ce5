static const char help[] = "t202: options per object: two nets with their own databases, setters against options, the global database untouched.\n";

/* Each BbdNet / BbdField reads the PetscOptions it is given under its prefix (include/bbd.h): two
   nets in one process with different databases get their own settings; a setter called before
   SetFromOptions is the default that an option overrides; a run setter called after it replaces
   the option's value, a definition setter there is refused; the time stepper reads the net's
   database under its prefix; the global database (holding a
   decoy -bbd_width 99 that no object may read) is unchanged and its decoy unread afterwards. */
#include "bbdtest.h"
#include "field/fieldimpl.h"

static PetscErrorCode NetFrom(const char *opts, const char *prefix, PetscOptions *db, BbdNet *net)
{
  PetscFunctionBeginUser;
  PetscCall(PetscOptionsCreate(db));
  PetscCall(PetscOptionsInsertString(*db, opts));
  PetscCall(BbdNetCreate(PETSC_COMM_WORLD, net));
  PetscCall(BbdNetSetOptions(*net, *db));
  if (prefix) PetscCall(BbdNetSetOptionsPrefix(*net, prefix));
  PetscFunctionReturn(0);
}

int main(int argc, char **argv)
{
  PetscOptions   da, db, dc, dd, df;
  BbdNet         a, b, c, d;
  BbdField       f;
  char          *before, *after, msg[512] = "";
  PetscBool      used, same;
  PetscErrorCode ierr;

  PetscCall(PetscInitialize(&argc, &argv, NULL, help));
  PetscCall(PetscOptionsInsertString(NULL, "-bbd_width 99 -bbd_loss hinge"));
  PetscCall(PetscOptionsGetAll(NULL, &before));

  /* two nets, two databases (b's under a prefix) */
  PetscCall(NetFrom("-bbd_width 6 -bbd_loss mse -bbd_eta 0.25", NULL, &da, &a));
  PetscCall(NetFrom("-b_bbd_width 10 -b_bbd_loss ce -bbd_width 77", "b_", &db, &b));
  PetscCall(BbdNetSetFromOptions(a));
  PetscCall(BbdNetSetFromOptions(b));
  CHECK(a->n[0] == 6 && b->n[0] == 10, "widths %" PetscInt_FMT " and %" PetscInt_FMT ", expected 6 and 10", a->n[0], b->n[0]);
  CHECK(a->loss == BBD_LOSS_MSE && b->loss == BBD_LOSS_CE, "losses %s and %s, expected mse and ce", BbdLosses[a->loss], BbdLosses[b->loss]);
  CHECK(a->eta == 0.25 && b->eta == 1, "eta %g and %g, expected 0.25 and the default 1", (double)a->eta, (double)b->eta);
  PetscCall(PetscOptionsUsed(db, "bbd_width", &used));
  CHECK(!used, "the prefixed net read the unprefixed -bbd_width");

  /* setters before SetFromOptions: defaults; options win */
  PetscCall(NetFrom("", NULL, &dc, &c));
  PetscCall(NetFrom("-bbd_depth 7 -bbd_eta 2 -bbd_kappa 0.5,0.25,0", NULL, &dd, &d));
  for (BbdNet n = c;; n = d) {
    const PetscReal k[3] = {2, 1, 0.5};
    PetscCall(BbdNetSetDepth(n, 5));
    PetscCall(BbdNetSetWidth(n, 12));
    PetscCall(BbdNetSetEta(n, 0.5));
    PetscCall(BbdNetSetKappa(n, 3, k));
    PetscCall(BbdNetSetDynamics(n, BBD_DYN_SGD));
    PetscCall(BbdNetSetOutputFile(n, "setter.h5"));
    PetscCall(BbdNetSetFromOptions(n));
    if (n == d) break;
  }
  CHECK(c->M == 5 && c->n[0] == 12 && c->eta == 0.5 && c->kappa[0] == 2 && c->kappa[1] == 1 && c->kappa[2] == 0.5, "setters without options: M %" PetscInt_FMT ", N %" PetscInt_FMT ", eta %g, kappa %g,%g,%g", c->M, c->n[0], (double)c->eta, (double)c->kappa[0], (double)c->kappa[1], (double)c->kappa[2]);
  CHECK(c->dyn == BBD_DYN_SGD && c->tfinal == 100 && c->output_dt == 10, "BbdNetSetDynamics sgd: tfinal %g, output_dt %g, expected the step defaults 100, 10", (double)c->tfinal, (double)c->output_dt);
  CHECK(!strcmp(c->output_file, "setter.h5"), "output file %s", c->output_file);
  CHECK(d->M == 7 && d->n[0] == 12 && d->eta == 2 && d->kappa[0] == 0.5 && d->kappa[1] == 0.25 && d->kappa[2] == 0, "options over setters: M %" PetscInt_FMT ", N %" PetscInt_FMT ", eta %g, kappa %g,%g,%g", d->M, d->n[0], (double)d->eta, (double)d->kappa[0], (double)d->kappa[1], (double)d->kappa[2]);

  /* after SetFromOptions: a run setter replaces the option's value, a definition setter is refused */
  PetscCall(BbdNetSetEta(d, 3));
  CHECK(d->eta == 3, "BbdNetSetEta after SetFromOptions: eta %g, expected 3", (double)d->eta);
  PetscCall(PetscPushErrorHandler(CatchError, msg));
  ierr = BbdNetSetDepth(d, 9);
  PetscCall(PetscPopErrorHandler());
  CHECK(ierr == PETSC_ERR_ORDER && strstr(msg, "before BbdNetSetFromOptions") && d->M == 7, "BbdNetSetDepth after SetFromOptions: error %d, message '%s', M %" PetscInt_FMT, (int)ierr, msg, d->M);

  /* the time stepper reads the net's database under its prefix: a refused -ts_exact_final_time */
  {
    PetscOptions dt;
    BbdNet       t;
    PetscCall(NetFrom("-p_bbd_depth 2 -p_bbd_width 4 -p_bbd_tfinal 0.1 -p_bbd_quiet -p_bbd_output t202.h5 -p_ts_exact_final_time stepover", "p_", &dt, &t));
    PetscCall(BbdNetSetFromOptions(t));
    PetscCall(BbdNetSetUp(t));
    msg[0] = 0;
    PetscCall(PetscPushErrorHandler(CatchError, msg));
    ierr = BbdNetRun(t);
    PetscCall(PetscPopErrorHandler());
    CHECK(ierr == PETSC_ERR_USER_INPUT && strstr(msg, "only matchstep is allowed"), "the TS did not read -p_ts_exact_final_time from the net's database: error %d, message '%s'", (int)ierr, msg);
    PetscCall(BbdNetDestroy(&t));
    PetscCall(PetscOptionsDestroy(&dt));
  }

  /* a field with its own database and prefix: mode, formulation and grid */
  PetscCall(PetscOptionsCreate(&df));
  PetscCall(PetscOptionsInsertString(df, "-f_bbd_mode continuum -f_da_grid_x 9 -f_bbd_depth 4 -f_bbd_width 8"));
  PetscCall(BbdFieldCreate(PETSC_COMM_WORLD, &f));
  PetscCall(BbdFieldSetOptions(f, df));
  PetscCall(BbdFieldSetOptionsPrefix(f, "f_"));
  PetscCall(BbdFieldSetFormulation(f, "residual"));
  PetscCall(BbdFieldSetGrid(f, 5, 12));
  PetscCall(BbdFieldSetFromOptions(f));
  CHECK(f->continuum && f->residual, "field: continuum %d, residual %d, expected both", (int)f->continuum, (int)f->residual);
  CHECK(f->net->M + 1 == 9 && f->net->n[0] == 12, "field grid %" PetscInt_FMT " x %" PetscInt_FMT ", expected 9 (option) x 12 (setter)", f->net->M + 1, f->net->n[0]);

  /* the global database: the same options, and its decoys never read */
  PetscCall(PetscOptionsGetAll(NULL, &after));
  PetscCall(PetscStrcmp(before, after, &same));
  CHECK(same, "the global database changed:\n  before: %s\n  after:  %s", before, after);
  PetscCall(PetscOptionsUsed(NULL, "bbd_width", &used));
  CHECK(!used, "an object read -bbd_width from the global database");
  PetscCall(PetscOptionsUsed(NULL, "bbd_loss", &used));
  CHECK(!used, "an object read -bbd_loss from the global database");

  PetscCall(PetscFree(before));
  PetscCall(PetscFree(after));
  PetscCall(BbdFieldDestroy(&f));
  PetscCall(BbdNetDestroy(&a));
  PetscCall(BbdNetDestroy(&b));
  PetscCall(BbdNetDestroy(&c));
  PetscCall(BbdNetDestroy(&d));
  PetscCall(PetscOptionsDestroy(&da));
  PetscCall(PetscOptionsDestroy(&db));
  PetscCall(PetscOptionsDestroy(&dc));
  PetscCall(PetscOptionsDestroy(&dd));
  PetscCall(PetscOptionsDestroy(&df));
  PetscCall(PetscOptionsClear(NULL)); /* the decoys, before PetscFinalize reports them unused */
  PetscCall(PetscFinalize());
  return nfail ? 1 : 0;
}
