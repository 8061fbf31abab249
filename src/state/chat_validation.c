/*  chat_validation — checks of chat commands before they are proposed and
    again at apply; see chat_validation.h. The rules are chat.c's decisions.
*/

#include <string.h>

#include "state/chat_private.h"
#include "state/chat_validation.h"
#include "state/reply.h"
#include "util/utf8.h"

bool
chat_is_name_character (char character)
{
    return (character >= 'a' && character <= 'z') || (character >= 'A' && character <= 'Z') ||
           (character >= '0' && character <= '9') || character == '.' || character == '_' ||
           character == '-';
}

//  what names the field in the message ("user name", "recipient").
static int
s_check_name (chat_t *self, const char *name, const char *what, Raftq__Code *code, char *error,
              size_t error_size)
{
    if (!name || !*name)
        return reply_refuse (RAFTQ__CODE__INVALID_ARGUMENT, code, error, error_size, "%s is empty",
                             what);
    size_t length = strlen (name);
    if (length > self->options.max_user_name)
        return reply_refuse (RAFTQ__CODE__INVALID_ARGUMENT, code, error, error_size,
                             "%s is longer than %zu bytes", what, self->options.max_user_name);
    for (size_t position = 0; position < length; position++)
        if (!chat_is_name_character (name[position]))
            return reply_refuse (RAFTQ__CODE__INVALID_ARGUMENT, code, error, error_size,
                                 "%s may hold only letters, digits, '.', '_' and '-'", what);
    return 0;
}

static bool
s_is_space (char character)
{
    return character == ' ' || character == '\t' || character == '\n' || character == '\r' ||
           character == '\v' || character == '\f';
}

void
chat_trim (const char *text, const char **start, size_t *length)
{
    const char *first = text ? text : "";
    while (s_is_space (*first))
        first++;
    size_t size = strlen (first);
    while (size > 0 && s_is_space (first[size - 1]))
        size--;
    *start = first;
    *length = size;
}

static int
s_check_text (chat_t *self, const char *text, Raftq__Code *code, char *error, size_t error_size)
{
    const char *start;
    size_t length;
    chat_trim (text, &start, &length);
    if (length == 0)
        return reply_refuse (RAFTQ__CODE__INVALID_ARGUMENT, code, error, error_size,
                             "message text is empty");
    if (length > self->options.max_text_bytes)
        return reply_refuse (RAFTQ__CODE__TOO_LARGE, code, error, error_size,
                             "message text of %zu bytes exceeds the limit of %zu", length,
                             self->options.max_text_bytes);
    const uint8_t *bytes = (const uint8_t *)start;
    for (size_t offset = 0; offset < length;) {
        size_t sequence = utf8_sequence (bytes + offset, length - offset, NULL);
        if (!sequence)
            return reply_refuse (RAFTQ__CODE__INVALID_ARGUMENT, code, error, error_size,
                                 "message text is not valid UTF-8");
        uint8_t byte = bytes[offset];
        bool control = sequence == 1 && (byte < 0x20 || byte == 0x7F) && byte != '\t' &&
                       byte != '\n' && byte != '\r';
        if (control)
            return reply_refuse (RAFTQ__CODE__INVALID_ARGUMENT, code, error, error_size,
                                 "message text contains a control character");
        offset += sequence;
    }
    return 0;
}

static int
s_check_page_size (chat_t *self, uint32_t page_size, Raftq__Code *code, char *error,
                   size_t error_size)
{
    if (page_size > self->options.max_page_size)
        return reply_refuse (RAFTQ__CODE__INVALID_ARGUMENT, code, error, error_size,
                             "page_size %u exceeds the limit of %zu", page_size,
                             self->options.max_page_size);
    return 0;
}

bool
chat_is_token (const char *token, size_t length)
{
    if (!token || length != CHAT_TOKEN_LENGTH)
        return false;
    for (size_t position = 0; position < CHAT_TOKEN_LENGTH; position++)
        if (!((token[position] >= '0' && token[position] <= '9') ||
              (token[position] >= 'a' && token[position] <= 'f')))
            return false;
    return true;
}

//  Only a leader bug could send anything else; apply refuses it all the same.
static bool
s_is_password_hash (const char *hash)
{
    if (!hash || strncmp (hash, CHAT_PASSWORD_HASH_PREFIX, strlen (CHAT_PASSWORD_HASH_PREFIX)))
        return false;
    size_t length = strlen (hash);
    if (length >= CHAT_PASSWORD_HASH_MAX)
        return false;
    for (size_t position = 0; position < length; position++)
        if (hash[position] <= ' ' || hash[position] > '~')
            return false;
    return true;
}

int
chat_check_credentials (chat_t *self, const char *user, const char *password, Raftq__Code *code,
                        char *error, size_t error_size)
{
    assert (self);
    if (s_check_name (self, user, "user name", code, error, error_size))
        return -1;
    if (!password || !*password)
        return reply_refuse (RAFTQ__CODE__INVALID_ARGUMENT, code, error, error_size,
                             "password is empty");
    if (strlen (password) > self->options.max_password_bytes)
        return reply_refuse (RAFTQ__CODE__INVALID_ARGUMENT, code, error, error_size,
                             "password is longer than %zu bytes", self->options.max_password_bytes);
    return 0;
}

