/*  test_log_recovery — what opening a log recovers from, and what it
    refuses. A torn tail (torn or flipped last records of the last segment,
    nothing valid after them) is cut and the log comes back whole after a
    reopen. Corruption before the end of the log (a bad record in an earlier
    segment, or followed by valid records, a missing or misnamed segment) is
    refused with the file and the offset, and nothing on disk is changed:
    cutting there would drop acknowledged entries.
    Entries and helpers: tests/support/log_fixture.
*/
#include "log_fixture.h"
#include "util/crc32c.h"
#include "util/little_endian.h"

#include <fcntl.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

static void
test_torn_tail (void **state)
{
    log_fixture_t *fixture = (log_fixture_t *)*state;
    const char *segment = "00000000000000000001.seg";
    size_t last_record = log_fixture_record_size (20, 0);
    size_t kept_bytes[] = {0, 1, 4, 7, 8, 12, 24, 25, 60, last_record - 1};
    for (size_t at = 0; at < sizeof kept_bytes / sizeof kept_bytes[0]; at++) {
        log_fixture_build_single_segment (fixture, 20);
        uint64_t full_size = log_fixture_file_size (fixture, segment);
        uint64_t record_start = full_size - last_record;
        //  The crash left only the first kept_bytes of the last record.
        log_fixture_cut_file (fixture, segment, record_start + kept_bytes[at]);

        log_store_t *log = log_fixture_open (fixture);
        log_fixture_check_log (log, 1, 19, 0, 0);
        assert_int_equal (log_store_recovered_bytes (log), kept_bytes[at]);
        assert_int_equal (log_fixture_file_size (fixture, segment), record_start);
        log_fixture_append_range (log, 20, 25, 1, 3);
        assert_int_equal (log_store_sync (log), 0);
        log_fixture_reopen (fixture, &log);
        assert_int_equal (log_store_recovered_bytes (log), 0);
        log_fixture_check_log (log, 1, 25, 20, 1);
        log_store_destroy (&log);
        log_fixture_remove_log (fixture);
    }
}

static void
test_flipped_byte_in_last_record (void **state)
{
    log_fixture_t *fixture = (log_fixture_t *)*state;
    const char *segment = "00000000000000000001.seg";
    size_t last_record = log_fixture_record_size (20, 0);
    assert_true (log_fixture_payload_size (20, 0) > 10);
    //  length, crc, term, index, type, payload start and payload end.
    size_t positions[] = {0, 3, 5, 9, 16, 24, 32, 35, last_record - 1};
    for (size_t at = 0; at < sizeof positions / sizeof positions[0]; at++) {
        log_fixture_build_single_segment (fixture, 20);
        uint64_t full_size = log_fixture_file_size (fixture, segment);
        log_fixture_flip_byte (fixture, segment, full_size - last_record + positions[at]);

        log_store_t *log = log_fixture_open (fixture);
        log_fixture_check_log (log, 1, 19, 0, 0);
        assert_int_equal (log_store_recovered_bytes (log), last_record);
        log_fixture_append_range (log, 20, 21, 1, 2);
        assert_int_equal (log_store_sync (log), 0);
        log_fixture_reopen (fixture, &log);
        log_fixture_check_log (log, 1, 21, 20, 1);
        log_store_destroy (&log);
        log_fixture_remove_log (fixture);
    }
}

static void
test_flipped_byte_in_middle_segment (void **state)
{
    log_fixture_t *fixture = (log_fixture_t *)*state;
    fixture->segment_bytes = SMALL_SEGMENT_BYTES;
    log_store_t *log = log_fixture_open (fixture);
    log_fixture_append_range (log, 1, 300, 0, 10);
    assert_int_equal (log_store_sync (log), 0);
    log_store_destroy (&log);

    struct dirent **names;
    int count = log_fixture_list_segments (fixture, &names);
    assert_true (count >= 5);
    char damaged[NAME_SIZE];
    snprintf (damaged, sizeof damaged, "%s", names[1]->d_name);
    log_fixture_free_names (names, count);
    //  Corrupt the checksum of the damaged segment's second record.
    uint64_t damaged_first = strtoull (damaged, NULL, 10);
    uint64_t second_record = log_fixture_record_size (damaged_first, 0);
    log_fixture_flip_byte (fixture, damaged, second_record + 5);
    log_fixture_expect_refusal (fixture, damaged, second_record);
    //  Refused again: nothing was cut the first time.
    log_fixture_expect_refusal (fixture, damaged, second_record);
}

