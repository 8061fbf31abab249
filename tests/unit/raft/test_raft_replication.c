/*  test_raft_replication — the log from leader to followers in the Raft core.

    Conflict truncation and hints, acknowledgements only after persistence,
    the current-term commit rule, the commit notice (the next append, the
    driver's notice or the next tick, never the commit itself), the
    pipelining window and batch limits,
    ready pointers that stay valid until advance, malformed messages
    ignored, and a follower that lost acknowledged entries refilled.
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

//  Node 2 restored with entries of terms 1, 1, 2, 2, 2 and term 2; what it
//  is handed out to persist stays unsaid.
static raft_core_t *
s_follower_with_log (raft_fixture_t *harness)
{
    harness->persist = false;
    raft_core_t *core = raft_fixture_start_core (harness, 2, 2);
    uint64_t terms[] = {1, 1, 2, 2, 2};
    raft_fixture_restore_terms (core, terms, 5);
    assert_int_equal (raft_core_persisted_index (core), 5);
    return core;
}

static void
test_follower_hints_where_to_retry (void **state)
{
    (void)state;
    raft_fixture_t *harness = raft_fixture_new (3, false);
    raft_core_t *core = s_follower_with_log (harness);

    //  Log too short: retry after our last entry, no conflicting term
    raft_message_t append = raft_fixture_append (1, 2, 3, 7, 3, NULL, 0, 0);
    raft_core_receive (core, &append);
    raft_fixture_collect (harness, 2);
    raft_message_t *reply = raft_fixture_take (harness);
    assert_false (reply->success);
    assert_int_equal (reply->reject_index, 7);
    assert_int_equal (reply->conflict_index, 6);
    assert_int_equal (reply->conflict_term, 0);
    free (reply);

    //  Term mismatch: hint at the first entry of our conflicting term
    append = raft_fixture_append (1, 2, 3, 4, 3, NULL, 0, 0);
    raft_core_receive (core, &append);
    raft_fixture_collect (harness, 2);
    reply = raft_fixture_take (harness);
    assert_false (reply->success);
    assert_int_equal (reply->reject_index, 4);
    assert_int_equal (reply->conflict_index, 3);
    assert_int_equal (reply->conflict_term, 2);
    free (reply);
    raft_fixture_destroy (&harness);
}

static void
test_follower_truncates_only_conflicts (void **state)
{
    (void)state;
    raft_fixture_t *harness = raft_fixture_new (3, false);
    raft_core_t *core = s_follower_with_log (harness);
    raft_message_t append;
    raft_message_t *reply;

    //  Matching prefix, then a conflict at 3: truncated from 3, replaced
    raft_entry_t entries[] = {{.term = 3, .index = 3, .data = (uint8_t *)"x", .size = 1},
                              {.term = 3, .index = 4, .data = (uint8_t *)"y", .size = 1}};
    append = raft_fixture_append (1, 2, 3, 2, 1, entries, 2, 4);
    raft_core_receive (core, &append);
    raft_ready_t ready;
    assert_true (raft_core_ready (core, &ready));
    assert_int_equal (ready.truncate_from, 3);
    assert_int_equal (ready.entries_to_persist_count, 2);
    assert_int_equal (ready.entries_to_persist[0].index, 3);
    assert_int_equal (ready.entries_to_persist[1].term, 3);
    assert_memory_equal (ready.entries_to_persist[1].data, "y", 1);
    //  Not durable: no success yet, and nothing applied beyond what is persisted
    for (size_t position = 0; position < ready.message_count; position++)
        assert_false (ready.messages[position].success);
    assert_int_equal (ready.committed_count, 2);
    harness->applied[2] = 2;
    raft_core_advance (core);
    assert_int_equal (raft_core_last_index (core), 4);
    assert_int_equal (raft_core_persisted_index (core), 2);
    assert_int_equal (raft_core_commit_index (core), 4);
    //  The old entry 5's persistence report is stale: ignored
    raft_core_persisted (core, 5, 2);
    assert_int_equal (raft_core_persisted_index (core), 2);

    raft_core_persisted (core, 4, 3);
    raft_fixture_collect (harness, 2);
    reply = raft_fixture_take (harness);
    assert_non_null (reply);
    assert_true (reply->success);
    assert_int_equal (reply->match_index, 4);
    free (reply);
    assert_int_equal (harness->applied[2], 4);

    //  A stale, shorter AppendEntries never deletes newer matching entries
    append = raft_fixture_append (1, 2, 3, 2, 1, entries, 1, 4);
    raft_core_receive (core, &append);
    assert_true (raft_core_ready (core, &ready));
    assert_int_equal (ready.truncate_from, 0);
    assert_int_equal (ready.entries_to_persist_count, 0);
    assert_int_equal (ready.message_count, 1);
    assert_true (ready.messages[0].success);
    assert_int_equal (ready.messages[0].match_index, 3);
    raft_core_advance (core);
    assert_int_equal (raft_core_last_index (core), 4);
    raft_fixture_destroy (&harness);
}

//  Node 2 handed entries 1-3 of term 1 by leader 1 and syncing none yet:
//  it owes the leader an answer it cannot give.
static raft_core_t *
s_follower_with_unsynced_entries (raft_fixture_t *harness)
{
    harness->persist = false;
    raft_core_t *core = harness->cores[2];
    raft_entry_t entries[3];
    for (uint64_t position = 0; position < 3; position++)
        entries[position] = (raft_entry_t){.term = 1, .index = position + 1};
    raft_message_t append = raft_fixture_append (1, 2, 1, 0, 0, entries, 3, 0);
    raft_core_receive (core, &append);
    raft_fixture_collect (harness, 2);
    assert_int_equal (harness->queued_count, 0);
    return core;
}

static void
test_follower_acks_only_after_persisted (void **state)
{
    (void)state;
    raft_fixture_t *harness = raft_fixture_new (3, true);
    raft_core_t *core = s_follower_with_unsynced_entries (harness);
    assert_int_equal (raft_core_leader (core), 1);

    //  Part of it durable: acknowledged that far; a wrong term is ignored
    raft_core_persisted (core, 2, 7);
    raft_fixture_collect (harness, 2);
    assert_int_equal (harness->queued_count, 0);
    raft_core_persisted (core, 2, 1);
    raft_fixture_collect (harness, 2);
    raft_message_t *reply = raft_fixture_take (harness);
    assert_true (reply->success);
    assert_int_equal (reply->match_index, 2);
    free (reply);
    raft_core_persisted (core, 3, 1);
    raft_fixture_collect (harness, 2);
    reply = raft_fixture_take (harness);
    assert_true (reply->success);
    assert_int_equal (reply->match_index, 3);
    free (reply);
    assert_int_equal (harness->queued_count, 0);
    raft_fixture_destroy (&harness);
}

//  A heartbeat is answered at once with what is durable, even while a
//  sync is slow: silence would make the leader's check-quorum step down
//  beside live followers.
static void
test_follower_answers_heartbeat_while_sync_is_slow (void **state)
{
    (void)state;
    raft_fixture_t *harness = raft_fixture_new (3, true);
    raft_core_t *core = s_follower_with_unsynced_entries (harness);
    raft_core_persisted (core, 1, 1);
    raft_fixture_collect (harness, 2);
    free (raft_fixture_take (harness));

    //  The heartbeat matches at 3; only 1 is durable, and that is all it says
    raft_message_t heartbeat = raft_fixture_append (1, 2, 1, 3, 1, NULL, 0, 0);
    raft_core_receive (core, &heartbeat);
    raft_fixture_collect (harness, 2);
    raft_message_t *reply = raft_fixture_take (harness);
    assert_non_null (reply);
    assert_true (reply->success);
    assert_int_equal (reply->match_index, 1);
    free (reply);
    assert_int_equal (harness->queued_count, 0);

    //  The rest is acknowledged when it is durable, as before
    raft_core_persisted (core, 3, 1);
    raft_fixture_collect (harness, 2);
    reply = raft_fixture_take (harness);
    assert_true (reply->success);
    assert_int_equal (reply->match_index, 3);
    free (reply);
    raft_fixture_destroy (&harness);
}

//  Raft figure 8: an entry of an earlier term is not committed by counting
//  replicas; it commits only with an entry of the leader's own term.
static void
test_leader_commits_only_current_term_entries (void **state)
{
    (void)state;
    raft_fixture_t *harness = raft_fixture_new (3, false);
    harness->persist = false;
    raft_core_t *leader = raft_fixture_start_core (harness, 1, 3);
    raft_fixture_restore (leader, 1, 1);
    raft_fixture_restore (leader, 2, 2);
    raft_fixture_win_with (leader, 1, 2, ELECTION_MAX);
    assert_int_equal (raft_core_term (leader), 4);
    assert_int_equal (raft_core_last_index (leader), 3); //  the no-op
    raft_fixture_collect (harness, 1);
    raft_message_t *probe = raft_fixture_find_queued (harness, RAFT_MESSAGE_APPEND_ENTRIES, 2);
    assert_non_null (probe);
    assert_int_equal (probe->prev_log_index, 2);
    assert_int_equal (probe->prev_log_term, 2);
    raft_fixture_drop_all (harness);
    raft_core_persisted (leader, 3, 4);

    //  Both followers hold entry 2 (term 2): a majority, still not committed
    raft_message_t reply = raft_fixture_append_reply (2, 1, 4, true, 2, 0);
    raft_core_receive (leader, &reply);
    reply = raft_fixture_append_reply (3, 1, 4, true, 2, 0);
    raft_core_receive (leader, &reply);
    assert_int_equal (raft_core_commit_index (leader), 0);
    raft_fixture_collect (harness, 1);
    assert_int_equal (harness->applied[1], 0);

    //  The no-op of term 4 on a majority commits everything before it
    reply = raft_fixture_append_reply (2, 1, 4, true, 3, 0);
    raft_core_receive (leader, &reply);
    assert_int_equal (raft_core_commit_index (leader), 3);
    raft_fixture_collect (harness, 1);
    assert_int_equal (harness->applied[1], 3);
    raft_fixture_destroy (&harness);
}

//  A majority of followers commits without the leader, but the leader never
//  counts itself for an entry it has not persisted.
static void
test_leader_counts_itself_only_when_persisted (void **state)
{
    (void)state;
    raft_fixture_t *harness = raft_fixture_new_led (3);
    harness->persist = false;
    raft_core_t *leader = harness->cores[1];
    raft_fixture_propose (leader, "a", 2);
    raft_fixture_collect (harness, 1);
    raft_fixture_drop_all (harness);
    raft_message_t reply = raft_fixture_append_reply (2, 1, 1, true, 2, 0);
    raft_core_receive (leader, &reply);
    assert_int_equal (raft_core_commit_index (leader), 1); //  one of three holds it
    reply = raft_fixture_append_reply (3, 1, 1, true, 2, 0);
    raft_core_receive (leader, &reply);
    assert_int_equal (raft_core_commit_index (leader), 2); //  both followers do
    raft_fixture_propose (leader, "b", 3);
    raft_fixture_collect (harness, 1);
    raft_fixture_drop_all (harness);
    reply = raft_fixture_append_reply (2, 1, 1, true, 3, 0);
    raft_core_receive (leader, &reply);
    assert_int_equal (raft_core_commit_index (leader), 2); //  the leader has not persisted 3
    raft_core_persisted (leader, 3, 1);
    assert_int_equal (raft_core_commit_index (leader), 3);
    raft_fixture_destroy (&harness);
}

//  Elects node 1 of three with the given AppendEntries limits; both
//  followers end up acknowledged, so the leader pipelines to them.
static raft_fixture_t *
s_pipeline_harness (size_t max_inflight, size_t max_entries, size_t max_bytes)
{
    raft_fixture_t *harness = raft_fixture_new (3, false);
    for (uint32_t id = 1; id <= 3; id++) {
        raft_core_options_t options = raft_fixture_options (harness, id);
        options.max_inflight_messages = max_inflight;
        options.max_entries_per_message = max_entries;
        options.max_bytes_per_message = max_bytes;
        harness->cores[id] = raft_core_new (&options);
    }
    raft_fixture_elect (harness, 1, ELECTION_MAX);
    return harness;
}

//  Follower 2's pending AppendEntries, in order, and how many.
static size_t
s_appends_to (raft_fixture_t *harness, uint32_t to, raft_message_t **found, size_t max)
{
    size_t count = 0;
    for (size_t position = 0; position < harness->queued_count && count < max; position++)
        if (harness->queued[position]->type == RAFT_MESSAGE_APPEND_ENTRIES &&
            harness->queued[position]->to == to)
            found[count++] = harness->queued[position];
    return count;
}

//  Exactly one AppendEntries queued to each of followers 2 and 3, with
//  entry_count entries and commit index leader_commit.
static void
s_expect_one_append_each (raft_fixture_t *harness, size_t entry_count, uint64_t leader_commit)
{
    raft_message_t *appends[8];
    for (uint32_t to = 2; to <= 3; to++) {
        assert_int_equal (s_appends_to (harness, to, appends, 8), 1);
        assert_int_equal (appends[0]->entry_count, entry_count);
        assert_int_equal (appends[0]->leader_commit, leader_commit);
    }
}

//  Ticks the leader (node 1) at now and collects: how many messages it
//  queued.
static size_t
s_tick_leader (raft_fixture_t *harness, uint64_t now)
{
    raft_core_tick (harness->cores[1], now);
    raft_fixture_collect (harness, 1);
    return harness->queued_count;
}

//  Follower 2 acknowledges up to index, which commits it: nothing is
//  queued for the followers at the commit.
static void
s_commit_by_follower_2 (raft_fixture_t *harness, uint64_t index)
{
    raft_message_t reply = raft_fixture_append_reply (2, 1, 1, true, index, 0);
    raft_core_receive (harness->cores[1], &reply);
    assert_int_equal (raft_core_commit_index (harness->cores[1]), index);
    raft_fixture_collect (harness, 1);
    assert_int_equal (harness->queued_count, 0);
}

//  The commit index reaches followers with the next AppendEntries, or
//  with an empty one when the driver asks for the notice
//  (raft_core_notice_commit, while raft_core_commit_untold) or at the
//  leader's next tick: never at the commit itself.
static void
test_commit_notice_waits_for_next_append_notice_or_tick (void **state)
{
    (void)state;
    raft_fixture_t *harness = s_pipeline_harness (8, 64, 0);
    raft_core_t *leader = harness->cores[1];
    //  Heartbeats out of the way: the ticks below come before the next ones
    uint64_t now = ELECTION_MAX + HEARTBEAT_MS;
    s_tick_leader (harness, now);
    raft_fixture_drop_all (harness);
    raft_fixture_propose (leader, "a", 2);
    raft_fixture_collect (harness, 1);
    raft_fixture_drop_all (harness);
    s_commit_by_follower_2 (harness, 2);
    assert_true (raft_core_commit_untold (leader));
    assert_false (raft_core_commit_untold (harness->cores[2]));
    //  The next proposal carries it to both: nothing left to notice
    raft_fixture_propose (leader, "b", 3);
    raft_fixture_collect (harness, 1);
    s_expect_one_append_each (harness, 1, 2);
    raft_fixture_drop_all (harness);
    assert_false (raft_core_commit_untold (leader));
    assert_int_equal (s_tick_leader (harness, now + 1), 0);
    //  Entry 3 commits with nothing else to send: the notice tells both,
    //  once
    s_commit_by_follower_2 (harness, 3);
    assert_true (raft_core_commit_untold (leader));
    raft_core_notice_commit (leader);
    raft_fixture_collect (harness, 1);
    s_expect_one_append_each (harness, 0, 3);
    raft_fixture_drop_all (harness);
    assert_false (raft_core_commit_untold (leader));
    raft_core_notice_commit (leader);
    raft_fixture_collect (harness, 1);
    assert_int_equal (harness->queued_count, 0);
    //  Entry 4 commits and nobody asks for the notice: the tick tells both
    raft_fixture_propose (leader, "d", 4);
    raft_fixture_collect (harness, 1);
    raft_fixture_drop_all (harness);
    s_commit_by_follower_2 (harness, 4);
    s_tick_leader (harness, now + 2);
    s_expect_one_append_each (harness, 0, 4);
    raft_fixture_drop_all (harness);
    assert_int_equal (s_tick_leader (harness, now + 3), 0);
    raft_fixture_destroy (&harness);
}

static void
test_pipelining_window_is_bounded (void **state)
{
    (void)state;
    raft_fixture_t *harness = s_pipeline_harness (4, 2, 0);
    raft_core_t *leader = harness->cores[1];
    char text[16];
    for (uint64_t number = 0; number < 20; number++) {
        snprintf (text, sizeof (text), "c%02llu", (unsigned long long)number);
        raft_fixture_propose (leader, text, number + 2);
    }
    raft_fixture_collect (harness, 1);
    raft_message_t *appends[64];
    size_t count = s_appends_to (harness, 2, appends, 64);
    assert_int_equal (count, 4); //  the window, not the backlog
    for (size_t position = 0; position < count; position++) {
        assert_int_equal (appends[position]->prev_log_index, 1 + 2 * position);
        assert_int_equal (appends[position]->entry_count, 2);
        assert_int_equal (appends[position]->entries[0].index, 2 + 2 * position);
    }
    raft_fixture_drop_all (harness);

    //  An ack of the third frees three slots; a duplicate or older ack nothing
    raft_message_t reply = raft_fixture_append_reply (2, 1, 1, true, 7, 0);
    raft_core_receive (leader, &reply);
    reply = raft_fixture_append_reply (2, 1, 1, true, 5, 0);
    raft_core_receive (leader, &reply);
    raft_fixture_collect (harness, 1);
    count = s_appends_to (harness, 2, appends, 64);
    assert_int_equal (count, 3);
    assert_int_equal (appends[0]->prev_log_index, 9);
    raft_fixture_drop_all (harness);

    //  A refusal of something already acknowledged is stale: ignored
    reply = raft_fixture_append_reply (2, 1, 1, false, 0, 5);
    raft_core_receive (leader, &reply);
    raft_fixture_collect (harness, 1);
    assert_int_equal (s_appends_to (harness, 2, appends, 64), 0);

    //  A real refusal: back to probing, one AppendEntries at a time
    reply = raft_fixture_append_reply (2, 1, 1, false, 0, 11);
    reply.conflict_index = 10;
    raft_core_receive (leader, &reply);
    raft_fixture_collect (harness, 1);
    count = s_appends_to (harness, 2, appends, 64);
    assert_int_equal (count, 1);
    assert_int_equal (appends[0]->prev_log_index, 9);
    raft_fixture_drop_all (harness);
    raft_fixture_propose (leader, "more", 22);
    raft_fixture_collect (harness, 1);
    assert_int_equal (s_appends_to (harness, 2, appends, 64), 0);

    //  A heartbeat while the probe is unanswered goes out empty
    raft_core_tick (leader, ELECTION_MAX + HEARTBEAT_MS);
    raft_fixture_collect (harness, 1);
    count = s_appends_to (harness, 2, appends, 64);
    assert_int_equal (count, 1);
    assert_int_equal (appends[0]->entry_count, 0);
    assert_int_equal (appends[0]->prev_log_index, 9);
    raft_fixture_destroy (&harness);
}

static void
test_batches_respect_byte_limit (void **state)
{
    (void)state;
    raft_fixture_t *harness = s_pipeline_harness (64, 256, 10);
    raft_core_t *leader = harness->cores[1];
    for (uint64_t number = 0; number < 6; number++)
        raft_fixture_propose (leader, "abcd", number + 2);
    raft_fixture_collect (harness, 1);
    raft_message_t *appends[64];
    size_t count = s_appends_to (harness, 2, appends, 64);
    assert_int_equal (count, 3);
    for (size_t position = 0; position < count; position++)
        assert_int_equal (appends[position]->entry_count, 2);
    raft_fixture_destroy (&harness);
}

static void
test_rejection_hint_skips_conflicting_term (void **state)
{
    (void)state;
    raft_fixture_t *harness = raft_fixture_new (3, false);
    raft_core_t *leader = raft_fixture_start_core (harness, 1, 5);
    uint64_t terms[] = {1, 1, 2, 2, 4, 5};
    raft_fixture_restore_terms (leader, terms, 6);
    raft_fixture_win_with (leader, 1, 3, ELECTION_MAX);
    raft_fixture_collect (harness, 1);
    raft_message_t *probe = raft_fixture_find_queued (harness, RAFT_MESSAGE_APPEND_ENTRIES, 2);
    assert_int_equal (probe->prev_log_index, 6);
    raft_fixture_drop_all (harness);

    //  Follower 2 holds 1,1,3,3,3,3: we lack its term 3, so skip all of it
    raft_message_t reply = raft_fixture_append_reply (2, 1, 6, false, 0, 6);
    reply.conflict_index = 3;
    reply.conflict_term = 3;
    raft_core_receive (leader, &reply);
    //  Follower 3 holds 1,1,2,2,2,2: we hold term 2 up to 4, continue after it
    reply = raft_fixture_append_reply (3, 1, 6, false, 0, 6);
    reply.conflict_index = 3;
    reply.conflict_term = 2;
    raft_core_receive (leader, &reply);
    raft_fixture_collect (harness, 1);
    assert_int_equal (
        raft_fixture_find_queued (harness, RAFT_MESSAGE_APPEND_ENTRIES, 2)->prev_log_index, 2);
    assert_int_equal (
        raft_fixture_find_queued (harness, RAFT_MESSAGE_APPEND_ENTRIES, 3)->prev_log_index, 4);
    raft_fixture_drop_all (harness);

    //  A refusal that does not answer the probe now out is ignored
    reply = raft_fixture_append_reply (2, 1, 6, false, 0, 6);
    raft_core_receive (leader, &reply);
    raft_fixture_collect (harness, 1);
    assert_int_equal (harness->queued_count, 0);
    raft_fixture_destroy (&harness);
}

//  Entries proposed between readies may move the log array: everything a
//  ready points to must still be right, and stay valid until advance even
//  when persisted and tick come in between.
static void
test_ready_pointers_survive_proposals (void **state)
{
    (void)state;
    raft_fixture_t *harness = s_pipeline_harness (64, 256, 0);
    raft_core_t *leader = harness->cores[1];
    raft_fixture_drop_all (harness);
    char text[16];
    for (uint64_t round = 0; round < 3; round++) {
        for (uint64_t number = 0; number < 700; number++) {
            snprintf (text, sizeof (text), "%llu-%llu", (unsigned long long)round,
                      (unsigned long long)number);
            raft_fixture_propose (leader, text, 2 + round * 700 + number);
        }
        raft_ready_t ready;
        assert_true (raft_core_ready (leader, &ready));
        assert_int_equal (ready.entries_to_persist_count, 700);
        raft_core_persisted (leader, ready.entries_to_persist[699].index, 1);
        raft_core_tick (leader, ELECTION_MAX + round);
        size_t seen = 0;
        for (size_t position = 0; position < ready.message_count; position++) {
            const raft_message_t *message = &ready.messages[position];
            if (message->to != 2)
                continue;
            for (size_t entry = 0; entry < message->entry_count; entry++, seen++) {
                snprintf (text, sizeof (text), "%llu-%llu", (unsigned long long)round,
                          (unsigned long long)seen);
                assert_int_equal (message->entries[entry].size, strlen (text));
                assert_memory_equal (message->entries[entry].data, text, strlen (text));
            }
        }
        assert_int_equal (seen, 700);
        snprintf (text, sizeof (text), "%llu-699", (unsigned long long)round);
        assert_memory_equal (ready.entries_to_persist[699].data, text, strlen (text));
        raft_core_advance (leader);
        //  Follower 2 acknowledges it all
        raft_message_t reply = raft_fixture_append_reply (2, 1, 1, true, 1 + (round + 1) * 700, 0);
        raft_core_receive (leader, &reply);
        raft_fixture_collect (harness, 1);
        raft_fixture_drop_all (harness);
    }
    assert_int_equal (harness->applied[1], 2101);
    raft_fixture_destroy (&harness);
}

static void
test_malformed_messages_are_ignored (void **state)
{
    (void)state;
    raft_fixture_t *harness = raft_fixture_new (3, true);
    raft_core_t *core = harness->cores[2];
    raft_entry_t gap[] = {{.term = 1, .index = 1}, {.term = 1, .index = 3}};
    raft_entry_t future[] = {{.term = 9, .index = 1}};
    raft_message_t messages[] = {
        raft_fixture_append (2, 2, 1, 0, 0, NULL, 0, 0),   //  from self
        raft_fixture_append (0, 2, 1, 0, 0, NULL, 0, 0),   //  from node 0
        raft_fixture_append (1, 3, 1, 0, 0, NULL, 0, 0),   //  not for us
        raft_fixture_append (1, 2, 0, 0, 0, NULL, 0, 0),   //  term 0
        raft_fixture_append (1, 2, 1, 0, 0, NULL, 2, 0),   //  entries missing
        raft_fixture_append (1, 2, 1, 0, 0, gap, 2, 0),    //  not contiguous
        raft_fixture_append (1, 2, 1, 0, 0, future, 1, 0), //  entry from a later term
    };
    messages[0].type = RAFT_MESSAGE_APPEND_ENTRIES;
    raft_message_t unknown = raft_fixture_append (1, 2, 1, 0, 0, NULL, 0, 0);
    unknown.type = (raft_message_type_t)77;
    for (size_t position = 0; position < sizeof (messages) / sizeof (messages[0]); position++)
        raft_core_receive (core, &messages[position]);
    raft_core_receive (core, &unknown);
    raft_ready_t ready;
    assert_false (raft_core_ready (core, &ready));
    assert_int_equal (raft_core_term (core), 0);
    assert_int_equal (raft_core_last_index (core), 0);

    //  A leader ignores an impossible acknowledgement, and one from a node
    //  that is not a member
    raft_fixture_elect (harness, 1, ELECTION_MAX);
    raft_message_t reply = raft_fixture_append_reply (2, 1, 1, true, 99, 0);
    raft_core_receive (harness->cores[1], &reply);
    assert_int_equal (raft_core_commit_index (harness->cores[1]), 1);
    raft_fixture_propose (harness->cores[1], "a", 2);
    harness->persist = true;
    raft_fixture_collect (harness, 1);
    raft_fixture_drop_all (harness);
    reply = raft_fixture_append_reply (7, 1, 1, true, 2, 0);
    raft_core_receive (harness->cores[1], &reply);
    assert_int_equal (raft_core_commit_index (harness->cores[1]), 1);
    raft_fixture_destroy (&harness);
}

//  A follower whose disk lost entries it had acknowledged (its log store cut
//  a corrupt tail on restart) refuses the leader's heartbeat with a hint
//  below what the leader counted as matched: the leader must believe it and
//  refill it, without moving its own commit index back.
static void
test_follower_that_lost_acknowledged_entries_is_refilled (void **state)
{
    (void)state;
    raft_fixture_t *harness = raft_fixture_new_led (3);
    raft_core_t *leader = harness->cores[1];
    raft_fixture_propose (leader, "a", 2);
    raft_fixture_propose (leader, "b", 3);
    raft_fixture_propose (leader, "c", 4);
    raft_fixture_collect (harness, 1);
    raft_fixture_deliver_all (harness);
    raft_core_tick (leader, ELECTION_MAX + HEARTBEAT_MS);
    raft_fixture_collect (harness, 1);
    raft_fixture_deliver_all (harness);
    assert_int_equal (raft_core_commit_index (leader), 4);
    assert_int_equal (harness->applied[2], 4);

    //  Node 2 restarts with only entries 1 and 2 left
    raft_core_destroy (&harness->cores[2]);
    raft_core_options_t options = raft_fixture_options (harness, 2);
    options.term = 1;
    options.voted_for = 1;
    options.now_ms = ELECTION_MAX + HEARTBEAT_MS;
    raft_core_t *follower = harness->cores[2] = raft_core_new (&options);
    assert_non_null (follower);
    raft_fixture_restore (follower, 1, 1);
    raft_fixture_restore (follower, 2, 1);
    harness->applied[2] = 0;

    //  The next heartbeat finds the gap; the follower is refilled and applies
    for (uint64_t beat = 2; beat <= 4; beat++) {
        raft_core_tick (leader, ELECTION_MAX + beat * HEARTBEAT_MS);
        raft_fixture_collect (harness, 1);
        raft_fixture_deliver_all (harness);
        assert_int_equal (raft_core_commit_index (leader), 4);
    }
    assert_int_equal (raft_core_last_index (follower), 4);
    assert_int_equal (raft_core_persisted_index (follower), 4);
    assert_int_equal (raft_core_commit_index (follower), 4);
    assert_int_equal (harness->applied[2], 4);
    assert_memory_equal (raft_core_entry (follower, 4)->data, "c", 1);

    //  With node 3 gone, the leader and the refilled node 2 still commit
    raft_core_destroy (&harness->cores[3]);
    raft_fixture_propose (leader, "d", 5);
    raft_fixture_collect (harness, 1);
    raft_fixture_deliver_all (harness);
    assert_int_equal (raft_core_commit_index (leader), 5);
    raft_fixture_destroy (&harness);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_follower_hints_where_to_retry),
        cmocka_unit_test (test_follower_truncates_only_conflicts),
        cmocka_unit_test (test_follower_acks_only_after_persisted),
        cmocka_unit_test (test_follower_answers_heartbeat_while_sync_is_slow),
        cmocka_unit_test (test_leader_commits_only_current_term_entries),
        cmocka_unit_test (test_leader_counts_itself_only_when_persisted),
        cmocka_unit_test (test_commit_notice_waits_for_next_append_notice_or_tick),
        cmocka_unit_test (test_pipelining_window_is_bounded),
        cmocka_unit_test (test_batches_respect_byte_limit),
        cmocka_unit_test (test_rejection_hint_skips_conflicting_term),
        cmocka_unit_test (test_ready_pointers_survive_proposals),
        cmocka_unit_test (test_malformed_messages_are_ignored),
        cmocka_unit_test (test_follower_that_lost_acknowledged_entries_is_refilled),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
