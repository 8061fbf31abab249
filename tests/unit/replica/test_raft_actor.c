/*  test_raft_actor — the Raft actor thread end to end on its pipe: a lone
    node elects itself and commits proposals in order, a restarted node
    re-delivers its log from disk, a node without quorum rejects proposals,
    unusable storage or a taken port make it refuse to start, and PROGRESS
    reports the log on disk, the newest snapshot and, on the leader, each
    follower's match, only when something changed.
*/
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "temp_dir.h"
#include "replica/raft_actor.h"
#include "storage/node_dir.h"
#include "storage/snapshot.h"

//  How long a condition may take before the test fails.
#define DEADLINE_MS 5000

//  Shared by the tests: a fresh data directory per test.
typedef struct {
    char directory[64]; //  fresh scratch directory
} fixture_t;

static int
s_setup (void **state)
{
    fixture_t *fixture = calloc (1, sizeof (fixture_t));
    assert_non_null (fixture);
    assert_int_equal (temp_dir_make (fixture->directory, sizeof fixture->directory, "test-actor"),
                      0);
    *state = fixture;
    return 0;
}

static int
s_teardown (void **state)
{
    fixture_t *fixture = (fixture_t *)*state;
    int rc = temp_dir_remove (fixture->directory);
    free (fixture);
    return rc;
}

//  A cluster of node_count nodes whose peer ports start at peer_port.
typedef struct {
    size_t node_count;      //  nodes 1..node_count, all voters
    int peer_port;          //  node n listens on peer_port + n - 1
    uint32_t low_disk_node; //  this node's disk is always below its watermark, 0: none
} cluster_t;

//  Starts node node_id of cluster with its directory under data_dir, as
//  the broker would (replica options); NULL if the actor refuses.
static raft_actor_t *
s_start (cluster_t cluster, uint32_t node_id, const char *data_dir)
{
    raft_member_t members[4];
    raft_member_t peers[4];
    size_t peer_count = 0;
    assert_true (cluster.node_count <= 4);
    memset (members, 0, sizeof members);
    for (size_t position = 0; position < cluster.node_count; position++) {
        raft_member_t *member = &members[position];
        member->id = (uint32_t)position + 1;
        member->voter = true;
        snprintf (member->host, sizeof member->host, "127.0.0.1");
        member->client_port = 16600 + (uint32_t)position;
        member->peer_port = (uint32_t)cluster.peer_port + (uint32_t)position;
        if (member->id != node_id)
            peers[peer_count++] = *member;
    }
    char node_dir[256];
    snprintf (node_dir, sizeof node_dir, "%s/node-%u", data_dir, node_id);
    raft_actor_options_t options = {.node_id = node_id,
                                    .node_dir = node_dir,
                                    .cluster = "actor-test",
                                    .host = "127.0.0.1",
                                    .peer_port = (uint32_t)cluster.peer_port + node_id - 1,
                                    .peers = peers,
                                    .peer_count = peer_count,
                                    .members = members,
                                    .member_count = cluster.node_count,
                                    .heartbeat_ms = 20,
                                    .election_timeout_min_ms = 60,
                                    .election_timeout_max_ms = 120,
                                    .snapshot_trailing_entries = 10000};
    if (node_id == cluster.low_disk_node) {
        //  No disk has that much free; slow to campaign, so another leads
        options.min_free_disk_bytes = 1ull << 62;
        options.election_timeout_min_ms = 2000;
        options.election_timeout_max_ms = 2500;
    }
    return raft_actor_new (&options);
}

//  Waits for the next event, failing after the deadline.
static void
s_next_event (raft_actor_t *actor, raft_actor_event_t *event, int64_t deadline)
{
    zpoller_t *poller = zpoller_new (raft_actor_sock (actor), NULL);
    int64_t left = deadline - zclock_mono ();
    void *ready = left > 0 ? zpoller_wait (poller, (int)left) : NULL;
    zpoller_destroy (&poller);
    if (!ready)
        fail_msg ("no event from the actor in time");
    assert_int_equal (raft_actor_recv (actor, event), 0);
}

