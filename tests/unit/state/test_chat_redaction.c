/*  test_chat_redaction — deletions delete: a deleted message's text leaves
    every retained event (the sender's, the recipient's and the
    conversation's stream, also the partners' streams when an account is
    deleted) and so every snapshot taken after, while each stream's
    numbering keeps no gap: the message event becomes a "delete" tombstone
    under the same seq.
*/

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "chat_fixture.h"
#include "fsm_fixture.h"

//  Replays all of stream: seqs must run from its oldest without a gap.
//  Returns whether text is in any event; *tombstone_of is set when an
//  event is a one-id "delete" of that id.
static bool
s_stream_has (fsm_t *fsm, const char *stream, const char *text, uint64_t id, bool *tombstone)
{
    Raftq__Reply *reply = fsm_fixture_replay (fsm, stream, 0, 0);
    assert_int_equal (reply->code, RAFTQ__CODE__OK);
    bool found = false;
    *tombstone = false;
    for (size_t position = 0; position < reply->events->n_events; position++) {
        Raftq__Event *event = reply->events->events[position];
        assert_int_equal (event->seq, reply->oldest_seq + position);
        if (event->text && strstr (event->text, text))
            found = true;
        if (strcmp (event->kind, "delete") == 0 && event->n_ids == 1 && event->ids[0] == id)
            *tombstone = true;
    }
    raftq__reply__free_unpacked (reply, NULL);
    return found;
}

//  Whether text appears in the packed snapshot of fsm's state.
static bool
s_snapshot_has (fsm_t *fsm, const char *text)
{
    Raftq__State__FsmState state = RAFTQ__STATE__FSM_STATE__INIT;
    fsm_snapshot_save (fsm, &state);
    size_t size = raftq__state__fsm_state__get_packed_size (&state);
    uint8_t *packed = (uint8_t *)malloc (size);
    assert_non_null (packed);
    raftq__state__fsm_state__pack (&state, packed);
    fsm_snapshot_release (&state);
    bool found = memmem (packed, size, text, strlen (text)) != NULL;
    free (packed);
    return found;
}

//  Expects text gone from stream, the message's seq held by a tombstone.
static void
s_expect_redacted (fsm_t *fsm, const char *stream, const char *text, uint64_t id)
{
    bool tombstone;
    if (s_stream_has (fsm, stream, text, id, &tombstone))
        fail_msg ("'%s' still replayable from %s", text, stream);
    if (!tombstone)
        fail_msg ("no tombstone of message %lu in %s", (unsigned long)id, stream);
}

static void
test_deleted_text_leaves_streams_and_snapshots (void **state)
{
    (void)state;
    const char *users[] = {"ann", "bob", "cid"};
    char tokens[3][33];
    fsm_t *fsm = chat_fixture_world (users, 3, tokens);
    uint64_t first = chat_fixture_send_ok (fsm, tokens[0], "bob", "first-secret");
    uint64_t kept = chat_fixture_send_ok (fsm, tokens[1], "ann", "kept-text");
    uint64_t to_cid = chat_fixture_send_ok (fsm, tokens[0], "cid", "cid-secret");
    assert_true (s_snapshot_has (fsm, "first-secret"));

    //  DeleteMessages by the recipient
    chat_fixture_t holder;
    fsm_output_t output;
    fsm_fixture_apply (fsm, chat_fixture_delete (&holder, tokens[1], &first, 1), &output);
    assert_int_equal (output.reply->code, RAFTQ__CODE__OK);
    fsm_output_clear (&output);
    const char *streams[] = {"user/ann", "user/bob", "conv/ann/bob"};
    for (size_t position = 0; position < 3; position++)
        s_expect_redacted (fsm, streams[position], "first-secret", first);
    bool tombstone;
    assert_true (s_stream_has (fsm, "conv/ann/bob", "kept-text", kept, &tombstone));
    assert_false (s_snapshot_has (fsm, "first-secret"));
    assert_true (s_snapshot_has (fsm, "kept-text"));

    //  DeleteAccount of cid: ann's own stream loses cid's conversation too
    assert_true (s_stream_has (fsm, "user/ann", "cid-secret", to_cid, &tombstone));
    fsm_fixture_apply (fsm, chat_fixture_delete_account (&holder, tokens[2]), &output);
    assert_int_equal (output.reply->code, RAFTQ__CODE__OK);
    fsm_output_clear (&output);
    s_expect_redacted (fsm, "user/ann", "cid-secret", to_cid);
    assert_false (s_snapshot_has (fsm, "cid-secret"));

    //  Deterministic: a restored copy hashes alike and still has no text
    fsm_t *copy = fsm_fixture_snapshot_copy (fsm, NULL);
    assert_int_equal (fsm_state_hash (copy), fsm_state_hash (fsm));
    s_expect_redacted (copy, "user/bob", "first-secret", first);
    fsm_destroy (&copy);
    fsm_destroy (&fsm);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_deleted_text_leaves_streams_and_snapshots),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
