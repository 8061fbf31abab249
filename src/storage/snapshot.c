/*  snapshot — owns the snapshot file format: writing a file from a source
    of body bytes, loading and verifying files (the previous format through
    snapshot_legacy), listing and pruning. See snapshot.h for the format.

    Decisions worth knowing:
    - Load trusts nothing it has not checked: the sizes against the file
      size before anything is mapped or allocated, the header's checksum
      before its fields are used, the body's checksum before the body is
      handed out, and the index against the file name, so a file copied
      under another name is not taken for another snapshot.
    - The body is mapped, not read: the state machine decodes straight from
      the page cache, with no copy of the whole file in fresh memory. Safe
      because a snapshot file is never changed in place, only renamed into
      place whole and unlinked (an unlinked file stays mapped).
    - The header is written last, at offset 0, once the streamed body's
      size and checksum are known; until the rename the file is a
      temporary nobody reads.
    - The output syncs every 32 MiB, so the last fdatasync does not queue a
      whole snapshot in front of the Raft log's syncs on the same disk.
*/
#include "storage/snapshot.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "storage/node_dir.h"
#include "storage/snapshot_legacy.h"
#include "util/crc32c.h"
#include "util/error_text.h"
#include "util/file_io.h"
#include "util/little_endian.h"

#define SNAPSHOT_MAGIC       "RAFTQSN2"
#define SNAPSHOT_MAGIC_BYTES 8
//  Offsets of the fixed header's fields
#define AT_INDEX             8
#define AT_TERM              16
#define AT_BODY_SIZE         24
#define AT_BODY_CRC          32
#define AT_MEMBERSHIP_SIZE   36
#define AT_HEADER_CRC        40
#define SNAPSHOT_REASON_SIZE 256
//  The output: bytes gathered before each write, bytes between fdatasyncs
#define OUTPUT_BUFFER_BYTES (1024 * 1024)
#define OUTPUT_SYNC_BYTES   (32ULL * 1024 * 1024)

struct _snapshot_output_t {
    int fd;          //  the temporary being written
    uint8_t *data;   //  bytes not yet written
    size_t used;     //  how many
    uint64_t offset; //  file offset of data[0]
    uint64_t synced; //  file offset fdatasync'd so far
    uint64_t size;   //  body bytes appended
    uint32_t crc;    //  checksum of the body so far
    int error;       //  errno of the first failure, 0 if none
};

struct _snapshot_t {
    snapshot_header_t header; //  index, term, membership (in mapping or membership_copy)
    uint8_t *mapping;         //  the whole file mapped, NULL for a header alone
    size_t mapping_size;      //  its size
    const uint8_t *body;      //  the body, inside mapping; NULL for a header alone
    size_t body_size;         //  its size
    uint8_t *membership_copy; //  a header alone: its membership, owned
    uint64_t file_size;       //  bytes of the file
};

//  A file taken apart, whatever its format; borrowed from its bytes.
typedef struct {
    snapshot_header_t header; //  what the Raft layer reads
    uint64_t body_size;       //  bytes of body
    uint32_t body_crc;        //  their checksum (new format)
    const uint8_t *body;      //  the body, when mapped
} parsed_t;

//  --------------------------------------------------------------------------
//  The output a source writes the body into

//  Writes what the buffer holds, and syncs every OUTPUT_SYNC_BYTES.
static void
s_output_flush (snapshot_output_t *self)
{
    if (self->error == 0 && self->used &&
        file_io_write_all (self->fd, self->data, self->used, self->offset))
        self->error = errno;
    self->offset += self->used;
    self->used = 0;
    if (self->error == 0 && self->offset - self->synced >= OUTPUT_SYNC_BYTES) {
        if (fdatasync (self->fd))
            self->error = errno;
        self->synced = self->offset;
    }
}

