/*  test_snapshot_job — snapshots written by a forked child: the job writes
    what the source reads as of the fork (the parent changes it at once),
    byte for byte what snapshot_write makes of the same bytes; a failure's
    reason comes back (the child's own, or the source's), a child killed
    by a signal and a job destroyed while running leave no child and no
    temporary behind; and the job does not prune. Under valgrind add
    --child-silent-after-fork=yes: a job's child leaves with _exit and
    never frees its copy of the parent's memory.
*/
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <czmq.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "storage/snapshot.h"
#include "storage/snapshot_job.h"
#include "snapshot_fixture.h"
#include "test_files.h"

#define PATH_SIZE  512
#define ERROR_SIZE 512
#define MEMBERSHIP "voters:1,2,3"
//  How long a test waits for a job before failing
#define WRITER_DEADLINE_MS 60000
//  Bytes of the state the tests snapshot
#define STATE_BYTES (2 * 1024 * 1024 + 5)

//  The state a source streams: bytes in the caller's memory.
typedef struct {
    uint8_t *bytes;     //  the state
    size_t size;        //  its size
    const char *refuse; //  non-NULL: fail with this reason
} state_t;

static int
s_source (void *argument, snapshot_output_t *output, char *error, size_t error_size)
{
    state_t *state = (state_t *)argument;
    if (state->refuse) {
        snprintf (error, error_size, "%s", state->refuse);
        return -1;
    }
    //  In pieces, as a packer would
    for (size_t at = 0; at < state->size; at += 1000)
        snapshot_output_write (output, state->bytes + at,
                               state->size - at < 1000 ? state->size - at : 1000);
    return 0;
}

static snapshot_header_t
s_header (uint64_t index)
{
    snapshot_header_t header = {index, index * 3 + 1, (const uint8_t *)MEMBERSHIP,
                                strlen (MEMBERSHIP)};
    return header;
}

static void
s_fill (state_t *state, uint8_t value)
{
    memset (state->bytes, value, state->size);
}

//  Polls the job's descriptor and collects until the child has ended, as
//  a loop would; fails past the deadline.
static void
s_job_finish (snapshot_job_t *job)
{
    int64_t deadline = zclock_mono () + WRITER_DEADLINE_MS;
    while (!snapshot_job_collect (job)) {
        int left = (int)(deadline - zclock_mono ());
        if (left <= 0)
            fail_msg ("snapshot job still running after %d ms", WRITER_DEADLINE_MS);
        struct pollfd item = {snapshot_job_fd (job), POLLIN, 0};
        assert_true (poll (&item, 1, left) >= 0 || errno == EINTR);
    }
    //  Reaped: the descriptor is closed and no child is left
    assert_int_equal (snapshot_job_fd (job), -1);
    assert_int_equal (snapshot_job_pid (job), 0);
    assert_int_equal (waitpid (-1, NULL, WNOHANG), -1);
    assert_int_equal (errno, ECHILD);
}

//  No file of dir ends in ".tmp".
static void
s_expect_no_temporary (const char *dir)
{
    zdir_t *directory = zdir_new (dir, "-");
    zfile_t **files = directory ? zdir_flatten (directory) : NULL;
    for (size_t position = 0; files && files[position]; position++) {
        const char *name = zfile_filename (files[position], NULL);
        size_t length = strlen (name);
        if (length >= 4 && streq (name + length - 4, ".tmp"))
            fail_msg ("temporary %s left behind", name);
    }
    zdir_flatten_free (&files);
    zdir_destroy (&directory);
}

static void
test_job_writes_state_as_of_start (void **unused)
{
    snapshot_fixture_t *fixture = (snapshot_fixture_t *)*unused;
    state_t state = {malloc (STATE_BYTES), STATE_BYTES, NULL};
    assert_non_null (state.bytes);
    s_fill (&state, 0x11);
    snapshot_header_t header = s_header (400);
    char error[ERROR_SIZE] = "";
    snapshot_job_t *job =
        snapshot_job_start (fixture->dir, &header, s_source, &state, error, sizeof error);
    if (!job)
        fail_msg ("snapshot_job_start: %s", error);
    assert_int_equal (snapshot_job_index (job), 400);
    assert_int_equal (snapshot_job_term (job), 1201);
    assert_true (snapshot_job_pid (job) > 0);
    assert_true (snapshot_job_fd (job) >= 0);
    //  The parent goes on changing its state: the child writes the fork's
    s_fill (&state, 0x22);
    s_job_finish (job);
    assert_true (snapshot_job_written (job));
    assert_string_equal (snapshot_job_reason (job), "");
    snapshot_job_destroy (&job);
    assert_null (job);
    s_expect_no_temporary (fixture->dir);

    //  Byte for byte what snapshot_write makes of the same bytes
    s_fill (&state, 0x11);
    assert_int_equal (
        snapshot_write (fixture->other, &header, s_source, &state, error, sizeof error), 0);
    char path[PATH_SIZE], other_path[PATH_SIZE];
    snapshot_path (fixture->dir, 400, path, sizeof path);
    snapshot_path (fixture->other, 400, other_path, sizeof other_path);
    test_files_expect_same (path, other_path);

    //  Jobs do not prune: the snapshot writer does
    for (uint64_t index = 401; index <= 403; index++) {
        header = s_header (index);
        job = snapshot_job_start (fixture->dir, &header, s_source, &state, error, sizeof error);
        assert_non_null (job);
        assert_int_equal (snapshot_job_wait (job), 0);
        assert_true (snapshot_job_written (job));
        snapshot_job_destroy (&job);
    }
    uint64_t *indexes;
    size_t count;
    assert_int_equal (snapshot_list (fixture->dir, &indexes, &count), 0);
    assert_int_equal (count, 4);
    free (indexes);
    free (state.bytes);
}

