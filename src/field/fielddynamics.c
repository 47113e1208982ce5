/* The dynamics of the field solver as a strategy the types share (docs/developing-field.md):
   gradient flow (the state z, a_0..a_P per point) and damped dynamics (then their velocities
   z_dot, a_0_dot..a_P_dot). The continuum types branch on f->damped inside their sweeps. */
#include "fieldimpl.h"
#include "fieldjac.h"

const BbdFieldDynamics BbdFieldFlow = {"flow", 1, BbdFieldRHSSweep, BbdFieldFlowResidualSetTS, BbdFieldJacFillFlow};
const BbdFieldDynamics BbdFieldDamped = {"damped", 2, BbdFieldRHSSweepDamped, BbdFieldDampedResidualSetTS, BbdFieldJacFillDamped};
