/*  fsm_snapshot — owns the encoding of the fsm's state as a snapshot body:
    packing it into a protobuf-c output (a file stream or memory) and
    restoring an fsm from the bytes. See fsm_snapshot.h.
*/
#include "state/fsm_snapshot.h"

#include <assert.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "util/error_text.h"

//  Largest body: what one protobuf message may hold.
#define FSM_SNAPSHOT_MAX_BYTES ((size_t)INT32_MAX)

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

static void
s_fixed_buffer_append (ProtobufCBuffer *buffer, size_t length, const uint8_t *data)
{
    fixed_buffer_t *self = (fixed_buffer_t *)buffer;
    //  An empty field comes with data NULL
    if (length && self->used <= self->size && length <= self->size - self->used)
        memcpy (self->data + self->used, data, length);
    self->used += length;
}

int
fsm_snapshot_pack_into (fsm_t *fsm, ProtobufCBuffer *output, size_t *size, char *error,
                        size_t error_size)
{
    assert (fsm && output && size);
    Raftq__State__FsmState state;
    fsm_snapshot_save (fsm, &state);
    *size = raftq__state__fsm_state__get_packed_size (&state);
    int rc = 0;
    if (*size > FSM_SNAPSHOT_MAX_BYTES)
        rc = error_text_set (error, error_size, "a snapshot of %zu bytes exceeds the limit of %zu",
                             *size, FSM_SNAPSHOT_MAX_BYTES);
    else
        raftq__state__fsm_state__pack_to_buffer (&state, output);
    fsm_snapshot_release (&state);
    return rc;
}

uint8_t *
fsm_snapshot_pack (fsm_t *fsm, size_t *size, char *error, size_t error_size)
{
    assert (fsm && size);
    Raftq__State__FsmState state;
    fsm_snapshot_save (fsm, &state);
    *size = raftq__state__fsm_state__get_packed_size (&state);
    uint8_t *body = NULL;
    if (*size > FSM_SNAPSHOT_MAX_BYTES)
        error_text_set (error, error_size, "a snapshot of %zu bytes exceeds the limit of %zu",
                        *size, FSM_SNAPSHOT_MAX_BYTES);
    else if (!(body = (uint8_t *)malloc (*size ? *size : 1)))
        error_text_set (error, error_size, "no memory for a snapshot of %zu bytes", *size);
    else {
        fixed_buffer_t buffer = {{s_fixed_buffer_append}, body, 0, *size};
        raftq__state__fsm_state__pack_to_buffer (&state, &buffer.base);
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

int
fsm_snapshot_restore (fsm_t *fsm, uint64_t index, const uint8_t *body, size_t size, char *error,
                      size_t error_size)
{
    assert (fsm);
    Raftq__State__FsmState *state =
        raftq__state__fsm_state__unpack (NULL, size, size ? body : (const uint8_t *)"");
    if (!state)
        return error_text_set (error, error_size, "snapshot %" PRIu64 ": the body does not decode",
                               index);
    int rc = 0;
    if (state->applied_index != index)
        rc = error_text_set (error, error_size, "snapshot %" PRIu64 " holds the state of %" PRIu64,
                             index, state->applied_index);
    else
        rc = fsm_snapshot_load (fsm, state, error, error_size);
    raftq__state__fsm_state__free_unpacked (state, NULL);
    return rc;
}
