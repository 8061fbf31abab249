/*  command — client request to state machine command; see command.h.  */
#include "state/command.h"

#include <sodium.h>
#include <stddef.h>
#include <string.h>

#include "state/session_key.h"
#include "util/must.h"

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
    S_OPERATION (RAFTQ__REQUEST__OP_RESERVE, RAFTQ__STATE__COMMAND__OP_RESERVE, reserve),
    S_OPERATION (RAFTQ__REQUEST__OP_ACK, RAFTQ__STATE__COMMAND__OP_ACK, ack),
    S_OPERATION (RAFTQ__REQUEST__OP_NACK, RAFTQ__STATE__COMMAND__OP_NACK, nack),
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

//  The operation entry of command_case, NULL for Login and CreateAccount.
static const s_operation_t *
s_operation_of (Raftq__State__Command__OpCase command_case)
{
    for (size_t position = 0; position < sizeof (s_operations) / sizeof (s_operations[0]);
         position++)
        if (s_operations[position].command_case == command_case)
            return &s_operations[position];
    return NULL;
}

//  Feeds a length-prefixed string, so that parts cannot run into each other.
static void
s_feed_string (crypto_generichash_state *state, const char *string)
{
    uint64_t length = string ? strlen (string) : 0;
    crypto_generichash_update (state, (const uint8_t *)&length, sizeof (length));
    if (length)
        crypto_generichash_update (state, (const uint8_t *)string, length);
}

//  The digest of an operation: its case, the token's key, then the packed
//  arguments (message) or, for the password operations, the user.
static void
s_digest (Raftq__State__Command__OpCase op_case, const char *key, const ProtobufCMessage *message,
          const char *user, uint8_t digest[COMMAND_DIGEST_SIZE])
{
    crypto_generichash_state state;
    crypto_generichash_init (&state, NULL, 0, COMMAND_DIGEST_SIZE);
    uint64_t operation = (uint64_t)op_case;
    crypto_generichash_update (&state, (const uint8_t *)&operation, sizeof (operation));
    s_feed_string (&state, key);
    if (message) {
        //  Most commands fit the stack: no allocation for the common case
        uint8_t small[1024];
        size_t size = protobuf_c_message_get_packed_size (message);
        uint8_t *packed = size <= sizeof (small) ? small : (uint8_t *)must_alloc (size);
        protobuf_c_message_pack (message, packed);
        crypto_generichash_update (&state, packed, size);
        if (packed != small)
            free (packed);
    } else
        s_feed_string (&state, user);
    crypto_generichash_final (&state, digest, COMMAND_DIGEST_SIZE);
}

void
command_digest (const Raftq__State__Command *command, uint8_t digest[COMMAND_DIGEST_SIZE])
{
    const s_operation_t *operation = s_operation_of (command->op_case);
    const ProtobufCMessage *message =
        operation ? *(ProtobufCMessage *const *)((const char *)command + operation->command_offset)
                  : NULL;
    const char *user = NULL;
    if (command->op_case == RAFTQ__STATE__COMMAND__OP_LOGIN && command->login)
        user = command->login->user;
    else if (command->op_case == RAFTQ__STATE__COMMAND__OP_CREATE_ACCOUNT &&
             command->create_account)
        user = command->create_account->user;
    s_digest (command->op_case, command->token, message, user, digest);
}

int
command_request_digest (const Raftq__Request *request, uint8_t digest[COMMAND_DIGEST_SIZE])
{
    char key[SESSION_KEY_SIZE];
    session_key (request->token, key);
    if (request->op_case == RAFTQ__REQUEST__OP_LOGIN && request->login)
        s_digest (RAFTQ__STATE__COMMAND__OP_LOGIN, key, NULL, request->login->user, digest);
    else if (request->op_case == RAFTQ__REQUEST__OP_CREATE_ACCOUNT && request->create_account)
        s_digest (RAFTQ__STATE__COMMAND__OP_CREATE_ACCOUNT, key, NULL,
                  request->create_account->user, digest);
    else {
        Raftq__State__Command command = RAFTQ__STATE__COMMAND__INIT;
        if (command_from_request (request, &command))
            return -1;
        command.token = key;
        command_digest (&command, digest);
    }
    return 0;
}
