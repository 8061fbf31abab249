/*  exposition — the Prometheus text format writer; see exposition.h.  */
#include "util/exposition.h"

#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdio_ext.h>
#include <stdlib.h>
#include <string.h>

struct _exposition_t {
    FILE *stream; //  an open_memstream over text
    char *text;   //  what was written, owned by the stream until closed
    size_t size;  //  its size, as the stream reports it
};

//  (Re)opens the stream over a fresh text. Returns 0 or -1.
static int
s_open (exposition_t *self)
{
    self->text = NULL;
    self->size = 0;
    self->stream = open_memstream (&self->text, &self->size);
    if (!self->stream)
        return -1;
    //  One thread writes it: no lock per character
    __fsetlocking (self->stream, FSETLOCKING_BYCALLER);
    return 0;
}

exposition_t *
exposition_new (void)
{
    exposition_t *self = calloc (1, sizeof (exposition_t));
    if (self && s_open (self))
        free (self), self = NULL;
    return self;
}

void
exposition_destroy (exposition_t **self_p)
{
    if (*self_p) {
        exposition_t *self = *self_p;
        if (self->stream)
            fclose (self->stream);
        free (self->text);
        free (self);
        *self_p = NULL;
    }
}

//  text with backslash and line feed escaped, and the double quote too in
//  a label value (HELP leaves it as it is).
static void
s_escaped (exposition_t *self, const char *text, bool label_value)
{
    if (!strpbrk (text, label_value ? "\\\n\"" : "\\\n")) {
        fputs (text, self->stream);
        return;
    }
    for (const char *next = text; *next; next++) {
        if (*next == '\\')
            fputs ("\\\\", self->stream);
        else if (*next == '\n')
            fputs ("\\n", self->stream);
        else if (*next == '"' && label_value)
            fputs ("\\\"", self->stream);
        else
            fputc (*next, self->stream);
    }
}

void
exposition_family (exposition_t *self, const char *name, const char *type, const char *help)
{
    if (!self->stream)
        return;
    fprintf (self->stream, "# HELP %s ", name);
    s_escaped (self, help, false);
    fprintf (self->stream, "\n# TYPE %s %s\n", name, type);
}

//  " value\n", the digits made here: printf would be most of a render.
static void
s_end_u64 (exposition_t *self, uint64_t value)
{
    char digits[24];
    char *next = digits + sizeof digits;
    *--next = 0;
    *--next = '\n';
    do
        *--next = (char)('0' + value % 10);
    while (value /= 10);
    *--next = ' ';
    fputs (next, self->stream);
}

//  A float as the format spells it: an integer as such, else the shortest
//  of %.15g and %.17g that reads back to the same value; NaN, +Inf, -Inf.
static void
s_format_double (double value, char *text, size_t size)
{
    if (value >= 0 && value < 1e15 && value == (double)(uint64_t)value)
        snprintf (text, size, "%" PRIu64, (uint64_t)value);
    else if (isnan (value))
        snprintf (text, size, "NaN");
    else if (isinf (value))
        snprintf (text, size, value > 0 ? "+Inf" : "-Inf");
    else {
        snprintf (text, size, "%.15g", value);
        if (strtod (text, NULL) != value)
            snprintf (text, size, "%.17g", value);
    }
}

//  name{labels[,extra]} — extra (a name and a value) may be NULL.
static void
s_series (exposition_t *self, const char *name, const exposition_label_t *labels,
          size_t label_count, const exposition_label_t *extra)
{
    fputs (name, self->stream);
    if (label_count == 0 && !extra)
        return;
    fputc ('{', self->stream);
    for (size_t position = 0; position <= label_count; position++) {
        const exposition_label_t *label = position < label_count ? &labels[position] : extra;
        if (!label)
            break;
        if (position)
            fputc (',', self->stream);
        fputs (label->name, self->stream);
        fputs ("=\"", self->stream);
        s_escaped (self, label->value, true);
        fputc ('"', self->stream);
    }
    fputc ('}', self->stream);
}

void
exposition_sample (exposition_t *self, const char *name, const exposition_label_t *labels,
                   size_t label_count, double value)
{
    if (!self->stream)
        return;
    char number[32];
    s_format_double (value, number, sizeof number);
    s_series (self, name, labels, label_count, NULL);
    fprintf (self->stream, " %s\n", number);
}

void
exposition_sample_u64 (exposition_t *self, const char *name, const exposition_label_t *labels,
                       size_t label_count, uint64_t value)
{
    if (!self->stream)
        return;
    s_series (self, name, labels, label_count, NULL);
    s_end_u64 (self, value);
}

void
exposition_single (exposition_t *self, const char *name, const char *type, const char *help,
                   uint64_t value)
{
    exposition_family (self, name, type, help);
    exposition_sample_u64 (self, name, NULL, 0, value);
}

void
exposition_labelled (exposition_t *self, const char *name, const char *type, const char *help,
                     const char *label, const char *const *values, const uint64_t *counts,
                     size_t count)
{
    exposition_family (self, name, type, help);
    for (size_t position = 0; position < count; position++) {
        exposition_label_t pair = {label, values[position]};
        exposition_sample_u64 (self, name, &pair, 1, counts[position]);
    }
}

void
exposition_single_histogram (exposition_t *self, const char *name, const char *help,
                             const metric_histogram_t *histogram)
{
    exposition_family (self, name, "histogram", help);
    exposition_histogram (self, name, NULL, 0, histogram);
}

void
exposition_histogram (exposition_t *self, const char *name, const exposition_label_t *labels,
                      size_t label_count, const metric_histogram_t *histogram)
{
    if (!self->stream)
        return;
    size_t length = strlen (name);
    char series[length + sizeof "_bucket"];
    size_t bound_count;
    const double *bounds = metric_histogram_bounds (histogram, &bound_count);
    snprintf (series, sizeof series, "%s_bucket", name);
    for (size_t position = 0; position <= bound_count; position++) {
        char bound[32];
        s_format_double (position < bound_count ? bounds[position] : INFINITY, bound, sizeof bound);
        exposition_label_t le = {"le", bound};
        s_series (self, series, labels, label_count, &le);
        s_end_u64 (self, metric_histogram_cumulative (histogram, position));
    }
    snprintf (series, sizeof series, "%s_sum", name);
    exposition_sample (self, series, labels, label_count, metric_histogram_sum (histogram));
    snprintf (series, sizeof series, "%s_count", name);
    exposition_sample_u64 (self, series, labels, label_count, metric_histogram_count (histogram));
}

char *
exposition_take (exposition_t *self, size_t *size)
{
    bool failed = !self->stream || ferror (self->stream);
    if (self->stream && fclose (self->stream))
        failed = true;
    char *text = self->text;
    *size = self->size;
    if (failed) {
        free (text);
        text = NULL;
        *size = 0;
    }
    //  Without a stream every write is skipped and the next take fails
    if (s_open (self))
        self->stream = NULL;
    return text;
}
