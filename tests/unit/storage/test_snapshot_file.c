/*  test_snapshot_file — the snapshot file format on a real directory, with
    opaque bodies: header and body round trip (from memory and streamed
    through the output past its buffer), the header read without the body,
    one flipped byte anywhere caught (and the older file used), torn,
    misnamed and short files, no valid file at all, pruning to the newest
    two, and files of the previous format ("RAFTQSN1", a packed
    raftq.state.Snapshot) read as header + the bytes of their state field.
*/
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "state.pb-c.h"
#include "storage/snapshot.h"
#include "storage/snapshot_legacy.h"
#include "snapshot_fixture.h"
#include "test_files.h"
#include "util/crc32c.h"
#include "util/little_endian.h"

#define PATH_SIZE  512
#define ERROR_SIZE 512
//  Membership bytes as the Raft layer might encode them: opaque here
#define MEMBERSHIP "voters:1,2,3"

//  The body of the snapshot of index: size bytes that depend on index.
static uint8_t *
s_body (uint64_t index, size_t size)
{
    uint8_t *body = malloc (size + 1);
    assert_non_null (body);
    for (size_t at = 0; at < size; at++)
        body[at] = (uint8_t)(index * 31 + at * 7 + at / 251);
    return body;
}

//  Writes the snapshot of index (term index * 3 + 1, MEMBERSHIP) with a
//  body of size bytes.
static void
s_write (const char *dir, uint64_t index, size_t size)
{
    uint8_t *body = s_body (index, size);
    snapshot_header_t header = {index, index * 3 + 1, (const uint8_t *)MEMBERSHIP,
                                strlen (MEMBERSHIP)};
    char error[ERROR_SIZE] = "";
    if (snapshot_write_body (dir, &header, body, size, error, sizeof error))
        fail_msg ("snapshot_write_body: %s", error);
    free (body);
}

//  Checks the header of a loaded snapshot of index.
static void
s_expect_header (snapshot_t *snapshot, uint64_t index)
{
    assert_non_null (snapshot);
    assert_int_equal (snapshot_index (snapshot), index);
    assert_int_equal (snapshot_term (snapshot), index * 3 + 1);
    size_t membership_size;
    const uint8_t *membership = snapshot_membership (snapshot, &membership_size);
    assert_int_equal (membership_size, strlen (MEMBERSHIP));
    assert_memory_equal (membership, MEMBERSHIP, membership_size);
    assert_int_equal (snapshot_header (snapshot)->index, index);
}

//  Checks a loaded snapshot of index with a body of size, or (with_body
//  false) its header alone.
static void
s_expect_snapshot (snapshot_t *snapshot, uint64_t index, size_t size, bool with_body)
{
    s_expect_header (snapshot, index);
    size_t body_size;
    const uint8_t *body = snapshot_body (snapshot, &body_size);
    if (!with_body) {
        assert_null (body);
        assert_int_equal (body_size, 0);
        return;
    }
    assert_int_equal (body_size, size);
    assert_int_equal (snapshot_file_size (snapshot),
                      SNAPSHOT_HEADER_BYTES + strlen (MEMBERSHIP) + size);
    uint8_t *expected = s_body (index, size);
    if (size)
        assert_memory_equal (body, expected, size);
    free (expected);
}

//  Loads the newest snapshot of dir up to max_index, expecting index.
static void
s_expect_newest (const char *dir, uint64_t max_index, uint64_t index, size_t size, char *report)
{
    snapshot_t *snapshot = snapshot_load (dir, max_index, report, ERROR_SIZE);
    s_expect_snapshot (snapshot, index, size, true);
    snapshot_destroy (&snapshot);
    assert_null (snapshot);
}

//  --------------------------------------------------------------------------