static void
test_job_failure_reason (void **unused)
{
    snapshot_fixture_t *fixture = (snapshot_fixture_t *)*unused;
    char error[ERROR_SIZE] = "";
    uint8_t byte = 7;
    state_t state = {&byte, 1, NULL};
    //  Index 0: nothing applied, nothing to snapshot, no child
    snapshot_header_t header = s_header (0);
    assert_null (snapshot_job_start (fixture->dir, &header, s_source, &state, error, sizeof error));
    assert_non_null (strstr (error, "nothing applied"));
    //  A directory that cannot be created: the child's reason comes back
    header = s_header (50);
    char blocked[PATH_SIZE];
    snprintf (blocked, sizeof blocked, "%s/file", fixture->root);
    test_files_write (blocked, "x", 1);
    snprintf (blocked, sizeof blocked, "%s/file/snap", fixture->root);
    snapshot_job_t *job =
        snapshot_job_start (blocked, &header, s_source, &state, error, sizeof error);
    assert_non_null (job);
    s_job_finish (job);
    assert_false (snapshot_job_written (job));
    assert_non_null (strstr (snapshot_job_reason (job), "Not a directory"));
    snapshot_job_destroy (&job);
    //  The source's own reason
    state.refuse = "the state is too large";
    job = snapshot_job_start (fixture->dir, &header, s_source, &state, error, sizeof error);
    assert_non_null (job);
    s_job_finish (job);
    assert_false (snapshot_job_written (job));
    assert_non_null (strstr (snapshot_job_reason (job), "the state is too large"));
    snapshot_job_destroy (&job);
    s_expect_no_temporary (fixture->dir);
}

//  Starts a job of index 50 that cannot finish: a FIFO in the place of its
//  temporary, whose open for writing blocks until a reader comes, and none
//  does, so the job is certainly still running when the test acts on it.
//  The FIFO's path goes into fifo.
static snapshot_job_t *
s_blocked_job (const snapshot_fixture_t *fixture, char *fifo)
{
    assert_int_equal (mkdir (fixture->dir, 0755), 0);
    snapshot_path (fixture->dir, 50, fifo, PATH_SIZE - 4);
    strcat (fifo, ".tmp");
    assert_int_equal (mkfifo (fifo, 0644), 0);
    uint8_t byte = 7; //  read by the child, which the fork gave a copy
    state_t state = {&byte, 1, NULL};
    snapshot_header_t header = s_header (50);
    char error[ERROR_SIZE] = "";
    snapshot_job_t *job =
        snapshot_job_start (fixture->dir, &header, s_source, &state, error, sizeof error);
    assert_non_null (job);
    return job;
}

static void
test_job_child_killed (void **unused)
{
    snapshot_fixture_t *fixture = (snapshot_fixture_t *)*unused;
    char fifo[PATH_SIZE];
    snapshot_job_t *job = s_blocked_job (fixture, fifo);
    assert_int_equal (snapshot_job_collect (job), 0);
    assert_int_equal (kill (snapshot_job_pid (job), SIGKILL), 0);
    s_job_finish (job);
    assert_false (snapshot_job_written (job));
    assert_non_null (strstr (snapshot_job_reason (job), "signal 9"));
    //  What the dead child left in the temporary's place is gone
    assert_int_equal (access (fifo, F_OK), -1);
    snapshot_job_destroy (&job);
}

static void
test_job_destroyed_while_running (void **unused)
{
    snapshot_fixture_t *fixture = (snapshot_fixture_t *)*unused;
    char fifo[PATH_SIZE];
    snapshot_job_t *job = s_blocked_job (fixture, fifo);
    pid_t pid = snapshot_job_pid (job);
    snapshot_job_destroy (&job);
    assert_null (job);
    //  Killed and reaped, its temporary removed
    assert_int_equal (kill (pid, 0), -1);
    assert_int_equal (waitpid (-1, NULL, WNOHANG), -1);
    assert_int_equal (errno, ECHILD);
    assert_int_equal (access (fifo, F_OK), -1);
    uint64_t *indexes;
    size_t count;
    assert_int_equal (snapshot_list (fixture->dir, &indexes, &count), 0);
    assert_int_equal (count, 0);
    free (indexes);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown (test_job_writes_state_as_of_start, snapshot_fixture_setup,
                                         snapshot_fixture_teardown),
        cmocka_unit_test_setup_teardown (test_job_failure_reason, snapshot_fixture_setup,
                                         snapshot_fixture_teardown),
        cmocka_unit_test_setup_teardown (test_job_child_killed, snapshot_fixture_setup,
                                         snapshot_fixture_teardown),
        cmocka_unit_test_setup_teardown (test_job_destroyed_while_running, snapshot_fixture_setup,
                                         snapshot_fixture_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
