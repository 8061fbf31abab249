/*  bench_cpu — the CPU time the brokers of the cluster under test use, for
    raftq-bench's "CPU per operation". The raftqd processes are found by
    their command line: comm "raftqd" and an argument that names the same
    file as the bench's config (-c), resolved against the process's own
    working directory (tools/raftq-cluster runs each node as
    `raftqd --config FILE --id N` in the config's directory). Their user +
    system time comes from /proc/PID/stat (all threads). With -e endpoints
    and no config the brokers are unknown and nothing is reported. Linux
    only; a broker that exits mid-run takes its time with it.
*/
#ifndef BENCH_CPU_H_INCLUDED
#define BENCH_CPU_H_INCLUDED

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

//  Brokers followed at most.
#define BENCH_CPU_MAX_BROKERS 64

//  The brokers found, and their CPU time at the start of a measurement.
typedef struct {
    pid_t pids[BENCH_CPU_MAX_BROKERS]; //  raftqd processes of the cluster
    size_t count;                      //  how many
    double start_s;                    //  their user + system seconds at bench_cpu_start
    bool started;                      //  bench_cpu_start was called
} bench_cpu_t;

//  User + system microseconds process pid has used, all threads; 0 if it
//  is gone.
int64_t bench_cpu_process_us (pid_t pid);

//  Finds the brokers run with config_path (none when NULL: the bench was
//  given endpoints, not a config).
void bench_cpu_find (bench_cpu_t *self, const char *config_path);

//  Notes their CPU time now: the measured phase begins.
void bench_cpu_start (bench_cpu_t *self);

//  Prints their CPU time since bench_cpu_start, in total and per unit
//  (operations of the measured phase, named by unit), or why not.
void bench_cpu_report (const bench_cpu_t *self, uint64_t operations, const char *unit);

#endif