//  Records 1..20 in one segment; returns the offset of record index.
static uint64_t
s_record_offset (uint64_t index)
{
    uint64_t offset = 0;
    for (uint64_t before = 1; before < index; before++)
        offset += log_fixture_record_size (before, 0);
    return offset;
}

//  Overwrites size bytes at offset of segment name with zeros: what a
//  page that never reached the disk reads as in a zero-filled segment.
static void
s_zero_range (log_fixture_t *fixture, const char *name, uint64_t offset, size_t size)
{
    uint8_t *zeros = calloc (1, size);
    assert_non_null (zeros);
    char path[PATH_SIZE];
    log_fixture_file_path (fixture, name, path, sizeof path);
    int fd = open (path, O_WRONLY);
    assert_true (fd >= 0);
    assert_int_equal (pwrite (fd, zeros, size, (off_t)offset), (ssize_t)size);
    close (fd);
    free (zeros);
}

static void
test_corrupt_record_followed_by_valid_ones (void **state)
{
    log_fixture_t *fixture = (log_fixture_t *)*state;
    const char *segment = "00000000000000000001.seg";
    //  A flipped payload byte, a flipped length (the next record must be
    //  found by scanning), and a zeroed record, each with records after it.
    uint64_t damaged[] = {10, 19, 5};
    size_t positions[] = {30, 1, 0};
    for (size_t at = 0; at < sizeof damaged / sizeof damaged[0]; at++) {
        log_fixture_build_single_segment (fixture, 20);
        uint64_t offset = s_record_offset (damaged[at]);
        if (at == 2)
            s_zero_range (fixture, segment, offset, RECORD_OVERHEAD);
        else
            log_fixture_flip_byte (fixture, segment, offset + positions[at]);
        log_fixture_expect_refusal (fixture, segment, offset);
        log_fixture_remove_log (fixture);
    }
}

//  Copies size bytes at offset of file name to destination in it.
static void
s_copy_file_range_to (log_fixture_t *fixture, const char *name, uint64_t offset, size_t size,
                      uint64_t destination)
{
    char path[PATH_SIZE];
    log_fixture_file_path (fixture, name, path, sizeof path);
    int fd = open (path, O_RDWR);
    assert_true (fd >= 0);
    uint8_t *bytes = malloc (size);
    assert_non_null (bytes);
    assert_int_equal (pread (fd, bytes, size, (off_t)offset), (ssize_t)size);
    assert_int_equal (pwrite (fd, bytes, size, (off_t)destination), (ssize_t)size);
    free (bytes);
    close (fd);
}

static void
test_out_of_sequence_records (void **state)
{
    log_fixture_t *fixture = (log_fixture_t *)*state;
    const char *segment = "00000000000000000001.seg";
    //  A whole, correctly checksummed record that repeats an index.
    log_fixture_build_single_segment (fixture, 20);
    size_t last_record = log_fixture_record_size (20, 0);
    uint64_t full_size = log_fixture_file_size (fixture, segment);
    s_copy_file_range_to (fixture, segment, full_size - last_record, last_record, full_size);
    log_store_t *log = log_fixture_open (fixture);
    log_fixture_check_log (log, 1, 20, 0, 0);
    assert_int_equal (log_store_recovered_bytes (log), last_record);
    assert_int_equal (log_fixture_file_size (fixture, segment), full_size);
    log_store_destroy (&log);

    //  A segment whose name does not match its first record.
    char from[PATH_SIZE];
    char to[PATH_SIZE];
    log_fixture_file_path (fixture, segment, from, sizeof from);
    log_fixture_file_path (fixture, "00000000000000000005.seg", to, sizeof to);
    assert_int_equal (rename (from, to), 0);
    log_fixture_expect_refusal (fixture, "00000000000000000005.seg", 0);
}

