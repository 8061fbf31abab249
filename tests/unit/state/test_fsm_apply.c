/*  test_fsm_apply — what fsm_apply does with any entry: undecodable ones
    answered INTERNAL on every node alike, indexes only in order, and the
    exactly-once table: retries answered with the remembered reply, stale
    requests refused, eviction of the least recently applied client.
    Exactly-once of chat operations: test_chat_messages.c.
*/

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fsm_fixture.h"
#include "queue_fixture.h"

//  Replies are the same when they pack to the same bytes.
static void
s_assert_same_reply (const Raftq__Reply *first, const Raftq__Reply *second)
{
    fsm_output_t first_output = {.reply = (Raftq__Reply *)first};
    fsm_output_t second_output = {.reply = (Raftq__Reply *)second};
    assert_true (fsm_fixture_same_output (&first_output, &second_output));
}

static void
test_malformed_entry (void **state)
{
    (void)state;
    fsm_t *fsm = fsm_new (NULL);
    fsm_t *twin = fsm_new (NULL);
    assert_int_equal (queue_fixture_run (fsm, QUEUE_CREATE, "t", NULL), RAFTQ__CODE__OK);
    assert_int_equal (queue_fixture_run (twin, QUEUE_CREATE, "t", NULL), RAFTQ__CODE__OK);

    //  Truncated varint, a length beyond the end, a field of wire type 7
    const uint8_t *garbage[] = {(const uint8_t *)"\x08\xff", (const uint8_t *)"\x62\x10\x0a",
                                (const uint8_t *)"\x0f\x01"};
    const size_t sizes[] = {2, 3, 2};
    for (size_t position = 0; position < 3; position++) {
        fsm_output_t output;
        uint64_t index = fsm_applied_index (fsm) + 1;
        assert_int_equal (fsm_apply (fsm, index, garbage[position], sizes[position], &output), 0);
        assert_non_null (output.reply);
        assert_int_equal (output.reply->code, RAFTQ__CODE__INTERNAL);
        assert_string_equal (output.reply->error, "undecodable command");
        assert_int_equal (output.reply->index, index);
        assert_int_equal (output.event_count, 0);
        fsm_output_clear (&output);
        assert_int_equal (fsm_applied_index (fsm), index);
        assert_int_equal (fsm_skip (twin, index), 0);
        assert_int_equal (fsm_state_hash (fsm), fsm_state_hash (twin));
    }
    //  NULL data with a size is undecodable too; an empty entry is a command
    //  without an operation
    fsm_output_t output;
    assert_int_equal (fsm_apply (fsm, fsm_applied_index (fsm) + 1, NULL, 4, &output), 0);
    assert_int_equal (output.reply->code, RAFTQ__CODE__INTERNAL);
    fsm_output_clear (&output);
    assert_int_equal (fsm_apply (fsm, fsm_applied_index (fsm) + 1, NULL, 0, &output), 0);
    assert_int_equal (output.reply->code, RAFTQ__CODE__INVALID_ARGUMENT);
    fsm_output_clear (&output);
    fsm_destroy (&twin);
    fsm_destroy (&fsm);
}

//  A query answers from the applied state as apply would, and changes
//  nothing: no index, no hash, no exactly-once record. Writes are no query.
static void
test_query_reads_without_applying (void **state)
{
    (void)state;
    fsm_t *fsm = fsm_new (NULL);
    assert_int_equal (queue_fixture_run (fsm, QUEUE_CREATE, "t", NULL), RAFTQ__CODE__OK);
    uint64_t applied = fsm_applied_index (fsm);
    uint64_t hash = fsm_state_hash (fsm);
    queue_fixture_t holder;
    Raftq__State__Command *list = queue_fixture_command (&holder, QUEUE_LIST, NULL, NULL, 0, 7, 3);
    assert_true (fsm_is_query (list));
    Raftq__Reply *reply = fsm_query (fsm, list);
    assert_non_null (reply);
    assert_int_equal (reply->code, RAFTQ__CODE__OK);
    assert_int_equal (reply->index, applied);
    assert_int_equal (reply->topics->n_names, 1);
    assert_string_equal (reply->topics->names[0], "t");
    raftq__reply__free_unpacked (reply, NULL);
    assert_int_equal (fsm_applied_index (fsm), applied);
    assert_int_equal (fsm_state_hash (fsm), hash);
    //  Not remembered: the same seq applied later is new, not a retry
    assert_null (fsm_cached_reply (fsm, 7, 3));
    Raftq__State__Command *create =
        queue_fixture_command (&holder, QUEUE_CREATE, "u", NULL, 0, 0, 0);
    assert_false (fsm_is_query (create));
    assert_null (fsm_query (fsm, create));
    fsm_destroy (&fsm);
}

