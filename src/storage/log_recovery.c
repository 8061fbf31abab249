/*  log_recovery — owns what opening the log does before anything is
    trusted: listing the segment files, scanning every record in order
    (length, checksum, index sequence, segments chaining without gaps), and
    telling a torn tail from corruption at the first record that fails:
    - the end: the last segment's records are followed by zeros only, the
      tail the store zero-fills ahead of its appends. Kept as it is;
    - a torn tail, cut there: the bad record is in the last segment and no
      valid record follows it in that file whose durable mark says the bad
      one was synced before it was written. A crash while appending leaves
      exactly this (the store syncs a segment before it rolls to the next,
      so only the last one can be torn), even with valid records after the
      bad one: the pages of blocks the store overwrites reach the disk in
      no particular order until the sync, and those records carry a mark
      below the bad one's index. Nothing in it was acknowledged, since
      acknowledgement waits for the sync;
    - corruption, a refusal: the bad record is in an earlier segment, a
      segment is missing, or a later valid record says the bad one was
      synced (or is of the first record format, which has no mark). Synced
      means acknowledged, and cutting the log there would silently drop
      entries (a node that then votes can help elect a leader without
      them). Nothing is changed on disk; the error names the file and the
      offset.
    What survives is fdatasync'd with the directory, since a previous
    process may have died after writing but before syncing.
*/
#include "storage/log_store_private.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "storage/log_record.h"
#include "storage/node_dir.h"
#include "util/crc32c.h"
#include "util/little_endian.h"

//  The segment files of the directory, in index order, all closed.
static int
s_list_segments (log_store_t *self)
{
    uint64_t *indexes;
    size_t count;
    if (node_dir_list (self->directory_fd, NODE_DIR_SEGMENT, &indexes, &count))
        return -1;
    int rc = 0;
    for (size_t position = 0; position < count && rc == 0; position++) {
        rc = log_store_reserve_segment (self);
        if (rc == 0)
            self->segments[self->segment_count++] = (segment_t){indexes[position], 0, 0, -1, false};
    }
    free (indexes);
    return rc;
}

//  Scans one segment, recording its entries' offsets, and stops at the first
//  record that is torn, corrupt or out of sequence. Sets valid_end to the end
//  of the last good record and file_size to the file's size.
static int
s_scan_segment (log_store_t *self, log_reader_t *reader, segment_t *segment,
                uint64_t expected_index, uint64_t *valid_end, uint64_t *file_size)
{
    struct stat status;
    if (fstat (segment->fd, &status))
        return -1;
    *file_size = (uint64_t)status.st_size;
    *valid_end = 0;
    //  A segment must start exactly where the previous one ended.
    if (expected_index != 0 && segment->first_index != expected_index)
        return 0;
    expected_index = segment->first_index;
    log_reader_start (reader, segment->fd, *file_size);
    while (true) {
        raft_entry_t entry;
        uint64_t offset;
        int status_or_error = log_reader_next (reader, &entry, &offset);
        if (status_or_error < 0)
            return -1;
        if (status_or_error != LOG_RECORD_VALID || entry.index != expected_index)
            return 0;
        if (log_store_reserve_entries (self, 1))
            return -1;
        self->offsets[self->entry_count++] = offset;
        //  Records of the first format are shorter than log_record_size says
        *valid_end = log_reader_offset (reader);
        expected_index++;
    }
}

//  Smallest record: length, crc and the fixed fields of the first format
//  with no payload.
#define RECOVERY_MIN_RECORD (LOG_RECORD_PREFIX_BYTES + LOG_RECORD_FIXED_BYTES)

//  What follows the last good record of the last segment.
typedef enum {
    TAIL_ZEROS,       //  only zeros: the preallocated end of the log
    TAIL_TORN,        //  nothing written after the bad record was synced
    TAIL_SYNCED_AFTER //  a valid record written once the bad one was synced
} tail_t;

static bool
s_all_zero (const uint8_t *bytes, uint64_t size)
{
    for (uint64_t at = 0; at < size; at++)
        if (bytes[at])
            return false;
    return true;
}

//  Reads what follows valid_end in the last segment, whose next record
//  should have had index low. Valid records are searched at any byte
//  offset (a corrupt length field hides where the next one starts), and
//  the first whose mark covers low (or that has no mark, or any when
//  marks are not trusted) is evidence that the bad record was synced:
//  *found gets its offset and *index its index. Returns a tail_t, or -1
//  when the file cannot be read.
static int
s_examine_tail (const segment_t *segment, uint64_t valid_end, uint64_t file_size, uint64_t low,
                bool trust_marks, uint64_t *found, uint64_t *index)
{
    //  Nothing after the records (an empty segment: no records either)
    if (valid_end >= file_size)
        return TAIL_TORN;
    uint8_t *bytes =
        (uint8_t *)mmap (NULL, (size_t)file_size, PROT_READ, MAP_PRIVATE, segment->fd, 0);
    if (bytes == MAP_FAILED)
        return -1;
    int verdict = TAIL_TORN;
    //  A segment of zeros only is not a segment: it never held a record
    if (valid_end > 0 && s_all_zero (bytes + valid_end, file_size - valid_end))
        verdict = TAIL_ZEROS;
    //  No record of this file can carry an index past this one.
    uint64_t base = low > segment->first_index ? low : segment->first_index;
    uint64_t high = base + file_size / RECOVERY_MIN_RECORD;
    uint64_t offset = valid_end;
    while (verdict == TAIL_TORN && offset + RECOVERY_MIN_RECORD <= file_size) {
        raft_entry_t entry;
        uint64_t durable;
        size_t size =
            log_record_parse (bytes + offset, file_size - offset, low, high, &entry, &durable);
        if (size == 0) {
            offset++;
            continue;
        }
        if (!trust_marks || durable == LOG_RECORD_UNMARKED || durable >= low) {
            *found = offset;
            *index = entry.index;
            verdict = TAIL_SYNCED_AFTER;
        }
        offset += size;
    }
    munmap (bytes, (size_t)file_size);
    return verdict;
}