static void
test_missing_middle_segment (void **state)
{
    log_fixture_t *fixture = (log_fixture_t *)*state;
    fixture->segment_bytes = SMALL_SEGMENT_BYTES;
    log_store_t *log = log_fixture_open (fixture);
    log_fixture_append_range (log, 1, 300, 0, 10);
    assert_int_equal (log_store_sync (log), 0);
    log_store_destroy (&log);

    struct dirent **names;
    int count = log_fixture_list_segments (fixture, &names);
    assert_true (count >= 5);
    char path[PATH_SIZE];
    log_fixture_file_path (fixture, names[2]->d_name, path, sizeof path);
    assert_int_equal (unlink (path), 0);

    //  The segment after the gap is named, at its start.
    log_fixture_expect_refusal (fixture, names[3]->d_name, 0);
    log_fixture_free_names (names, count);
}

static void
test_garbage_and_stray_files (void **state)
{
    log_fixture_t *fixture = (log_fixture_t *)*state;
    assert_int_equal (mkdir (fixture->path, 0755), 0);
    const char *notes = "not a segment";
    log_fixture_write_file (fixture, "notes.txt", notes, strlen (notes));
    log_fixture_write_file (fixture, "12345.seg", notes, strlen (notes));
    uint8_t garbage[1000];
    for (size_t at = 0; at < sizeof garbage; at++)
        garbage[at] = (uint8_t)(at * 197 + 13);
    log_fixture_write_file (fixture, "00000000000000000001.seg", garbage, sizeof garbage);

    log_store_t *log = log_fixture_open (fixture);
    log_fixture_check_log (log, 0, 0, 0, 0);
    assert_int_equal (log_store_recovered_bytes (log), sizeof garbage);
    assert_false (log_fixture_file_exists (fixture, "00000000000000000001.seg"));
    assert_true (log_fixture_file_exists (fixture, "notes.txt"));
    assert_true (log_fixture_file_exists (fixture, "12345.seg"));

    //  One record per segment from here on, so entry 6 needs a new segment.
    fixture->segment_bytes = 1;
    log_fixture_reopen (fixture, &log);
    log_fixture_append_range (log, 1, 5, 0, 5);
    assert_int_equal (log_store_sync (log), 0);
    assert_true (log_fixture_file_exists (fixture, "00000000000000000005.seg"));
    //  A segment created but never written (a crash right after creating it)
    //  is dropped, so the next append can create it again.
    log_fixture_write_file (fixture, "00000000000000000006.seg", "", 0);
    log_fixture_reopen (fixture, &log);
    assert_false (log_fixture_file_exists (fixture, "00000000000000000006.seg"));
    assert_int_equal (log_store_recovered_bytes (log), 0);
    log_fixture_append_range (log, 6, 8, 0, 3);
    assert_true (log_fixture_file_exists (fixture, "00000000000000000006.seg"));
    assert_int_equal (log_store_sync (log), 0);
    log_fixture_reopen (fixture, &log);
    log_fixture_check_log (log, 1, 8, 0, 0);
    log_store_destroy (&log);
}

//  The store's zero-filled tail is the end of the log, kept as it is; a
//  torn record written into it is cut with the zeros after it.
static void
test_zero_tail_is_the_end (void **state)
{
    log_fixture_t *fixture = (log_fixture_t *)*state;
    const char *segment = "00000000000000000001.seg";
    log_store_t *log = log_fixture_open (fixture);
    log_fixture_append_range (log, 1, 20, 0, 4);
    assert_int_equal (log_store_sync (log), 0);
    log_store_destroy (&log);
    uint64_t records = log_fixture_records_size (fixture, segment);
    uint64_t file_size = log_fixture_file_size (fixture, segment);
    assert_true (file_size > records);

    log = log_fixture_open (fixture);
    log_fixture_check_log (log, 1, 20, 0, 0);
    assert_int_equal (log_store_recovered_bytes (log), 0);
    assert_int_equal (log_fixture_file_size (fixture, segment), file_size);
    log_fixture_append_range (log, 21, 25, 0, 5);
    assert_int_equal (log_store_sync (log), 0);
    log_fixture_reopen (fixture, &log);
    log_fixture_check_log (log, 1, 25, 0, 0);
    assert_int_equal (log_store_recovered_bytes (log), 0);
    log_store_destroy (&log);

    //  Half a record written into the zeros: a torn tail
    records = log_fixture_records_size (fixture, segment);
    file_size = log_fixture_file_size (fixture, segment);
    s_copy_file_range_to (fixture, segment, records - log_fixture_record_size (25, 0), 10, records);
    log = log_fixture_open (fixture);
    log_fixture_check_log (log, 1, 25, 0, 0);
    assert_int_equal (log_store_recovered_bytes (log), file_size - records);
    assert_int_equal (log_fixture_file_size (fixture, segment), records);
    log_store_destroy (&log);
}

