/*  test_thread_nice — per-thread nice values: a thread's own, and those of
    the threads found by name (as libzmq's I/O threads are), each leaving
    the other threads as they were. Raising a nice value needs no privilege,
    so the test raises them.
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <sys/resource.h>
#include <unistd.h>

#include "util/thread_nice.h"

//  A thread that names itself, says its id, and waits to be let go.
typedef struct {
    pthread_mutex_t lock;  //  guards the fields below
    pthread_cond_t change; //  signalled when one changes
    pid_t tid;             //  the thread's id, 0 until it runs
    int own_nice;          //  its nice value after thread_nice_self (3)
    bool done;             //  the test is over: return
} sleeper_t;

static void *
s_sleeper (void *argument)
{
    sleeper_t *sleeper = (sleeper_t *)argument;
    pthread_setname_np (pthread_self (), "nice-test");
    pthread_mutex_lock (&sleeper->lock);
    sleeper->tid = gettid ();
    pthread_cond_broadcast (&sleeper->change);
    while (!sleeper->done)
        pthread_cond_wait (&sleeper->change, &sleeper->lock);
    pthread_mutex_unlock (&sleeper->lock);
    return NULL;
}

static void *
s_self_nicer (void *argument)
{
    sleeper_t *sleeper = (sleeper_t *)argument;
    assert_int_equal (thread_nice_self (getpriority (PRIO_PROCESS, 0) + 3), 0);
    sleeper->own_nice = getpriority (PRIO_PROCESS, (id_t)gettid ());
    return NULL;
}

static void
test_named_and_own_threads (void **state)
{
    (void)state;
    int base = getpriority (PRIO_PROCESS, (id_t)gettid ());
    sleeper_t sleeper = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, false};
    pthread_t thread;
    assert_int_equal (pthread_create (&thread, NULL, s_sleeper, &sleeper), 0);
    pthread_mutex_lock (&sleeper.lock);
    while (!sleeper.tid)
        pthread_cond_wait (&sleeper.change, &sleeper.lock);
    pthread_mutex_unlock (&sleeper.lock);

    //  By name: that thread only
    assert_int_equal (thread_nice_named ("nice-test", base + 5), 0);
    assert_int_equal (getpriority (PRIO_PROCESS, (id_t)sleeper.tid), base + 5);
    assert_int_equal (getpriority (PRIO_PROCESS, (id_t)gettid ()), base);
    errno = 0;
    assert_int_equal (thread_nice_named ("no-such-thread", base + 5), -1);
    assert_int_equal (errno, ENOENT);

    //  A thread's own value, from within
    pthread_t nicer;
    assert_int_equal (pthread_create (&nicer, NULL, s_self_nicer, &sleeper), 0);
    pthread_join (nicer, NULL);
    assert_int_equal (sleeper.own_nice, base + 3);
    assert_int_equal (getpriority (PRIO_PROCESS, (id_t)gettid ()), base);

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
        cmocka_unit_test (test_named_and_own_threads),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
