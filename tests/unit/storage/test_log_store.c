/*  test_log_store — drives the log store on a real directory: append, sync,
    reopen and replay; segment rolling; suffix truncation; prefix truncation
    (compaction after a snapshot), whole and interrupted by a crash;
    refused appends; open errors. Recovery at open is test_log_recovery's.
    Entries and helpers: tests/support/log_fixture.
*/
#include "log_fixture.h"
#include "misuse.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/resource.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

static void
test_empty_directory (void **state)
{
    log_fixture_t *fixture = (log_fixture_t *)*state;
    log_store_t *log = log_fixture_open (fixture);
    struct stat status;
    assert_int_equal (stat (fixture->path, &status), 0);
    assert_true (S_ISDIR (status.st_mode));
    log_fixture_check_log (log, 0, 0, 0, 0);
    assert_int_equal (log_store_size (log), 0);
    assert_int_equal (log_store_recovered_bytes (log), 0);
    assert_int_equal (log_store_sync (log), 0);
    assert_int_equal (log_store_truncate_suffix (log, 1), 0);
    assert_int_equal (log_store_append (log, NULL, 0), 0);
    log_fixture_reopen (fixture, &log);
    log_fixture_check_log (log, 0, 0, 0, 0);
    log_store_destroy (&log);
}

static void
test_append_sync_reopen_replay (void **state)
{
    log_fixture_t *fixture = (log_fixture_t *)*state;
    log_store_t *log = log_fixture_open (fixture);
    log_fixture_append_range (log, 1, 100, 0, 7);
    assert_int_equal (log_store_sync (log), 0);
    log_fixture_check_log (log, 1, 100, 0, 0);
    assert_int_equal (log_store_size (log), log_fixture_segments_size (fixture));

    log_fixture_reopen (fixture, &log);
    log_fixture_check_log (log, 1, 100, 0, 0);
    assert_int_equal (log_store_recovered_bytes (log), 0);
    assert_int_equal (log_store_size (log), log_fixture_segments_size (fixture));

    log_fixture_append_range (log, 101, 150, 0, 1);
    assert_int_equal (log_store_sync (log), 0);
    log_fixture_reopen (fixture, &log);
    log_fixture_check_log (log, 1, 150, 0, 0);
    log_store_destroy (&log);
}

static void
test_many_segments (void **state)
{
    log_fixture_t *fixture = (log_fixture_t *)*state;
    fixture->segment_bytes = SMALL_SEGMENT_BYTES;
    log_store_t *log = log_fixture_open (fixture);
    uint64_t index = 1;
    for (size_t batch = 1; index <= 3000; batch = batch % 64 + 1) {
        uint64_t last = index + batch - 1 > 3000 ? 3000 : index + batch - 1;
        log_fixture_append_range (log, index, last, 0, batch);
        assert_int_equal (log_store_sync (log), 0);
        index = last + 1;
    }
    log_fixture_check_log (log, 1, 3000, 0, 0);

    //  Each file is named after its first record and stays within the limit;
    //  consecutive files chain without gaps.
    struct dirent **names;
    int count = log_fixture_list_segments (fixture, &names);
    assert_true (count > 100);
    uint64_t expected_first = 1;
    for (int at = 0; at < count; at++) {
        uint64_t first = strtoull (names[at]->d_name, NULL, 10);
        assert_int_equal (first, expected_first);
        uint64_t size = log_fixture_records_size (fixture, names[at]->d_name);
        assert_true (size > 0 && size <= SMALL_SEGMENT_BYTES);
        //  Only the last segment keeps a zero tail past its records
        if (at + 1 < count)
            assert_int_equal (log_fixture_file_size (fixture, names[at]->d_name), size);
        uint64_t offset = 0;
        while (offset < size)
            offset += log_fixture_record_size (expected_first++, 0);
        assert_int_equal (offset, size);
    }
    assert_int_equal (expected_first, 3001);
    log_fixture_free_names (names, count);

    log_fixture_reopen (fixture, &log);
    assert_int_equal (log_store_recovered_bytes (log), 0);
    log_fixture_check_log (log, 1, 3000, 0, 0);
    assert_int_equal (log_store_size (log), log_fixture_segments_size (fixture));
    log_store_destroy (&log);
}

