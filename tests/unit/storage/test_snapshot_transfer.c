/*  test_snapshot_transfer — moving snapshot files between directories as
    a leader and a follower do: a file read in random chunks (some resent,
    some overlapping) and received, straight or through the writer actor,
    is byte-identical and loads; a gap, a chunk of another snapshot and a
    file damaged on the way fail and install nothing; a receiver given up
    on leaves nothing; the writer removes stray temporaries when it starts
    and is the one that prunes, after a received file and when told.
*/
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <czmq.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "storage/snapshot.h"
#include "storage/snapshot_transfer.h"
#include "snapshot_fixture.h"
#include "test_files.h"

#define PATH_SIZE  512
#define ERROR_SIZE 512
//  How long a test waits for the writer before failing
#define WRITER_DEADLINE_MS 60000

//  A fixed generator: the chunking of a run is the same every time.
static uint64_t
s_random (uint64_t *seed)
{
    *seed ^= *seed << 13;
    *seed ^= *seed >> 7;
    *seed ^= *seed << 17;
    return *seed;
}

//  Writes the snapshot of index into dir with a body of size bytes.
static void
s_write (const char *dir, uint64_t index, size_t size)
{
    uint8_t *body = malloc (size + 1);
    assert_non_null (body);
    for (size_t at = 0; at < size; at++)
        body[at] = (uint8_t)(index + at * 13);
    snapshot_header_t header = {index, index * 3 + 1, (const uint8_t *)"members", 7};
    char error[ERROR_SIZE] = "";
    if (snapshot_write_body (dir, &header, body, size, error, sizeof error))
        fail_msg ("snapshot_write_body: %s", error);
    free (body);
}

static void
s_expect_same_file (const snapshot_fixture_t *fixture, uint64_t index)
{
    char source[PATH_SIZE], copy[PATH_SIZE];
    snapshot_path (fixture->dir, index, source, sizeof source);
    snapshot_path (fixture->other, index, copy, sizeof copy);
    test_files_expect_same (source, copy);
}

//  Waits (with a deadline) for the writer's next report.
static void
s_next_report (snapshot_writer_t *writer, snapshot_report_t *report)
{
    zpoller_t *poller = zpoller_new (snapshot_writer_sock (writer), NULL);
    void *ready = zpoller_wait (poller, WRITER_DEADLINE_MS);
    zpoller_destroy (&poller);
    if (!ready)
        fail_msg ("no report from the writer within %d ms", WRITER_DEADLINE_MS);
    assert_int_equal (snapshot_writer_recv (writer, report), 0);
}

//  Streams the snapshot of index from dir in random chunks, each sent
//  once, some twice and some overlapping, through send (to a receiver or
//  the writer). Returns the file's size.
typedef int (s_send_chunk_fn) (void *target, uint64_t offset, const uint8_t *data, size_t size,
                               bool last);

static uint64_t
s_stream (const char *dir, uint64_t index, uint64_t seed, s_send_chunk_fn *send, void *target)
{
    char path[PATH_SIZE];
    snapshot_path (dir, index, path, sizeof path);
    uint64_t random = seed ? seed : 1;
    uint8_t buffer[4096];
    uint64_t offset = 0, file_size = 0;
    while (true) {
        size_t want = 1 + s_random (&random) % sizeof buffer;
        ssize_t got = snapshot_read_chunk (path, offset, buffer, want, &file_size);
        assert_true (got >= 0);
        bool last = offset + (uint64_t)got == file_size;
        assert_int_equal (send (target, offset, buffer, (size_t)got, last), 0);
        if (last)
            break;
        //  Sometimes the chunk is resent, or a little of it
        uint64_t roll = s_random (&random) % 10;
        if (roll == 0)
            assert_int_equal (send (target, offset, buffer, (size_t)got, false), 0);
        uint64_t next = offset + (uint64_t)got;
        if (roll == 1 && got > 2)
            next -= (uint64_t)got / 2;
        offset = next;
    }
    //  Past the end there is nothing
    assert_int_equal (snapshot_read_chunk (path, file_size + 5, buffer, 10, &file_size), 0);
    return file_size;
}

