/*  test_raft_snapshot — snapshots in the Raft core.

    A follower caught up by a snapshot after compaction, chunks streamed
    and installed, and a snapshot from a new leader.
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "raft/raft_core.h"
#include "raft_fixture.h"

//  A follower cut off while the leader compacted its log catches up by
//  snapshot, streamed in chunks, then by entries again.
static void
test_snapshot_catches_up_a_follower (void **state)
{
    (void)state;
    raft_fixture_t *harness = raft_fixture_new_led (3);
    raft_core_t *leader = harness->cores[1];
    uint64_t now = ELECTION_MAX;
    raft_fixture_beat (harness, &now);
    harness->isolated = 3;
    for (uint64_t index = 2; index <= 6; index++)
        raft_fixture_propose (leader, "cmd", index);
    raft_fixture_collect (harness, 1);
    raft_fixture_deliver_all (harness);
    raft_fixture_beat (harness, &now);
    assert_int_equal (harness->applied[1], 6);
    assert_int_equal (raft_core_compact (leader, 6), 0);
    assert_int_equal (raft_core_compact (leader, 6), -1); //  already dropped
    assert_int_equal (raft_core_snapshot_index (leader), 6);
    assert_null (raft_core_entry (leader, 6));
    size_t count;
    raft_member_t *members = raft_core_config_as_of (leader, 6, &count);
    assert_non_null (members);
    assert_int_equal (count, 3);
    free (members);
    assert_null (raft_core_config_as_of (leader, 5, &count)); //  before what it holds

    const char *blob = "the state machine as of index 6";
    harness->snapshot = (const uint8_t *)blob;
    harness->snapshot_size = strlen (blob);
    harness->snapshot_index = 6;
    harness->snapshot_term = 1;
    harness->isolated = 0;
    for (int beat = 0; beat < 20 && !harness->installed[3]; beat++)
        raft_fixture_beat (harness, &now);
    raft_core_t *follower = harness->cores[3];
    assert_int_equal (harness->installed[3], 1);
    assert_int_equal (harness->received_size[3], strlen (blob));
    assert_memory_equal (harness->received[3], blob, strlen (blob));
    assert_int_equal (raft_core_snapshot_index (follower), 6);
    assert_int_equal (raft_core_commit_index (follower), 6);
    assert_int_equal (raft_core_applied_index (follower), 6);

    //  Entries again from there
    raft_fixture_propose (leader, "after", 7);
    raft_fixture_beat (harness, &now);
    raft_fixture_beat (harness, &now);
    assert_int_equal (raft_core_last_index (follower), 7);
    assert_int_equal (harness->applied[3], 7);
    raft_progress_t progress;
    assert_int_equal (raft_core_progress (leader, 3, &progress), 0);
    assert_int_equal (progress.match_index, 7);
    assert_true (progress.replicating);
    raft_fixture_destroy (&harness);
}

//  Compaction a few entries at a time while the log keeps growing, as the
//  actor does it: every entry still held reads back with its own index,
//  term and payload, whether the dropped prefix slid away or not.
static void
test_stepwise_compaction_keeps_every_entry (void **state)
{
    (void)state;
    raft_fixture_t *harness = raft_fixture_new_led (3);
    raft_core_t *leader = harness->cores[1];
    uint64_t now = ELECTION_MAX;
    raft_fixture_beat (harness, &now);
    uint64_t first_proposed = raft_core_last_index (leader) + 1;
    uint64_t compacted = 0;
    char text[32];
    for (uint64_t index = first_proposed; index < first_proposed + 2000; index++) {
        snprintf (text, sizeof (text), "entry %" PRIu64, index);
        raft_fixture_propose (leader, text, index);
        if (index % 50 != 0)
            continue;
        raft_fixture_beat (harness, &now);
        assert_int_equal (harness->applied[1], index);
        //  Up to 37 behind what is applied, 13 at a time
        while (compacted + 13 + 37 <= index) {
            compacted += 13;
            if (compacted >= first_proposed)
                assert_int_equal (raft_core_compact (leader, compacted), 0);
        }
        for (uint64_t held = raft_core_snapshot_index (leader) + 1; held <= index; held++) {
            const raft_entry_t *entry = raft_core_entry (leader, held);
            assert_non_null (entry);
            assert_int_equal (entry->index, held);
            if (held >= first_proposed) {
                snprintf (text, sizeof (text), "entry %" PRIu64, held);
                assert_int_equal (entry->size, strlen (text));
                assert_memory_equal (entry->data, text, entry->size);
            }
        }
        assert_null (raft_core_entry (leader, raft_core_snapshot_index (leader)));
    }
    raft_fixture_destroy (&harness);
}

//  A follower takes chunks only in order and says where it stands.
static void
test_snapshot_chunks_taken_in_order (void **state)
{
    (void)state;
    raft_fixture_t *harness = raft_fixture_new (3, true);
    raft_core_t *follower = harness->cores[2];
    raft_entry_t stale = {.term = 1, .index = 1, .type = RAFT_ENTRY_COMMAND};
    raft_message_t append = raft_fixture_append (1, 2, 1, 0, 0, &stale, 1, 0);
    raft_core_receive (follower, &append);
    raft_fixture_collect (harness, 2);
    raft_fixture_drop_all (harness);
    raft_message_t chunk = raft_fixture_chunk (8, "89abcdef");
    raft_core_receive (follower, &chunk); //  nothing started: dropped
    raft_ready_t ready;
    assert_true (raft_core_ready (follower, &ready));
    assert_int_equal (ready.snapshot_chunk_count, 0);
    assert_int_equal (ready.message_count, 1);
    assert_int_equal (ready.messages[0].type, RAFT_MESSAGE_INSTALL_SNAPSHOT_REPLY);
    assert_int_equal (ready.messages[0].offset, 0);
    raft_core_advance (follower);
    chunk.offset = 0;
    chunk.data = (const uint8_t *)"01234567";
    raft_core_receive (follower, &chunk);
    chunk.offset = 16; //  a gap: dropped
    raft_core_receive (follower, &chunk);
    assert_true (raft_core_ready (follower, &ready));
    assert_int_equal (ready.snapshot_chunk_count, 1);
    assert_memory_equal (ready.snapshot_chunks[0].data, "01234567", 8);
    assert_int_equal (ready.message_count, 2);
    assert_int_equal (ready.messages[1].offset, 8);
    raft_core_advance (follower);
    chunk.offset = 8;
    chunk.data = (const uint8_t *)"89abcdef";
    chunk.done = true;
    raft_core_receive (follower, &chunk);
    assert_true (raft_core_ready (follower, &ready));
    assert_int_equal (ready.snapshot_chunk_count, 1);
    assert_true (ready.snapshot_chunks[0].done);
    assert_true (ready.messages[0].done);
    assert_int_equal (ready.messages[0].offset, 16);
    raft_core_advance (follower);
    raft_fixture_destroy (&harness);
}

//  Node 2 with a stale entry of term 1 and the whole of node 1's snapshot
//  of index 6 received, not yet installed.
static raft_core_t *
s_follower_with_snapshot (raft_fixture_t *harness)
{
    raft_core_t *follower = harness->cores[2];
    raft_entry_t stale = {.term = 1, .index = 1, .type = RAFT_ENTRY_COMMAND};
    raft_message_t append = raft_fixture_append (1, 2, 1, 0, 0, &stale, 1, 0);
    raft_core_receive (follower, &append);
    raft_message_t chunk = raft_fixture_chunk (0, "01234567");
    raft_core_receive (follower, &chunk);
    chunk = raft_fixture_chunk (8, "89abcdef");
    chunk.done = true;
    raft_core_receive (follower, &chunk);
    raft_fixture_collect (harness, 2);
    raft_fixture_drop_all (harness);
    return follower;
}

//  Installed, the snapshot replaces the whole log; then AppendEntries from
//  below it are taken from its end.
static void
test_snapshot_install_replaces_the_log (void **state)
{
    (void)state;
    raft_fixture_t *harness = raft_fixture_new (3, true);
    raft_core_t *follower = s_follower_with_snapshot (harness);
    raft_ready_t ready;
    raft_message_t chunk = raft_fixture_chunk (0, "01234567");
    raft_message_t append;

    //  Installed: the log is replaced, the leader hears we hold index 6
    raft_member_t members[MAX_NODES];
    size_t count = raft_fixture_voter_members (harness, members);
    assert_int_equal (raft_core_snapshot_installed (follower, 6, 2, members, count), -1); //  term
    assert_int_equal (raft_core_snapshot_installed (follower, 6, 1, members, count), 0);
    harness->applied[2] = 6;
    assert_int_equal (raft_core_last_index (follower), 6);
    assert_null (raft_core_entry (follower, 1));
    assert_int_equal (raft_core_commit_index (follower), 6);
    assert_int_equal (raft_core_persisted_index (follower), 6);
    assert_true (raft_core_ready (follower, &ready));
    assert_int_equal (ready.committed_count, 0);
    assert_int_equal (ready.message_count, 1);
    assert_true (ready.messages[0].success);
    assert_int_equal (ready.messages[0].match_index, 6);
    raft_core_advance (follower);
    assert_int_equal (raft_core_snapshot_installed (follower, 6, 1, members, count), -1); //  stale
    //  A chunk of what we hold already is answered as a match
    chunk.offset = 0;
    raft_core_receive (follower, &chunk);
    assert_true (raft_core_ready (follower, &ready));
    assert_int_equal (ready.snapshot_chunk_count, 0);
    assert_true (ready.messages[0].success);
    raft_core_advance (follower);

    //  AppendEntries from below the snapshot: what it covers matches
    raft_entry_t entries[5];
    for (uint64_t position = 0; position < 5; position++)
        entries[position] = (raft_entry_t){.term = 1, .index = 4 + position};
    append = raft_fixture_append (1, 2, 1, 3, 1, entries, 5, 8);
    raft_core_receive (follower, &append);
    assert_true (raft_core_ready (follower, &ready));
    assert_int_equal (ready.entries_to_persist_count, 2);
    assert_int_equal (ready.entries_to_persist[0].index, 7);
    raft_core_persisted (follower, 8, 1);
    raft_core_advance (follower);
    raft_fixture_collect (harness, 2);
    raft_message_t *reply =
        raft_fixture_find_queued (harness, RAFT_MESSAGE_APPEND_ENTRIES_REPLY, 1);
    assert_non_null (reply);
    assert_true (reply->success);
    assert_int_equal (reply->match_index, 8);
    raft_fixture_destroy (&harness);
}

//  A new leader streams the same snapshot: the follower reports nothing of
//  the old leader's partial stream to it, so it starts from offset 0.
static void
test_snapshot_from_a_new_leader (void **state)
{
    (void)state;
    raft_fixture_t *harness = raft_fixture_new (3, true);
    raft_core_t *follower = harness->cores[2];
    raft_message_t chunk = raft_fixture_chunk (0, "01234567");
    raft_core_receive (follower, &chunk);
    raft_fixture_collect (harness, 2);
    raft_fixture_drop_all (harness);
    chunk.from = 3;
    chunk.term = 2;
    chunk.offset = 8;
    raft_core_receive (follower, &chunk);
    raft_ready_t ready;
    assert_true (raft_core_ready (follower, &ready));
    assert_int_equal (ready.snapshot_chunk_count, 0);
    assert_int_equal (ready.messages[0].to, 3);
    assert_int_equal (ready.messages[0].offset, 0);
    raft_core_advance (follower);
    chunk.offset = 0;
    raft_core_receive (follower, &chunk);
    assert_true (raft_core_ready (follower, &ready));
    assert_int_equal (ready.snapshot_chunk_count, 1);
    assert_int_equal (ready.snapshot_chunks[0].from, 3);
    assert_int_equal (ready.messages[0].offset, 8);
    raft_core_advance (follower);
    raft_fixture_destroy (&harness);
}

//  A follower whose log holds the snapshot's last entry (with its term)
//  holds all it covers: it neither takes nor installs it, so entries after
//  it, which it may have acknowledged, stay; the leader goes on from there.
static void
test_snapshot_never_replaces_a_log_that_holds_it (void **state)
{
    (void)state;
    raft_fixture_t *harness = raft_fixture_new (3, true);
    raft_core_t *follower = harness->cores[2];
    raft_entry_t entries[8];
    for (uint64_t position = 0; position < 8; position++)
        entries[position] = (raft_entry_t){.term = 1, .index = 1 + position};
    raft_message_t append = raft_fixture_append (1, 2, 1, 0, 0, entries, 8, 0);
    raft_core_receive (follower, &append);
    raft_fixture_collect (harness, 2);
    raft_fixture_drop_all (harness);
    assert_int_equal (raft_core_persisted_index (follower), 8);

    raft_message_t chunk = raft_fixture_chunk (0, "01234567");
    raft_core_receive (follower, &chunk);
    raft_ready_t ready;
    assert_true (raft_core_ready (follower, &ready));
    assert_int_equal (ready.snapshot_chunk_count, 0);
    assert_int_equal (ready.message_count, 1);
    assert_int_equal (ready.messages[0].type, RAFT_MESSAGE_APPEND_ENTRIES_REPLY);
    assert_true (ready.messages[0].success);
    assert_int_equal (ready.messages[0].match_index, 6);
    raft_core_advance (follower);

    //  Received all the same (a stream begun before the log grew): not installed
    raft_member_t members[MAX_NODES];
    size_t count = raft_fixture_voter_members (harness, members);
    assert_int_equal (raft_core_snapshot_installed (follower, 6, 1, members, count), -1);
    assert_int_equal (raft_core_last_index (follower), 8);
    assert_non_null (raft_core_entry (follower, 7));
    assert_int_equal (raft_core_snapshot_index (follower), 0);
    raft_fixture_destroy (&harness);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_snapshot_catches_up_a_follower),
        cmocka_unit_test (test_stepwise_compaction_keeps_every_entry),
        cmocka_unit_test (test_snapshot_chunks_taken_in_order),
        cmocka_unit_test (test_snapshot_install_replaces_the_log),
        cmocka_unit_test (test_snapshot_from_a_new_leader),
        cmocka_unit_test (test_snapshot_never_replaces_a_log_that_holds_it),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