//  Out of descriptors (clients took them all), the log still rolls to new
//  segments: the store's spare one is given up for the next segment, and
//  each roll closes the segment before.
static void
test_segments_roll_without_descriptors (void **state)
{
    //  Valgrind keeps descriptors of its own under the limit and refuses a
    //  lowered one its way: the exhaustion this test stages is not the one
    //  a node meets (`make valgrind` sets RAFTQ_VALGRIND)
    if (getenv ("RAFTQ_VALGRIND"))
        skip ();
    log_fixture_t *fixture = (log_fixture_t *)*state;
    fixture->segment_bytes = SMALL_SEGMENT_BYTES;
    log_store_t *log = log_fixture_open (fixture);
    struct rlimit saved;
    assert_int_equal (getrlimit (RLIMIT_NOFILE, &saved), 0);
    struct rlimit low = saved;
    low.rlim_cur = 256;
    assert_int_equal (setrlimit (RLIMIT_NOFILE, &low), 0);
    int fillers[256];
    int count = 0;
    int fd;
    while (count < 256 && (fd = open ("/dev/null", O_RDONLY | O_CLOEXEC)) >= 0)
        fillers[count++] = fd;
    assert_int_equal (errno, EMFILE);
    for (uint64_t first = 1; first <= 300; first += 10) {
        log_fixture_append_range (log, first, first + 9, 0, 10);
        assert_int_equal (log_store_sync (log), 0);
    }
    while (count > 0)
        close (fillers[--count]);
    assert_int_equal (setrlimit (RLIMIT_NOFILE, &saved), 0);
    log_fixture_check_log (log, 1, 300, 0, 0);
    log_fixture_reopen (fixture, &log);
    log_fixture_check_log (log, 1, 300, 0, 0);
    log_store_destroy (&log);
}

