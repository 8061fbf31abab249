/*  test_event_log — event_log.c: per-stream sequences, events handed over
    in emit order, the retained window bounded per stream and over all
    streams, Replay from it (limits, the window's start, unknown streams),
    forgetting a stream, and the digest covering the window in emit order.
*/

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "state/event_log.h"

//  Emits a publish-like event of size payload bytes on stream at index.
static void
s_emit (event_log_t *log, const char *stream, uint64_t index, size_t size)
{
    Raftq__Event *event = malloc (sizeof (Raftq__Event));
    assert_non_null (event);
    raftq__event__init (event);
    event->stream = strdup (stream);
    event->kind = strdup ("publish");
    event->index = index;
    if (size) {
        event->message.data = malloc (size);
        assert_non_null (event->message.data);
        memset (event->message.data, 'x', size);
        event->message.len = size;
    }
    event_log_emit (log, event);
}

//  Takes the pending events and checks their streams and seqs.
static void
s_expect_taken (event_log_t *log, size_t count, const char *const *streams, const uint64_t *seqs)
{
    Raftq__Event **events;
    size_t taken;
    event_log_take (log, &events, &taken);
    assert_int_equal (taken, count);
    for (size_t position = 0; position < taken; position++) {
        assert_string_equal (events[position]->stream, streams[position]);
        assert_int_equal (events[position]->seq, seqs[position]);
        raftq__event__free_unpacked (events[position], NULL);
    }
    free (events);
}

//  Replays and checks rc, oldest and the seqs returned.
static void
s_expect_replay (event_log_t *log, const char *stream, uint64_t from, size_t limit,
                 size_t max_bytes, int rc, uint64_t oldest, size_t count, uint64_t first_seq)
{
    Raftq__EventList *list = (Raftq__EventList *)1;
    uint64_t oldest_seq = 0;
    assert_int_equal (event_log_replay (log, stream, from, limit, max_bytes, &list, &oldest_seq),
                      rc);
    assert_int_equal (oldest_seq, oldest);
    if (rc) {
        assert_null (list);
        return;
    }
    assert_non_null (list);
    assert_int_equal (list->n_events, count);
    for (size_t position = 0; position < count; position++) {
        assert_string_equal (list->events[position]->stream, stream);
        assert_int_equal (list->events[position]->seq, first_seq + position);
    }
    raftq__event_list__free_unpacked (list, NULL);
}

static void
test_sequences_and_take (void **state)
{
    (void)state;
    event_log_t *log = event_log_new (100, 1 << 20);
    Raftq__Event **events = (Raftq__Event **)1;
    size_t count = 99;
    event_log_take (log, &events, &count);
    assert_null (events);
    assert_int_equal (count, 0);

    s_emit (log, "topic/a", 1, 3);
    s_emit (log, "user/b", 1, 0);
    s_emit (log, "topic/a", 2, 0);
    const char *streams[] = {"topic/a", "user/b", "topic/a"};
    const uint64_t seqs[] = {1, 1, 2};
    s_expect_taken (log, 3, streams, seqs);
    assert_int_equal (event_log_last_seq (log, "topic/a"), 2);
    assert_int_equal (event_log_last_seq (log, "user/b"), 1);
    assert_int_equal (event_log_last_seq (log, "user/none"), 0);
    //  A take hands over only what came since the last one
    s_emit (log, "user/b", 3, 0);
    const char *one_stream[] = {"user/b"};
    const uint64_t one_seq[] = {2};
    s_expect_taken (log, 1, one_stream, one_seq);

    //  Replayed events equal what was emitted
    Raftq__EventList *list = NULL;
    uint64_t oldest = 0;
    assert_int_equal (event_log_replay (log, "topic/a", 1, 10, 1 << 20, &list, &oldest), 0);
    assert_int_equal (oldest, 1);
    assert_int_equal (list->n_events, 2);
    assert_string_equal (list->events[0]->kind, "publish");
    assert_int_equal (list->events[0]->index, 1);
    assert_int_equal (list->events[0]->message.len, 3);
    assert_memory_equal (list->events[0]->message.data, "xxx", 3);
    assert_int_equal (list->events[1]->index, 2);
    raftq__event_list__free_unpacked (list, NULL);

    //  Emitted but never taken: freed with the log
    s_emit (log, "user/b", 4, 10);
    event_log_destroy (&log);
    assert_null (log);
    event_log_destroy (&log);
}

