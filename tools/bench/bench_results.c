/*  bench_results — raftq-bench's measurements and their report.  */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench_results.h"

//  --mode stall: windows listed by name when they fall this far below the median
#define S_SLOW_WINDOW_SHARE   0.5
#define S_SLOW_WINDOWS_LISTED 20

int
bench_results_init (bench_results_t *results)
{
    memset (results, 0, sizeof (*results));
    results->latency_us = histogram_new ();
    return results->latency_us ? 0 : -1;
}

void
bench_results_free (bench_results_t *results)
{
    histogram_destroy (&results->latency_us);
    free (results->windows);
    results->windows = NULL;
}

void
bench_load_average (double *load)
{
    if (getloadavg (load, 1) != 1)
        *load = -1;
}

void
bench_report (const bench_options_t *options, const char *leader, bench_results_t *results)
{
    double seconds = (double)(results->measure_end_us - results->measure_start_us) / 1e6;
    bool chat = options->mode == BENCH_MODE_CHAT;
    printf ("raftq-bench: %s %s to %s, leader %s\n",
            chat                               ? "SendMessage from"
            : options->mode == BENCH_MODE_READ ? "ListTopics (ReadIndex)"
            : options->reserve                 ? "reserve+ack"
            : options->pop                     ? "pop"
                                               : "publish",
            chat ? options->sender : "", chat ? options->receiver : options->topic,
            leader ? leader : "unknown");
    printf ("  %d connections x %d in flight, %zu B payload, %.1f s measured after %.1f s warmup\n",
            chat ? 1 : options->connections, chat ? 1 : options->in_flight, options->size, seconds,
            options->warmup_s);
    printf ("  %-16s %12" PRIu64 "\n", "ops committed", results->committed);
    printf ("  %-16s %12.1f\n", "ops/s", seconds > 0 ? (double)results->committed / seconds : 0.0);
    static const struct {
        const char *name;
        double percentile;
    } rows[] = {{"latency p50", 50}, {"latency p99", 99}, {"latency p99.9", 99.9}};
    for (size_t row = 0; row < sizeof (rows) / sizeof (rows[0]); row++)
        printf ("  %-16s %12.3f ms\n", rows[row].name,
                (double)histogram_percentile (results->latency_us, rows[row].percentile) / 1000.0);
    printf ("  %-16s %12.3f ms\n", "latency max",
            (double)histogram_max (results->latency_us) / 1000.0);
    printf ("  %-16s", "errors");
    bool any = false;
    for (int code = 0; code < BENCH_CODES; code++)
        if (results->errors[code]) {
            printf (" %s=%" PRIu64, raftq_code_name ((raftq_code_t)code), results->errors[code]);
            any = true;
        }
    if (results->lost) {
        printf (" unanswered=%" PRIu64, results->lost);
        any = true;
    }
    if (results->send_failures) {
        printf (" send-failures=%" PRIu64, results->send_failures);
        any = true;
    }
    printf ("%s\n", any ? "" : " none");
    printf ("  %-16s %12.2f -> %.2f (%ld CPUs)\n", "load average", results->load_start,
            results->load_end, sysconf (_SC_NPROCESSORS_ONLN));
    if (options->pop || options->reserve)
        printf ("  %-16s %12" PRIu64 "\n", "empty replies", results->empty);
    if (results->late)
        printf ("  %-16s %12" PRIu64 "\n", "late replies", results->late);
    if (results->resent)
        printf ("  %-16s %12" PRIu64 " (refused before proposing: sent again)\n", "resent",
                results->resent);
}

static int
s_compare_u32 (const void *first, const void *second)
{
    uint32_t a = *(const uint32_t *)first, b = *(const uint32_t *)second;
    return a < b ? -1 : a > b;
}

void
bench_report_stall (const bench_options_t *options, bench_results_t *results)
{
    //  Only whole windows inside the measured phase count
    size_t count =
        (size_t)((results->measure_end_us - results->measure_start_us) / results->window_us);
    if (count > results->window_count)
        count = results->window_count;
    if (results->measure_end_us - results->last_ok_us > results->longest_gap_us) {
        results->longest_gap_us = results->measure_end_us - results->last_ok_us;
        results->longest_gap_end_us = results->measure_end_us;
    }
    double per_second = 1000.0 / options->window_ms;
    time_t began = (time_t)(results->measure_start_wall_ms / 1000);
    struct tm utc;
    char stamp[32] = "?";
    if (gmtime_r (&began, &utc))
        strftime (stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &utc);
    //  Node logs stamp their lines in UTC to the ms, as here.
    printf ("  %-16s %s.%03d UTC\n", "measured from", stamp,
            (int)(results->measure_start_wall_ms % 1000));
    printf ("  %-16s %12.3f ms, ended %.2f s into the measured phase\n", "longest gap",
            (double)results->longest_gap_us / 1000.0,
            (double)(results->longest_gap_end_us - results->measure_start_us) / 1e6);
    //  When each long gap ended, to line up with what the cluster went through
    printf ("  %-16s %zu of %d ms or more", "long gaps", results->gap_count,
            options->window_ms / 2);
    for (size_t gap = 0; gap < results->gap_count && gap < BENCH_GAPS_KEPT; gap++)
        printf ("%s %.0f ms at %.2f s", gap ? "," : ":", (double)results->gaps_us[gap] / 1000.0,
                (double)(results->gap_ends_us[gap] - results->measure_start_us) / 1e6);
    printf ("%s\n", results->gap_count > BENCH_GAPS_KEPT ? ", ..." : "");
    if (count == 0)
        return;
    uint32_t *sorted = (uint32_t *)malloc (count * sizeof (uint32_t));
    if (!sorted)
        return;
    memcpy (sorted, results->windows, count * sizeof (uint32_t));
    qsort (sorted, count, sizeof (uint32_t), s_compare_u32);
    uint32_t median = sorted[count / 2];
    printf ("  %-16s %zu x %d ms: min %.0f, p10 %.0f, median %.0f, max %.0f ops/s\n", "windows",
            count, options->window_ms, sorted[0] * per_second, sorted[count / 10] * per_second,
            median * per_second, sorted[count - 1] * per_second);
    free (sorted);
    size_t slow = 0;
    for (size_t window = 0; window < count; window++) {
        bool below = results->windows[window] < median * S_SLOW_WINDOW_SHARE;
        slow += below;
        if (options->timeline || (below && slow <= S_SLOW_WINDOWS_LISTED))
            printf ("    %8.1f s %10.0f ops/s%s\n", (double)window * options->window_ms / 1000.0,
                    results->windows[window] * per_second, below ? "  slow" : "");
    }
    printf ("  %-16s %zu below %.0f%% of the median\n", "slow windows", slow,
            S_SLOW_WINDOW_SHARE * 100);
}

//  A client logged in as the sender, both accounts created (existing ones
