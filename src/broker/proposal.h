/*  proposal — the leader's write path: a request that needs a new entry is
    answered early when it can be (a follower's refusal, the reply a retry
    already got), else parked in the waiting table and its state machine
    command validated, packed and handed to the raft actor under the
    request's ticket. apply answers it once the entry is applied.
*/
#ifndef PROPOSAL_H_INCLUDED
#define PROPOSAL_H_INCLUDED

#include "broker/client_request.h"
#include "broker/server.h"
#include "state.pb-c.h"

#ifdef __cplusplus
extern "C" {
#endif

//  Leader only: proposes a request (taken) that goes to the log as it is.
void proposal_serve_write (server_t *server, client_request_t *request);

//  Answers at once what needs no new entry: a follower's refusal, or the
//  reply a retry already got. Returns true if it answered and destroyed
//  request; else the caller still owns it.
bool proposal_answer_early (server_t *server, client_request_t *request);

//  Parks request (taken) in the waiting table until the request timeout.
//  Returns 0, or -1 when it answered and destroyed the request instead.
int proposal_park (server_t *server, client_request_t *request);

//  Validates, packs and proposes command for a parked request, under its
//  ticket; or unparks, answers and destroys the request.
void proposal_submit (server_t *server, client_request_t *request, Raftq__State__Command *command);

//  Unparks, answers with code and text, and destroys a parked request.
void proposal_finish (server_t *server, client_request_t *request, Raftq__Code code,
                      const char *text);

#ifdef __cplusplus
}
#endif

#endif
