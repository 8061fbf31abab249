/*  command — the translation of a client request into the state machine
    command that goes to the Raft log. Only requests that go to the log as
    they are translate: CreateAccount and Login need the leader's password
    work first, Status, Replay and the admin requests never reach the log.
*/
#ifndef COMMAND_H_INCLUDED
#define COMMAND_H_INCLUDED

#include <stdint.h>

#include "raftq.pb-c.h"
#include "state.pb-c.h"

#ifdef __cplusplus
extern "C" {
#endif

//  Sets the operation of command from request, its fields borrowed from
//  the request (which must outlive the command). Returns 0, or -1 when the
//  request is no state machine operation of its own (command untouched).
int command_from_request (const Raftq__Request *request, Raftq__State__Command *command);

//  Bytes of a request digest.
#define COMMAND_DIGEST_SIZE 16

//  The digest of what command asks: its operation, the operation's
//  arguments and its session (the token's key). A retry of the same request
//  has the same digest; the exactly-once table keeps it with the cached
//  reply, so a (client_id, seq) reused for another request is told apart.
//  Login and CreateAccount count by operation and user: their commands
//  carry what the leader computed, not what the client sent.
void command_digest (const Raftq__State__Command *command, uint8_t digest[COMMAND_DIGEST_SIZE]);

//  The digest command_digest gives the command request becomes once
//  proposed. Returns 0, or -1 when request is no state machine operation.
int command_request_digest (const Raftq__Request *request, uint8_t digest[COMMAND_DIGEST_SIZE]);

#ifdef __cplusplus
}
#endif

#endif
