/*  test_event_loop — input is never left behind a quiet descriptor (queued
    before watching, or its wake-up taken by other work), a quiet socket is
    asked only when reported touched, alarms fire once, timers keep their
    grid without bursts, descriptors end from their own handler, a signal
    ends the run with 0 and a handler's -1 with -1.
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <signal.h>
#include <sys/time.h>

#include "util/event_loop.h"

//  Longest any test waits for what it expects: a fallback timer ends the
//  run then, and the test fails on what did not happen.
#define GIVE_UP_MS 2000

typedef struct {
    int served;        //  handler calls
    int wanted;        //  calls after which the run ends
    bool gave_up;      //  the fallback timer fired
    zsock_t *hidden;   //  a socket whose wake-up the handler takes
    zsock_t *feed;     //  the hidden socket's peer, sent to first
    int64_t stalled;   //  timer: how long the first call blocks, ms
    int64_t called_at; //  timer: when it was last called, microseconds
    int64_t shortest;  //  timer: shortest time between two calls, ms
    bool report;       //  the handler reports the hidden socket touched
} s_count_t;

static int
s_give_up (event_loop_t *loop, void *argument)
{
    (void)loop;
    ((s_count_t *)argument)->gave_up = true;
    return -1;
}

static event_loop_t *
s_loop_with_deadline (s_count_t *deadline)
{
    event_loop_t *loop = event_loop_new ();
    assert_non_null (loop);
    assert_int_equal (event_loop_timer (loop, GIVE_UP_MS, s_give_up, deadline), 0);
    return loop;
}

//  Reads one message per call, however many are queued.
static int
s_read_one (event_loop_t *loop, zsock_t *socket, void *argument)
{
    (void)loop;
    s_count_t *count = (s_count_t *)argument;
    char *text = zstr_recv (socket);
    assert_non_null (text);
    zstr_free (&text);
    return ++count->served == count->wanted ? -1 : 0;
}

static void
test_input_queued_before_watching_is_served (void **state)
{
    (void)state;
    zsock_t *receiver = zsock_new_pair ("@inproc://event-loop-queued");
    zsock_t *sender = zsock_new_pair (">inproc://event-loop-queued");
    for (int message = 0; message < 3; message++)
        zstr_send (sender, "queued");
    //  Takes the wake-up: the descriptor is quiet from now on
    assert_true (zsock_events (receiver) & ZMQ_POLLIN);

    s_count_t deadline = {0}, count = {.wanted = 3};
    event_loop_t *loop = s_loop_with_deadline (&deadline);
    assert_int_equal (event_loop_socket (loop, receiver, s_read_one, &count), 0);
    assert_int_equal (event_loop_run (loop), -1);
    assert_false (deadline.gave_up);
    assert_int_equal (count.served, 3);
    event_loop_destroy (&loop);
    assert_null (loop);
    zsock_destroy (&sender);
    zsock_destroy (&receiver);
}

//  Reads its message, then sends to the hidden socket's peer and takes
//  the hidden socket's wake-up, as a send on it may do inside libzmq.
static int
s_read_and_hide (event_loop_t *loop, zsock_t *socket, void *argument)
{
    (void)loop;
    s_count_t *count = (s_count_t *)argument;
    char *text = zstr_recv (socket);
    zstr_free (&text);
    zstr_send (count->feed, "hidden");
    assert_true (zsock_events (count->hidden) & ZMQ_POLLIN);
    if (count->report)
        event_loop_touched (loop, count->hidden);
    count->served++;
    return 0;
}

//  Sends "go" to count->feed once, from a turn after the first, when the
//  loop no longer asks the sockets it was given.
static int
s_send_go_once (event_loop_t *loop, void *argument)
{
    (void)loop;
    s_count_t *count = (s_count_t *)argument;
    if (count->served++ == 0)
        zstr_send (count->feed, "go");
    return 0;
}

//  Runs a loop whose first socket's handler takes the second socket's
//  wake-up (s_read_and_hide), the second watched quiet or not and its
//  hidden input reported or not, until the second is served or the loop
//  gives up after give_up_ms. Sets how often each handler ran.
static void
s_run_hidden_wake_up (int round, bool quiet, bool report, int give_up_ms, s_count_t *hider,
                      s_count_t *count, s_count_t *deadline)
{
    //  Endpoints of their own each round: a closed socket frees its name lazily
    char first_name[64], second_name[64];
    snprintf (first_name, sizeof first_name, "inproc://event-loop-first-%d", round);
    snprintf (second_name, sizeof second_name, "inproc://event-loop-second-%d", round);
    zsock_t *first = zsock_new (ZMQ_PAIR);
    zsock_t *first_peer = zsock_new (ZMQ_PAIR);
    zsock_t *second = zsock_new (ZMQ_PAIR);
    zsock_t *second_peer = zsock_new (ZMQ_PAIR);
    assert_int_equal (zsock_bind (first, "%s", first_name), 0);
    assert_int_equal (zsock_connect (first_peer, "%s", first_name), 0);
    assert_int_equal (zsock_bind (second, "%s", second_name), 0);
    assert_int_equal (zsock_connect (second_peer, "%s", second_name), 0);
    *hider = (s_count_t){.hidden = second, .feed = second_peer, .report = report};
    *count = (s_count_t){.wanted = 1};
    *deadline = (s_count_t){0};
    s_count_t starter = {.feed = first_peer};
    event_loop_t *loop = event_loop_new ();
    assert_non_null (loop);
    assert_int_equal (event_loop_timer (loop, give_up_ms, s_give_up, deadline), 0);
    assert_int_equal (event_loop_socket (loop, first, s_read_and_hide, hider), 0);
    assert_int_equal (quiet ? event_loop_socket_quiet (loop, second, s_read_one, count)
                            : event_loop_socket (loop, second, s_read_one, count),
                      0);
    assert_int_equal (event_loop_timer (loop, 5, s_send_go_once, &starter), 0);
    assert_int_equal (event_loop_run (loop), -1);
    event_loop_destroy (&loop);
    zsock_destroy (&first_peer);
    zsock_destroy (&first);
    zsock_destroy (&second_peer);
    zsock_destroy (&second);
}

static void
test_wake_up_taken_by_other_work_is_not_lost (void **state)
{
    (void)state;
    s_count_t hider, count, deadline;
    s_run_hidden_wake_up (0, false, false, GIVE_UP_MS, &hider, &count, &deadline);
    assert_false (deadline.gave_up);
    assert_int_equal (hider.served, 1);
    assert_int_equal (count.served, 1);
}

//  A quiet socket is asked after a turn only when it was reported touched:
//  reported, its hidden input is served; unreported, it stays hidden (the
//  ask the loop saves), until the run gives up.
static void
test_quiet_socket_asked_only_when_reported (void **state)
{
    (void)state;
    for (int reported = 0; reported <= 1; reported++) {
        s_count_t hider, count, deadline;
        s_run_hidden_wake_up (1 + reported, true, reported, 200, &hider, &count, &deadline);
        assert_int_equal (hider.served, 1);
        assert_int_equal (count.served, reported ? 1 : 0);
        assert_int_equal (deadline.gave_up, !reported);
    }
}

//  Counts calls and the shortest gap between them; the first call
//  blocks for count->stalled ms, as a slow handler would.
static int
s_tick (event_loop_t *loop, void *argument)
{
    (void)loop;
    s_count_t *count = (s_count_t *)argument;
    int64_t now = zclock_usecs ();
    if (count->served > 0 && (now - count->called_at) / 1000 < count->shortest)
        count->shortest = (now - count->called_at) / 1000;
    count->called_at = now;
    if (count->served == 0 && count->stalled)
        zclock_sleep ((int)count->stalled);
    return ++count->served == count->wanted ? -1 : 0;
}

static void
test_timers_never_fire_early_nor_in_bursts (void **state)
{
    (void)state;
    s_count_t deadline = {0};
    s_count_t tick = {.wanted = 6, .stalled = 55, .shortest = INT64_MAX};
    event_loop_t *loop = s_loop_with_deadline (&deadline);
    int64_t started = zclock_mono ();
    assert_int_equal (event_loop_timer (loop, 10, s_tick, &tick), 0);
    assert_int_equal (event_loop_run (loop), -1);
    assert_false (deadline.gave_up);
    //  The first call came after 10 ms and stalled 55: one late call
    //  follows, then the grid again, a period apart, not caught up at once
    assert_true (zclock_mono () - started >= 10 + 55 + 4 * 10 - 1);
    //  A late wake may shorten the next gap, but a burst makes it nil
    assert_true (tick.shortest >= 1);
    event_loop_destroy (&loop);
}

//  An alarm that sets itself again until it has fired wanted times.
static int
s_alarm_again (event_loop_t *loop, void *argument)
{
    s_count_t *count = (s_count_t *)argument;
    if (count->served == 0)
        count->called_at = zclock_mono ();
    if (++count->served < count->wanted)
        assert_int_equal (event_loop_alarm (loop, 5, s_alarm_again, count), 0);
    return 0;
}

static void
test_alarm_fires_once_per_setting (void **state)
{
    (void)state;
    s_count_t deadline = {0}, alarm = {.wanted = 3};
    s_count_t ticks = {.wanted = 20, .shortest = INT64_MAX};
    event_loop_t *loop = s_loop_with_deadline (&deadline);
    int64_t started = zclock_mono ();
    assert_int_equal (event_loop_alarm (loop, 5, s_alarm_again, &alarm), 0);
    //  Alarms come and go between the timers, which keep their grid
    assert_int_equal (event_loop_timer (loop, 5, s_tick, &ticks), 0);
    assert_int_equal (event_loop_run (loop), -1);
    assert_false (deadline.gave_up);
    assert_int_equal (alarm.served, 3);
    assert_true (alarm.called_at - started >= 5);
    assert_true (zclock_mono () - started >= 20 * 5 - 1);
    assert_true (ticks.shortest >= 1);
    event_loop_destroy (&loop);
}

//  An alarm that takes back the alarms of s_alarm_again for count->hidden's
//  place: the s_count_t it points at through feed.
static int
s_cancel_other (event_loop_t *loop, void *argument)
{
    s_count_t *count = (s_count_t *)argument;
    count->served++;
    event_loop_alarm_cancel (loop, s_alarm_again, (void *)count->feed);
    return 0;
}

static void
test_alarm_taken_back_never_fires (void **state)
{
    (void)state;
    s_count_t deadline = {0}, kept = {.wanted = 1}, dropped = {.wanted = 1},
              dropped_later = {.wanted = 1};
    s_count_t canceller = {.feed = (zsock_t *)&dropped_later};
    s_count_t ticks = {.wanted = 4, .shortest = INT64_MAX};
    event_loop_t *loop = s_loop_with_deadline (&deadline);
    assert_int_equal (event_loop_alarm (loop, 5, s_alarm_again, &dropped), 0);
    assert_int_equal (event_loop_alarm (loop, 5, s_alarm_again, &kept), 0);
    assert_int_equal (event_loop_alarm (loop, 8, s_alarm_again, &dropped), 0);
    event_loop_alarm_cancel (loop, s_alarm_again, &dropped);
    //  From inside a handler too: the later alarm is gone before its turn
    assert_int_equal (event_loop_alarm (loop, 25, s_alarm_again, &dropped_later), 0);
    assert_int_equal (event_loop_alarm (loop, 5, s_cancel_other, &canceller), 0);
    assert_int_equal (event_loop_timer (loop, 10, s_tick, &ticks), 0);
    assert_int_equal (event_loop_run (loop), -1);
    assert_false (deadline.gave_up);
    assert_int_equal (kept.served, 1);
    assert_int_equal (dropped.served, 0);
    assert_int_equal (canceller.served, 1);
    assert_int_equal (dropped_later.served, 0);
    event_loop_destroy (&loop);
}

static int
s_read_byte_and_end (event_loop_t *loop, int fd, void *argument)
{
    s_count_t *count = (s_count_t *)argument;
    char byte;
    assert_int_equal (read (fd, &byte, 1), 1);
    event_loop_fd_end (loop, fd);
    count->served++;
    return 0;
}

static void
test_descriptor_ends_from_its_own_handler (void **state)
{
    (void)state;
    int ends[2];
    assert_int_equal (pipe (ends), 0);
    assert_int_equal (write (ends[1], "ab", 2), 2);
    s_count_t count = {0}, after = {.wanted = 3, .shortest = INT64_MAX};
    event_loop_t *loop = event_loop_new ();
    assert_int_equal (event_loop_fd (loop, ends[0], s_read_byte_and_end, &count), 0);
    //  A few turns after the end, with a byte still there to read
    assert_int_equal (event_loop_timer (loop, 5, s_tick, &after), 0);
    assert_int_equal (event_loop_run (loop), -1);
    assert_int_equal (count.served, 1);
    event_loop_destroy (&loop);
    close (ends[0]);
    close (ends[1]);
}

//  What the alarm's handler does: a signal handler has only globals.
static volatile sig_atomic_t s_alarms;
static volatile sig_atomic_t s_alarm_interrupts;

static void
s_on_alarm (int signal_number)
{
    (void)signal_number;
    s_alarms++;
    if (s_alarm_interrupts)
        zsys_interrupted = 1;
}

//  Interrupts the loop's wait with SIGALRM 20 ms from now; the handler sets
//  zsys_interrupted, as czmq's SIGINT handler does, when interrupts.
static void
s_alarm_soon (bool interrupts)
{
    s_alarms = 0;
    s_alarm_interrupts = interrupts;
    struct sigaction action = {.sa_handler = s_on_alarm};
    sigemptyset (&action.sa_mask);
    assert_int_equal (sigaction (SIGALRM, &action, NULL), 0);
    struct itimerval alarm_in = {.it_value = {.tv_usec = 20000}};
    assert_int_equal (setitimer (ITIMER_REAL, &alarm_in, NULL), 0);
}

static void
test_interrupt_ends_the_run_with_zero (void **state)
{
    (void)state;
    s_alarm_soon (true);
    s_count_t deadline = {0};
    event_loop_t *loop = s_loop_with_deadline (&deadline);
    assert_int_equal (event_loop_run (loop), 0);
    assert_false (deadline.gave_up);
    assert_int_equal (s_alarms, 1);
    event_loop_destroy (&loop);
    zsys_interrupted = 0;
}

static void
test_other_signals_are_waited_through (void **state)
{
    (void)state;
    s_alarm_soon (false);
    s_count_t ticks = {.wanted = 10, .shortest = INT64_MAX};
    event_loop_t *loop = event_loop_new ();
    assert_int_equal (event_loop_timer (loop, 10, s_tick, &ticks), 0);
    assert_int_equal (event_loop_run (loop), -1);
    assert_int_equal (ticks.served, 10);
    assert_int_equal (s_alarms, 1);
    event_loop_destroy (&loop);
}

int
main (void)
{
    zsys_init ();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_input_queued_before_watching_is_served),
        cmocka_unit_test (test_wake_up_taken_by_other_work_is_not_lost),
        cmocka_unit_test (test_quiet_socket_asked_only_when_reported),
        cmocka_unit_test (test_timers_never_fire_early_nor_in_bursts),
        cmocka_unit_test (test_alarm_fires_once_per_setting),
        cmocka_unit_test (test_alarm_taken_back_never_fires),
        cmocka_unit_test (test_descriptor_ends_from_its_own_handler),
        cmocka_unit_test (test_interrupt_ends_the_run_with_zero),
        cmocka_unit_test (test_other_signals_are_waited_through),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
