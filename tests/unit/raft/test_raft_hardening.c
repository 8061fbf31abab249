/*  test_raft_hardening — what a peer cannot make the Raft core do.

    Even a peer whose key is trusted may be buggy or taken over: a term
    that would overflow is never adopted nor persisted, TimeoutNow starts
    an election only when our leader of this term sends it, snapshot
    chunks cannot grow a snapshot past its bound, and leader_commit never
    commits entries that the AppendEntries did not match.
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "raft/raft_core.h"
#include "raft_fixture.h"

//  Asserts that node id was left untouched by what it just received: same
//  term, a follower, nothing to persist, nothing to send, no chunk taken.
static void
s_assert_ignored (raft_fixture_t *harness, uint32_t id, uint64_t term)
{
    raft_core_t *core = harness->cores[id];
    assert_int_equal (raft_core_term (core), term);
    assert_int_equal (raft_core_role (core), RAFT_ROLE_FOLLOWER);
    raft_ready_t ready;
    if (raft_core_ready (core, &ready)) {
        assert_false (ready.hard_state_changed);
        assert_int_equal (ready.message_count, 0);
        assert_int_equal (ready.entries_to_persist_count, 0);
        assert_int_equal (ready.snapshot_chunk_count, 0);
        raft_core_advance (core);
    }
}

//  One message of each kind a peer can send, of term, from node 3 to node 2.
static size_t
s_every_kind (uint64_t term, raft_message_t *messages)
{
    static const raft_message_type_t types[] = {
        RAFT_MESSAGE_REQUEST_VOTE,          RAFT_MESSAGE_REQUEST_VOTE_REPLY,
        RAFT_MESSAGE_APPEND_ENTRIES,        RAFT_MESSAGE_APPEND_ENTRIES_REPLY,
        RAFT_MESSAGE_TIMEOUT_NOW,           RAFT_MESSAGE_PRE_VOTE,
        RAFT_MESSAGE_PRE_VOTE_REPLY,        RAFT_MESSAGE_INSTALL_SNAPSHOT,
        RAFT_MESSAGE_INSTALL_SNAPSHOT_REPLY};
    size_t count = sizeof (types) / sizeof (types[0]);
    for (size_t position = 0; position < count; position++) {
        raft_message_t message = {.type = types[position],
                                  .from = 3,
                                  .to = 2,
                                  .term = term,
                                  .snapshot_index = 9,
                                  .snapshot_term = 1,
                                  .data = (const uint8_t *)"x",
                                  .data_size = 1};
        messages[position] = message;
    }
    return count;
}

//  A term above RAFT_TERM_MAX, UINT64_MAX among them, is ignored by every
//  kind of message and never persisted, nor accepted from disk; a node at
//  RAFT_TERM_MAX never campaigns, so its term cannot wrap to 0.
static void
test_term_overflow_refused (void **state)
{
    (void)state;
    raft_fixture_t *harness = raft_fixture_new (3, true);
    uint64_t now = 0;
    const uint64_t too_high[] = {UINT64_MAX, UINT64_MAX - 1, RAFT_TERM_MAX + 1};
    for (size_t which = 0; which < sizeof (too_high) / sizeof (too_high[0]); which++) {
        raft_message_t messages[16];
        size_t count = s_every_kind (too_high[which], messages);
        for (size_t position = 0; position < count; position++) {
            raft_core_receive (harness->cores[2], &messages[position]);
            s_assert_ignored (harness, 2, 0);
        }
    }
    //  A vote request whose last entry's term is above its own is malformed
    raft_message_t forged = raft_fixture_vote_request (3, 2, 5, 1, UINT64_MAX);
    raft_core_receive (harness->cores[2], &forged);
    s_assert_ignored (harness, 2, 0);

    //  RAFT_TERM_MAX itself is a term like any other, but the last one
    raft_message_t highest = raft_fixture_vote_request (3, 2, RAFT_TERM_MAX, 0, 0);
    raft_core_receive (harness->cores[2], &highest);
    assert_int_equal (raft_core_term (harness->cores[2]), RAFT_TERM_MAX);
    raft_fixture_collect (harness, 2);
    raft_fixture_drop_all (harness);
    for (now = ELECTION_MAX; now <= 10 * ELECTION_MAX; now += HEARTBEAT_MS)
        raft_core_tick (harness->cores[2], now);
    s_assert_ignored (harness, 2, RAFT_TERM_MAX);

    raft_core_options_t options = raft_fixture_options (harness, 3);
    options.term = RAFT_TERM_MAX + 1;
    assert_null (raft_core_new (&options));
    options.term = UINT64_MAX;
    assert_null (raft_core_new (&options));
    options.term = RAFT_TERM_MAX;
    raft_core_t *core = raft_core_new (&options);
    assert_non_null (core);
    raft_core_destroy (&core);
    raft_fixture_destroy (&harness);
}

//  TimeoutNow starts a campaign only when the leader this node follows in
//  its term sends it, in that term.
static void
test_timeout_now_only_from_the_leader_of_the_term (void **state)
{
    (void)state;
    raft_fixture_t *harness = raft_fixture_new_led (3);
    raft_core_t *follower = harness->cores[2];
    assert_int_equal (raft_core_leader (follower), 1);
    raft_message_t timeout_now = {.type = RAFT_MESSAGE_TIMEOUT_NOW, .from = 3, .to = 2, .term = 1};
    raft_core_receive (follower, &timeout_now); //  another follower
    s_assert_ignored (harness, 2, 1);
    timeout_now.term = 2; //  a later term: not adopted either
    raft_core_receive (follower, &timeout_now);
    s_assert_ignored (harness, 2, 1);
    timeout_now.from = 1; //  the leader, but not of that term
    raft_core_receive (follower, &timeout_now);
    s_assert_ignored (harness, 2, 1);

    //  Node 3 leads term 2: node 1's TimeoutNow of term 1 is stale
    raft_message_t append = raft_fixture_append (3, 2, 2, 1, 1, NULL, 0, 0);
    raft_core_receive (follower, &append);
    raft_fixture_collect (harness, 2);
    raft_fixture_drop_all (harness);
    assert_int_equal (raft_core_leader (follower), 3);
    timeout_now.term = 1;
    raft_core_receive (follower, &timeout_now);
    s_assert_ignored (harness, 2, 2);

    //  Restarted, it knows no leader of its term until one contacts it
    raft_core_destroy (&harness->cores[2]);
    follower = raft_fixture_start_core (harness, 2, 2);
    timeout_now.from = 3;
    timeout_now.term = 2;
    raft_core_receive (follower, &timeout_now);
    s_assert_ignored (harness, 2, 2);

    //  From its leader, in its term: it campaigns at once
    raft_core_receive (follower, &append);
    raft_fixture_collect (harness, 2);
    raft_fixture_drop_all (harness);
    raft_core_receive (follower, &timeout_now);
    assert_int_equal (raft_core_role (follower), RAFT_ROLE_CANDIDATE);
    assert_int_equal (raft_core_term (follower), 3);
    raft_fixture_destroy (&harness);
}

//  Receives chunk on node 2 and asserts how many chunks it took and the
//  offset it answered.
static void
s_expect_chunk (raft_fixture_t *harness, const raft_message_t *chunk, size_t taken, uint64_t offset)
{
    raft_core_t *core = harness->cores[2];
    raft_core_receive (core, chunk);
    raft_ready_t ready;
    assert_true (raft_core_ready (core, &ready));
    assert_int_equal (ready.snapshot_chunk_count, taken);
    assert_int_equal (ready.message_count, 1);
    assert_int_equal (ready.messages[0].type, RAFT_MESSAGE_INSTALL_SNAPSHOT_REPLY);
    assert_int_equal (ready.messages[0].offset, offset);
    raft_core_advance (core);
}

//  A received snapshot cannot grow past max_snapshot_bytes, whatever the
//  offsets say, and a chunk announcing an impossible snapshot is dropped.
static void
test_snapshot_chunks_bounded (void **state)
{
    (void)state;
    raft_fixture_t *harness = raft_fixture_new (3, false);
    raft_core_options_t options = raft_fixture_options (harness, 2);
    options.max_snapshot_bytes = 16;
    harness->cores[2] = raft_core_new (&options);
    assert_non_null (harness->cores[2]);
    raft_message_t chunk = raft_fixture_chunk (0, "01234567");
    s_expect_chunk (harness, &chunk, 1, 8);
    chunk = raft_fixture_chunk (8, "89abcdefg"); //  one byte past the bound
    s_expect_chunk (harness, &chunk, 0, 8);
    chunk = raft_fixture_chunk (8, "89abcdef"); //  up to it
    s_expect_chunk (harness, &chunk, 1, 16);
    chunk = raft_fixture_chunk (16, "g");
    s_expect_chunk (harness, &chunk, 0, 16);

    //  A snapshot of no entry, or of a term above its sender's
    chunk = raft_fixture_chunk (0, "01234567");
    chunk.snapshot_index = 0;
    raft_core_receive (harness->cores[2], &chunk);
    s_assert_ignored (harness, 2, 1);
    chunk = raft_fixture_chunk (0, "01234567");
    chunk.snapshot_term = 2;
    raft_core_receive (harness->cores[2], &chunk);
    s_assert_ignored (harness, 2, 1);
    raft_fixture_destroy (&harness);
}

//  leader_commit moves a follower's commit index only up to the last entry
//  the AppendEntries matched: entries beyond it may be stale ones of an
//  old term that the leader's log does not hold.
static void
test_leader_commit_bounded_by_the_match (void **state)
{
    (void)state;
    raft_fixture_t *harness = raft_fixture_new (3, true);
    raft_core_t *follower = harness->cores[2];
    raft_entry_t stale[4];
    for (uint64_t index = 1; index <= 4; index++)
        stale[index - 1] = (raft_entry_t){.term = 1, .index = index, .type = RAFT_ENTRY_NOOP};
    raft_message_t append = raft_fixture_append (1, 2, 1, 0, 0, stale, 4, 1);
    raft_core_receive (follower, &append);
    raft_fixture_collect (harness, 2);
    assert_int_equal (raft_core_commit_index (follower), 1);

    //  Node 3 leads term 2 and has committed 4 entries; its 3 and 4 differ
    append = raft_fixture_append (3, 2, 2, 2, 1, NULL, 0, 4);
    raft_core_receive (follower, &append);
    raft_fixture_collect (harness, 2);
    assert_int_equal (raft_core_commit_index (follower), 2);
    assert_int_equal (harness->applied[2], 2);

    raft_entry_t replacing = {.term = 2, .index = 3, .type = RAFT_ENTRY_NOOP};
    append = raft_fixture_append (3, 2, 2, 2, 1, &replacing, 1, 4);
    raft_core_receive (follower, &append);
    raft_fixture_collect (harness, 2);
    assert_int_equal (raft_core_last_index (follower), 3);
    assert_int_equal (raft_core_commit_index (follower), 3);
    assert_int_equal (harness->applied[2], 3);
    raft_fixture_destroy (&harness);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_term_overflow_refused),
        cmocka_unit_test (test_timeout_now_only_from_the_leader_of_the_term),
        cmocka_unit_test (test_snapshot_chunks_bounded),
        cmocka_unit_test (test_leader_commit_bounded_by_the_match),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
