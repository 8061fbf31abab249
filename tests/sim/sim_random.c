/*  sim_random — xoshiro256** seeded by splitmix64; see sim_random.h. */
#include "sim_random.h"

#include <stdlib.h>

struct _sim_random_t {
    uint64_t state[4]; //  xoshiro256** state, never all zero
};

uint64_t
sim_random_mix (uint64_t value)
{
    value += 0x9E3779B97F4A7C15ULL;
    value = (value ^ (value >> 30)) * 0xBF58476D1CE4E5B9ULL;
    value = (value ^ (value >> 27)) * 0x94D049BB133111EBULL;
    return value ^ (value >> 31);
}

sim_random_t *
sim_random_new (uint64_t seed)
{
    sim_random_t *self = (sim_random_t *)calloc (1, sizeof (sim_random_t));
    if (!self)
        return NULL;
    for (int word = 0; word < 4; word++) {
        seed = sim_random_mix (seed);
        self->state[word] = seed;
    }
    if ((self->state[0] | self->state[1] | self->state[2] | self->state[3]) == 0)
        self->state[0] = 1;
    return self;
}

void
sim_random_destroy (sim_random_t **self_p)
{
    if (self_p && *self_p) {
        free (*self_p);
        *self_p = NULL;
    }
}

static uint64_t
s_rotate_left (uint64_t value, int bits)
{
    return (value << bits) | (value >> (64 - bits));
}

uint64_t
sim_random_next (sim_random_t *self)
{
    uint64_t *state = self->state;
    uint64_t result = s_rotate_left (state[1] * 5, 7) * 9;
    uint64_t shifted = state[1] << 17;
    state[2] ^= state[0];
    state[3] ^= state[1];
    state[1] ^= state[2];
    state[0] ^= state[3];
    state[2] ^= shifted;
    state[3] = s_rotate_left (state[3], 45);
    return result;
}

uint64_t
sim_random_range (sim_random_t *self, uint64_t low, uint64_t high)
{
    if (high <= low)
        return low;
    uint64_t span = high - low + 1;
    if (span == 0)
        return sim_random_next (self); //  the full 64-bit range
    return low + sim_random_next (self) % span;
}

bool
sim_random_chance (sim_random_t *self, uint32_t per_mille)
{
    return sim_random_next (self) % 1000 < per_mille;
}
