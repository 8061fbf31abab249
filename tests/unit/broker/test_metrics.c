/*  test_metrics — what a node exports: replies counted under their
    operation's and code's proto names (an undecoded request as "none"),
    latency per operation, the role as one gauge per role, the Raft
    actor's report taken whole (a malformed histogram ignored), and
    readiness with its reason for each way a node can be unready.
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "broker/metrics.h"
#include "util/metric_histogram.h"

//  A follower of node 1 in term 3, caught up.
static metrics_facts_t
s_ready_facts (void)
{
    metrics_facts_t facts = {0};
    facts.role = RAFT_ROLE_FOLLOWER;
    facts.term = 3;
    facts.leader_id = 1;
    facts.member = true;
    facts.voter = true;
    facts.member_count = 3;
    facts.commit_index = 40;
    facts.applied_index = 40;
    facts.last_index = 41;
    return facts;
}

//  Fails unless the rendered text holds line (a whole line).
static void
s_expect_line (const char *text, const char *line)
{
    size_t length = strlen (line);
    for (const char *found = strstr (text, line); found; found = strstr (found + 1, line))
        if ((found == text || found[-1] == '\n') && found[length] == '\n')
            return;
    fail_msg ("no line '%s' in:\n%s", line, text);
}

static void
s_expect_lines (const char *text, const char *const *lines, size_t count)
{
    for (size_t position = 0; position < count; position++)
        s_expect_line (text, lines[position]);
}

static char *
s_render (metrics_t *metrics, const metrics_facts_t *facts)
{
    size_t size;
    char *text = metrics_render (metrics, facts, &size);
    assert_non_null (text);
    assert_int_equal (size, strlen (text));
    return text;
}

static void
test_replies_by_operation_and_code (void **state)
{
    (void)state;
    metrics_t *metrics = metrics_new ();
    assert_non_null (metrics);
    metrics_count_reply (metrics, RAFTQ__REQUEST__OP_PUBLISH, RAFTQ__CODE__OK, 1500);
    metrics_count_reply (metrics, RAFTQ__REQUEST__OP_PUBLISH, RAFTQ__CODE__OK, 30000);
    metrics_count_reply (metrics, RAFTQ__REQUEST__OP_POP, RAFTQ__CODE__EMPTY, 800);
    metrics_count_reply (metrics, 0, RAFTQ__CODE__INVALID_ARGUMENT, 10);
    metrics_count_reply (metrics, 999, RAFTQ__CODE__OK, 10);
    metrics_count_proposals (metrics, 3);
    metrics_count_leader_change (metrics);
    metrics_count_snapshot (metrics, true, 0.2);
    metrics_count_deliveries (metrics, 4);
    metrics_count_revoked (metrics);
    metrics_facts_t facts = s_ready_facts ();
    char *text = s_render (metrics, &facts);
    const char *expected[] = {
        "raftq_requests_total{op=\"publish\",code=\"OK\"} 2",
        "raftq_requests_total{op=\"pop\",code=\"EMPTY\"} 1",
        //  No operation, or one Request does not have
        "raftq_requests_total{op=\"none\",code=\"INVALID_ARGUMENT\"} 1",
        "raftq_requests_total{op=\"none\",code=\"OK\"} 1",
        "raftq_request_duration_seconds_bucket{op=\"publish\",le=\"0.0025\"} 1",
        "raftq_request_duration_seconds_bucket{op=\"publish\",le=\"+Inf\"} 2",
        "raftq_request_duration_seconds_sum{op=\"publish\"} 0.0315",
        "raftq_proposals_total 3",
        "raftq_proposal_batch_entries_bucket{le=\"4\"} 1",
        "raftq_leader_changes_total 1",
        "raftq_snapshots_total{outcome=\"written\"} 1",
        "raftq_snapshot_duration_seconds_count 1",
        "raftq_events_delivered_total 4",
        "raftq_subscriptions_revoked_total 1",
    };
    s_expect_lines (text, expected, sizeof expected / sizeof expected[0]);
    //  An operation never answered has no series
    assert_null (strstr (text, "op=\"login\""));
    free (text);
    metrics_destroy (&metrics);
    assert_null (metrics);
}

static void
test_gauges_from_facts (void **state)
{
    (void)state;
    metrics_t *metrics = metrics_new ();
    metrics_facts_t facts = s_ready_facts ();
    facts.role = RAFT_ROLE_CANDIDATE;
    facts.leader_id = 0;
    facts.client_connections = 5;
    facts.topic_subscriptions = 2;
    char *text = s_render (metrics, &facts);
    const char *expected[] = {
        "# TYPE raftq_role gauge",
        "raftq_role{role=\"candidate\"} 1",
        "raftq_role{role=\"leader\"} 0",
        "raftq_role{role=\"follower\"} 0",
        "raftq_term 3",
        "raftq_commit_index 40",
        "raftq_connections{port=\"client\"} 5",
        "raftq_subscriptions{kind=\"topic\"} 2",
        "raftq_ready 0",
    };
    s_expect_lines (text, expected, sizeof expected / sizeof expected[0]);
    free (text);
    metrics_destroy (&metrics);
}

static void
test_raft_report_taken_whole (void **state)
{
    (void)state;
    metrics_t *metrics = metrics_new ();
    size_t bound_count;
    const double *bounds = raft_actor_fsync_bounds (&bound_count);
    metric_histogram_t *syncs = metric_histogram_new (bounds, bound_count);
    metric_histogram_observe (syncs, 0.0004);
    uint8_t packed[512];
    assert_true (metric_histogram_packed_size (syncs) <= sizeof packed);
    metric_histogram_pack (syncs, packed);
    raft_actor_metrics_t report = {12, 3, packed, metric_histogram_packed_size (syncs)};
    metrics_take_raft (metrics, &report);
    //  A histogram of another size is ignored, the counters still taken
    raft_actor_metrics_t bad = {13, 4, packed, 5};
    metrics_take_raft (metrics, &bad);
    metrics_facts_t facts = s_ready_facts ();
    char *text = s_render (metrics, &facts);
    const char *expected[] = {
        "raftq_log_entries_written_total 13",
        "raftq_peer_messages_dropped_total 4",
        "raftq_fsync_duration_seconds_bucket{le=\"0.0005\"} 1",
        "raftq_fsync_duration_seconds_count 1",
    };
    s_expect_lines (text, expected, sizeof expected / sizeof expected[0]);
    free (text);
    metric_histogram_destroy (&syncs);
    metrics_destroy (&metrics);
}

static void
test_readiness_and_reasons (void **state)
{
    (void)state;
    char reason[128];
    metrics_facts_t facts = s_ready_facts ();
    assert_true (metrics_readiness (&facts, reason, sizeof reason));
    assert_string_equal (reason, "following node 1 in term 3");
    facts.role = RAFT_ROLE_LEADER;
    assert_true (metrics_readiness (&facts, reason, sizeof reason));
    assert_string_equal (reason, "leader in term 3");

    facts = s_ready_facts ();
    facts.applied_index = 39;
    assert_false (metrics_readiness (&facts, reason, sizeof reason));
    assert_string_equal (reason, "applied 39 of 40 committed");
    facts = s_ready_facts ();
    facts.leader_id = 0;
    assert_false (metrics_readiness (&facts, reason, sizeof reason));
    assert_string_equal (reason, "no known leader in term 3");
    facts.role = RAFT_ROLE_CANDIDATE;
    assert_false (metrics_readiness (&facts, reason, sizeof reason));
    assert_string_equal (reason, "candidate in term 3, no leader");
    facts = s_ready_facts ();
    facts.voter = false;
    assert_false (metrics_readiness (&facts, reason, sizeof reason));
    assert_string_equal (reason, "a learner, not yet a voter");
    facts.member = false;
    assert_false (metrics_readiness (&facts, reason, sizeof reason));
    assert_string_equal (reason, "not a member of the configuration");
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_replies_by_operation_and_code),
        cmocka_unit_test (test_gauges_from_facts),
        cmocka_unit_test (test_raft_report_taken_whole),
        cmocka_unit_test (test_readiness_and_reasons),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