void
snapshot_output_write (snapshot_output_t *self, const void *data, size_t size)
{
    if (size == 0)
        return; //  an empty protobuf field comes with data NULL
    const uint8_t *next = (const uint8_t *)data;
    self->crc = crc32c_extend (self->crc, next, size);
    self->size += size;
    while (size) {
        size_t room = OUTPUT_BUFFER_BYTES - self->used;
        size_t part = size < room ? size : room;
        memcpy (self->data + self->used, next, part);
        self->used += part;
        next += part;
        size -= part;
        if (self->used == OUTPUT_BUFFER_BYTES)
            s_output_flush (self);
    }
}

uint64_t
snapshot_output_size (snapshot_output_t *self)
{
    return self->size;
}

void
snapshot_header_encode (uint8_t *fixed, const snapshot_header_t *header, uint64_t body_size,
                        uint32_t body_crc)
{
    memcpy (fixed, SNAPSHOT_MAGIC, SNAPSHOT_MAGIC_BYTES);
    little_endian_put_u64 (fixed + AT_INDEX, header->index);
    little_endian_put_u64 (fixed + AT_TERM, header->term);
    little_endian_put_u64 (fixed + AT_BODY_SIZE, body_size);
    little_endian_put_u32 (fixed + AT_BODY_CRC, body_crc);
    little_endian_put_u32 (fixed + AT_MEMBERSHIP_SIZE, (uint32_t)header->membership_size);
    uint32_t crc = crc32c_extend (0, fixed, AT_HEADER_CRC);
    crc = crc32c_extend (crc, header->membership, header->membership_size);
    little_endian_put_u32 (fixed + AT_HEADER_CRC, crc);
}

//  Fills the open temporary: membership, the body from source, then the
//  header. Returns 0, or -1 with error (errno-based unless the source's).
static int
s_fill (int fd, const snapshot_header_t *header, snapshot_source_fn *source, void *argument,
        char *error, size_t error_size)
{
    uint64_t body_at = SNAPSHOT_HEADER_BYTES + header->membership_size;
    snapshot_output_t output = {fd, malloc (OUTPUT_BUFFER_BYTES), 0, body_at, 0, 0, 0, 0};
    if (!output.data)
        return error_text_set (error, error_size, "no memory for the snapshot output");
    if (file_io_write_all (fd, header->membership, header->membership_size, SNAPSHOT_HEADER_BYTES))
        output.error = errno;
    int rc = output.error ? 0 : source (argument, &output, error, error_size);
    s_output_flush (&output);
    free (output.data);
    if (rc)
        return -1;
    uint8_t fixed[SNAPSHOT_HEADER_BYTES];
    snapshot_header_encode (fixed, header, output.size, output.crc);
    if (output.error == 0 && file_io_write_all (fd, fixed, sizeof fixed, 0))
        output.error = errno;
    if (output.error == 0 && fdatasync (fd))
        output.error = errno;
    if (output.error)
        return error_text_set (error, error_size, "%s", strerror (output.error));
    return 0;
}

//  Makes the durable temporary the snapshot of index: rename, then the
//  directory fsync that makes the name durable before anyone deletes the
//  log prefix it covers. Returns 0, or -1 with error.
int
snapshot_install (int directory_fd, const char *temporary, uint64_t index, char *error,
                  size_t error_size)
{
    char name[NODE_DIR_NAME_SIZE];
    node_dir_file_name (name, NODE_DIR_SNAPSHOT, index);
    if (renameat (directory_fd, temporary, directory_fd, name))
        return error_text_set (error, error_size, "snapshot %s: rename: %s", name,
                               strerror (errno));
    if (fsync (directory_fd))
        return error_text_set (error, error_size, "snapshot %s: directory fsync: %s", name,
                               strerror (errno));
    return 0;
}

