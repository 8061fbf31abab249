/*  path_floor — what the parts of a committed write that the floor
    leaves out cost on this machine, without raftq:
      1. a round trip between two threads over an inproc PAIR (a czmq actor
         pipe), as between raftqd's broker and Raft threads: a write
         crosses it twice (PROPOSE there, COMMITTED back);
      2. fdatasync of a small append, alone and with WRITERS processes
         syncing their own files at once, as the nodes of a cluster on one
         disk do for every write.
    It prints medians and 99th percentiles in microseconds.

    Built by `make` as build/path_floor. Run:
        build/path_floor [ROUND_TRIPS] [SYNCS] [WRITERS] [DIRECTORY]
    (defaults 20000, 2000, 3, /tmp).
*/
#include <czmq.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

//  Bytes appended before each sync: a 256 B write with its log framing.
#define S_APPEND_BYTES 320

static int
s_compare (const void *left, const void *right)
{
    int64_t a = *(const int64_t *)left, b = *(const int64_t *)right;
    return a < b ? -1 : a > b;
}

static void
s_report (const char *what, int64_t *samples, size_t count)
{
    qsort (samples, count, sizeof (int64_t), s_compare);
    printf ("%-44s p50 %6" PRId64 " us   p99 %6" PRId64 " us   (%zu samples)\n", what,
            samples[count / 2], samples[count * 99 / 100], count);
}

//  Echoes every frame back until the pipe says $TERM.
static void
s_echo (zsock_t *pipe, void *argument)
{
    (void)argument;
    zsock_signal (pipe, 0);
    while (true) {
        zframe_t *frame = zframe_recv (pipe);
        if (!frame || (zframe_size (frame) == 5 && memcmp (zframe_data (frame), "$TERM", 5) == 0)) {
            zframe_destroy (&frame);
            break;
        }
        zframe_send (&frame, pipe, 0);
    }
}

static void
s_thread_round_trips (size_t count)
{
    int64_t *samples = calloc (count, sizeof (int64_t));
    zactor_t *echo = zactor_new (s_echo, NULL);
    if (!samples || !echo) {
        fprintf (stderr, "path_floor: cannot start the echo thread\n");
        exit (1);
    }
    uint64_t ticket = 0;
    for (size_t position = 0; position < count; position++) {
        ticket++;
        int64_t sent = zclock_usecs ();
        zsock_send (echo, "b", &ticket, sizeof ticket);
        zframe_t *reply = zframe_recv (echo);
        samples[position] = zclock_usecs () - sent;
        zframe_destroy (&reply);
    }
    zactor_destroy (&echo);
    s_report ("thread round trip (inproc PAIR)", samples, count);
    free (samples);
}

//  Appends and syncs count times to a file of its own in directory, and
//  reports (when report) or exits.
static void
s_syncs (const char *directory, int writer, size_t count, const char *what)
{
    char path[4096];
    snprintf (path, sizeof path, "%s/path_floor.%d.%d", directory, (int)getpid (), writer);
    int fd = open (path, O_CREAT | O_WRONLY | O_TRUNC, 0600);
    int64_t *samples = calloc (count, sizeof (int64_t));
    char block[S_APPEND_BYTES];
    memset (block, 'r', sizeof block);
    if (fd == -1 || !samples) {
        fprintf (stderr, "path_floor: cannot write %s\n", path);
        exit (1);
    }
    for (size_t position = 0; position < count; position++) {
        if (write (fd, block, sizeof block) != (ssize_t)sizeof block) {
            fprintf (stderr, "path_floor: short write to %s\n", path);
            exit (1);
        }
        int64_t started = zclock_usecs ();
        fdatasync (fd);
        samples[position] = zclock_usecs () - started;
    }
    close (fd);
    unlink (path);
    if (what)
        s_report (what, samples, count);
    free (samples);
}

static void
s_concurrent_syncs (const char *directory, int writers, size_t count)
{
    char what[64];
    snprintf (what, sizeof what, "fdatasync, %d writers at once (one shown)", writers);
    for (int writer = 1; writer < writers; writer++) {
        pid_t child = fork ();
        if (child == 0) {
            s_syncs (directory, writer, count, NULL);
            _exit (0);
        }
    }
    s_syncs (directory, 0, count, what);
    while (wait (NULL) > 0)
        ;
}

int
main (int argc, char *argv[])
{
    size_t round_trips = argc > 1 ? strtoul (argv[1], NULL, 10) : 20000;
    size_t syncs = argc > 2 ? strtoul (argv[2], NULL, 10) : 2000;
    int writers = argc > 3 ? atoi (argv[3]) : 3;
    const char *directory = argc > 4 ? argv[4] : "/tmp";
    if (round_trips < 100 || syncs < 100 || writers < 1) {
        fprintf (stderr, "usage: path_floor [ROUND_TRIPS>=100] [SYNCS>=100] [WRITERS>=1] [DIR]\n");
        return 2;
    }
    s_thread_round_trips (round_trips);
    s_syncs (directory, 0, syncs, "fdatasync, one writer");
    if (writers > 1)
        s_concurrent_syncs (directory, writers, syncs);
    return 0;
}
