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

size_t
log_record_parse (const uint8_t *bytes, uint64_t available, uint64_t low, uint64_t high,
                  raft_entry_t *entry, uint64_t *durable)
{
    if (available < LOG_RECORD_PREFIX_BYTES + LOG_RECORD_FIXED_BYTES)
        return 0;
    uint32_t length = little_endian_get_u32 (bytes);
    if (length < LOG_RECORD_FIXED_BYTES || length > LOG_RECORD_MAX_BYTES ||
        length > available - LOG_RECORD_PREFIX_BYTES)
        return 0;
    const uint8_t *body = bytes + LOG_RECORD_PREFIX_BYTES;
    uint64_t index = little_endian_get_u64 (body + 8);
    if (index < low || index > high ||
        crc32c_extend (0, body, length) != little_endian_get_u32 (bytes + 4))
        return 0;
    size_t fixed = LOG_RECORD_FIXED_BYTES;
    *durable = LOG_RECORD_UNMARKED;
    if (body[16] & LOG_RECORD_MARKED) {
        fixed += LOG_RECORD_MARK_BYTES;
        //  A checksum good over a length too short for the mark: not ours
        if (length < fixed)
            return 0;
        *durable = little_endian_get_u64 (body + LOG_RECORD_FIXED_BYTES);
    }
    entry->term = little_endian_get_u64 (body);
    entry->index = index;
    entry->type = body[16] & (uint8_t)~LOG_RECORD_MARKED;
    entry->data = (uint8_t *)body + fixed;
    entry->size = length - fixed;
    return LOG_RECORD_PREFIX_BYTES + length;
}

uint64_t
log_reader_offset (const log_reader_t *reader)
{
    return reader->next - (reader->tail - reader->head);
}

int
log_reader_next (log_reader_t *reader, raft_entry_t *entry, uint64_t *offset)
{
    *offset = log_reader_offset (reader);
    int rc = s_reader_fill (reader, LOG_RECORD_PREFIX_BYTES);
    if (rc != 0)
        return rc < 0 ? -1 : reader->tail == reader->head ? LOG_RECORD_END : LOG_RECORD_INVALID;

    uint32_t length = little_endian_get_u32 (reader->buffer + reader->head);
    //  Length is checked against the file before anything is allocated for
    //  it: a garbage length must not cost a large buffer.
    if (length < LOG_RECORD_FIXED_BYTES || length > LOG_RECORD_MAX_BYTES ||
        *offset + LOG_RECORD_PREFIX_BYTES + length > reader->end)
        return LOG_RECORD_INVALID;
    rc = s_reader_fill (reader, LOG_RECORD_PREFIX_BYTES + length);
    if (rc != 0)
        return rc < 0 ? -1 : LOG_RECORD_INVALID;
    size_t size = log_record_parse (reader->buffer + reader->head, reader->tail - reader->head, 0,
                                    UINT64_MAX, entry, &reader->durable);
    if (size == 0)
        return LOG_RECORD_INVALID;
    reader->head += size;
    return LOG_RECORD_VALID;
}

size_t
log_record_size (const raft_entry_t *entry)
{
    return LOG_RECORD_PREFIX_BYTES + LOG_RECORD_FIXED_BYTES + LOG_RECORD_MARK_BYTES + entry->size;
}

void
log_record_encode (uint8_t *record, const raft_entry_t *entry, uint64_t durable)
{
    uint8_t *body = record + LOG_RECORD_PREFIX_BYTES;
    little_endian_put_u64 (body, entry->term);
    little_endian_put_u64 (body + 8, entry->index);
    body[16] = entry->type | LOG_RECORD_MARKED;
    little_endian_put_u64 (body + LOG_RECORD_FIXED_BYTES, durable);
    size_t fixed = LOG_RECORD_FIXED_BYTES + LOG_RECORD_MARK_BYTES;
    if (entry->size)
        memcpy (body + fixed, entry->data, entry->size);
    uint32_t length = (uint32_t)(fixed + entry->size);
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
