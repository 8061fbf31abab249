/*  test_thread_priority — a thread's urgency: real time where allowed, else
    nice -10, else as it was; never inherited by the threads and processes
    it starts; threads found by name (as libzmq's I/O threads are) raised
    alone. The ladder is driven with the privilege taken away (a thread
    drops CAP_SYS_NICE, the process's limits go to none).
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <errno.h>
#include <linux/capability.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util/thread_priority.h"

//  The calling thread's policy, without the reset-on-fork flag, and
//  whether that flag is set.
static int
s_policy (bool *reset_on_fork)
{
    int policy = sched_getscheduler (0);
    if (reset_on_fork)
        *reset_on_fork = (policy & SCHED_RESET_ON_FORK) != 0;
    return policy & ~SCHED_RESET_ON_FORK;
}

//  Takes CAP_SYS_NICE out of the calling thread's effective set (Linux
//  keeps capabilities per thread). 0, or -1 if the thread could not.
static int
s_drop_sys_nice (void)
{
    struct __user_cap_header_struct header = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct data[2];
    if (syscall (SYS_capget, &header, data))
        return -1;
    data[CAP_TO_INDEX (CAP_SYS_NICE)].effective &= ~CAP_TO_MASK (CAP_SYS_NICE);
    return (int)syscall (SYS_capset, &header, data);
}

//  What a thread without CAP_SYS_NICE got when it asked for real time.
typedef struct {
    int start_nice;        //  nice value to take before dropping the privilege
    thread_priority_t got; //  what the raise returned
    int failure;           //  errno after it
    int nice;              //  the thread's nice value after it
    int policy;            //  its policy after it
    int child_nice;        //  nice value of a thread it started after
} s_attempt_t;

static void *
s_report_nice (void *argument)
{
    *(int *)argument = getpriority (PRIO_PROCESS, (id_t)gettid ());
    return NULL;
}

static void *
s_unprivileged_raise (void *argument)
{
    s_attempt_t *attempt = (s_attempt_t *)argument;
    if (thread_priority_nice_self (attempt->start_nice)) {
        attempt->failure = -1; //  cannot even start: no privilege here
        return NULL;
    }
    assert_int_equal (s_drop_sys_nice (), 0);
    errno = 0;
    attempt->got = thread_priority_raise_self (THREAD_PRIORITY_REALTIME);
    attempt->failure = errno;
    attempt->nice = getpriority (PRIO_PROCESS, (id_t)gettid ());
    attempt->policy = s_policy (NULL);
    pthread_t thread;
    assert_int_equal (pthread_create (&thread, NULL, s_report_nice, &attempt->child_nice), 0);
    pthread_join (thread, NULL);
    return NULL;
}

//  Runs s_unprivileged_raise on a thread of its own with no real-time
//  priority and no lower nice value allowed by the process's limits (put
//  back after).
static s_attempt_t
s_attempt (int start_nice)
{
    struct rlimit saved_realtime, saved_nice;
    assert_int_equal (getrlimit (RLIMIT_RTPRIO, &saved_realtime), 0);
    assert_int_equal (getrlimit (RLIMIT_NICE, &saved_nice), 0);
    struct rlimit none = {0, 0};
    //  Lowering a limit needs no privilege
    assert_int_equal (setrlimit (RLIMIT_RTPRIO, &none), 0);
    assert_int_equal (setrlimit (RLIMIT_NICE, &none), 0);
    s_attempt_t attempt = {.start_nice = start_nice};
    pthread_t thread;
    assert_int_equal (pthread_create (&thread, NULL, s_unprivileged_raise, &attempt), 0);
    pthread_join (thread, NULL);
    setrlimit (RLIMIT_RTPRIO, &saved_realtime);
    setrlimit (RLIMIT_NICE, &saved_nice);
    return attempt;
}

static void
test_each_step_down_the_ladder (void **state)
{
    (void)state;
    //  Neither allowed: the thread stays as it was, and says why
    int base = getpriority (PRIO_PROCESS, (id_t)gettid ());
    s_attempt_t attempt = s_attempt (base);
    assert_int_equal (attempt.got, THREAD_PRIORITY_NORMAL);
    assert_true (attempt.failure == EPERM || attempt.failure == EACCES);
    assert_int_equal (attempt.policy, SCHED_OTHER);
    assert_int_equal (attempt.nice, base);

    //  Real time refused, nice -10 allowed (a thread may keep the value it
    //  has): it falls back to nice, saying why not real time. Reaching -10
    //  first takes the privilege the test drops after.
    attempt = s_attempt (THREAD_PRIORITY_URGENT_NICE);
    if (attempt.failure == -1)
        skip ();
    assert_int_equal (attempt.got, THREAD_PRIORITY_NICE);
    assert_int_equal (attempt.failure, EPERM);
    assert_int_equal (attempt.policy, SCHED_OTHER);
    assert_int_equal (attempt.nice, THREAD_PRIORITY_URGENT_NICE);
    //  Not inherited: a negative nice value starts at 0 in a new thread
    assert_int_equal (attempt.child_nice, 0);
}

static void *
s_report_policy (void *argument)
{
    *(int *)argument = s_policy (NULL);
    return NULL;
}

//  What a real-time thread got, and what its thread and child started as.
typedef struct {
    thread_priority_t got; //  what the raise returned
    int policy;            //  its policy after it
    bool reset_on_fork;    //  whether the reset flag is set
    int thread_policy;     //  policy of a thread it started
    int child_policy;      //  policy of a process it forked (its exit code)
} s_realtime_t;

static void *
s_realtime_raise (void *argument)
{
    s_realtime_t *result = (s_realtime_t *)argument;
    result->got = thread_priority_raise_self (THREAD_PRIORITY_REALTIME);
    result->policy = s_policy (&result->reset_on_fork);
    pthread_t thread;
    assert_int_equal (pthread_create (&thread, NULL, s_report_policy, &result->thread_policy), 0);
    pthread_join (thread, NULL);
    pid_t child = fork ();
    if (child == 0)
        _exit (s_policy (NULL));
    int status = 0;
    assert_int_equal (waitpid (child, &status, 0), child);
    result->child_policy = WIFEXITED (status) ? WEXITSTATUS (status) : -1;
    return NULL;
}

static void
test_realtime_is_not_inherited (void **state)
{
    (void)state;
    //  Under valgrind (`make valgrind` sets RAFTQ_VALGRIND) threads do not
    //  keep the kernel's policies: a real-time thread's new thread reads as
    //  SCHED_FIFO and the reset flag as unset
    if (getenv ("RAFTQ_VALGRIND"))
        skip ();
    s_realtime_t result = {0};
    pthread_t thread;
    assert_int_equal (pthread_create (&thread, NULL, s_realtime_raise, &result), 0);
    pthread_join (thread, NULL);
    if (result.got != THREAD_PRIORITY_REALTIME)
        skip (); //  no privilege here: the ladder test covers the rest
    assert_int_equal (result.policy, SCHED_RR);
    assert_true (result.reset_on_fork);
    assert_int_equal (result.thread_policy, SCHED_OTHER);
    assert_int_equal (result.child_policy, SCHED_OTHER);
    assert_int_equal (s_policy (NULL), SCHED_OTHER); //  the test's own thread untouched
}

//  A thread that names itself, says its id, and waits to be let go.
typedef struct {
    pthread_mutex_t lock;  //  guards the fields below
    pthread_cond_t change; //  signalled when one changes
    pid_t tid;             //  the thread's id, 0 until it runs
    bool done;             //  the test is over: return
} sleeper_t;

static void *
s_sleeper (void *argument)
{
    sleeper_t *sleeper = (sleeper_t *)argument;
    pthread_setname_np (pthread_self (), "priority-test");
    pthread_mutex_lock (&sleeper->lock);
    sleeper->tid = gettid ();
    pthread_cond_broadcast (&sleeper->change);
    while (!sleeper->done)
        pthread_cond_wait (&sleeper->change, &sleeper->lock);
    pthread_mutex_unlock (&sleeper->lock);
    return NULL;
}

static void
test_named_threads_alone (void **state)
{
    (void)state;
    int base = getpriority (PRIO_PROCESS, (id_t)gettid ());
    sleeper_t sleeper = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, false};
    pthread_t thread;
    assert_int_equal (pthread_create (&thread, NULL, s_sleeper, &sleeper), 0);
    pthread_mutex_lock (&sleeper.lock);
    while (!sleeper.tid)
        pthread_cond_wait (&sleeper.change, &sleeper.lock);
    pthread_mutex_unlock (&sleeper.lock);

    int got = thread_priority_raise_named ("priority-test", THREAD_PRIORITY_NICE);
    assert_true (got == THREAD_PRIORITY_NICE || got == THREAD_PRIORITY_NORMAL);
    assert_int_equal (getpriority (PRIO_PROCESS, (id_t)sleeper.tid),
                      got == THREAD_PRIORITY_NICE ? THREAD_PRIORITY_URGENT_NICE : base);
    assert_int_equal (getpriority (PRIO_PROCESS, (id_t)gettid ()), base);
    errno = 0;
    assert_int_equal (thread_priority_raise_named ("no-such-thread", THREAD_PRIORITY_NICE), -1);
    assert_int_equal (errno, ENOENT);

    //  A thread's own nice value, raised (no privilege needed)
    assert_int_equal (thread_priority_nice_self (base + 3), 0);
    assert_int_equal (getpriority (PRIO_PROCESS, (id_t)gettid ()), base + 3);
    assert_int_equal (getpriority (PRIO_PROCESS, (id_t)sleeper.tid),
                      got == THREAD_PRIORITY_NICE ? THREAD_PRIORITY_URGENT_NICE : base);

    pthread_mutex_lock (&sleeper.lock);
    sleeper.done = true;
    pthread_cond_broadcast (&sleeper.change);
    pthread_mutex_unlock (&sleeper.lock);
    pthread_join (thread, NULL);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_each_step_down_the_ladder),
        cmocka_unit_test (test_realtime_is_not_inherited),
        cmocka_unit_test (test_named_threads_alone),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
