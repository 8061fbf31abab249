/*  test_peer_codec — every Raft message kind survives encode and decode
    unchanged; garbage, truncated frames, foreign clusters and out-of-range
    types are refused without crashing.
*/
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "replica/peer_codec.h"

#define CLUSTER "raftq-test"

static void
s_assert_same_message (const raft_message_t *expected, const raft_message_t *actual)
{
    assert_int_equal (expected->type, actual->type);
    assert_int_equal (expected->from, actual->from);
    assert_int_equal (expected->to, actual->to);
    assert_int_equal (expected->term, actual->term);
    assert_int_equal (expected->last_log_index, actual->last_log_index);
    assert_int_equal (expected->last_log_term, actual->last_log_term);
    assert_int_equal (expected->granted, actual->granted);
    assert_int_equal (expected->transfer, actual->transfer);
    assert_int_equal (expected->prev_log_index, actual->prev_log_index);
    assert_int_equal (expected->prev_log_term, actual->prev_log_term);
    assert_int_equal (expected->leader_commit, actual->leader_commit);
    assert_int_equal (expected->success, actual->success);
    assert_int_equal (expected->match_index, actual->match_index);
    assert_int_equal (expected->reject_index, actual->reject_index);
    assert_int_equal (expected->conflict_index, actual->conflict_index);
    assert_int_equal (expected->conflict_term, actual->conflict_term);
    assert_int_equal (expected->snapshot_index, actual->snapshot_index);
    assert_int_equal (expected->snapshot_term, actual->snapshot_term);
    assert_int_equal (expected->offset, actual->offset);
    assert_int_equal (expected->done, actual->done);
    assert_int_equal (expected->data_size, actual->data_size);
    if (expected->data_size)
        assert_memory_equal (expected->data, actual->data, expected->data_size);
    assert_int_equal (expected->entry_count, actual->entry_count);
    for (size_t position = 0; position < expected->entry_count; position++) {
        const raft_entry_t *want = &expected->entries[position];
        const raft_entry_t *got = &actual->entries[position];
        assert_int_equal (want->term, got->term);
        assert_int_equal (want->index, got->index);
        assert_int_equal (want->type, got->type);
        assert_int_equal (want->size, got->size);
        if (want->size)
            assert_memory_equal (want->data, got->data, want->size);
    }
}

//  Encodes, decodes, compares; returns the encoded frame for further abuse.
static zframe_t *
s_round_trip (const raft_message_t *message)
{
    zframe_t *frame = peer_codec_encode (message, CLUSTER);
    assert_non_null (frame);
    peer_codec_message_t decoded;
    char error[256] = "";
    int rc = peer_codec_decode (zframe_data (frame), zframe_size (frame), CLUSTER, &decoded, error,
                                sizeof (error));
    if (rc)
        fail_msg ("decode failed: %s", error);
    s_assert_same_message (message, &decoded.message);
    peer_codec_message_clear (&decoded);
    assert_null (decoded.packed);
    return frame;
}

static void
test_request_vote (void **state)
{
    (void)state;
    raft_message_t message = {.type = RAFT_MESSAGE_REQUEST_VOTE,
                              .from = 2,
                              .to = 5,
                              .term = 77,
                              .last_log_index = 1000000007ULL,
                              .last_log_term = 76};
    zframe_t *frame = s_round_trip (&message);
    zframe_destroy (&frame);
}

static void
test_request_vote_reply (void **state)
{
    (void)state;
    raft_message_t granted = {
        .type = RAFT_MESSAGE_REQUEST_VOTE_REPLY, .from = 5, .to = 2, .term = 77, .granted = true};
    zframe_t *frame = s_round_trip (&granted);
    zframe_destroy (&frame);
    raft_message_t refused = granted;
    refused.granted = false;
    frame = s_round_trip (&refused);
    zframe_destroy (&frame);
}

