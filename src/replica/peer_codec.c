/*  peer_codec — raft_message_t <-> packed raftq.peer.Message; see peer_codec.h.  */
#include "replica/peer_codec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool
s_message_type_known (uint32_t type)
{
    return type >= RAFT_MESSAGE_REQUEST_VOTE && type <= RAFT_MESSAGE_INSTALL_SNAPSHOT_REPLY;
}

static bool
s_entry_type_known (uint32_t type)
{
    return type <= RAFT_ENTRY_CONFIG;
}

zframe_t *
peer_codec_encode (const raft_message_t *message, const char *cluster)
{
    if (!s_message_type_known ((uint32_t)message->type))
        return NULL;

    Raftq__Peer__Message packed = RAFTQ__PEER__MESSAGE__INIT;
    packed.type = (Raftq__Peer__MessageType)message->type;
    packed.from = message->from;
    packed.to = message->to;
    packed.term = message->term;
    //  protobuf-c only reads the string, it never writes through it
    packed.cluster = (char *)cluster;
    packed.last_log_index = message->last_log_index;
    packed.last_log_term = message->last_log_term;
    packed.granted = message->granted;
    packed.transfer = message->transfer;
    packed.prev_log_index = message->prev_log_index;
    packed.prev_log_term = message->prev_log_term;
    packed.leader_commit = message->leader_commit;
    packed.success = message->success;
    packed.match_index = message->match_index;
    packed.reject_index = message->reject_index;
    packed.conflict_index = message->conflict_index;
    packed.conflict_term = message->conflict_term;
    packed.snapshot_index = message->snapshot_index;
    packed.snapshot_term = message->snapshot_term;
    packed.offset = message->offset;
    //  protobuf-c only reads the chunk, it never writes through it
    packed.data.data = (uint8_t *)message->data;
    packed.data.len = message->data ? message->data_size : 0;
    packed.done = message->done;
    packed.read_round = message->read_round;

    //  Entries are packed in place: the protobuf structs point at the
    //  caller's payloads, nothing is copied before the final pack
    Raftq__Peer__Entry *entries = NULL;
    Raftq__Peer__Entry **entry_pointers = NULL;
    size_t count = message->entries ? message->entry_count : 0;
    if (count) {
        entries = calloc (count, sizeof (Raftq__Peer__Entry));
        entry_pointers = calloc (count, sizeof (Raftq__Peer__Entry *));
        if (!entries || !entry_pointers) {
            free (entries);
            free (entry_pointers);
            return NULL;
        }
        for (size_t position = 0; position < count; position++) {
            const raft_entry_t *entry = &message->entries[position];
            raftq__peer__entry__init (&entries[position]);
            entries[position].term = entry->term;
            entries[position].index = entry->index;
            entries[position].type = entry->type;
            entries[position].data.data = entry->data;
            entries[position].data.len = entry->size;
            entry_pointers[position] = &entries[position];
        }
        packed.entries = entry_pointers;
        packed.n_entries = count;
    }

    zframe_t *frame = zframe_new (NULL, raftq__peer__message__get_packed_size (&packed));
    if (frame)
        raftq__peer__message__pack (&packed, zframe_data (frame));
    free (entries);
    free (entry_pointers);
    return frame;
}

//  Fills decoded->message from decoded->packed; -1 with a reason if the
//  content is not a message the core may see.
static int
s_message_from_packed (peer_codec_message_t *decoded, char *error, size_t error_size)
{
    const Raftq__Peer__Message *packed = decoded->packed;
    if (!s_message_type_known ((uint32_t)packed->type)) {
        snprintf (error, error_size, "unknown peer message type %d", (int)packed->type);
        return -1;
    }
    if (packed->from == 0) {
        snprintf (error, error_size, "peer message without a sender");
        return -1;
    }
    if (packed->n_entries && packed->type != RAFTQ__PEER__MESSAGE_TYPE__APPEND_ENTRIES) {
        snprintf (error, error_size, "entries on a peer message of type %d", (int)packed->type);
        return -1;
    }
    if (packed->data.len && packed->type != RAFTQ__PEER__MESSAGE_TYPE__INSTALL_SNAPSHOT) {
        snprintf (error, error_size, "snapshot data on a peer message of type %d",
                  (int)packed->type);
        return -1;
    }
    raft_message_t *message = &decoded->message;
    message->type = (raft_message_type_t)packed->type;
    message->from = packed->from;
    message->to = packed->to;
    message->term = packed->term;
    message->last_log_index = packed->last_log_index;
    message->last_log_term = packed->last_log_term;
    message->granted = packed->granted;
    message->transfer = packed->transfer;
    message->prev_log_index = packed->prev_log_index;
    message->prev_log_term = packed->prev_log_term;
    message->leader_commit = packed->leader_commit;
    message->success = packed->success;
    message->match_index = packed->match_index;
    message->reject_index = packed->reject_index;
    message->conflict_index = packed->conflict_index;
    message->conflict_term = packed->conflict_term;
    message->snapshot_index = packed->snapshot_index;
    message->snapshot_term = packed->snapshot_term;
    message->offset = packed->offset;
    message->data = packed->data.data;
    message->data_size = packed->data.len;
    message->done = packed->done;
    message->read_round = packed->read_round;

    if (packed->n_entries) {
        decoded->entries = calloc (packed->n_entries, sizeof (raft_entry_t));
        if (!decoded->entries) {
            snprintf (error, error_size, "out of memory for %zu entries", packed->n_entries);
            return -1;
        }
        for (size_t position = 0; position < packed->n_entries; position++) {
            const Raftq__Peer__Entry *source = packed->entries[position];
            if (!s_entry_type_known (source->type)) {
                snprintf (error, error_size, "unknown entry type %u at index %" PRIu64,
                          source->type, source->index);
                return -1;
            }
            raft_entry_t *entry = &decoded->entries[position];
            entry->term = source->term;
            entry->index = source->index;
            entry->type = (uint8_t)source->type;
            entry->data = source->data.data;
            entry->size = source->data.len;
        }
        message->entries = decoded->entries;
        message->entry_count = packed->n_entries;
    }
    return 0;
}

int
peer_codec_decode (const uint8_t *data, size_t size, const char *cluster,
                   peer_codec_message_t *decoded, char *error, size_t error_size)
{
    memset (decoded, 0, sizeof (*decoded));
    decoded->packed = raftq__peer__message__unpack (NULL, size, data);
    if (!decoded->packed) {
        snprintf (error, error_size, "undecodable peer message (%zu bytes)", size);
        return -1;
    }
    const char *sender_cluster = decoded->packed->cluster ? decoded->packed->cluster : "";
    if (strcmp (sender_cluster, cluster) != 0) {
        snprintf (error, error_size, "peer message of cluster '%.64s' (this is '%.64s')",
                  sender_cluster, cluster);
        peer_codec_message_clear (decoded);
        return -1;
    }
    if (s_message_from_packed (decoded, error, error_size)) {
        peer_codec_message_clear (decoded);
        return -1;
    }
    return 0;
}

void
peer_codec_message_clear (peer_codec_message_t *decoded)
{
    if (decoded->packed)
        raftq__peer__message__free_unpacked (decoded->packed, NULL);
    free (decoded->entries);
    memset (decoded, 0, sizeof (*decoded));
}
