/*  state_snapshot — the broker's side of snapshots: the source that streams
    the state machine's bytes into a snapshot file (run in a snapshot job's
    forked child) and the sink that restores a fresh state machine from a
    loaded snapshot's body (run on the broker thread). Storage and the Raft
    actor only ever see headers and files; the state machine only bytes.
*/
#ifndef STATE_SNAPSHOT_H_INCLUDED
#define STATE_SNAPSHOT_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

#include "state/fsm.h"
#include "storage/snapshot.h"
#include "storage/snapshot_job.h"

#ifdef __cplusplus
extern "C" {
#endif

//  Starts a job writing fsm's state as of its applied index into dir, with
//  term (of the applied entry) and membership (the Raft configuration as
//  of it). Returns the job, or NULL with error (nothing applied, fork
//  failed).
snapshot_job_t *state_snapshot_job_start (const char *dir, fsm_t *fsm, uint64_t term,
                                          const uint8_t *membership, size_t membership_size,
                                          char *error, size_t error_size);

//  Writes the same snapshot synchronously, on this thread. Returns 0, or
//  -1 with error. For tests and tools.
int state_snapshot_write (const char *dir, fsm_t *fsm, uint64_t term, const uint8_t *membership,
                          size_t membership_size, char *error, size_t error_size);

//  Restores snapshot's body into fsm, which must have applied nothing.
//  Returns 0, or -1 with error (the fsm must then be destroyed).
int state_snapshot_restore (snapshot_t *snapshot, fsm_t *fsm, char *error, size_t error_size);

#ifdef __cplusplus
}
#endif

#endif
