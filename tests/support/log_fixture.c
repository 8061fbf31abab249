/*  log_fixture — what the log store's tests share: a fresh log directory
    per test, entries that are a pure function of (index, generation) so a
    replay can be checked without copies, and helpers that list, damage
    and measure segment files.
*/
#include "log_fixture.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <inttypes.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "temp_dir.h"
#include "test_files.h"
#include "util/little_endian.h"

size_t
log_fixture_payload_size (uint64_t index, uint32_t generation)
{
    return (size_t)((index * 37 + generation * 11) % 200);
}

//  Entry index of a generation; its data points into storage, which must
//  hold MAX_TEST_PAYLOAD bytes.
void
log_fixture_fill_entry (raft_entry_t *entry, uint64_t index, uint32_t generation, uint8_t *storage)
{
    entry->index = index;
    entry->term = generation * 1000 + index / 16 + 1;
    entry->type = (uint8_t)((index + generation) % 3);
    entry->size = log_fixture_payload_size (index, generation);
    entry->data = storage;
    for (size_t at = 0; at < entry->size; at++)
        storage[at] = (uint8_t)(index * 131 + at * 7 + generation);
}

size_t
log_fixture_record_size (uint64_t index, uint32_t generation)
{
    return RECORD_OVERHEAD + log_fixture_payload_size (index, generation);
}

//  Appends [first, last] of a generation in batches of batch entries.
void
log_fixture_append_range (log_store_t *log, uint64_t first, uint64_t last, uint32_t generation,
                          size_t batch)
{
    raft_entry_t *entries = calloc (batch, sizeof (raft_entry_t));
    uint8_t *storage = malloc (batch * MAX_TEST_PAYLOAD);
    assert_non_null (entries);
    assert_non_null (storage);
    for (uint64_t index = first; index <= last;) {
        size_t count = 0;
        while (count < batch && index <= last) {
            log_fixture_fill_entry (&entries[count], index, generation,
                                    storage + count * MAX_TEST_PAYLOAD);
            count++;
            index++;
        }
        assert_int_equal (log_store_append (log, entries, count), 0);
    }
    free (entries);
    free (storage);
}

