/*  test_protobuf_wire — the walker agrees with protobuf-c on a real message
    and refuses every truncation and malformed key instead of reading past
    the end.
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "raft.pb-c.h"
#include "util/protobuf_wire.h"

//  Packs a peer Member (varints and a string) the way the broker would.
static uint8_t *
s_packed_member (size_t *size)
{
    Raftq__Peer__Member member = RAFTQ__PEER__MEMBER__INIT;
    member.id = 300;
    member.host = "127.0.0.1";
    member.client_port = 5501;
    *size = raftq__peer__member__get_packed_size (&member);
    uint8_t *bytes = (uint8_t *)malloc (*size);
    raftq__peer__member__pack (&member, bytes);
    return bytes;
}

static void
test_reads_the_fields_protobuf_c_wrote (void **state)
{
    (void)state;
    size_t size;
    uint8_t *bytes = s_packed_member (&size);
    protobuf_wire_reader_t reader;
    protobuf_wire_reader_init (&reader, bytes, size);
    protobuf_wire_field_t field;
    int found = 0;
    int result;
    while ((result = protobuf_wire_next (&reader, &field)) == 1) {
        const ProtobufCFieldDescriptor *descriptor = protobuf_c_message_descriptor_get_field (
            &raftq__peer__member__descriptor, field.number);
        assert_non_null (descriptor);
        if (descriptor->type == PROTOBUF_C_TYPE_STRING) {
            assert_int_equal (field.type, PROTOBUF_WIRE_BYTES);
            assert_int_equal (field.size, 9);
            assert_memory_equal (field.bytes, "127.0.0.1", 9);
        } else {
            assert_int_equal (field.type, PROTOBUF_WIRE_VARINT);
            assert_true (field.value == 300 || field.value == 5501);
        }
        found++;
    }
    assert_int_equal (result, 0);
    assert_int_equal (found, 3);
    free (bytes);
}

static void
test_every_truncation_is_refused_or_ends_cleanly (void **state)
{
    (void)state;
    size_t size;
    uint8_t *bytes = s_packed_member (&size);
    for (size_t cut = 1; cut < size; cut++) {
        uint8_t *copy = (uint8_t *)malloc (cut); //  ASan catches a read past cut
        memcpy (copy, bytes, cut);
        protobuf_wire_reader_t reader;
        protobuf_wire_reader_init (&reader, copy, cut);
        protobuf_wire_field_t field;
        int result;
        while ((result = protobuf_wire_next (&reader, &field)) == 1)
            ;
        assert_true (result == 0 || result == -1);
        free (copy);
    }
    free (bytes);
}

static void
test_malformed_keys_are_refused (void **state)
{
    (void)state;
    const uint8_t field_zero[] = {0x00, 0x01};
    const uint8_t group[] = {0x0B};
    const uint8_t long_varint[] = {0x08, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
                                   0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01};
    const uint8_t overlong_bytes[] = {0x0A, 0x05, 'a'};
    const uint8_t *cases[] = {field_zero, group, long_varint, overlong_bytes};
    size_t sizes[] = {sizeof field_zero, sizeof group, sizeof long_varint, sizeof overlong_bytes};
    for (size_t index = 0; index < 4; index++) {
        protobuf_wire_reader_t reader;
        protobuf_wire_reader_init (&reader, cases[index], sizes[index]);
        protobuf_wire_field_t field;
        assert_int_equal (protobuf_wire_next (&reader, &field), -1);
    }
    const uint8_t fixed[] = {0x09, 1, 0, 0, 0, 0, 0, 0, 0x80, 0x15, 2, 0, 0, 0};
    protobuf_wire_reader_t reader;
    protobuf_wire_reader_init (&reader, fixed, sizeof fixed);
    protobuf_wire_field_t field;
    assert_int_equal (protobuf_wire_next (&reader, &field), 1);
    assert_int_equal (field.type, PROTOBUF_WIRE_FIXED64);
    assert_int_equal (field.value, 0x8000000000000001ULL);
    assert_int_equal (protobuf_wire_next (&reader, &field), 1);
    assert_int_equal (field.number, 2);
    assert_int_equal (field.value, 2);
    assert_int_equal (protobuf_wire_next (&reader, &field), 0);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_reads_the_fields_protobuf_c_wrote),
        cmocka_unit_test (test_every_truncation_is_refused_or_ends_cleanly),
        cmocka_unit_test (test_malformed_keys_are_refused),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
