/*  snapshot — snapshots of the replicated state on disk: packing the state
    machine into a snapshot body, writing snapshot files atomically, taking
    a snapshot in a forked child (a snapshot job) so that the caller's loop
    never waits for it, loading the newest valid one at start, reading a
    file in chunks to stream it to a follower and receiving one
    (InstallSnapshot) through a writer actor that does the slow part
    (write, fsync, verify) off the caller's loop.

    A snapshot of dir is the file <dir>/snapshot-<index, 20 digits>.snap:
        [magic "RAFTQSN1"][body length u64][crc32c of body u32][body]
    integers little-endian; the body is a packed raftq.state.Snapshot (index,
    term of that entry, Raft membership as of it, the fsm state). A file is
    written under a temporary name, fdatasync'd, renamed into place and the
    directory fsync'd: after a crash a snapshot file is whole or absent, and
    a stray temporary is ignored by load and removed by the writer. After
    each new snapshot only the newest SNAPSHOT_KEEP are kept.

    The integrator's path (the names below):
      - broker thread, when the log passed its size limit:
            job = snapshot_job_start (dir, fsm, term_of_applied, membership, ...);
        poll snapshot_job_fd (job) in the loop; when it is readable call
        snapshot_job_collect (job) until it returns 1, then, if
        snapshot_job_written (job), the Raft actor compacts its log up to
        the job's index minus the trailing window (log_store_truncate_prefix);
      - start: snapshot = snapshot_load (snap_dir, UINT64_MAX, report);
        log the report if not empty; if the log's first index is above
        1 and no snapshot reaches first index - 1, stop: the state between
        is lost. Else snapshot_restore into a fresh fsm, give the Raft
        layer snapshot_index / term / membership, and replay the log
        entries after the snapshot's index;
      - leader streaming: snapshot_path + snapshot_read_chunk;
      - follower: snapshot_writer_chunk for each chunk received, then on
        SNAPSHOT_RECEIVED load that index (snapshot_load with max_index =
        index) into a fresh fsm.
*/
#ifndef SNAPSHOT_H_INCLUDED
#define SNAPSHOT_H_INCLUDED

#include <czmq.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "state/fsm.h"