static int
s_send_to_receiver (void *target, uint64_t offset, const uint8_t *data, size_t size, bool last)
{
    (void)last;
    char error[ERROR_SIZE] = "";
    int rc = snapshot_receiver_append ((snapshot_receiver_t *)target, offset, data, size, error,
                                       sizeof error);
    if (rc)
        fprintf (stderr, "append: %s\n", error);
    return rc;
}

typedef struct {
    snapshot_writer_t *writer;
    uint64_t index;
    uint64_t term;
} chunk_target_t;

static int
s_send_to_writer (void *target, uint64_t offset, const uint8_t *data, size_t size, bool last)
{
    chunk_target_t *chunk_target = (chunk_target_t *)target;
    return snapshot_writer_chunk (chunk_target->writer, chunk_target->index, chunk_target->term,
                                  offset, data, size, last);
}

static void
test_receiver (void **state)
{
    snapshot_fixture_t *fixture = (snapshot_fixture_t *)*state;
    s_write (fixture->dir, 700, 50000);
    char error[ERROR_SIZE] = "";
    snapshot_receiver_t *receiver =
        snapshot_receiver_new (fixture->other, 700, error, sizeof error);
    assert_non_null (receiver);
    uint64_t size = s_stream (fixture->dir, 700, 7, s_send_to_receiver, receiver);
    assert_int_equal (snapshot_receiver_received (receiver), size);
    //  A gap is refused; the receiver keeps what it has
    uint8_t byte = 0;
    assert_int_equal (snapshot_receiver_append (receiver, size + 1, &byte, 1, error, sizeof error),
                      -1);
    assert_non_null (strstr (error, "gap"));
    assert_int_equal (snapshot_receiver_finish (receiver, error, sizeof error), 0);
    //  Finished: nothing more is taken
    assert_int_equal (snapshot_receiver_append (receiver, 0, &byte, 1, error, sizeof error), -1);
    assert_int_equal (snapshot_receiver_finish (receiver, error, sizeof error), -1);
    snapshot_receiver_destroy (&receiver);
    assert_null (receiver);
    s_expect_same_file (fixture, 700);
    char report[ERROR_SIZE];
    snapshot_t *loaded = snapshot_load (fixture->other, UINT64_MAX, report, sizeof report);
    assert_non_null (loaded);
    assert_int_equal (snapshot_index (loaded), 700);
    snapshot_destroy (&loaded);

    //  A receiver given up on leaves nothing behind
    receiver = snapshot_receiver_new (fixture->other, 900, error, sizeof error);
    assert_int_equal (snapshot_receiver_append (receiver, 0, "RAFTQ", 5, error, sizeof error), 0);
    snapshot_receiver_destroy (&receiver);
    char path[PATH_SIZE];
    snprintf (path, sizeof path, "%s/snapshot-00000000000000000900.snap.recv.tmp", fixture->other);
    assert_int_equal (access (path, F_OK), -1);
    //  Index 0 is never received
    assert_null (snapshot_receiver_new (fixture->other, 0, error, sizeof error));
    uint64_t kept[1] = {700};
    snapshot_fixture_expect_indexes (fixture->other, kept, 1);
}