static void
test_pre_vote_and_transfer (void **state)
{
    (void)state;
    raft_message_t request = {.type = RAFT_MESSAGE_PRE_VOTE,
                              .from = 3,
                              .to = 1,
                              .term = 12,
                              .last_log_index = 40,
                              .last_log_term = 11};
    zframe_t *frame = s_round_trip (&request);
    zframe_destroy (&frame);
    raft_message_t reply = {
        .type = RAFT_MESSAGE_PRE_VOTE_REPLY, .from = 1, .to = 3, .term = 12, .granted = true};
    frame = s_round_trip (&reply);
    zframe_destroy (&frame);
    raft_message_t timeout_now = {.type = RAFT_MESSAGE_TIMEOUT_NOW, .from = 1, .to = 2, .term = 11};
    frame = s_round_trip (&timeout_now);
    zframe_destroy (&frame);
    raft_message_t transfer_vote = {.type = RAFT_MESSAGE_REQUEST_VOTE,
                                    .from = 2,
                                    .to = 3,
                                    .term = 12,
                                    .last_log_index = 40,
                                    .last_log_term = 11,
                                    .transfer = true};
    frame = s_round_trip (&transfer_vote);
    zframe_destroy (&frame);
}

static void
test_install_snapshot (void **state)
{
    (void)state;
    uint8_t chunk[5000];
    for (size_t position = 0; position < sizeof (chunk); position++)
        chunk[position] = (uint8_t)(position * 7);
    raft_message_t message = {.type = RAFT_MESSAGE_INSTALL_SNAPSHOT,
                              .from = 1,
                              .to = 4,
                              .term = 9,
                              .snapshot_index = 123456,
                              .snapshot_term = 8,
                              .offset = 10000,
                              .data = chunk,
                              .data_size = sizeof (chunk),
                              .done = true};
    zframe_t *frame = s_round_trip (&message);
    zframe_destroy (&frame);
    raft_message_t reply = {.type = RAFT_MESSAGE_INSTALL_SNAPSHOT_REPLY,
                            .from = 4,
                            .to = 1,
                            .term = 9,
                            .snapshot_index = 123456,
                            .offset = 15000,
                            .done = true};
    frame = s_round_trip (&reply);
    zframe_destroy (&frame);
    //  Snapshot bytes belong to InstallSnapshot only
    char error[256];
    reply.data = chunk;
    reply.data_size = 10;
    frame = peer_codec_encode (&reply, CLUSTER);
    peer_codec_message_t decoded;
    assert_int_equal (peer_codec_decode (zframe_data (frame), zframe_size (frame), CLUSTER,
                                         &decoded, error, sizeof (error)),
                      -1);
    zframe_destroy (&frame);
}

static void
test_append_entries (void **state)
{
    (void)state;
    uint8_t big[70000];
    for (size_t position = 0; position < sizeof (big); position++)
        big[position] = (uint8_t)(position * 31 + 7);
    raft_entry_t entries[] = {
        {.term = 3, .index = 11, .type = RAFT_ENTRY_NOOP, .data = NULL, .size = 0},
        {.term = 4, .index = 12, .type = RAFT_ENTRY_COMMAND, .data = (uint8_t *)"hello", .size = 5},
        {.term = 4, .index = 13, .type = RAFT_ENTRY_COMMAND, .data = big, .size = sizeof (big)},
        {.term = 4, .index = 14, .type = RAFT_ENTRY_CONFIG, .data = (uint8_t *)"\0\1\2", .size = 3},
    };
    raft_message_t message = {.type = RAFT_MESSAGE_APPEND_ENTRIES,
                              .from = 1,
                              .to = 3,
                              .term = 4,
                              .prev_log_index = 10,
                              .prev_log_term = 3,
                              .leader_commit = 9,
                              .entries = entries,
                              .entry_count = 4};
    zframe_t *frame = s_round_trip (&message);
    zframe_destroy (&frame);

    //  A heartbeat: no entries at all
    message.entries = NULL;
    message.entry_count = 0;
    frame = s_round_trip (&message);
    zframe_destroy (&frame);
}

