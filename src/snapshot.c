/*  snapshot — owns the snapshot files of a node: packing the state machine
    into a snapshot body, writing and pruning files, loading the newest
    valid one, chunked reading and receiving, and the writer actor. See
    snapshot.h for the file format and the integrator's path.

    Decisions worth knowing:
    - The body is one protobuf message, so it must stay under 2 GiB
      (protobuf-c frames a sub-message with a 32-bit length, and protobuf
      itself says 2 GiB): a larger state cannot be snapshotted, pack says
      so, and the log keeps growing.
    - Load trusts nothing it has not checked: the length against the file
      size before anything is allocated, the checksum before decoding, and
      the index in the body against the file name, so a file copied under
      another name is not taken for another snapshot.
    - Writing and receiving go through a temporary in the same directory and
      a rename; the directory fsync after the rename makes the new name
      durable before anyone deletes the log prefix it covers.
    - Pruning keeps the newest SNAPSHOT_KEEP by index. It is best effort: a
      snapshot is in place once renamed and synced, and an old file that
      cannot be removed now is removed after the next snapshot.
    - The writer gets the body without a copy: zmq_msg_init_data hands the
      buffer itself through the inproc pipe, and the writer thread frees it.
      Ownership moves; nothing is shared.
*/

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include "error_text.h"
#include "crc32c.h"
#include "little_endian.h"
#include "snapshot.h"

#define SNAPSHOT_MAGIC        "RAFTQSN1"
#define SNAPSHOT_MAGIC_BYTES  8
#define SNAPSHOT_NAME_PREFIX  "snapshot-"
#define SNAPSHOT_NAME_SUFFIX  ".snap"
#define SNAPSHOT_INDEX_DIGITS 20
//  Temporaries: a snapshot being written, and one being received
#define SNAPSHOT_WRITE_SUFFIX   ".tmp"
#define SNAPSHOT_RECEIVE_SUFFIX ".recv.tmp"
#define SNAPSHOT_MAX_BODY_BYTES ((uint64_t)INT32_MAX)
#define SNAPSHOT_REASON_SIZE    256

struct _snapshot_t {
    uint64_t file_size;              //  bytes of the file it was loaded from
    Raftq__State__Snapshot *message; //  the decoded body
    bool restored;                   //  its payloads moved into an fsm
};

struct _snapshot_receiver_t {
    int directory_fd;                   //  the snapshot directory
    int fd;                             //  the temporary being written, -1 once closed
    uint64_t index;                     //  snapshot being received
    uint64_t received;                  //  bytes of the file written so far
    char temporary[SNAPSHOT_NAME_SIZE]; //  the temporary's name in the directory
};

//  A protobuf-c output buffer over memory of the exact packed size. Packing
//  through it writes every length prefix before its sub-message, where
//  plain pack writes each sub-message first and then moves it behind its
//  prefix: once per nesting level, the whole queue every time.
typedef struct {
    ProtobufCBuffer base; //  protobuf-c's interface; first, so a cast finds the rest
    uint8_t *data;        //  the memory written
    size_t used;          //  bytes appended so far (past size: an overflow)
    size_t size;          //  bytes of data
} fixed_buffer_t;

