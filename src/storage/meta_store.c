/*  meta_store — owns the Raft hard state (current term, vote) on disk.

    The file <path>/meta holds two slots, each [crc32c u32][version u64]
    [term u64][voted_for u32] little-endian, the crc covering the 20 bytes
    after it. Version v lives in slot v % 2, so a save always overwrites the
    older slot and a torn save leaves the newer one intact; open takes the
    valid slot with the highest version. The slots sit in separate 4 KiB blocks
    so that a torn write of one block cannot damage the other slot.

    A new file is built aside (meta.tmp, holding version 0: term 0, no vote),
    synced and renamed into place, then the directory is synced: so a meta file
    that exists always had one good slot, and a file where neither slot is
    valid means real damage. Open then fails rather than restart at term 0,
    which could let this node vote twice in a term. Only a missing or empty
    file counts as a fresh store.
*/
#include "storage/meta_store.h"

#include "util/crc32c.h"
#include "util/file_io.h"

#include <endian.h>
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

//  Bytes of one slot: crc, version, term, voted_for.
#define META_SLOT_BYTES 24
//  Distance between the two slots in the file.
#define META_SLOT_STRIDE 4096
#define META_FILE_NAME   "meta"
#define META_TEMP_NAME   "meta.tmp"

struct _meta_store_t {
    int fd;             //  the meta file, open for reading and writing
    uint64_t version;   //  version of the newest valid slot
    uint64_t term;      //  current term, as last saved
    uint32_t voted_for; //  vote in that term, 0 for none
};

//  A decoded slot.
typedef struct {
    uint64_t version;   //  save counter; its parity names the slot
    uint64_t term;      //  current term
    uint32_t voted_for; //  vote in that term
} meta_slot_t;

static void
s_encode_slot (uint8_t *bytes, const meta_slot_t *slot)
{
    uint64_t version = htole64 (slot->version);
    uint64_t term = htole64 (slot->term);
    uint32_t voted_for = htole32 (slot->voted_for);
    memcpy (bytes + 4, &version, 8);
    memcpy (bytes + 12, &term, 8);
    memcpy (bytes + 20, &voted_for, 4);
    uint32_t crc = htole32 (crc32c_extend (0, bytes + 4, META_SLOT_BYTES - 4));
    memcpy (bytes, &crc, 4);
}

//  Returns 0 and fills slot if the bytes hold a valid slot for position
//  index, else -1.
static int
s_decode_slot (const uint8_t *bytes, unsigned index, meta_slot_t *slot)
{
    uint32_t crc;
    uint64_t version;
    uint64_t term;
    uint32_t voted_for;
    memcpy (&crc, bytes, 4);
    memcpy (&version, bytes + 4, 8);
    memcpy (&term, bytes + 12, 8);
    memcpy (&voted_for, bytes + 20, 4);
    if (le32toh (crc) != crc32c_extend (0, bytes + 4, META_SLOT_BYTES - 4))
        return -1;
    slot->version = le64toh (version);
    slot->term = le64toh (term);
    slot->voted_for = le32toh (voted_for);
    return (slot->version & 1) == index ? 0 : -1;
}

//  Writes a slot at its position and makes it durable.
static int
s_write_slot (int fd, const meta_slot_t *slot)
{
    uint8_t bytes[META_SLOT_BYTES];
    s_encode_slot (bytes, slot);
    uint64_t offset = (slot->version & 1) * META_SLOT_STRIDE;
    if (file_io_write_all (fd, bytes, sizeof bytes, offset))
        return -1;
    return fdatasync (fd);
}

//  Reads slot index. Returns 0 if it is valid, 1 if it is not (a torn first
//  save can leave the file shorter than the second slot), -1 on a read
//  error: that one must not be mistaken for a bad slot, or open would fall
//  back to an older term.
static int
s_read_slot (int fd, unsigned index, meta_slot_t *slot)
{
    uint8_t bytes[META_SLOT_BYTES];
    ssize_t got = file_io_read_all (fd, bytes, sizeof bytes, (uint64_t)index * META_SLOT_STRIDE);
    if (got < 0)
        return -1;
    if ((size_t)got < sizeof bytes)
        return 1;
    return s_decode_slot (bytes, index, slot) ? 1 : 0;
}

