/* Counter-based random numbers: the k-th number of a stream is a pure function
   of (seed, stream, k), so every rank computes the same value without state or
   communication, and the data and initial weights do not depend on the number
   of processes or the order in which numbers are drawn.

   Hash: splitmix64's finaliser (Steele, Lea & Flood 2014) applied in a chain to
   seed, stream, k and a tag (uniform vs. the two normal draws), so nearby
   counters and streams give unrelated outputs.
   Uniform: u = (top 53 bits + 1/2) 2^-53, in the open interval (0, 1).
   Normal:  Box-Muller, x = sqrt(-2 log u1) cos(2 pi u2), u1, u2 independent uniforms. */
#include <bbdimpl.h>
#include <stdint.h>

static inline uint64_t SplitMix64(uint64_t x)
{
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

static inline PetscReal HashUniform(unsigned long seed, unsigned long stream, unsigned long k, uint64_t tag)
{
  uint64_t h = SplitMix64((uint64_t)seed);

  h = SplitMix64(h ^ (uint64_t)stream);
  h = SplitMix64(h ^ (uint64_t)k);
  h = SplitMix64(h ^ tag);
  return ((PetscReal)(h >> 11) + 0.5) * 0x1.0p-53;
}

PetscReal BbdRandUniform(unsigned long seed, unsigned long stream, unsigned long k)
{
  return HashUniform(seed, stream, k, 0);
}

PetscReal BbdRandNormal(unsigned long seed, unsigned long stream, unsigned long k)
{
  const PetscReal u1 = HashUniform(seed, stream, k, 1), u2 = HashUniform(seed, stream, k, 2);

  return PetscSqrtReal(-2 * PetscLogReal(u1)) * PetscCosReal(2 * PETSC_PI * u2);
}
