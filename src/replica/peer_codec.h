/*  peer_codec — Raft messages (raft_message_t) to and from the packed
    raftq.peer.Message frames brokers exchange on the peer port.

    Every message carries the cluster name; a message of another cluster is
    refused on decode, so two clusters sharing hosts cannot mix. Decoding never
    asserts on input: garbage, truncation, unknown message or entry types and
    missing senders are refused with a reason.
*/
#ifndef PEER_CODEC_H_INCLUDED
#define PEER_CODEC_H_INCLUDED

#include <czmq.h>

#include "raft.pb-c.h"
#include "raft/raft_core.h"

#ifdef __cplusplus
extern "C" {
#endif

//  A decoded peer message. message (its entries, its snapshot chunk) borrow
//  their payloads from packed: valid until peer_codec_message_clear.
typedef struct {
    raft_message_t message;       //  what the core receives
    raft_entry_t *entries;        //  message.entries points here (heap)
    Raftq__Peer__Message *packed; //  the unpacked protobuf owning entry data
} peer_codec_message_t;

//  Encodes message for cluster into a new frame. Returns NULL when out of
//  memory or when the message has an unknown type.
zframe_t *peer_codec_encode (const raft_message_t *message, const char *cluster);

//  Decodes a packed frame body. Returns 0 and fills decoded, or -1 with a
//  one-line reason in error (decoded is then left empty).
int peer_codec_decode (const uint8_t *data, size_t size, const char *cluster,
                       peer_codec_message_t *decoded, char *error, size_t error_size);

//  Frees what decode put in decoded and zeroes it.
void peer_codec_message_clear (peer_codec_message_t *decoded);

#ifdef __cplusplus
}
#endif

#endif
