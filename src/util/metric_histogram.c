/*  metric_histogram — fixed-bound histograms; see metric_histogram.h.  */
#include "util/metric_histogram.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "util/little_endian.h"

struct _metric_histogram_t {
    double *bounds;     //  upper bounds, ascending
    size_t bound_count; //  how many (the +Inf bucket is one more)
    uint64_t *buckets;  //  observations per bucket, not cumulative; bound_count + 1
    double sum;         //  of every observation
};

metric_histogram_t *
metric_histogram_new (const double *bounds, size_t bound_count)
{
    for (size_t position = 0; position < bound_count; position++)
        if (!isfinite (bounds[position]) || (position && bounds[position] <= bounds[position - 1]))
            return NULL;
    metric_histogram_t *self = calloc (1, sizeof (metric_histogram_t));
    if (!self)
        return NULL;
    self->bound_count = bound_count;
    self->bounds = malloc ((bound_count ? bound_count : 1) * sizeof (double));
    self->buckets = calloc (bound_count + 1, sizeof (uint64_t));
    if (!self->bounds || !self->buckets) {
        metric_histogram_destroy (&self);
        return NULL;
    }
    if (bound_count)
        memcpy (self->bounds, bounds, bound_count * sizeof (double));
    return self;
}

void
metric_histogram_destroy (metric_histogram_t **self_p)
{
    if (*self_p) {
        metric_histogram_t *self = *self_p;
        free (self->bounds);
        free (self->buckets);
        free (self);
        *self_p = NULL;
    }
}

void
metric_histogram_observe (metric_histogram_t *self, double value)
{
    if (isnan (value))
        return;
    //  The first bound at or above value: a binary search
    size_t low = 0, high = self->bound_count;
    while (low < high) {
        size_t middle = low + (high - low) / 2;
        if (self->bounds[middle] >= value)
            high = middle;
        else
            low = middle + 1;
    }
    self->buckets[low]++;
    self->sum += value;
}

const double *
metric_histogram_bounds (const metric_histogram_t *self, size_t *bound_count)
{
    *bound_count = self->bound_count;
    return self->bounds;
}

uint64_t
metric_histogram_cumulative (const metric_histogram_t *self, size_t position)
{
    uint64_t total = 0;
    for (size_t bucket = 0; bucket <= position && bucket <= self->bound_count; bucket++)
        total += self->buckets[bucket];
    return total;
}

uint64_t
metric_histogram_count (const metric_histogram_t *self)
{
    return metric_histogram_cumulative (self, self->bound_count);
}

double
metric_histogram_sum (const metric_histogram_t *self)
{
    return self->sum;
}

//  The packing: the sum's IEEE bits, then each bucket's count, 8 bytes each.
size_t
metric_histogram_packed_size (const metric_histogram_t *self)
{
    return 8 * (self->bound_count + 2);
}

void
metric_histogram_pack (const metric_histogram_t *self, uint8_t *buffer)
{
    uint64_t bits;
    memcpy (&bits, &self->sum, sizeof bits);
    little_endian_put_u64 (buffer, bits);
    for (size_t bucket = 0; bucket <= self->bound_count; bucket++)
        little_endian_put_u64 (buffer + 8 * (bucket + 1), self->buckets[bucket]);
}

int
metric_histogram_unpack (metric_histogram_t *self, const uint8_t *data, size_t size)
{
    if (size != metric_histogram_packed_size (self))
        return -1;
    uint64_t bits = little_endian_get_u64 (data);
    memcpy (&self->sum, &bits, sizeof bits);
    for (size_t bucket = 0; bucket <= self->bound_count; bucket++)
        self->buckets[bucket] = little_endian_get_u64 (data + 8 * (bucket + 1));
    return 0;
}