int
log_fixture_check_entry (const raft_entry_t *entry, void *argument)
{
    log_fixture_check_t *check = (log_fixture_check_t *)argument;
    uint32_t generation = entry->index >= check->switch_index ? check->generation_after : 0;
    uint8_t storage[MAX_TEST_PAYLOAD];
    raft_entry_t expected;
    log_fixture_fill_entry (&expected, check->next_index, generation, storage);
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
void
log_fixture_check_log (log_store_t *log, uint64_t first, uint64_t last, uint64_t switch_index,
                       uint32_t generation_after)
{
    assert_int_equal (log_store_first_index (log), first);
    assert_int_equal (log_store_last_index (log), last);
    log_fixture_check_t check = {first ? first : 1, switch_index, generation_after, 0, 0};
    assert_int_equal (log_store_replay (log, log_fixture_check_entry, &check), 0);
    assert_int_equal (check.visited, first ? last - first + 1 : 0);
}

log_store_t *
log_fixture_open (log_fixture_t *fixture)
{
    char error[ERROR_SIZE] = "";
    log_store_t *log = log_store_open (fixture->path, fixture->segment_bytes, error, sizeof error);
    if (!log)
        fprintf (stderr, "log_store_open: %s\n", error);
    assert_non_null (log);
    return log;
}

void
log_fixture_expect_refusal (log_fixture_t *fixture, const char *segment, uint64_t offset)
{
    uint64_t size_before = log_fixture_segments_size (fixture);
    char error[ERROR_SIZE] = "";
    log_store_t *log = log_store_open (fixture->path, fixture->segment_bytes, error, sizeof error);
    assert_null (log);
    char place[PATH_SIZE];
    snprintf (place, sizeof place, "/%s: ", segment);
    char where[64];
    snprintf (where, sizeof where, " at offset %" PRIu64 " ", offset);
    if (!strstr (error, place) || !strstr (error, where) || !strstr (error, "refusing to start"))
        fprintf (stderr, "expected %s and%s in: %s\n", place, where, error);
    assert_non_null (strstr (error, place));
    assert_non_null (strstr (error, where));
    assert_non_null (strstr (error, "refusing to start"));
    assert_int_equal (log_fixture_segments_size (fixture), size_before);
}

void
log_fixture_reopen (log_fixture_t *fixture, log_store_t **log_p)
{
    log_store_destroy (log_p);
    assert_null (*log_p);
    *log_p = log_fixture_open (fixture);
}

static int
s_is_segment (const struct dirent *item)
{
    size_t length = strlen (item->d_name);
    return length == 24 && strcmp (item->d_name + 20, ".seg") == 0;
}

//  Segment file names in index order (zero padding makes that name order).
int
log_fixture_list_segments (log_fixture_t *fixture, struct dirent ***names)
{
    int count = scandir (fixture->path, names, s_is_segment, alphasort);
    assert_true (count >= 0);
    return count;
}

void
log_fixture_free_names (struct dirent **names, int count)
{
    for (int at = 0; at < count; at++)
        free (names[at]);
    free (names);
}

void
log_fixture_file_path (log_fixture_t *fixture, const char *name, char *path, size_t size)
{
    snprintf (path, size, "%s/%s", fixture->path, name);
}

uint64_t
log_fixture_file_size (log_fixture_t *fixture, const char *name)
{
    char path[PATH_SIZE];
    log_fixture_file_path (fixture, name, path, sizeof path);
    return test_files_size (path);
}

uint64_t
log_fixture_records_size (log_fixture_t *fixture, const char *name)
{
    char path[PATH_SIZE];
    log_fixture_file_path (fixture, name, path, sizeof path);
    size_t size;
    uint8_t *bytes = test_files_read (path, &size);
    uint64_t offset = 0;
    while (offset + 4 <= size) {
        uint32_t length = little_endian_get_u32 (bytes + offset);
        if (length == 0 || offset + 8 + length > size)
            break;
        offset += 8 + length;
    }
    free (bytes);
    return offset;
}

void
log_fixture_flip_byte (log_fixture_t *fixture, const char *name, uint64_t offset)
{
    char path[PATH_SIZE];
    log_fixture_file_path (fixture, name, path, sizeof path);
    test_files_flip_byte (path, offset);
}

void
log_fixture_cut_file (log_fixture_t *fixture, const char *name, uint64_t size)
{
    char path[PATH_SIZE];
    log_fixture_file_path (fixture, name, path, sizeof path);
    assert_int_equal (truncate (path, (off_t)size), 0);
}

void
log_fixture_write_file (log_fixture_t *fixture, const char *name, const void *data, size_t size)
{
    char path[PATH_SIZE];
    log_fixture_file_path (fixture, name, path, sizeof path);
    test_files_write (path, data, size);
}

bool
log_fixture_file_exists (log_fixture_t *fixture, const char *name)
{
    char path[PATH_SIZE];
    log_fixture_file_path (fixture, name, path, sizeof path);
    return access (path, F_OK) == 0;
}

//  Sum of the sizes of all segment files: what log_store_size must report.
uint64_t
log_fixture_segments_size (log_fixture_t *fixture)
{
    struct dirent **names;
    int count = log_fixture_list_segments (fixture, &names);
    uint64_t total = 0;
    for (int at = 0; at < count; at++)
        total += log_fixture_records_size (fixture, names[at]->d_name);
    log_fixture_free_names (names, count);
    return total;
}

int
log_fixture_setup (void **state)
{
    log_fixture_t *fixture = calloc (1, sizeof (log_fixture_t));
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

int
log_fixture_teardown (void **state)
{
    log_fixture_t *fixture = (log_fixture_t *)*state;
    int rc = temp_dir_remove (fixture->root);
    free (fixture);
    return rc;
}

//  Writes entries 1..last in one segment and closes the store.
void
log_fixture_build_single_segment (log_fixture_t *fixture, uint64_t last)
{
    log_store_t *log = log_fixture_open (fixture);
    for (uint64_t index = 1; index <= last; index++) {
        log_fixture_append_range (log, index, index, 0, 1);
        assert_int_equal (log_store_sync (log), 0);
    }
    log_store_destroy (&log);
    const char *name = "00000000000000000001.seg";
    log_fixture_cut_file (fixture, name, log_fixture_records_size (fixture, name));
}

void
log_fixture_remove_log (log_fixture_t *fixture)
{
    assert_int_equal (temp_dir_remove (fixture->path), 0);
}