static void
test_window_per_stream (void **state)
{
    (void)state;
    event_log_t *log = event_log_new (3, 1 << 20);
    for (uint64_t index = 1; index <= 10; index++)
        s_emit (log, "conv/a/b", index, 1);
    s_emit (log, "user/a", 11, 1);
    Raftq__Event **events;
    size_t count;
    event_log_take (log, &events, &count);
    for (size_t position = 0; position < count; position++)
        raftq__event__free_unpacked (events[position], NULL);
    free (events);
    assert_int_equal (event_log_retained (log, NULL), 4);

    s_expect_replay (log, "conv/a/b", 0, 100, 1 << 20, 0, 8, 3, 8);
    s_expect_replay (log, "conv/a/b", 8, 100, 1 << 20, 0, 8, 3, 8);
    s_expect_replay (log, "conv/a/b", 9, 100, 1 << 20, 0, 8, 2, 9);
    s_expect_replay (log, "conv/a/b", 10, 100, 1 << 20, 0, 8, 1, 10);
    //  Past the newest: nothing yet, not an error
    s_expect_replay (log, "conv/a/b", 11, 100, 1 << 20, 0, 8, 0, 0);
    s_expect_replay (log, "conv/a/b", 1000, 100, 1 << 20, 0, 8, 0, 0);
    //  Before the window: refused, with where it starts
    s_expect_replay (log, "conv/a/b", 7, 100, 1 << 20, -1, 8, 0, 0);
    s_expect_replay (log, "conv/a/b", 1, 100, 1 << 20, -1, 8, 0, 0);
    //  Limits: count, and bytes (but always one)
    s_expect_replay (log, "conv/a/b", 8, 2, 1 << 20, 0, 8, 2, 8);
    s_expect_replay (log, "conv/a/b", 8, 100, 1, 0, 8, 1, 8);
    //  A stream without events: empty from anywhere, starting at 1
    s_expect_replay (log, "user/nobody", 0, 100, 1 << 20, 0, 1, 0, 0);
    s_expect_replay (log, "user/nobody", 5, 100, 1 << 20, 0, 1, 0, 0);
    s_expect_replay (log, "user/a", 1, 100, 1 << 20, 0, 1, 1, 1);
    event_log_destroy (&log);
}

static void
test_window_over_all_streams (void **state)
{
    (void)state;
    //  Room for about three 1000-byte events: the oldest of the whole log goes
    event_log_t *log = event_log_new (100, 3500);
    s_emit (log, "topic/a", 1, 1000);
    s_emit (log, "topic/b", 2, 1000);
    s_emit (log, "topic/a", 3, 1000);
    size_t bytes = 0;
    assert_int_equal (event_log_retained (log, &bytes), 3);
    assert_true (bytes > 3000 && bytes <= 3500);
    s_emit (log, "topic/b", 4, 1000);
    assert_int_equal (event_log_retained (log, &bytes), 3);
    s_expect_replay (log, "topic/a", 0, 100, 1 << 20, 0, 2, 1, 2);
    s_expect_replay (log, "topic/a", 1, 100, 1 << 20, -1, 2, 0, 0);
    s_expect_replay (log, "topic/b", 1, 100, 1 << 20, 0, 1, 2, 1);

    //  One event bigger than the whole budget stays, alone
    s_emit (log, "topic/c", 5, 10000);
    assert_int_equal (event_log_retained (log, &bytes), 1);
    assert_true (bytes > 10000);
    s_expect_replay (log, "topic/c", 1, 100, 1 << 20, 0, 1, 1, 1);
    s_expect_replay (log, "topic/b", 0, 100, 1 << 20, 0, 3, 0, 0);
    //  ... until the next one pushes it out
    s_emit (log, "topic/a", 6, 10);
    assert_int_equal (event_log_retained (log, NULL), 1);
    s_expect_replay (log, "topic/c", 1, 100, 1 << 20, -1, 2, 0, 0);

    Raftq__Event **events;
    size_t count;
    event_log_take (log, &events, &count);
    assert_int_equal (count, 6);
    for (size_t position = 0; position < count; position++)
        raftq__event__free_unpacked (events[position], NULL);
    free (events);
    event_log_destroy (&log);
}

