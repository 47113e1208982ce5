/* The private headers of the library, one per layer (docs/developing.md): src/core/coreimpl.h,
   src/net/netimpl.h, src/io/io.h. The field solver's is src/field/fieldimpl.h. */
#ifndef BBDIMPL_H
#define BBDIMPL_H
#include "core/coreimpl.h"
#include "net/netimpl.h"
#include "io/io.h"
#endif
