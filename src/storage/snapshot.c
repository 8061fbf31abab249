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
    - The broker's own snapshots are jobs: fork() and copy-on-write, as
      Redis does, because packing 1M queued messages on the broker thread
      held it for about half a second. The fork copies page tables only
      (about 20 ms for a 1M-message state); the child packs straight into
      the file (no body in memory), fdatasyncs every 32 MiB so that the
      last sync does not queue a whole snapshot in front of the Raft log's
      syncs, runs niced, and dies with its parent (PR_SET_PDEATHSIG). It
      uses only malloc, which glibc keeps usable after fork, and never a
      ZeroMQ socket or stdio. The parent reads the report without
      blocking and reaps the child once the pipe hangs up: the child's
      files close only after its memory is released, so the reap does not
      wait for that teardown.
    - Load maps the file instead of reading it into fresh memory: decoding
      straight from the page cache halves the load of a large snapshot.
      What remains is one allocation per queued message, since each is
      owned (and later freed) by the state machine on its own.
*/

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util/error_text.h"
#include "util/crc32c.h"
#include "util/little_endian.h"
#include "storage/snapshot.h"

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
//  A snapshot job's child: bytes packed before each write, bytes written
//  between fdatasyncs, and how much it yields the CPU to the broker
#define SNAPSHOT_JOB_BUFFER_BYTES (1024 * 1024)
#define SNAPSHOT_JOB_SYNC_BYTES   (32ULL * 1024 * 1024)
#define SNAPSHOT_JOB_NICE         10

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
        return error_text_set (error, error_size, "snapshot directory %s: %s", dir,
                               strerror (errno));
    int directory_fd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (directory_fd < 0)
        return error_text_set (error, error_size, "snapshot directory %s: %s", dir,
                               strerror (errno));
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
        return error_text_set (error, error_size, "snapshot %s: rename: %s", name,
                               strerror (errno));
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

//  Describes fsm's state as a snapshot message in *snapshot, with state
//  (filled by fsm_snapshot_save: release it after) as its fsm part.
static void
s_describe (fsm_t *fsm, uint64_t term, const uint8_t *membership, size_t membership_size,
            Raftq__State__Snapshot *snapshot, Raftq__State__FsmState *state)
{
    fsm_snapshot_save (fsm, state);
    raftq__state__snapshot__init (snapshot);
    snapshot->index = fsm_applied_index (fsm);
    snapshot->term = term;
    snapshot->membership.data = (uint8_t *)membership;
    snapshot->membership.len = membership_size;
    snapshot->state = state;
}

//  The packed size of snapshot, or -1 with error when it is too large.
static int
s_packed_size (const Raftq__State__Snapshot *snapshot, size_t *size, char *error, size_t error_size)
{
    *size = raftq__state__snapshot__get_packed_size (snapshot);
    if (*size > SNAPSHOT_MAX_BODY_BYTES)
        return error_text_set (error, error_size,
                               "a snapshot of %zu bytes exceeds the limit of %" PRIu64, *size,
                               SNAPSHOT_MAX_BODY_BYTES);
    return 0;
}

