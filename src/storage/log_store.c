/*  log_store — owns the Raft log on disk: segment files of CRC'd records
    (log_record), group-commit syncs, replay, durable suffix truncation and
    whole-segment prefix truncation (compaction). The recovery of a torn or
    corrupt tail at open is log_recovery's.

    Files: <path>/<first index, 20 digits>.seg (node_dir); anything else in
    the directory is ignored. A segment is rolled when the next record would take it past
    the segment size given at open, LOG_STORE_SEGMENT_BYTES by default (a
    record larger than that gets a segment of its own).

    Every segment file holds at least one record and the segments chain without
    gaps: recovery and truncation delete a segment rather than leave it empty,
    so a new segment can always be created with O_EXCL under its index.

    Decisions worth knowing:
    - the last segment is zero-filled ahead of its records
      (LOG_STORE_PREALLOCATE_BYTES at a time): records then overwrite
      blocks the file already has, so their fdatasync writes the data and
      no journal commit for a new size (measured here: p50 160 -> 105 us,
      a third less CPU, one context switch less per sync). A rolled
      segment is cut back to its records first, so only the last one has
      a zero tail; recovery takes such a tail as the end of the log. The
      price: unsynced pages of overwritten blocks may reach the disk out
      of order, so a crash can leave a valid record after an invalid one
      that was never synced. Each record carries the durable mark
      (log_record.h), which tells recovery which it is;
    - open fdatasyncs the surviving segments and the directory: a previous
      process may have died after writing but before syncing, and its entries
      must not count as persisted until they really are;
    - an empty log accepts any first index >= 1 (a compacted log restarts after
      its snapshot); a non-empty log only last_index + 1;
    - a failed fdatasync, or a failed write that cannot be rolled back, puts
      the store in a failed state where every later change returns -1 (EIO):
      after such a failure the kernel may have dropped the dirty pages, and a
      retried sync could falsely report success;
    - destroy does not sync: what was appended but not synced may be lost.
*/
#include "storage/log_store_private.h"

#include "storage/log_record.h"
#include "storage/node_dir.h"
#include "util/fd_reserve.h"
#include "util/file_io.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

//  Roll limit of a segment file.
#define LOG_STORE_SEGMENT_BYTES (64ULL * 1024 * 1024)
//  Append writes out its buffer once it holds this much: few write calls
//  without holding a whole large batch in memory.
#define LOG_STORE_WRITE_CHUNK (1024 * 1024)
//  First allocation of the append buffer; it grows to the largest batch chunk.
#define LOG_STORE_WRITE_BUFFER_MIN (64 * 1024)
//  Zeros written ahead of the last segment's records at a time: one
//  journal commit (for the size) per this much log, not one per sync.
#define LOG_STORE_PREALLOCATE_BYTES (1024 * 1024)
//  Size of each zero write of a preallocation.
#define LOG_STORE_ZEROS_BYTES (64 * 1024)

//  Makes room for needed elements, doubling from minimum. Returns the array,
//  moved if it had to grow, or NULL (errno ENOMEM) with the old one untouched.
static void *
s_grow (void *array, size_t *capacity, size_t needed, size_t element_size, size_t minimum)
{
    if (needed <= *capacity)
        return array;
    size_t grown = *capacity ? *capacity : minimum;
    while (grown < needed)
        grown *= 2;
    void *bigger = realloc (array, grown * element_size);
    if (!bigger) {
        errno = ENOMEM;
        return NULL;
    }
    *capacity = grown;
    return bigger;
}

//  Room for count more entries' offsets.
int
log_store_reserve_entries (log_store_t *self, size_t count)
{
    uint64_t *offsets = (uint64_t *)s_grow (self->offsets, &self->offset_capacity,
                                            self->entry_count + count, sizeof (uint64_t), 1024);
    if (!offsets)
        return -1;
    self->offsets = offsets;
    return 0;
}

//  Room for one more segment.
int
log_store_reserve_segment (log_store_t *self)
{
    segment_t *segments = (segment_t *)s_grow (self->segments, &self->segment_capacity,
                                               self->segment_count + 1, sizeof (segment_t), 8);
    if (!segments)
        return -1;
    self->segments = segments;
    return 0;
}

int
log_store_segment_open (log_store_t *self, segment_t *segment)
{
    if (segment->fd >= 0)
        return 0;
    char name[NODE_DIR_NAME_SIZE];
    node_dir_file_name (name, NODE_DIR_SEGMENT, segment->first_index);
    segment->fd =
        fd_reserve_openat (&self->spare_fd, self->directory_fd, name, O_RDWR | O_CLOEXEC, 0);
    return segment->fd < 0 ? -1 : 0;
}

