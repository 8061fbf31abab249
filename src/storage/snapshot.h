/*  snapshot — the snapshot files of a node: the file format, writing a
    file atomically from a source of body bytes, loading the newest valid
    one, listing and pruning. Streaming a file to a follower and receiving
    one are snapshot_transfer's; taking one in a forked child is
    snapshot_job's.

    A snapshot is a small header the Raft layer reads, {index, term of that
    entry, membership as of it}, and an opaque body: the state machine's
    own bytes, which this layer never decodes. The file of index is
    <snap>/snapshot-<index, 20 digits>.snap (node_dir):

        offset  0  magic "RAFTQSN2"
                8  index u64
               16  term u64
               24  body size u64
               32  crc32c of the body u32
               36  membership size u32
               40  crc32c of bytes 0..40 and the membership u32
               44  membership bytes
                   body bytes

    integers little-endian. The header's checksum covers the body's, so
    reading the header verifies all but the body's bytes, and the metadata
    is read without touching the body. Files of the previous format
    ("RAFTQSN1", a packed raftq.state.Snapshot) still load: see
    snapshot_legacy.h.

    A file is written under a temporary name, fdatasync'd, renamed into
    place and the directory fsync'd: after a crash a snapshot file is whole
    or absent, and a stray temporary is ignored by load and removed by the
    snapshot writer when it starts.

    Pruning has one owner: the snapshot writer thread (snapshot_transfer),
    which keeps the newest SNAPSHOT_KEEP after it installs a received
    snapshot and when the Raft actor tells it one of its own is durable.
    Nothing else deletes snapshot files.

    The integrator's path:
      - broker, to take one: snapshot_job_start (snapshot_job.h) with a
        source that streams the state machine's bytes into the output;
      - start: snapshot_load (dir, UINT64_MAX, ...); restore the state
        machine from snapshot_body, give the Raft layer index, term and
        membership, replay the log after index;
      - after a leader's snapshot is received: snapshot_load_header for the
        Raft layer, snapshot_load of that index for the state machine.
*/
#ifndef SNAPSHOT_H_INCLUDED
#define SNAPSHOT_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

//  Snapshot files kept in a directory: the newest, and one older to fall
//  back on when the newest turns out corrupt.
#define SNAPSHOT_KEEP 2
//  Fixed part of the header, before the membership.
#define SNAPSHOT_HEADER_BYTES 44
//  Largest membership a header may carry.
#define SNAPSHOT_MAX_MEMBERSHIP_BYTES (16U * 1024 * 1024)

//  What the Raft layer knows of a snapshot.
typedef struct {
    uint64_t index;            //  last log index the snapshot covers (> 0)
    uint64_t term;             //  term of that entry
    const uint8_t *membership; //  Raft configuration as of index, opaque here
    size_t membership_size;    //  its size
} snapshot_header_t;

//  --------------------------------------------------------------------------
//  Writing

//  Where a source writes the body: the storage layer's buffered file
//  output, which checksums on the way and syncs as it goes.
typedef struct _snapshot_output_t snapshot_output_t;

//  Appends size bytes of body. A failure is remembered and reported when
//  the write ends; the source need not check.
void snapshot_output_write (snapshot_output_t *self, const void *data, size_t size);

//  Body bytes written so far.
uint64_t snapshot_output_size (snapshot_output_t *self);

//  Streams the whole body into output. Returns 0, or -1 with error.
typedef int (snapshot_source_fn) (void *argument, snapshot_output_t *output, char *error,
                                  size_t error_size);

//  Writes the snapshot of header->index into dir (created if missing),
//  its body from source, durably and atomically, under the temporary a
//  snapshot job uses. Slow (checksum, fdatasync): call it off any loop.
//  Does not prune. Returns 0, or -1 with error.
int snapshot_write (const char *dir, const snapshot_header_t *header, snapshot_source_fn *source,
                    void *argument, char *error, size_t error_size);

//  The same with a body in memory.
int snapshot_write_body (const char *dir, const snapshot_header_t *header, const uint8_t *body,
                         size_t size, char *error, size_t error_size);

//  Encodes the fixed header (SNAPSHOT_HEADER_BYTES) of a file of header
//  whose body has body_size bytes of checksum body_crc; the membership
//  follows it in the file. For tools and tests that build files in memory.
void snapshot_header_encode (uint8_t *fixed, const snapshot_header_t *header, uint64_t body_size,
                             uint32_t body_crc);

//  Removes all but the newest SNAPSHOT_KEEP snapshot files of dir. Best
//  effort: a file that cannot be removed now goes after the next snapshot.
//  Only the snapshot writer calls it (see above).
void snapshot_prune (const char *dir);

//  --------------------------------------------------------------------------
//  Loading

typedef struct _snapshot_t snapshot_t;

//  Loads the newest snapshot of dir whose index is at most max_index
//  (UINT64_MAX: any) and that verifies: magic, sizes against the file,
//  both checksums, the index in the header matching the file name. The
//  body is mapped, not decoded or copied. A newer file that fails is
//  skipped; report (emptied first) then names each skipped file and why,
//  on one line, for the caller to log. Returns NULL when no snapshot
//  verifies: report is empty when dir holds none (or does not exist), else
//  it says why each failed or why dir could not be read.
snapshot_t *snapshot_load (const char *dir, uint64_t max_index, char *report, size_t report_size);

//  Loads only the header of the snapshot file of index in dir, verified
//  (the body is not read; a file of the previous format is checked
//  whole). Returns NULL with error when it is missing or fails.
snapshot_t *snapshot_load_header (const char *dir, uint64_t index, char *error, size_t error_size);

void snapshot_destroy (snapshot_t **self_p);

//  The header: index, term and membership (borrowed from self).
const snapshot_header_t *snapshot_header (snapshot_t *self);

//  The last log index the snapshot covers, and the term of that entry.
uint64_t snapshot_index (snapshot_t *self);
uint64_t snapshot_term (snapshot_t *self);

//  The membership bytes of the header. Borrowed from self.
const uint8_t *snapshot_membership (snapshot_t *self, size_t *size);

//  The body, mapped from the file: borrowed from self, valid until it is
//  destroyed. NULL (size 0) for a snapshot loaded by snapshot_load_header.
const uint8_t *snapshot_body (snapshot_t *self, size_t *size);

//  Size of the file the snapshot was loaded from.
uint64_t snapshot_file_size (snapshot_t *self);

//  Verifies the file name in the open directory as the snapshot of index,
//  as snapshot_load would. Returns 0, or -1 with the reason in why.
int snapshot_verify (int directory_fd, const char *name, uint64_t index, char *why,
                     size_t why_size);

//  Makes the durable temporary in the open directory the snapshot file of
//  index: rename, then a directory fsync, so the name is durable before
//  anyone deletes the log prefix it covers. For snapshot_transfer's
//  receiver. Returns 0, or -1 with error.
int snapshot_install (int directory_fd, const char *temporary, uint64_t index, char *error,
                      size_t error_size);

//  Indexes of the snapshot files of dir, newest first (not verified).
//  Caller frees *indexes. Returns 0 (a missing dir holds none), or -1.
int snapshot_list (const char *dir, uint64_t **indexes, size_t *count);

//  Writes the path of the snapshot file of index into path.
void snapshot_path (const char *dir, uint64_t index, char *path, size_t path_size);

#ifdef __cplusplus
}
#endif

#endif
