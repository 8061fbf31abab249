/*  state_snapshot — owns the bridge between the state machine's snapshot
    encoding (fsm_snapshot) and the snapshot files (storage): a protobuf-c
    output that forwards into the storage layer's snapshot output, so the
    child packs straight into the file. See state_snapshot.h.
*/
#include "broker/state_snapshot.h"

#include <assert.h>
#include <inttypes.h>

#include "state/fsm_snapshot.h"
#include "util/error_text.h"

//  A protobuf-c output over the storage layer's snapshot output.
typedef struct {
    ProtobufCBuffer base;      //  protobuf-c's interface; first, so a cast finds the rest
    snapshot_output_t *output; //  where the bytes go
} output_buffer_t;

static void
s_output_append (ProtobufCBuffer *buffer, size_t length, const uint8_t *data)
{
    snapshot_output_write (((output_buffer_t *)buffer)->output, data, length);
}

//  The snapshot source: streams the fsm's state into output.
static int
s_source (void *argument, snapshot_output_t *output, char *error, size_t error_size)
{
    output_buffer_t buffer = {{s_output_append}, output};
    uint64_t before = snapshot_output_size (output);
    size_t size;
    if (fsm_snapshot_pack_into ((fsm_t *)argument, &buffer.base, &size, error, error_size))
        return -1;
    uint64_t packed = snapshot_output_size (output) - before;
    if (packed != size)
        //  Sizing and packing disagree: a protobuf-c bug, never a file
        return error_text_set (error, error_size, "packed %" PRIu64 " bytes where %zu were sized",
                               packed, size);
    return 0;
}

//  The header of a snapshot of fsm's applied state.
static snapshot_header_t
s_header (fsm_t *fsm, uint64_t term, const uint8_t *membership, size_t membership_size)
{
    snapshot_header_t header = {fsm_applied_index (fsm), term, membership, membership_size};
    return header;
}

snapshot_job_t *
state_snapshot_job_start (const char *dir, fsm_t *fsm, uint64_t term, const uint8_t *membership,
                          size_t membership_size, char *error, size_t error_size)
{
    assert (dir && fsm);
    snapshot_header_t header = s_header (fsm, term, membership, membership_size);
    return snapshot_job_start (dir, &header, s_source, fsm, error, error_size);
}

int
state_snapshot_write (const char *dir, fsm_t *fsm, uint64_t term, const uint8_t *membership,
                      size_t membership_size, char *error, size_t error_size)
{
    assert (dir && fsm);
    snapshot_header_t header = s_header (fsm, term, membership, membership_size);
    if (header.index == 0)
        return error_text_set (error, error_size, "nothing applied yet: no snapshot to take");
    return snapshot_write (dir, &header, s_source, fsm, error, error_size);
}

int
state_snapshot_restore (snapshot_t *snapshot, fsm_t *fsm, char *error, size_t error_size)
{
    assert (snapshot && fsm);
    size_t size;
    const uint8_t *body = snapshot_body (snapshot, &size);
    if (!body)
        return error_text_set (error, error_size,
                               "snapshot %" PRIu64 " was loaded without its body",
                               snapshot_index (snapshot));
    return fsm_snapshot_restore (fsm, snapshot_index (snapshot), body, size, error, error_size);
}
