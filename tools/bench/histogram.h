/*  histogram — latency histogram for raftq-bench: log-linear buckets
    (64 per power of two, so any percentile is within about 1.6% of the
    true value) over unsigned integer samples, constant memory, O(1) record.
*/
#ifndef HISTOGRAM_H_INCLUDED
#define HISTOGRAM_H_INCLUDED

#include <stdint.h>

typedef struct _histogram_t histogram_t;

//  An empty histogram, or NULL when out of memory.
histogram_t *histogram_new (void);

void histogram_destroy (histogram_t **self_p);

void histogram_record (histogram_t *self, uint64_t value);

//  Adds every sample of other to self (other unchanged).
void histogram_merge (histogram_t *self, histogram_t *other);

//  Number of samples recorded.
uint64_t histogram_count (histogram_t *self);

//  Largest sample recorded, exactly; 0 when empty.
uint64_t histogram_max (histogram_t *self);

//  Smallest value at or above which lies no more than (100 - percentile)%
//  of the samples, as the upper edge of its bucket (never below the truth,
//  never above the max); 0 when empty. percentile in [0, 100].
uint64_t histogram_percentile (histogram_t *self, double percentile);

#endif