static void
test_round_trip (void **state)
{
    snapshot_fixture_t *fixture = (snapshot_fixture_t *)*state;
    char report[ERROR_SIZE], error[ERROR_SIZE] = "";
    s_write (fixture->dir, 5, 0);
    s_expect_newest (fixture->dir, UINT64_MAX, 5, 0, report);
    assert_string_equal (report, "");
    s_write (fixture->dir, 9, 100000);
    s_expect_newest (fixture->dir, UINT64_MAX, 9, 100000, report);
    s_expect_newest (fixture->dir, 8, 5, 0, report);

    //  The header alone
    snapshot_t *header = snapshot_load_header (fixture->dir, 9, error, sizeof error);
    s_expect_snapshot (header, 9, 0, false);
    snapshot_destroy (&header);
    assert_null (snapshot_load_header (fixture->dir, 7, error, sizeof error));
    assert_non_null (strstr (error, "snapshot-00000000000000000007.snap"));

    //  Index 0 names no snapshot; a membership past the limit is refused
    snapshot_header_t invalid = {0, 1, NULL, 0};
    assert_int_equal (snapshot_write_body (fixture->dir, &invalid, NULL, 0, error, sizeof error),
                      -1);
    invalid = (snapshot_header_t){3, 1, (const uint8_t *)"", SNAPSHOT_MAX_MEMBERSHIP_BYTES + 1};
    assert_int_equal (snapshot_write_body (fixture->dir, &invalid, NULL, 0, error, sizeof error),
                      -1);
    assert_non_null (strstr (error, "invalid header"));
    uint64_t kept[2] = {9, 5};
    snapshot_fixture_expect_indexes (fixture->dir, kept, 2);
}

//  A source that writes its body in pieces of every size, the largest past
//  the output's buffer; or fails when asked to.
typedef struct {
    const uint8_t *body; //  what to write
    size_t size;         //  its size
    bool fail;           //  fail half way instead
} source_t;

static int
s_source (void *argument, snapshot_output_t *output, char *error, size_t error_size)
{
    source_t *source = (source_t *)argument;
    size_t at = 0, piece = 1;
    while (at < source->size) {
        size_t part = source->size - at < piece ? source->size - at : piece;
        snapshot_output_write (output, source->body + at, part);
        at += part;
        piece = piece * 3 + 1;
        if (source->fail && at > source->size / 2) {
            snprintf (error, error_size, "the source gave up");
            return -1;
        }
    }
    assert_int_equal (snapshot_output_size (output), source->size);
    return 0;
}

static void
test_streamed_body (void **state)
{
    snapshot_fixture_t *fixture = (snapshot_fixture_t *)*state;
    const size_t size = 3 * 1024 * 1024 + 17;
    uint8_t *body = s_body (40, size);
    source_t source = {body, size, false};
    snapshot_header_t header = {40, 121, (const uint8_t *)MEMBERSHIP, strlen (MEMBERSHIP)};
    char error[ERROR_SIZE] = "", report[ERROR_SIZE];
    assert_int_equal (
        snapshot_write (fixture->dir, &header, s_source, &source, error, sizeof error), 0);
    s_expect_newest (fixture->dir, UINT64_MAX, 40, size, report);

    //  A failing source: its reason, and neither a file nor a temporary
    source.fail = true;
    header.index = 41;
    assert_int_equal (
        snapshot_write (fixture->dir, &header, s_source, &source, error, sizeof error), -1);
    assert_non_null (strstr (error, "the source gave up"));
    char path[PATH_SIZE];
    snprintf (path, sizeof path, "%s/snapshot-00000000000000000041.snap.tmp", fixture->dir);
    assert_int_equal (access (path, F_OK), -1);
    uint64_t kept[1] = {40};
    snapshot_fixture_expect_indexes (fixture->dir, kept, 1);
    free (body);
}

