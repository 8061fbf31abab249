/*  test_status — the Status a node reports from a given view, state and
    actor progress: the plain fields, the state hash when asked, and the
    detail (members by id with their replication as a leader sees it, the
    snapshot and log figures, the bytes of the snapshot files on disk, the
    data directory's free space against min_free_disk_bytes).
*/

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "broker/status.h"
#include "storage/snapshot.h"
#include "temp_dir.h"
#include "view_fixture.h"

#define CONFIG_TEXT                                                                                \
    "{\"peer_curve\":false,\"nodes\":[{\"id\":1,\"host\":\"127.0.0.1\",\"client_port\":5501,"      \
    "\"peer_port\":5601}]}"

typedef struct {
    config_t *config;
    cluster_view_t *view;
    fsm_t *fsm;
    raft_actor_match_t matches[2];
    raft_actor_progress_t progress;
    char snapshot_dir[256];
    status_source_t source;
} fixture_t;

static int
s_setup (void **state)
{
    fixture_t *fixture = calloc (1, sizeof (fixture_t));
    char error[256];
    fixture->config = config_parse (CONFIG_TEXT, "test.json", error, sizeof (error));
    assert_non_null (fixture->config);
    fixture->view = cluster_view_new (fixture->config, 1);
    fsm_options_t options = {0};
    fixture->fsm = fsm_new (&options);
    assert_non_null (fixture->fsm);
    assert_int_equal (
        temp_dir_make (fixture->snapshot_dir, sizeof (fixture->snapshot_dir), "status"), 0);
    //  Listed in no particular order: the detail sorts them by id
    raft_member_t members[] = {
        {.id = 3, .voter = false, .host = "127.0.0.3", .client_port = 5503, .peer_port = 5603},
        {.id = 1,
         .voter = true,
         .host = "127.0.0.1",
         .client_port = 5501,
         .peer_port = 5601,
         .pub_port = 5701},
        {.id = 2, .voter = true, .host = "127.0.0.2", .client_port = 5502, .peer_port = 5602}};
    view_fixture_members (fixture->view, members, 3, 4);
    //  The leader has heard from node 2 only
    fixture->matches[0] = (raft_actor_match_t){.id = 2, .match_index = 17};
    fixture->progress = (raft_actor_progress_t){.snapshot_index = 12,
                                                .snapshot_term = 2,
                                                .first_index = 13,
                                                .log_bytes = 4096,
                                                .matches = fixture->matches,
                                                .match_count = 1};
    fixture->source = (status_source_t){.view = fixture->view,
                                        .fsm = fixture->fsm,
                                        .progress = &fixture->progress,
                                        .snapshot_dir = fixture->snapshot_dir};
    *state = fixture;
    return 0;
}

static int
s_teardown (void **state)
{
    fixture_t *fixture = (fixture_t *)*state;
    temp_dir_remove (fixture->snapshot_dir);
    fsm_destroy (&fixture->fsm);
    cluster_view_destroy (&fixture->view);
    config_destroy (&fixture->config);
    free (fixture);
    return 0;
}

static void
s_write_file (const char *dir, uint64_t index, size_t size)
{
    char path[PATH_MAX];
    snapshot_path (dir, index, path, sizeof (path));
    FILE *file = fopen (path, "w");
    assert_non_null (file);
    for (size_t position = 0; position < size; position++)
        fputc ('s', file);
    fclose (file);
}

static void
test_plain_status (void **state)
{
    fixture_t *fixture = (fixture_t *)*state;
    view_fixture_state (fixture->view, RAFT_ROLE_FOLLOWER, 7, 2, 20, 21);
    status_report_t report;
    assert_int_equal (status_report_fill (&report, &fixture->source, NULL), 0);
    Raftq__NodeStatus *status = &report.status;
    assert_int_equal (status->id, 1);
    assert_int_equal (status->role, RAFTQ__ROLE__FOLLOWER);
    assert_int_equal (status->term, 7);
    assert_int_equal (status->leader_id, 2);
    assert_int_equal (status->commit_index, 20);
    assert_int_equal (status->last_index, 21);
    assert_int_equal (status->applied_index, fsm_applied_index (fixture->fsm));
    //  Members in configuration order, no hash, no detail unless asked
    assert_int_equal (status->n_members, 3);
    assert_int_equal (status->members[0], 3);
    assert_int_equal (status->members[1], 1);
    assert_int_equal (status->members[2], 2);
    //  (the hash of even an empty state is not 0: its absence shows)
    assert_int_not_equal (fsm_state_hash (fixture->fsm), 0);
    assert_int_equal (status->state_hash, 0);
    assert_null (status->detail);
    status_report_clear (&report);

    view_fixture_state (fixture->view, RAFT_ROLE_CANDIDATE, 8, 0, 20, 21);
    Raftq__Status asked = RAFTQ__STATUS__INIT;
    asked.with_hash = true;
    assert_int_equal (status_report_fill (&report, &fixture->source, &asked), 0);
    assert_int_equal (report.status.role, RAFTQ__ROLE__CANDIDATE);
    assert_int_equal (report.status.leader_id, 0);
    assert_int_equal (report.status.state_hash, fsm_state_hash (fixture->fsm));
    assert_null (report.status.detail);
    status_report_clear (&report);
}