static void
test_append_entries_reply (void **state)
{
    (void)state;
    raft_message_t accepted = {.type = RAFT_MESSAGE_APPEND_ENTRIES_REPLY,
                               .from = 3,
                               .to = 1,
                               .term = 4,
                               .success = true,
                               .match_index = 14};
    zframe_t *frame = s_round_trip (&accepted);
    zframe_destroy (&frame);
    raft_message_t refused = {.type = RAFT_MESSAGE_APPEND_ENTRIES_REPLY,
                              .from = 3,
                              .to = 1,
                              .term = 4,
                              .success = false,
                              .reject_index = 10,
                              .conflict_index = 7,
                              .conflict_term = 2};
    frame = s_round_trip (&refused);
    zframe_destroy (&frame);
}

static int
s_decode (const uint8_t *data, size_t size, const char *cluster, char *error, size_t error_size)
{
    peer_codec_message_t decoded;
    int rc = peer_codec_decode (data, size, cluster, &decoded, error, error_size);
    if (rc == 0)
        peer_codec_message_clear (&decoded);
    else
        assert_null (decoded.packed);
    return rc;
}

static void
test_foreign_cluster_refused (void **state)
{
    (void)state;
    raft_message_t message = {.type = RAFT_MESSAGE_REQUEST_VOTE, .from = 1, .to = 2, .term = 1};
    zframe_t *frame = peer_codec_encode (&message, "other-cluster");
    assert_non_null (frame);
    char error[256] = "";
    assert_int_equal (
        s_decode (zframe_data (frame), zframe_size (frame), CLUSTER, error, sizeof (error)), -1);
    assert_non_null (strstr (error, "other-cluster"));
    zframe_destroy (&frame);
}

static void
test_out_of_range_types_refused (void **state)
{
    (void)state;
    char error[256];
    //  The encoder refuses what it cannot name
    raft_message_t unknown = {.type = (raft_message_type_t)99, .from = 1, .term = 1};
    assert_null (peer_codec_encode (&unknown, CLUSTER));

    //  A hand-built message with type 99, and one with type NONE
    Raftq__Peer__Message packed = RAFTQ__PEER__MESSAGE__INIT;
    packed.cluster = CLUSTER;
    packed.from = 1;
    uint8_t buffer[256];
    packed.type = (Raftq__Peer__MessageType)99;
    size_t size = raftq__peer__message__pack (&packed, buffer);
    assert_int_equal (s_decode (buffer, size, CLUSTER, error, sizeof (error)), -1);
    packed.type = RAFTQ__PEER__MESSAGE_TYPE__NONE;
    size = raftq__peer__message__pack (&packed, buffer);
    assert_int_equal (s_decode (buffer, size, CLUSTER, error, sizeof (error)), -1);

    //  No sender
    packed.type = RAFTQ__PEER__MESSAGE_TYPE__REQUEST_VOTE;
    packed.from = 0;
    size = raftq__peer__message__pack (&packed, buffer);
    assert_int_equal (s_decode (buffer, size, CLUSTER, error, sizeof (error)), -1);

    //  An entry of unknown type, and entries where none belong
    raft_entry_t entry = {.term = 1, .index = 1, .type = 200, .data = NULL, .size = 0};
    raft_message_t append = {.type = RAFT_MESSAGE_APPEND_ENTRIES,
                             .from = 1,
                             .to = 2,
                             .term = 1,
                             .entries = &entry,
                             .entry_count = 1};
    zframe_t *frame = peer_codec_encode (&append, CLUSTER);
    assert_non_null (frame);
    assert_int_equal (
        s_decode (zframe_data (frame), zframe_size (frame), CLUSTER, error, sizeof (error)), -1);
    assert_non_null (strstr (error, "entry type"));
    zframe_destroy (&frame);
    entry.type = RAFT_ENTRY_COMMAND;
    append.type = RAFT_MESSAGE_REQUEST_VOTE_REPLY;
    frame = peer_codec_encode (&append, CLUSTER);
    assert_non_null (frame);
    assert_int_equal (
        s_decode (zframe_data (frame), zframe_size (frame), CLUSTER, error, sizeof (error)), -1);
    zframe_destroy (&frame);
}

