/*  event_log — the event streams of the replicated state: each stream's
    sequence counter and the bounded window of its recent events that every
    node retains so that a subscriber who missed some (a gap on PUB, a
    reconnect to another node after a crash) can Replay them.

    The window is part of the replicated state: it changes only when an
    entry is applied, so every node retains the same events under the same
    sequence numbers, and it is fed to the state hash. Retention is bounded
    twice: at most per_stream events per stream, and at most total_bytes
    (packed events plus bookkeeping) over all streams, the oldest event of
    the whole log going first. Both bounds evict the same events on every
    node because emit order is log order.
*/
#ifndef EVENT_LOG_H_INCLUDED
#define EVENT_LOG_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

#include "util/digest.h"
#include "raftq.pb-c.h"
#include "state.pb-c.h"

typedef struct _event_log_t event_log_t;

//  per_stream and total_bytes must be at least 1.
event_log_t *event_log_new (size_t per_stream, size_t total_bytes);

void event_log_destroy (event_log_t **self_p);

//  Gives event (its stream set, allocated as unpack would) the next sequence
//  of its stream, retains a packed copy and queues the event for
//  event_log_take. Takes ownership of event.
void event_log_emit (event_log_t *self, Raftq__Event *event);

//  Hands over the events emitted since the last take, in emit order: the
//  caller frees each with raftq__event__free_unpacked and the array with
//  free. Sets *events NULL and *count 0 when there are none.
void event_log_take (event_log_t *self, Raftq__Event ***events, size_t *count);

//  Retained events of stream from from_seq (0: the oldest retained), at
//  most limit of them, and no more than fit in max_bytes packed (but at
//  least one). *oldest_seq is the oldest sequence retained, or the next one
//  to come when none is. Returns 0 with *list set (possibly empty: an
//  unknown stream, or from_seq past the newest), or -1 with *list NULL when
//  from_seq is older than *oldest_seq: those events are gone.
int event_log_replay (event_log_t *self, const char *stream, uint64_t from_seq, size_t limit,
                      size_t max_bytes, Raftq__EventList **list, uint64_t *oldest_seq);

//  Drops the retained events of stream; its sequence goes on from where it
//  was, so a subscriber never sees a number twice.
void event_log_forget (event_log_t *self, const char *stream);

//  Replaces every retained "message" event of stream with id message_id
//  by a tombstone: a "delete" event of that id, same seq and index, no
//  text. A deleted message's text so leaves the window (and every snapshot
//  taken after) while the stream's numbering keeps no gap.
void event_log_redact (event_log_t *self, const char *stream, uint64_t message_id);

//  Sequence of the last event of stream, 0 before any.
uint64_t event_log_last_seq (event_log_t *self, const char *stream);

//  Events retained over all streams, and their accounted bytes.
size_t event_log_retained (event_log_t *self, size_t *bytes);

//  Feeds the streams and the retained window to digest.
void event_log_digest (event_log_t *self, digest_t *digest);

//  Describes the streams and the retained window in state for a snapshot.
//  Strings and bytes are borrowed from the log: state is valid until the
//  log changes. Free what was allocated with event_log_snapshot_release.
void event_log_snapshot_save (event_log_t *self, Raftq__State__EventLogState *state);

//  Frees what event_log_snapshot_save allocated in state (not what it borrowed).
void event_log_snapshot_release (Raftq__State__EventLogState *state);

//  Restores a saved window into a log that has seen no event. Takes the
//  packed events out of state (their pointers become NULL). Returns 0, or
//  -1 with error when state is inconsistent; the log must then be destroyed.
int event_log_snapshot_load (event_log_t *self, Raftq__State__EventLogState *state, char *error,
                             size_t error_size);

#endif