static void
test_index_order (void **state)
{
    (void)state;
    fsm_t *fsm = fsm_new (NULL);
    queue_fixture_t holder;
    size_t size;
    uint8_t *data =
        fsm_fixture_pack (queue_fixture_command (&holder, QUEUE_CREATE, "t", NULL, 0, 0, 0), &size);
    uint64_t hash = fsm_state_hash (fsm);
    fsm_output_t output;

    assert_int_equal (fsm_apply (fsm, 0, data, size, &output), -1);
    assert_null (output.reply);
    assert_int_equal (output.event_count, 0);
    assert_int_equal (fsm_apply (fsm, 2, data, size, &output), -1);
    assert_null (output.reply);
    assert_int_equal (fsm_skip (fsm, 2), -1);
    assert_int_equal (fsm_skip (fsm, 0), -1);
    assert_int_equal (fsm_applied_index (fsm), 0);
    assert_int_equal (fsm_state_hash (fsm), hash);

    assert_int_equal (fsm_skip (fsm, 1), 0);
    assert_int_equal (fsm_apply (fsm, 2, data, size, &output), 0);
    assert_int_equal (output.reply->code, RAFTQ__CODE__OK);
    assert_int_equal (output.reply->index, 2);
    fsm_output_clear (&output);
    //  Re-applying an applied index is refused and changes nothing
    hash = fsm_state_hash (fsm);
    assert_int_equal (fsm_apply (fsm, 2, data, size, &output), -1);
    assert_int_equal (fsm_skip (fsm, 2), -1);
    assert_int_equal (fsm_state_hash (fsm), hash);
    assert_int_equal (fsm_applied_index (fsm), 2);
    free (data);

    //  Clearing an empty output is harmless
    fsm_output_clear (&output);
    fsm_destroy (&fsm);
    fsm_destroy (&fsm);
}

//  The client of the exactly-once tests.
#define CLIENT 0xfeedface12345678ULL

//  A state with topic "queue" where CLIENT published "once" with seq 7;
//  that apply's output in first.
static fsm_t *
s_published_once (fsm_output_t *first)
{
    fsm_t *fsm = fsm_new (NULL);
    assert_int_equal (queue_fixture_run (fsm, QUEUE_CREATE, "queue", NULL), RAFTQ__CODE__OK);
    queue_fixture_t holder;
    fsm_fixture_apply (
        fsm, queue_fixture_command (&holder, QUEUE_PUBLISH, "queue", "once", 4, CLIENT, 7), first);
    return fsm;
}