//  What the test has seen of the actor's events so far.
typedef struct {
    bool leader;         //  last STATE said leader
    int commands_seen;   //  committed commands checked so far
    int first_command;   //  number in the payload of the first expected command
    uint64_t last_index; //  index of the last committed entry seen
} observer_t;

//  Checks committed entries: indexes follow each other and commands carry
//  "command-<n>" in sequence.
static void
s_observe (observer_t *observer, const raft_actor_event_t *event)
{
    if (event->kind == RAFT_ACTOR_STATE)
        observer->leader = event->role == RAFT_ROLE_LEADER;
    if (event->kind != RAFT_ACTOR_COMMITTED)
        return;
    for (size_t position = 0; position < event->entry_count; position++) {
        const raft_entry_t *entry = &event->entries[position];
        if (observer->last_index)
            assert_int_equal (entry->index, observer->last_index + 1);
        assert_true (event->commit_index >= entry->index);
        observer->last_index = entry->index;
        if (entry->type != RAFT_ENTRY_COMMAND)
            continue;
        char expected[32];
        snprintf (expected, sizeof (expected), "command-%d",
                  observer->first_command + observer->commands_seen);
        assert_int_equal (entry->size, strlen (expected));
        assert_memory_equal (entry->data, expected, entry->size);
        observer->commands_seen++;
    }
}

//  Feeds events to the observer until it saw a leader and commands commands.
static void
s_run_until (raft_actor_t *actor, observer_t *observer, int commands)
{
    int64_t deadline = zclock_mono () + DEADLINE_MS;
    while (!observer->leader || observer->commands_seen < commands) {
        raft_actor_event_t event;
        s_next_event (actor, &event, deadline);
        s_observe (observer, &event);
        raft_actor_event_clear (&event);
    }
}

static void
s_propose_commands (raft_actor_t *actor, int first_command, int count)
{
    for (int command = first_command; command < first_command + count; command++) {
        char text[32];
        snprintf (text, sizeof (text), "command-%d", command);
        zframe_t *payload = zframe_new (text, strlen (text));
        raft_actor_propose (actor, (uint64_t)command, &payload);
        assert_null (payload);
    }
    assert_int_equal (raft_actor_flush (actor), 0);
}

//  Runs a lone node 1 listening on peer_port until it leads and has
//  committed count commands (first_command on), then stops it. Returns the
//  last index it committed.
static uint64_t
s_lone_node_commits (const char *data_dir, int peer_port, int first_command, int count)
{
    raft_actor_t *actor = s_start ((cluster_t){1, peer_port, 0}, 1, data_dir);
    assert_non_null (actor);
    observer_t observer = {.first_command = first_command};
    s_run_until (actor, &observer, 0);
    s_propose_commands (actor, first_command, count);
    s_run_until (actor, &observer, count);
    raft_actor_destroy (&actor);
    assert_null (actor);
    return observer.last_index;
}

static void
test_lone_node_commits_and_recovers (void **state)
{
    fixture_t *fixture = (fixture_t *)*state;
    uint64_t last_index = s_lone_node_commits (fixture->directory, 16500, 0, 50);

    //  A restart re-delivers the whole log from disk once it commits again.
    //  libzmq releases a closed listener asynchronously, so the restarted
    //  node listens elsewhere rather than race for the same port
    cluster_t cluster = (cluster_t){1, 16501, 0};
    raft_actor_t *actor = s_start (cluster, 1, fixture->directory);
    assert_non_null (actor);
    observer_t restarted = {0};
    s_run_until (actor, &restarted, 50);
    assert_true (restarted.last_index >= last_index);
    s_propose_commands (actor, 50, 5);
    s_run_until (actor, &restarted, 55);
    raft_actor_destroy (&actor);
}

