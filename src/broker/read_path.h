/*  read_path — the leader's linearizable reads without the log (ReadIndex).

    A query (fsm_is_query: ListTopics, ListAccounts, CheckUser) is parked
    in the waiting table under a ticket and handed to the Raft actor as a
    read; when the actor settles it READY at a read index, it is answered
    from the state machine once applied reaches that index (fsm_query: no
    log entry, no exactly-once record); NOT_LEADER answers it so, with the
    leader hint. A follower answers NOT_LEADER at once, as for writes.
*/
#ifndef READ_PATH_H_INCLUDED
#define READ_PATH_H_INCLUDED

#include "broker/client_request.h"
#include "broker/server.h"
#include "replica/raft_actor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct _read_path_t read_path_t;

//  Bound on the reads passed to the Raft actor and not settled yet: the
//  core's own bound, reached here first (the actor holds no read the
//  broker does not count), so that the client is told which bound it hit:
//  the core's refusal reads as NOT_LEADER.
#define READ_PATH_MAX_UNSETTLED RAFT_DEFAULT_MAX_PENDING_READS

read_path_t *read_path_new (void);

//  Forgets the reads waiting for apply (their requests stay in the waiting
//  table, answered there).
void read_path_destroy (read_path_t **self_p);

//  Whether request is served here rather than proposed.
bool read_path_handles (const client_request_t *request);

//  Counts one more read passed to the Raft actor. Returns 0, or -1 when
//  READ_PATH_MAX_UNSETTLED are unsettled already, with error naming the
//  bound (the client's RESOURCE_EXHAUSTED text).
int read_path_admit (read_path_t *self, char *error, size_t error_size);

//  Reads passed to the Raft actor and not settled yet.
size_t read_path_unsettled (read_path_t *self);

//  Serves a query (taken): refused (NOT_LEADER, or RESOURCE_EXHAUSTED past
//  READ_PATH_MAX_UNSETTLED), or parked and passed to Raft as a read.
void read_path_serve (server_t *server, client_request_t *request);

//  A READS event: uncounts, and answers or refuses, the reads it settles.
void read_path_settled (server_t *server, const raft_actor_event_t *event);

//  After entries were applied: answers the reads their index released.
void read_path_applied (server_t *server);

#ifdef __cplusplus
}
#endif

#endif
