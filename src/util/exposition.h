/*  exposition — writes the Prometheus text exposition format (version
    0.0.4): a family's # HELP and # TYPE lines, then its samples, each
    `name{label="value",...} number`. Label values and help texts are
    escaped as the format asks (backslash, double quote in labels, line
    feed), so any text may go in; metric and label names are the caller's
    constants and are written as given. A histogram is written whole:
    cumulative _bucket lines ending with le="+Inf", then _sum and _count.
*/
#ifndef EXPOSITION_H_INCLUDED
#define EXPOSITION_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

#include "util/metric_histogram.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    const char *name;  //  label name, a constant
    const char *value; //  its value, any text
} exposition_label_t;

typedef struct _exposition_t exposition_t;

//  An empty text, or NULL when out of memory.
exposition_t *exposition_new (void);

void exposition_destroy (exposition_t **self_p);

//  Starts family name: its # HELP (help escaped) and # TYPE lines; type is
//  "counter", "gauge" or "histogram".
void exposition_family (exposition_t *self, const char *name, const char *type, const char *help);

//  One sample of the family started last: name (the family's, or its
//  _bucket/_sum/_count for a histogram), label_count labels, value.
void exposition_sample (exposition_t *self, const char *name, const exposition_label_t *labels,
                        size_t label_count, double value);

//  The same with an integer value, written exactly.
void exposition_sample_u64 (exposition_t *self, const char *name, const exposition_label_t *labels,
                            size_t label_count, uint64_t value);

//  A family with one unlabelled integer sample.
void exposition_single (exposition_t *self, const char *name, const char *type, const char *help,
                        uint64_t value);

//  A family with one sample per value of one label: label=values[i] has
//  counts[i], for i below count.
void exposition_labelled (exposition_t *self, const char *name, const char *type, const char *help,
                          const char *label, const char *const *values, const uint64_t *counts,
                          size_t count);

//  A histogram family holding histogram alone, unlabelled.
void exposition_single_histogram (exposition_t *self, const char *name, const char *help,
                                  const metric_histogram_t *histogram);

//  The samples of histogram under name (its family started): the buckets
//  with labels and le, then name_sum and name_count with labels.
void exposition_histogram (exposition_t *self, const char *name, const exposition_label_t *labels,
                           size_t label_count, const metric_histogram_t *histogram);

//  The text written so far (NUL-terminated, size bytes without the NUL);
//  the caller frees it and the exposition is empty again. NULL when
//  anything failed to write (out of memory).
char *exposition_take (exposition_t *self, size_t *size);

#ifdef __cplusplus
}
#endif

#endif
