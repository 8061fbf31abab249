/*  test_log_store — drives the log store on a real directory: append, sync,
    reopen and replay; segment rolling; suffix truncation; prefix truncation
    (compaction after a snapshot), whole and interrupted by a crash;
    recovery from torn tails, flipped bytes, gaps and stray files; refused
    appends.

    Entries are a pure function of (index, generation), so a replay can be
    checked without keeping copies: generation tells entries written before a
    truncation from those that replaced them. Segment rolling is made testable
    by the segment size log_store_open takes.
*/
#include "temp_dir.h"
#include "storage/log_store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

//  Largest payload s_fill_entry produces.
#define MAX_TEST_PAYLOAD 256
//  Record bytes besides the payload: length, crc, term, index, type.
#define RECORD_OVERHEAD 25
//  Small segments so a few hundred entries span many files.
#define SMALL_SEGMENT_BYTES 2048
#define ERROR_SIZE          256
//  Room for a directory entry name, and for the fixture path plus one.
#define NAME_SIZE 256
#define PATH_SIZE 512

typedef struct {
    char root[64];          //  fresh temporary directory
    char path[128];         //  the log directory inside it
    uint64_t segment_bytes; //  segment size the log is opened with, 0: the default
} fixture_t;

//  What a replay is expected to see.
typedef struct {
    uint64_t next_index;       //  index the next visit must carry
    uint64_t switch_index;     //  entries from here on have generation after
    uint32_t generation_after; //  generation of entries >= switch_index
    uint64_t stop_after;       //  visit returns -1 after this many, 0 for never
    uint64_t visited;          //  visits so far
} replay_check_t;

static size_t
s_payload_size (uint64_t index, uint32_t generation)
{
    return (size_t)((index * 37 + generation * 11) % 200);
}

//  Entry index of a generation; its data points into storage, which must
//  hold MAX_TEST_PAYLOAD bytes.
static void
s_fill_entry (raft_entry_t *entry, uint64_t index, uint32_t generation, uint8_t *storage)
{
    entry->index = index;
    entry->term = generation * 1000 + index / 16 + 1;
    entry->type = (uint8_t)((index + generation) % 3);
    entry->size = s_payload_size (index, generation);
    entry->data = storage;
    for (size_t at = 0; at < entry->size; at++)
        storage[at] = (uint8_t)(index * 131 + at * 7 + generation);
}

static size_t
s_record_size (uint64_t index, uint32_t generation)
{
    return RECORD_OVERHEAD + s_payload_size (index, generation);
}

//  Appends [first, last] of a generation in batches of batch entries.
static void
s_append_range (log_store_t *log, uint64_t first, uint64_t last, uint32_t generation, size_t batch)
{
    raft_entry_t *entries = calloc (batch, sizeof (raft_entry_t));
    uint8_t *storage = malloc (batch * MAX_TEST_PAYLOAD);
    assert_non_null (entries);
    assert_non_null (storage);
    for (uint64_t index = first; index <= last;) {
        size_t count = 0;
        while (count < batch && index <= last) {
            s_fill_entry (&entries[count], index, generation, storage + count * MAX_TEST_PAYLOAD);
            count++;
            index++;
        }
        assert_int_equal (log_store_append (log, entries, count), 0);
    }
    free (entries);
    free (storage);
}

static int
s_check_entry (const raft_entry_t *entry, void *argument)
{
    replay_check_t *check = (replay_check_t *)argument;
    uint32_t generation = entry->index >= check->switch_index ? check->generation_after : 0;
    uint8_t storage[MAX_TEST_PAYLOAD];
    raft_entry_t expected;
    s_fill_entry (&expected, check->next_index, generation, storage);
    assert_int_equal (entry->index, expected.index);
    assert_int_equal (entry->term, expected.term);
    assert_int_equal (entry->type, expected.type);
    assert_int_equal (entry->size, expected.size);
    if (expected.size)
        assert_memory_equal (entry->data, expected.data, expected.size);
    check->next_index++;
    check->visited++;
    return check->stop_after && check->visited == check->stop_after ? -1 : 0;
}

//  Replays the whole log and checks it holds exactly [first, last], entries
//  from switch_index on being of generation generation_after.
static void
s_check_log (log_store_t *log, uint64_t first, uint64_t last, uint64_t switch_index,
             uint32_t generation_after)
{
    assert_int_equal (log_store_first_index (log), first);
    assert_int_equal (log_store_last_index (log), last);
    replay_check_t check = {first ? first : 1, switch_index, generation_after, 0, 0};
    assert_int_equal (log_store_replay (log, s_check_entry, &check), 0);
    assert_int_equal (check.visited, first ? last - first + 1 : 0);
}