static void
test_corrupt_newest_falls_back (void **state)
{
    snapshot_fixture_t *fixture = (snapshot_fixture_t *)*state;
    s_write (fixture->dir, 300, 3000);
    s_write (fixture->dir, 600, 6000);
    char path[PATH_SIZE], report[ERROR_SIZE], error[ERROR_SIZE];
    snapshot_path (fixture->dir, 600, path, sizeof path);
    uint64_t size = test_files_size (path);

    //  One flipped byte anywhere (magic, index, sizes, checksums,
    //  membership, body) is caught, and the older snapshot is used
    uint64_t offsets[] = {0,        9,       17, 25, 33, 37, 41, 44, SNAPSHOT_HEADER_BYTES + 20,
                          size / 2, size - 1};
    const char *reasons[] = {
        "magic",       "header checksum", "header checksum", "torn",         "header checksum",
        "torn",        "header checksum", "header checksum", "bad checksum", "bad checksum",
        "bad checksum"};
    for (size_t which = 0; which < sizeof offsets / sizeof offsets[0]; which++) {
        test_files_flip_byte (path, offsets[which]);
        s_expect_newest (fixture->dir, UINT64_MAX, 300, 3000, report);
        assert_non_null (strstr (report, "snapshot-00000000000000000600.snap"));
        if (!strstr (report, reasons[which]))
            fail_msg ("offset %" PRIu64 ": report '%s' lacks '%s'", offsets[which], report,
                      reasons[which]);
        //  The header alone does not read the body
        snapshot_t *header = snapshot_load_header (fixture->dir, 600, error, sizeof error);
        assert_true ((header != NULL) == (offsets[which] >= SNAPSHOT_HEADER_BYTES + 20));
        snapshot_destroy (&header);
        test_files_flip_byte (path, offsets[which]);
    }
    s_expect_newest (fixture->dir, UINT64_MAX, 600, 6000, report);

    //  Torn: the end of the file is missing
    assert_int_equal (truncate (path, (off_t)(size - 10)), 0);
    s_expect_newest (fixture->dir, UINT64_MAX, 300, 3000, report);
    assert_non_null (strstr (report, "torn"));

    //  A valid file under another index's name is not that snapshot
    char older_path[PATH_SIZE];
    snapshot_path (fixture->dir, 300, older_path, sizeof older_path);
    size_t older_size;
    uint8_t *older_bytes = test_files_read (older_path, &older_size);
    test_files_write (path, older_bytes, older_size);
    free (older_bytes);
    s_expect_newest (fixture->dir, UINT64_MAX, 300, 3000, report);
    assert_non_null (strstr (report, "holds index 300, not 600"));
    assert_null (snapshot_load_header (fixture->dir, 600, error, sizeof error));
    assert_non_null (strstr (error, "holds index 300, not 600"));

    //  A file too short for a header
    test_files_write (path, "RAFTQ", 5);
    s_expect_newest (fixture->dir, UINT64_MAX, 300, 3000, report);
    assert_non_null (strstr (report, "shorter than a header"));
    assert_null (snapshot_load_header (fixture->dir, 600, error, sizeof error));
    assert_non_null (strstr (error, "shorter than a header"));
}

static void
test_none_valid (void **state)
{
    snapshot_fixture_t *fixture = (snapshot_fixture_t *)*state;
    char report[ERROR_SIZE];
    //  No directory, then an empty one: no snapshot, nothing to report
    assert_null (snapshot_load (fixture->dir, UINT64_MAX, report, sizeof report));
    assert_string_equal (report, "");
    snapshot_fixture_expect_indexes (fixture->dir, NULL, 0);
    assert_int_equal (mkdir (fixture->dir, 0755), 0);
    assert_null (snapshot_load (fixture->dir, UINT64_MAX, report, sizeof report));
    assert_string_equal (report, "");

    //  Every file corrupt: none, and the report names each
    s_write (fixture->dir, 100, 500);
    s_write (fixture->dir, 101, 500);
    char path[PATH_SIZE];
    snapshot_path (fixture->dir, 100, path, sizeof path);
    test_files_flip_byte (path, test_files_size (path) - 3);
    snapshot_path (fixture->dir, 101, path, sizeof path);
    test_files_flip_byte (path, 2);
    assert_null (snapshot_load (fixture->dir, UINT64_MAX, report, sizeof report));
    assert_non_null (strstr (report, "snapshot-00000000000000000100.snap: bad checksum"));
    assert_non_null (strstr (report, "snapshot-00000000000000000101.snap: not a snapshot"));

    //  max_index below every snapshot: none, and nothing was tried
    test_files_flip_byte (path, 2);
    assert_null (snapshot_load (fixture->dir, 99, report, sizeof report));
    assert_string_equal (report, "");
    assert_null (snapshot_load (fixture->dir, 100, report, sizeof report));
    s_expect_newest (fixture->dir, 101, 101, 500, report);
}

