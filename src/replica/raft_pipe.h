/*  raft_pipe — the pipe protocol between the broker and the Raft actor
    (the messages raft_actor.h lists), both sides: each message is encoded
    and decoded here and nowhere else, so the two ends cannot drift apart.
    Integers are little-endian; frames have fixed sizes except payloads and
    hosts, and every decoder checks sizes before reading (the actor's pipe
    is trusted code, but a bug must show as a logged malformed message, not
    as a read past a frame).
*/
#ifndef RAFT_PIPE_H_INCLUDED
#define RAFT_PIPE_H_INCLUDED

#include <czmq.h>
#include <stdbool.h>
#include <stdint.h>

#include "raft/raft_core.h"
#include "replica/raft_actor.h"
#include "util/metric_histogram.h"

#ifdef __cplusplus
extern "C" {
#endif

//  A frame holding one u64.
zframe_t *raft_pipe_u64_frame (uint64_t value);

//  The records of one PROPOSE or COMMITTED being built, sent as one frame:
//  a frame per command cost an allocation, a list node and a pipe write on
//  each side, most of the broker's allocations per write. Reused from
//  message to message.
typedef struct _raft_pipe_batch_t raft_pipe_batch_t;

raft_pipe_batch_t *raft_pipe_batch_new (void);
void raft_pipe_batch_destroy (raft_pipe_batch_t **self_p);

//  Records in the batch.
size_t raft_pipe_batch_count (raft_pipe_batch_t *self);

//  --------------------------------------------------------------------------
//  broker -> actor

//  Adds [ticket u64][size u32][payload] to the PROPOSE being built in
//  batch; takes the payload frame.
void raft_pipe_add_proposal (raft_pipe_batch_t *batch, uint64_t ticket, zframe_t **payload_p);

//  Sends "PROPOSE" [records] when batch holds any, and empties it.
//  Returns 0 or -1.
int raft_pipe_send_proposals (zsock_t *pipe, raft_pipe_batch_t *batch);

//  The next proposal of a PROPOSE's records frame from *offset (0 at the
//  start), which it moves on; data points into the frame. Returns 1 with
//  one, 0 at the end, -1 when the records are malformed.
int raft_pipe_next_proposal (zframe_t *records, size_t *offset, uint64_t *ticket,
                             const uint8_t **data, size_t *size);

//  Adds [ticket] to the READ being built in *batch_p (created if NULL).
void raft_pipe_add_read (zmsg_t **batch_p, uint64_t ticket);

//  The next ticket of a READ, whose command frame was taken: 1 with one,
//  0 at the end, -1 for a frame that is not a ticket.
int raft_pipe_next_read (zmsg_t *message, uint64_t *ticket);

//  Sends "COMPACT" [index][term]. Returns 0 or -1.
int raft_pipe_send_compact (zsock_t *pipe, uint64_t index, uint64_t term);

//  Sends "ADMIN" [ticket][kind][member]. Returns 0 or -1.
int raft_pipe_send_admin (zsock_t *pipe, uint64_t ticket, raft_actor_admin_kind_t kind,
                          const raft_member_t *member);

//  Decodes the frames after "COMPACT". Returns 0 or -1.
int raft_pipe_decode_compact (zmsg_t *message, uint64_t *index, uint64_t *term);

//  Decodes the frames after "ADMIN"; ticket is the raw 8-byte frame copy.
//  Returns 0 or -1.
int raft_pipe_decode_admin (zmsg_t *message, uint64_t *ticket, uint8_t *kind,
                            raft_member_t *member);

//  --------------------------------------------------------------------------
//  actor -> broker

//  Sends "READY" alone: the broker restores its state machine by itself
//  (snapshot_policy), so the actor has nothing to tell it at start.
int raft_pipe_send_ready (zsock_t *pipe);

//  Receives the start handshake: 0 after READY, -1 after FAILED or
//  anything else.
int raft_pipe_recv_ready (zsock_t *pipe);

//  Adds copies of committed entries to the COMMITTED being built in batch.
void raft_pipe_add_committed (raft_pipe_batch_t *batch, const raft_entry_t *entries, size_t count);

//  Sends "COMMITTED" [commit][last][records] when batch holds any entry,
//  and empties it.
void raft_pipe_send_committed (zsock_t *pipe, raft_pipe_batch_t *batch, uint64_t commit,
                               uint64_t last);

//  Sends "REJECTED" [leader] then the ticket frames gathered in *tickets_p
//  (raw 8-byte tickets, one frame each), if any.
void raft_pipe_send_rejected (zsock_t *pipe, zmsg_t **tickets_p, uint32_t leader);

//  Adds a settled read to the READS message being built in *message_p
//  (created if NULL).
void raft_pipe_add_read_settled (zmsg_t **message_p, const raft_read_t *read);

//  Sends the READS message in *message_p, if any.
void raft_pipe_send_reads (zsock_t *pipe, zmsg_t **message_p);

//  Sends "ADMINED" [ticket][accepted][leader].
void raft_pipe_send_admined (zsock_t *pipe, uint64_t ticket, bool accepted, uint32_t leader);

//  Sends "MEMBERS" [config index] and a frame per member.
void raft_pipe_send_members (zsock_t *pipe, uint64_t config_index, const raft_member_t *members,
                             size_t count);

//  Sends "INSTALLED" [index].
void raft_pipe_send_installed (zsock_t *pipe, uint64_t index);

//  Sends "STATE" [role][term][leader][commit][last].
void raft_pipe_send_state (zsock_t *pipe, raft_role_t role, uint64_t term, uint32_t leader,
                           uint64_t commit, uint64_t last);

//  The body of a PROGRESS, or NULL when out of memory.
zframe_t *raft_pipe_progress_frame (const raft_actor_progress_t *progress);

//  Sends "PROGRESS" with body (taken).
void raft_pipe_send_progress (zsock_t *pipe, zframe_t **body_p);

//  Sends "METRICS" [entries written][dropped sends][fsync histogram].
void raft_pipe_send_metrics (zsock_t *pipe, uint64_t entries_written, uint64_t dropped_sends,
                             const metric_histogram_t *fsync_seconds);

//  Decodes the rest of an actor message whose command frame was command
//  into event (kind set). A PROGRESS replaces *progress (matches owned by
//  it) only when the whole message is sound, and event->progress points
//  to it. Returns 0, or -1 when malformed or unknown.
int raft_pipe_decode_event (const char *command, zmsg_t *message, raft_actor_event_t *event,
                            raft_actor_progress_t *progress);

#ifdef __cplusplus
}
#endif

#endif
