/*  log_record — owns the record format of the log's segment files and the
    sequential reader that recovery and replay share. See log_record.h.
*/
#include "storage/log_record.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/crc32c.h"
#include "util/little_endian.h"

//  Size of the sequential reads of recovery and replay.
#define LOG_RECORD_READ_CHUNK (1024 * 1024)

void
log_reader_start (log_reader_t *reader, int fd, uint64_t end)
{
    reader->fd = fd;
    reader->end = end;
    reader->next = 0;
    reader->head = 0;
    reader->tail = 0;
}

//  Makes want bytes available from head. Returns 0 when they are, 1 when the
//  file ends first, -1 on a read error.
static int
s_reader_fill (log_reader_t *reader, size_t want)
{
    if (reader->tail - reader->head >= want)
        return 0;
    if (reader->capacity - reader->head < want) {
        if (reader->head > 0) {
            memmove (reader->buffer, reader->buffer + reader->head, reader->tail - reader->head);
            reader->tail -= reader->head;
            reader->head = 0;
        }
        size_t needed = want > LOG_RECORD_READ_CHUNK ? want : LOG_RECORD_READ_CHUNK;
        if (needed > reader->capacity) {
            uint8_t *buffer = (uint8_t *)realloc (reader->buffer, needed);
            if (!buffer) {
                errno = ENOMEM;
                return -1;
            }
            reader->buffer = buffer;
            reader->capacity = needed;
        }
    }
    while (reader->tail - reader->head < want) {
        if (reader->next >= reader->end)
            return 1;
        size_t room = reader->capacity - reader->tail;
        uint64_t left = reader->end - reader->next;
        size_t chunk = left < room ? (size_t)left : room;
        ssize_t got = pread (reader->fd, reader->buffer + reader->tail, chunk, (off_t)reader->next);
        if (got < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        if (got == 0)
            return 1;
        reader->tail += (size_t)got;
        reader->next += (uint64_t)got;
    }
    return 0;
}

//  Reads the next record into entry, whose data points into the reader's
//  buffer until the next call. Sets offset to where the record starts.
//  Returns a log_record_status_t, or -1 on a read error.
int
log_reader_next (log_reader_t *reader, raft_entry_t *entry, uint64_t *offset)
{
    *offset = reader->next - (reader->tail - reader->head);
    int rc = s_reader_fill (reader, LOG_RECORD_PREFIX_BYTES);
    if (rc != 0)
        return rc < 0 ? -1 : reader->tail == reader->head ? LOG_RECORD_END : LOG_RECORD_INVALID;

    const uint8_t *prefix = reader->buffer + reader->head;
    uint32_t length = little_endian_get_u32 (prefix);
    uint32_t crc = little_endian_get_u32 (prefix + 4);
    //  Length is checked against the file before anything is allocated for
    //  it: a garbage length must not cost a large buffer.
    if (length < LOG_RECORD_FIXED_BYTES || length > LOG_RECORD_MAX_BYTES ||
        *offset + LOG_RECORD_PREFIX_BYTES + length > reader->end)
        return LOG_RECORD_INVALID;
    rc = s_reader_fill (reader, LOG_RECORD_PREFIX_BYTES + length);
    if (rc != 0)
        return rc < 0 ? -1 : LOG_RECORD_INVALID;

    const uint8_t *body = reader->buffer + reader->head + LOG_RECORD_PREFIX_BYTES;
    if (crc32c_extend (0, body, length) != crc)
        return LOG_RECORD_INVALID;
    entry->term = little_endian_get_u64 (body);
    entry->index = little_endian_get_u64 (body + 8);
    entry->type = body[16];
    entry->data = (uint8_t *)body + LOG_RECORD_FIXED_BYTES;
    entry->size = length - LOG_RECORD_FIXED_BYTES;
    reader->head += LOG_RECORD_PREFIX_BYTES + length;
    return LOG_RECORD_VALID;
}

size_t
log_record_size (const raft_entry_t *entry)
{
    return LOG_RECORD_PREFIX_BYTES + LOG_RECORD_FIXED_BYTES + entry->size;
}

void
log_record_encode (uint8_t *record, const raft_entry_t *entry)
{
    uint8_t *body = record + LOG_RECORD_PREFIX_BYTES;
    little_endian_put_u64 (body, entry->term);
    little_endian_put_u64 (body + 8, entry->index);
    body[16] = entry->type;
    if (entry->size)
        memcpy (body + LOG_RECORD_FIXED_BYTES, entry->data, entry->size);
    uint32_t length = (uint32_t)(LOG_RECORD_FIXED_BYTES + entry->size);
    little_endian_put_u32 (record, length);
    little_endian_put_u32 (record + 4, crc32c_extend (0, body, length));
}

void
log_reader_release (log_reader_t *reader)
{
    int saved = errno;
    free (reader->buffer);
    reader->buffer = NULL;
    reader->capacity = 0;
    errno = saved;
}