static void
test_exactly_once_retry (void **state)
{
    (void)state;
    queue_fixture_t holder;
    fsm_output_t first, retry;
    fsm_t *fsm = s_published_once (&first);
    assert_int_equal (first.reply->code, RAFTQ__CODE__OK);
    assert_int_equal (first.reply->published->sequence, 1);
    assert_int_equal (first.event_count, 1);
    uint64_t first_index = first.reply->index;

    //  The retry: same reply (its original index), no events, no new message
    uint64_t hash_before = fsm_state_hash (fsm);
    fsm_t *twin = fsm_new (NULL);
    assert_int_equal (queue_fixture_run (twin, QUEUE_CREATE, "queue", NULL), RAFTQ__CODE__OK);
    fsm_fixture_apply (
        twin, queue_fixture_command (&holder, QUEUE_PUBLISH, "queue", "once", 4, CLIENT, 7),
        &retry);
    fsm_output_clear (&retry);
    assert_int_equal (fsm_state_hash (twin), hash_before);

    size_t size;
    uint8_t *data = fsm_fixture_pack (
        queue_fixture_command (&holder, QUEUE_PUBLISH, "queue", "once", 4, CLIENT, 7), &size);
    assert_int_equal (fsm_apply (fsm, first_index + 1, data, size, &retry), 0);
    free (data);
    s_assert_same_reply (first.reply, retry.reply);
    assert_int_equal (retry.reply->index, first_index);
    assert_int_equal (retry.event_count, 0);
    fsm_output_clear (&retry);
    assert_int_equal (fsm_skip (twin, first_index + 1), 0);
    assert_int_equal (fsm_state_hash (fsm), fsm_state_hash (twin));

    //  The cached reply is the same one, for that seq only
    Raftq__Reply *cached = fsm_cached_reply (fsm, CLIENT, 7);
    assert_non_null (cached);
    s_assert_same_reply (first.reply, cached);
    raftq__reply__free_unpacked (cached, NULL);
    assert_null (fsm_cached_reply (fsm, CLIENT, 6));
    assert_null (fsm_cached_reply (fsm, CLIENT, 8));
    assert_null (fsm_cached_reply (fsm, CLIENT + 1, 7));
    assert_null (fsm_cached_reply (fsm, 0, 7));
    fsm_output_clear (&first);

    fsm_destroy (&twin);
    fsm_destroy (&fsm);
}

//  A (client_id, seq) reused for another request is refused, in apply and
//  before proposing, also after a snapshot: the table keeps the digest of
//  the request each cached reply answers.
static void
s_expect_reused (const Raftq__Reply *reply)
{
    assert_non_null (reply);
    assert_int_equal (reply->code, RAFTQ__CODE__INVALID_ARGUMENT);
    assert_non_null (strstr (reply->error, "client id reused"));
}

static void
test_exactly_once_bound_to_request (void **state)
{
    (void)state;
    fsm_output_t retry;
    fsm_t *fsm = s_published_once (&retry);
    fsm_output_clear (&retry);
    fsm_t *const both[] = {fsm, fsm_fixture_snapshot_copy (fsm, NULL)};
    for (size_t which = 0; which < 2; which++) {
        fsm_t *target = both[which];
        queue_fixture_t holder;
        //  Other arguments, then another session: refused, nothing changes
        Raftq__State__Command *command =
            queue_fixture_command (&holder, QUEUE_PUBLISH, "queue", "evil", 4, CLIENT, 7);
        fsm_fixture_apply (target, command, &retry);
        s_expect_reused (retry.reply);
        assert_int_equal (retry.event_count, 0);
        fsm_output_clear (&retry);
        command = queue_fixture_command (&holder, QUEUE_PUBLISH, "queue", "once", 4, CLIENT, 7);
        command->token = "0123456789abcdef0123456789abcdef";
        fsm_fixture_apply (target, command, &retry);
        s_expect_reused (retry.reply);
        fsm_output_clear (&retry);

        //  Before proposing: the same request gets the cached reply, a Login
        //  or another payload with that seq a refusal
        Raftq__Request request = RAFTQ__REQUEST__INIT;
        Raftq__Publish publish = RAFTQ__PUBLISH__INIT;
        request.client_id = CLIENT;
        request.seq = 7;
        request.op_case = RAFTQ__REQUEST__OP_PUBLISH;
        request.publish = &publish;
        publish.topic = "queue";
        publish.payload = (ProtobufCBinaryData){.len = 4, .data = (uint8_t *)"once"};
        Raftq__Reply *reply = fsm_retry_reply (target, &request);
        assert_non_null (reply);
        assert_int_equal (reply->code, RAFTQ__CODE__OK);
        assert_int_equal (reply->published->sequence, 1);
        raftq__reply__free_unpacked (reply, NULL);
        publish.payload.data = (uint8_t *)"evil";
        reply = fsm_retry_reply (target, &request);
        s_expect_reused (reply);
        raftq__reply__free_unpacked (reply, NULL);
        Raftq__Login login = RAFTQ__LOGIN__INIT;
        login.user = "victim";
        login.password = "guess";
        request.op_case = RAFTQ__REQUEST__OP_LOGIN;
        request.login = &login;
        reply = fsm_retry_reply (target, &request);
        s_expect_reused (reply);
        raftq__reply__free_unpacked (reply, NULL);
        request.seq = 8; //  a new seq is no retry
        assert_null (fsm_retry_reply (target, &request));
    }
    fsm_t *restored = both[1];
    assert_int_equal (fsm_state_hash (fsm), fsm_state_hash (restored));
    fsm_destroy (&restored);
    fsm_destroy (&fsm);
}

