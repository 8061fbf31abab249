/*  log_recovery — owns what opening the log does before anything is
    trusted: listing the segment files, scanning every record in order
    (length, checksum, index sequence, segments chaining without gaps), and
    ending the log at the first torn, corrupt or out-of-sequence record:
    later segments are deleted newest first, the last good one cut there.
    What survives is fdatasync'd with the directory, since a previous
    process may have died after writing but before syncing.
*/
#include "storage/log_store_private.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "storage/log_record.h"
#include "storage/node_dir.h"

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
            self->segments[self->segment_count++] = (segment_t){indexes[position], 0, -1, false};
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
        *valid_end = offset + log_record_size (&entry);
        expected_index++;
    }
}

static uint64_t
s_file_size_at (log_store_t *self, uint64_t first_index)
{
    char name[NODE_DIR_NAME_SIZE];
    node_dir_file_name (name, NODE_DIR_SEGMENT, first_index);
    struct stat status;
    return fstatat (self->directory_fd, name, &status, 0) ? 0 : (uint64_t)status.st_size;
}

//  Ends the log valid_end bytes into segment at: deletes every later segment,
//  newest first so that a crash in between still leaves a gapless prefix,
//  then cuts this one there, or deletes it if nothing good is left in it.
static int
s_end_log_at (log_store_t *self, size_t at, uint64_t valid_end, uint64_t file_size)
{
    while (self->segment_count > at + 1) {
        uint64_t dropped =
            s_file_size_at (self, self->segments[self->segment_count - 1].first_index);
        if (log_store_remove_last_segment (self))
            return -1;
        self->recovered_bytes += dropped;
    }
    self->recovered_bytes += file_size - valid_end;
    segment_t *segment = &self->segments[at];
    if (valid_end == 0)
        return log_store_remove_last_segment (self);
    if (ftruncate (segment->fd, (off_t)valid_end) || fdatasync (segment->fd))
        return -1;
    return 0;
}

//  Scans every segment in order; the first torn, corrupt or out-of-sequence
//  record ends the log. Survivors are made durable.
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
        segment->size = valid_end;
        if (valid_end < file_size || self->entry_count == entries_before) {
            rc = s_end_log_at (self, at, valid_end, file_size);
            if (rc)
                snprintf (error, error_size, "log %s/%s: dropping a torn tail: %s", self->path,
                          name, strerror (errno));
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
        expected_index = segment->first_index + (self->entry_count - entries_before);
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