bool
chat_handles (const Raftq__State__Command *command)
{
    switch (command->op_case) {
    case RAFTQ__STATE__COMMAND__OP_CREATE_ACCOUNT:
    case RAFTQ__STATE__COMMAND__OP_CHECK_USER:
    case RAFTQ__STATE__COMMAND__OP_LOGIN:
    case RAFTQ__STATE__COMMAND__OP_LOGOUT:
    case RAFTQ__STATE__COMMAND__OP_LIST_ACCOUNTS:
    case RAFTQ__STATE__COMMAND__OP_SEND_MESSAGE:
    case RAFTQ__STATE__COMMAND__OP_READ_MESSAGES:
    case RAFTQ__STATE__COMMAND__OP_DELETE_MESSAGES:
    case RAFTQ__STATE__COMMAND__OP_DELETE_ACCOUNT:
        return true;
    default:
        return false;
    }
}

//  The operation's submessage, NULL when the case is set without it (a
//  command built in memory).
static const void *
s_operation (const Raftq__State__Command *command)
{
    switch (command->op_case) {
    case RAFTQ__STATE__COMMAND__OP_CREATE_ACCOUNT:
        return command->create_account;
    case RAFTQ__STATE__COMMAND__OP_CHECK_USER:
        return command->check_user;
    case RAFTQ__STATE__COMMAND__OP_LOGIN:
        return command->login;
    case RAFTQ__STATE__COMMAND__OP_LOGOUT:
        return command->logout;
    case RAFTQ__STATE__COMMAND__OP_LIST_ACCOUNTS:
        return command->list_accounts;
    case RAFTQ__STATE__COMMAND__OP_SEND_MESSAGE:
        return command->send_message;
    case RAFTQ__STATE__COMMAND__OP_READ_MESSAGES:
        return command->read_messages;
    case RAFTQ__STATE__COMMAND__OP_DELETE_MESSAGES:
        return command->delete_messages;
    case RAFTQ__STATE__COMMAND__OP_DELETE_ACCOUNT:
        return command->delete_account;
    default:
        return NULL;
    }
}

bool
chat_needs_session (const Raftq__State__Command *command)
{
    return command->op_case != RAFTQ__STATE__COMMAND__OP_CREATE_ACCOUNT &&
           command->op_case != RAFTQ__STATE__COMMAND__OP_CHECK_USER &&
           command->op_case != RAFTQ__STATE__COMMAND__OP_LOGIN &&
           command->op_case != RAFTQ__STATE__COMMAND__OP_LIST_ACCOUNTS;
}

int
chat_validate (chat_t *self, const Raftq__State__Command *command, Raftq__Code *code, char *error,
               size_t error_size)
{
    assert (self);
    assert (command);
    if (!chat_handles (command) || !s_operation (command))
        return reply_refuse (RAFTQ__CODE__INVALID_ARGUMENT, code, error, error_size,
                             "command has no operation");
    if (chat_needs_session (command) && command->token &&
        strlen (command->token) > CHAT_MAX_TOKEN_LENGTH)
        return reply_refuse (RAFTQ__CODE__UNAUTHENTICATED, code, error, error_size,
                             "invalid session token");

    switch (command->op_case) {
    case RAFTQ__STATE__COMMAND__OP_CREATE_ACCOUNT:
        if (s_check_name (self, command->create_account->user, "user name", code, error,
                          error_size))
            return -1;
        if (!s_is_password_hash (command->create_account->password_hash))
            return reply_refuse (RAFTQ__CODE__INVALID_ARGUMENT, code, error, error_size,
                                 "malformed password hash");
        return 0;
    case RAFTQ__STATE__COMMAND__OP_CHECK_USER:
        return s_check_name (self, command->check_user->user, "user name", code, error, error_size);
    case RAFTQ__STATE__COMMAND__OP_LOGIN:
        if (s_check_name (self, command->login->user, "user name", code, error, error_size))
            return -1;
        if (!command->login->token ||
            !chat_is_token (command->login->token, strlen (command->login->token)))
            return reply_refuse (RAFTQ__CODE__INVALID_ARGUMENT, code, error, error_size,
                                 "malformed session token");
        if (!s_is_password_hash (command->login->password_hash))
            return reply_refuse (RAFTQ__CODE__INVALID_ARGUMENT, code, error, error_size,
                                 "malformed password hash");
        return 0;
    case RAFTQ__STATE__COMMAND__OP_LIST_ACCOUNTS: {
        const char *pattern = command->list_accounts->pattern;
        if (pattern && strlen (pattern) > CHAT_MAX_PATTERN)
            return reply_refuse (RAFTQ__CODE__INVALID_ARGUMENT, code, error, error_size,
                                 "pattern is longer than %d bytes", CHAT_MAX_PATTERN);
        return s_check_page_size (self, command->list_accounts->page_size, code, error, error_size);
    }
    case RAFTQ__STATE__COMMAND__OP_SEND_MESSAGE:
        if (s_check_name (self, command->send_message->to, "recipient", code, error, error_size))
            return -1;
        return s_check_text (self, command->send_message->text, code, error, error_size);
    case RAFTQ__STATE__COMMAND__OP_READ_MESSAGES: {
        const char *partner = command->read_messages->partner;
        if (partner && *partner && s_check_name (self, partner, "partner", code, error, error_size))
            return -1;
        return s_check_page_size (self, command->read_messages->page_size, code, error, error_size);
    }
    case RAFTQ__STATE__COMMAND__OP_DELETE_MESSAGES: {
        size_t count = command->delete_messages->n_ids;
        if (count == 0)
            return reply_refuse (RAFTQ__CODE__INVALID_ARGUMENT, code, error, error_size,
                                 "no message ids to delete");
        if (count > self->options.max_page_size)
            return reply_refuse (RAFTQ__CODE__TOO_LARGE, code, error, error_size,
                                 "%zu message ids exceed the limit of %zu per request", count,
                                 self->options.max_page_size);
        return 0;
    }
    default:
        return 0;
    }
}
