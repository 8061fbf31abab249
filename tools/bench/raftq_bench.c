/*  raftq-bench — throughput and latency of committed operations. Finds the
    leader, creates the topic, then runs N client connections (each its own
    libraftq client: own DEALER, client id and seq) from one thread, each
    keeping M publishes (or pops with --pop) in flight for the duration.
    Latency is send to reply, per operation, counted once by its seq.
    Prints a table, with the machine's load average; no pass/fail.
    --mode read sends ListTopics instead, pipelined alike: reads the leader
    confirms by ReadIndex (a heartbeat round for a batch) and answers from
    its applied state, without a log entry or an fsync.
    Every mode but restart also prints the brokers' CPU per operation (per
    delivery for fanout): the user + system time of the cluster's raftqd
    processes over the measured phase, divided by the operations committed
    in it. The processes are those whose command line names the config
    given with -c (bench_cpu.h); with -e endpoints the brokers are unknown.
    --mode chat sends chat messages between two accounts instead, one
    SendMessage at a time (the client has no pipelined chat call);
    --mode fanout measures delivery from one sender to S subscribers on the
    pub ports (see fanout.h).
    --mode stall publishes like the default mode and also counts the
    committed replies per --window (100 ms) and the longest time without
    any: run it against a cluster with a small snapshot_log_bytes and a
    snapshot that stalls a node's loop shows up as a gap.
    --mode consume compares the two ways of consuming on one cluster in one
    run: it publishes 2 x --count messages (default 20,000 each way), pops
    --count of them, then reserves and acks the rest (one slot holds the
    reserve, then its ack), each with N x M in flight, and prints both
    rates and their ratio (issue 14 aims at reserve+ack >= 0.45 x pop).
    --mode restart measures restart-to-ready: it publishes --count messages,
    waits until node --node has applied all of them, then, --runs times
    (each after --snapshot-first's TakeSnapshot, if given), kills that node (SIGKILL, pid from <node
   dir>/raftqd.pid as tools/raftq-cluster writes it), spawns raftqd (--raftqd, default the one next
   to raftq-bench) with the node's log appended to <node dir>/raftqd.log, and times spawn -> first
   status answer -> applied index back at what it was before the kill (polled every 10 ms), with the
   CPU time the node used until then (on a shared machine the steadier figure). The last node
   spawned is left running, its pid in the pid file, for raftq-cluster to stop.

    Running it
        tools/raftq-cluster --config C wipe && tools/raftq-cluster --config C start
        build/raftq-bench -c C -n 1 -m 1               one client, one publish at a time
        build/raftq-bench -c C -n 1 -m 64              throughput: 64 in flight on one connection
        build/raftq-bench -c C -n 4 -m 16              the same 64 over four connections
        build/raftq-bench -c C --mode read -n 1 -m 64  reads/s at 64 in flight
        build/raftq-bench -c C --mode chat             SendMessage, one at a time
        build/raftq-bench -c C --mode fanout -S 1000 -r 1000 -d 10
        build/raftq-bench -c C --mode consume -n 4 -m 16      64 in flight each way
        build/raftq-bench -c C --mode stall -n 4 -m 64 -d 20      with a small
                                                snapshot_log_bytes in C (e.g. 16 MiB)
        build/raftq-bench -c C --mode restart --count 1000000 -n 4 -m 64 \
                          --node 2 --runs 3     node 2 a follower; 1,000,000 messages
    Start each trial from a wiped cluster so runs compare, repeat it (three
    runs at least) and keep the median: on a shared machine one run says
    little. The client runs on the same CPUs as the brokers and is counted in
    what they get.

    What a publish costs (3 nodes, one client, one in flight; traced
    medians in microseconds, 2-core VM, load about 3):
        client -> leader broker       70    ZeroMQ over TCP: both I/O threads and the broker wake
        decode, propose, pipe         20    broker thread, then the Raft actor wakes
        AppendEntries out             15    sent before the leader's own write
        -> follower, write, fsync    250    60 in transit, 180 fdatasync (the leader's, 240,
                                            runs meanwhile and is not on the path)
        ack -> leader, commit         80    ack out at once after the sync; COMMITTED goes to
                                            the broker before the commit notices to followers
        pipe, apply, reply            30
        reply -> client               75
    About ten thread wakeups lie on the path; on a 2-core machine shared with
    other work each may wait for a CPU, which is most of the spread between
    runs and the whole of the tail (p99 of several ms at a load of 5).

    Measured for issue 2: 2-core VM shared with other work (load average
    about 6 throughout), ext4 without journal on a virtio disk (fdatasync
    0.15-0.25 ms) holding the data; 256-byte publishes, config.json timings;
    a fresh cluster per trial, 5 s measured after 1 s warm-up, median of 5
    trials; "before" is the broker and Raft actor of commit ebdcede.
                            3 nodes               5 nodes
                            before    after       before    after
        1 x 64    ops/s     13,200    21,200      10,400    18,100
        4 x 16    ops/s     11,200    17,700       9,600    14,800
        4 x 64    ops/s     15,000    31,000      12,000    22,300
        1 x 1     p50 ms      0.73      0.68        0.98      0.93
    Most of the gain is fan-out: events were built (JSON included) on every
    node for every publish even with nobody subscribed.

    Measured for issue 4: the same VM with a load average of 9-11 from other
    work throughout, so wall times spread widely; 3 nodes, 256-byte
    publishes, 4 x 64; "before" packs snapshots on the broker thread,
    "after" forks a snapshot job and maps the file to load it.
      --mode stall -d 20, snapshot_log_bytes 16 MiB, 500,000 messages
      queued first (each snapshot packs all of them); median of 3:
                            before      after
        longest gap         751 ms      77 ms     (runs: 1556/703/751, 158/75/77)
        latency p99.9       721 ms      92 ms
        ops/s               12,600      17,800
      --mode restart of a follower after 1,000,000 publishes (default
      snapshot_log_bytes: newest snapshot at 820,305, 179,700 entries after
      it), median of 5: CPU to ready 1,180 ms before, 990 ms after (wall
      1.1-5 s either way at that load). With --snapshot-first (a snapshot
      of all 1,000,005 entries): CPU 470 ms, wall 1.1-2.5 s.

    Measured for issue 14 (--mode consume, 3 nodes, 256-byte messages,
    20,000 each way, a fresh cluster per run): the same VM with a load
    average of 11-16 from other work, so only indicative; reserve+ack /
    pop was 0.26 (1,440 / 5,530 msg/s) and 0.41 (2,390 / 5,780) at 4 x 16,
    0.37 (2,440 / 6,540) at 1 x 64. Two log entries per message instead
    of one bound it at about 0.5.
*/
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>

