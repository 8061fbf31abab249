/*  thread_nice — the scheduling weight of one thread (Linux keeps a nice
    value per thread). Raft's thread and the I/O thread of its peer links
    wake for small, urgent work (heartbeats, votes and their replies) beside
    threads doing bulk work (fan-out, replies, other processes): at a load
    average of 9 on two cores they waited 300-800 ms for a CPU, longer than
    an election timeout. A lower nice value lets them run first.
    Lowering a nice value needs CAP_SYS_NICE (or RLIMIT_NICE); without it
    the thread keeps its value and the call says so.
*/
#ifndef THREAD_NICE_H_INCLUDED
#define THREAD_NICE_H_INCLUDED

#ifdef __cplusplus
extern "C" {
#endif

//  The nice value of threads whose lateness costs an election.
#define THREAD_NICE_URGENT (-10)

//  Sets the calling thread's nice value. 0, or -1 with errno set.
int thread_nice_self (int nice);

//  Sets the nice value of this process's threads named name (as in
//  /proc/self/task/<tid>/comm). 0 when at least one was set, or -1 with
//  errno set (ENOENT: none has that name).
int thread_nice_named (const char *name, int nice);

#ifdef __cplusplus
}
#endif

#endif
