/*  log_store — the Raft log on disk: segment files of CRC'd records.

    Records: CRC'd, each with the store's durable mark (log_record.h).
    Segments are files log/<first index>.seg,
    rolled at a size limit (the full segment is synced first). Appends are
    buffered writes; log_store_sync makes everything appended so far durable
    with one fdatasync, so many entries share one sync. Opening a store scans
    every record and truncates a torn tail (bad length, bad crc, index out of
    sequence in the last segment, nothing valid after it that was written
    once it was synced): such bytes are never trusted. The last segment's
    zero-filled tail (preallocated) is its end, not a torn tail. Corruption
    before the tail (in an earlier segment, or with valid records after it
    written once it was synced, a missing segment) is refused instead:
    cutting there would drop entries that were acknowledged. Not thread-safe: one
    owner (the raft actor).
*/
#ifndef LOG_STORE_H_INCLUDED
#define LOG_STORE_H_INCLUDED

#include "raft/raft_core.h"

typedef struct _log_store_t log_store_t;

//  Opens (creating if needed) the log in directory path and recovers it.
//  On failure returns NULL and writes a one-line reason into error; for
//  corruption before the tail (errno EUCLEAN) it names the segment file and
//  the offset, and nothing on disk was changed.
//  segment_bytes: roll size of a segment file (0: 64 MiB).
log_store_t *log_store_open (const char *path, uint64_t segment_bytes, char *error,
                             size_t error_size);

void log_store_destroy (log_store_t **self_p);

//  Index of the first and last entry held; both 0 when the log is empty.
uint64_t log_store_first_index (log_store_t *self);
uint64_t log_store_last_index (log_store_t *self);

//  Bytes truncated from a torn tail when the store was opened.
uint64_t log_store_recovered_bytes (log_store_t *self);

//  Appends entries, whose indexes must follow last_index without a gap (a
//  gap aborts: the Raft core never makes one). Not durable until
//  log_store_sync. Returns 0, or -1 (errno EMSGSIZE: a payload too large
//  for a record; EIO: an earlier write failed).
int log_store_append (log_store_t *self, const raft_entry_t *entries, size_t count);

//  Makes every append so far durable (fdatasync; directory fsync after a new
//  segment). Returns 0 or -1.
int log_store_sync (log_store_t *self);

//  The sync handed off (below) that covered entries up to index returned 0:
//  records appended from now on carry that durable mark (log_record.h),
//  which recovery trusts.
void log_store_synced (log_store_t *self, uint64_t index);

//  The same sync, done on another thread so that the owner's loop goes on
//  serving sockets meanwhile. When all that is not durable is the newest
//  segment's data (the usual case: no segment was made since the last
//  sync), *fd gets a duplicate of its descriptor: the caller fdatasyncs and
//  closes it, and what was appended so far is durable once that returns 0
//  (appends after this call need a sync of their own). The store counts it
//  synced from now on. *fd is -1 when nothing needs syncing. Returns 0, or
//  -1 when this cannot be handed off (call log_store_sync instead) or the
//  store has failed (errno EIO).
int log_store_sync_handoff (log_store_t *self, int *fd);

//  Deletes every entry with index >= from_index, durably. Returns 0 or -1.
int log_store_truncate_suffix (log_store_t *self, uint64_t from_index);

//  Compaction after a snapshot: deletes, durably, every segment whose
//  entries all have index <= up_to_index. Segment-granular: the segment
//  holding up_to_index + 1 is kept whole, so first_index may stay below
//  up_to_index + 1; when every entry is <= up_to_index the log becomes
//  empty and the next append may start at any index. Returns 0 or -1.
int log_store_truncate_prefix (log_store_t *self, uint64_t up_to_index);

//  Calls visit for each entry from first to last, in order. The entry and its
//  data are borrowed for the call. Stops and returns -1 if visit returns -1.
typedef int (log_store_visit_fn) (const raft_entry_t *entry, void *argument);
int log_store_replay (log_store_t *self, log_store_visit_fn *visit, void *argument);

//  Total size of the segment files' records in bytes (zero tails aside).
uint64_t log_store_size (log_store_t *self);

#endif
