/*  metric_histogram — a Prometheus-style histogram: fixed upper bounds
    chosen at creation (ascending, finite; +Inf is implied), a count per
    bucket, the sum and the count of what was observed. Observing is a
    short search and two additions, cheap enough for a hot path.

    A histogram kept on one thread reaches another as bytes
    (metric_histogram_pack, then metric_histogram_unpack into a histogram
    of the same bounds on the other side): threads share no histogram.
*/
#ifndef METRIC_HISTOGRAM_H_INCLUDED
#define METRIC_HISTOGRAM_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct _metric_histogram_t metric_histogram_t;

//  An empty histogram over bound_count upper bounds (copied; ascending and
//  finite, else NULL), or NULL when out of memory.
metric_histogram_t *metric_histogram_new (const double *bounds, size_t bound_count);

void metric_histogram_destroy (metric_histogram_t **self_p);

//  Counts value in the first bucket whose bound is at or above it (the
//  +Inf bucket past the last bound); a NaN is not counted.
void metric_histogram_observe (metric_histogram_t *self, double value);

//  The upper bounds, without +Inf.
const double *metric_histogram_bounds (const metric_histogram_t *self, size_t *bound_count);

//  The observations at or below bound position (position == bound_count:
//  all of them, the +Inf bucket): cumulative, as the exposition wants.
uint64_t metric_histogram_cumulative (const metric_histogram_t *self, size_t position);

uint64_t metric_histogram_count (const metric_histogram_t *self);
double metric_histogram_sum (const metric_histogram_t *self);

//  Bytes metric_histogram_pack writes.
size_t metric_histogram_packed_size (const metric_histogram_t *self);

//  Writes the counts and the sum (little-endian) into buffer, which holds
//  metric_histogram_packed_size bytes.
void metric_histogram_pack (const metric_histogram_t *self, uint8_t *buffer);

//  Replaces the counts and the sum with what pack wrote on a histogram of
//  the same bounds. Returns 0, or -1 (self unchanged) when size is not
//  that of this histogram's packing.
int metric_histogram_unpack (metric_histogram_t *self, const uint8_t *data, size_t size);

#ifdef __cplusplus
}
#endif

#endif
