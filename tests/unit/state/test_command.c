/*  test_command — every request that goes to the log as it is becomes the
    command of the same operation carrying the request's own message; the
    others (password work, local answers, admin) translate to nothing.
*/

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "state/command.h"

static void
test_write_operations_translate (void **state)
{
    (void)state;
    Raftq__Publish publish = RAFTQ__PUBLISH__INIT;
    publish.topic = "orders";
    publish.payload.data = (uint8_t *)"hello";
    publish.payload.len = 5;
    Raftq__Request request = RAFTQ__REQUEST__INIT;
    request.op_case = RAFTQ__REQUEST__OP_PUBLISH;
    request.publish = &publish;
    Raftq__State__Command command = RAFTQ__STATE__COMMAND__INIT;
    assert_int_equal (command_from_request (&request, &command), 0);
    assert_int_equal (command.op_case, RAFTQ__STATE__COMMAND__OP_PUBLISH);
    assert_ptr_equal (command.publish, &publish);

    //  What goes to the log reads back as the same operation
    size_t size = raftq__state__command__get_packed_size (&command);
    uint8_t *packed = malloc (size);
    raftq__state__command__pack (&command, packed);
    Raftq__State__Command *read = raftq__state__command__unpack (NULL, size, packed);
    assert_non_null (read);
    assert_int_equal (read->op_case, RAFTQ__STATE__COMMAND__OP_PUBLISH);
    assert_string_equal (read->publish->topic, "orders");
    assert_memory_equal (read->publish->payload.data, "hello", 5);
    raftq__state__command__free_unpacked (read, NULL);
    free (packed);
}

//  Each operation lands in its own field, found from the proto itself: a
//  request op whose name the command's oneof also has becomes that op,
//  carrying the request's message. The two the leader rewrites (the
//  password ones) are the exceptions.
static void
test_every_operation_in_its_field (void **state)
{
    (void)state;
    const ProtobufCMessageDescriptor *requests = &raftq__request__descriptor;
    const ProtobufCMessageDescriptor *commands = &raftq__state__command__descriptor;
    //  Any non-NULL address marks the field; it is never dereferenced
    void *marker = &marker;
    size_t translated = 0;
    for (unsigned position = 0; position < requests->n_fields; position++) {
        const ProtobufCFieldDescriptor *field = &requests->fields[position];
        const ProtobufCFieldDescriptor *same =
            protobuf_c_message_descriptor_get_field_by_name (commands, field->name);
        if (!(field->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) || !same ||
            !(same->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) || !strcmp (field->name, "login") ||
            !strcmp (field->name, "create_account"))
            continue;
        Raftq__Request request = RAFTQ__REQUEST__INIT;
        request.op_case = (Raftq__Request__OpCase)field->id;
        *(void **)((char *)&request + field->offset) = marker;
        Raftq__State__Command command = RAFTQ__STATE__COMMAND__INIT;
        if (command_from_request (&request, &command))
            fail_msg ("%s does not translate", field->name);
        assert_int_equal (command.op_case, same->id);
        assert_ptr_equal (*(void **)((char *)&command + same->offset), marker);
        translated++;
    }
    assert_int_equal (translated, 14);
}

static void
test_others_translate_to_nothing (void **state)
{
    (void)state;
    Raftq__Request__OpCase others[] = {RAFTQ__REQUEST__OP_CREATE_ACCOUNT,
                                       RAFTQ__REQUEST__OP_LOGIN,
                                       RAFTQ__REQUEST__OP_STATUS,
                                       RAFTQ__REQUEST__OP_REPLAY,
                                       RAFTQ__REQUEST__OP_ADD_NODE,
                                       RAFTQ__REQUEST__OP_REMOVE_NODE,
                                       RAFTQ__REQUEST__OP_TRANSFER_LEADERSHIP,
                                       RAFTQ__REQUEST__OP_TAKE_SNAPSHOT,
                                       RAFTQ__REQUEST__OP__NOT_SET};
    for (size_t position = 0; position < sizeof (others) / sizeof (others[0]); position++) {
        Raftq__Request request = RAFTQ__REQUEST__INIT;
        request.op_case = others[position];
        Raftq__State__Command command = RAFTQ__STATE__COMMAND__INIT;
        assert_int_equal (command_from_request (&request, &command), -1);
        assert_int_equal (command.op_case, RAFTQ__STATE__COMMAND__OP__NOT_SET);
    }
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_write_operations_translate),
        cmocka_unit_test (test_every_operation_in_its_field),
        cmocka_unit_test (test_others_translate_to_nothing),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
