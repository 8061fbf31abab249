/*  test_metric_histogram — buckets by upper bound (a value on a bound
    belongs to it), the +Inf bucket, cumulative counts, sum and count, bad
    bounds refused, and a packing that carries the whole histogram to
    another of the same bounds and is refused by one of other bounds.
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>

#include "util/metric_histogram.h"

static const double s_bounds[] = {0.001, 0.01, 0.1, 1};

static void
test_buckets_are_cumulative_up_to_inf (void **state)
{
    (void)state;
    metric_histogram_t *histogram = metric_histogram_new (s_bounds, 4);
    assert_non_null (histogram);
    const double values[] = {0.0005, 0.001, 0.002, 0.05, 0.5, 1, 7, 300};
    for (size_t position = 0; position < 8; position++)
        metric_histogram_observe (histogram, values[position]);
    metric_histogram_observe (histogram, NAN);
    //  <= 0.001: two (the bound itself counts); <= 0.01: +1; <= 0.1: +1;
    //  <= 1: +2 (1 is on the bound); +Inf: all eight
    const uint64_t expected[] = {2, 3, 4, 6, 8};
    for (size_t position = 0; position <= 4; position++)
        assert_int_equal (metric_histogram_cumulative (histogram, position), expected[position]);
    assert_int_equal (metric_histogram_count (histogram), 8);
    assert_true (fabs (metric_histogram_sum (histogram) - 308.5535) < 1e-9);
    size_t count;
    const double *bounds = metric_histogram_bounds (histogram, &count);
    assert_int_equal (count, 4);
    assert_true (bounds[3] == 1);
    metric_histogram_destroy (&histogram);
    assert_null (histogram);
}

static void
test_negative_values_fall_in_the_first_bucket (void **state)
{
    (void)state;
    metric_histogram_t *histogram = metric_histogram_new (s_bounds, 4);
    metric_histogram_observe (histogram, -3);
    assert_int_equal (metric_histogram_cumulative (histogram, 0), 1);
    metric_histogram_destroy (&histogram);
}

static void
test_bounds_must_ascend_and_be_finite (void **state)
{
    (void)state;
    const double descending[] = {1, 0.5};
    const double repeated[] = {1, 1};
    const double infinite[] = {1, INFINITY};
    assert_null (metric_histogram_new (descending, 2));
    assert_null (metric_histogram_new (repeated, 2));
    assert_null (metric_histogram_new (infinite, 2));
    //  No bound at all: everything is in +Inf
    metric_histogram_t *histogram = metric_histogram_new (NULL, 0);
    assert_non_null (histogram);
    metric_histogram_observe (histogram, 5);
    assert_int_equal (metric_histogram_cumulative (histogram, 0), 1);
    metric_histogram_destroy (&histogram);
}

static void
test_packing_carries_everything (void **state)
{
    (void)state;
    metric_histogram_t *source = metric_histogram_new (s_bounds, 4);
    metric_histogram_t *copy = metric_histogram_new (s_bounds, 4);
    metric_histogram_t *other = metric_histogram_new (s_bounds, 3);
    metric_histogram_observe (source, 0.003);
    metric_histogram_observe (source, 0.25);
    metric_histogram_observe (source, 42);
    size_t size = metric_histogram_packed_size (source);
    uint8_t *packed = malloc (size);
    metric_histogram_pack (source, packed);
    assert_int_equal (metric_histogram_unpack (copy, packed, size), 0);
    for (size_t position = 0; position <= 4; position++)
        assert_int_equal (metric_histogram_cumulative (copy, position),
                          metric_histogram_cumulative (source, position));
    assert_true (metric_histogram_sum (copy) == metric_histogram_sum (source));
    //  Other bounds, or a cut packing: refused, nothing changed
    metric_histogram_observe (other, 0.5);
    assert_int_equal (metric_histogram_unpack (other, packed, size), -1);
    assert_int_equal (metric_histogram_unpack (copy, packed, size - 1), -1);
    assert_int_equal (metric_histogram_count (other), 1);
    assert_int_equal (metric_histogram_count (copy), 3);
    free (packed);
    metric_histogram_destroy (&source);
    metric_histogram_destroy (&copy);
    metric_histogram_destroy (&other);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_buckets_are_cumulative_up_to_inf),
        cmocka_unit_test (test_negative_values_fall_in_the_first_bucket),
        cmocka_unit_test (test_bounds_must_ascend_and_be_finite),
        cmocka_unit_test (test_packing_carries_everything),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
