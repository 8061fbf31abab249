/*  test_raft_start — creating a Raft core and restoring it from disk.

    Options validated, restored entries and a restored snapshot.
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
test_options_validated (void **state)
{
    (void)state;
    raft_fixture_t *harness = raft_fixture_new (3, false);
    raft_core_options_t options = raft_fixture_options (harness, 1);
    options.self_id = 0;
    assert_null (raft_core_new (&options));
    options = raft_fixture_options (harness, 1);
    options.election_timeout_min_ms = 500;
    options.election_timeout_max_ms = 100;
    assert_null (raft_core_new (&options));
    uint32_t duplicated[] = {1, 2, 2};
    options = raft_fixture_options (harness, 1);
    options.voters = duplicated;
    assert_null (raft_core_new (&options));
    uint32_t zero[] = {1, 0, 3};
    options.voters = zero;
    assert_null (raft_core_new (&options));
    //  A full member list: the same rules, and hosts must be terminated
    raft_member_t members[2] = {{.id = 1, .voter = true}, {.id = 1}};
    options = raft_fixture_options (harness, 1);
    options.members = members;
    options.member_count = 2;
    assert_null (raft_core_new (&options));
    members[1].id = 2;
    memset (members[1].host, 'x', sizeof (members[1].host));
    assert_null (raft_core_new (&options));
    members[1].host[0] = 0;
    members[1].peer_port = 70000;
    assert_null (raft_core_new (&options));
    members[1].peer_port = 5601;
    raft_core_t *core = raft_core_new (&options);
    assert_non_null (core);
    size_t count;
    const raft_member_t *held = raft_core_members (core, &count);
    assert_int_equal (count, 2);
    assert_int_equal (held[1].peer_port, 5601);
    assert_false (held[1].voter);
    assert_int_equal (raft_core_voters (core, &count)[0], 1);
    assert_int_equal (count, 1);
    raft_core_destroy (&core);
    raft_fixture_destroy (&harness);
}

static void
test_restore_rules (void **state)
{
    (void)state;
    raft_fixture_t *harness = raft_fixture_new (3, false);
    raft_core_t *core = raft_fixture_start_core (harness, 1, 2);
    raft_entry_t entry = {.term = 1, .index = 2};
    assert_int_equal (raft_core_restore_entry (core, &entry), -1); //  not from 1
    entry.index = 1;
    entry.term = 3;
    assert_int_equal (raft_core_restore_entry (core, &entry), -1); //  beyond the saved term
    raft_fixture_restore (core, 1, 1);
    raft_fixture_restore (core, 2, 2);
    assert_int_equal (raft_core_persisted_index (core), 2);
    raft_ready_t ready;
    assert_false (raft_core_ready (core, &ready)); //  restored entries are not handed out again
    raft_fixture_destroy (&harness);
}

static void
test_restore_snapshot_rules (void **state)
{
    (void)state;
    raft_fixture_t *harness = raft_fixture_new (3, false);
    raft_core_t *core = raft_fixture_start_core (harness, 1, 2);
    raft_member_t members[MAX_NODES];
    size_t count = raft_fixture_voter_members (harness, members);
    members[2].voter = false;
    assert_int_equal (raft_core_restore_snapshot (core, 10, 3, members, count), -1); //  term
    assert_int_equal (raft_core_restore_snapshot (core, 10, 2, members, count), 0);
    assert_true (raft_fixture_has_member (core, 3, false));
    assert_int_equal (raft_core_config_index (core), 10);
    assert_int_equal (raft_core_commit_index (core), 10);
    assert_int_equal (raft_core_applied_index (core), 10);
    raft_entry_t entry = {.term = 2, .index = 12};
    assert_int_equal (raft_core_restore_entry (core, &entry), -1); //  a gap
    entry.index = 11;
    assert_int_equal (raft_core_restore_entry (core, &entry), 0);
    assert_int_equal (raft_core_last_index (core), 11);
    raft_ready_t ready;
    assert_false (raft_core_ready (core, &ready));
    raft_fixture_destroy (&harness);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_options_validated),
        cmocka_unit_test (test_restore_rules),
        cmocka_unit_test (test_restore_snapshot_rules),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