static void
test_forget (void **state)
{
    (void)state;
    event_log_t *log = event_log_new (10, 1 << 20);
    for (uint64_t index = 1; index <= 4; index++)
        s_emit (log, "user/gone", index, 5);
    s_emit (log, "user/kept", 5, 5);
    event_log_forget (log, "user/gone");
    event_log_forget (log, "user/never");
    assert_int_equal (event_log_retained (log, NULL), 1);
    s_expect_replay (log, "user/gone", 1, 100, 1 << 20, -1, 5, 0, 0);
    s_expect_replay (log, "user/gone", 0, 100, 1 << 20, 0, 5, 0, 0);
    s_expect_replay (log, "user/kept", 1, 100, 1 << 20, 0, 1, 1, 1);
    //  The sequence goes on: a subscriber never sees a number twice
    s_emit (log, "user/gone", 6, 5);
    s_expect_replay (log, "user/gone", 5, 100, 1 << 20, 0, 5, 1, 5);

    Raftq__Event **events;
    size_t count;
    event_log_take (log, &events, &count);
    assert_int_equal (events[count - 1]->seq, 5);
    for (size_t position = 0; position < count; position++)
        raftq__event__free_unpacked (events[position], NULL);
    free (events);
    event_log_destroy (&log);
}

static uint64_t
s_digest_of (event_log_t *log)
{
    digest_t *digest = digest_new ("test");
    event_log_digest (log, digest);
    return digest_finish (&digest);
}

static void
test_digest (void **state)
{
    (void)state;
    event_log_t *first = event_log_new (2, 1 << 20);
    event_log_t *second = event_log_new (2, 1 << 20);
    event_log_t *interleaved = event_log_new (2, 1 << 20);
    assert_int_equal (s_digest_of (first), s_digest_of (second));
    s_emit (first, "s/a", 1, 1);
    s_emit (first, "s/b", 2, 1);
    s_emit (second, "s/a", 1, 1);
    s_emit (second, "s/b", 2, 1);
    assert_int_equal (s_digest_of (first), s_digest_of (second));
    //  Same events per stream, other emit order: the byte bound would evict
    //  differently, so the state differs
    s_emit (interleaved, "s/b", 2, 1);
    s_emit (interleaved, "s/a", 1, 1);
    assert_int_not_equal (s_digest_of (first), s_digest_of (interleaved));
    //  Evicted events still count through their stream's sequence
    s_emit (first, "s/a", 3, 1);
    s_emit (first, "s/a", 4, 1);
    s_emit (second, "s/a", 3, 1);
    assert_int_not_equal (s_digest_of (first), s_digest_of (second));
    s_emit (second, "s/a", 4, 1);
    assert_int_equal (s_digest_of (first), s_digest_of (second));
    event_log_t *logs[] = {first, second, interleaved};
    for (size_t which = 0; which < 3; which++) {
        Raftq__Event **events;
        size_t count;
        event_log_take (logs[which], &events, &count);
        for (size_t position = 0; position < count; position++)
            raftq__event__free_unpacked (events[position], NULL);
        free (events);
        event_log_destroy (&logs[which]);
    }
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_sequences_and_take),
        cmocka_unit_test (test_window_per_stream),
        cmocka_unit_test (test_window_over_all_streams),
        cmocka_unit_test (test_forget),
        cmocka_unit_test (test_digest),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