static void
test_detail_on_the_leader (void **state)
{
    fixture_t *fixture = (fixture_t *)*state;
    view_fixture_state (fixture->view, RAFT_ROLE_LEADER, 7, 1, 20, 21);
    s_write_file (fixture->snapshot_dir, 5, 100);
    s_write_file (fixture->snapshot_dir, 12, 250);
    Raftq__Status asked = RAFTQ__STATUS__INIT;
    asked.detail = true;
    status_report_t report;
    assert_int_equal (status_report_fill (&report, &fixture->source, &asked), 0);
    Raftq__StatusDetail *detail = report.status.detail;
    assert_non_null (detail);
    assert_int_equal (detail->config_index, 4);
    assert_int_equal (detail->snapshot_index, 12);
    assert_int_equal (detail->snapshot_term, 2);
    assert_int_equal (detail->first_index, 13);
    assert_int_equal (detail->log_bytes, 4096);
    assert_int_equal (detail->snapshot_bytes, 350);
    assert_int_equal (detail->n_members, 3);

    //  By id: the leader itself holds its whole log, node 2 matched 17 of
    //  21, node 3 was never heard from
    Raftq__MemberStatus *one = detail->members[0];
    Raftq__MemberStatus *two = detail->members[1];
    Raftq__MemberStatus *three = detail->members[2];
    assert_int_equal (one->id, 1);
    assert_true (one->voter);
    assert_string_equal (one->host, "127.0.0.1");
    assert_int_equal (one->pub_port, 5701);
    assert_true (one->replication_known);
    assert_int_equal (one->match_index, 21);
    assert_int_equal (one->lag, 0);
    assert_int_equal (two->id, 2);
    assert_true (two->replication_known);
    assert_int_equal (two->match_index, 17);
    assert_int_equal (two->lag, 4);
    assert_int_equal (three->id, 3);
    assert_false (three->voter);
    assert_int_equal (three->client_port, 5503);
    assert_false (three->replication_known);
    assert_int_equal (three->match_index, 0);
    assert_int_equal (three->lag, 0);
    //  No data directory, no watermark: nothing low
    assert_false (detail->disk_low);
    status_report_clear (&report);

    //  The data directory's free space against the watermark
    fixture->source.disk_path = fixture->snapshot_dir;
    fixture->source.min_free_disk_bytes = 1;
    assert_int_equal (status_report_fill (&report, &fixture->source, &asked), 0);
    uint64_t free_bytes = report.status.detail->free_disk_bytes;
    assert_true (free_bytes > 0);
    assert_int_equal (report.status.detail->min_free_disk_bytes, 1);
    assert_false (report.status.detail->disk_low);
    status_report_clear (&report);
    fixture->source.min_free_disk_bytes = 1ull << 62;
    assert_int_equal (status_report_fill (&report, &fixture->source, &asked), 0);
    assert_true (report.status.detail->disk_low);
    status_report_clear (&report);
}

//  A follower knows nobody's replication; a match past a stale last index
//  is no negative lag.
static void
test_detail_replication_edges (void **state)
{
    fixture_t *fixture = (fixture_t *)*state;
    Raftq__Status asked = RAFTQ__STATUS__INIT;
    asked.detail = true;
    status_report_t report;
    view_fixture_state (fixture->view, RAFT_ROLE_FOLLOWER, 7, 2, 20, 21);
    assert_int_equal (status_report_fill (&report, &fixture->source, &asked), 0);
    for (size_t position = 0; position < report.status.detail->n_members; position++)
        assert_false (report.status.detail->members[position]->replication_known);
    assert_int_equal (report.status.detail->snapshot_bytes, 0);
    status_report_clear (&report);

    view_fixture_state (fixture->view, RAFT_ROLE_LEADER, 7, 1, 15, 15);
    assert_int_equal (status_report_fill (&report, &fixture->source, &asked), 0);
    assert_int_equal (report.status.detail->members[1]->match_index, 17);
    assert_int_equal (report.status.detail->members[1]->lag, 0);
    status_report_clear (&report);

    //  No snapshot directory at all
    fixture->source.snapshot_dir = NULL;
    assert_int_equal (status_report_fill (&report, &fixture->source, &asked), 0);
    assert_int_equal (report.status.detail->snapshot_bytes, 0);
    status_report_clear (&report);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown (test_plain_status, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_detail_on_the_leader, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_detail_replication_edges, s_setup, s_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
