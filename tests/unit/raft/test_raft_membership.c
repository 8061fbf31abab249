/*  test_raft_membership — configuration changes in the Raft core.

    The configuration payload, learners joining and promoted (by the leader
    or by hand), the change rules, a configuration reverted when its entry
    is truncated, a leader removing itself, and a removed voter whose vote
    is still needed.
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "raft/raft_core.h"
#include "raft_fixture.h"

static void
test_config_payload (void **state)
{
    (void)state;
    raft_member_t members[] = {raft_fixture_member (1, true), raft_fixture_member (2, false),
                               raft_fixture_member (7, true)};
    size_t size;
    uint8_t *payload = raft_core_config_encode (members, 3, &size);
    assert_non_null (payload);
    size_t count;
    raft_member_t *decoded = raft_core_config_decode (payload, size, &count);
    assert_non_null (decoded);
    assert_int_equal (count, 3);
    assert_memory_equal (decoded, members, sizeof (members));
    free (decoded);
    free (payload);
    //  Refused: garbage, no voter, a repeated id, id 0
    assert_null (raft_core_config_decode ((const uint8_t *)"\xff\xff\xff", 3, &count));
    members[0].voter = members[2].voter = false;
    payload = raft_core_config_encode (members, 3, &size);
    assert_null (raft_core_config_decode (payload, size, &count));
    free (payload);
    members[0].voter = true;
    members[2].id = 1;
    payload = raft_core_config_encode (members, 3, &size);
    assert_null (raft_core_config_decode (payload, size, &count));
    free (payload);
    members[2].id = 0;
    payload = raft_core_config_encode (members, 3, &size);
    assert_null (raft_core_config_decode (payload, size, &count));
    free (payload);
}

//  A joining node (empty configuration) never campaigns; added as a
//  learner it receives the log without counting for commit; once caught
//  up the leader promotes it, and then it counts.
static void
test_learner_joins_and_is_promoted (void **state)
{
    (void)state;
    raft_fixture_t *harness = raft_fixture_new (3, true);
    raft_core_t *joiner = raft_fixture_add_joining (harness, 4, 0);
    for (uint64_t now = 0; now < 10 * ELECTION_MAX; now += HEARTBEAT_MS) {
        raft_core_tick (joiner, now);
        raft_ready_t ready;
        assert_false (raft_core_ready (joiner, &ready));
    }
    assert_int_equal (raft_core_term (joiner), 0);
    raft_fixture_elect (harness, 1, 10 * ELECTION_MAX);
    raft_core_t *leader = harness->cores[1];
    uint64_t now = 10 * ELECTION_MAX;
    raft_member_t member = raft_fixture_member (4, true);
    uint64_t index = 0;
    //  One change at a time, and not before the leader committed in its term
    harness->persist = false;
    raft_fixture_propose (leader, "a", 2);
    assert_int_equal (raft_core_add_learner (leader, &member, &index), 0); //  no-op committed
    assert_int_equal (index, 3);
    assert_true (raft_fixture_has_member (leader, 4, false));
    assert_int_equal (raft_core_config_index (leader), 3);
    assert_int_equal (raft_core_remove (leader, 3, &index), -1); //  previous change uncommitted
    assert_int_equal (raft_core_add_learner (leader, &member, &index), -1);
    harness->persist = true;

    //  The learner gets the log and the configuration; alone with it the
    //  leader commits nothing: learners do not count
    harness->isolated = 0;
    raft_fixture_collect (harness, 1);
    raft_core_destroy (&harness->cores[2]);
    raft_core_destroy (&harness->cores[3]);
    raft_fixture_beat (harness, &now);
    raft_fixture_beat (harness, &now);
    assert_int_equal (raft_core_last_index (joiner), 3);
    assert_true (raft_fixture_has_member (joiner, 4, false));
    assert_int_equal (raft_core_commit_index (leader), 1);

    //  Back with a majority: the change commits, the learner is promoted
    //  by the leader itself, and the promotion commits too
    raft_core_options_t options = raft_fixture_options (harness, 2);
    options.voters = harness->voters;
    options.voter_count = 3;
    harness->cores[2] = raft_core_new (&options);
    harness->applied[2] = 0;
    for (int beat = 0; beat < 10; beat++)
        raft_fixture_beat (harness, &now);
    assert_true (raft_fixture_has_member (leader, 4, true));
    assert_true (raft_fixture_has_member (joiner, 4, true));
    assert_true (raft_core_commit_index (leader) >= raft_core_config_index (leader));
    size_t voters;
    raft_core_voters (leader, &voters);
    assert_int_equal (voters, 4);
    raft_progress_t progress;
    assert_int_equal (raft_core_progress (leader, 4, &progress), 0);
    assert_int_equal (progress.match_index, raft_core_last_index (leader));
    assert_true (progress.replicating);
    assert_int_equal (raft_core_progress (leader, 1, &progress), -1);
    assert_int_equal (raft_core_progress (joiner, 1, &progress), -1);

    //  Now 3 of 4 voters are needed: the leader with node 4 alone cannot commit
    raft_core_destroy (&harness->cores[2]);
    uint64_t committed = raft_core_commit_index (leader);
    raft_fixture_propose (leader, "b", raft_core_last_index (leader) + 1);
    raft_fixture_beat (harness, &now);
    assert_int_equal (raft_core_commit_index (leader), committed);
    raft_fixture_destroy (&harness);
}

//  With manual promotion the leader leaves a caught-up learner alone.
static void
test_manual_promotion (void **state)
{
    (void)state;
    raft_fixture_t *harness = raft_fixture_new (3, false);
    for (uint32_t id = 1; id <= 3; id++) {
        raft_core_options_t options = raft_fixture_options (harness, id);
        options.manual_promotion = true;
        harness->cores[id] = raft_core_new (&options);
    }
    raft_fixture_add_joining (harness, 4, 0);
    raft_fixture_elect (harness, 1, ELECTION_MAX);
    raft_core_t *leader = harness->cores[1];
    uint64_t now = ELECTION_MAX;
    raft_member_t member = raft_fixture_member (4, false);
    assert_int_equal (raft_core_add_learner (leader, &member, NULL), 0);
    assert_false (raft_core_learner_caught_up (leader, 4));
    for (int beat = 0; beat < 5; beat++)
        raft_fixture_beat (harness, &now);
    assert_true (raft_fixture_has_member (leader, 4, false));
    assert_true (raft_core_learner_caught_up (leader, 4));
    assert_false (raft_core_learner_caught_up (leader, 2)); //  a voter
    assert_int_equal (raft_core_promote (leader, 2, NULL), -1);
    assert_int_equal (raft_core_promote (leader, 4, NULL), 0);
    raft_fixture_beat (harness, &now);
    assert_true (raft_fixture_has_member (harness->cores[3], 4, true));
    raft_fixture_destroy (&harness);
}

static void
test_change_rules (void **state)
{
    (void)state;
    raft_fixture_t *harness = raft_fixture_new (3, true);
    raft_core_t *follower = harness->cores[2];
    raft_member_t member = raft_fixture_member (4, false);
    assert_int_equal (raft_core_add_learner (follower, &member, NULL), -1); //  not leader
    raft_fixture_elect (harness, 1, ELECTION_MAX);
    raft_core_t *leader = harness->cores[1];
    //  Two voters at once, no voter left, a repeated id, an unknown id
    raft_member_t five[] = {raft_fixture_member (1, true), raft_fixture_member (2, true),
                            raft_fixture_member (3, true), raft_fixture_member (4, true),
                            raft_fixture_member (5, true)};
    assert_int_equal (raft_core_propose_config (leader, five, 5, NULL), -1);
    raft_member_t none[] = {raft_fixture_member (1, false)};
    assert_int_equal (raft_core_propose_config (leader, none, 1, NULL), -1);
    five[4].id = 4;
    assert_int_equal (raft_core_propose_config (leader, five, 5, NULL), -1);
    assert_int_equal (raft_core_remove (leader, 9, NULL), -1);
    assert_int_equal (raft_core_promote (leader, 9, NULL), -1);
    //  Demoting a voter to learner is one voter less: allowed, but not
    //  while leadership is being handed over
    raft_member_t demoted[] = {raft_fixture_member (1, true), raft_fixture_member (2, true),
                               raft_fixture_member (3, false)};
    assert_int_equal (raft_core_transfer_leadership (leader, 2), 0);
    assert_int_equal (raft_core_propose_config (leader, demoted, 3, NULL), -1);
    harness->isolated = 2;
    uint64_t now = ELECTION_MAX;
    while (raft_core_transfer_target (leader)) //  it gives up
        raft_fixture_beat (harness, &now);
    assert_int_equal (raft_core_role (leader), RAFT_ROLE_LEADER);
    assert_int_equal (raft_core_propose_config (leader, demoted, 3, NULL), 0);
    assert_true (raft_fixture_has_member (leader, 3, false));
    size_t voters;
    raft_core_voters (leader, &voters);
    assert_int_equal (voters, 2);
    raft_fixture_destroy (&harness);
}

//  A configuration rules as soon as it is in the log, and is undone when a
//  new leader truncates it.
static void
test_config_reverts_when_truncated (void **state)
{
    (void)state;
    raft_fixture_t *harness = raft_fixture_new (3, true);
    raft_core_t *follower = harness->cores[2];
    raft_member_t members[] = {raft_fixture_member (1, true), raft_fixture_member (2, true)};
    size_t size;
    uint8_t *payload = raft_core_config_encode (members, 2, &size);
    raft_entry_t entries[] = {
        {.term = 1, .index = 1, .type = RAFT_ENTRY_NOOP},
        {.term = 1, .index = 2, .type = RAFT_ENTRY_CONFIG, .data = payload, .size = size}};
    raft_message_t append = raft_fixture_append (1, 2, 1, 0, 0, entries, 2, 0);
    raft_core_receive (follower, &append);
    free (payload);
    raft_ready_t ready;
    assert_true (raft_core_ready (follower, &ready));
    assert_true (ready.config_changed);
    assert_int_equal (ready.member_count, 2);
    raft_core_advance (follower);
    assert_false (raft_fixture_has_member (follower, 3, true));
    assert_int_equal (raft_core_config_index (follower), 2);

    //  Node 3 leads term 2 without that entry: truncated, configuration back
    raft_entry_t other[] = {{.term = 2, .index = 2, .type = RAFT_ENTRY_NOOP}};
    append = raft_fixture_append (3, 2, 2, 1, 1, other, 1, 0);
    raft_core_receive (follower, &append);
    assert_true (raft_core_ready (follower, &ready));
    assert_true (ready.config_changed);
    assert_int_equal (ready.truncate_from, 2);
    assert_int_equal (ready.member_count, 3);
    raft_core_advance (follower);
    assert_true (raft_fixture_has_member (follower, 3, true));
    assert_int_equal (raft_core_config_index (follower), 0);

    //  Restored from disk, a configuration entry rules too: node 4 joined
    //  as a learner, it never campaigns
    raft_core_options_t options = raft_fixture_options (harness, 4);
    options.term = 1;
    options.voter_count = 0;
    raft_core_t *restored = raft_core_new (&options);
    raft_member_t with_learner[] = {raft_fixture_member (1, true), raft_fixture_member (2, true),
                                    raft_fixture_member (3, true), raft_fixture_member (4, false)};
    payload = raft_core_config_encode (with_learner, 4, &size);
    raft_entry_t config = {
        .term = 1, .index = 1, .type = RAFT_ENTRY_CONFIG, .data = payload, .size = size};
    assert_int_equal (raft_core_restore_entry (restored, &config), 0);
    free (payload);
    assert_true (raft_fixture_has_member (restored, 4, false));
    raft_core_tick (restored, 10 * ELECTION_MAX);
    assert_int_equal (raft_core_term (restored), 1);
    assert_false (raft_core_ready (restored, &ready));
    raft_core_destroy (&restored);
    raft_fixture_destroy (&harness);
}

//  A leader removing itself leads until the change commits, then hands
//  over to the most up-to-date voter, which takes over at once.
static void
test_leader_removes_itself (void **state)
{
    (void)state;
    raft_fixture_t *harness = raft_fixture_new_led (3);
    raft_core_t *leader = harness->cores[1];
    uint64_t now = ELECTION_MAX;
    raft_fixture_beat (harness, &now); //  every clock in step
    uint64_t index;
    assert_int_equal (raft_core_remove (leader, 1, &index), 0);
    assert_int_equal (raft_core_role (leader), RAFT_ROLE_LEADER);
    raft_fixture_propose (leader, "still leading", index + 1);
    raft_fixture_collect (harness, 1);
    raft_fixture_deliver_all (harness);
    assert_int_equal (raft_core_role (leader), RAFT_ROLE_FOLLOWER);
    uint32_t next = raft_core_leader (harness->cores[2]) ? 2 : 3;
    assert_int_equal (raft_core_role (harness->cores[next]), RAFT_ROLE_LEADER);
    assert_int_equal (raft_core_term (harness->cores[next]), 2);
    assert_int_equal (raft_core_leader (harness->cores[5 - next]), next);
    //  It never campaigns again; the others carry on in term 2
    for (int beat = 0; beat < 20; beat++)
        raft_fixture_beat (harness, &now);
    assert_int_equal (raft_core_role (leader), RAFT_ROLE_FOLLOWER);
    assert_int_equal (raft_core_term (leader), 1);
    assert_int_equal (raft_core_role (harness->cores[next]), RAFT_ROLE_LEADER);
    assert_int_equal (raft_core_term (harness->cores[next]), 2);
    assert_false (raft_fixture_has_member (harness->cores[next], 1, true));
    raft_fixture_propose (harness->cores[next], "new",
                          raft_core_last_index (harness->cores[next]) + 1);
    raft_fixture_destroy (&harness);
}

//  Dissertation 4.2.2: a leader removes itself from {1,2}, but node 2
//  never got that entry, and node 1 restarts. Node 2 (still in {1,2})
//  needs node 1's vote, which node 1 refuses (its log is longer); node 1,
//  a voter until that change commits, must campaign in {2}, win, commit
//  the change, and hand over.
static void
test_removed_voter_still_needed_campaigns (void **state)
{
    (void)state;
    raft_fixture_t *harness = raft_fixture_new_led (2);
    uint64_t now = ELECTION_MAX;
    raft_fixture_beat (harness, &now);
    harness->isolated = 2;
    uint64_t index;
    assert_int_equal (raft_core_remove (harness->cores[1], 1, &index), 0);
    raft_fixture_collect (harness, 1);
    raft_fixture_drop_all (harness);

    //  Node 1 restarts from its log
    raft_core_t *old = harness->cores[1];
    raft_core_options_t options = raft_fixture_options (harness, 1);
    options.term = raft_core_term (old);
    options.voted_for = raft_core_voted_for (old);
    options.now_ms = now;
    raft_core_t *restarted = raft_core_new (&options);
    for (uint64_t position = 1; position <= raft_core_last_index (old); position++)
        assert_int_equal (raft_core_restore_entry (restarted, raft_core_entry (old, position)), 0);
    raft_core_destroy (&harness->cores[1]);
    harness->cores[1] = restarted;
    harness->applied[1] = 0;
    assert_false (raft_fixture_has_member (restarted, 1, true));

    harness->isolated = 0;
    for (int beat = 0; beat < 40 && raft_core_role (harness->cores[2]) != RAFT_ROLE_LEADER; beat++)
        raft_fixture_beat (harness, &now);
    raft_core_t *survivor = harness->cores[2];
    assert_int_equal (raft_core_role (survivor), RAFT_ROLE_LEADER);
    assert_false (raft_fixture_has_member (survivor, 1, true));
    assert_true (raft_core_commit_index (survivor) >= index);
    assert_int_equal (raft_core_role (restarted), RAFT_ROLE_FOLLOWER);
    //  Knowing its removal committed, node 1 never campaigns again
    uint64_t term = raft_core_term (survivor);
    for (int beat = 0; beat < 20; beat++)
        raft_fixture_beat (harness, &now);
    assert_int_equal (raft_core_term (survivor), term);
    assert_int_equal (raft_core_role (survivor), RAFT_ROLE_LEADER);
    raft_fixture_destroy (&harness);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_config_payload),
        cmocka_unit_test (test_learner_joins_and_is_promoted),
        cmocka_unit_test (test_manual_promotion),
        cmocka_unit_test (test_change_rules),
        cmocka_unit_test (test_config_reverts_when_truncated),
        cmocka_unit_test (test_leader_removes_itself),
        cmocka_unit_test (test_removed_voter_still_needed_campaigns),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
