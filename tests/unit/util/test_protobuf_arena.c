/*  test_protobuf_arena — protobuf-c unpacks into the arena and the message
    reads back whole, every allocation aligned; a reset empties it and keeps
    one block for a steady stream of messages; a large message does not pin
    its size past PROTOBUF_ARENA_KEPT_BYTES; a truncated message fails to
    unpack without leaking (valgrind).
*/
#include <setjmp.h>
#include <stdalign.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include "state.pb-c.h"
#include "util/protobuf_arena.h"

//  A publish command of payload_size bytes; packed into *packed (caller frees).
static size_t
s_packed_publish (const char *topic, size_t payload_size, uint8_t **packed)
{
    Raftq__State__Command command = RAFTQ__STATE__COMMAND__INIT;
    Raftq__Publish publish = RAFTQ__PUBLISH__INIT;
    uint8_t *payload = malloc (payload_size ? payload_size : 1);
    assert_non_null (payload);
    for (size_t at = 0; at < payload_size; at++)
        payload[at] = (uint8_t)(at * 7 + 3);
    publish.topic = (char *)topic;
    publish.payload.data = payload;
    publish.payload.len = payload_size;
    command.op_case = RAFTQ__STATE__COMMAND__OP_PUBLISH;
    command.publish = &publish;
    command.client_id = 77;
    command.seq = 5;
    size_t size = raftq__state__command__get_packed_size (&command);
    *packed = malloc (size);
    assert_non_null (*packed);
    raftq__state__command__pack (&command, *packed);
    free (payload);
    return size;
}

static void
s_check_publish (const Raftq__State__Command *command, const char *topic, size_t payload_size)
{
    assert_non_null (command);
    assert_int_equal (command->op_case, RAFTQ__STATE__COMMAND__OP_PUBLISH);
    assert_int_equal (command->client_id, 77);
    assert_int_equal (command->seq, 5);
    assert_string_equal (command->publish->topic, topic);
    assert_int_equal (command->publish->payload.len, payload_size);
    for (size_t at = 0; at < payload_size; at++)
        assert_int_equal (command->publish->payload.data[at], (uint8_t)(at * 7 + 3));
    assert_int_equal ((uintptr_t)command % alignof (max_align_t), 0);
    assert_int_equal ((uintptr_t)command->publish % alignof (max_align_t), 0);
}

static void
test_unpacks_and_resets (void **state)
{
    (void)state;
    protobuf_arena_t *arena = protobuf_arena_new ();
    assert_non_null (arena);
    assert_int_equal (protobuf_arena_capacity (arena), 0);
    uint8_t *packed;
    size_t size = s_packed_publish ("orders", 300, &packed);
    Raftq__State__Command *command =
        raftq__state__command__unpack (protobuf_arena_allocator (arena), size, packed);
    s_check_publish (command, "orders", 300);
    size_t capacity = protobuf_arena_capacity (arena);
    assert_true (capacity >= size);
    //  A steady stream reuses the one block it settled on
    for (int round = 0; round < 100; round++) {
        protobuf_arena_reset (arena);
        command = raftq__state__command__unpack (protobuf_arena_allocator (arena), size, packed);
        s_check_publish (command, "orders", 300);
        assert_int_equal (protobuf_arena_capacity (arena), capacity);
    }
    //  Two messages side by side stay whole
    Raftq__State__Command *second =
        raftq__state__command__unpack (protobuf_arena_allocator (arena), size, packed);
    s_check_publish (command, "orders", 300);
    s_check_publish (second, "orders", 300);
    //  A truncated one fails; what it took goes at the reset
    assert_null (
        raftq__state__command__unpack (protobuf_arena_allocator (arena), size - 5, packed));
    protobuf_arena_reset (arena);
    free (packed);
    protobuf_arena_destroy (&arena);
    assert_null (arena);
    protobuf_arena_destroy (&arena);
}

static void
test_large_message_not_kept (void **state)
{
    (void)state;
    protobuf_arena_t *arena = protobuf_arena_new ();
    uint8_t *packed;
    size_t large = 4 * PROTOBUF_ARENA_KEPT_BYTES;
    size_t size = s_packed_publish ("big", large, &packed);
    //  Grown block by block while small messages came first
    uint8_t *small_packed;
    size_t small_size = s_packed_publish ("small", 10, &small_packed);
    for (int count = 0; count < 50; count++)
        assert_non_null (raftq__state__command__unpack (protobuf_arena_allocator (arena),
                                                        small_size, small_packed));
    Raftq__State__Command *command =
        raftq__state__command__unpack (protobuf_arena_allocator (arena), size, packed);
    s_check_publish (command, "big", large);
    assert_true (protobuf_arena_capacity (arena) > large);
    protobuf_arena_reset (arena);
    assert_int_equal (protobuf_arena_capacity (arena), PROTOBUF_ARENA_KEPT_BYTES);
    command =
        raftq__state__command__unpack (protobuf_arena_allocator (arena), small_size, small_packed);
    s_check_publish (command, "small", 10);
    assert_int_equal (protobuf_arena_capacity (arena), PROTOBUF_ARENA_KEPT_BYTES);
    //  Whatever a use needed in all, below the cap, is one block next time
    protobuf_arena_reset (arena);
    protobuf_arena_reset (arena);
    assert_int_equal (protobuf_arena_capacity (arena), PROTOBUF_ARENA_KEPT_BYTES);
    free (packed);
    free (small_packed);
    protobuf_arena_destroy (&arena);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_unpacks_and_resets),
        cmocka_unit_test (test_large_message_not_kept),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