//  Records 1..synced, each synced before the next was written, then
//  synced+1..last appended after the last sync: the pages of those may
//  reach the disk in any order before a crash.
static void
s_build_unsynced_tail (log_fixture_t *fixture, uint64_t synced, uint64_t last)
{
    log_store_t *log = log_fixture_open (fixture);
    for (uint64_t index = 1; index <= synced; index++) {
        log_fixture_append_range (log, index, index, 0, 1);
        assert_int_equal (log_store_sync (log), 0);
    }
    log_fixture_append_range (log, synced + 1, last, 0, 2);
    log_store_destroy (&log);
}

//  A record written after the last sync that did not reach the disk
//  (zeros), with later ones that did: nothing there was synced, so none
//  was acknowledged, and the tail is cut at the missing record.
static void
test_unsynced_records_after_a_missing_one_are_a_torn_tail (void **state)
{
    log_fixture_t *fixture = (log_fixture_t *)*state;
    const char *segment = "00000000000000000001.seg";
    s_build_unsynced_tail (fixture, 10, 20);
    s_zero_range (fixture, segment, s_record_offset (12), log_fixture_record_size (12, 0));
    uint64_t file_size = log_fixture_file_size (fixture, segment);
    log_store_t *log = log_fixture_open (fixture);
    log_fixture_check_log (log, 1, 11, 0, 0);
    assert_int_equal (log_store_recovered_bytes (log), file_size - s_record_offset (12));
    log_fixture_reopen (fixture, &log);
    assert_int_equal (log_store_recovered_bytes (log), 0);
    log_fixture_check_log (log, 1, 11, 0, 0);
    log_store_destroy (&log);

    //  The same damage to a record that was synced: refused
    log_fixture_remove_log (fixture);
    s_build_unsynced_tail (fixture, 10, 20);
    s_zero_range (fixture, segment, s_record_offset (9), log_fixture_record_size (9, 0));
    log_fixture_expect_refusal (fixture, segment, s_record_offset (9));
}

//  A sync handed off to another thread counts once the store is told it
//  returned: records written after that are evidence that it did.
static void
test_marks_follow_a_handed_off_sync (void **state)
{
    log_fixture_t *fixture = (log_fixture_t *)*state;
    const char *segment = "00000000000000000001.seg";
    for (int told = 0; told <= 1; told++) {
        log_store_t *log = log_fixture_open (fixture);
        //  Synced here first: a new segment's directory entry is not handed off
        log_fixture_append_range (log, 1, 2, 0, 2);
        assert_int_equal (log_store_sync (log), 0);
        log_fixture_append_range (log, 3, 5, 0, 3);
        int fd;
        assert_int_equal (log_store_sync_handoff (log, &fd), 0);
        assert_true (fd >= 0);
        assert_int_equal (fdatasync (fd), 0);
        close (fd);
        if (told)
            log_store_synced (log, 5);
        log_fixture_append_range (log, 6, 10, 0, 5);
        log_store_destroy (&log);
        s_zero_range (fixture, segment, s_record_offset (5), log_fixture_record_size (5, 0));
        if (told)
            log_fixture_expect_refusal (fixture, segment, s_record_offset (5));
        else {
            log = log_fixture_open (fixture);
            log_fixture_check_log (log, 1, 4, 0, 0);
            log_store_destroy (&log);
        }
        log_fixture_remove_log (fixture);
    }
}

//  Entries rewritten after a suffix truncation are not durable for taking
//  the indexes of durable ones: their records' mark drops below the cut.
static void
test_truncation_lowers_the_mark (void **state)
{
    log_fixture_t *fixture = (log_fixture_t *)*state;
    const char *segment = "00000000000000000001.seg";
    log_store_t *log = log_fixture_open (fixture);
    log_fixture_append_range (log, 1, 10, 0, 10);
    assert_int_equal (log_store_sync (log), 0);
    assert_int_equal (log_store_truncate_suffix (log, 6), 0);
    log_fixture_append_range (log, 6, 10, 0, 1);
    log_store_destroy (&log);
    s_zero_range (fixture, segment, s_record_offset (7), log_fixture_record_size (7, 0));
    log = log_fixture_open (fixture);
    log_fixture_check_log (log, 1, 6, 0, 0);
    log_store_destroy (&log);
}

