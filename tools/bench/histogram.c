/*  histogram — log-linear latency buckets: values below 128 have a bucket
    each; above, every power of two is cut into 64 equal buckets.
*/
#include <stdlib.h>

#include "histogram.h"

#define S_SUB_BITS  6 //  64 buckets per power of two
#define S_SUB_COUNT (1u << S_SUB_BITS)
#define S_BUCKETS   (S_SUB_COUNT * (64 - S_SUB_BITS + 1))

struct _histogram_t {
    uint64_t buckets[S_BUCKETS]; //  samples per bucket
    uint64_t count;              //  samples in all
    uint64_t max;                //  largest sample
};

//  Bucket of value: values below 2 * S_SUB_COUNT map to themselves; above,
//  the bucket is the value's top S_SUB_BITS + 1 bits plus a step per power.
static size_t
s_bucket (uint64_t value)
{
    if (value < 2 * S_SUB_COUNT)
        return (size_t)value;
    int shift = 63 - __builtin_clzll (value) - S_SUB_BITS;
    return (size_t)shift * S_SUB_COUNT + (size_t)(value >> shift);
}

//  Largest value that falls into bucket.
static uint64_t
s_bucket_top (size_t bucket)
{
    if (bucket < 2 * S_SUB_COUNT)
        return bucket;
    size_t shift = bucket / S_SUB_COUNT - 1;
    uint64_t mantissa = bucket - shift * S_SUB_COUNT;
    return ((mantissa + 1) << shift) - 1;
}

histogram_t *
histogram_new (void)
{
    return (histogram_t *)calloc (1, sizeof (histogram_t));
}

void
histogram_destroy (histogram_t **self_p)
{
    if (self_p && *self_p) {
        free (*self_p);
        *self_p = NULL;
    }
}

void
histogram_record (histogram_t *self, uint64_t value)
{
    self->buckets[s_bucket (value)]++;
    self->count++;
    if (value > self->max)
        self->max = value;
}

void
histogram_merge (histogram_t *self, histogram_t *other)
{
    for (size_t bucket = 0; bucket < S_BUCKETS; bucket++)
        self->buckets[bucket] += other->buckets[bucket];
    self->count += other->count;
    if (other->max > self->max)
        self->max = other->max;
}

uint64_t
histogram_count (histogram_t *self)
{
    return self->count;
}

uint64_t
histogram_max (histogram_t *self)
{
    return self->max;
}

uint64_t
histogram_percentile (histogram_t *self, double percentile)
{
    if (self->count == 0)
        return 0;
    //  The sample of this rank (1-based) is the one sought.
    uint64_t rank = (uint64_t)((percentile / 100.0) * (double)self->count + 0.999999);
    if (rank < 1)
        rank = 1;
    if (rank > self->count)
        rank = self->count;
    uint64_t seen = 0;
    for (size_t bucket = 0; bucket < S_BUCKETS; bucket++) {
        seen += self->buckets[bucket];
        if (seen >= rank) {
            uint64_t top = s_bucket_top (bucket);
            return top < self->max ? top : self->max;
        }
    }
    return self->max;
}