struct _snapshot_writer_t {
    zactor_t *actor; //  the writer thread
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
//  Small helpers

//  The file name of snapshot index, with suffix after it ("" for none).
static void
s_file_name (char *name, uint64_t index, const char *suffix)
{
    snprintf (name, SNAPSHOT_NAME_SIZE, SNAPSHOT_NAME_PREFIX "%0*" PRIu64 SNAPSHOT_NAME_SUFFIX "%s",
              SNAPSHOT_INDEX_DIGITS, index, suffix);
}

//  The index a snapshot file name stands for, or 0 when name is not one
//  (index 0 never names a snapshot: the log starts at 1).
static uint64_t
s_parse_file_name (const char *name)
{
    size_t prefix = strlen (SNAPSHOT_NAME_PREFIX);
    if (strlen (name) != prefix + SNAPSHOT_INDEX_DIGITS + strlen (SNAPSHOT_NAME_SUFFIX) ||
        strncmp (name, SNAPSHOT_NAME_PREFIX, prefix) ||
        strcmp (name + prefix + SNAPSHOT_INDEX_DIGITS, SNAPSHOT_NAME_SUFFIX))
        return 0;
    uint64_t index = 0;
    for (size_t at = prefix; at < prefix + SNAPSHOT_INDEX_DIGITS; at++) {
        if (name[at] < '0' || name[at] > '9')
            return 0;
        uint64_t digit = (uint64_t)(name[at] - '0');
        if (index > (UINT64_MAX - digit) / 10)
            return 0;
        index = index * 10 + digit;
    }
    return index;
}

static bool
s_is_temporary (const char *name)
{
    size_t length = strlen (name);
    size_t suffix = strlen (SNAPSHOT_WRITE_SUFFIX);
    return strncmp (name, SNAPSHOT_NAME_PREFIX, strlen (SNAPSHOT_NAME_PREFIX)) == 0 &&
           length > suffix && strcmp (name + length - suffix, SNAPSHOT_WRITE_SUFFIX) == 0;
}

//  Writes all of data at offset, through short writes and signals.
static int
s_write_all (int fd, const uint8_t *data, size_t size, uint64_t offset)
{
    while (size > 0) {
        ssize_t written = pwrite (fd, data, size, (off_t)offset);
        if (written < 0 && errno == EINTR)
            continue;
        if (written <= 0) {
            if (written == 0)
                errno = EIO;
            return -1;
        }
        data += written;
        size -= (size_t)written;
        offset += (uint64_t)written;
    }
    return 0;
}

//  Reads up to size bytes at offset, through short reads and signals.
//  Returns the bytes read (fewer at the end of the file), or -1.
static ssize_t
s_read_all (int fd, uint8_t *buffer, size_t size, uint64_t offset)
{
    size_t done = 0;
    while (done < size) {
        ssize_t got = pread (fd, buffer + done, size - done, (off_t)(offset + done));
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0)
            return -1;
        if (got == 0)
            break;
        done += (size_t)got;
    }
    return (ssize_t)done;
}

//  Closes fd keeping errno, which says why the caller gave up on it.
static void
s_close_keeping_errno (int fd)
{
    int saved = errno;
    close (fd);
    errno = saved;
}

