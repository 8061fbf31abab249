/*  log_syncer — the log's fdatasync on a thread of its own, so that the
    Raft thread goes on reading peers, answering heartbeats and sending
    while the disk works (an fdatasync took up to 850 ms under load, and a
    Raft loop stuck in it lost its leader). The owner hands it descriptors
    from log_store_sync_handoff, one at a time, and hears back in order.

    Pipe protocol: the owner sends "SYNC" [fd][ticket]; the syncer
    fdatasyncs and closes fd, and answers "SYNCED" [ticket][microseconds]
    [errno, 0 when durable].
*/
#ifndef LOG_SYNCER_H_INCLUDED
#define LOG_SYNCER_H_INCLUDED

#include <czmq.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct _log_syncer_t log_syncer_t;

//  A running syncer, or NULL.
log_syncer_t *log_syncer_new (void);

//  Stops the thread; a sync under way finishes first, its answer unread.
void log_syncer_destroy (log_syncer_t **self_p);

//  The socket the answers come on, for the owner's loop.
zsock_t *log_syncer_sock (log_syncer_t *self);

//  Hands fd over (the syncer closes it) with the owner's ticket. Returns
//  0, or -1 with fd closed and nothing sent.
int log_syncer_sync (log_syncer_t *self, int fd, uint64_t ticket);

//  Reads one answer. Returns 0 with its ticket, the sync's duration and
//  error (0: durable), or -1 for anything else on the socket.
int log_syncer_recv (log_syncer_t *self, uint64_t *ticket, uint64_t *usecs, int *error);

#ifdef __cplusplus
}
#endif

#endif
