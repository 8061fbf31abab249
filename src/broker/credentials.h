/*  credentials — CreateAccount and Login on the leader: user name and
    password checked first, then the password hashed (CreateAccount) or
    verified against the stored hash (Login) by the hasher thread, and only
    then the command proposed, with the salted hash instead of the password
    and, for a login, a fresh random session token. A login that comes
    before the leader's state is fresh (cluster_view_is_fresh) waits,
    deferred, until it is.

    Password jobs wait in a fair queue (fair_queue.h) per client
    connection, served round robin, and go to the hasher one at a time, so
    a client flooding it delays each other client by about one job, not by
    its backlog. A connection with 8 jobs waiting is refused more
    (RESOURCE_EXHAUSTED), the queue as a whole past 4096 (UNAVAILABLE).

    Logins are throttled per account name (login_throttle.h): after 5
    failures in a row, a login of that name is refused RESOURCE_EXHAUSTED
    with Reply.retry_after_ms, without hashing, for 1 s, doubling with each
    further failure up to 60 s; a correct password resets it. Checked on
    arrival and again when the job's turn comes. A missing account counts
    and waits exactly as a wrong password does: its password is checked
    against the hasher's decoy, so neither the time of the answer nor the
    throttle tells whether the name exists. The counts live on this node
    only (the leader, which alone checks passwords): no log entry, and a
    new leader starts afresh.
*/
#ifndef CREDENTIALS_H_INCLUDED
#define CREDENTIALS_H_INCLUDED

#include <czmq.h>

#include "broker/client_request.h"
#include "broker/server.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct _credentials_t credentials_t;

//  Starts the hasher thread at the interactive limits.
credentials_t *credentials_new (void);

//  Stops the hasher.
void credentials_destroy (credentials_t **self_p);

//  The hasher's pipe, to poll for results (then credentials_take_results).
zsock_t *credentials_sock (credentials_t *self);

//  A CreateAccount (taken): checked, parked and sent to the hasher, or
//  answered.
void credentials_serve_create_account (server_t *server, client_request_t *request);

//  A Login (taken): checked, parked, and verified now or once the state is
//  fresh, or answered.
void credentials_serve_login (server_t *server, client_request_t *request);

//  After the role or the applied term changed: verifies the deferred
//  logins once the state is fresh, refuses them when this node stopped
//  leading.
void credentials_resume_deferred (server_t *server);

//  Takes the hasher's results waiting on its pipe: proposes what they made
//  possible, answers the rest.
void credentials_take_results (server_t *server);

//  Puts the token this node proposed for request (a Login) into its
//  applied reply: the state only knows the token's key. Returns 0 (also
//  for any other reply), -1 when the reply cannot carry the token.
int credentials_complete_login (client_request_t *request, Raftq__Reply *reply);

#ifdef __cplusplus
}
#endif

#endif
