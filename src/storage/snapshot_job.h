/*  snapshot_job — a snapshot written by a forked child, so that the
    caller's loop never waits for it. fork() gives the child a
    copy-on-write image of the caller's memory as of the call, so the
    caller goes on changing its state at once while the child runs the
    source (which streams the state's bytes into the file) and writes the
    snapshot exactly as snapshot_write does (temporary, fdatasync, rename,
    directory fsync), then reports on a pipe and _exit()s. The child does
    not prune: the snapshot writer does (snapshot.h).

    The child touches nothing but what the source reads, malloc and the
    snapshot files: no ZeroMQ socket, no stdio, no atexit handler. It runs
    niced, dies with its parent, and writes its temporary under a name of
    its own (snapshot-<index>.snap.tmp), which no receiver uses (they write
    *.recv.tmp), so a job and an InstallSnapshot being received in the same
    directory never clobber each other's files.

    The caller: job = snapshot_job_start (...); poll snapshot_job_fd (job);
    when readable call snapshot_job_collect (job) until it returns 1, then
    look at snapshot_job_written (job).
*/
#ifndef SNAPSHOT_JOB_H_INCLUDED
#define SNAPSHOT_JOB_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "storage/snapshot.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct _snapshot_job_t snapshot_job_t;

//  Forks the child that writes the snapshot of header (index > 0; the
//  membership is copied by the fork) into dir, its body from source
//  (argument: what the source reads, as of the fork). Returns the job, or
//  NULL with error when the fork fails (try again later).
snapshot_job_t *snapshot_job_start (const char *dir, const snapshot_header_t *header,
                                    snapshot_source_fn *source, void *argument, char *error,
                                    size_t error_size);

//  Kills a child still running, reaps it and removes its temporary; frees
//  the job.
void snapshot_job_destroy (snapshot_job_t **self_p);

//  The descriptor to poll for input (a pipe; it also reports a hang-up):
//  readable when the child reported or ended. -1 once the job ended.
int snapshot_job_fd (snapshot_job_t *self);

//  Reads what the child sent, without blocking. Returns 0 while it still
//  runs; 1 once it has ended and been reaped (then see written / reason).
int snapshot_job_collect (snapshot_job_t *self);

//  Blocks until the child has ended and is reaped. Returns 0 or -1.
int snapshot_job_wait (snapshot_job_t *self);

//  The child's pid, 0 once reaped.
pid_t snapshot_job_pid (snapshot_job_t *self);

//  The index and term of the snapshot the job writes.
uint64_t snapshot_job_index (snapshot_job_t *self);
uint64_t snapshot_job_term (snapshot_job_t *self);

//  True once the job ended with the snapshot durable and in place.
bool snapshot_job_written (snapshot_job_t *self);

//  Size of the file a written job left in place, 0 otherwise.
uint64_t snapshot_job_bytes (snapshot_job_t *self);

//  Why an ended job did not write its snapshot ("" otherwise): the child's
//  own reason, or how it died.
const char *snapshot_job_reason (snapshot_job_t *self);

#ifdef __cplusplus
}
#endif

#endif
