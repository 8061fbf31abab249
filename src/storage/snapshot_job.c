/*  snapshot_job — owns the forked child that writes a snapshot and the
    parent's side of it: the report pipe, the reaping, the outcome. See
    snapshot_job.h.

    Decisions worth knowing:
    - fork() and copy-on-write, as Redis does, because packing 1M queued
      messages on the broker thread held it for about half a second. The
      fork copies page tables only (about 20 ms for a 1M-message state);
      the child streams straight into the file (no body in memory), runs
      niced, and dies with its parent (PR_SET_PDEATHSIG). It uses only
      malloc, which glibc keeps usable after fork, and never a ZeroMQ
      socket or stdio.
    - The parent reads the report without blocking and reaps the child once
      the pipe hangs up: the child's files close only after its memory is
      released, so the reap does not wait for that teardown.
    - The report is the outcome, not the exit status: a tool running the
      child (valgrind) may change the status for memory it never frees.
*/
#include "storage/snapshot_job.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "storage/node_dir.h"
#include "util/error_text.h"

#define SNAPSHOT_REASON_SIZE 256
//  How much the child yields the CPU to the broker
#define SNAPSHOT_JOB_NICE 10

//  What a child tells its parent, in one write (smaller than PIPE_BUF, so
//  it arrives whole or not at all).
typedef struct {
    uint8_t written;                   //  1: the snapshot is in place
    char reason[SNAPSHOT_REASON_SIZE]; //  else why not
} job_report_t;

struct _snapshot_job_t {
    pid_t pid;                         //  the child, 0 once reaped
    int fd;                            //  read end of its report pipe, -1 once closed
    char *dir;                         //  the snapshot directory
    uint64_t index;                    //  applied index of the state it writes
    uint64_t term;                     //  term of that entry
    job_report_t report;               //  what it reported
    size_t received;                   //  bytes of report read so far
    bool ended;                        //  reaped, outcome known
    bool written;                      //  outcome: the snapshot is in place
    uint64_t bytes;                    //  outcome: its file's size (0 if unknown)
    char reason[SNAPSHOT_REASON_SIZE]; //  outcome: why not
};

//  The child: runs the source and writes the snapshot as of the fork,
//  reports, and leaves without running anything of the parent's (no
//  atexit handlers, no stdio flush, no ZeroMQ: those belong to threads
//  that are not here).
static void
s_job_child (int report_fd, pid_t parent, const char *dir, const snapshot_header_t *header,
             snapshot_source_fn *source, void *argument)
{
    //  Dies with its parent: an orphan would race a restarted node's files
    prctl (PR_SET_PDEATHSIG, SIGKILL);
    if (getppid () != parent)
        _exit (2);
    //  The broker's signal handlers only set flags nobody reads here
    signal (SIGINT, SIG_DFL);
    signal (SIGTERM, SIG_DFL);
    sigset_t none;
    sigemptyset (&none);
    sigprocmask (SIG_SETMASK, &none, NULL);
    //  The broker and the Raft thread come first on a busy machine (best
    //  effort: at normal priority the snapshot is as good)
    setpriority (PRIO_PROCESS, 0, SNAPSHOT_JOB_NICE);
    job_report_t report;
    memset (&report, 0, sizeof report);
    if (snapshot_write (dir, header, source, argument, report.reason, sizeof report.reason) == 0)
        report.written = 1;
    //  A short write leaves the parent without a report: it says so
    ssize_t sent;
    do
        sent = write (report_fd, &report, sizeof report);
    while (sent < 0 && errno == EINTR);
    _exit (report.written ? 0 : 1);
}

snapshot_job_t *
snapshot_job_start (const char *dir, const snapshot_header_t *header, snapshot_source_fn *source,
                    void *argument, char *error, size_t error_size)
{
    assert (dir && header && source);
    uint64_t index = header->index;
    if (index == 0) {
        error_text_set (error, error_size, "nothing applied yet: no snapshot to take");
        return NULL;
    }
    snapshot_job_t *self = (snapshot_job_t *)calloc (1, sizeof (snapshot_job_t));
    int pipe_fds[2] = {-1, -1};
    if (!self || !(self->dir = strdup (dir))) {
        error_text_set (error, error_size, "no memory for a snapshot job");
        snapshot_job_destroy (&self);
        return NULL;
    }
    self->fd = -1;
    self->index = index;
    self->term = header->term;
    if (pipe2 (pipe_fds, O_CLOEXEC)) {
        error_text_set (error, error_size, "snapshot %" PRIu64 ": pipe: %s", index,
                        strerror (errno));
        snapshot_job_destroy (&self);
        return NULL;
    }
    pid_t parent = getpid ();
    pid_t pid = fork ();
    if (pid == 0) {
        close (pipe_fds[0]);
        s_job_child (pipe_fds[1], parent, dir, header, source, argument);
    }
    int saved = errno;
    close (pipe_fds[1]);
    if (pid < 0) {
        close (pipe_fds[0]);
        error_text_set (error, error_size, "snapshot %" PRIu64 ": fork: %s", index,
                        strerror (saved));
        snapshot_job_destroy (&self);
        return NULL;
    }
    self->pid = pid;
    self->fd = pipe_fds[0];
    //  The parent's loop must never block on it
    fcntl (self->fd, F_SETFL, fcntl (self->fd, F_GETFL) | O_NONBLOCK);
    return self;
}

