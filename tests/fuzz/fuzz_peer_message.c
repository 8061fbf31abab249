/*  fuzz_peer_message — peer_codec_decode on arbitrary frame bodies.

    Input: the body of one peer frame (a packed raftq.peer.Message). Seeds:
    corpus/peer_message/ (every message kind of cluster "raftq-local",
    AppendEntries with entries of every type, InstallSnapshot chunks; written
    by make_seeds).
    When raft_message_t gains a field, add it to s_check_same.

    Invariants checked beyond "no crash, no leak, no UB":
    - a refused frame comes with a reason and leaves the result empty;
    - an accepted one has a type and a sender, entries only on
      AppendEntries, each of a known type, snapshot data only on
      InstallSnapshot;
    - encoding what was decoded and decoding that again gives back the
      same message, field by field and byte by byte.
*/
#include "harness.h"
#include "replica/peer_codec.h"

#include <string.h>

#define FUZZ_CLUSTER "raftq-local"

static void
s_check_same (const raft_message_t *first, const raft_message_t *second)
{
    HARNESS_CHECK (first->type == second->type && first->from == second->from &&
                       first->to == second->to && first->term == second->term,
                   "header changed in a round trip");
    HARNESS_CHECK (first->last_log_index == second->last_log_index &&
                       first->last_log_term == second->last_log_term &&
                       first->granted == second->granted && first->transfer == second->transfer,
                   "vote fields changed in a round trip");
    HARNESS_CHECK (first->prev_log_index == second->prev_log_index &&
                       first->prev_log_term == second->prev_log_term &&
                       first->leader_commit == second->leader_commit &&
                       first->success == second->success &&
                       first->match_index == second->match_index &&
                       first->reject_index == second->reject_index &&
                       first->conflict_index == second->conflict_index &&
                       first->conflict_term == second->conflict_term,
                   "append fields changed in a round trip");
    HARNESS_CHECK (first->snapshot_index == second->snapshot_index &&
                       first->snapshot_term == second->snapshot_term &&
                       first->offset == second->offset && first->done == second->done,
                   "snapshot fields changed in a round trip");
    HARNESS_CHECK (
        first->data_size == second->data_size &&
            (first->data_size == 0 || memcmp (first->data, second->data, first->data_size) == 0),
        "snapshot chunk changed in a round trip");
    HARNESS_CHECK (first->entry_count == second->entry_count, "entry count %zu became %zu",
                   first->entry_count, second->entry_count);
    for (size_t at = 0; at < first->entry_count; at++) {
        const raft_entry_t *one = &first->entries[at];
        const raft_entry_t *other = &second->entries[at];
        HARNESS_CHECK (one->term == other->term && one->index == other->index &&
                           one->type == other->type && one->size == other->size,
                       "entry %zu changed in a round trip", at);
        HARNESS_CHECK (one->size == 0 || memcmp (one->data, other->data, one->size) == 0,
                       "entry %zu payload changed in a round trip", at);
    }
}

static void
s_check_decoded (const raft_message_t *message)
{
    //  The upper bound of the type is checked by re-encoding, which refuses
    //  unknown types: it moves with the protocol, this target need not.
    HARNESS_CHECK (message->type >= RAFT_MESSAGE_REQUEST_VOTE, "type %d accepted",
                   (int)message->type);
    HARNESS_CHECK (message->from != 0, "no sender accepted");
    HARNESS_CHECK (message->entry_count == 0 || message->type == RAFT_MESSAGE_APPEND_ENTRIES,
                   "entries on type %d", (int)message->type);
    HARNESS_CHECK (message->data_size == 0 || message->type == RAFT_MESSAGE_INSTALL_SNAPSHOT,
                   "snapshot data on type %d", (int)message->type);
    HARNESS_CHECK (message->data_size == 0 || message->data, "snapshot data missing");
    HARNESS_CHECK ((message->entry_count == 0) == (message->entries == NULL),
                   "entries pointer does not match count %zu", message->entry_count);
    for (size_t at = 0; at < message->entry_count; at++)
        HARNESS_CHECK (message->entries[at].type <= RAFT_ENTRY_CONFIG, "entry type %u accepted",
                       message->entries[at].type);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    peer_codec_message_t decoded;
    char error[256] = "";
    if (peer_codec_decode (data, size, FUZZ_CLUSTER, &decoded, error, sizeof error)) {
        HARNESS_CHECK (error[0] != '\0', "refused without a reason");
        HARNESS_CHECK (decoded.packed == NULL && decoded.entries == NULL,
                       "refused but left something decoded");
        return 0;
    }
    s_check_decoded (&decoded.message);

    zframe_t *frame = peer_codec_encode (&decoded.message, FUZZ_CLUSTER);
    HARNESS_CHECK (frame != NULL, "a decoded message does not encode");
    peer_codec_message_t again;
    int rc = peer_codec_decode (zframe_data (frame), zframe_size (frame), FUZZ_CLUSTER, &again,
                                error, sizeof error);
    HARNESS_CHECK (rc == 0, "re-encoded message refused: %s", error);
    s_check_same (&decoded.message, &again.message);

    peer_codec_message_clear (&again);
    zframe_destroy (&frame);
    peer_codec_message_clear (&decoded);
    return 0;
}
