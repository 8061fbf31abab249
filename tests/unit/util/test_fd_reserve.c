/*  test_fd_reserve — fd_reserve.c under a lowered descriptor limit: the
    count of descriptors left follows every open and close and reads 0 at
    the limit, and a file is still opened at the limit by giving up the
    spare, which is taken again once a descriptor is free.
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include "util/fd_reserve.h"

//  Descriptors the lowered limit leaves the test.
#define HEADROOM 6

static struct rlimit s_saved_limit;

//  Lowers the soft limit so that HEADROOM descriptors are left: again
//  until it holds, since descriptors past a lowered limit no longer count.
static int
s_setup (void **state)
{
    (void)state;
    assert_int_equal (getrlimit (RLIMIT_NOFILE, &s_saved_limit), 0);
    struct rlimit lowered = s_saved_limit;
    for (int attempt = 0; attempt < 10 && fd_reserve_available () != HEADROOM; attempt++) {
        size_t available = fd_reserve_available ();
        assert_true (available != SIZE_MAX && lowered.rlim_cur + HEADROOM > available);
        lowered.rlim_cur = lowered.rlim_cur + HEADROOM - available;
        assert_int_equal (setrlimit (RLIMIT_NOFILE, &lowered), 0);
    }
    assert_int_equal (fd_reserve_available (), HEADROOM);
    return 0;
}

static int
s_teardown (void **state)
{
    (void)state;
    return setrlimit (RLIMIT_NOFILE, &s_saved_limit);
}

static void
test_available_follows_opens_and_closes (void **state)
{
    (void)state;
    assert_int_equal (fd_reserve_available (), HEADROOM);
    int held[HEADROOM];
    for (int index = 0; index < HEADROOM; index++) {
        held[index] = open ("/dev/null", O_RDONLY | O_CLOEXEC);
        assert_true (held[index] >= 0);
        assert_int_equal (fd_reserve_available (), HEADROOM - index - 1);
    }
    //  At the limit it cannot even look: none left
    assert_int_equal (open ("/dev/null", O_RDONLY), -1);
    assert_int_equal (fd_reserve_available (), 0);
    for (int index = 0; index < HEADROOM; index++)
        close (held[index]);
    assert_int_equal (fd_reserve_available (), HEADROOM);
}

static void
test_spare_opens_a_file_at_the_limit (void **state)
{
    (void)state;
    int spare = fd_reserve_take ();
    assert_true (spare >= 0);
    int held[HEADROOM - 1];
    for (int index = 0; index < HEADROOM - 1; index++)
        held[index] = open ("/dev/null", O_RDONLY | O_CLOEXEC);
    assert_int_equal (fd_reserve_available (), 0);
    //  Every descriptor taken: the spare makes room, and none is left to
    //  take it again
    int fd = fd_reserve_openat (&spare, AT_FDCWD, "/dev/null", O_RDONLY | O_CLOEXEC, 0);
    assert_true (fd >= 0);
    assert_int_equal (spare, -1);
    //  Without a spare, the limit is the limit
    int failed = fd_reserve_openat (&spare, AT_FDCWD, "/dev/null", O_RDONLY | O_CLOEXEC, 0);
    assert_int_equal (failed, -1);
    assert_int_equal (errno, EMFILE);
    //  One freed: the next open takes it, the spare the one after
    close (held[0]);
    close (held[1]);
    int next = fd_reserve_openat (&spare, AT_FDCWD, "/dev/null", O_RDONLY | O_CLOEXEC, 0);
    assert_true (next >= 0);
    assert_true (spare >= 0);
    assert_int_equal (fd_reserve_available (), 0);
    close (next);
    close (fd);
    fd_reserve_release (&spare);
    assert_int_equal (spare, -1);
    for (int index = 2; index < HEADROOM - 1; index++)
        close (held[index]);
    assert_int_equal (fd_reserve_available (), HEADROOM);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_available_follows_opens_and_closes),
        cmocka_unit_test (test_spare_opens_a_file_at_the_limit),
    };
    return cmocka_run_group_tests (tests, s_setup, s_teardown);
}