int
snapshot_write (const char *dir, const snapshot_header_t *header, snapshot_source_fn *source,
                void *argument, char *error, size_t error_size)
{
    assert (dir && header && source);
    if (header->index == 0 || header->membership_size > SNAPSHOT_MAX_MEMBERSHIP_BYTES ||
        (header->membership_size && !header->membership))
        return error_text_set (error, error_size, "snapshot %" PRIu64 ": invalid header",
                               header->index);
    int directory_fd = file_io_open_directory (dir);
    if (directory_fd < 0)
        return error_text_set (error, error_size, "snapshot directory %s: %s", dir,
                               strerror (errno));
    char temporary[NODE_DIR_NAME_SIZE];
    node_dir_file_name (temporary, NODE_DIR_SNAPSHOT_WRITING, header->index);
    char why[SNAPSHOT_REASON_SIZE] = "";
    int fd = openat (directory_fd, temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    int rc = fd < 0 ? error_text_set (why, sizeof why, "%s", strerror (errno))
                    : s_fill (fd, header, source, argument, why, sizeof why);
    if (fd >= 0)
        close (fd);
    if (rc) {
        error_text_set (error, error_size, "snapshot %s/%s: %s", dir, temporary, why);
        unlinkat (directory_fd, temporary, 0);
    } else
        rc = snapshot_install (directory_fd, temporary, header->index, error, error_size);
    close (directory_fd);
    return rc;
}

//  A body in memory, for s_source_from_memory.
typedef struct {
    const uint8_t *data; //  the body
    size_t size;         //  its bytes
} memory_body_t;

static int
s_source_from_memory (void *argument, snapshot_output_t *output, char *error, size_t error_size)
{
    (void)error;
    (void)error_size;
    memory_body_t *body = (memory_body_t *)argument;
    snapshot_output_write (output, body->data, body->size);
    return 0;
}

int
snapshot_write_body (const char *dir, const snapshot_header_t *header, const uint8_t *body,
                     size_t size, char *error, size_t error_size)
{
    if (size && !body)
        return error_text_set (error, error_size, "snapshot: a body of %zu bytes without bytes",
                               size);
    memory_body_t argument = {body, size};
    return snapshot_write (dir, header, s_source_from_memory, &argument, error, error_size);
}

//  Indexes of dir's snapshot files, newest first. Returns 0 or -1.
static int
s_list_newest_first (int directory_fd, uint64_t **indexes, size_t *count)
{
    if (node_dir_list (directory_fd, NODE_DIR_SNAPSHOT, indexes, count))
        return -1;
    for (size_t low = 0, high = *count; high > low + 1; low++, high--) {
        uint64_t swap = (*indexes)[low];
        (*indexes)[low] = (*indexes)[high - 1];
        (*indexes)[high - 1] = swap;
    }
    return 0;
}

void
snapshot_prune (const char *dir)
{
    assert (dir);
    int directory_fd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    uint64_t *indexes = NULL;
    size_t count = 0;
    if (directory_fd < 0 || s_list_newest_first (directory_fd, &indexes, &count)) {
        if (directory_fd >= 0)
            close (directory_fd);
        return;
    }
    bool removed = false;
    for (size_t position = SNAPSHOT_KEEP; position < count; position++) {
        char name[NODE_DIR_NAME_SIZE];
        node_dir_file_name (name, NODE_DIR_SNAPSHOT, indexes[position]);
        removed |= unlinkat (directory_fd, name, 0) == 0;
    }
    if (removed)
        fsync (directory_fd);
    free (indexes);
    close (directory_fd);
}

//  --------------------------------------------------------------------------
//  Loading

//  Checks the fixed header against the file's size and takes its fields.
//  Returns 0, or -1 with why.
static int
s_parse_fixed (const uint8_t *fixed, uint64_t file_size, parsed_t *parsed, char *why,
               size_t why_size)
{
    if (memcmp (fixed, SNAPSHOT_MAGIC, SNAPSHOT_MAGIC_BYTES))
        return error_text_set (why, why_size, "not a snapshot file (bad magic)");
    parsed->header.index = little_endian_get_u64 (fixed + AT_INDEX);
    parsed->header.term = little_endian_get_u64 (fixed + AT_TERM);
    parsed->body_size = little_endian_get_u64 (fixed + AT_BODY_SIZE);
    parsed->body_crc = little_endian_get_u32 (fixed + AT_BODY_CRC);
    parsed->header.membership_size = little_endian_get_u32 (fixed + AT_MEMBERSHIP_SIZE);
    uint64_t room = file_size - SNAPSHOT_HEADER_BYTES;
    if (parsed->header.membership_size > SNAPSHOT_MAX_MEMBERSHIP_BYTES ||
        parsed->header.membership_size > room ||
        parsed->body_size != room - parsed->header.membership_size)
        return error_text_set (
            why, why_size, "torn: the header says %zu + %" PRIu64 " bytes, the file holds %" PRIu64,
            parsed->header.membership_size, parsed->body_size, room);
    return 0;
}

//  Checks the header's checksum over the fixed part and membership.
static int
s_check_header_crc (const uint8_t *fixed, const uint8_t *membership, size_t membership_size,
                    char *why, size_t why_size)
{
    uint32_t crc = crc32c_extend (0, fixed, AT_HEADER_CRC);
    crc = crc32c_extend (crc, membership, membership_size);
    if (crc != little_endian_get_u32 (fixed + AT_HEADER_CRC))
        return error_text_set (why, why_size, "bad header checksum");
    return 0;
}

//  Takes a whole file in memory apart, in either format, and verifies it.
//  Returns 0, or -1 with why.
static int
s_parse_file (const uint8_t *file, uint64_t file_size, parsed_t *parsed, char *why, size_t why_size)
{
    memset (parsed, 0, sizeof *parsed);
    if (snapshot_legacy_is (file, (size_t)file_size)) {
        snapshot_legacy_t legacy;
        if (snapshot_legacy_read (file, (size_t)file_size, &legacy, why, why_size))
            return -1;
        parsed->header = (snapshot_header_t){legacy.index, legacy.term, legacy.membership,
                                             legacy.membership_size};
        parsed->body = legacy.body;
        parsed->body_size = legacy.body_size;
        return 0;
    }
    if (file_size < SNAPSHOT_HEADER_BYTES)
        return error_text_set (why, why_size, "shorter than a header");
    if (s_parse_fixed (file, file_size, parsed, why, why_size))
        return -1;
    parsed->header.membership = file + SNAPSHOT_HEADER_BYTES;
    parsed->body = parsed->header.membership + parsed->header.membership_size;
    if (s_check_header_crc (file, parsed->header.membership, parsed->header.membership_size, why,
                            why_size))
        return -1;
    if (crc32c_extend (0, parsed->body, (size_t)parsed->body_size) != parsed->body_crc)
        return error_text_set (why, why_size, "bad checksum");
    return 0;
}

static int
s_check_index (uint64_t held, uint64_t index, char *why, size_t why_size)
{
    if (held != index)
        return error_text_set (why, why_size, "holds index %" PRIu64 ", not %" PRIu64, held, index);
    return 0;
}

//  Opens name in the directory and sizes it. Returns the descriptor, or -1
//  with why.
static int
s_open_file (int directory_fd, const char *name, uint64_t *file_size, char *why, size_t why_size)
{
    int fd = openat (directory_fd, name, O_RDONLY | O_CLOEXEC);
    struct stat status;
    if (fd < 0 || fstat (fd, &status)) {
        error_text_set (why, why_size, "%s", strerror (errno));
        if (fd >= 0)
            close (fd);
        return -1;
    }
    *file_size = (uint64_t)status.st_size;
    return fd;
}

//  Maps and verifies the file name as the snapshot of index; populate reads
//  it all in at once (the body is about to be decoded). NULL with why.
static snapshot_t *
s_load_mapped (int directory_fd, const char *name, uint64_t index, bool populate, char *why,
               size_t why_size)
{
    uint64_t file_size;
    int fd = s_open_file (directory_fd, name, &file_size, why, why_size);
    if (fd < 0)
        return NULL;
    uint8_t *file = MAP_FAILED;
    if (file_size == 0 || file_size > SIZE_MAX)
        error_text_set (why, why_size, "shorter than a header");
    else if ((file = (uint8_t *)mmap (NULL, (size_t)file_size, PROT_READ,
                                      MAP_PRIVATE | (populate ? MAP_POPULATE : 0), fd, 0)) ==
             MAP_FAILED)
        error_text_set (why, why_size, "cannot map it: %s", strerror (errno));
    close (fd);
    parsed_t parsed;
    if (file == MAP_FAILED || s_parse_file (file, file_size, &parsed, why, why_size) ||
        s_check_index (parsed.header.index, index, why, why_size)) {
        if (file != MAP_FAILED)
            munmap (file, (size_t)file_size);
        return NULL;
    }
    snapshot_t *self = (snapshot_t *)calloc (1, sizeof (snapshot_t));
    if (!self) {
        munmap (file, (size_t)file_size);
        error_text_set (why, why_size, "out of memory");
        return NULL;
    }
    self->header = parsed.header;
    self->mapping = file;
    self->mapping_size = (size_t)file_size;
    self->body = parsed.body;
    self->body_size = (size_t)parsed.body_size;
    self->file_size = file_size;
    return self;
}

//  Reads and verifies the header of the new-format file open on fd into
//  self, the membership copied. Returns 0, or -1 with why.
static int
s_read_header (int fd, uint64_t file_size, const uint8_t *fixed, snapshot_t *self, char *why,
               size_t why_size)
{
    parsed_t parsed;
    memset (&parsed, 0, sizeof parsed);
    if (s_parse_fixed (fixed, file_size, &parsed, why, why_size))
        return -1;
    size_t size = parsed.header.membership_size;
    self->membership_copy = (uint8_t *)malloc (size ? size : 1);
    if (!self->membership_copy)
        return error_text_set (why, why_size, "out of memory");
    ssize_t got = file_io_read_all (fd, self->membership_copy, size, SNAPSHOT_HEADER_BYTES);
    if (got < 0 || (size_t)got != size)
        return error_text_set (why, why_size, "cannot read the membership: %s",
                               got < 0 ? strerror (errno) : "cut short");
    if (s_check_header_crc (fixed, self->membership_copy, size, why, why_size))
        return -1;
    self->header = parsed.header;
    self->header.membership = self->membership_copy;
    self->file_size = file_size;
    return 0;
}

//  A legacy file holds its header inside its body: verified whole, then
//  only the header is kept.
static snapshot_t *
s_load_legacy_header (int directory_fd, const char *name, uint64_t index, char *why,
                      size_t why_size)
{
    snapshot_t *self = s_load_mapped (directory_fd, name, index, false, why, why_size);
    if (!self)
        return NULL;
    size_t size = self->header.membership_size;
    self->membership_copy = (uint8_t *)malloc (size ? size : 1);
    if (!self->membership_copy) {
        error_text_set (why, why_size, "out of memory");
        snapshot_destroy (&self);
        return NULL;
    }
    if (size)
        memcpy (self->membership_copy, self->header.membership, size);
    self->header.membership = self->membership_copy;
    munmap (self->mapping, self->mapping_size);
    self->mapping = NULL;
    self->body = NULL;
    self->body_size = 0;
    return self;
}

//  Loads and verifies only the header of the file name as the snapshot of
//  index. NULL with why.
static snapshot_t *
s_load_header_file (int directory_fd, const char *name, uint64_t index, char *why, size_t why_size)
{
    uint64_t file_size;
    int fd = s_open_file (directory_fd, name, &file_size, why, why_size);
    if (fd < 0)
        return NULL;
    uint8_t fixed[SNAPSHOT_HEADER_BYTES];
    ssize_t got = file_io_read_all (fd, fixed, sizeof fixed, 0);
    snapshot_t *self = NULL;
    if (got < 0)
        error_text_set (why, why_size, "%s", strerror (errno));
    else if (snapshot_legacy_is (fixed, (size_t)got))
        self = s_load_legacy_header (directory_fd, name, index, why, why_size);
    else if ((size_t)got < sizeof fixed)
        error_text_set (why, why_size, "shorter than a header");
    else if (!(self = (snapshot_t *)calloc (1, sizeof (snapshot_t))))
        error_text_set (why, why_size, "out of memory");
    else if (s_read_header (fd, file_size, fixed, self, why, why_size) ||
             s_check_index (self->header.index, index, why, why_size))
        snapshot_destroy (&self);
    close (fd);
    return self;
}

snapshot_t *
snapshot_load_header (const char *dir, uint64_t index, char *error, size_t error_size)
{
    assert (dir);
    char name[NODE_DIR_NAME_SIZE];
    node_dir_file_name (name, NODE_DIR_SNAPSHOT, index);
    char why[SNAPSHOT_REASON_SIZE] = "";
    snapshot_t *self = NULL;
    int directory_fd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (directory_fd < 0)
        error_text_set (why, sizeof why, "%s", strerror (errno));
    else {
        self = s_load_header_file (directory_fd, name, index, why, sizeof why);
        close (directory_fd);
    }
    if (!self)
        error_text_set (error, error_size, "snapshot %s/%s: %s", dir, name, why);
    return self;
}

int
snapshot_verify (int directory_fd, const char *name, uint64_t index, char *why, size_t why_size)
{
    snapshot_t *verified = s_load_mapped (directory_fd, name, index, false, why, why_size);
    snapshot_destroy (&verified);
    return why[0] ? -1 : 0;
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
    if (s_list_newest_first (directory_fd, &indexes, &count)) {
        error_text_set (report, report_size, "snapshot directory %s: %s", dir, strerror (errno));
        close (directory_fd);
        return NULL;
    }
    snapshot_t *self = NULL;
    for (size_t position = 0; position < count && !self; position++) {
        if (indexes[position] > max_index)
            continue;
        char name[NODE_DIR_NAME_SIZE];
        char why[SNAPSHOT_REASON_SIZE] = "";
        node_dir_file_name (name, NODE_DIR_SNAPSHOT, indexes[position]);
        self = s_load_mapped (directory_fd, name, indexes[position], true, why, sizeof why);
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
        if (self->mapping)
            munmap (self->mapping, self->mapping_size);
        free (self->membership_copy);
        free (self);
        *self_p = NULL;
    }
}

const snapshot_header_t *
snapshot_header (snapshot_t *self)
{
    assert (self);
    return &self->header;
}

uint64_t
snapshot_index (snapshot_t *self)
{
    assert (self);
    return self->header.index;
}

uint64_t
snapshot_term (snapshot_t *self)
{
    assert (self);
    return self->header.term;
}

const uint8_t *
snapshot_membership (snapshot_t *self, size_t *size)
{
    assert (self);
    assert (size);
    *size = self->header.membership_size;
    return self->header.membership;
}

const uint8_t *
snapshot_body (snapshot_t *self, size_t *size)
{
    assert (self);
    assert (size);
    *size = self->body_size;
    return self->body;
}

uint64_t
snapshot_file_size (snapshot_t *self)
{
    assert (self);
    return self->file_size;
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
    int rc = s_list_newest_first (directory_fd, indexes, count);
    file_io_close_keeping_errno (directory_fd);
    return rc;
}

void
snapshot_path (const char *dir, uint64_t index, char *path, size_t path_size)
{
    if (node_dir_file_path (path, path_size, dir, NODE_DIR_SNAPSHOT, index) && path_size)
        path[0] = 0;
}