void
log_store_segment_close (segment_t *segment)
{
    if (segment->fd >= 0)
        close (segment->fd);
    segment->fd = -1;
}

//  Deletes the file of the last segment and forgets it.
int
log_store_remove_last_segment (log_store_t *self)
{
    segment_t *segment = &self->segments[self->segment_count - 1];
    char name[NODE_DIR_NAME_SIZE];
    node_dir_file_name (name, NODE_DIR_SEGMENT, segment->first_index);
    log_store_segment_close (segment);
    self->directory_dirty = true;
    if (unlinkat (self->directory_fd, name, 0) && errno != ENOENT)
        return -1;
    self->segment_count--;
    return 0;
}

//  Starts a new last segment whose first record will have first_index.
//  The previous one is made durable before the next one exists, so a crash
//  can tear only the last segment: recovery reads a bad record anywhere
//  else as corruption, never as a torn tail.
static int
s_create_segment (log_store_t *self, uint64_t first_index)
{
    if (log_store_reserve_segment (self))
        return -1;
    segment_t *previous = self->segment_count ? &self->segments[self->segment_count - 1] : NULL;
    //  Only the last segment may end in zeros: recovery takes a tail that
    //  is not a record, in any earlier one, as corruption
    if (previous && previous->allocated > previous->size) {
        if (log_store_segment_open (self, previous) ||
            ftruncate (previous->fd, (off_t)previous->size))
            return -1;
        previous->allocated = previous->size;
        previous->dirty = true;
    }
    if (previous && previous->dirty) {
        if (fdatasync (previous->fd)) {
            self->failed = true;
            return -1;
        }
        previous->dirty = false;
        //  Everything before the new segment is durable now
        log_store_synced (self, first_index - 1);
    }
    //  Closed first, so that the new file takes its descriptor: when
    //  connections take every descriptor freed, the log still has one
    if (previous)
        log_store_segment_close (previous);
    char name[NODE_DIR_NAME_SIZE];
    node_dir_file_name (name, NODE_DIR_SEGMENT, first_index);
    //  And if one was taken meanwhile, the spare one lets the log go on
    int fd = fd_reserve_openat (&self->spare_fd, self->directory_fd, name,
                                O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        return -1;
    self->segments[self->segment_count++] = (segment_t){first_index, 0, 0, fd, true};
    self->directory_dirty = true;
    return 0;
}

//  Index of the segment holding entry index, which the log must hold.
static size_t
s_find_segment (log_store_t *self, uint64_t index)
{
    size_t low = 0;
    size_t high = self->segment_count - 1;
    while (low < high) {
        size_t middle = low + (high - low + 1) / 2;
        if (self->segments[middle].first_index <= index)
            low = middle;
        else
            high = middle - 1;
    }
    return low;
}

int
log_store_sync_directory (log_store_t *self)
{
    if (!self->directory_dirty)
        return 0;
    if (fsync (self->directory_fd))
        return -1;
    self->directory_dirty = false;
    return 0;
}

log_store_t *
log_store_open (const char *path, uint64_t segment_bytes, char *error, size_t error_size)
{
    log_store_t *self = (log_store_t *)calloc (1, sizeof (log_store_t));
    if (!self) {
        snprintf (error, error_size, "log %s: out of memory", path);
        return NULL;
    }
    self->directory_fd = -1;
    self->spare_fd = fd_reserve_take ();
    self->path = strdup (path);
    if (!self->path) {
        snprintf (error, error_size, "log %s: out of memory", path);
        log_store_destroy (&self);
        errno = ENOMEM;
        return NULL;
    }
    self->segment_limit = segment_bytes ? segment_bytes : LOG_STORE_SEGMENT_BYTES;
    self->directory_fd = file_io_open_directory (path);
    int rc = self->directory_fd < 0 ? -1 : 0;
    if (rc)
        snprintf (error, error_size, "log %s: %s", path, strerror (errno));
    if (rc == 0)
        rc = log_recovery_run (self, error, error_size);
    if (rc) {
        int saved = errno;
        log_store_destroy (&self);
        errno = saved;
    }
    return self;
}

void
log_store_destroy (log_store_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    log_store_t *self = *self_p;
    for (size_t at = 0; at < self->segment_count; at++)
        log_store_segment_close (&self->segments[at]);
    if (self->directory_fd >= 0)
        close (self->directory_fd);
    fd_reserve_release (&self->spare_fd);
    free (self->segments);
    free (self->offsets);
    free (self->write_buffer);
    free (self->path);
    free (self);
    *self_p = NULL;
}

uint64_t
log_store_first_index (log_store_t *self)
{
    return self->entry_count ? self->segments[0].first_index : 0;
}

uint64_t
log_store_last_index (log_store_t *self)
{
    return self->entry_count ? self->segments[0].first_index + self->entry_count - 1 : 0;
}

uint64_t
log_store_recovered_bytes (log_store_t *self)
{
    return self->recovered_bytes;
}

uint64_t
log_store_size (log_store_t *self)
{
    uint64_t total = 0;
    for (size_t at = 0; at < self->segment_count; at++)
        total += self->segments[at].size;
    return total;
}

//  Everything is checked before the first byte is written, so a refused
//  batch leaves no trace. Indexes come from the Raft core, which keeps its
//  log gapless: a gap is a caller bug and aborts. A payload's size may come
//  from a peer, so an oversize one is an error the caller survives.
static int
s_check_batch (log_store_t *self, const raft_entry_t *entries, size_t count)
{
    uint64_t expected = self->entry_count ? log_store_last_index (self) + 1 : entries[0].index;
    assert (expected > 0);
    for (size_t at = 0; at < count; at++) {
        assert (entries[at].index == expected + at);
        assert (entries[at].size == 0 || entries[at].data);
        if (entries[at].size >
            LOG_RECORD_MAX_BYTES - LOG_RECORD_FIXED_BYTES - LOG_RECORD_MARK_BYTES) {
            errno = EMSGSIZE;
            return -1;
        }
        //  The type shares its byte with the record's mark bit
        if (entries[at].type & LOG_RECORD_MARKED) {
            errno = EINVAL;
            return -1;
        }
    }
    return 0;
}

//  Zero-fills segment (open) past end, up to LOG_STORE_PREALLOCATE_BYTES
//  beyond it but not past the segment limit, unless it is filled that far
//  already. Best effort: where zeros cannot be written (a full disk), the
//  records extend the file themselves, as without preallocation. The
//  zeros' writeback starts at once, so the next fdatasync finds it done.
static void
s_preallocate (log_store_t *self, segment_t *segment, uint64_t end)
{
    static const uint8_t zeros[LOG_STORE_ZEROS_BYTES];
    if (end <= segment->allocated)
        return;
    uint64_t start = segment->allocated > segment->size ? segment->allocated : segment->size;
    uint64_t limit = end > self->segment_limit ? end : self->segment_limit;
    uint64_t target =
        end + LOG_STORE_PREALLOCATE_BYTES < limit ? end + LOG_STORE_PREALLOCATE_BYTES : limit;
    int saved = errno;
    uint64_t filled = start;
    while (filled < target) {
        uint64_t left = target - filled;
        size_t chunk = left < sizeof zeros ? (size_t)left : sizeof zeros;
        if (file_io_write_all (segment->fd, zeros, chunk, filled))
            break;
        filled += chunk;
    }
    if (filled > start)
        sync_file_range (segment->fd, (off_t)start, (off_t)(filled - start), SYNC_FILE_RANGE_WRITE);
    if (filled > segment->allocated)
        segment->allocated = filled;
    errno = saved;
}

//  Writes the buffered records at the end of the last segment.
static int
s_flush (log_store_t *self, size_t *pending)
{
    if (*pending == 0)
        return 0;
    segment_t *segment = &self->segments[self->segment_count - 1];
    if (log_store_segment_open (self, segment))
        return -1;
    segment->dirty = true;
    s_preallocate (self, segment, segment->size + *pending);
    if (file_io_write_all (segment->fd, self->write_buffer, *pending, segment->size))
        return -1;
    segment->size += *pending;
    if (segment->size > segment->allocated)
        segment->allocated = segment->size;
    *pending = 0;
    return 0;
}

//  Undoes a failed append: deletes the segments it created and cuts the
//  previous last segment back to its old size. If that fails too the disk no
//  longer matches memory and the store refuses further changes.
static void
s_undo_append (log_store_t *self, size_t segment_count, uint64_t last_size, size_t entry_count)
{
    int saved = errno;
    while (self->segment_count > segment_count)
        if (log_store_remove_last_segment (self)) {
            self->failed = true;
            break;
        }
    //  Nothing written to it (a roll that could not open the next file):
    //  nothing to cut, and no descriptor needed to cut it
    if (!self->failed && segment_count > 0 && self->segments[segment_count - 1].size != last_size) {
        segment_t *segment = &self->segments[segment_count - 1];
        if (log_store_segment_open (self, segment) || ftruncate (segment->fd, (off_t)last_size))
            self->failed = true;
        else
            segment->size = segment->allocated = last_size;
    }
    self->entry_count = entry_count;
    errno = saved;
}

int
log_store_append (log_store_t *self, const raft_entry_t *entries, size_t count)
{
    assert (self);
    assert (entries || count == 0);
    if (self->failed) {
        errno = EIO;
        return -1;
    }
    if (count == 0)
        return 0;
    if (s_check_batch (self, entries, count) || log_store_reserve_entries (self, count))
        return -1;

    size_t segment_count = self->segment_count;
    uint64_t last_size = segment_count ? self->segments[segment_count - 1].size : 0;
    size_t entry_count = self->entry_count;
    size_t pending = 0;
    for (size_t at = 0; at < count; at++) {
        const raft_entry_t *entry = &entries[at];
        size_t record_size = log_record_size (entry);
        segment_t *last = self->segment_count ? &self->segments[self->segment_count - 1] : NULL;
        uint64_t used = last ? last->size + pending : 0;
        if (!last || (used > 0 && used + record_size > self->segment_limit)) {
            if (s_flush (self, &pending) || s_create_segment (self, entry->index))
                goto failed;
            last = &self->segments[self->segment_count - 1];
        }
        if (pending > 0 && pending + record_size > LOG_STORE_WRITE_CHUNK &&
            s_flush (self, &pending))
            goto failed;
        uint8_t *buffer = (uint8_t *)s_grow (self->write_buffer, &self->write_capacity,
                                             pending + record_size, 1, LOG_STORE_WRITE_BUFFER_MIN);
        if (!buffer)
            goto failed;
        self->write_buffer = buffer;
        log_record_encode (self->write_buffer + pending, entry, self->durable_index);
        self->offsets[self->entry_count++] = last->size + pending;
        pending += record_size;
    }
    if (s_flush (self, &pending))
        goto failed;
    return 0;

failed:
    s_undo_append (self, segment_count, last_size, entry_count);
    return -1;
}

int
log_store_sync (log_store_t *self)
{
    if (self->failed) {
        errno = EIO;
        return -1;
    }
    for (size_t at = 0; at < self->segment_count; at++) {
        segment_t *segment = &self->segments[at];
        if (!segment->dirty)
            continue;
        if (fdatasync (segment->fd)) {
            self->failed = true;
            return -1;
        }
        segment->dirty = false;
        if (at + 1 < self->segment_count)
            log_store_segment_close (segment);
    }
    if (log_store_sync_directory (self)) {
        self->failed = true;
        return -1;
    }
    log_store_synced (self, log_store_last_index (self));
    return 0;
}

void
log_store_synced (log_store_t *self, uint64_t index)
{
    uint64_t last_index = log_store_last_index (self);
    if (index > last_index)
        index = last_index;
    if (index > self->durable_index)
        self->durable_index = index;
}

int
log_store_sync_handoff (log_store_t *self, int *fd)
{
    *fd = -1;
    if (self->failed) {
        errno = EIO;
        return -1;
    }
    if (self->directory_dirty)
        return -1;
    //  Older segments are synced when the next one is made: only the
    //  newest may hold unsynced data here
    for (size_t at = 0; at + 1 < self->segment_count; at++)
        if (self->segments[at].dirty)
            return -1;
    segment_t *newest = self->segment_count ? &self->segments[self->segment_count - 1] : NULL;
    if (!newest || !newest->dirty)
        return 0;
    if (log_store_segment_open (self, newest) ||
        (*fd = fcntl (newest->fd, F_DUPFD_CLOEXEC, 0)) == -1)
        return -1;
    newest->dirty = false;
    return 0;
}

int
log_store_truncate_suffix (log_store_t *self, uint64_t from_index)
{
    assert (self);
    if (self->failed) {
        errno = EIO;
        return -1;
    }
    uint64_t first_index = log_store_first_index (self);
    if (self->entry_count == 0 || from_index > log_store_last_index (self))
        return 0;
    if (from_index < first_index)
        from_index = first_index;

    size_t holder = s_find_segment (self, from_index);
    uint64_t offset = self->offsets[from_index - first_index];
    //  Newest first, so an interrupted truncation still leaves a gapless log.
    while (self->segment_count > holder + 1) {
        if (log_store_remove_last_segment (self))
            return -1;
        self->entry_count = self->segments[self->segment_count].first_index - first_index;
    }
    segment_t *segment = &self->segments[holder];
    if (offset == 0) {
        //  Nothing left in it: delete rather than leave an empty segment.
        if (log_store_remove_last_segment (self))
            return -1;
    } else {
        if (log_store_segment_open (self, segment) || ftruncate (segment->fd, (off_t)offset))
            return -1;
        segment->size = segment->allocated = offset;
        if (fdatasync (segment->fd)) {
            self->failed = true;
            return -1;
        }
        segment->dirty = false;
    }
    self->entry_count = from_index - first_index;
    //  What replaces the cut entries is not durable for being at their indexes
    if (self->durable_index >= from_index)
        self->durable_index = from_index - 1;
    if (log_store_sync_directory (self)) {
        self->failed = true;
        return -1;
    }
    return 0;
}

int
log_store_replay (log_store_t *self, log_store_visit_fn *visit, void *argument)
{
    log_reader_t reader = {0};
    int rc = 0;
    uint64_t expected_index = log_store_first_index (self);
    uint64_t last_index = log_store_last_index (self);
    for (size_t at = 0; at < self->segment_count && rc == 0; at++) {
        segment_t *segment = &self->segments[at];
        bool opened_here = segment->fd < 0;
        if (log_store_segment_open (self, segment)) {
            rc = -1;
            break;
        }
        log_reader_start (&reader, segment->fd, segment->size);
        while (rc == 0) {
            raft_entry_t entry;
            uint64_t offset;
            int status_or_error = log_reader_next (&reader, &entry, &offset);
            if (status_or_error == LOG_RECORD_END)
                break;
            if (status_or_error < 0)
                rc = -1;
            else if (status_or_error == LOG_RECORD_INVALID || entry.index != expected_index) {
                //  The file changed under us since open.
                errno = EIO;
                rc = -1;
            } else if (visit (&entry, argument) == -1)
                rc = -1;
            else
                expected_index++;
        }
        if (opened_here && at + 1 < self->segment_count) {
            int saved = errno;
            log_store_segment_close (segment);
            errno = saved;
        }
    }
    if (rc == 0 && self->entry_count && expected_index != last_index + 1) {
        errno = EIO;
        rc = -1;
    }
    log_reader_release (&reader);
    return rc;
}

//  Deletes whole segments from the front, oldest first: a crash in between
//  leaves a shorter but still gapless log. The segment holding index
//  up_to_index + 1 (the first entry kept) stays whole, so the log may keep
//  a few entries the caller no longer needs.
int
log_store_truncate_prefix (log_store_t *self, uint64_t up_to_index)
{
    if (self->failed) {
        errno = EIO;
        return -1;
    }
    uint64_t last_index = log_store_last_index (self);
    size_t dropped = 0;
    size_t dropped_entries = 0;
    int rc = 0;
    while (dropped < self->segment_count) {
        uint64_t next_first = dropped + 1 < self->segment_count
                                  ? self->segments[dropped + 1].first_index
                                  : last_index + 1;
        if (next_first - 1 > up_to_index)
            break;
        segment_t *segment = &self->segments[dropped];
        char name[NODE_DIR_NAME_SIZE];
        node_dir_file_name (name, NODE_DIR_SEGMENT, segment->first_index);
        log_store_segment_close (segment);
        self->directory_dirty = true;
        if (unlinkat (self->directory_fd, name, 0) && errno != ENOENT) {
            rc = -1;
            break;
        }
        dropped_entries += (size_t)(next_first - segment->first_index);
        dropped++;
    }
    //  Memory follows what is gone from the disk, even after a failure. An
    //  empty log has no arrays yet: memmove on NULL is undefined even for 0 bytes
    int saved = errno;
    if (dropped > 0) {
        memmove (self->segments, self->segments + dropped,
                 (self->segment_count - dropped) * sizeof (segment_t));
        self->segment_count -= dropped;
    }
    if (dropped_entries > 0) {
        memmove (self->offsets, self->offsets + dropped_entries,
                 (self->entry_count - dropped_entries) * sizeof (uint64_t));
        self->entry_count -= dropped_entries;
    }
    //  An emptied log may go on below its old durable mark (a snapshot
    //  behind a discarded longer log): the mark starts again from nothing
    if (self->entry_count == 0)
        self->durable_index = 0;
    errno = saved;
    if (rc == 0 && log_store_sync_directory (self)) {
        self->failed = true;
        rc = -1;
    }
    return rc;
}