//  Removes the temporary a child that did not finish may have left.
static void
s_job_remove_temporary (snapshot_job_t *self)
{
    char temporary[NODE_DIR_NAME_SIZE];
    node_dir_file_name (temporary, NODE_DIR_SNAPSHOT_WRITING, self->index);
    int directory_fd = open (self->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (directory_fd >= 0) {
        unlinkat (directory_fd, temporary, 0);
        close (directory_fd);
    }
}

//  Reaps the child and settles the outcome from its report and exit status.
static void
s_job_reap (snapshot_job_t *self)
{
    int status = 0;
    pid_t reaped;
    do
        reaped = waitpid (self->pid, &status, 0);
    while (reaped < 0 && errno == EINTR);
    self->pid = 0;
    self->ended = true;
    bool reported = self->received == sizeof self->report;
    if (reaped < 0)
        error_text_set (self->reason, sizeof self->reason,
                        "snapshot %" PRIu64 ": cannot reap its process: %s", self->index,
                        strerror (errno));
    else if (WIFSIGNALED (status))
        error_text_set (self->reason, sizeof self->reason,
                        "snapshot %" PRIu64 ": its process was killed by signal %d (%s)",
                        self->index, WTERMSIG (status), strsignal (WTERMSIG (status)));
    else if (!reported)
        error_text_set (self->reason, sizeof self->reason,
                        "snapshot %" PRIu64 ": its process exited (status %d) without a report",
                        self->index, WEXITSTATUS (status));
    //  The report is the outcome: the child sends it once the snapshot is in
    //  place or has failed. Its exit status is not, since a tool running
    //  it (valgrind) may change it for memory the child never frees
    else if (!self->report.written) {
        self->report.reason[sizeof self->report.reason - 1] = 0;
        error_text_set (self->reason, sizeof self->reason, "%s",
                        self->report.reason[0] ? self->report.reason : "failed without a reason");
    } else {
        self->written = true;
        char path[PATH_MAX];
        struct stat status_of_file;
        snapshot_path (self->dir, self->index, path, sizeof (path));
        if (stat (path, &status_of_file) == 0)
            self->bytes = (uint64_t)status_of_file.st_size;
    }
    if (!self->written)
        s_job_remove_temporary (self);
}

int
snapshot_job_collect (snapshot_job_t *self)
{
    assert (self);
    if (self->ended)
        return 1;
    //  The report comes first; the end of file says the child has closed
    //  its files, which it does once its memory is gone, so the wait below
    //  is short
    while (true) {
        uint8_t *into = (uint8_t *)&self->report + self->received;
        size_t room = sizeof self->report - self->received;
        uint8_t scratch[64];
        ssize_t got = room ? read (self->fd, into, room) : read (self->fd, scratch, sizeof scratch);
        if (got > 0) {
            self->received += room ? (size_t)got : 0;
            continue;
        }
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return 0;
        break; //  end of file, or a read error: the child is gone or going
    }
    close (self->fd);
    self->fd = -1;
    s_job_reap (self);
    return 1;
}

int
snapshot_job_wait (snapshot_job_t *self)
{
    assert (self);
    while (!snapshot_job_collect (self)) {
        struct pollfd item = {self->fd, POLLIN, 0};
        if (poll (&item, 1, -1) < 0 && errno != EINTR)
            return -1;
    }
    return 0;
}

void
snapshot_job_destroy (snapshot_job_t **self_p)
{
    assert (self_p);
    snapshot_job_t *self = *self_p;
    if (self) {
        if (self->pid > 0) {
            //  Cut short: nobody waits for it any more
            kill (self->pid, SIGKILL);
            int status;
            while (waitpid (self->pid, &status, 0) < 0 && errno == EINTR)
                continue;
            s_job_remove_temporary (self);
        }
        if (self->fd >= 0)
            close (self->fd);
        free (self->dir);
        free (self);
        *self_p = NULL;
    }
}

int
snapshot_job_fd (snapshot_job_t *self)
{
    assert (self);
    return self->fd;
}

pid_t
snapshot_job_pid (snapshot_job_t *self)
{
    assert (self);
    return self->pid;
}

uint64_t
snapshot_job_index (snapshot_job_t *self)
{
    assert (self);
    return self->index;
}

uint64_t
snapshot_job_term (snapshot_job_t *self)
{
    assert (self);
    return self->term;
}

bool
snapshot_job_written (snapshot_job_t *self)
{
    assert (self);
    return self->ended && self->written;
}

uint64_t
snapshot_job_bytes (snapshot_job_t *self)
{
    assert (self);
    return self->bytes;
}

const char *
snapshot_job_reason (snapshot_job_t *self)
{
    assert (self);
    return self->reason;
}