uint8_t *
snapshot_pack (fsm_t *fsm, uint64_t term, const uint8_t *membership, size_t membership_size,
               size_t *size, char *error, size_t error_size)
{
    assert (fsm);
    assert (size);
    Raftq__State__FsmState state;
    Raftq__State__Snapshot snapshot;
    s_describe (fsm, term, membership, membership_size, &snapshot, &state);

    uint8_t *body = NULL;
    bool sized = s_packed_size (&snapshot, size, error, error_size) == 0;
    if (sized && !(body = (uint8_t *)malloc (*size ? *size : 1)))
        error_text_set (error, error_size, "no memory for a snapshot of %zu bytes", *size);
    else if (sized) {
        fixed_buffer_t buffer = {{s_fixed_buffer_append}, body, 0, *size};
        raftq__state__snapshot__pack_to_buffer (&snapshot, &buffer.base);
        if (buffer.used != *size) {
            //  Sizing and packing disagree: a protobuf-c bug, never a file
            error_text_set (error, error_size, "packed %zu bytes where %zu were sized", buffer.used,
                            *size);
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

//  Writes the snapshot file of index in dir the one way every writer does:
//  fill writes the whole file into a fresh temporary, which is then
//  fdatasync'd and installed (rename, directory fsync, prune), or removed
//  on failure. fill returns 0, or -1 with errno set. Returns 0, or -1 with
//  error.
typedef int (s_fill_fn) (int fd, void *argument);

static int
s_write_snapshot_file (const char *dir, uint64_t index, s_fill_fn *fill, void *argument,
                       char *error, size_t error_size)
{
    int directory_fd = s_open_directory (dir, error, error_size);
    if (directory_fd < 0)
        return -1;
    char temporary[SNAPSHOT_NAME_SIZE];
    s_file_name (temporary, index, SNAPSHOT_WRITE_SUFFIX);
    int rc = 0;
    int fd = openat (directory_fd, temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0 || fill (fd, argument) || fdatasync (fd)) {
        rc = error_text_set (error, error_size, "snapshot %s/%s: %s", dir, temporary,
                             strerror (errno));
        unlinkat (directory_fd, temporary, 0);
    }
    if (fd >= 0)
        close (fd);
    if (rc == 0)
        rc = s_install (directory_fd, temporary, index, error, error_size);
    close (directory_fd);
    return rc;
}

//  A body in memory, for s_fill_from_body.
typedef struct {
    const uint8_t *body; //  packed snapshot
    size_t size;         //  its bytes
} body_t;

static int
s_fill_from_body (int fd, void *argument)
{
    body_t *body = (body_t *)argument;
    return s_write_file (fd, body->body, body->size);
}

int
snapshot_write (const char *dir, uint64_t index, const uint8_t *body, size_t size, char *error,
                size_t error_size)
{
    assert (dir);
    if (index == 0 || size > SNAPSHOT_MAX_BODY_BYTES || (size && !body))
        return error_text_set (error, error_size, "snapshot %" PRIu64 ": invalid index or body",
                               index);
    body_t argument = {body, size};
    return s_write_snapshot_file (dir, index, s_fill_from_body, &argument, error, error_size);
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
    //  Mapped rather than read: the body is decoded straight from the page
    //  cache, with no copy of the whole file in fresh memory first. Safe
    //  because a snapshot file is never changed in place, only renamed
    //  into place whole and unlinked
    uint8_t *file = file_size < SNAPSHOT_HEADER_BYTES || file_size > SIZE_MAX
                        ? MAP_FAILED
                        : (uint8_t *)mmap (NULL, (size_t)file_size, PROT_READ,
                                           MAP_PRIVATE | MAP_POPULATE, fd, 0);
    const uint8_t *body = file == MAP_FAILED ? NULL : file + SNAPSHOT_HEADER_BYTES;
    Raftq__State__Snapshot *message = NULL;
    uint64_t length = 0;
    if (file_size < SNAPSHOT_HEADER_BYTES)
        error_text_set (why, why_size, "shorter than a header");
    else if (file == MAP_FAILED)
        error_text_set (why, why_size, "cannot map it: %s", strerror (errno));
    else if (memcmp (file, SNAPSHOT_MAGIC, SNAPSHOT_MAGIC_BYTES))
        error_text_set (why, why_size, "not a snapshot file (bad magic)");
    else if ((length = little_endian_get_u64 (file + SNAPSHOT_MAGIC_BYTES)) >
                 SNAPSHOT_MAX_BODY_BYTES ||
             length != file_size - SNAPSHOT_HEADER_BYTES)
        error_text_set (why, why_size,
                        "torn: the header says %" PRIu64 " bytes, the file holds %" PRIu64, length,
                        file_size - SNAPSHOT_HEADER_BYTES);
    else if (crc32c_extend (0, body, length) !=
             little_endian_get_u32 (file + SNAPSHOT_MAGIC_BYTES + 8))
        error_text_set (why, why_size, "bad checksum");
    else if (!(message = raftq__state__snapshot__unpack (NULL, length, body)))
        error_text_set (why, why_size, "the body does not decode");
    else if (message->index != index || !message->state || message->state->applied_index != index)
        error_text_set (why, why_size, "holds index %" PRIu64 ", not %" PRIu64, message->index,
                        index);
    if (file != MAP_FAILED)
        munmap (file, (size_t)file_size);
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
            error_text_set (report, report_size, "snapshot directory %s: %s", dir,
                            strerror (errno));
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
    if (s_write_all (self->fd, (const uint8_t *)data + known, size - (size_t)known, self->received))
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
        if (!stop && streq (command, "CHUNK"))
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

//  --------------------------------------------------------------------------
//  Snapshot jobs: a forked child writes the snapshot

//  A protobuf-c output buffer that streams into a snapshot file: packed
//  bytes go through a fixed buffer to the file behind the header, with the
//  checksum computed on the way, so the child never holds the whole body.
typedef struct {
    ProtobufCBuffer base; //  protobuf-c's interface; first, so a cast finds the rest
    int fd;               //  the temporary being written
    uint8_t *data;        //  bytes not yet written
    size_t used;          //  how many
    uint64_t offset;      //  file offset of data[0]
    uint64_t synced;      //  file bytes fdatasync'd so far
    uint32_t crc;         //  checksum of the body so far
    int error;            //  errno of the first failed write, 0 if none
} file_buffer_t;

//  Writes what the buffer holds; every SNAPSHOT_JOB_SYNC_BYTES also makes
//  it durable, so the final fdatasync does not flush the whole file at
//  once in front of the Raft log's own syncs on the same disk.
static void
s_file_buffer_flush (file_buffer_t *self)
{
    if (self->error == 0 && self->used &&
        s_write_all (self->fd, self->data, self->used, self->offset))
        self->error = errno;
    self->offset += self->used;
    self->used = 0;
    if (self->error == 0 && self->offset - self->synced >= SNAPSHOT_JOB_SYNC_BYTES) {
        if (fdatasync (self->fd))
            self->error = errno;
        self->synced = self->offset;
    }
}

static void
s_file_buffer_append (ProtobufCBuffer *buffer, size_t length, const uint8_t *data)
{
    file_buffer_t *self = (file_buffer_t *)buffer;
    if (length == 0)
        return; //  an empty field comes with data NULL
    self->crc = crc32c_extend (self->crc, data, length);
    while (length) {
        size_t room = SNAPSHOT_JOB_BUFFER_BYTES - self->used;
        size_t part = length < room ? length : room;
        memcpy (self->data + self->used, data, part);
        self->used += part;
        data += part;
        length -= part;
        if (self->used == SNAPSHOT_JOB_BUFFER_BYTES)
            s_file_buffer_flush (self);
    }
}

//  What the child packs, for s_fill_by_packing.
typedef struct {
    const Raftq__State__Snapshot *snapshot; //  the message
    size_t size;                            //  its packed size
} packing_t;

//  Packs the snapshot straight into the file: header, then the body.
static int
s_fill_by_packing (int fd, void *argument)
{
    packing_t *packing = (packing_t *)argument;
    file_buffer_t buffer = {{s_file_buffer_append},
                            fd,
                            malloc (SNAPSHOT_JOB_BUFFER_BYTES),
                            0,
                            SNAPSHOT_HEADER_BYTES,
                            0,
                            0,
                            0};
    if (!buffer.data) {
        errno = ENOMEM;
        return -1;
    }
    raftq__state__snapshot__pack_to_buffer (packing->snapshot, &buffer.base);
    s_file_buffer_flush (&buffer);
    free (buffer.data);
    if (buffer.error) {
        errno = buffer.error;
        return -1;
    }
    if (buffer.offset != SNAPSHOT_HEADER_BYTES + packing->size) {
        //  Sizing and packing disagree: a protobuf-c bug, never a file
        errno = EPROTO;
        return -1;
    }
    uint8_t header[SNAPSHOT_HEADER_BYTES];
    memcpy (header, SNAPSHOT_MAGIC, SNAPSHOT_MAGIC_BYTES);
    little_endian_put_u64 (header + SNAPSHOT_MAGIC_BYTES, packing->size);
    little_endian_put_u32 (header + SNAPSHOT_MAGIC_BYTES + 8, buffer.crc);
    return s_write_all (fd, header, sizeof header, 0);
}

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
    char reason[SNAPSHOT_REASON_SIZE]; //  outcome: why not
};

//  The child: packs and writes the state it was forked with, reports, and
//  leaves without running anything of the parent's (no atexit handlers,
//  no stdio flush, no ZeroMQ: those belong to threads that are not here).
static void
s_job_child (int report_fd, pid_t parent, const char *dir, fsm_t *fsm, uint64_t term,
             const uint8_t *membership, size_t membership_size)
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
    Raftq__State__FsmState state;
    Raftq__State__Snapshot snapshot;
    s_describe (fsm, term, membership, membership_size, &snapshot, &state);
    packing_t packing = {&snapshot, 0};
    if (s_packed_size (&snapshot, &packing.size, report.reason, sizeof report.reason) == 0 &&
        s_write_snapshot_file (dir, snapshot.index, s_fill_by_packing, &packing, report.reason,
                               sizeof report.reason) == 0)
        report.written = 1;
    fsm_snapshot_release (&state);
    //  A short write leaves the parent without a report: it says so
    ssize_t sent;
    do
        sent = write (report_fd, &report, sizeof report);
    while (sent < 0 && errno == EINTR);
    _exit (report.written ? 0 : 1);
}

snapshot_job_t *
snapshot_job_start (const char *dir, fsm_t *fsm, uint64_t term, const uint8_t *membership,
                    size_t membership_size, char *error, size_t error_size)
{
    assert (dir);
    assert (fsm);
    uint64_t index = fsm_applied_index (fsm);
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
    self->term = term;
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
        s_job_child (pipe_fds[1], parent, dir, fsm, term, membership, membership_size);
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
    char temporary[SNAPSHOT_NAME_SIZE];
    s_file_name (temporary, self->index, SNAPSHOT_WRITE_SUFFIX);
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
    } else
        self->written = true;
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

const char *
snapshot_job_reason (snapshot_job_t *self)
{
    assert (self);
    return self->reason;
}
