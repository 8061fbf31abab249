/*  bench_results — what a queue or chat run of raftq-bench measured, and
    its report: throughput, latency percentiles, errors by code, the load
    of the machine; for --mode stall the windows and the longest gap.
*/
#ifndef BENCH_RESULTS_H_INCLUDED
#define BENCH_RESULTS_H_INCLUDED

#include "bench_options.h"
#include "histogram.h"
#include "raftq.h"

#define BENCH_CODES (RAFTQ_INTERNAL + 1)
//  stall: gaps of at least half a window kept for the report, the first ones
#define BENCH_GAPS_KEPT 32

//  What the run measured.
typedef struct {
    histogram_t *latency_us;              //  committed operations in the measured phase
    uint64_t committed;                   //  OK replies in the measured phase
    uint64_t errors[BENCH_CODES];         //  other replies in the measured phase, by code
    uint64_t empty;                       //  --pop: EMPTY replies, any phase
    uint64_t lost;                        //  no reply within the operation timeout
    uint64_t late;                        //  replies after their operation was counted lost
    uint64_t send_failures;               //  sends the client could not queue
    uint64_t resent;                      //  stall: refusals before proposing, sent again
    int64_t measure_start_us;             //  measured phase, start
    int64_t measure_start_wall_ms;        //  the same instant on the wall clock (for logs)
    int64_t measure_end_us;               //  and end (earlier when --pop drained)
    double load_start;                    //  1-minute load average when the run began
    double load_end;                      //  and when it ended: a busy machine skews it all
    uint64_t sent;                        //  operations sent, any phase (for --count)
    uint32_t *windows;                    //  stall: OK replies per window of the measured phase
    size_t window_count;                  //  stall: how many windows
    int64_t window_us;                    //  stall: width of one
    int64_t last_ok_us;                   //  stall: the last OK reply (or the measured start)
    int64_t longest_gap_us;               //  stall: longest time without an OK reply
    int64_t longest_gap_end_us;           //  stall: when that gap ended
    int64_t gaps_us[BENCH_GAPS_KEPT];     //  stall: gaps of at least half a window
    int64_t gap_ends_us[BENCH_GAPS_KEPT]; //  stall: when each ended
    size_t gap_count;                     //  stall: how many such gaps (some not kept)
} bench_results_t;

//  Zeroes results and gives it its latency histogram. Returns 0, or -1
//  when out of memory.
int bench_results_init (bench_results_t *results);

//  Frees what results holds.
void bench_results_free (bench_results_t *results);

//  The 1-minute load average into *load, or -1 where the system has none.
void bench_load_average (double *load);

//  Prints the results of a run against leader (NULL: unknown).
void bench_report (const bench_options_t *options, const char *leader, bench_results_t *results);

//  --mode stall: the windows' spread, the slow windows and the longest gap.
void bench_report_stall (const bench_options_t *options, bench_results_t *results);

#endif
