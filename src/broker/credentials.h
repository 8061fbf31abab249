/*  credentials — CreateAccount and Login on the leader: user name and
    password checked first, then the password hashed (CreateAccount) or
    verified against the stored hash (Login) by the hasher thread, and only
    then the command proposed, with the salted hash instead of the password
    and, for a login, a fresh random session token. A login that comes
    before the leader's state is fresh (cluster_view_is_fresh) waits,
    deferred, until it is. At most HASHER_MAX_PENDING jobs are at the
    hasher at once: beyond that the client hears UNAVAILABLE.
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