#ifdef __cplusplus
extern "C" {
#endif

//  Snapshot files kept in a directory: the newest, and one older to fall
//  back on when the newest turns out corrupt.
#define SNAPSHOT_KEEP 2
//  Header before the body: magic, body length, checksum.
#define SNAPSHOT_HEADER_BYTES 20
//  Room for a snapshot file name and its NUL.
#define SNAPSHOT_NAME_SIZE 48

//  --------------------------------------------------------------------------
//  Packing and writing (tests and tools; a node's own snapshots are jobs)

//  Packs fsm's whole state as of its applied index, with term (the term of
//  the entry at that index) and membership (the Raft configuration as of
//  it, opaque here), into a snapshot body. One pass over the state and one
//  protobuf pack, on the fsm's thread; no checksum, no I/O. Returns the
//  body (malloc'd) and its size, or NULL with error when the state does not
//  fit a protobuf message (2 GiB).
uint8_t *snapshot_pack (fsm_t *fsm, uint64_t term, const uint8_t *membership,
                        size_t membership_size, size_t *size, char *error, size_t error_size);

//  Writes body as the snapshot of index in dir (created if missing),
//  durably and atomically, then removes all but the newest SNAPSHOT_KEEP.
//  Slow (checksum, fdatasync): call it from a worker. Returns 0, or -1
//  with error.
int snapshot_write (const char *dir, uint64_t index, const uint8_t *body, size_t size, char *error,
                    size_t error_size);

//  --------------------------------------------------------------------------
//  Snapshot jobs: the state machine's snapshot, written by a forked child.
//  fork() gives the child a copy-on-write image of the fsm as of the call,
//  so the caller goes on applying at once while the child packs the state
//  and writes it exactly as snapshot_write does (temporary, fdatasync,
//  rename, directory fsync, prune), then reports on a pipe and _exit()s.
//  The child touches nothing but the fsm, malloc and the snapshot files:
//  no ZeroMQ socket, no stdio, no atexit handler. It runs niced, dies with
//  its parent, and writes its temporary under a name of its own
//  (snapshot-<index>.tmp), which no receiver uses (they write
//  *.recv.tmp), so a job and an InstallSnapshot being received in the same
//  directory never clobber each other's files.

typedef struct _snapshot_job_t snapshot_job_t;

//  Forks the child that writes fsm's state as of its applied index (term:
//  the term of that entry, membership: the Raft configuration as of it,
//  copied by the fork) as a snapshot in dir. Returns the job, or NULL with
//  error when nothing is applied or the fork fails (try again later).
snapshot_job_t *snapshot_job_start (const char *dir, fsm_t *fsm, uint64_t term,
                                    const uint8_t *membership, size_t membership_size, char *error,
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

//  Why an ended job did not write its snapshot ("" otherwise): the child's
//  own reason, or how it died.
const char *snapshot_job_reason (snapshot_job_t *self);

//  --------------------------------------------------------------------------
//  Loading

typedef struct _snapshot_t snapshot_t;

//  Loads the newest snapshot of dir whose index is at most max_index
//  (UINT64_MAX: any) and that verifies: magic, length, checksum, protobuf,
//  the index in the body matching the file name. A newer file that fails
//  is skipped; report (emptied first) then names each skipped file and
//  why, on one line, for the caller to log. Returns NULL when no snapshot
//  verifies: report is empty when dir holds none (or does not exist), else
//  it says why each failed or why dir could not be read.
snapshot_t *snapshot_load (const char *dir, uint64_t max_index, char *report, size_t report_size);

void snapshot_destroy (snapshot_t **self_p);

//  The last log index the snapshot covers, and the term of that entry.
uint64_t snapshot_index (snapshot_t *self);
uint64_t snapshot_term (snapshot_t *self);

//  The membership bytes given to snapshot_pack. Borrowed from self.
const uint8_t *snapshot_membership (snapshot_t *self, size_t *size);

//  Size of the file the snapshot was loaded from.
uint64_t snapshot_file_size (snapshot_t *self);

//  Restores the snapshot's state into fsm, which must have applied
//  nothing. The payloads move into fsm: only the first call can succeed.
//  Returns 0, or -1 with error (the fsm must then be destroyed).
int snapshot_restore (snapshot_t *self, fsm_t *fsm, char *error, size_t error_size);

//  Indexes of the snapshot files of dir, newest first (not verified).
//  Caller frees *indexes. Returns 0 (a missing dir holds none), or -1.
int snapshot_list (const char *dir, uint64_t **indexes, size_t *count);

//  Writes the path of the snapshot file of index into path.
void snapshot_path (const char *dir, uint64_t index, char *path, size_t path_size);

//  --------------------------------------------------------------------------
//  Streaming a snapshot file to a follower, and receiving one

//  Reads up to max bytes of the file at path from offset into buffer.
//  Returns the bytes read (0 at or past the end), or -1: the file may have
//  been pruned meanwhile, so start over with the newest snapshot. Sets
//  *file_size to the file's size, which tells the sender when it is done.
ssize_t snapshot_read_chunk (const char *path, uint64_t offset, void *buffer, size_t max,
                             uint64_t *file_size);

typedef struct _snapshot_receiver_t snapshot_receiver_t;

//  Starts receiving the snapshot file of index into a temporary file in
//  dir (created if missing). Returns NULL with error on failure.
snapshot_receiver_t *snapshot_receiver_new (const char *dir, uint64_t index, char *error,
                                            size_t error_size);

//  Discards an unfinished file.
void snapshot_receiver_destroy (snapshot_receiver_t **self_p);

//  Appends the bytes of the file at offset. Bytes already received (a
//  resent chunk) are skipped; a chunk that leaves a gap is refused with -1
//  and error (the sender must go back to snapshot_receiver_received).
int snapshot_receiver_append (snapshot_receiver_t *self, uint64_t offset, const void *data,
                              size_t size, char *error, size_t error_size);

//  Bytes of the file received so far: the offset the next chunk must have.
uint64_t snapshot_receiver_received (snapshot_receiver_t *self);

//  The file is complete: makes it durable, verifies it as load would (its
//  index included) and installs it as the snapshot of its index, then
//  removes all but the newest SNAPSHOT_KEEP. Returns 0, or -1 with error
//  (nothing is installed; the receiver can only be destroyed).
int snapshot_receiver_finish (snapshot_receiver_t *self, char *error, size_t error_size);

//  --------------------------------------------------------------------------
//  The writer actor: receives a leader's snapshot file (InstallSnapshot)
//  off the caller's loop, one chunk at a time, in the order given. One
//  writer per directory (snapshots this node takes itself are written by
//  snapshot jobs, whose temporaries have another name).
//  It removes stray temporary files when it starts.
//
//  Pipe messages (integers little-endian u64 unless said):
//    owner -> writer
//      "CHUNK" [index][term][offset][last u8][bytes]
//                                               bytes of the file of snapshot
//                                               index being received; a chunk
//                                               of another index drops the
//                                               one in progress
//      "$TERM"                                  stop (czmq convention)
//    writer -> owner
//      "RECEIVED" [index][term]                 the last chunk's file verified
//                                               and installed
//      "FAILED"   [index][term][reason]         a receive failed; it starts
//                                               over at offset 0

typedef struct _snapshot_writer_t snapshot_writer_t;

typedef enum {
    SNAPSHOT_RECEIVED = 2, //  the received file is verified and in place
    SNAPSHOT_FAILED = 3    //  it failed: see reason
} snapshot_outcome_t;

//  One report of the writer.
typedef struct {
    snapshot_outcome_t outcome; //  what happened
    uint64_t index;             //  snapshot it is about
    uint64_t term;              //  its term, as given with the job
    char reason[256];           //  FAILED: why, else ""
} snapshot_report_t;

//  Starts the writer thread for dir. Returns NULL if the thread cannot start.
snapshot_writer_t *snapshot_writer_new (const char *dir);

//  Stops the thread once the chunks already queued are written and frees
//  everything.
void snapshot_writer_destroy (snapshot_writer_t **self_p);

//  The pipe to poll for reports.
zsock_t *snapshot_writer_sock (snapshot_writer_t *self);

//  Queues a chunk of a snapshot file being received (data is copied); last
//  marks the chunk that ends the file. Returns 0 or -1.
int snapshot_writer_chunk (snapshot_writer_t *self, uint64_t index, uint64_t term, uint64_t offset,
                           const void *data, size_t size, bool last);

//  Receives one report (blocks if none is waiting). Returns 0, or -1 when
//  interrupted or the message is malformed.
int snapshot_writer_recv (snapshot_writer_t *self, snapshot_report_t *report);

#ifdef __cplusplus
}
#endif

#endif
