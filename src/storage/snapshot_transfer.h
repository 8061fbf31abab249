/*  snapshot_transfer — moving a snapshot file between nodes (InstallSnapshot):
    reading the leader's file in chunks, receiving a file into a temporary
    and installing it once verified, and the writer actor that does the
    receiving (write, fsync, verify) off the Raft actor's loop. The file is
    moved as bytes: nothing here reads more than its header and checksums.

    The writer is also the one owner of pruning in the snapshot directory
    (see snapshot.h): it prunes after installing a received file and when
    told (snapshot_writer_prune) that a snapshot of the node's own is
    durable, and it removes stray temporaries when it starts.

    Pipe messages of the writer (integers little-endian u64 unless said):
      owner -> writer
        "CHUNK" [index][term][offset][last u8][bytes]
                                    bytes of the file of snapshot index being
                                    received; a chunk of another index drops
                                    the one in progress
        "PRUNE"                     keep only the newest SNAPSHOT_KEEP files
        "$TERM"                     stop (czmq convention)
      writer -> owner
        "RECEIVED" [index][term]         the last chunk's file verified and
                                         installed
        "FAILED"   [index][term][reason] a receive failed; it starts over at
                                         offset 0
*/
#ifndef SNAPSHOT_TRANSFER_H_INCLUDED
#define SNAPSHOT_TRANSFER_H_INCLUDED

#include <czmq.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

//  --------------------------------------------------------------------------
//  Streaming a snapshot file to a follower

//  Reads up to max bytes of the file at path from offset into buffer.
//  Returns the bytes read (0 at or past the end), or -1: the file may have
//  been pruned meanwhile, so start over with the newest snapshot. Sets
//  *file_size to the file's size, which tells the sender when it is done.
ssize_t snapshot_read_chunk (const char *path, uint64_t offset, void *buffer, size_t max,
                             uint64_t *file_size);

//  --------------------------------------------------------------------------
//  Receiving one

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
//  index and both checksums) and installs it as the snapshot of its index.
//  Does not prune (the writer does). Returns 0, or -1 with error (nothing
//  is installed; the receiver can only be destroyed).
int snapshot_receiver_finish (snapshot_receiver_t *self, char *error, size_t error_size);

//  --------------------------------------------------------------------------
//  The writer actor: receives a leader's snapshot file off the caller's
//  loop, one chunk at a time, in the order given. One writer per directory.

//  The writer is the actor itself: nothing else to keep on the owner side.
typedef zactor_t snapshot_writer_t;

typedef enum {
    SNAPSHOT_RECEIVED = 2, //  the received file is verified and in place
    SNAPSHOT_FAILED = 3    //  it failed: see reason
} snapshot_outcome_t;

//  One report of the writer.
typedef struct {
    snapshot_outcome_t outcome; //  what happened
    uint64_t index;             //  snapshot it is about
    uint64_t term;              //  its term, as given with the chunk
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

//  Queues a prune of the directory: a new snapshot is durable. Returns 0 or -1.
int snapshot_writer_prune (snapshot_writer_t *self);

//  Receives one report (blocks if none is waiting). Returns 0, or -1 when
//  interrupted or the message is malformed.
int snapshot_writer_recv (snapshot_writer_t *self, snapshot_report_t *report);

#ifdef __cplusplus
}
#endif

#endif