static void
test_truncate_suffix (void **state)
{
    log_fixture_t *fixture = (log_fixture_t *)*state;
    fixture->segment_bytes = SMALL_SEGMENT_BYTES;
    log_store_t *log = log_fixture_open (fixture);
    log_fixture_append_range (log, 1, 500, 0, 16);
    assert_int_equal (log_store_sync (log), 0);

    //  Past the end: nothing to do.
    assert_int_equal (log_store_truncate_suffix (log, 501), 0);
    log_fixture_check_log (log, 1, 500, 0, 0);

    //  Inside a segment: its file is cut right after its first record.
    struct dirent **names;
    int count = log_fixture_list_segments (fixture, &names);
    char name[NAME_SIZE];
    snprintf (name, sizeof name, "%s", names[count - 1]->d_name);
    log_fixture_free_names (names, count);
    uint64_t segment_first = strtoull (name, NULL, 10);
    assert_true (segment_first + 1 < 500);
    assert_int_equal (log_store_truncate_suffix (log, segment_first + 1), 0);
    log_fixture_check_log (log, 1, segment_first, 0, 0);
    assert_int_equal (log_fixture_file_size (fixture, name),
                      log_fixture_record_size (segment_first, 0));
    log_fixture_append_range (log, segment_first + 1, 520, 1, 5);
    log_fixture_check_log (log, 1, 520, segment_first + 1, 1);

    //  Across segments: every later file goes.
    int files_before = log_fixture_list_segments (fixture, &names);
    log_fixture_free_names (names, files_before);
    assert_int_equal (log_store_truncate_suffix (log, 200), 0);
    log_fixture_check_log (log, 1, 199, 0, 0);
    count = log_fixture_list_segments (fixture, &names);
    assert_true (count < files_before);
    for (int at = 0; at < count; at++)
        assert_true (strtoull (names[at]->d_name, NULL, 10) < 200);
    log_fixture_free_names (names, count);
    assert_int_equal (log_store_size (log), log_fixture_segments_size (fixture));

    log_fixture_append_range (log, 200, 260, 2, 9);
    assert_int_equal (log_store_sync (log), 0);
    log_fixture_reopen (fixture, &log);
    assert_int_equal (log_store_recovered_bytes (log), 0);
    log_fixture_check_log (log, 1, 260, 200, 2);

    //  At a segment's first record: that file is deleted, not left empty.
    count = log_fixture_list_segments (fixture, &names);
    assert_true (count >= 3);
    snprintf (name, sizeof name, "%s", names[2]->d_name);
    segment_first = strtoull (name, NULL, 10);
    log_fixture_free_names (names, count);
    assert_int_equal (log_store_truncate_suffix (log, segment_first), 0);
    assert_false (log_fixture_file_exists (fixture, name));
    assert_int_equal (log_store_last_index (log), segment_first - 1);
    log_fixture_append_range (log, segment_first, segment_first + 40, 3, 40);
    assert_int_equal (log_store_sync (log), 0);
    log_fixture_reopen (fixture, &log);
    log_fixture_check_log (log, 1, segment_first + 40, segment_first, 3);

    //  From the first index (or before it): the log empties.
    assert_int_equal (log_store_truncate_suffix (log, 0), 0);
    log_fixture_check_log (log, 0, 0, 0, 0);
    count = log_fixture_list_segments (fixture, &names);
    log_fixture_free_names (names, count);
    assert_int_equal (count, 0);
    assert_int_equal (log_store_size (log), 0);
    log_fixture_append_range (log, 1, 30, 4, 30);
    assert_int_equal (log_store_sync (log), 0);
    log_fixture_reopen (fixture, &log);
    log_fixture_check_log (log, 1, 30, 1, 4);
    log_store_destroy (&log);
}

//  A fresh log of the forked child's own, beside the fixture's: the correct
//  and the misused run must not see each other's entries.
static log_store_t *
s_open_child_log (void *fixture)
{
    char path[PATH_SIZE];
    snprintf (path, sizeof path, "%s/child-%d", ((log_fixture_t *)fixture)->root, (int)getpid ());
    char error[ERROR_SIZE];
    log_store_t *log = log_store_open (path, 0, error, sizeof error);
    if (!log)
        _exit (3); //  neither a clean exit nor an abort: fails the check
    return log;
}

//  Appends at a wrong place in a log holding 1..5 (misuse), or at 6.
static void
s_append_out_of_place (void *fixture, bool misuse)
{
    log_store_t *log = s_open_child_log (fixture);
    log_fixture_append_range (log, 1, 5, 0, 5);
    uint8_t storage[MAX_TEST_PAYLOAD];
    raft_entry_t entry;
    log_fixture_fill_entry (&entry, misuse ? 7 : 6, 0, storage);
    log_store_append (log, &entry, 1);
    log_store_destroy (&log);
}

//  Appends a batch with a hole (misuse), or without one.
static void
s_append_batch_with_hole (void *fixture, bool misuse)
{
    log_store_t *log = s_open_child_log (fixture);
    uint8_t storage[2][MAX_TEST_PAYLOAD];
    raft_entry_t entries[2];
    log_fixture_fill_entry (&entries[0], 1, 0, storage[0]);
    log_fixture_fill_entry (&entries[1], misuse ? 3 : 2, 0, storage[1]);
    log_store_append (log, entries, 2);
    log_store_destroy (&log);
}

//  Appends entry 0, which does not exist (misuse), or entry 1.
static void
s_append_index_zero (void *fixture, bool misuse)
{
    log_store_t *log = s_open_child_log (fixture);
    uint8_t storage[MAX_TEST_PAYLOAD];
    raft_entry_t entry;
    log_fixture_fill_entry (&entry, misuse ? 0 : 1, 0, storage);
    log_store_append (log, &entry, 1);
    log_store_destroy (&log);
}