//  Cuts the last segment valid_end bytes in, or deletes it if nothing good
//  is left in it.
static int
s_cut_torn_tail (log_store_t *self, uint64_t valid_end, uint64_t file_size)
{
    segment_t *segment = &self->segments[self->segment_count - 1];
    self->recovered_bytes += file_size - valid_end;
    if (valid_end == 0)
        return log_store_remove_last_segment (self);
    if (ftruncate (segment->fd, (off_t)valid_end) || fdatasync (segment->fd))
        return -1;
    return 0;
}

//  Where the scan of a segment stopped.
typedef struct {
    size_t at;            //  the segment
    const char *name;     //  its file name
    uint64_t next_index;  //  index the record that failed should have had
    uint64_t valid_end;   //  end of its last good record
    uint64_t file_size;   //  its size
    bool out_of_sequence; //  its name does not follow the previous segment
} stop_t;

//  What stopped the scan: a torn tail (cut, 0), or corruption (refused,
//  -1 with error naming file and offset).
static int
s_stopped_at (log_store_t *self, const stop_t *stop, char *error, size_t error_size)
{
    const segment_t *segment = &self->segments[stop->at];
    const char *name = stop->name;
    uint64_t valid_end = stop->valid_end;
    uint64_t file_size = stop->file_size;
    uint64_t expected_index = stop->next_index;
    size_t at = stop->at;
    uint64_t found = 0;
    uint64_t index = 0;
    if (at + 1 == self->segment_count) {
        //  A segment out of sequence follows a missing one, synced before
        //  it was made whatever its marks say: any record in it is evidence
        int tail = s_examine_tail (segment, valid_end, file_size, expected_index,
                                   !stop->out_of_sequence, &found, &index);
        if (tail < 0) {
            snprintf (error, error_size, "log %s/%s: %s", self->path, name, strerror (errno));
            return -1;
        }
        if (tail == TAIL_ZEROS) {
            self->segments[at].allocated = file_size;
            if (fdatasync (segment->fd) == 0)
                return 0;
            snprintf (error, error_size, "log %s/%s: fdatasync: %s", self->path, name,
                      strerror (errno));
            return -1;
        }
        if (tail == TAIL_TORN) {
            if (s_cut_torn_tail (self, valid_end, file_size) == 0)
                return 0;
            snprintf (error, error_size, "log %s/%s: dropping a torn tail: %s", self->path, name,
                      strerror (errno));
            return -1;
        }
    }
    char after[160];
    if (at + 1 < self->segment_count)
        snprintf (after, sizeof after, "%zu later segment(s)", self->segment_count - at - 1);
    else
        snprintf (after, sizeof after,
                  "a valid record of index %" PRIu64 " at offset %" PRIu64
                  ", written once it was synced",
                  index, found);
    snprintf (error, error_size,
              "log %s/%s: %s at offset %" PRIu64 " (index %" PRIu64 " expected), then %s: "
              "not a torn tail; refusing to start rather than drop acknowledged entries (wipe "
              "the node directory and add the node back)",
              self->path, name,
              stop->out_of_sequence ? "segment out of sequence" : "corrupt record", valid_end,
              expected_index, after);
    errno = EUCLEAN;
    return -1;
}

//  Scans every segment in order; the first torn, corrupt or out-of-sequence
//  record ends the log if it is a torn tail, and is refused otherwise.
//  Survivors are made durable.
int
log_recovery_run (log_store_t *self, char *error, size_t error_size)
{
    if (s_list_segments (self)) {
        snprintf (error, error_size, "log %s: %s", self->path, strerror (errno));
        return -1;
    }
    log_reader_t reader = {0};
    int rc = 0;
    uint64_t expected_index = 0;
    for (size_t at = 0; at < self->segment_count; at++) {
        segment_t *segment = &self->segments[at];
        size_t entries_before = self->entry_count;
        uint64_t valid_end;
        uint64_t file_size;
        char name[NODE_DIR_NAME_SIZE];
        node_dir_file_name (name, NODE_DIR_SEGMENT, segment->first_index);
        if (log_store_segment_open (self, segment) ||
            s_scan_segment (self, &reader, segment, expected_index, &valid_end, &file_size)) {
            snprintf (error, error_size, "log %s/%s: %s", self->path, name, strerror (errno));
            rc = -1;
            break;
        }
        bool out_of_sequence = expected_index != 0 && segment->first_index != expected_index;
        if (expected_index == 0)
            expected_index = segment->first_index;
        segment->size = segment->allocated = valid_end;
        if (valid_end < file_size || self->entry_count == entries_before) {
            stop_t stop = {
                at,        name,      expected_index + (self->entry_count - entries_before),
                valid_end, file_size, out_of_sequence};
            rc = s_stopped_at (self, &stop, error, error_size);
            break;
        }
        if (fdatasync (segment->fd)) {
            snprintf (error, error_size, "log %s/%s: fdatasync: %s", self->path, name,
                      strerror (errno));
            rc = -1;
            break;
        }
        if (at + 1 < self->segment_count)
            log_store_segment_close (segment);
        expected_index += self->entry_count - entries_before;
    }
    log_reader_release (&reader);
    if (rc == 0) {
        self->directory_dirty = true;
        if (log_store_sync_directory (self)) {
            snprintf (error, error_size, "log %s: fsync: %s", self->path, strerror (errno));
            rc = -1;
        }
    }
    return rc;
}
