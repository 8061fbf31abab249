/*  protobuf_wire — a bounds-checked protobuf field walker; see protobuf_wire.h.  */
#include "util/protobuf_wire.h"

#include <assert.h>
#include <string.h>

#include "util/little_endian.h"

void
protobuf_wire_reader_init (protobuf_wire_reader_t *reader, const void *data, size_t size)
{
    assert (reader);
    assert (data || size == 0);
    reader->at = (const uint8_t *)data;
    reader->end = reader->at + size;
}

int
protobuf_wire_varint (const uint8_t **at, const uint8_t *end, uint64_t *value)
{
    uint64_t result = 0;
    for (int shift = 0; shift < 64 && *at < end; shift += 7) {
        uint8_t byte = *(*at)++;
        result |= (uint64_t)(byte & 0x7F) << shift;
        if (!(byte & 0x80)) {
            *value = result;
            return 0;
        }
    }
    return -1;
}

//  Moves past size fixed bytes. Returns 0, or -1 if fewer are left.
static int
s_take (protobuf_wire_reader_t *reader, size_t size, const uint8_t **bytes)
{
    if ((size_t)(reader->end - reader->at) < size)
        return -1;
    *bytes = reader->at;
    reader->at += size;
    return 0;
}

int
protobuf_wire_next (protobuf_wire_reader_t *reader, protobuf_wire_field_t *field)
{
    assert (reader && field);
    if (reader->at >= reader->end)
        return 0;
    memset (field, 0, sizeof *field);
    uint64_t key;
    if (protobuf_wire_varint (&reader->at, reader->end, &key) || (key >> 3) == 0 ||
        (key >> 3) > UINT32_MAX)
        return -1;
    field->number = (uint32_t)(key >> 3);
    field->type = (protobuf_wire_type_t)(key & 7);
    const uint8_t *bytes;
    switch (key & 7) {
    case PROTOBUF_WIRE_VARINT:
        return protobuf_wire_varint (&reader->at, reader->end, &field->value) ? -1 : 1;
    case PROTOBUF_WIRE_FIXED64:
        if (s_take (reader, 8, &bytes))
            return -1;
        field->value = little_endian_get_u64 (bytes);
        return 1;
    case PROTOBUF_WIRE_FIXED32:
        if (s_take (reader, 4, &bytes))
            return -1;
        field->value = little_endian_get_u32 (bytes);
        return 1;
    case PROTOBUF_WIRE_BYTES: {
        uint64_t size;
        if (protobuf_wire_varint (&reader->at, reader->end, &size) ||
            size > (uint64_t)(reader->end - reader->at))
            return -1;
        field->bytes = reader->at;
        field->size = (size_t)size;
        reader->at += size;
        return 1;
    }
    default:
        return -1;
    }
}