static log_store_t *
s_open (fixture_t *fixture)
{
    char error[ERROR_SIZE] = "";
    log_store_t *log = log_store_open (fixture->path, fixture->segment_bytes, error, sizeof error);
    if (!log)
        fprintf (stderr, "log_store_open: %s\n", error);
    assert_non_null (log);
    return log;
}

static void
s_reopen (fixture_t *fixture, log_store_t **log_p)
{
    log_store_destroy (log_p);
    assert_null (*log_p);
    *log_p = s_open (fixture);
}

static int
s_is_segment (const struct dirent *item)
{
    size_t length = strlen (item->d_name);
    return length == 24 && strcmp (item->d_name + 20, ".seg") == 0;
}

//  Segment file names in index order (zero padding makes that name order).
static int
s_list_segments (fixture_t *fixture, struct dirent ***names)
{
    int count = scandir (fixture->path, names, s_is_segment, alphasort);
    assert_true (count >= 0);
    return count;
}

static void
s_free_names (struct dirent **names, int count)
{
    for (int at = 0; at < count; at++)
        free (names[at]);
    free (names);
}

static void
s_file_path (fixture_t *fixture, const char *name, char *path, size_t size)
{
    snprintf (path, size, "%s/%s", fixture->path, name);
}

static uint64_t
s_file_size (fixture_t *fixture, const char *name)
{
    char path[PATH_SIZE];
    s_file_path (fixture, name, path, sizeof path);
    struct stat status;
    assert_int_equal (stat (path, &status), 0);
    return (uint64_t)status.st_size;
}

static void
s_flip_byte (fixture_t *fixture, const char *name, uint64_t offset)
{
    char path[PATH_SIZE];
    s_file_path (fixture, name, path, sizeof path);
    int fd = open (path, O_RDWR);
    assert_true (fd >= 0);
    uint8_t byte;
    assert_int_equal (pread (fd, &byte, 1, (off_t)offset), 1);
    byte ^= 0x5A;
    assert_int_equal (pwrite (fd, &byte, 1, (off_t)offset), 1);
    close (fd);
}

static void
s_cut_file (fixture_t *fixture, const char *name, uint64_t size)
{
    char path[PATH_SIZE];
    s_file_path (fixture, name, path, sizeof path);
    assert_int_equal (truncate (path, (off_t)size), 0);
}