//  Indexes come from the Raft core, which keeps its log gapless: a gap is
//  the caller's bug and aborts. Each scenario runs in a child on a log
//  of its own.
static void
test_wrong_index_aborts (void **state)
{
    log_fixture_t *fixture = (log_fixture_t *)*state;
    misuse_check (s_append_out_of_place, fixture);
    misuse_check (s_append_batch_with_hole, fixture);
    misuse_check (s_append_index_zero, fixture);
}

//  A payload's size may come from a peer: one too large to be read back is
//  an error the caller survives, refused before anything is written (its
//  data is never touched).
static void
test_oversize_payload_refused (void **state)
{
    log_fixture_t *fixture = (log_fixture_t *)*state;
    log_store_t *log = log_fixture_open (fixture);
    log_fixture_append_range (log, 1, 5, 0, 5);
    uint64_t size = log_store_size (log);
    uint8_t storage[MAX_TEST_PAYLOAD];
    raft_entry_t entry;
    log_fixture_fill_entry (&entry, 6, 0, storage);
    raft_entry_t oversize = entry;
    oversize.size = 64u * 1024 * 1024;
    assert_int_equal (log_store_append (log, &oversize, 1), -1);
    assert_int_equal (errno, EMSGSIZE);
    assert_int_equal (log_store_last_index (log), 5);
    assert_int_equal (log_store_size (log), size);

    assert_int_equal (log_store_append (log, &entry, 1), 0);
    assert_int_equal (log_store_sync (log), 0);
    log_fixture_reopen (fixture, &log);
    log_fixture_check_log (log, 1, 6, 0, 0);
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
    log_fixture_t *fixture = (log_fixture_t *)*state;
    fixture->segment_bytes = SMALL_SEGMENT_BYTES;
    log_store_t *log = log_fixture_open (fixture);
    log_fixture_append_range (log, 1, 5, 0, 5);
    assert_int_equal (log_store_sync (log), 0);
    uint64_t size = log_store_size (log);
    struct dirent **names;
    int files_before = log_fixture_list_segments (fixture, &names);
    log_fixture_free_names (names, files_before);

    //  Entry 6 fits the current segment, entry 7 is larger than a segment
    //  and gets a new one. A file size limit between the two makes the write
    //  of entry 7 fail part way, as a full disk would: the append must undo
    //  entry 6 and the new segment as well.
    uint8_t storage[2][MAX_TEST_PAYLOAD];
    raft_entry_t entries[3];
    log_fixture_fill_entry (&entries[0], 6, 0, storage[0]);
    log_fixture_fill_entry (&entries[2], 8, 0, storage[1]);
    size_t big_size = 3 * SMALL_SEGMENT_BYTES;
    uint8_t *big = calloc (1, big_size);
    assert_non_null (big);
    entries[1] = (raft_entry_t){1, 7, 0, big, big_size};
    assert_true (size + log_fixture_record_size (6, 0) < SMALL_SEGMENT_BYTES);

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
    assert_int_equal (log_fixture_segments_size (fixture), size);
    int files_after = log_fixture_list_segments (fixture, &names);
    log_fixture_free_names (names, files_after);
    assert_int_equal (files_after, files_before);

    //  The limit is gone: the same batch goes through.
    assert_int_equal (log_store_append (log, entries, 3), 0);
    free (big);
    assert_int_equal (log_store_sync (log), 0);
    log_fixture_reopen (fixture, &log);
    assert_int_equal (log_store_last_index (log), 8);
    uint64_t payload_bytes = 0;
    assert_int_equal (log_store_replay (log, s_sum_sizes, &payload_bytes), 0);
    uint64_t expected_bytes = big_size;
    for (uint64_t index = 1; index <= 8; index++)
        expected_bytes += index == 7 ? 0 : log_fixture_payload_size (index, 0);
    assert_int_equal (payload_bytes, expected_bytes);
    log_store_destroy (&log);
}

