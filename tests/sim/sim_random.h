/*  sim_random — the simulation's one seeded random generator (xoshiro256**,
    seeded through splitmix64). Every random choice of a run comes from it,
    so a seed replays a run exactly; rand () is never used.
*/
#ifndef SIM_RANDOM_H_INCLUDED
#define SIM_RANDOM_H_INCLUDED

#include <stdbool.h>
#include <stdint.h>

typedef struct _sim_random_t sim_random_t;

sim_random_t *sim_random_new (uint64_t seed);

void sim_random_destroy (sim_random_t **self_p);

//  Next 64 random bits.
uint64_t sim_random_next (sim_random_t *self);

//  Uniform in [low, high] (inclusive).
uint64_t sim_random_range (sim_random_t *self, uint64_t low, uint64_t high);

//  True with probability per_mille / 1000.
bool sim_random_chance (sim_random_t *self, uint32_t per_mille);

//  Mixes one value into a well-spread one (splitmix64 finalizer); also used
//  to derive per-run seeds from run numbers.
uint64_t sim_random_mix (uint64_t value);

#endif
