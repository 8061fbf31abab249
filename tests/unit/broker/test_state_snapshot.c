/*  test_state_snapshot — the broker's snapshot bridge with a real state
    machine: a rich random state (queues, chat, retained events, the
    exactly-once table) streamed into a snapshot file, loaded and restored
    hashes the same and then gives the same replies, events and Replays as
    the original for the same random entries; plain states too; a job of
    the fsm writes exactly what the synchronous write does; a body that does
    not decode or that no fsm could have saved is refused at restore; and a
    file of the previous format restores the same state. Random runs print
    their seed (RAFTQ_TEST_SEED replays one).
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
#include <sys/stat.h>
#include <unistd.h>

#include "broker/state_snapshot.h"
#include "fsm_history.h"
#include "state/fsm_snapshot.h"
#include "snapshot_fixture.h"
#include "test_files.h"
#include "util/crc32c.h"
#include "util/little_endian.h"

#define PATH_SIZE  512
#define ERROR_SIZE 512
//  Membership bytes as the Raft layer might encode them: opaque here
#define MEMBERSHIP "voters:1,2,3"

//  Writes fsm's state (term = index * 3 + 1) as its snapshot in dir.
static void
s_save (fsm_t *fsm, const char *dir)
{
    char error[ERROR_SIZE] = "";
    uint64_t index = fsm_applied_index (fsm);
    if (state_snapshot_write (dir, fsm, index * 3 + 1, (const uint8_t *)MEMBERSHIP,
                              strlen (MEMBERSHIP), error, sizeof error))
        fail_msg ("state_snapshot_write: %s", error);
}

//  Loads the newest snapshot of dir up to max_index into a new fsm and
//  checks what it says about itself. Returns the fsm; report as load left it.
static fsm_t *
s_restore (const char *dir, uint64_t max_index, const fsm_options_t *options, char *report,
           size_t report_size)
{
    snapshot_t *snapshot = snapshot_load (dir, max_index, report, report_size);
    if (!snapshot)
        return NULL;
    size_t membership_size;
    const uint8_t *membership = snapshot_membership (snapshot, &membership_size);
    assert_int_equal (membership_size, strlen (MEMBERSHIP));
    assert_memory_equal (membership, MEMBERSHIP, membership_size);
    assert_int_equal (snapshot_term (snapshot), snapshot_index (snapshot) * 3 + 1);
    fsm_t *fsm = fsm_new (options);
    char error[ERROR_SIZE] = "";
    if (state_snapshot_restore (snapshot, fsm, error, sizeof error))
        fail_msg ("state_snapshot_restore: %s", error);
    //  The mapped body is left as it was: a second restore gives the same
    fsm_t *again = fsm_new (options);
    assert_int_equal (state_snapshot_restore (snapshot, again, error, sizeof error), 0);
    assert_int_equal (fsm_state_hash (again), fsm_state_hash (fsm));
    fsm_destroy (&again);
    assert_int_equal (fsm_applied_index (fsm), snapshot_index (snapshot));
    snapshot_destroy (&snapshot);
    return fsm;
}

//  --------------------------------------------------------------------------
//  Round trips

static void
test_round_trip_then_same_future (void **state)
{
    snapshot_fixture_t *fixture = (snapshot_fixture_t *)*state;
    const size_t count = RUNNING_ON_VALGRIND ? 1500 : 4000;
    uint64_t seed = fixture->seed;
    fsm_fixture_entry_t *history = fsm_history_new (seed, count);
    fsm_t *original = fsm_new (&fsm_history_small_options);
    //  Snapshots taken at three points; each restored copy must then follow
    //  the original entry by entry
    size_t cuts[3] = {count / 5, count / 2, count - count / 5};
    fsm_t *restored[3] = {NULL, NULL, NULL};
    size_t successes = 0, events = 0;
    for (size_t position = 0; position < count; position++) {
        for (int cut = 0; cut < 3; cut++)
            if (position == cuts[cut]) {
                s_save (original, fixture->dir);
                char report[ERROR_SIZE];
                restored[cut] = s_restore (fixture->dir, UINT64_MAX, &fsm_history_small_options,
                                           report, sizeof report);
                assert_non_null (restored[cut]);
                assert_string_equal (report, "");
                if (fsm_state_hash (restored[cut]) != fsm_state_hash (original))
                    fail_msg ("seed %" PRIu64
                              " (RAFTQ_TEST_SEED): hash differs after restore at %zu",
                              seed, position);
            }
        fsm_output_t output;
        fsm_history_apply (original, &history[position], &output);
        successes += output.reply && output.reply->code == RAFTQ__CODE__OK;
        events += output.event_count;
        for (int cut = 0; cut < 3; cut++) {
            if (!restored[cut])
                continue;
            fsm_output_t copy_output;
            fsm_history_apply (restored[cut], &history[position], &copy_output);
            if (!fsm_fixture_same_output (&output, &copy_output))
                fail_msg ("seed %" PRIu64 " (RAFTQ_TEST_SEED): entry %zu differs after the "
                          "snapshot at %zu",
                          seed, position, cuts[cut]);
            fsm_output_clear (&copy_output);
        }
        fsm_output_clear (&output);
    }
    if (successes < count / 5 || events < count / 10)
        fail_msg ("seed %" PRIu64 ": a dull history (%zu successes, %zu events)", seed, successes,
                  events);
    const char *streams[] = {"topic/a",  "topic/c/d",    "user/ann",
                             "user/bob", "conv/ann/bob", "conv/cid/dan"};
    for (int cut = 0; cut < 3; cut++) {
        if (fsm_state_hash (restored[cut]) != fsm_state_hash (original))
            fail_msg ("seed %" PRIu64 " (RAFTQ_TEST_SEED): final hash differs", seed);
        for (size_t stream = 0; stream < 6; stream++)
            if (!fsm_history_same_replay (original, restored[cut], streams[stream]))
                fail_msg ("seed %" PRIu64 ": replay of %s differs", seed, streams[stream]);
        fsm_destroy (&restored[cut]);
    }
    uint64_t kept[3] = {cuts[2], cuts[1], cuts[0]};
    snapshot_fixture_expect_indexes (fixture->dir, kept, 3);
    fsm_destroy (&original);
    fsm_fixture_history_destroy (&history, count);
}

//  A state with nothing but no-op entries, and one with default options.
static void
test_round_trip_plain_states (void **state)
{
    snapshot_fixture_t *fixture = (snapshot_fixture_t *)*state;
    fsm_t *fsm = fsm_new (NULL);
    char error[ERROR_SIZE] = "", report[ERROR_SIZE];
    //  Nothing applied: nothing to write
    assert_int_equal (state_snapshot_write (fixture->dir, fsm, 1, NULL, 0, error, sizeof error),
                      -1);
    assert_non_null (strstr (error, "nothing applied"));
    for (uint64_t index = 1; index <= 3; index++)
        assert_int_equal (fsm_skip (fsm, index), 0);
    s_save (fsm, fixture->dir);
    fsm_t *restored = s_restore (fixture->dir, UINT64_MAX, NULL, report, sizeof report);
    assert_non_null (restored);
    assert_int_equal (fsm_state_hash (restored), fsm_state_hash (fsm));
    fsm_destroy (&restored);
    //  The same bytes in memory
    size_t size;
    uint8_t *body = fsm_snapshot_pack (fsm, &size, error, sizeof error);
    assert_non_null (body);
    restored = fsm_new (NULL);
    assert_int_equal (fsm_snapshot_restore (restored, 3, body, size, error, sizeof error), 0);
    assert_int_equal (fsm_state_hash (restored), fsm_state_hash (fsm));
    fsm_destroy (&restored);
    free (body);
    fsm_destroy (&fsm);
}

//  A job of the fsm writes what the synchronous write does, as of its start.
static void
test_job_of_the_state (void **state)
{
    snapshot_fixture_t *fixture = (snapshot_fixture_t *)*state;
    fsm_t *fsm = fsm_history_rich_fsm (fixture->seed, 400);
    uint64_t index = fsm_applied_index (fsm);
    uint64_t hash = fsm_state_hash (fsm);
    char error[ERROR_SIZE] = "", report[ERROR_SIZE];
    snapshot_job_t *job =
        state_snapshot_job_start (fixture->dir, fsm, index * 3 + 1, (const uint8_t *)MEMBERSHIP,
                                  strlen (MEMBERSHIP), error, sizeof error);
    if (!job)
        fail_msg ("state_snapshot_job_start: %s", error);
    s_save (fsm, fixture->other);
    //  The parent goes on applying
    assert_int_equal (fsm_skip (fsm, index + 1), 0);
    assert_int_equal (snapshot_job_wait (job), 0);
    assert_true (snapshot_job_written (job));
    snapshot_job_destroy (&job);
    char path[PATH_SIZE], other_path[PATH_SIZE];
    snapshot_path (fixture->dir, index, path, sizeof path);
    snapshot_path (fixture->other, index, other_path, sizeof other_path);
    test_files_expect_same (path, other_path);
    fsm_t *restored =
        s_restore (fixture->dir, UINT64_MAX, &fsm_history_small_options, report, sizeof report);
    assert_int_equal (fsm_state_hash (restored), hash);
    fsm_destroy (&restored);
    fsm_destroy (&fsm);
}

//  Writes body as the snapshot of index (term index * 3 + 1, MEMBERSHIP).
static void
s_write_body (const char *dir, uint64_t index, const uint8_t *body, size_t size)
{
    snapshot_header_t header = {index, index * 3 + 1, (const uint8_t *)MEMBERSHIP,
                                strlen (MEMBERSHIP)};
    char error[ERROR_SIZE] = "";
    if (snapshot_write_body (dir, &header, body, size, error, sizeof error))
        fail_msg ("snapshot_write_body: %s", error);
}

//  Restores the snapshot of index in dir into a fresh fsm, expecting a
//  refusal that says why.
static void
s_expect_refused (const char *dir, uint64_t index, const char *why)
{
    char report[ERROR_SIZE], error[ERROR_SIZE] = "";
    snapshot_t *loaded = snapshot_load (dir, index, report, sizeof report);
    assert_non_null (loaded);
    assert_int_equal (snapshot_index (loaded), index);
    fsm_t *fsm = fsm_new (NULL);
    assert_int_equal (state_snapshot_restore (loaded, fsm, error, sizeof error), -1);
    if (!strstr (error, why))
        fail_msg ("'%s' lacks '%s'", error, why);
    fsm_destroy (&fsm);
    snapshot_destroy (&loaded);
}

//  A valid checksum over a body that is no state, and states that decode
//  but that no fsm could have saved: loaded (storage cannot tell), never
//  restored.
static void
test_undecodable_and_inconsistent_bodies (void **state)
{
    snapshot_fixture_t *fixture = (snapshot_fixture_t *)*state;
    uint8_t garbage[16];
    memset (garbage, 0xff, sizeof garbage);
    s_write_body (fixture->dir, 5, garbage, sizeof garbage);
    s_expect_refused (fixture->dir, 5, "does not decode");

    //  Two topics of the same name: decodes, but restore refuses it
    Raftq__State__TopicState topics[2] = {RAFTQ__STATE__TOPIC_STATE__INIT,
                                          RAFTQ__STATE__TOPIC_STATE__INIT};
    Raftq__State__TopicState *topic_list[2] = {&topics[0], &topics[1]};
    topics[0].name = topics[1].name = "twice";
    Raftq__State__FsmState fsm_state = RAFTQ__STATE__FSM_STATE__INIT;
    fsm_state.applied_index = 6;
    fsm_state.topics = topic_list;
    fsm_state.n_topics = 2;
    uint8_t body[256];
    size_t size = raftq__state__fsm_state__pack (&fsm_state, body);
    s_write_body (fixture->dir, 6, body, size);
    s_expect_refused (fixture->dir, 6, "topic");

    //  A state of another index than the snapshot's header says
    fsm_state.n_topics = 1;
    size = raftq__state__fsm_state__pack (&fsm_state, body);
    s_write_body (fixture->dir, 7, body, size);
    s_expect_refused (fixture->dir, 7, "holds the state of 6");
    //  And an empty body: a state of nothing
    s_write_body (fixture->dir, 8, NULL, 0);
    s_expect_refused (fixture->dir, 8, "holds the state of 0");
}

//  A file of the previous format, as a node wrote it before the upgrade:
//  the same state comes back.
static void
test_previous_format_restores (void **state)
{
    snapshot_fixture_t *fixture = (snapshot_fixture_t *)*state;
    fsm_t *fsm = fsm_history_rich_fsm (fixture->seed, 300);
    uint64_t index = fsm_applied_index (fsm);
    Raftq__State__FsmState fsm_state;
    fsm_snapshot_save (fsm, &fsm_state);
    Raftq__State__Snapshot snapshot = RAFTQ__STATE__SNAPSHOT__INIT;
    snapshot.index = index;
    snapshot.term = index * 3 + 1;
    snapshot.membership.data = (uint8_t *)MEMBERSHIP;
    snapshot.membership.len = strlen (MEMBERSHIP);
    snapshot.state = &fsm_state;
    size_t size = raftq__state__snapshot__get_packed_size (&snapshot);
    uint8_t *file = malloc (20 + size);
    assert_non_null (file);
    memcpy (file, "RAFTQSN1", 8);
    little_endian_put_u64 (file + 8, size);
    raftq__state__snapshot__pack (&snapshot, file + 20);
    little_endian_put_u32 (file + 16, crc32c_extend (0, file + 20, size));
    fsm_snapshot_release (&fsm_state);
    assert_int_equal (mkdir (fixture->dir, 0755), 0);
    char path[PATH_SIZE], report[ERROR_SIZE];
    snapshot_path (fixture->dir, index, path, sizeof path);
    test_files_write (path, file, 20 + size);
    free (file);
    fsm_t *restored =
        s_restore (fixture->dir, UINT64_MAX, &fsm_history_small_options, report, sizeof report);
    assert_non_null (restored);
    assert_string_equal (report, "");
    assert_int_equal (fsm_state_hash (restored), fsm_state_hash (fsm));
    fsm_destroy (&restored);
    fsm_destroy (&fsm);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown (test_round_trip_then_same_future, snapshot_fixture_setup,
                                         snapshot_fixture_teardown),
        cmocka_unit_test_setup_teardown (test_round_trip_plain_states, snapshot_fixture_setup,
                                         snapshot_fixture_teardown),
        cmocka_unit_test_setup_teardown (test_job_of_the_state, snapshot_fixture_setup,
                                         snapshot_fixture_teardown),
        cmocka_unit_test_setup_teardown (test_undecodable_and_inconsistent_bodies,
                                         snapshot_fixture_setup, snapshot_fixture_teardown),
        cmocka_unit_test_setup_teardown (test_previous_format_restores, snapshot_fixture_setup,
                                         snapshot_fixture_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