static void
test_empty_log_starts_anywhere (void **state)
{
    log_fixture_t *fixture = (log_fixture_t *)*state;
    log_store_t *log = log_fixture_open (fixture);
    log_fixture_append_range (log, 1000, 1010, 0, 4);
    assert_int_equal (log_store_sync (log), 0);
    log_fixture_reopen (fixture, &log);
    log_fixture_check_log (log, 1000, 1010, 0, 0);
    assert_true (log_fixture_file_exists (fixture, "00000000000000001000.seg"));
    log_store_destroy (&log);
}

static void
test_replay_stops_on_visit_failure (void **state)
{
    log_fixture_t *fixture = (log_fixture_t *)*state;
    log_store_t *log = log_fixture_open (fixture);
    log_fixture_append_range (log, 1, 10, 0, 10);
    log_fixture_check_t check = {1, 0, 0, 4, 0};
    assert_int_equal (log_store_replay (log, log_fixture_check_entry, &check), -1);
    assert_int_equal (check.visited, 4);
    log_store_destroy (&log);
}

static void
test_open_errors (void **state)
{
    log_fixture_t *fixture = (log_fixture_t *)*state;
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
s_oldest_segment (log_fixture_t *fixture)
{
    struct dirent **names;
    int count = log_fixture_list_segments (fixture, &names);
    uint64_t first = count > 0 ? strtoull (names[0]->d_name, NULL, 10) : 0;
    log_fixture_free_names (names, count);
    return first;
}

static void
test_truncate_prefix (void **state)
{
    log_fixture_t *fixture = (log_fixture_t *)*state;
    fixture->segment_bytes = SMALL_SEGMENT_BYTES;
    log_store_t *log = log_fixture_open (fixture);
    log_fixture_append_range (log, 1, 600, 0, 16);
    assert_int_equal (log_store_sync (log), 0);
    //  The segment that holds 301: the last one starting at or before it
    struct dirent **names;
    int before = log_fixture_list_segments (fixture, &names);
    assert_true (before > 20);
    uint64_t first = 0;
    for (int at = 0; at < before; at++) {
        uint64_t start = strtoull (names[at]->d_name, NULL, 10);
        if (start <= 301)
            first = start;
    }
    log_fixture_free_names (names, before);
    assert_true (first > 1);

    //  Nothing lies wholly below index 1 or 0
    assert_int_equal (log_store_truncate_prefix (log, 0), 0);
    assert_int_equal (log_store_truncate_prefix (log, 1), 0);
    log_fixture_check_log (log, 1, 600, 0, 0);

    //  Whole segments go; the one holding 301 stays whole
    assert_int_equal (log_store_truncate_prefix (log, 300), 0);
    assert_int_equal (log_store_first_index (log), first);
    assert_int_equal (s_oldest_segment (fixture), first);
    log_fixture_check_log (log, first, 600, 0, 0);
    assert_int_equal (log_store_size (log), log_fixture_segments_size (fixture));

    //  Appends, syncs and suffix truncation go on as before
    log_fixture_append_range (log, 601, 700, 0, 9);
    assert_int_equal (log_store_sync (log), 0);
    assert_int_equal (log_store_truncate_suffix (log, 690), 0);
    log_fixture_reopen (fixture, &log);
    log_fixture_check_log (log, first, 689, 0, 0);
    assert_int_equal (log_store_recovered_bytes (log), 0);

    //  Repeating it, or asking for less, changes nothing
    assert_int_equal (log_store_truncate_prefix (log, 300), 0);
    assert_int_equal (log_store_truncate_prefix (log, 10), 0);
    log_fixture_check_log (log, first, 689, 0, 0);

    //  Everything below the end: the log becomes empty, and starts again
    //  after the snapshot that covered it
    assert_int_equal (log_store_truncate_prefix (log, 689), 0);
    log_fixture_check_log (log, 0, 0, 0, 0);
    assert_int_equal (s_oldest_segment (fixture), 0);
    log_fixture_reopen (fixture, &log);
    log_fixture_check_log (log, 0, 0, 0, 0);
    log_fixture_append_range (log, 690, 720, 0, 5);
    assert_int_equal (log_store_sync (log), 0);
    log_fixture_reopen (fixture, &log);
    log_fixture_check_log (log, 690, 720, 0, 0);
    log_store_destroy (&log);
}

//  A crash between two deletions of a prefix truncation leaves some of the
//  oldest segments gone and the rest whole: a shorter log, still gapless.
static void
test_truncate_prefix_interrupted (void **state)
{
    log_fixture_t *fixture = (log_fixture_t *)*state;
    fixture->segment_bytes = SMALL_SEGMENT_BYTES;
    log_store_t *log = log_fixture_open (fixture);
    log_fixture_append_range (log, 1, 200, 0, 8);
    assert_int_equal (log_store_sync (log), 0);
    log_store_destroy (&log);

    struct dirent **names;
    int count = log_fixture_list_segments (fixture, &names);
    assert_true (count > 3);
    char path[PATH_SIZE];
    log_fixture_file_path (fixture, names[0]->d_name, path, sizeof path);
    assert_int_equal (unlink (path), 0);
    uint64_t second = strtoull (names[1]->d_name, NULL, 10);
    log_fixture_free_names (names, count);

    log = log_fixture_open (fixture);
    assert_int_equal (log_store_recovered_bytes (log), 0);
    log_fixture_check_log (log, second, 200, 0, 0);
    //  The truncation finishes on the next try
    assert_int_equal (log_store_truncate_prefix (log, 150), 0);
    assert_true (log_store_first_index (log) <= 151);
    assert_true (log_store_first_index (log) > second);
    log_fixture_reopen (fixture, &log);
    log_fixture_check_log (log, s_oldest_segment (fixture), 200, 0, 0);
    log_store_destroy (&log);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown (test_empty_directory, log_fixture_setup,
                                         log_fixture_teardown),
        cmocka_unit_test_setup_teardown (test_append_sync_reopen_replay, log_fixture_setup,
                                         log_fixture_teardown),
        cmocka_unit_test_setup_teardown (test_segments_roll_without_descriptors, log_fixture_setup,
                                         log_fixture_teardown),
        cmocka_unit_test_setup_teardown (test_many_segments, log_fixture_setup,
                                         log_fixture_teardown),
        cmocka_unit_test_setup_teardown (test_truncate_suffix, log_fixture_setup,
                                         log_fixture_teardown),
        cmocka_unit_test_setup_teardown (test_wrong_index_aborts, log_fixture_setup,
                                         log_fixture_teardown),
        cmocka_unit_test_setup_teardown (test_oversize_payload_refused, log_fixture_setup,
                                         log_fixture_teardown),
        cmocka_unit_test_setup_teardown (test_failed_append_leaves_no_trace, log_fixture_setup,
                                         log_fixture_teardown),
        cmocka_unit_test_setup_teardown (test_empty_log_starts_anywhere, log_fixture_setup,
                                         log_fixture_teardown),
        cmocka_unit_test_setup_teardown (test_replay_stops_on_visit_failure, log_fixture_setup,
                                         log_fixture_teardown),
        cmocka_unit_test_setup_teardown (test_open_errors, log_fixture_setup, log_fixture_teardown),
        cmocka_unit_test_setup_teardown (test_truncate_prefix, log_fixture_setup,
                                         log_fixture_teardown),
        cmocka_unit_test_setup_teardown (test_truncate_prefix_interrupted, log_fixture_setup,
                                         log_fixture_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
