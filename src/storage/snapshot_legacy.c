/*  snapshot_legacy — owns the reader of "RAFTQSN1" snapshot files. See
    snapshot_legacy.h. The Snapshot message's fields are walked, not
    unpacked: field 4 may be gigabytes, and its bytes go to the state
    machine as they are.
*/
#include "storage/snapshot_legacy.h"

#include <inttypes.h>
#include <string.h>

#include "util/crc32c.h"
#include "util/error_text.h"
#include "util/little_endian.h"
#include "util/protobuf_wire.h"

#define LEGACY_MAGIC_BYTES 8
//  Field numbers of raftq.state.Snapshot
#define LEGACY_FIELD_INDEX      1
#define LEGACY_FIELD_TERM       2
#define LEGACY_FIELD_MEMBERSHIP 3
#define LEGACY_FIELD_STATE      4

bool
snapshot_legacy_is (const uint8_t *file, size_t size)
{
    return size >= LEGACY_MAGIC_BYTES &&
           memcmp (file, SNAPSHOT_LEGACY_MAGIC, LEGACY_MAGIC_BYTES) == 0;
}

//  Takes one field of the Snapshot message into parsed. Returns 0, or -1
//  when a known field has the wrong wire type or the state comes twice.
static int
s_take_field (const protobuf_wire_field_t *field, snapshot_legacy_t *parsed, bool *has_state)
{
    bool varint = field->type == PROTOBUF_WIRE_VARINT;
    bool bytes = field->type == PROTOBUF_WIRE_BYTES;
    switch (field->number) {
    case LEGACY_FIELD_INDEX:
        parsed->index = field->value;
        return varint ? 0 : -1;
    case LEGACY_FIELD_TERM:
        parsed->term = field->value;
        return varint ? 0 : -1;
    case LEGACY_FIELD_MEMBERSHIP:
        parsed->membership = field->bytes;
        parsed->membership_size = field->size;
        return bytes ? 0 : -1;
    case LEGACY_FIELD_STATE:
        //  Twice would mean merging two states: no writer ever did that
        if (!bytes || *has_state)
            return -1;
        *has_state = true;
        parsed->body = field->bytes;
        parsed->body_size = field->size;
        return 0;
    default:
        return 0; //  unknown fields are skipped, as protobuf does
    }
}

int
snapshot_legacy_read (const uint8_t *file, size_t size, snapshot_legacy_t *parsed, char *why,
                      size_t why_size)
{
    memset (parsed, 0, sizeof *parsed);
    if (size < SNAPSHOT_LEGACY_HEADER_BYTES)
        return error_text_set (why, why_size, "shorter than a header");
    if (!snapshot_legacy_is (file, size))
        return error_text_set (why, why_size, "not a snapshot file (bad magic)");
    uint64_t length = little_endian_get_u64 (file + LEGACY_MAGIC_BYTES);
    if (length != size - SNAPSHOT_LEGACY_HEADER_BYTES)
        return error_text_set (why, why_size,
                               "torn: the header says %" PRIu64 " bytes, the file holds %zu",
                               length, size - SNAPSHOT_LEGACY_HEADER_BYTES);
    const uint8_t *body = file + SNAPSHOT_LEGACY_HEADER_BYTES;
    if (crc32c_extend (0, body, (size_t)length) !=
        little_endian_get_u32 (file + LEGACY_MAGIC_BYTES + 8))
        return error_text_set (why, why_size, "bad checksum");
    protobuf_wire_reader_t reader;
    protobuf_wire_reader_init (&reader, body, (size_t)length);
    protobuf_wire_field_t field;
    bool has_state = false;
    int rc;
    while ((rc = protobuf_wire_next (&reader, &field)) == 1)
        if (s_take_field (&field, parsed, &has_state))
            break;
    if (rc != 0)
        return error_text_set (why, why_size, "the body does not decode");
    if (!has_state)
        return error_text_set (why, why_size, "holds no state");
    return 0;
}
