/*  log_store_private — what the log store's files share (log_store.c,
    log_recovery.c): its state and the segment helpers. Not for other
    modules: they use log_store.h.
*/
#ifndef LOG_STORE_PRIVATE_H_INCLUDED
#define LOG_STORE_PRIVATE_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "storage/log_store.h"

typedef struct {
    uint64_t first_index; //  index of its first record, also its file name
    uint64_t size;        //  bytes of valid records in the file
    uint64_t allocated;   //  bytes of the file, zeros past size (preallocated)
    int fd;               //  open descriptor, -1 while closed
    bool dirty;           //  written since its last fdatasync
} segment_t;

struct _log_store_t {
    char *path;               //  the log directory
    int directory_fd;         //  open on path, to fsync after creating or deleting a segment
    int spare_fd;             //  held back for segment files when descriptors run out, -1: none
    bool directory_dirty;     //  a segment was created or deleted since the last directory fsync
    segment_t *segments;      //  in index order; the last one takes appends
    size_t segment_count;     //  segments in use
    size_t segment_capacity;  //  segments allocated
    uint64_t *offsets;        //  offsets[i]: offset of entry first_index + i in its segment
    size_t entry_count;       //  entries held
    size_t offset_capacity;   //  offsets allocated
    uint64_t segment_limit;   //  roll when a record would take a segment past this size
    uint8_t *write_buffer;    //  records being appended, reused from append to append
    size_t write_capacity;    //  bytes allocated for write_buffer
    uint64_t recovered_bytes; //  bytes of a torn tail dropped at open
    uint64_t durable_index;   //  entries up to here are known fdatasync'd: the records' mark
    bool failed;              //  a sync or an unrecoverable write failed: refuse changes
};

//  Room for count more entries' offsets. Returns 0, or -1 (ENOMEM).
int log_store_reserve_entries (log_store_t *self, size_t count);

//  Room for one more segment. Returns 0, or -1 (ENOMEM).
int log_store_reserve_segment (log_store_t *self);

//  Opens segment's file if it is closed. Returns 0 or -1.
int log_store_segment_open (log_store_t *self, segment_t *segment);

//  Closes segment's file if it is open.
void log_store_segment_close (segment_t *segment);

//  Deletes the file of the last segment and forgets it. Returns 0 or -1.
int log_store_remove_last_segment (log_store_t *self);

//  fsyncs the directory if a segment was created or deleted since the
//  last time. Returns 0 or -1.
int log_store_sync_directory (log_store_t *self);

//  log_recovery.c: lists the segment files and scans them in order; the
//  first torn, corrupt or out-of-sequence record ends the log if it is a
//  torn tail, and is refused otherwise (-1, EUCLEAN, error naming file and
//  offset, nothing changed); what is kept is made durable. Returns 0, or
//  -1 with error.
int log_recovery_run (log_store_t *self, char *error, size_t error_size);

#endif