//  Opens dir, creating it if missing (then its parent is fsync'd, so the
//  new directory survives a crash with the files about to go in it).
//  Returns the descriptor, or -1 with error.
static int
s_open_directory (const char *dir, char *error, size_t error_size)
{
    bool created = mkdir (dir, 0755) == 0;
    if (!created && errno != EEXIST)
        return error_text_set (error, error_size, "snapshot directory %s: %s", dir, strerror (errno));
    int directory_fd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (directory_fd < 0)
        return error_text_set (error, error_size, "snapshot directory %s: %s", dir, strerror (errno));
    if (created) {
        int parent_fd = openat (directory_fd, "..", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (parent_fd < 0 || fsync (parent_fd)) {
            error_text_set (error, error_size, "snapshot directory %s: syncing its parent: %s", dir,
                    strerror (errno));
            if (parent_fd >= 0)
                close (parent_fd);
            close (directory_fd);
            return -1;
        }
        close (parent_fd);
    }
    return directory_fd;
}

static int
s_index_descending (const void *first, const void *second)
{
    uint64_t a = *(const uint64_t *)first;
    uint64_t b = *(const uint64_t *)second;
    return a > b ? -1 : a < b;
}

//  Indexes of the snapshot files in the directory, newest first; with
//  temporaries set, also removes every temporary. Returns 0 or -1.
static int
s_scan_directory (int directory_fd, bool temporaries, uint64_t **indexes, size_t *count)
{
    *indexes = NULL;
    *count = 0;
    int fd = dup (directory_fd);
    DIR *directory = fd < 0 ? NULL : fdopendir (fd);
    if (!directory) {
        if (fd >= 0)
            s_close_keeping_errno (fd);
        return -1;
    }
    rewinddir (directory);
    size_t capacity = 0;
    int rc = 0;
    while (rc == 0) {
        errno = 0;
        struct dirent *item = readdir (directory);
        if (!item) {
            rc = errno ? -1 : 0;
            break;
        }
        if (temporaries && s_is_temporary (item->d_name)) {
            unlinkat (directory_fd, item->d_name, 0);
            continue;
        }
        uint64_t index = s_parse_file_name (item->d_name);
        if (index == 0)
            continue;
        if (*count == capacity) {
            capacity = capacity ? capacity * 2 : 8;
            uint64_t *grown = (uint64_t *)realloc (*indexes, capacity * sizeof (uint64_t));
            if (!grown) {
                errno = ENOMEM;
                rc = -1;
                break;
            }
            *indexes = grown;
        }
        (*indexes)[(*count)++] = index;
    }
    int saved = errno;
    closedir (directory);
    errno = saved;
    if (rc) {
        free (*indexes);
        *indexes = NULL;
        *count = 0;
        return -1;
    }
    if (*count > 1)
        qsort (*indexes, *count, sizeof (uint64_t), s_index_descending);
    return 0;
}

//  Removes all but the newest SNAPSHOT_KEEP snapshots. Best effort: see
//  the decisions above.
static void
s_prune (int directory_fd)
{
    uint64_t *indexes;
    size_t count;
    if (s_scan_directory (directory_fd, false, &indexes, &count))
        return;
    bool removed = false;
    for (size_t position = SNAPSHOT_KEEP; position < count; position++) {
        char name[SNAPSHOT_NAME_SIZE];
        s_file_name (name, indexes[position], "");
        removed |= unlinkat (directory_fd, name, 0) == 0;
    }
    if (removed)
        fsync (directory_fd);
    free (indexes);
}

//  Makes the durable temporary the snapshot of index: rename, directory
//  fsync, prune. Returns 0, or -1 with error.
static int
s_install (int directory_fd, const char *temporary, uint64_t index, char *error, size_t error_size)
{
    char name[SNAPSHOT_NAME_SIZE];
    s_file_name (name, index, "");
    if (renameat (directory_fd, temporary, directory_fd, name))
        return error_text_set (error, error_size, "snapshot %s: rename: %s", name, strerror (errno));
    if (fsync (directory_fd))
        return error_text_set (error, error_size, "snapshot %s: directory fsync: %s", name,
                       strerror (errno));
    s_prune (directory_fd);
    return 0;
}

//  --------------------------------------------------------------------------
//  Packing and writing

static void
s_fixed_buffer_append (ProtobufCBuffer *buffer, size_t length, const uint8_t *data)
{
    fixed_buffer_t *self = (fixed_buffer_t *)buffer;
    //  An empty field comes with data NULL
    if (length && self->used <= self->size && length <= self->size - self->used)
        memcpy (self->data + self->used, data, length);
    self->used += length;
}

uint8_t *
snapshot_pack (fsm_t *fsm, uint64_t term, const uint8_t *membership, size_t membership_size,
               size_t *size, char *error, size_t error_size)
{
    assert (fsm);
    assert (size);
    Raftq__State__FsmState state;
    fsm_snapshot_save (fsm, &state);
    Raftq__State__Snapshot snapshot = RAFTQ__STATE__SNAPSHOT__INIT;
    snapshot.index = fsm_applied_index (fsm);
    snapshot.term = term;
    snapshot.membership.data = (uint8_t *)membership;
    snapshot.membership.len = membership_size;
    snapshot.state = &state;

    uint8_t *body = NULL;
    *size = raftq__state__snapshot__get_packed_size (&snapshot);
    if (*size > SNAPSHOT_MAX_BODY_BYTES)
        error_text_set (error, error_size, "a snapshot of %zu bytes exceeds the limit of %" PRIu64, *size,
                SNAPSHOT_MAX_BODY_BYTES);
    else if (!(body = (uint8_t *)malloc (*size ? *size : 1)))
        error_text_set (error, error_size, "no memory for a snapshot of %zu bytes", *size);
    else {
        fixed_buffer_t buffer = {{s_fixed_buffer_append}, body, 0, *size};
        raftq__state__snapshot__pack_to_buffer (&snapshot, &buffer.base);
        if (buffer.used != *size) {
            //  Sizing and packing disagree: a protobuf-c bug, never a file
            error_text_set (error, error_size, "packed %zu bytes where %zu were sized", buffer.used, *size);
            free (body);
            body = NULL;
        }
    }
    fsm_snapshot_release (&state);
    return body;
}

//  Writes the header and body of a snapshot file at the start of fd.
static int
s_write_file (int fd, const uint8_t *body, size_t size)
{
    uint8_t header[SNAPSHOT_HEADER_BYTES];
    memcpy (header, SNAPSHOT_MAGIC, SNAPSHOT_MAGIC_BYTES);
    little_endian_put_u64 (header + SNAPSHOT_MAGIC_BYTES, size);
    little_endian_put_u32 (header + SNAPSHOT_MAGIC_BYTES + 8, crc32c_extend (0, body, size));
    return s_write_all (fd, header, sizeof header, 0) ||
                   s_write_all (fd, body, size, SNAPSHOT_HEADER_BYTES)
               ? -1
               : 0;
}

int
snapshot_write (const char *dir, uint64_t index, const uint8_t *body, size_t size, char *error,
                size_t error_size)
{
    assert (dir);
    if (index == 0 || size > SNAPSHOT_MAX_BODY_BYTES || (size && !body))
        return error_text_set (error, error_size, "snapshot %" PRIu64 ": invalid index or body", index);
    int directory_fd = s_open_directory (dir, error, error_size);
    if (directory_fd < 0)
        return -1;
    char temporary[SNAPSHOT_NAME_SIZE];
    s_file_name (temporary, index, SNAPSHOT_WRITE_SUFFIX);
    int rc = 0;
    int fd = openat (directory_fd, temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0 || s_write_file (fd, body, size) || fdatasync (fd)) {
        rc = error_text_set (error, error_size, "snapshot %s/%s: %s", dir, temporary, strerror (errno));
        unlinkat (directory_fd, temporary, 0);
    }
    if (fd >= 0)
        close (fd);
    if (rc == 0)
        rc = s_install (directory_fd, temporary, index, error, error_size);
    close (directory_fd);
    return rc;
}

//  --------------------------------------------------------------------------
//  Loading

//  Loads and verifies the file name in the directory as the snapshot of
//  index. Returns NULL with the reason in why.
static snapshot_t *
s_load_file (int directory_fd, const char *name, uint64_t index, char *why, size_t why_size)
{
    int fd = openat (directory_fd, name, O_RDONLY | O_CLOEXEC);
    struct stat status;
    if (fd < 0 || fstat (fd, &status)) {
        error_text_set (why, why_size, "%s", strerror (errno));
        if (fd >= 0)
            close (fd);
        return NULL;
    }
    uint64_t file_size = (uint64_t)status.st_size;
    uint8_t header[SNAPSHOT_HEADER_BYTES];
    uint8_t *body = NULL;
    Raftq__State__Snapshot *message = NULL;
    uint64_t length = 0;
    if (s_read_all (fd, header, sizeof header, 0) != (ssize_t)sizeof header)
        error_text_set (why, why_size, "shorter than a header");
    else if (memcmp (header, SNAPSHOT_MAGIC, SNAPSHOT_MAGIC_BYTES))
        error_text_set (why, why_size, "not a snapshot file (bad magic)");
    else if ((length = little_endian_get_u64 (header + SNAPSHOT_MAGIC_BYTES)) >
                 SNAPSHOT_MAX_BODY_BYTES ||
             length != file_size - SNAPSHOT_HEADER_BYTES)
        error_text_set (why, why_size, "torn: the header says %" PRIu64 " bytes, the file holds %" PRIu64,
                length, file_size - SNAPSHOT_HEADER_BYTES);
    else if (!(body = (uint8_t *)malloc (length ? length : 1)))
        error_text_set (why, why_size, "no memory for %" PRIu64 " bytes", length);
    else if (s_read_all (fd, body, length, SNAPSHOT_HEADER_BYTES) != (ssize_t)length)
        error_text_set (why, why_size, "cannot read the body");
    else if (crc32c_extend (0, body, length) !=
             little_endian_get_u32 (header + SNAPSHOT_MAGIC_BYTES + 8))
        error_text_set (why, why_size, "bad checksum");
    else if (!(message = raftq__state__snapshot__unpack (NULL, length, body)))
        error_text_set (why, why_size, "the body does not decode");
    else if (message->index != index || !message->state || message->state->applied_index != index)
        error_text_set (why, why_size, "holds index %" PRIu64 ", not %" PRIu64, message->index, index);
    free (body);
    close (fd);
    if (why[0]) {
        raftq__state__snapshot__free_unpacked (message, NULL);
        return NULL;
    }
    snapshot_t *self = (snapshot_t *)zmalloc (sizeof (snapshot_t));
    self->file_size = file_size;
    self->message = message;
    return self;
}

//  Appends "name: why; " to report, as much as fits.
static void
s_report_skipped (char *report, size_t report_size, const char *name, const char *why)
{
    size_t used = strlen (report);
    if (used + 1 < report_size)
        snprintf (report + used, report_size - used, "%s%s: %s", used ? "; " : "", name, why);
}

snapshot_t *
snapshot_load (const char *dir, uint64_t max_index, char *report, size_t report_size)
{
    assert (dir);
    assert (report && report_size);
    report[0] = 0;
    int directory_fd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (directory_fd < 0) {
        if (errno != ENOENT)
            error_text_set (report, report_size, "snapshot directory %s: %s", dir, strerror (errno));
        return NULL;
    }
    uint64_t *indexes;
    size_t count;
    if (s_scan_directory (directory_fd, false, &indexes, &count)) {
        error_text_set (report, report_size, "snapshot directory %s: %s", dir, strerror (errno));
        close (directory_fd);
        return NULL;
    }
    snapshot_t *self = NULL;
    for (size_t position = 0; position < count && !self; position++) {
        if (indexes[position] > max_index)
            continue;
        char name[SNAPSHOT_NAME_SIZE];
        char why[SNAPSHOT_REASON_SIZE] = "";
        s_file_name (name, indexes[position], "");
        self = s_load_file (directory_fd, name, indexes[position], why, sizeof why);
        if (!self)
            s_report_skipped (report, report_size, name, why);
    }
    free (indexes);
    close (directory_fd);
    return self;
}

void
snapshot_destroy (snapshot_t **self_p)
{
    assert (self_p);
    snapshot_t *self = *self_p;
    if (self) {
        raftq__state__snapshot__free_unpacked (self->message, NULL);
        free (self);
        *self_p = NULL;
    }
}

uint64_t
snapshot_index (snapshot_t *self)
{
    assert (self);
    return self->message->index;
}

uint64_t
snapshot_term (snapshot_t *self)
{
    assert (self);
    return self->message->term;
}

const uint8_t *
snapshot_membership (snapshot_t *self, size_t *size)
{
    assert (self);
    assert (size);
    *size = self->message->membership.len;
    return self->message->membership.data;
}

uint64_t
snapshot_file_size (snapshot_t *self)
{
    assert (self);
    return self->file_size;
}

int
snapshot_restore (snapshot_t *self, fsm_t *fsm, char *error, size_t error_size)
{
    assert (self);
    assert (fsm);
    if (self->restored)
        return error_text_set (error, error_size, "snapshot %" PRIu64 " was restored already",
                       self->message->index);
    self->restored = true;
    return fsm_snapshot_load (fsm, self->message->state, error, error_size);
}

int
snapshot_list (const char *dir, uint64_t **indexes, size_t *count)
{
    assert (dir);
    assert (indexes && count);
    *indexes = NULL;
    *count = 0;
    int directory_fd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (directory_fd < 0)
        return errno == ENOENT ? 0 : -1;
    int rc = s_scan_directory (directory_fd, false, indexes, count);
    s_close_keeping_errno (directory_fd);
    return rc;
}

void
snapshot_path (const char *dir, uint64_t index, char *path, size_t path_size)
{
    char name[SNAPSHOT_NAME_SIZE];
    s_file_name (name, index, "");
    snprintf (path, path_size, "%s/%s", dir, name);
}

//  --------------------------------------------------------------------------
//  Streaming and receiving

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
            s_close_keeping_errno (fd);
        return -1;
    }
    *file_size = (uint64_t)status.st_size;
    ssize_t got = 0;
    if (offset < *file_size) {
        uint64_t left = *file_size - offset;
        got = s_read_all (fd, (uint8_t *)buffer, left < max ? (size_t)left : max, offset);
    }
    s_close_keeping_errno (fd);
    return got;
}