//  A received snapshot lands before the log behind it is emptied: a node
//  that crashed between the two restarts with a log ending below its newest
//  snapshot. It must start after the snapshot and go on committing.
static void
test_restart_with_snapshot_ahead_of_the_log (void **state)
{
    fixture_t *fixture = (fixture_t *)*state;
    assert_true (s_lone_node_commits (fixture->directory, 16540, 0, 5) < 40);

    //  The snapshot of entry 40, as the writer thread installs it
    raft_member_t member = {.id = 1, .voter = true, .client_port = 16600, .peer_port = 16541};
    snprintf (member.host, sizeof member.host, "127.0.0.1");
    size_t membership_size;
    uint8_t *membership = raft_core_config_encode (&member, 1, &membership_size);
    assert_non_null (membership);
    char node_dir[256], snap_dir[300];
    assert_int_equal (node_dir_path (node_dir, sizeof node_dir, fixture->directory, 1), 0);
    assert_int_equal (node_dir_snapshot_path (snap_dir, sizeof snap_dir, node_dir), 0);
    snapshot_header_t header = {40, 1, membership, membership_size};
    char error[256];
    assert_int_equal (
        snapshot_write_body (snap_dir, &header, (const uint8_t *)"state", 5, error, sizeof error),
        0);
    free (membership);

    assert_true (s_lone_node_commits (fixture->directory, 16541, 100, 3) > 40);
}

static void
test_without_quorum_rejects (void **state)
{
    fixture_t *fixture = (fixture_t *)*state;
    //  Node 2 never runs: node 1 can never win an election
    cluster_t cluster = {2, 16510, 0};
    raft_actor_t *actor = s_start (cluster, 1, fixture->directory);
    assert_non_null (actor);
    s_propose_commands (actor, 100, 3);
    int64_t deadline = zclock_mono () + DEADLINE_MS;
    while (true) {
        raft_actor_event_t event;
        s_next_event (actor, &event, deadline);
        bool rejected = event.kind == RAFT_ACTOR_REJECTED;
        if (rejected) {
            assert_int_equal (event.leader_id, 0);
            assert_int_equal (event.ticket_count, 3);
            for (size_t position = 0; position < 3; position++)
                assert_int_equal (event.tickets[position], 100 + position);
        } else
            assert_int_not_equal (event.kind, RAFT_ACTOR_COMMITTED);
        raft_actor_event_clear (&event);
        if (rejected)
            break;
    }
    raft_actor_destroy (&actor);
}

//  The next event of any actor, which one in *source; false when none
//  came before the deadline.
static bool
s_next_event_of (raft_actor_t **actors, size_t count, raft_actor_event_t *event, size_t *source,
                 int64_t deadline)
{
    zpoller_t *poller = zpoller_new (NULL);
    for (size_t position = 0; position < count; position++)
        zpoller_add (poller, raft_actor_sock (actors[position]));
    int64_t left = deadline - zclock_mono ();
    void *ready = left > 0 ? zpoller_wait (poller, (int)left) : NULL;
    zpoller_destroy (&poller);
    if (!ready)
        return false;
    for (*source = 0; raft_actor_sock (actors[*source]) != ready; (*source)++)
        ;
    assert_int_equal (raft_actor_recv (actors[*source], event), 0);
    return true;
}

static bool
s_progress_equal (const raft_actor_progress_t *one, const raft_actor_progress_t *other)
{
    if (one->snapshot_index != other->snapshot_index ||
        one->snapshot_term != other->snapshot_term || one->first_index != other->first_index ||
        one->log_bytes != other->log_bytes || one->match_count != other->match_count)
        return false;
    for (size_t position = 0; position < one->match_count; position++)
        if (one->matches[position].id != other->matches[position].id ||
            one->matches[position].match_index != other->matches[position].match_index)
            return false;
    return true;
}

//  What the test keeps of one actor's reports.
typedef struct {
    bool leader;                    //  last STATE said leader
    uint64_t term;                  //  its term
    uint64_t last_index;            //  last index in its log
    bool progress_seen;             //  a PROGRESS came
    raft_actor_progress_t progress; //  the last one (matches copied, up to 4)
    raft_actor_match_t matches[4];  //  room for progress.matches
} reporter_t;