static void
test_prune_keeps_newest_two (void **state)
{
    snapshot_fixture_t *fixture = (snapshot_fixture_t *)*state;
    uint64_t written[] = {7, 3, 12, 20, 15};
    //  Written out of order on purpose: pruning goes by index; writing
    //  alone prunes nothing (the snapshot writer owns that)
    for (size_t which = 0; which < 5; which++)
        s_write (fixture->dir, written[which], 10);
    uint64_t all[5] = {20, 15, 12, 7, 3};
    snapshot_fixture_expect_indexes (fixture->dir, all, 5);
    snapshot_prune (fixture->dir);
    uint64_t kept[2] = {20, 15};
    snapshot_fixture_expect_indexes (fixture->dir, kept, 2);
    //  A missing directory is nothing to prune
    snapshot_prune (fixture->root);
    char missing[PATH_SIZE];
    snprintf (missing, sizeof missing, "%s/missing", fixture->root);
    snapshot_prune (missing);
}

//  --------------------------------------------------------------------------
//  The previous format

//  Writes a "RAFTQSN1" file of index in dir around packed message bytes.
static void
s_write_legacy_bytes (const char *dir, uint64_t index, const uint8_t *packed, size_t size)
{
    size_t file_size = SNAPSHOT_LEGACY_HEADER_BYTES + size;
    uint8_t *file = malloc (file_size);
    assert_non_null (file);
    memcpy (file, SNAPSHOT_LEGACY_MAGIC, 8);
    little_endian_put_u64 (file + 8, size);
    little_endian_put_u32 (file + 16, crc32c_extend (0, packed, size));
    memcpy (file + SNAPSHOT_LEGACY_HEADER_BYTES, packed, size);
    mkdir (dir, 0755);
    char path[PATH_SIZE];
    snapshot_path (dir, index, path, sizeof path);
    test_files_write (path, file, file_size);
    free (file);
}

//  Writes the legacy snapshot of index (term index * 3 + 1, MEMBERSHIP),
//  its state holding one topic; returns the packed state (caller frees).
static uint8_t *
s_write_legacy (const char *dir, uint64_t index, bool with_state, size_t *state_size)
{
    Raftq__State__TopicState topic = RAFTQ__STATE__TOPIC_STATE__INIT;
    Raftq__State__TopicState *topics[1] = {&topic};
    topic.name = "legacy";
    Raftq__State__FsmState fsm_state = RAFTQ__STATE__FSM_STATE__INIT;
    fsm_state.applied_index = index;
    fsm_state.topics = topics;
    fsm_state.n_topics = 1;
    Raftq__State__Snapshot snapshot = RAFTQ__STATE__SNAPSHOT__INIT;
    snapshot.index = index;
    snapshot.term = index * 3 + 1;
    snapshot.membership.data = (uint8_t *)MEMBERSHIP;
    snapshot.membership.len = strlen (MEMBERSHIP);
    snapshot.state = with_state ? &fsm_state : NULL;
    size_t size = raftq__state__snapshot__get_packed_size (&snapshot);
    uint8_t *packed = malloc (size + 1);
    assert_non_null (packed);
    raftq__state__snapshot__pack (&snapshot, packed);
    s_write_legacy_bytes (dir, index, packed, size);
    free (packed);
    *state_size = raftq__state__fsm_state__get_packed_size (&fsm_state);
    uint8_t *state_bytes = malloc (*state_size + 1);
    assert_non_null (state_bytes);
    raftq__state__fsm_state__pack (&fsm_state, state_bytes);
    return state_bytes;
}