#include <czmq.h>
#include <sodium.h>

#include "bench_chat.h"
#include "bench_options.h"
#include "bench_queue.h"
#include "bench_restart.h"
#include "raftq.h"

static void
s_raise_limits (const bench_options_t *options)
{
    struct rlimit limit;
    if (getrlimit (RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
        limit.rlim_cur = limit.rlim_max;
        if (setrlimit (RLIMIT_NOFILE, &limit) == -1)
            fprintf (stderr, "raftq-bench: cannot raise the file limit\n");
    }
    zsys_set_max_sockets (options->fanout.subscribers + 64);
}

int
main (int argc, char **argv)
{
    bench_options_t options;
    int status = bench_options_parse (argc, argv, &options);
    if (status >= 0)
        return status;
    if (sodium_init () == -1)
        return 1;
    if (options.mode == BENCH_MODE_FANOUT)
        s_raise_limits (&options);
    char **endpoints = bench_options_endpoints (&options);
    if (!endpoints)
        return BENCH_EXIT_USAGE;
    if (options.mode == BENCH_MODE_RESTART)
        status = bench_restart_main (endpoints, &options);
    else if (options.mode == BENCH_MODE_CHAT || options.mode == BENCH_MODE_FANOUT)
        status = bench_chat_main (endpoints, &options);
    else
        status = bench_queue_main (endpoints, &options);
    raftq_strings_free (&endpoints);
    return status;
}
