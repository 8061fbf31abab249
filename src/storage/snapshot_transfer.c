/*  snapshot_transfer — owns the chunked reading of a snapshot file, the
    receiver of one, and the writer thread that receives off the Raft
    actor's loop and prunes the directory. See snapshot_transfer.h.

    Decisions worth knowing:
    - A received file is verified as load would before it is installed
      (header, both checksums, index), so a torn transfer never replaces a
      good snapshot; the body itself is not decoded here.
    - The writer gets each chunk's bytes in a pipe frame of their own: the
      Raft actor's buffer is copied once into the frame, and the writer
      writes from the frame.
*/
#include "storage/snapshot_transfer.h"
#include "util/worker.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

#include "storage/node_dir.h"
#include "storage/snapshot.h"
#include "util/error_text.h"
#include "util/file_io.h"
#include "util/little_endian.h"

#define SNAPSHOT_REASON_SIZE 256

struct _snapshot_receiver_t {
    int directory_fd;                   //  the snapshot directory
    int fd;                             //  the temporary being written, -1 once closed
    uint64_t index;                     //  snapshot being received
    uint64_t received;                  //  bytes of the file written so far
    char temporary[NODE_DIR_NAME_SIZE]; //  the temporary's name in the directory
};

//  State of the writer thread.
typedef struct {
    zsock_t *pipe;                 //  to the owner
    char *dir;                     //  snapshot directory
    snapshot_receiver_t *receiver; //  file being received, NULL if none
    uint64_t receiving_index;      //  the snapshot it receives
    uint64_t installed_index;      //  last snapshot received and installed, 0 if none
} writer_t;

//  --------------------------------------------------------------------------
//  Streaming

ssize_t
snapshot_read_chunk (const char *path, uint64_t offset, void *buffer, size_t max,
                     uint64_t *file_size)
{
    assert (path);
    assert (file_size);
    int fd = open (path, O_RDONLY | O_CLOEXEC);
    struct stat status;
    if (fd < 0 || fstat (fd, &status)) {
        if (fd >= 0)
            file_io_close_keeping_errno (fd);
        return -1;
    }
    *file_size = (uint64_t)status.st_size;
    ssize_t got = 0;
    if (offset < *file_size) {
        uint64_t left = *file_size - offset;
        got = file_io_read_all (fd, buffer, left < max ? (size_t)left : max, offset);
    }
    file_io_close_keeping_errno (fd);
    return got;
}

//  --------------------------------------------------------------------------
//  Receiving