static void
test_writer_receives_and_prunes (void **state)
{
    snapshot_fixture_t *fixture = (snapshot_fixture_t *)*state;
    s_write (fixture->other, 1, 10);
    s_write (fixture->other, 2, 10);
    s_write (fixture->dir, 701, 30000);
    snapshot_writer_t *writer = snapshot_writer_new (fixture->other);
    assert_non_null (writer);
    chunk_target_t target = {writer, 701, 701 * 3 + 1};
    s_stream (fixture->dir, 701, 11, s_send_to_writer, &target);
    snapshot_report_t report;
    s_next_report (writer, &report);
    assert_int_equal (report.outcome, SNAPSHOT_RECEIVED);
    assert_int_equal (report.index, 701);
    assert_int_equal (report.term, 701 * 3 + 1);
    assert_string_equal (report.reason, "");
    s_expect_same_file (fixture, 701);
    //  Installed, then pruned to the newest two
    uint64_t kept[2] = {701, 2};
    snapshot_fixture_expect_indexes (fixture->other, kept, 2);

    //  A chunk out of sequence fails the receiving, which then starts over
    uint8_t bytes[8] = {0};
    assert_int_equal (snapshot_writer_chunk (writer, 800, 5, 100, bytes, 8, false), 0);
    s_next_report (writer, &report);
    assert_int_equal (report.outcome, SNAPSHOT_FAILED);
    assert_int_equal (report.index, 800);
    assert_non_null (strstr (report.reason, "gap"));

    //  A file damaged on the way is refused at the end and not installed
    char path[PATH_SIZE];
    snapshot_path (fixture->dir, 701, path, sizeof path);
    size_t file_size;
    uint8_t *file = test_files_read (path, &file_size);
    file[file_size / 2] ^= 1;
    assert_int_equal (snapshot_writer_chunk (writer, 702, 5, 0, file, file_size, true), 0);
    s_next_report (writer, &report);
    assert_int_equal (report.outcome, SNAPSHOT_FAILED);
    assert_int_equal (report.index, 702);
    assert_non_null (strstr (report.reason, "checksum"));
    free (file);
    snapshot_fixture_expect_indexes (fixture->other, kept, 2);

    //  A snapshot of the node's own in place: the writer prunes when told
    s_write (fixture->other, 710, 10);
    s_write (fixture->other, 720, 10);
    assert_int_equal (snapshot_writer_prune (writer), 0);
    //  Destroying waits for what is queued
    snapshot_writer_destroy (&writer);
    assert_null (writer);
    uint64_t newest[2] = {720, 710};
    snapshot_fixture_expect_indexes (fixture->other, newest, 2);
}

//  A crash while writing leaves a temporary: load never reads it, the
//  writer removes it when it starts, other files stay.
static void
test_writer_removes_temporaries (void **state)
{
    snapshot_fixture_t *fixture = (snapshot_fixture_t *)*state;
    s_write (fixture->dir, 50, 100);
    char path[PATH_SIZE];
    const char *leftovers[] = {"snapshot-00000000000000000090.snap.tmp",
                               "snapshot-00000000000000000091.snap.recv.tmp"};
    for (int which = 0; which < 2; which++) {
        snprintf (path, sizeof path, "%s/%s", fixture->dir, leftovers[which]);
        test_files_write (path, "RAFTQSN2 torn", 13);
    }
    snprintf (path, sizeof path, "%s/notes.txt", fixture->dir);
    test_files_write (path, "keep", 4);
    char report[ERROR_SIZE];
    snapshot_t *loaded = snapshot_load (fixture->dir, UINT64_MAX, report, sizeof report);
    assert_non_null (loaded);
    assert_int_equal (snapshot_index (loaded), 50);
    assert_string_equal (report, "");
    snapshot_destroy (&loaded);

    snapshot_writer_t *writer = snapshot_writer_new (fixture->dir);
    assert_non_null (writer);
    snapshot_writer_destroy (&writer);
    for (int which = 0; which < 2; which++) {
        snprintf (path, sizeof path, "%s/%s", fixture->dir, leftovers[which]);
        assert_int_equal (access (path, F_OK), -1);
    }
    snprintf (path, sizeof path, "%s/notes.txt", fixture->dir);
    assert_int_equal (access (path, F_OK), 0);
    uint64_t kept[1] = {50};
    snapshot_fixture_expect_indexes (fixture->dir, kept, 1);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown (test_receiver, snapshot_fixture_setup,
                                         snapshot_fixture_teardown),
        cmocka_unit_test_setup_teardown (test_writer_receives_and_prunes, snapshot_fixture_setup,
                                         snapshot_fixture_teardown),
        cmocka_unit_test_setup_teardown (test_writer_removes_temporaries, snapshot_fixture_setup,
                                         snapshot_fixture_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
