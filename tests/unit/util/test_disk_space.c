/*  test_disk_space — a watch looks once per period and counts what is
    taken in between; a path not made yet is read through its parent.
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdint.h>
#include <stdio.h>

#include "util/disk_space.h"

static void
test_watch_estimates_between_looks (void **state)
{
    (void)state;
    disk_space_watch_t *watch = disk_space_watch_new ("/tmp", 100);
    assert_non_null (watch);
    uint64_t looked = disk_space_watch_free (watch, 1000);
    assert_true (looked > 1000000 && looked != UINT64_MAX);
    disk_space_watch_take (watch, 1000000);
    //  Within the period: the estimate, not a look
    assert_int_equal (disk_space_watch_free (watch, 1099), looked - 1000000);
    //  A period later: looked up again, the estimate forgotten
    uint64_t again = disk_space_watch_free (watch, 1100);
    assert_true (again > looked - 1000000);
    disk_space_watch_take (watch, UINT64_MAX);
    assert_int_equal (disk_space_watch_free (watch, 1101), 0);
    disk_space_watch_destroy (&watch);
    assert_null (watch);
}

static void
test_unreadable_path_refuses_nothing (void **state)
{
    (void)state;
    disk_space_watch_t *watch = disk_space_watch_new ("/nonexistent-raftq/a/b", 100);
    assert_int_equal (disk_space_watch_free (watch, 5), UINT64_MAX);
    disk_space_watch_take (watch, 10);
    assert_int_equal (disk_space_watch_free (watch, 6), UINT64_MAX);
    disk_space_watch_destroy (&watch);
    uint64_t free_bytes;
    //  Not made yet, but its parent is
    assert_int_equal (disk_space_free ("/tmp/raftq-not-made-yet", &free_bytes), 0);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_watch_estimates_between_looks),
        cmocka_unit_test (test_unreadable_path_refuses_nothing),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