//  Builds a fresh file aside and renames it into place, durably.
static int
s_create_file (meta_store_t *self, int directory_fd)
{
    self->fd = openat (directory_fd, META_TEMP_NAME, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (self->fd < 0)
        return -1;
    meta_slot_t fresh = {0, 0, 0};
    if (s_write_slot (self->fd, &fresh) ||
        renameat (directory_fd, META_TEMP_NAME, directory_fd, META_FILE_NAME) ||
        fsync (directory_fd) || file_io_sync_parent (directory_fd))
        return -1;
    return 0;
}

//  Opens the existing file; sets found to false if there is none (or it is
//  empty) and a fresh one must be created.
static int
s_open_file (meta_store_t *self, int directory_fd, const char *path, bool *found, char *error,
             size_t error_size)
{
    *found = false;
    self->fd = openat (directory_fd, META_FILE_NAME, O_RDWR | O_CLOEXEC);
    if (self->fd < 0)
        return errno == ENOENT ? 0 : -1;
    struct stat status;
    if (fstat (self->fd, &status))
        return -1;
    if (status.st_size == 0) {
        close (self->fd);
        self->fd = -1;
        return 0;
    }
    meta_slot_t slots[2];
    bool valid[2];
    for (unsigned index = 0; index < 2; index++) {
        int rc = s_read_slot (self->fd, index, &slots[index]);
        if (rc < 0)
            return -1;
        valid[index] = rc == 0;
    }
    if (!valid[0] && !valid[1]) {
        snprintf (error, error_size,
                  "meta %s/%s: both slots corrupt; refusing to reset the term and vote", path,
                  META_FILE_NAME);
        errno = EINVAL;
        return -1;
    }
    //  Versions compare as serial numbers (RFC 1982): the slot written after
    //  version UINT64_MAX holds 0 and must still count as the newer one.
    bool first_newer =
        valid[0] && (!valid[1] || (int64_t)(slots[0].version - slots[1].version) > 0);
    const meta_slot_t *newest = first_newer ? &slots[0] : &slots[1];
    self->version = newest->version;
    self->term = newest->term;
    self->voted_for = newest->voted_for;
    *found = true;
    return 0;
}

meta_store_t *
meta_store_open (const char *path, char *error, size_t error_size)
{
    meta_store_t *self = (meta_store_t *)calloc (1, sizeof (meta_store_t));
    if (!self) {
        snprintf (error, error_size, "meta %s: out of memory", path);
        errno = ENOMEM;
        return NULL;
    }
    self->fd = -1;
    error[0] = '\0';
    bool found = false;
    int directory_fd = file_io_open_directory (path);
    int rc = directory_fd < 0 ? -1 : 0;
    if (rc == 0)
        rc = s_open_file (self, directory_fd, path, &found, error, error_size);
    if (rc == 0 && !found)
        rc = s_create_file (self, directory_fd);
    int saved = errno;
    if (rc && error[0] == '\0')
        snprintf (error, error_size, "meta %s/%s: %s", path, META_FILE_NAME, strerror (saved));
    if (directory_fd >= 0)
        close (directory_fd);
    if (rc)
        meta_store_destroy (&self);
    errno = saved;
    return self;
}

void
meta_store_destroy (meta_store_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    meta_store_t *self = *self_p;
    if (self->fd >= 0)
        close (self->fd);
    free (self);
    *self_p = NULL;
}

uint64_t
meta_store_term (meta_store_t *self)
{
    return self->term;
}

uint32_t
meta_store_voted_for (meta_store_t *self)
{
    return self->voted_for;
}

int
meta_store_save (meta_store_t *self, uint64_t term, uint32_t voted_for)
{
    assert (self);
    //  Raft's promises, kept by the core: a term never goes back, and a
    //  vote once cast stands for the rest of its term.
    assert (term >= self->term);
    assert (term > self->term || self->voted_for == 0 || voted_for == self->voted_for);
    //  On failure the in-memory state stays at the last durable save, so the
    //  next save targets the same (older) slot again and the newest stays intact.
    meta_slot_t slot = {self->version + 1, term, voted_for};
    if (s_write_slot (self->fd, &slot))
        return -1;
    self->version = slot.version;
    self->term = term;
    self->voted_for = voted_for;
    return 0;
}
