/*  log_fixture — what the log store's tests share (test_log_store,
    test_log_recovery): a fresh log directory per test, entries that are a
    pure function of (index, generation), so that a replay can be checked
    without keeping copies (generation tells entries written before a
    truncation from those that replaced them), and helpers that list,
    damage and measure segment files. Failures fail the running test.
*/
#ifndef LOG_FIXTURE_H_INCLUDED
#define LOG_FIXTURE_H_INCLUDED

#include <dirent.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "storage/log_store.h"

//  Largest payload log_fixture_fill_entry produces.
#define MAX_TEST_PAYLOAD 256
//  Record bytes besides the payload: length, crc, term, index, type, durable mark.
#define RECORD_OVERHEAD 33
//  Small segments so a few hundred entries span many files.
#define SMALL_SEGMENT_BYTES 2048
#define ERROR_SIZE          1024
//  Room for a directory entry name, and for the fixture path plus one.
#define NAME_SIZE 256
#define PATH_SIZE 512

typedef struct {
    char root[64];          //  fresh temporary directory
    char path[128];         //  the log directory inside it
    uint64_t segment_bytes; //  segment size the log is opened with, 0: the default
} log_fixture_t;

//  What a replay is expected to see.
typedef struct {
    uint64_t next_index;       //  index the next visit must carry
    uint64_t switch_index;     //  entries from here on have generation after
    uint32_t generation_after; //  generation of entries >= switch_index
    uint64_t stop_after;       //  visit returns -1 after this many, 0 for never
    uint64_t visited;          //  visits so far
} log_fixture_check_t;

//  Payload size of entry index of a generation.
size_t log_fixture_payload_size (uint64_t index, uint32_t generation);

//  Entry index of a generation; its data points into storage, which must
//  hold MAX_TEST_PAYLOAD bytes.
void log_fixture_fill_entry (raft_entry_t *entry, uint64_t index, uint32_t generation,
                             uint8_t *storage);

//  Bytes the record of entry index of a generation takes.
size_t log_fixture_record_size (uint64_t index, uint32_t generation);

//  Appends [first, last] of a generation in batches of batch entries.
void log_fixture_append_range (log_store_t *log, uint64_t first, uint64_t last, uint32_t generation,
                               size_t batch);

//  A replay visit checking each entry against check (a log_fixture_check_t).
int log_fixture_check_entry (const raft_entry_t *entry, void *argument);

//  Replays the whole log and checks it holds exactly [first, last], entries
//  from switch_index on being of generation generation_after.
void log_fixture_check_log (log_store_t *log, uint64_t first, uint64_t last, uint64_t switch_index,
                            uint32_t generation_after);

//  Opens the fixture's log with its segment size.
log_store_t *log_fixture_open (log_fixture_t *fixture);

//  Opening the log must fail, naming segment and offset (corruption before
//  the end of the log), and leave every segment file as it was.
void log_fixture_expect_refusal (log_fixture_t *fixture, const char *segment, uint64_t offset);

//  Closes *log_p and opens it again.
void log_fixture_reopen (log_fixture_t *fixture, log_store_t **log_p);

//  Segment file names in index order (zero padding makes that name order).
int log_fixture_list_segments (log_fixture_t *fixture, struct dirent ***names);

//  Frees what list_segments returned.
void log_fixture_free_names (struct dirent **names, int count);

//  The path of file name in the log directory.
void log_fixture_file_path (log_fixture_t *fixture, const char *name, char *path, size_t size);

//  Size of file name in the log directory.
uint64_t log_fixture_file_size (log_fixture_t *fixture, const char *name);

//  Bytes of the records of segment file name: up to its zero tail (the
//  store's preallocation), walking the length fields.
uint64_t log_fixture_records_size (log_fixture_t *fixture, const char *name);

//  Flips bits of the byte at offset of file name.
void log_fixture_flip_byte (log_fixture_t *fixture, const char *name, uint64_t offset);

//  Truncates file name to size bytes.
void log_fixture_cut_file (log_fixture_t *fixture, const char *name, uint64_t size);

//  Replaces file name by size bytes of data.
void log_fixture_write_file (log_fixture_t *fixture, const char *name, const void *data,
                             size_t size);

//  True if file name exists in the log directory.
bool log_fixture_file_exists (log_fixture_t *fixture, const char *name);

//  Sum of the records of all segment files: what log_store_size must report.
uint64_t log_fixture_segments_size (log_fixture_t *fixture);

//  cmocka setup: a fresh directory, the log directory inside it.
int log_fixture_setup (void **state);

//  cmocka teardown: removes the directory.
int log_fixture_teardown (void **state);

//  Writes entries 1..last in one segment, each synced before the next is
//  written (so each later record's mark says it was), closes the store and
//  cuts the file's zero tail: the records are then the whole file, as a
//  test that damages the end of the log expects.
void log_fixture_build_single_segment (log_fixture_t *fixture, uint64_t last);

//  Removes the log directory and all in it.
void log_fixture_remove_log (log_fixture_t *fixture);

#endif
