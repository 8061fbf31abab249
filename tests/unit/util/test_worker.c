/*  test_worker — an actor thread that begins with worker_begin carries its
    name (cut to the kernel's 15 characters) and leaves SIGINT and SIGTERM
    to the main thread, whose own mask it does not touch; its commands come
    from worker_next_command until $TERM.
*/
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <signal.h>

#include "util/worker.h"

//  Answers each command with [command][its thread's name]["blocked" or
//  "open": SIGINT and SIGTERM].
static void
s_named_actor (zsock_t *pipe, void *args)
{
    worker_begin ((const char *)args);
    zsock_signal (pipe, 0);
    zmsg_t *message;
    char *command;
    while ((command = worker_next_command (pipe, &message))) {
        char name[32] = "";
        pthread_getname_np (pthread_self (), name, sizeof name);
        sigset_t mask;
        pthread_sigmask (SIG_BLOCK, NULL, &mask);
        bool blocked = sigismember (&mask, SIGINT) && sigismember (&mask, SIGTERM);
        zstr_sendx (pipe, command, name, blocked ? "blocked" : "open", NULL);
        zstr_free (&command);
        zmsg_destroy (&message);
    }
}

//  A worker begun with given shows as shown, with the signals blocked.
static void
s_expect_worker (const char *given, const char *shown)
{
    zactor_t *actor = zactor_new (s_named_actor, (void *)given);
    assert_non_null (actor);
    zstr_send (actor, "WHO");
    char *command = NULL, *name = NULL, *signals = NULL;
    assert_int_equal (zstr_recvx (actor, &command, &name, &signals, NULL), 3);
    assert_string_equal (command, "WHO");
    assert_string_equal (name, shown);
    assert_string_equal (signals, "blocked");
    zstr_free (&command);
    zstr_free (&name);
    zstr_free (&signals);
    zactor_destroy (&actor);
}

static void
test_worker_is_named_and_leaves_signals_to_main (void **state)
{
    (void)state;
    s_expect_worker ("raftq-raft", "raftq-raft");
    s_expect_worker ("raftq-a-name-too-long", "raftq-a-name-to");
    sigset_t mask;
    pthread_sigmask (SIG_BLOCK, NULL, &mask);
    assert_false (sigismember (&mask, SIGINT));
    assert_false (sigismember (&mask, SIGTERM));
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_worker_is_named_and_leaves_signals_to_main),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
