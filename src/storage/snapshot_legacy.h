/*  snapshot_legacy — reads snapshot files of the previous format, so that a
    node upgraded in place starts from the snapshot it wrote before:

        [magic "RAFTQSN1"][body length u64][crc32c of body u32][body]

    where the body is a packed raftq.state.Snapshot {index = 1, term = 2,
    membership = 3, state = 4}. Fields 1-3 are the header; the bytes of
    field 4 (a packed FsmState) are the opaque body, exactly what the new
    format stores. Read with util/protobuf_wire: nothing of the state
    machine is decoded here. Never written any more.
*/
#ifndef SNAPSHOT_LEGACY_H_INCLUDED
#define SNAPSHOT_LEGACY_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SNAPSHOT_LEGACY_MAGIC "RAFTQSN1"
//  Magic, body length, checksum.
#define SNAPSHOT_LEGACY_HEADER_BYTES 20

//  A legacy file taken apart; everything borrowed from the file's bytes.
typedef struct {
    uint64_t index;            //  field 1
    uint64_t term;             //  field 2
    const uint8_t *membership; //  field 3
    size_t membership_size;    //  its size
    const uint8_t *body;       //  field 4's bytes: a packed FsmState
    size_t body_size;          //  their size
} snapshot_legacy_t;

//  True when file (of size bytes) starts with the legacy magic.
bool snapshot_legacy_is (const uint8_t *file, size_t size);

//  Verifies the whole file (length, checksum, the Snapshot message's
//  framing) and takes it apart into parsed. Returns 0, or -1 with why.
int snapshot_legacy_read (const uint8_t *file, size_t size, snapshot_legacy_t *parsed, char *why,
                          size_t why_size);

#ifdef __cplusplus
}
#endif

#endif