//  A stale seq is refused and changes nothing; a newer one applies, and
//  without client id or seq there is no protection at all.
static void
test_exactly_once_stale_and_unprotected (void **state)
{
    (void)state;
    queue_fixture_t holder;
    fsm_output_t first, retry;
    fsm_t *fsm = s_published_once (&first);
    fsm_output_clear (&first);
    fsm_t *twin = fsm_fixture_snapshot_copy (fsm, NULL);

    //  A stale seq is refused and changes nothing
    fsm_fixture_apply (
        fsm, queue_fixture_command (&holder, QUEUE_PUBLISH, "queue", "old", 3, CLIENT, 5), &retry);
    assert_int_equal (retry.reply->code, RAFTQ__CODE__INVALID_ARGUMENT);
    assert_string_equal (retry.reply->error, "stale request: seq 5 already superseded");
    assert_int_equal (retry.event_count, 0);
    fsm_output_clear (&retry);
    assert_int_equal (fsm_skip (twin, fsm_applied_index (twin) + 1), 0);
    assert_int_equal (fsm_state_hash (fsm), fsm_state_hash (twin));

    //  A newer seq applies; error replies are remembered too
    fsm_fixture_apply (
        fsm, queue_fixture_command (&holder, QUEUE_POP, "missing", NULL, 0, CLIENT, 9), &first);
    assert_int_equal (first.reply->code, RAFTQ__CODE__NOT_FOUND);
    Raftq__Reply *cached = fsm_cached_reply (fsm, CLIENT, 9);
    assert_non_null (cached);
    s_assert_same_reply (first.reply, cached);
    raftq__reply__free_unpacked (cached, NULL);
    assert_null (fsm_cached_reply (fsm, CLIENT, 7));
    fsm_output_clear (&first);

    //  Without CLIENT id, or with seq 0, there is no protection: both apply
    for (int round = 0; round < 2; round++) {
        fsm_fixture_apply (
            fsm, queue_fixture_command (&holder, QUEUE_PUBLISH, "queue", "free", 4, 0, 3), &first);
        assert_int_equal (first.reply->code, RAFTQ__CODE__OK);
        fsm_output_clear (&first);
        fsm_fixture_apply (
            fsm, queue_fixture_command (&holder, QUEUE_PUBLISH, "queue", "zero", 4, CLIENT, 0),
            &first);
        assert_int_equal (first.reply->code, RAFTQ__CODE__OK);
        fsm_output_clear (&first);
    }
    assert_null (fsm_cached_reply (fsm, 0, 3));
    assert_null (fsm_cached_reply (fsm, CLIENT, 0));
    queue_fixture_expect_pop (fsm, "queue", "once", 1);
    queue_fixture_expect_pop (fsm, "queue", "free", 2);
    queue_fixture_expect_pop (fsm, "queue", "zero", 3);
    queue_fixture_expect_pop (fsm, "queue", "free", 4);
    queue_fixture_expect_pop (fsm, "queue", "zero", 5);
    assert_int_equal (queue_fixture_run (fsm, QUEUE_POP, "queue", NULL), RAFTQ__CODE__EMPTY);
    fsm_destroy (&twin);
    fsm_destroy (&fsm);
}