static void
s_write_file (fixture_t *fixture, const char *name, const void *data, size_t size)
{
    char path[PATH_SIZE];
    s_file_path (fixture, name, path, sizeof path);
    int fd = open (path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true (fd >= 0);
    assert_int_equal (write (fd, data, size), (ssize_t)size);
    close (fd);
}

static bool
s_file_exists (fixture_t *fixture, const char *name)
{
    char path[PATH_SIZE];
    s_file_path (fixture, name, path, sizeof path);
    return access (path, F_OK) == 0;
}

//  Sum of the sizes of all segment files: what log_store_size must report.
static uint64_t
s_segments_size (fixture_t *fixture)
{
    struct dirent **names;
    int count = s_list_segments (fixture, &names);
    uint64_t total = 0;
    for (int at = 0; at < count; at++)
        total += s_file_size (fixture, names[at]->d_name);
    s_free_names (names, count);
    return total;
}

static int
s_setup (void **state)
{
    fixture_t *fixture = calloc (1, sizeof (fixture_t));
    if (!fixture)
        return -1;
    if (temp_dir_make (fixture->root, sizeof fixture->root, "test-log")) {
        free (fixture);
        return -1;
    }
    snprintf (fixture->path, sizeof fixture->path, "%s/log", fixture->root);
    *state = fixture;
    return 0;
}

static int
s_teardown (void **state)
{
    fixture_t *fixture = (fixture_t *)*state;
    int rc = temp_dir_remove (fixture->root);
    free (fixture);
    return rc;
}

static void
test_empty_directory (void **state)
{
    fixture_t *fixture = (fixture_t *)*state;
    log_store_t *log = s_open (fixture);
    struct stat status;
    assert_int_equal (stat (fixture->path, &status), 0);
    assert_true (S_ISDIR (status.st_mode));
    s_check_log (log, 0, 0, 0, 0);
    assert_int_equal (log_store_size (log), 0);
    assert_int_equal (log_store_recovered_bytes (log), 0);
    assert_int_equal (log_store_sync (log), 0);
    assert_int_equal (log_store_truncate_suffix (log, 1), 0);
    assert_int_equal (log_store_append (log, NULL, 0), 0);
    s_reopen (fixture, &log);
    s_check_log (log, 0, 0, 0, 0);
    log_store_destroy (&log);
}

static void
test_append_sync_reopen_replay (void **state)
{
    fixture_t *fixture = (fixture_t *)*state;
    log_store_t *log = s_open (fixture);
    s_append_range (log, 1, 100, 0, 7);
    assert_int_equal (log_store_sync (log), 0);
    s_check_log (log, 1, 100, 0, 0);
    assert_int_equal (log_store_size (log), s_segments_size (fixture));

    s_reopen (fixture, &log);
    s_check_log (log, 1, 100, 0, 0);
    assert_int_equal (log_store_recovered_bytes (log), 0);
    assert_int_equal (log_store_size (log), s_segments_size (fixture));

    s_append_range (log, 101, 150, 0, 1);
    assert_int_equal (log_store_sync (log), 0);
    s_reopen (fixture, &log);
    s_check_log (log, 1, 150, 0, 0);
    log_store_destroy (&log);
}

static void
test_many_segments (void **state)
{
    fixture_t *fixture = (fixture_t *)*state;
    fixture->segment_bytes = SMALL_SEGMENT_BYTES;
    log_store_t *log = s_open (fixture);
    uint64_t index = 1;
    for (size_t batch = 1; index <= 3000; batch = batch % 64 + 1) {
        uint64_t last = index + batch - 1 > 3000 ? 3000 : index + batch - 1;
        s_append_range (log, index, last, 0, batch);
        assert_int_equal (log_store_sync (log), 0);
        index = last + 1;
    }
    s_check_log (log, 1, 3000, 0, 0);

    //  Each file is named after its first record and stays within the limit;
    //  consecutive files chain without gaps.
    struct dirent **names;
    int count = s_list_segments (fixture, &names);
    assert_true (count > 100);
    uint64_t expected_first = 1;
    for (int at = 0; at < count; at++) {
        uint64_t first = strtoull (names[at]->d_name, NULL, 10);
        assert_int_equal (first, expected_first);
        uint64_t size = s_file_size (fixture, names[at]->d_name);
        assert_true (size > 0 && size <= SMALL_SEGMENT_BYTES);
        uint64_t offset = 0;
        while (offset < size)
            offset += s_record_size (expected_first++, 0);
        assert_int_equal (offset, size);
    }
    assert_int_equal (expected_first, 3001);
    s_free_names (names, count);

    s_reopen (fixture, &log);
    assert_int_equal (log_store_recovered_bytes (log), 0);
    s_check_log (log, 1, 3000, 0, 0);
    assert_int_equal (log_store_size (log), s_segments_size (fixture));
    log_store_destroy (&log);
}

static void
test_truncate_suffix (void **state)
{
    fixture_t *fixture = (fixture_t *)*state;
    fixture->segment_bytes = SMALL_SEGMENT_BYTES;
    log_store_t *log = s_open (fixture);
    s_append_range (log, 1, 500, 0, 16);
    assert_int_equal (log_store_sync (log), 0);

    //  Past the end: nothing to do.
    assert_int_equal (log_store_truncate_suffix (log, 501), 0);
    s_check_log (log, 1, 500, 0, 0);

    //  Inside a segment: its file is cut right after its first record.
    struct dirent **names;
    int count = s_list_segments (fixture, &names);
    char name[NAME_SIZE];
    snprintf (name, sizeof name, "%s", names[count - 1]->d_name);
    s_free_names (names, count);
    uint64_t segment_first = strtoull (name, NULL, 10);
    assert_true (segment_first + 1 < 500);
    assert_int_equal (log_store_truncate_suffix (log, segment_first + 1), 0);
    s_check_log (log, 1, segment_first, 0, 0);
    assert_int_equal (s_file_size (fixture, name), s_record_size (segment_first, 0));
    s_append_range (log, segment_first + 1, 520, 1, 5);
    s_check_log (log, 1, 520, segment_first + 1, 1);

    //  Across segments: every later file goes.
    int files_before = s_list_segments (fixture, &names);
    s_free_names (names, files_before);
    assert_int_equal (log_store_truncate_suffix (log, 200), 0);
    s_check_log (log, 1, 199, 0, 0);
    count = s_list_segments (fixture, &names);
    assert_true (count < files_before);
    for (int at = 0; at < count; at++)
        assert_true (strtoull (names[at]->d_name, NULL, 10) < 200);
    s_free_names (names, count);
    assert_int_equal (log_store_size (log), s_segments_size (fixture));

    s_append_range (log, 200, 260, 2, 9);
    assert_int_equal (log_store_sync (log), 0);
    s_reopen (fixture, &log);
    assert_int_equal (log_store_recovered_bytes (log), 0);
    s_check_log (log, 1, 260, 200, 2);

    //  At a segment's first record: that file is deleted, not left empty.
    count = s_list_segments (fixture, &names);
    assert_true (count >= 3);
    snprintf (name, sizeof name, "%s", names[2]->d_name);
    segment_first = strtoull (name, NULL, 10);
    s_free_names (names, count);
    assert_int_equal (log_store_truncate_suffix (log, segment_first), 0);
    assert_false (s_file_exists (fixture, name));
    assert_int_equal (log_store_last_index (log), segment_first - 1);
    s_append_range (log, segment_first, segment_first + 40, 3, 40);
    assert_int_equal (log_store_sync (log), 0);
    s_reopen (fixture, &log);
    s_check_log (log, 1, segment_first + 40, segment_first, 3);

    //  From the first index (or before it): the log empties.
    assert_int_equal (log_store_truncate_suffix (log, 0), 0);
    s_check_log (log, 0, 0, 0, 0);
    count = s_list_segments (fixture, &names);
    s_free_names (names, count);
    assert_int_equal (count, 0);
    assert_int_equal (log_store_size (log), 0);
    s_append_range (log, 1, 30, 4, 30);
    assert_int_equal (log_store_sync (log), 0);
    s_reopen (fixture, &log);
    s_check_log (log, 1, 30, 1, 4);
    log_store_destroy (&log);
}

//  Writes entries 1..last in one segment and closes the store.
static void
s_build_single_segment (fixture_t *fixture, uint64_t last)
{
    log_store_t *log = s_open (fixture);
    s_append_range (log, 1, last, 0, 8);
    assert_int_equal (log_store_sync (log), 0);
    log_store_destroy (&log);
}

static void
s_remove_log (fixture_t *fixture)
{
    assert_int_equal (temp_dir_remove (fixture->path), 0);
}

static void
test_torn_tail (void **state)
{
    fixture_t *fixture = (fixture_t *)*state;
    const char *segment = "00000000000000000001.seg";
    size_t last_record = s_record_size (20, 0);
    size_t kept_bytes[] = {0, 1, 4, 7, 8, 12, 24, 25, 60, last_record - 1};
    for (size_t at = 0; at < sizeof kept_bytes / sizeof kept_bytes[0]; at++) {
        s_build_single_segment (fixture, 20);
        uint64_t full_size = s_file_size (fixture, segment);
        uint64_t record_start = full_size - last_record;
        //  The crash left only the first kept_bytes of the last record.
        s_cut_file (fixture, segment, record_start + kept_bytes[at]);

        log_store_t *log = s_open (fixture);
        s_check_log (log, 1, 19, 0, 0);
        assert_int_equal (log_store_recovered_bytes (log), kept_bytes[at]);
        assert_int_equal (s_file_size (fixture, segment), record_start);
        s_append_range (log, 20, 25, 1, 3);
        assert_int_equal (log_store_sync (log), 0);
        s_reopen (fixture, &log);
        assert_int_equal (log_store_recovered_bytes (log), 0);
        s_check_log (log, 1, 25, 20, 1);
        log_store_destroy (&log);
        s_remove_log (fixture);
    }
}

static void
test_flipped_byte_in_last_record (void **state)
{
    fixture_t *fixture = (fixture_t *)*state;
    const char *segment = "00000000000000000001.seg";
    size_t last_record = s_record_size (20, 0);
    assert_true (s_payload_size (20, 0) > 10);
    //  length, crc, term, index, type, payload start and payload end.
    size_t positions[] = {0, 3, 5, 9, 16, 24, 32, 35, last_record - 1};
    for (size_t at = 0; at < sizeof positions / sizeof positions[0]; at++) {
        s_build_single_segment (fixture, 20);
        uint64_t full_size = s_file_size (fixture, segment);
        s_flip_byte (fixture, segment, full_size - last_record + positions[at]);

        log_store_t *log = s_open (fixture);
        s_check_log (log, 1, 19, 0, 0);
        assert_int_equal (log_store_recovered_bytes (log), last_record);
        s_append_range (log, 20, 21, 1, 2);
        assert_int_equal (log_store_sync (log), 0);
        s_reopen (fixture, &log);
        s_check_log (log, 1, 21, 20, 1);
        log_store_destroy (&log);
        s_remove_log (fixture);
    }
}

static void
test_flipped_byte_in_middle_record (void **state)
{
    fixture_t *fixture = (fixture_t *)*state;
    fixture->segment_bytes = SMALL_SEGMENT_BYTES;
    log_store_t *log = s_open (fixture);
    s_append_range (log, 1, 300, 0, 10);
    assert_int_equal (log_store_sync (log), 0);
    log_store_destroy (&log);

    struct dirent **names;
    int count = s_list_segments (fixture, &names);
    assert_true (count >= 5);
    char damaged[NAME_SIZE];
    snprintf (damaged, sizeof damaged, "%s", names[1]->d_name);
    uint64_t damaged_first = strtoull (damaged, NULL, 10);
    //  Corrupt the checksum of the damaged segment's second record.
    uint64_t second_record = s_record_size (damaged_first, 0);
    uint64_t expected_recovered = s_file_size (fixture, damaged) - second_record;
    for (int at = 2; at < count; at++)
        expected_recovered += s_file_size (fixture, names[at]->d_name);
    s_flip_byte (fixture, damaged, second_record + 5);

    log = s_open (fixture);
    s_check_log (log, 1, damaged_first, 0, 0);
    assert_int_equal (log_store_recovered_bytes (log), expected_recovered);
    assert_int_equal (s_file_size (fixture, damaged), second_record);
    for (int at = 2; at < count; at++)
        assert_false (s_file_exists (fixture, names[at]->d_name));
    s_free_names (names, count);

    s_append_range (log, damaged_first + 1, 320, 1, 10);
    assert_int_equal (log_store_sync (log), 0);
    s_reopen (fixture, &log);
    assert_int_equal (log_store_recovered_bytes (log), 0);
    s_check_log (log, 1, 320, damaged_first + 1, 1);
    log_store_destroy (&log);
}

static void
s_copy_file_range_to_end (fixture_t *fixture, const char *name, uint64_t offset, size_t size)
{
    char path[PATH_SIZE];
    s_file_path (fixture, name, path, sizeof path);
    int fd = open (path, O_RDWR | O_APPEND);
    assert_true (fd >= 0);
    uint8_t *bytes = malloc (size);
    assert_non_null (bytes);
    assert_int_equal (pread (fd, bytes, size, (off_t)offset), (ssize_t)size);
    assert_int_equal (write (fd, bytes, size), (ssize_t)size);
    free (bytes);
    close (fd);
}

static void
test_out_of_sequence_records (void **state)
{
    fixture_t *fixture = (fixture_t *)*state;
    const char *segment = "00000000000000000001.seg";
    //  A whole, correctly checksummed record that repeats an index.
    s_build_single_segment (fixture, 20);
    size_t last_record = s_record_size (20, 0);
    uint64_t full_size = s_file_size (fixture, segment);
    s_copy_file_range_to_end (fixture, segment, full_size - last_record, last_record);
    log_store_t *log = s_open (fixture);
    s_check_log (log, 1, 20, 0, 0);
    assert_int_equal (log_store_recovered_bytes (log), last_record);
    assert_int_equal (s_file_size (fixture, segment), full_size);
    log_store_destroy (&log);

    //  A segment whose name does not match its first record.
    char from[PATH_SIZE];
    char to[PATH_SIZE];
    s_file_path (fixture, segment, from, sizeof from);
    s_file_path (fixture, "00000000000000000005.seg", to, sizeof to);
    assert_int_equal (rename (from, to), 0);
    log = s_open (fixture);
    s_check_log (log, 0, 0, 0, 0);
    assert_int_equal (log_store_recovered_bytes (log), full_size);
    assert_false (s_file_exists (fixture, "00000000000000000005.seg"));
    log_store_destroy (&log);
}

static void
test_missing_middle_segment (void **state)
{
    fixture_t *fixture = (fixture_t *)*state;
    fixture->segment_bytes = SMALL_SEGMENT_BYTES;
    log_store_t *log = s_open (fixture);
    s_append_range (log, 1, 300, 0, 10);
    assert_int_equal (log_store_sync (log), 0);
    log_store_destroy (&log);

    struct dirent **names;
    int count = s_list_segments (fixture, &names);
    assert_true (count >= 5);
    uint64_t gap_first = strtoull (names[2]->d_name, NULL, 10);
    char path[PATH_SIZE];
    s_file_path (fixture, names[2]->d_name, path, sizeof path);
    assert_int_equal (unlink (path), 0);

    log = s_open (fixture);
    s_check_log (log, 1, gap_first - 1, 0, 0);
    for (int at = 3; at < count; at++)
        assert_false (s_file_exists (fixture, names[at]->d_name));
    s_free_names (names, count);
    log_store_destroy (&log);
}

static void
test_garbage_and_stray_files (void **state)
{
    fixture_t *fixture = (fixture_t *)*state;
    assert_int_equal (mkdir (fixture->path, 0755), 0);
    const char *notes = "not a segment";
    s_write_file (fixture, "notes.txt", notes, strlen (notes));
    s_write_file (fixture, "12345.seg", notes, strlen (notes));
    uint8_t garbage[1000];
    for (size_t at = 0; at < sizeof garbage; at++)
        garbage[at] = (uint8_t)(at * 197 + 13);
    s_write_file (fixture, "00000000000000000001.seg", garbage, sizeof garbage);

    log_store_t *log = s_open (fixture);
    s_check_log (log, 0, 0, 0, 0);
    assert_int_equal (log_store_recovered_bytes (log), sizeof garbage);
    assert_false (s_file_exists (fixture, "00000000000000000001.seg"));
    assert_true (s_file_exists (fixture, "notes.txt"));
    assert_true (s_file_exists (fixture, "12345.seg"));

    //  One record per segment from here on, so entry 6 needs a new segment.
    fixture->segment_bytes = 1;
    s_reopen (fixture, &log);
    s_append_range (log, 1, 5, 0, 5);
    assert_int_equal (log_store_sync (log), 0);
    assert_true (s_file_exists (fixture, "00000000000000000005.seg"));
    //  A segment created but never written (a crash right after creating it)
    //  is dropped, so the next append can create it again.
    s_write_file (fixture, "00000000000000000006.seg", "", 0);
    s_reopen (fixture, &log);
    assert_false (s_file_exists (fixture, "00000000000000000006.seg"));
    assert_int_equal (log_store_recovered_bytes (log), 0);
    s_append_range (log, 6, 8, 0, 3);
    assert_true (s_file_exists (fixture, "00000000000000000006.seg"));
    assert_int_equal (log_store_sync (log), 0);
    s_reopen (fixture, &log);
    s_check_log (log, 1, 8, 0, 0);
    log_store_destroy (&log);
}

static void
test_wrong_index_refused (void **state)
{
    fixture_t *fixture = (fixture_t *)*state;
    log_store_t *log = s_open (fixture);
    uint8_t storage[2][MAX_TEST_PAYLOAD];
    raft_entry_t entries[2];

    s_fill_entry (&entries[0], 0, 0, storage[0]);
    assert_int_equal (log_store_append (log, entries, 1), -1);
    assert_int_equal (errno, EINVAL);

    s_append_range (log, 1, 5, 0, 5);
    uint64_t size = log_store_size (log);
    uint64_t refused[] = {7, 5, 1, 100};
    for (size_t at = 0; at < sizeof refused / sizeof refused[0]; at++) {
        s_fill_entry (&entries[0], refused[at], 0, storage[0]);
        assert_int_equal (log_store_append (log, entries, 1), -1);
        assert_int_equal (errno, EINVAL);
    }
    //  A batch with a hole is refused whole.
    s_fill_entry (&entries[0], 6, 0, storage[0]);
    s_fill_entry (&entries[1], 8, 0, storage[1]);
    assert_int_equal (log_store_append (log, entries, 2), -1);
    assert_int_equal (errno, EINVAL);
    //  A payload too large to be read back is refused before anything is
    //  written (its data is never touched).
    entries[1] = entries[0];
    entries[1].size = 64u * 1024 * 1024;
    assert_int_equal (log_store_append (log, &entries[1], 1), -1);
    assert_int_equal (errno, EMSGSIZE);
    assert_int_equal (log_store_last_index (log), 5);
    assert_int_equal (log_store_size (log), size);

    assert_int_equal (log_store_append (log, entries, 1), 0);
    assert_int_equal (log_store_sync (log), 0);
    s_reopen (fixture, &log);
    s_check_log (log, 1, 6, 0, 0);
    log_store_destroy (&log);
}

//  Sums payload sizes over a replay.
static int
s_sum_sizes (const raft_entry_t *entry, void *argument)
{
    *(uint64_t *)argument += entry->size;
    return 0;
}

static void
test_failed_append_leaves_no_trace (void **state)
{
    fixture_t *fixture = (fixture_t *)*state;
    fixture->segment_bytes = SMALL_SEGMENT_BYTES;
    log_store_t *log = s_open (fixture);
    s_append_range (log, 1, 5, 0, 5);
    assert_int_equal (log_store_sync (log), 0);
    uint64_t size = log_store_size (log);
    struct dirent **names;
    int files_before = s_list_segments (fixture, &names);
    s_free_names (names, files_before);

    //  Entry 6 fits the current segment, entry 7 is larger than a segment
    //  and gets a new one. A file size limit between the two makes the write
    //  of entry 7 fail part way, as a full disk would: the append must undo
    //  entry 6 and the new segment as well.
    uint8_t storage[2][MAX_TEST_PAYLOAD];
    raft_entry_t entries[3];
    s_fill_entry (&entries[0], 6, 0, storage[0]);
    s_fill_entry (&entries[2], 8, 0, storage[1]);
    size_t big_size = 3 * SMALL_SEGMENT_BYTES;
    uint8_t *big = calloc (1, big_size);
    assert_non_null (big);
    entries[1] = (raft_entry_t){1, 7, 0, big, big_size};
    assert_true (size + s_record_size (6, 0) < SMALL_SEGMENT_BYTES);

    struct rlimit saved_limit;
    assert_int_equal (getrlimit (RLIMIT_FSIZE, &saved_limit), 0);
    struct rlimit small_limit = {SMALL_SEGMENT_BYTES, saved_limit.rlim_max};
    signal (SIGXFSZ, SIG_IGN);
    assert_int_equal (setrlimit (RLIMIT_FSIZE, &small_limit), 0);
    int rc = log_store_append (log, entries, 3);
    int append_errno = errno;
    assert_int_equal (setrlimit (RLIMIT_FSIZE, &saved_limit), 0);
    signal (SIGXFSZ, SIG_DFL);
    assert_int_equal (rc, -1);
    assert_int_equal (append_errno, EFBIG);

    assert_int_equal (log_store_last_index (log), 5);
    assert_int_equal (log_store_size (log), size);
    assert_int_equal (s_segments_size (fixture), size);
    int files_after = s_list_segments (fixture, &names);
    s_free_names (names, files_after);
    assert_int_equal (files_after, files_before);

    //  The limit is gone: the same batch goes through.
    assert_int_equal (log_store_append (log, entries, 3), 0);
    free (big);
    assert_int_equal (log_store_sync (log), 0);
    s_reopen (fixture, &log);
    assert_int_equal (log_store_last_index (log), 8);
    uint64_t payload_bytes = 0;
    assert_int_equal (log_store_replay (log, s_sum_sizes, &payload_bytes), 0);
    uint64_t expected_bytes = big_size;
    for (uint64_t index = 1; index <= 8; index++)
        expected_bytes += index == 7 ? 0 : s_payload_size (index, 0);
    assert_int_equal (payload_bytes, expected_bytes);
    log_store_destroy (&log);
}

static void
test_empty_log_starts_anywhere (void **state)
{
    fixture_t *fixture = (fixture_t *)*state;
    log_store_t *log = s_open (fixture);
    s_append_range (log, 1000, 1010, 0, 4);
    assert_int_equal (log_store_sync (log), 0);
    s_reopen (fixture, &log);
    s_check_log (log, 1000, 1010, 0, 0);
    assert_true (s_file_exists (fixture, "00000000000000001000.seg"));
    log_store_destroy (&log);
}

static void
test_replay_stops_on_visit_failure (void **state)
{
    fixture_t *fixture = (fixture_t *)*state;
    log_store_t *log = s_open (fixture);
    s_append_range (log, 1, 10, 0, 10);
    replay_check_t check = {1, 0, 0, 4, 0};
    assert_int_equal (log_store_replay (log, s_check_entry, &check), -1);
    assert_int_equal (check.visited, 4);
    log_store_destroy (&log);
}

static void
test_open_errors (void **state)
{
    fixture_t *fixture = (fixture_t *)*state;
    char error[ERROR_SIZE] = "";
    //  The path is a regular file.
    int fd = open (fixture->path, O_WRONLY | O_CREAT | O_EXCL, 0644);
    assert_true (fd >= 0);
    close (fd);
    assert_null (log_store_open (fixture->path, fixture->segment_bytes, error, sizeof error));
    assert_true (strlen (error) > 0);
    assert_int_equal (unlink (fixture->path), 0);
}

//  First index of the oldest segment file, 0 if there is none.
static uint64_t
s_oldest_segment (fixture_t *fixture)
{
    struct dirent **names;
    int count = s_list_segments (fixture, &names);
    uint64_t first = count > 0 ? strtoull (names[0]->d_name, NULL, 10) : 0;
    s_free_names (names, count);
    return first;
}

static void
test_truncate_prefix (void **state)
{
    fixture_t *fixture = (fixture_t *)*state;
    fixture->segment_bytes = SMALL_SEGMENT_BYTES;
    log_store_t *log = s_open (fixture);
    s_append_range (log, 1, 600, 0, 16);
    assert_int_equal (log_store_sync (log), 0);
    //  The segment that holds 301: the last one starting at or before it
    struct dirent **names;
    int before = s_list_segments (fixture, &names);
    assert_true (before > 20);
    uint64_t first = 0;
    for (int at = 0; at < before; at++) {
        uint64_t start = strtoull (names[at]->d_name, NULL, 10);
        if (start <= 301)
            first = start;
    }
    s_free_names (names, before);
    assert_true (first > 1);

    //  Nothing lies wholly below index 1 or 0
    assert_int_equal (log_store_truncate_prefix (log, 0), 0);
    assert_int_equal (log_store_truncate_prefix (log, 1), 0);
    s_check_log (log, 1, 600, 0, 0);

    //  Whole segments go; the one holding 301 stays whole
    assert_int_equal (log_store_truncate_prefix (log, 300), 0);
    assert_int_equal (log_store_first_index (log), first);
    assert_int_equal (s_oldest_segment (fixture), first);
    s_check_log (log, first, 600, 0, 0);
    assert_int_equal (log_store_size (log), s_segments_size (fixture));

    //  Appends, syncs and suffix truncation go on as before
    s_append_range (log, 601, 700, 0, 9);
    assert_int_equal (log_store_sync (log), 0);
    assert_int_equal (log_store_truncate_suffix (log, 690), 0);
    s_reopen (fixture, &log);
    s_check_log (log, first, 689, 0, 0);
    assert_int_equal (log_store_recovered_bytes (log), 0);

    //  Repeating it, or asking for less, changes nothing
    assert_int_equal (log_store_truncate_prefix (log, 300), 0);
    assert_int_equal (log_store_truncate_prefix (log, 10), 0);
    s_check_log (log, first, 689, 0, 0);

    //  Everything below the end: the log becomes empty, and starts again
    //  after the snapshot that covered it
    assert_int_equal (log_store_truncate_prefix (log, 689), 0);
    s_check_log (log, 0, 0, 0, 0);
    assert_int_equal (s_oldest_segment (fixture), 0);
    s_reopen (fixture, &log);
    s_check_log (log, 0, 0, 0, 0);
    s_append_range (log, 690, 720, 0, 5);
    assert_int_equal (log_store_sync (log), 0);
    s_reopen (fixture, &log);
    s_check_log (log, 690, 720, 0, 0);
    log_store_destroy (&log);
}

//  A crash between two deletions of a prefix truncation leaves some of the
//  oldest segments gone and the rest whole: a shorter log, still gapless.
static void
test_truncate_prefix_interrupted (void **state)
{
    fixture_t *fixture = (fixture_t *)*state;
    fixture->segment_bytes = SMALL_SEGMENT_BYTES;
    log_store_t *log = s_open (fixture);
    s_append_range (log, 1, 200, 0, 8);
    assert_int_equal (log_store_sync (log), 0);
    log_store_destroy (&log);

    struct dirent **names;
    int count = s_list_segments (fixture, &names);
    assert_true (count > 3);
    char path[PATH_SIZE];
    s_file_path (fixture, names[0]->d_name, path, sizeof path);
    assert_int_equal (unlink (path), 0);
    uint64_t second = strtoull (names[1]->d_name, NULL, 10);
    s_free_names (names, count);

    log = s_open (fixture);
    assert_int_equal (log_store_recovered_bytes (log), 0);
    s_check_log (log, second, 200, 0, 0);
    //  The truncation finishes on the next try
    assert_int_equal (log_store_truncate_prefix (log, 150), 0);
    assert_true (log_store_first_index (log) <= 151);
    assert_true (log_store_first_index (log) > second);
    s_reopen (fixture, &log);
    s_check_log (log, s_oldest_segment (fixture), 200, 0, 0);
    log_store_destroy (&log);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown (test_empty_directory, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_append_sync_reopen_replay, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_many_segments, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_truncate_suffix, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_torn_tail, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_flipped_byte_in_last_record, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_flipped_byte_in_middle_record, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_out_of_sequence_records, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_missing_middle_segment, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_garbage_and_stray_files, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_wrong_index_refused, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_failed_append_leaves_no_trace, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_empty_log_starts_anywhere, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_replay_stops_on_visit_failure, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_open_errors, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_truncate_prefix, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_truncate_prefix_interrupted, s_setup, s_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