//  Records event into reporter, checking that each PROGRESS changed
//  something and is what raft_actor_progress says.
static void
s_record (raft_actor_t *actor, reporter_t *reporter, const raft_actor_event_t *event)
{
    if (event->kind == RAFT_ACTOR_STATE) {
        reporter->leader = event->role == RAFT_ROLE_LEADER;
        reporter->term = event->term;
        reporter->last_index = event->last_index;
    }
    if (event->kind != RAFT_ACTOR_PROGRESS)
        return;
    assert_non_null (event->progress);
    assert_ptr_equal (event->progress, raft_actor_progress (actor));
    if (reporter->progress_seen)
        assert_false (s_progress_equal (event->progress, &reporter->progress));
    assert_true (event->progress->match_count <= 4);
    reporter->progress = *event->progress;
    if (event->progress->match_count)
        memcpy (reporter->matches, event->progress->matches,
                event->progress->match_count * sizeof (raft_actor_match_t));
    reporter->progress.matches = reporter->matches;
    reporter->progress_seen = true;
}

//  Feeds both actors' events to their reporters until done says so.
typedef bool (s_done_fn) (reporter_t *reporters, size_t leader, uint64_t goal);
static void
s_watch (raft_actor_t **actors, reporter_t *reporters, size_t *leader, s_done_fn *done,
         uint64_t goal)
{
    int64_t deadline = zclock_mono () + DEADLINE_MS;
    while (!(reporters[*leader].leader && done (reporters, *leader, goal))) {
        raft_actor_event_t event;
        size_t source;
        if (!s_next_event_of (actors, 2, &event, &source, deadline))
            fail_msg ("no event from the actors in time");
        s_record (actors[source], &reporters[source], &event);
        if (reporters[source].leader)
            *leader = source;
        raft_actor_event_clear (&event);
    }
}

static bool
s_leader_elected (reporter_t *reporters, size_t leader, uint64_t goal)
{
    (void)goal;
    return reporters[leader].leader;
}

//  The leader sees the follower hold everything up to goal, and both logs
//  are on disk from index 1.
static bool
s_replicated (reporter_t *reporters, size_t leader, uint64_t goal)
{
    const raft_actor_progress_t *mine = &reporters[leader].progress;
    const raft_actor_progress_t *theirs = &reporters[1 - leader].progress;
    return mine->match_count == 1 && mine->matches[0].id == (uint32_t)(2 - leader) &&
           mine->matches[0].match_index >= goal && mine->first_index == 1 && mine->log_bytes > 0 &&
           theirs->first_index == 1 && theirs->log_bytes > 0;
}

static bool
s_snapshot_reported (reporter_t *reporters, size_t leader, uint64_t goal)
{
    return reporters[leader].progress.snapshot_index == goal &&
           reporters[leader].progress.snapshot_term == reporters[leader].term;
}

static void
test_progress_reports_replication_and_storage (void **state)
{
    fixture_t *fixture = (fixture_t *)*state;
    cluster_t cluster = {2, 22950, 0};
    raft_actor_t *actors[2] = {s_start (cluster, 1, fixture->directory),
                               s_start (cluster, 2, fixture->directory)};
    assert_non_null (actors[0]);
    assert_non_null (actors[1]);
    assert_int_equal (raft_actor_progress (actors[0])->match_count, 0);
    reporter_t reporters[2];
    memset (reporters, 0, sizeof (reporters));
    size_t leader = 0;
    s_watch (actors, reporters, &leader, s_leader_elected, 0);

    s_propose_commands (actors[leader], 0, 20);
    //  The leader's no-op and 20 commands
    s_watch (actors, reporters, &leader, s_replicated, 21);
    assert_int_equal (reporters[leader].progress.snapshot_index, 0);
    assert_int_equal (reporters[1 - leader].progress.match_count, 0);

    //  A durable snapshot shows at once in the next report
    assert_int_equal (raft_actor_compact (actors[leader], 5, reporters[leader].term), 0);
    s_watch (actors, reporters, &leader, s_snapshot_reported, 5);

    raft_actor_destroy (&actors[0]);
    raft_actor_destroy (&actors[1]);
}

