/*  snapshot_fixture — the snapshot tests' fixture. See snapshot_fixture.h.  */
#include "snapshot_fixture.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "storage/snapshot.h"
#include "temp_dir.h"

int
snapshot_fixture_setup (void **state)
{
    snapshot_fixture_t *fixture = calloc (1, sizeof (snapshot_fixture_t));
    if (!fixture || temp_dir_make (fixture->root, sizeof fixture->root, "test-snapshot")) {
        free (fixture);
        return -1;
    }
    snprintf (fixture->dir, sizeof fixture->dir, "%s/snap", fixture->root);
    snprintf (fixture->other, sizeof fixture->other, "%s/other", fixture->root);
    const char *text = getenv ("RAFTQ_TEST_SEED");
    fixture->seed =
        text ? strtoull (text, NULL, 0) : (uint64_t)time (NULL) * 1000003ULL ^ (uint64_t)getpid ();
    //  Printed before the test runs, so that a failing assertion has it
    printf ("  seed %" PRIu64 " (RAFTQ_TEST_SEED replays it)\n", fixture->seed);
    *state = fixture;
    return 0;
}

int
snapshot_fixture_teardown (void **state)
{
    snapshot_fixture_t *fixture = (snapshot_fixture_t *)*state;
    int rc = temp_dir_remove (fixture->root);
    free (fixture);
    return rc;
}

void
snapshot_fixture_expect_indexes (const char *dir, const uint64_t *expected, size_t expected_count)
{
    uint64_t *indexes;
    size_t count;
    assert_int_equal (snapshot_list (dir, &indexes, &count), 0);
    assert_int_equal (count, expected_count);
    for (size_t position = 0; position < count; position++)
        assert_int_equal (indexes[position], expected[position]);
    free (indexes);
}
