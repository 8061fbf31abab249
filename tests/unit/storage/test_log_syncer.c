/*  test_log_syncer — the log's sync handed to another thread: a handoff
    gives the newest segment's descriptor and counts it synced, nothing to
    hand off gives none, a fresh segment (its directory entry unsynced)
    refuses the handoff; the syncer answers each ticket in order, durable or
    with the error fdatasync gave.
*/
#include "log_fixture.h"
#include "storage/log_syncer.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <unistd.h>
#include <cmocka.h>

static void
test_handoff_gives_the_newest_segment_once (void **state)
{
    log_fixture_t *fixture = (log_fixture_t *)*state;
    log_store_t *log = log_fixture_open (fixture);
    int fd;
    //  Nothing written: nothing to sync
    assert_int_equal (log_store_sync_handoff (log, &fd), 0);
    assert_int_equal (fd, -1);
    //  The first segment was just made: its directory entry is the store's
    log_fixture_append_range (log, 1, 5, 0, 1);
    assert_int_equal (log_store_sync_handoff (log, &fd), -1);
    assert_int_equal (fd, -1);
    assert_int_equal (log_store_sync (log), 0);

    log_fixture_append_range (log, 6, 9, 0, 1);
    assert_int_equal (log_store_sync_handoff (log, &fd), 0);
    assert_true (fd >= 0);
    assert_int_equal (fdatasync (fd), 0);
    close (fd);
    //  Counted synced: a second handoff has nothing to give
    assert_int_equal (log_store_sync_handoff (log, &fd), 0);
    assert_int_equal (fd, -1);
    log_fixture_reopen (fixture, &log);
    log_fixture_check_log (log, 1, 9, 0, 0);
    log_store_destroy (&log);
}

static void
test_syncer_answers_each_ticket (void **state)
{
    log_fixture_t *fixture = (log_fixture_t *)*state;
    log_store_t *log = log_fixture_open (fixture);
    log_fixture_append_range (log, 1, 3, 0, 1);
    assert_int_equal (log_store_sync (log), 0);
    log_syncer_t *syncer = log_syncer_new ();
    assert_non_null (syncer);
    for (uint64_t ticket = 1; ticket <= 3; ticket++) {
        log_fixture_append_range (log, 3 * ticket + 1, 3 * ticket + 3, 0, 1);
        int fd;
        assert_int_equal (log_store_sync_handoff (log, &fd), 0);
        assert_int_equal (log_syncer_sync (syncer, fd, ticket * 10), 0);
    }
    for (uint64_t ticket = 1; ticket <= 3; ticket++) {
        uint64_t answered, usecs;
        int error = -1;
        assert_int_equal (log_syncer_recv (syncer, &answered, &usecs, &error), 0);
        assert_int_equal (answered, ticket * 10);
        assert_int_equal (error, 0);
    }
    //  What fdatasync refuses (a pipe) comes back as its error
    int ends[2];
    assert_int_equal (pipe (ends), 0);
    assert_int_equal (log_syncer_sync (syncer, ends[0], 99), 0);
    uint64_t answered, usecs;
    int error = 0;
    assert_int_equal (log_syncer_recv (syncer, &answered, &usecs, &error), 0);
    assert_int_equal (answered, 99);
    assert_int_equal (error, EINVAL);
    close (ends[1]);
    log_syncer_destroy (&syncer);
    assert_null (syncer);
    log_fixture_reopen (fixture, &log);
    log_fixture_check_log (log, 1, 12, 0, 0);
    log_store_destroy (&log);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown (test_handoff_gives_the_newest_segment_once,
                                         log_fixture_setup, log_fixture_teardown),
        cmocka_unit_test_setup_teardown (test_syncer_answers_each_ticket, log_fixture_setup,
                                         log_fixture_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
