/*  fsm_snapshot — the state machine's own snapshot encoding: the body of a
    snapshot file is the fsm's state as one packed raftq.state.FsmState.
    Storage moves these bytes without reading them; the broker streams them
    into a snapshot file (pack) and restores a fresh fsm from them
    (restore), both on the thread that owns the fsm (or in a forked child
    of it).

    The body is one protobuf message, so it must stay under 2 GiB
    (protobuf-c frames a sub-message with a 32-bit length, and protobuf
    itself says 2 GiB): a larger state cannot be snapshotted, pack says so,
    and the log keeps growing. The broker keeps the state below it: config
    caps max_state_bytes ("limits" in config.json) at 1 GiB.
*/
#ifndef FSM_SNAPSHOT_H_INCLUDED
#define FSM_SNAPSHOT_H_INCLUDED

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>
#include <stdint.h>

#include "state/fsm.h"

#ifdef __cplusplus
extern "C" {
#endif

//  Packs fsm's whole state, as of its applied index, into output: one pass
//  over the state to size it, one to pack it, every length prefix written
//  before its sub-message (no moving of packed bytes). Sets *size to the
//  bytes packed. Returns 0, or -1 with error when the state does not fit
//  a protobuf message.
int fsm_snapshot_pack_into (fsm_t *fsm, ProtobufCBuffer *output, size_t *size, char *error,
                            size_t error_size);

//  The same into memory of the exact size: returns the body (malloc'd) and
//  its size, or NULL with error. For tests and tools.
uint8_t *fsm_snapshot_pack (fsm_t *fsm, size_t *size, char *error, size_t error_size);

//  Restores into fsm, which must have applied nothing, the state a body of
//  size bytes holds, which must be the state as of index (the snapshot's
//  index). Decodes straight from body (it may be a mapped file); the
//  payloads are copied out of it once, by the decoding. Returns 0, or -1
//  with error (the fsm must then be destroyed).
int fsm_snapshot_restore (fsm_t *fsm, uint64_t index, const uint8_t *body, size_t size, char *error,
                          size_t error_size);

#ifdef __cplusplus
}
#endif

#endif