//  A retried pop returns the message it took the first time and takes no other.
static void
test_exactly_once_pop (void **state)
{
    (void)state;
    fsm_t *fsm = fsm_new (NULL);
    assert_int_equal (queue_fixture_run (fsm, QUEUE_CREATE, "q", NULL), RAFTQ__CODE__OK);
    assert_int_equal (queue_fixture_run (fsm, QUEUE_PUBLISH, "q", "a"), RAFTQ__CODE__OK);
    assert_int_equal (queue_fixture_run (fsm, QUEUE_PUBLISH, "q", "b"), RAFTQ__CODE__OK);

    queue_fixture_t holder;
    fsm_output_t first, retry;
    fsm_fixture_apply (fsm, queue_fixture_command (&holder, QUEUE_POP, "q", NULL, 0, 42, 1),
                       &first);
    fsm_fixture_apply (fsm, queue_fixture_command (&holder, QUEUE_POP, "q", NULL, 0, 42, 1),
                       &retry);
    s_assert_same_reply (first.reply, retry.reply);
    assert_memory_equal (retry.reply->popped->payload.data, "a", 1);
    fsm_output_clear (&first);
    fsm_output_clear (&retry);
    queue_fixture_expect_pop (fsm, "q", "b", 2);
    fsm_destroy (&fsm);
}

static void
test_exactly_once_eviction (void **state)
{
    (void)state;
    fsm_options_t options = {.max_clients = 3};
    fsm_t *fsms[2] = {fsm_new (&options), fsm_new (&options)};
    for (int which = 0; which < 2; which++) {
        fsm_t *fsm = fsms[which];
        assert_int_equal (queue_fixture_run (fsm, QUEUE_CREATE, "t", NULL), RAFTQ__CODE__OK);
        queue_fixture_publish_as (fsm, 300, 1);
        queue_fixture_publish_as (fsm, 100, 1);
        queue_fixture_publish_as (fsm, 200, 1);
        //  A new seq is a use: 300 is no longer the oldest, 100 is
        queue_fixture_publish_as (fsm, 300, 2);
        //  A retry is not a use: 100 stays the oldest
        queue_fixture_publish_as (fsm, 100, 1);
        queue_fixture_publish_as (fsm, 400, 1);
        assert_false (queue_fixture_remembers (fsm, 100, 1));
        assert_true (queue_fixture_remembers (fsm, 200, 1));
        assert_true (queue_fixture_remembers (fsm, 300, 2));
        assert_true (queue_fixture_remembers (fsm, 400, 1));
        queue_fixture_publish_as (fsm, 500, 1);
        assert_false (queue_fixture_remembers (fsm, 200, 1));
        assert_true (queue_fixture_remembers (fsm, 300, 2));
        assert_true (queue_fixture_remembers (fsm, 400, 1));
        assert_true (queue_fixture_remembers (fsm, 500, 1));

        //  An evicted client is forgotten: its retry applies again
        queue_fixture_t holder;
        fsm_output_t output;
        fsm_fixture_apply (fsm, queue_fixture_command (&holder, QUEUE_PUBLISH, "t", "m", 1, 100, 1),
                           &output);
        assert_int_equal (output.reply->code, RAFTQ__CODE__OK);
        assert_int_equal (output.reply->published->sequence, 7);
        assert_int_equal (output.event_count, 1);
        fsm_output_clear (&output);
        assert_false (queue_fixture_remembers (fsm, 300, 2));
    }
    assert_int_equal (fsm_state_hash (fsms[0]), fsm_state_hash (fsms[1]));
    fsm_destroy (&fsms[0]);
    fsm_destroy (&fsms[1]);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_malformed_entry),
        cmocka_unit_test (test_query_reads_without_applying),
        cmocka_unit_test (test_index_order),
        cmocka_unit_test (test_exactly_once_retry),
        cmocka_unit_test (test_exactly_once_stale_and_unprotected),
        cmocka_unit_test (test_exactly_once_bound_to_request),
        cmocka_unit_test (test_exactly_once_pop),
        cmocka_unit_test (test_exactly_once_eviction),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