static void
test_truncated_refused (void **state)
{
    (void)state;
    uint8_t payload[300];
    memset (payload, 0xAB, sizeof (payload));
    raft_entry_t entries[] = {
        {.term = 2,
         .index = 5,
         .type = RAFT_ENTRY_COMMAND,
         .data = payload,
         .size = sizeof (payload)},
        {.term = 2, .index = 6, .type = RAFT_ENTRY_COMMAND, .data = payload, .size = 10},
    };
    raft_message_t message = {.type = RAFT_MESSAGE_APPEND_ENTRIES,
                              .from = 1,
                              .to = 2,
                              .term = 2,
                              .prev_log_index = 4,
                              .prev_log_term = 2,
                              .leader_commit = 4,
                              .entries = entries,
                              .entry_count = 2};
    zframe_t *frame = peer_codec_encode (&message, CLUSTER);
    assert_non_null (frame);
    //  Cutting inside a length-delimited field or a varint must be refused;
    //  a cut exactly on a field boundary may decode, but then the message
    //  differs, so every prefix either fails or yields a valid message
    size_t full = zframe_size (frame);
    size_t refused = 0;
    for (size_t size = 0; size < full; size++) {
        char error[256];
        peer_codec_message_t decoded;
        //  A copy of exactly size bytes lets valgrind catch any overread
        uint8_t *prefix = malloc (size ? size : 1);
        assert_non_null (prefix);
        memcpy (prefix, zframe_data (frame), size);
        if (peer_codec_decode (prefix, size, CLUSTER, &decoded, error, sizeof (error)) == 0) {
            assert_true (decoded.message.entry_count <= 2);
            peer_codec_message_clear (&decoded);
        } else
            refused++;
        free (prefix);
    }
    assert_true (refused > full / 2);
    zframe_destroy (&frame);
}

static void
test_garbage_refused (void **state)
{
    (void)state;
    unsigned seed = (unsigned)time (NULL);
    srandom (seed);
    size_t accepted = 0;
    for (int round = 0; round < 2000; round++) {
        uint8_t garbage[64];
        size_t size = (size_t)(random () % sizeof (garbage));
        for (size_t position = 0; position < size; position++)
            garbage[position] = (uint8_t)random ();
        char error[256];
        peer_codec_message_t decoded;
        if (peer_codec_decode (garbage, size, CLUSTER, &decoded, error, sizeof (error)) == 0) {
            //  Only a well-formed message of this cluster may pass
            if (!decoded.packed || strcmp (decoded.packed->cluster, CLUSTER) != 0)
                fail_msg ("garbage accepted, seed %u", seed);
            accepted++;
            peer_codec_message_clear (&decoded);
        }
    }
    if (accepted)
        fail_msg ("random bytes passed as messages of this cluster %zu times, seed %u", accepted,
                  seed);
    char error[256];
    assert_int_equal (s_decode ((const uint8_t *)"", 0, CLUSTER, error, sizeof (error)), -1);
    assert_int_equal (
        s_decode ((const uint8_t *)"\xff\xff\xff\xff", 4, CLUSTER, error, sizeof (error)), -1);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_request_vote),
        cmocka_unit_test (test_request_vote_reply),
        cmocka_unit_test (test_pre_vote_and_transfer),
        cmocka_unit_test (test_install_snapshot),
        cmocka_unit_test (test_append_entries),
        cmocka_unit_test (test_append_entries_reply),
        cmocka_unit_test (test_foreign_cluster_refused),
        cmocka_unit_test (test_out_of_range_types_refused),
        cmocka_unit_test (test_truncated_refused),
        cmocka_unit_test (test_garbage_refused),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
