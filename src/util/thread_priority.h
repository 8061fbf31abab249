/*  thread_priority — how urgently the kernel runs one thread. Raft's thread
    and the I/O thread of its peer links wake for small, urgent work
    (heartbeats, votes and their replies) beside threads doing bulk work
    (fan-out, replies, other processes); late by an election timeout, they
    cost an election.

    A nice value ranks a thread only against the threads of its own
    scheduling group: with autogroup (the default on most distributions)
    every session is a group, and a node started in a session of its own
    (a service, raftq-cluster) gets its group's share of the CPU and no
    more. At 1000 subscribers x 1000 msgs/s on two cores, Raft threads at
    nice -10 waited 100-700 ms runnable while their node's fan-out had used
    its group's share, and 4 of 8 runs held an election; with the same
    threads at the lowest real-time priority, 0 of 5 (README, Performance).

    Real time needs CAP_SYS_NICE or RLIMIT_RTPRIO, a lower nice value
    CAP_SYS_NICE or RLIMIT_NICE; a thread gets the most urgent priority it
    may. Threads and processes it starts begin at the normal priority: the
    log's syncer and a snapshot writer are bulk work.
*/
#ifndef THREAD_PRIORITY_H_INCLUDED
#define THREAD_PRIORITY_H_INCLUDED

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    THREAD_PRIORITY_NORMAL = 0,  //  as the thread was started
    THREAD_PRIORITY_NICE = 1,    //  nice -10: ahead of its own process's normal threads
    THREAD_PRIORITY_REALTIME = 2 //  SCHED_RR at the lowest real-time priority: ahead
                                 //  of every normal thread of any process
} thread_priority_t;

//  The nice value of THREAD_PRIORITY_NICE.
#define THREAD_PRIORITY_URGENT_NICE (-10)

//  The name of a priority, as the config spells it ("normal", "nice",
//  "realtime"); "normal" for anything else (-1 from a raise included).
const char *thread_priority_name (thread_priority_t priority);

//  Gives the calling thread the most urgent priority up to wanted that it
//  is allowed. Returns the priority it has now; below wanted, errno says
//  why.
thread_priority_t thread_priority_raise_self (thread_priority_t wanted);

//  The same for this process's threads named name (as in
//  /proc/self/task/<tid>/comm). Returns the least any of them got, or -1
//  with errno ENOENT when none has that name.
int thread_priority_raise_named (const char *name, thread_priority_t wanted);

//  Sets the calling thread's nice value (a background thread raises it).
//  0, or -1 with errno set.
int thread_priority_nice_self (int nice);

#ifdef __cplusplus
}
#endif

#endif
