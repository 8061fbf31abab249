/*  command — the translation of a client request into the state machine
    command that goes to the Raft log. Only requests that go to the log as
    they are translate: CreateAccount and Login need the leader's password
    work first, Status, Replay and the admin requests never reach the log.
*/
#ifndef COMMAND_H_INCLUDED
#define COMMAND_H_INCLUDED

#include "raftq.pb-c.h"
#include "state.pb-c.h"

#ifdef __cplusplus
extern "C" {
#endif

//  Sets the operation of command from request, its fields borrowed from
//  the request (which must outlive the command). Returns 0, or -1 when the
//  request is no state machine operation of its own (command untouched).
int command_from_request (const Raftq__Request *request, Raftq__State__Command *command);

#ifdef __cplusplus
}
#endif

#endif