snapshot_receiver_t *
snapshot_receiver_new (const char *dir, uint64_t index, char *error, size_t error_size)
{
    assert (dir);
    if (index == 0) {
        error_text_set (error, error_size, "snapshot index 0 cannot be received");
        return NULL;
    }
    int directory_fd = s_open_directory (dir, error, error_size);
    if (directory_fd < 0)
        return NULL;
    snapshot_receiver_t *self = (snapshot_receiver_t *)zmalloc (sizeof (snapshot_receiver_t));
    self->directory_fd = directory_fd;
    self->index = index;
    s_file_name (self->temporary, index, SNAPSHOT_RECEIVE_SUFFIX);
    self->fd =
        openat (directory_fd, self->temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (self->fd < 0) {
        error_text_set (error, error_size, "snapshot %s/%s: %s", dir, self->temporary, strerror (errno));
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
                       "snapshot %" PRIu64 ": chunk at %" PRIu64 " leaves a gap after %" PRIu64,
                       self->index, offset, self->received);
    //  Only what lies past the bytes already written is new
    uint64_t known = self->received - offset;
    if (known >= size)
        return 0;
    if (s_write_all (self->fd, (const uint8_t *)data + known, size - (size_t)known, self->received))
        return error_text_set (error, error_size, "snapshot %s: %s", self->temporary, strerror (errno));
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
    snapshot_t *verified =
        s_load_file (self->directory_fd, self->temporary, self->index, why, sizeof why);
    if (!verified)
        return error_text_set (error, error_size, "received snapshot %" PRIu64 " is invalid: %s",
                       self->index, why);
    snapshot_destroy (&verified);
    if (s_install (self->directory_fd, self->temporary, self->index, error, error_size))
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

//  message holds the frames after "WRITE". Only our owner writes to the
//  pipe: a malformed job is a bug there, dropped.
static void
s_handle_write (writer_t *writer, zmsg_t *message)
{
    uint64_t index, term;
    if (!s_pop_u64 (message, &index) || !s_pop_u64 (message, &term) || zmsg_size (message) != 1)
        return;
    zframe_t *body = zmsg_first (message);
    char reason[SNAPSHOT_REASON_SIZE] = "";
    if (snapshot_write (writer->dir, index, zframe_data (body), zframe_size (body), reason,
                        sizeof reason))
        s_report (writer->pipe, "FAILED", index, term, reason);
    else
        s_report (writer->pipe, "WRITTEN", index, term, NULL);
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
    //  A chunk of another snapshot: the sender moved on to a newer one
    if (writer->receiver && writer->receiving_index != index)
        snapshot_receiver_destroy (&writer->receiver);
    char reason[SNAPSHOT_REASON_SIZE] = "";
    if (!writer->receiver) {
        writer->receiver = snapshot_receiver_new (writer->dir, index, reason, sizeof reason);
        writer->receiving_index = index;
    }
    int rc = writer->receiver
                 ? snapshot_receiver_append (writer->receiver, offset, zframe_data (data),
                                             zframe_size (data), reason, sizeof reason)
                 : -1;
    if (rc == 0 && zframe_data (last)[0]) {
        rc = snapshot_receiver_finish (writer->receiver, reason, sizeof reason);
        if (rc == 0) {
            writer->installed_index = index;
            snapshot_receiver_destroy (&writer->receiver);
            s_report (writer->pipe, "RECEIVED", index, term, NULL);
        }
    }
    if (rc) {
        snapshot_receiver_destroy (&writer->receiver);
        s_report (writer->pipe, "FAILED", index, term, reason);
    }
}

static void
s_writer_actor (zsock_t *pipe, void *args)
{
    writer_t writer = {pipe, strdup ((const char *)args), NULL, 0, 0};
    //  Shutdown is the owner's call ($TERM): SIGINT and SIGTERM go to it
    sigset_t signals;
    sigemptyset (&signals);
    sigaddset (&signals, SIGINT);
    sigaddset (&signals, SIGTERM);
    pthread_sigmask (SIG_BLOCK, &signals, NULL);
    //  Temporaries are leftovers of a crash: nothing else writes here
    int directory_fd = writer.dir ? open (writer.dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
    if (directory_fd >= 0) {
        uint64_t *indexes;
        size_t count;
        if (s_scan_directory (directory_fd, true, &indexes, &count) == 0)
            free (indexes);
        close (directory_fd);
    }
    zsock_signal (pipe, 0);
    while (writer.dir) {
        zmsg_t *message = zmsg_recv (pipe);
        if (!message && zmq_errno () == EINTR)
            continue;
        if (!message)
            break; //  the pipe is gone
        char *command = zmsg_popstr (message);
        bool stop = !command || streq (command, "$TERM");
        if (!stop && streq (command, "WRITE"))
            s_handle_write (&writer, message);
        else if (!stop && streq (command, "CHUNK"))
            s_handle_chunk (&writer, message);
        free (command);
        zmsg_destroy (&message);
        if (stop)
            break;
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
    snapshot_writer_t *self = (snapshot_writer_t *)zmalloc (sizeof (snapshot_writer_t));
    //  zactor_new returns once the thread has copied dir and signalled
    self->actor = zactor_new (s_writer_actor, (void *)dir);
    if (!self->actor) {
        free (self);
        return NULL;
    }
    return self;
}

void
snapshot_writer_destroy (snapshot_writer_t **self_p)
{
    assert (self_p);
    snapshot_writer_t *self = *self_p;
    if (self) {
        zactor_destroy (&self->actor);
        free (self);
        *self_p = NULL;
    }
}

zsock_t *
snapshot_writer_sock (snapshot_writer_t *self)
{
    assert (self);
    return zactor_sock (self->actor);
}

static void
s_free_body (void *data, void *hint)
{
    (void)hint;
    free (data);
}

//  Sends the command frame and the u64 frames that start a job.
static int
s_send_job_start (void *handle, const char *command, const uint64_t *numbers, size_t count)
{
    if (zmq_send (handle, command, strlen (command), ZMQ_SNDMORE) < 0)
        return -1;
    for (size_t position = 0; position < count; position++) {
        uint8_t bytes[8];
        little_endian_put_u64 (bytes, numbers[position]);
        if (zmq_send (handle, bytes, sizeof bytes, ZMQ_SNDMORE) < 0)
            return -1;
    }
    return 0;
}

int
snapshot_writer_write (snapshot_writer_t *self, uint64_t index, uint64_t term, uint8_t **body_p,
                       size_t size)
{
    assert (self);
    assert (body_p);
    uint8_t *body = *body_p;
    *body_p = NULL;
    //  From here the message owns the body: zmq frees it once it is sent
    //  and the writer is done with it, or when the send fails
    zmq_msg_t part;
    int rc = size ? zmq_msg_init_data (&part, body, size, s_free_body, NULL) : zmq_msg_init (&part);
    if (rc || size == 0)
        free (body);
    if (rc)
        return -1;
    void *handle = zsock_resolve (zactor_sock (self->actor));
    uint64_t numbers[2] = {index, term};
    if (s_send_job_start (handle, "WRITE", numbers, 2) || zmq_msg_send (&part, handle, 0) < 0) {
        zmq_msg_close (&part);
        return -1;
    }
    return 0;
}

int
snapshot_writer_chunk (snapshot_writer_t *self, uint64_t index, uint64_t term, uint64_t offset,
                       const void *data, size_t size, bool last)
{
    assert (self);
    void *handle = zsock_resolve (zactor_sock (self->actor));
    uint64_t numbers[3] = {index, term, offset};
    uint8_t last_byte = last ? 1 : 0;
    if (s_send_job_start (handle, "CHUNK", numbers, 3) ||
        zmq_send (handle, &last_byte, 1, ZMQ_SNDMORE) < 0 || zmq_send (handle, data, size, 0) < 0)
        return -1;
    return 0;
}

int
snapshot_writer_recv (snapshot_writer_t *self, snapshot_report_t *report)
{
    assert (self);
    assert (report);
    memset (report, 0, sizeof *report);
    zmsg_t *message = zmsg_recv (zactor_sock (self->actor));
    if (!message)
        return -1;
    char *outcome = zmsg_popstr (message);
    int rc = -1;
    if (outcome && s_pop_u64 (message, &report->index) && s_pop_u64 (message, &report->term)) {
        if (streq (outcome, "WRITTEN") || streq (outcome, "RECEIVED")) {
            report->outcome = streq (outcome, "WRITTEN") ? SNAPSHOT_WRITTEN : SNAPSHOT_RECEIVED;
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
