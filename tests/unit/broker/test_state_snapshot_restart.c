/*  test_state_snapshot_restart — what a node does with snapshots over its
    life, with a real state machine and log: a restart from a snapshot and
    a compacted log rebuilds the same state, and with no valid snapshot for
    a compacted log it is refused; and the time to pack, write, load and
    restore 1M queued 256-byte messages is printed (and how long starting
    a job holds the caller). Random runs print their seed (RAFTQ_TEST_SEED
    replays one).
*/
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "broker/state_snapshot.h"
#include "fsm_history.h"
#include "state/fsm_snapshot.h"
#include "storage/log_store.h"
#include "snapshot_fixture.h"
#include "test_files.h"

#define PATH_SIZE  512
#define ERROR_SIZE 512

//  Writes fsm's state (term = index * 3 + 1) as its snapshot in dir.
static void
s_save (fsm_t *fsm, const char *dir)
{
    char error[ERROR_SIZE] = "";
    uint64_t index = fsm_applied_index (fsm);
    if (state_snapshot_write (dir, fsm, index * 3 + 1, NULL, 0, error, sizeof error))
        fail_msg ("state_snapshot_write: %s", error);
}

//  --------------------------------------------------------------------------
//  Restart: snapshot, compaction, reopen, load and replay

typedef struct {
    fsm_t *fsm;     //  the state machine being rebuilt
    uint64_t after; //  entries up to this index are in the snapshot: skipped
} replay_t;

static int
s_replay_entry (const raft_entry_t *entry, void *argument)
{
    replay_t *replay = (replay_t *)argument;
    if (entry->index <= replay->after)
        return 0;
    fsm_output_t output;
    int rc = entry->type == RAFT_ENTRY_COMMAND
                 ? fsm_apply (replay->fsm, entry->index, entry->data, entry->size, &output)
                 : fsm_skip (replay->fsm, entry->index);
    if (entry->type == RAFT_ENTRY_COMMAND)
        fsm_output_clear (&output);
    return rc;
}

//  What a node does at start: the newest valid snapshot, then the log
//  after it. Returns the rebuilt fsm, or NULL with error when the log
//  starts after what any valid snapshot covers (the state in between is
//  gone: refusing beats serving a wrong state).
static fsm_t *
s_restart (const char *snapshot_dir, log_store_t *log, char *error, size_t error_size)
{
    char report[ERROR_SIZE];
    snapshot_t *snapshot = snapshot_load (snapshot_dir, UINT64_MAX, report, sizeof report);
    uint64_t covered = snapshot ? snapshot_index (snapshot) : 0;
    uint64_t first = log_store_first_index (log);
    if (first > covered + 1) {
        //  One line: the start of the report is enough to tell why
        int length = snprintf (error, error_size,
                               "log starts at %" PRIu64 ", snapshots cover up to %" PRIu64 ": ",
                               first, covered);
        if (length > 0 && (size_t)length < error_size)
            snprintf (error + length, error_size - (size_t)length, "%.200s", report);
        snapshot_destroy (&snapshot);
        return NULL;
    }
    fsm_t *fsm = fsm_new (&fsm_history_small_options);
    if (snapshot && state_snapshot_restore (snapshot, fsm, error, error_size))
        fsm_destroy (&fsm);
    snapshot_destroy (&snapshot);
    replay_t replay = {fsm, covered};
    if (fsm && log_store_replay (log, s_replay_entry, &replay)) {
        snprintf (error, error_size, "replay failed");
        fsm_destroy (&fsm);
    }
    return fsm;
}

static void
test_restart_from_snapshot_and_log (void **state)
{
    snapshot_fixture_t *fixture = (snapshot_fixture_t *)*state;
    const size_t count = RUNNING_ON_VALGRIND ? 600 : 1500;
    const uint64_t snapshot_at = count / 2, trailing_window = 100;
    fsm_fixture_entry_t *history = fsm_history_new (fixture->seed, count);
    char log_dir[PATH_SIZE], error[ERROR_SIZE] = "";
    snprintf (log_dir, sizeof log_dir, "%s/log", fixture->root);
    //  Small segments, so that compaction has whole segments to drop
    log_store_t *log = log_store_open (log_dir, 4096, error, sizeof error);
    assert_non_null (log);
    fsm_t *live = fsm_new (&fsm_history_small_options);
    for (size_t position = 0; position < count; position++) {
        uint64_t index = position + 1;
        raft_entry_t entry = {1 + index / 100, index,
                              history[position].data ? RAFT_ENTRY_COMMAND : RAFT_ENTRY_NOOP,
                              history[position].data, history[position].size};
        assert_int_equal (log_store_append (log, &entry, 1), 0);
        if (index % 10 == 0)
            assert_int_equal (log_store_sync (log), 0);
        fsm_output_t output;
        fsm_history_apply (live, &history[position], &output);
        fsm_output_clear (&output);
        if (index == snapshot_at) {
            s_save (live, fixture->dir);
            assert_int_equal (log_store_truncate_prefix (log, snapshot_at - trailing_window), 0);
            assert_true (log_store_first_index (log) > 1);
            assert_true (log_store_first_index (log) <= snapshot_at - trailing_window + 1);
        }
    }
    assert_int_equal (log_store_sync (log), 0);
    log_store_destroy (&log);

    //  Restart: snapshot plus the log after it give the same state
    log = log_store_open (log_dir, 4096, error, sizeof error);
    assert_non_null (log);
    fsm_t *rebuilt = s_restart (fixture->dir, log, error, sizeof error);
    if (!rebuilt)
        fail_msg ("seed %" PRIu64 ": restart failed: %s", fixture->seed, error);
    assert_int_equal (fsm_applied_index (rebuilt), count);
    if (fsm_state_hash (rebuilt) != fsm_state_hash (live))
        fail_msg ("seed %" PRIu64 " (RAFTQ_TEST_SEED): the rebuilt state differs", fixture->seed);
    fsm_destroy (&rebuilt);

    //  The only snapshot corrupt, the log compacted: refused, not guessed
    char path[PATH_SIZE];
    snapshot_path (fixture->dir, snapshot_at, path, sizeof path);
    test_files_flip_byte (path, test_files_size (path) / 2);
    assert_null (s_restart (fixture->dir, log, error, sizeof error));
    assert_non_null (strstr (error, "bad checksum"));
    log_store_destroy (&log);
    fsm_destroy (&live);
    fsm_fixture_history_destroy (&history, count);
}