//  Appends the record of entry in the first format (no durable mark) to
//  the file name.
static void
s_append_first_format (log_fixture_t *fixture, const char *name, const raft_entry_t *entry)
{
    uint8_t record[RECORD_OVERHEAD + MAX_TEST_PAYLOAD];
    uint8_t *body = record + 8;
    little_endian_put_u64 (body, entry->term);
    little_endian_put_u64 (body + 8, entry->index);
    body[16] = entry->type;
    memcpy (body + 17, entry->data, entry->size);
    uint32_t length = (uint32_t)(17 + entry->size);
    little_endian_put_u32 (record, length);
    little_endian_put_u32 (record + 4, crc32c_extend (0, body, length));
    char path[PATH_SIZE];
    log_fixture_file_path (fixture, name, path, sizeof path);
    int fd = open (path, O_WRONLY | O_CREAT | O_APPEND, 0600);
    assert_true (fd >= 0);
    assert_int_equal (write (fd, record, 8 + length), (ssize_t)(8 + length));
    close (fd);
}

//  A log written before records carried the mark opens and goes on; a bad
//  record in it followed by valid ones is refused, as it always was.
static void
test_first_format_records (void **state)
{
    log_fixture_t *fixture = (log_fixture_t *)*state;
    const char *segment = "00000000000000000001.seg";
    uint8_t storage[MAX_TEST_PAYLOAD];
    uint64_t offsets[6] = {0};
    for (int damaged = 0; damaged <= 1; damaged++) {
        assert_int_equal (mkdir (fixture->path, 0755), 0);
        for (uint64_t index = 1; index <= 5; index++) {
            raft_entry_t entry;
            log_fixture_fill_entry (&entry, index, 0, storage);
            offsets[index] = log_fixture_file_exists (fixture, segment)
                                 ? log_fixture_file_size (fixture, segment)
                                 : 0;
            s_append_first_format (fixture, segment, &entry);
        }
        if (damaged) {
            log_fixture_flip_byte (fixture, segment, offsets[3] + 20);
            log_fixture_expect_refusal (fixture, segment, offsets[3]);
        } else {
            log_store_t *log = log_fixture_open (fixture);
            log_fixture_check_log (log, 1, 5, 0, 0);
            log_fixture_append_range (log, 6, 8, 0, 3);
            assert_int_equal (log_store_sync (log), 0);
            log_fixture_reopen (fixture, &log);
            assert_int_equal (log_store_recovered_bytes (log), 0);
            log_fixture_check_log (log, 1, 8, 0, 0);
            log_store_destroy (&log);
        }
        log_fixture_remove_log (fixture);
    }
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown (test_torn_tail, log_fixture_setup, log_fixture_teardown),
        cmocka_unit_test_setup_teardown (test_zero_tail_is_the_end, log_fixture_setup,
                                         log_fixture_teardown),
        cmocka_unit_test_setup_teardown (test_unsynced_records_after_a_missing_one_are_a_torn_tail,
                                         log_fixture_setup, log_fixture_teardown),
        cmocka_unit_test_setup_teardown (test_marks_follow_a_handed_off_sync, log_fixture_setup,
                                         log_fixture_teardown),
        cmocka_unit_test_setup_teardown (test_truncation_lowers_the_mark, log_fixture_setup,
                                         log_fixture_teardown),
        cmocka_unit_test_setup_teardown (test_first_format_records, log_fixture_setup,
                                         log_fixture_teardown),
        cmocka_unit_test_setup_teardown (test_flipped_byte_in_last_record, log_fixture_setup,
                                         log_fixture_teardown),
        cmocka_unit_test_setup_teardown (test_flipped_byte_in_middle_segment, log_fixture_setup,
                                         log_fixture_teardown),
        cmocka_unit_test_setup_teardown (test_corrupt_record_followed_by_valid_ones,
                                         log_fixture_setup, log_fixture_teardown),
        cmocka_unit_test_setup_teardown (test_out_of_sequence_records, log_fixture_setup,
                                         log_fixture_teardown),
        cmocka_unit_test_setup_teardown (test_missing_middle_segment, log_fixture_setup,
                                         log_fixture_teardown),
        cmocka_unit_test_setup_teardown (test_garbage_and_stray_files, log_fixture_setup,
                                         log_fixture_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