snapshot_receiver_t *
snapshot_receiver_new (const char *dir, uint64_t index, char *error, size_t error_size)
{
    assert (dir);
    if (index == 0) {
        error_text_set (error, error_size, "snapshot index 0 cannot be received");
        return NULL;
    }
    int directory_fd = file_io_open_directory (dir);
    if (directory_fd < 0) {
        error_text_set (error, error_size, "snapshot directory %s: %s", dir, strerror (errno));
        return NULL;
    }
    snapshot_receiver_t *self = (snapshot_receiver_t *)zmalloc (sizeof (snapshot_receiver_t));
    self->directory_fd = directory_fd;
    self->index = index;
    node_dir_file_name (self->temporary, NODE_DIR_SNAPSHOT_RECEIVING, index);
    self->fd =
        openat (directory_fd, self->temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (self->fd < 0) {
        error_text_set (error, error_size, "snapshot %s/%s: %s", dir, self->temporary,
                        strerror (errno));
        snapshot_receiver_destroy (&self);
    }
    return self;
}

void
snapshot_receiver_destroy (snapshot_receiver_t **self_p)
{
    assert (self_p);
    snapshot_receiver_t *self = *self_p;
    if (self) {
        //  Still open: not installed, so the temporary goes
        if (self->fd >= 0) {
            close (self->fd);
            unlinkat (self->directory_fd, self->temporary, 0);
        }
        close (self->directory_fd);
        free (self);
        *self_p = NULL;
    }
}

int
snapshot_receiver_append (snapshot_receiver_t *self, uint64_t offset, const void *data, size_t size,
                          char *error, size_t error_size)
{
    assert (self);
    if (self->fd < 0)
        return error_text_set (error, error_size, "snapshot %" PRIu64 ": the receiving has ended",
                               self->index);
    if (offset > self->received)
        return error_text_set (error, error_size,
                               "snapshot %" PRIu64 ": chunk at %" PRIu64
                               " leaves a gap after %" PRIu64,
                               self->index, offset, self->received);
    //  Only what lies past the bytes already written is new
    uint64_t known = self->received - offset;
    if (known >= size)
        return 0;
    if (file_io_write_all (self->fd, (const uint8_t *)data + known, size - (size_t)known,
                           self->received))
        return error_text_set (error, error_size, "snapshot %s: %s", self->temporary,
                               strerror (errno));
    self->received += size - known;
    return 0;
}

uint64_t
snapshot_receiver_received (snapshot_receiver_t *self)
{
    assert (self);
    return self->received;
}

int
snapshot_receiver_finish (snapshot_receiver_t *self, char *error, size_t error_size)
{
    assert (self);
    if (self->fd < 0)
        return error_text_set (error, error_size, "snapshot %" PRIu64 ": the receiving has ended",
                               self->index);
    if (fdatasync (self->fd))
        return error_text_set (error, error_size, "snapshot %s: fdatasync: %s", self->temporary,
                               strerror (errno));
    char why[SNAPSHOT_REASON_SIZE] = "";
    if (snapshot_verify (self->directory_fd, self->temporary, self->index, why, sizeof why))
        return error_text_set (error, error_size, "received snapshot %" PRIu64 " is invalid: %s",
                               self->index, why);
    if (snapshot_install (self->directory_fd, self->temporary, self->index, error, error_size))
        return -1;
    close (self->fd);
    self->fd = -1;
    return 0;
}

//  --------------------------------------------------------------------------
//  The writer thread

static bool
s_pop_u64 (zmsg_t *message, uint64_t *value)
{
    zframe_t *frame = zmsg_pop (message);
    bool valid = frame && zframe_size (frame) == 8;
    if (valid)
        *value = little_endian_get_u64 (zframe_data (frame));
    zframe_destroy (&frame);
    return valid;
}

//  Sends a report; reason NULL for a success.
static void
s_report (zsock_t *pipe, const char *outcome, uint64_t index, uint64_t term, const char *reason)
{
    uint8_t numbers[16];
    little_endian_put_u64 (numbers, index);
    little_endian_put_u64 (numbers + 8, term);
    zmsg_t *report = zmsg_new ();
    zmsg_addstr (report, outcome);
    zmsg_addmem (report, numbers, 8);
    zmsg_addmem (report, numbers + 8, 8);
    if (reason)
        zmsg_addstr (report, reason);
    zmsg_send (&report, pipe);
}

//  Appends the chunk's bytes, and at the last one installs the file.
//  Returns 0, or -1 with reason.
static int
s_receive_chunk (writer_t *writer, uint64_t index, uint64_t offset, zframe_t *data, bool last,
                 char *reason, size_t reason_size)
{
    //  A chunk of another snapshot: the sender moved on to a newer one
    if (writer->receiver && writer->receiving_index != index)
        snapshot_receiver_destroy (&writer->receiver);
    if (!writer->receiver) {
        writer->receiver = snapshot_receiver_new (writer->dir, index, reason, reason_size);
        writer->receiving_index = index;
    }
    if (!writer->receiver || snapshot_receiver_append (writer->receiver, offset, zframe_data (data),
                                                       zframe_size (data), reason, reason_size))
        return -1;
    if (last) {
        if (snapshot_receiver_finish (writer->receiver, reason, reason_size))
            return -1;
        writer->installed_index = index;
        snapshot_receiver_destroy (&writer->receiver);
        snapshot_prune (writer->dir);
    }
    return 0;
}

//  message holds the frames after "CHUNK".
static void
s_handle_chunk (writer_t *writer, zmsg_t *message)
{
    uint64_t index, term, offset;
    if (!s_pop_u64 (message, &index) || !s_pop_u64 (message, &term) ||
        !s_pop_u64 (message, &offset) || zmsg_size (message) != 2)
        return;
    zframe_t *last = zmsg_first (message);
    zframe_t *data = zmsg_next (message);
    if (zframe_size (last) != 1)
        return;
    //  A late resend of the file installed last changes nothing
    if (index == writer->installed_index)
        return;
    char reason[SNAPSHOT_REASON_SIZE] = "";
    bool is_last = zframe_data (last)[0] != 0;
    if (s_receive_chunk (writer, index, offset, data, is_last, reason, sizeof reason)) {
        snapshot_receiver_destroy (&writer->receiver);
        s_report (writer->pipe, "FAILED", index, term, reason);
    } else if (is_last)
        s_report (writer->pipe, "RECEIVED", index, term, NULL);
}

//  Temporaries are leftovers of a crash: no job runs before the broker
//  has started, after this writer.
static void
s_remove_temporaries (const char *dir)
{
    int directory_fd = dir ? open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
    if (directory_fd >= 0) {
        node_dir_remove_snapshot_temporaries (directory_fd);
        close (directory_fd);
    }
}

static void
s_writer_actor (zsock_t *pipe, void *args)
{
    writer_t writer = {pipe, strdup ((const char *)args), NULL, 0, 0};
    //  Shutdown is the owner's call ($TERM): SIGINT and SIGTERM go to it
    worker_begin ("raftq-snapwrite");
    s_remove_temporaries (writer.dir);
    zsock_signal (pipe, 0);
    zmsg_t *message;
    char *command;
    while (writer.dir && (command = worker_next_command (pipe, &message))) {
        if (streq (command, "CHUNK"))
            s_handle_chunk (&writer, message);
        else if (streq (command, "PRUNE"))
            snapshot_prune (writer.dir);
        free (command);
        zmsg_destroy (&message);
    }
    snapshot_receiver_destroy (&writer.receiver);
    free (writer.dir);
}

//  --------------------------------------------------------------------------
//  The owner's side

snapshot_writer_t *
snapshot_writer_new (const char *dir)
{
    assert (dir);
    //  zactor_new returns once the thread has copied dir and signalled
    return zactor_new (s_writer_actor, (void *)dir);
}

void
snapshot_writer_destroy (snapshot_writer_t **self_p)
{
    assert (self_p);
    zactor_destroy (self_p);
}

zsock_t *
snapshot_writer_sock (snapshot_writer_t *self)
{
    assert (self);
    return zactor_sock (self);
}

int
snapshot_writer_chunk (snapshot_writer_t *self, uint64_t index, uint64_t term, uint64_t offset,
                       const void *data, size_t size, bool last)
{
    assert (self);
    void *handle = zsock_resolve (zactor_sock (self));
    uint64_t numbers[3] = {index, term, offset};
    if (zmq_send (handle, "CHUNK", 5, ZMQ_SNDMORE) < 0)
        return -1;
    for (size_t position = 0; position < 3; position++) {
        uint8_t bytes[8];
        little_endian_put_u64 (bytes, numbers[position]);
        if (zmq_send (handle, bytes, sizeof bytes, ZMQ_SNDMORE) < 0)
            return -1;
    }
    uint8_t last_byte = last ? 1 : 0;
    if (zmq_send (handle, &last_byte, 1, ZMQ_SNDMORE) < 0 || zmq_send (handle, data, size, 0) < 0)
        return -1;
    return 0;
}

int
snapshot_writer_prune (snapshot_writer_t *self)
{
    assert (self);
    return zstr_send (zactor_sock (self), "PRUNE");
}

int
snapshot_writer_recv (snapshot_writer_t *self, snapshot_report_t *report)
{
    assert (self);
    assert (report);
    memset (report, 0, sizeof *report);
    zmsg_t *message = zmsg_recv (zactor_sock (self));
    if (!message)
        return -1;
    char *outcome = zmsg_popstr (message);
    int rc = -1;
    if (outcome && s_pop_u64 (message, &report->index) && s_pop_u64 (message, &report->term)) {
        if (streq (outcome, "RECEIVED")) {
            report->outcome = SNAPSHOT_RECEIVED;
            rc = zmsg_size (message) == 0 ? 0 : -1;
        } else if (streq (outcome, "FAILED") && zmsg_size (message) == 1) {
            report->outcome = SNAPSHOT_FAILED;
            zframe_t *reason = zmsg_first (message);
            size_t length = zframe_size (reason) < sizeof report->reason
                                ? zframe_size (reason)
                                : sizeof report->reason - 1;
            memcpy (report->reason, zframe_data (reason), length);
            rc = 0;
        }
    }
    free (outcome);
    zmsg_destroy (&message);
    return rc;
}