//  --------------------------------------------------------------------------
//  Cost of a big state

static double
s_milliseconds_since (const struct timespec *start)
{
    struct timespec now;
    clock_gettime (CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - start->tv_sec) * 1e3 +
           (double)(now.tv_nsec - start->tv_nsec) / 1e6;
}

//  1M queued 256-byte messages (fewer under valgrind): prints the time of
//  each step; only the outcome is asserted.
static void
test_million_messages_cost (void **state)
{
    snapshot_fixture_t *fixture = (snapshot_fixture_t *)*state;
    const uint64_t count = RUNNING_ON_VALGRIND ? 20000 : 1000000;
    fsm_t *fsm = fsm_new (NULL);
    Raftq__State__Command command = RAFTQ__STATE__COMMAND__INIT;
    Raftq__CreateTopic create = RAFTQ__CREATE_TOPIC__INIT;
    Raftq__Publish publish = RAFTQ__PUBLISH__INIT;
    create.name = publish.topic = "bulk";
    command.op_case = RAFTQ__STATE__COMMAND__OP_CREATE_TOPIC;
    command.create_topic = &create;
    uint8_t packed[512];
    fsm_output_t output;
    size_t size = raftq__state__command__pack (&command, packed);
    assert_int_equal (fsm_apply (fsm, 1, packed, size, &output), 0);
    fsm_output_clear (&output);
    uint8_t payload[256];
    memset (payload, 0x5a, sizeof payload);
    command.op_case = RAFTQ__STATE__COMMAND__OP_PUBLISH;
    command.publish = &publish;
    publish.payload.data = payload;
    publish.payload.len = sizeof payload;
    for (uint64_t sequence = 1; sequence <= count; sequence++) {
        memcpy (payload, &sequence, sizeof sequence);
        size = raftq__state__command__pack (&command, packed);
        assert_int_equal (fsm_apply (fsm, sequence + 1, packed, size, &output), 0);
        fsm_output_clear (&output);
    }

    struct timespec start;
    clock_gettime (CLOCK_MONOTONIC, &start);
    char error[ERROR_SIZE] = "";
    uint8_t *body = fsm_snapshot_pack (fsm, &size, error, sizeof error);
    assert_non_null (body);
    double pack_ms = s_milliseconds_since (&start);
    free (body);
    //  Written as a node writes it: packed straight into the file
    clock_gettime (CLOCK_MONOTONIC, &start);
    uint64_t index = fsm_applied_index (fsm);
    assert_int_equal (state_snapshot_write (fixture->dir, fsm, 7, NULL, 0, error, sizeof error), 0);
    double write_ms = s_milliseconds_since (&start);

    clock_gettime (CLOCK_MONOTONIC, &start);
    char report[ERROR_SIZE];
    snapshot_t *snapshot = snapshot_load (fixture->dir, UINT64_MAX, report, sizeof report);
    assert_non_null (snapshot);
    double load_ms = s_milliseconds_since (&start);
    clock_gettime (CLOCK_MONOTONIC, &start);
    fsm_t *restored = fsm_new (NULL);
    assert_int_equal (state_snapshot_restore (snapshot, restored, error, sizeof error), 0);
    double restore_ms = s_milliseconds_since (&start);
    snapshot_destroy (&snapshot);
    assert_int_equal (fsm_state_hash (restored), fsm_state_hash (fsm));
    fsm_destroy (&restored);

    //  The same state by a job: the caller is held only for the fork
    clock_gettime (CLOCK_MONOTONIC, &start);
    assert_int_equal (fsm_skip (fsm, index + 1), 0);
    snapshot_job_t *job =
        state_snapshot_job_start (fixture->dir, fsm, 7, NULL, 0, error, sizeof error);
    assert_non_null (job);
    double fork_ms = s_milliseconds_since (&start);
    assert_int_equal (snapshot_job_wait (job), 0);
    assert_true (snapshot_job_written (job));
    double job_ms = s_milliseconds_since (&start);
    snapshot_job_destroy (&job);
    printf ("snapshot of %" PRIu64 " queued 256-byte messages, %.1f MB: pack %.0f ms, "
            "pack+write+fsync %.0f ms, load+verify %.0f ms, restore %.0f ms; as a job: the caller "
            "waits %.1f ms (fork), the child %.0f ms\n",
            count, (double)size / 1e6, pack_ms, write_ms, load_ms, restore_ms, fork_ms, job_ms);
    fsm_destroy (&fsm);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown (test_restart_from_snapshot_and_log, snapshot_fixture_setup,
                                         snapshot_fixture_teardown),
        cmocka_unit_test_setup_teardown (test_million_messages_cost, snapshot_fixture_setup,
                                         snapshot_fixture_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
