/*  command — client request to state machine command; see command.h.  */
#include "state/command.h"

#include <stddef.h>

//  A request operation and the command operation it becomes: the same
//  message, at its own place in each.
typedef struct {
    Raftq__Request__OpCase request_case;        //  the request's oneof case
    Raftq__State__Command__OpCase command_case; //  the command's
    size_t request_offset;                      //  of the message pointer in Raftq__Request
    size_t command_offset;                      //  and in Raftq__State__Command
} s_operation_t;

#define S_OPERATION(REQUEST_CASE, COMMAND_CASE, FIELD)                                             \
    {                                                                                              \
        REQUEST_CASE, COMMAND_CASE, offsetof (Raftq__Request, FIELD),                              \
            offsetof (Raftq__State__Command, FIELD)                                                \
    }

static const s_operation_t s_operations[] = {
    S_OPERATION (RAFTQ__REQUEST__OP_CREATE_TOPIC, RAFTQ__STATE__COMMAND__OP_CREATE_TOPIC,
                 create_topic),
    S_OPERATION (RAFTQ__REQUEST__OP_LIST_TOPICS, RAFTQ__STATE__COMMAND__OP_LIST_TOPICS,
                 list_topics),
    S_OPERATION (RAFTQ__REQUEST__OP_PUBLISH, RAFTQ__STATE__COMMAND__OP_PUBLISH, publish),
    S_OPERATION (RAFTQ__REQUEST__OP_POP, RAFTQ__STATE__COMMAND__OP_POP, pop),
    S_OPERATION (RAFTQ__REQUEST__OP_CHECK_USER, RAFTQ__STATE__COMMAND__OP_CHECK_USER, check_user),
    S_OPERATION (RAFTQ__REQUEST__OP_LOGOUT, RAFTQ__STATE__COMMAND__OP_LOGOUT, logout),
    S_OPERATION (RAFTQ__REQUEST__OP_LIST_ACCOUNTS, RAFTQ__STATE__COMMAND__OP_LIST_ACCOUNTS,
                 list_accounts),
    S_OPERATION (RAFTQ__REQUEST__OP_SEND_MESSAGE, RAFTQ__STATE__COMMAND__OP_SEND_MESSAGE,
                 send_message),
    S_OPERATION (RAFTQ__REQUEST__OP_READ_MESSAGES, RAFTQ__STATE__COMMAND__OP_READ_MESSAGES,
                 read_messages),
    S_OPERATION (RAFTQ__REQUEST__OP_DELETE_MESSAGES, RAFTQ__STATE__COMMAND__OP_DELETE_MESSAGES,
                 delete_messages),
    S_OPERATION (RAFTQ__REQUEST__OP_DELETE_ACCOUNT, RAFTQ__STATE__COMMAND__OP_DELETE_ACCOUNT,
                 delete_account),
};

int
command_from_request (const Raftq__Request *request, Raftq__State__Command *command)
{
    for (size_t position = 0; position < sizeof (s_operations) / sizeof (s_operations[0]);
         position++) {
        const s_operation_t *operation = &s_operations[position];
        if (operation->request_case != request->op_case)
            continue;
        //  Both fields are pointers to the same generated message type
        void *const *field = (void *const *)((const char *)request + operation->request_offset);
        *(void **)((char *)command + operation->command_offset) = *field;
        command->op_case = operation->command_case;
        return 0;
    }
    return -1;
}
