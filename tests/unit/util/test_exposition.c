/*  test_exposition — the text Prometheus reads: HELP and TYPE before the
    samples, label values escaped (backslash, double quote, line feed),
    help escaped without touching quotes, integers exact, special floats,
    histograms as cumulative buckets ending in +Inf with _sum and _count,
    and a take that leaves the writer empty for the next text.
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "util/exposition.h"

//  The text written so far, checked against expected, and freed.
static void
s_expect_text (exposition_t *exposition, const char *expected)
{
    size_t size;
    char *text = exposition_take (exposition, &size);
    assert_non_null (text);
    assert_string_equal (text, expected);
    assert_int_equal (size, strlen (expected));
    free (text);
}

static void
test_family_lines_and_escaped_help (void **state)
{
    (void)state;
    exposition_t *exposition = exposition_new ();
    exposition_single (exposition, "raftq_term", "gauge", "Current \"term\"\nback\\slash", 7);
    s_expect_text (exposition, "# HELP raftq_term Current \"term\"\\nback\\\\slash\n"
                               "# TYPE raftq_term gauge\n"
                               "raftq_term 7\n");
    exposition_destroy (&exposition);
    assert_null (exposition);
}

static void
test_label_values_are_escaped (void **state)
{
    (void)state;
    exposition_t *exposition = exposition_new ();
    exposition_family (exposition, "x_total", "counter", "x");
    exposition_label_t labels[] = {{"op", "a\"b"}, {"code", "c\\d\ne"}};
    exposition_sample_u64 (exposition, "x_total", labels, 2, UINT64_MAX);
    exposition_label_t plain[] = {{"role", "leader"}};
    exposition_sample (exposition, "x_total", plain, 1, 0.25);
    s_expect_text (exposition, "# HELP x_total x\n# TYPE x_total counter\n"
                               "x_total{op=\"a\\\"b\",code=\"c\\\\d\\ne\"} 18446744073709551615\n"
                               "x_total{role=\"leader\"} 0.25\n");
    exposition_destroy (&exposition);
}

static void
test_floats_round_trip_and_specials (void **state)
{
    (void)state;
    exposition_t *exposition = exposition_new ();
    exposition_sample (exposition, "f", NULL, 0, 0.1);
    exposition_sample (exposition, "f", NULL, 0, 1.0 / 3);
    exposition_sample (exposition, "f", NULL, 0, NAN);
    exposition_sample (exposition, "f", NULL, 0, INFINITY);
    exposition_sample (exposition, "f", NULL, 0, -INFINITY);
    exposition_sample (exposition, "f", NULL, 0, 1e21);
    s_expect_text (exposition, "f 0.1\nf 0.33333333333333331\nf NaN\nf +Inf\nf -Inf\nf 1e+21\n");
    exposition_destroy (&exposition);
}

static void
test_histogram_buckets_sum_count (void **state)
{
    (void)state;
    const double bounds[] = {0.005, 0.5};
    metric_histogram_t *histogram = metric_histogram_new (bounds, 2);
    metric_histogram_observe (histogram, 0.001);
    metric_histogram_observe (histogram, 0.25);
    metric_histogram_observe (histogram, 0.25);
    metric_histogram_observe (histogram, 2);
    exposition_t *exposition = exposition_new ();
    exposition_family (exposition, "lat_seconds", "histogram", "latency");
    exposition_label_t labels[] = {{"op", "publish"}};
    exposition_histogram (exposition, "lat_seconds", labels, 1, histogram);
    exposition_histogram (exposition, "lat_seconds", NULL, 0, histogram);
    s_expect_text (exposition, "# HELP lat_seconds latency\n# TYPE lat_seconds histogram\n"
                               "lat_seconds_bucket{op=\"publish\",le=\"0.005\"} 1\n"
                               "lat_seconds_bucket{op=\"publish\",le=\"0.5\"} 3\n"
                               "lat_seconds_bucket{op=\"publish\",le=\"+Inf\"} 4\n"
                               "lat_seconds_sum{op=\"publish\"} 2.501\n"
                               "lat_seconds_count{op=\"publish\"} 4\n"
                               "lat_seconds_bucket{le=\"0.005\"} 1\n"
                               "lat_seconds_bucket{le=\"0.5\"} 3\n"
                               "lat_seconds_bucket{le=\"+Inf\"} 4\n"
                               "lat_seconds_sum 2.501\n"
                               "lat_seconds_count 4\n");
    //  The writer starts over after a take
    exposition_single (exposition, "n", "gauge", "n", 1);
    s_expect_text (exposition, "# HELP n n\n# TYPE n gauge\nn 1\n");
    exposition_destroy (&exposition);
    metric_histogram_destroy (&histogram);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_family_lines_and_escaped_help),
        cmocka_unit_test (test_label_values_are_escaped),
        cmocka_unit_test (test_floats_round_trip_and_specials),
        cmocka_unit_test (test_histogram_buckets_sum_count),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