static void
test_legacy_files_load (void **state)
{
    snapshot_fixture_t *fixture = (snapshot_fixture_t *)*state;
    size_t state_size;
    uint8_t *state_bytes = s_write_legacy (fixture->dir, 50, true, &state_size);
    char report[ERROR_SIZE], error[ERROR_SIZE];
    snapshot_t *snapshot = snapshot_load (fixture->dir, UINT64_MAX, report, sizeof report);
    assert_string_equal (report, "");
    s_expect_header (snapshot, 50);
    //  The body is the state field's bytes, as the new format stores them
    size_t body_size;
    const uint8_t *body = snapshot_body (snapshot, &body_size);
    assert_int_equal (body_size, state_size);
    assert_memory_equal (body, state_bytes, state_size);
    snapshot_destroy (&snapshot);
    snapshot = snapshot_load_header (fixture->dir, 50, error, sizeof error);
    s_expect_snapshot (snapshot, 50, 0, false);
    snapshot_destroy (&snapshot);
    free (state_bytes);

    //  A new file next to it: the newest wins, whatever its format
    s_write (fixture->dir, 60, 100);
    s_expect_newest (fixture->dir, UINT64_MAX, 60, 100, report);
}

static void
test_legacy_files_damaged (void **state)
{
    snapshot_fixture_t *fixture = (snapshot_fixture_t *)*state;
    size_t state_size;
    char report[ERROR_SIZE], path[PATH_SIZE];
    free (s_write_legacy (fixture->dir, 50, true, &state_size));
    free (s_write_legacy (fixture->dir, 51, false, &state_size));
    //  A valid checksum over bytes that are no message
    uint8_t garbage[16];
    memset (garbage, 0xff, sizeof garbage);
    s_write_legacy_bytes (fixture->dir, 52, garbage, sizeof garbage);
    free (s_write_legacy (fixture->dir, 53, true, &state_size));
    snapshot_path (fixture->dir, 53, path, sizeof path);
    test_files_flip_byte (path, test_files_size (path) - 2);
    free (s_write_legacy (fixture->dir, 54, true, &state_size));
    snapshot_path (fixture->dir, 54, path, sizeof path);
    assert_int_equal (truncate (path, (off_t)(test_files_size (path) - 1)), 0);
    free (s_write_legacy (fixture->dir, 55, true, &state_size));
    char other[PATH_SIZE];
    snapshot_path (fixture->dir, 56, other, sizeof other);
    snapshot_path (fixture->dir, 55, path, sizeof path);
    assert_int_equal (rename (path, other), 0);

    snapshot_t *snapshot = snapshot_load (fixture->dir, UINT64_MAX, report, sizeof report);
    assert_non_null (snapshot);
    assert_int_equal (snapshot_index (snapshot), 50);
    snapshot_destroy (&snapshot);
    const char *expected[] = {"00056.snap: holds index 55, not 56", "00054.snap: torn",
                              "00053.snap: bad checksum", "00052.snap: the body does not decode",
                              "00051.snap: holds no state"};
    for (size_t which = 0; which < 5; which++)
        if (!strstr (report, expected[which]))
            fail_msg ("report '%s' lacks '%s'", report, expected[which]);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown (test_round_trip, snapshot_fixture_setup,
                                         snapshot_fixture_teardown),
        cmocka_unit_test_setup_teardown (test_streamed_body, snapshot_fixture_setup,
                                         snapshot_fixture_teardown),
        cmocka_unit_test_setup_teardown (test_corrupt_newest_falls_back, snapshot_fixture_setup,
                                         snapshot_fixture_teardown),
        cmocka_unit_test_setup_teardown (test_none_valid, snapshot_fixture_setup,
                                         snapshot_fixture_teardown),
        cmocka_unit_test_setup_teardown (test_prune_keeps_newest_two, snapshot_fixture_setup,
                                         snapshot_fixture_teardown),
        cmocka_unit_test_setup_teardown (test_legacy_files_load, snapshot_fixture_setup,
                                         snapshot_fixture_teardown),
        cmocka_unit_test_setup_teardown (test_legacy_files_damaged, snapshot_fixture_setup,
                                         snapshot_fixture_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