//  A follower below its disk watermark appends nothing and acknowledges
//  nothing past what it holds, yet follows the leader without disturbing
//  it: the others commit.
static void
test_low_disk_follower_appends_nothing (void **state)
{
    fixture_t *fixture = (fixture_t *)*state;
    cluster_t cluster = {3, 22960, 3};
    raft_actor_t *actors[3];
    for (uint32_t node_id = 1; node_id <= 3; node_id++)
        assert_non_null (actors[node_id - 1] = s_start (cluster, node_id, fixture->directory));
    reporter_t reporters[3];
    memset (reporters, 0, sizeof reporters);
    size_t leader = 3;
    int64_t deadline = zclock_mono () + DEADLINE_MS;
    bool proposed = false;
    uint64_t healthy_match = 0;
    uint64_t low_match = 0;
    uint64_t term = 0;
    int64_t quiet_until = 0;
    //  Until the others hold the no-op and 20 commands, then 500 ms more
    //  of watching that nothing changes
    while (!quiet_until || zclock_mono () < quiet_until) {
        raft_actor_event_t event;
        size_t source;
        if (!s_next_event_of (actors, 3, &event, &source, quiet_until ? quiet_until : deadline)) {
            assert_true (quiet_until);
            continue;
        }
        s_record (actors[source], &reporters[source], &event);
        raft_actor_event_clear (&event);
        if (reporters[source].leader && leader == 3) {
            leader = source;
            term = reporters[source].term;
        }
        assert_true (leader != 2); //  the low-disk node (index 2) never leads
        if (leader == 3)
            continue;
        assert_int_equal (reporters[leader].term, term);
        if (!proposed) {
            s_propose_commands (actors[leader], 0, 20);
            proposed = true;
        }
        const raft_actor_progress_t *progress = &reporters[leader].progress;
        for (size_t position = 0; position < progress->match_count; position++) {
            if (progress->matches[position].id == 3)
                low_match = progress->matches[position].match_index;
            else
                healthy_match = progress->matches[position].match_index;
        }
        assert_int_equal (low_match, 0);
        assert_int_equal (reporters[2].last_index, 0);
        if (healthy_match >= 21 && !quiet_until)
            quiet_until = zclock_mono () + 500;
    }
    for (size_t position = 0; position < 3; position++)
        raft_actor_destroy (&actors[position]);
}

static void
test_refuses_to_start (void **state)
{
    fixture_t *fixture = (fixture_t *)*state;
    //  Each case listens on its own port: libzmq releases a closed listener
    //  asynchronously, so a port freed by one case may still be held
    cluster_t cluster = {1, 16520, 0};

    //  The data directory is a plain file
    char path[128];
    snprintf (path, sizeof (path), "%s/not-a-directory", fixture->directory);
    FILE *file = fopen (path, "w");
    assert_non_null (file);
    fclose (file);
    assert_null (s_start (cluster, 1, path));

    //  The peer port is taken
    cluster = (cluster_t){1, 16521, 0};
    zsock_t *squatter = zsock_new (ZMQ_ROUTER);
    assert_int_equal (zsock_bind (squatter, "tcp://127.0.0.1:16521"), 16521);
    assert_null (s_start (cluster, 1, fixture->directory));
    zsock_destroy (&squatter);

    //  A node id the core refuses
    cluster = (cluster_t){1, 16522, 0};
    assert_null (s_start (cluster, 0, fixture->directory));
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown (test_lone_node_commits_and_recovers, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_restart_with_snapshot_ahead_of_the_log, s_setup,
                                         s_teardown),
        cmocka_unit_test_setup_teardown (test_without_quorum_rejects, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_low_disk_follower_appends_nothing, s_setup,
                                         s_teardown),
        cmocka_unit_test_setup_teardown (test_refuses_to_start, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_progress_reports_replication_and_storage, s_setup,
                                         s_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
