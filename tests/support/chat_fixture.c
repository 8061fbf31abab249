/*  chat_fixture — chat commands and starting states for unit tests; see
    chat_fixture.h.
*/

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat_fixture.h"

#include "state/session_key.h"
#include "fsm_fixture.h"

static Raftq__State__Command *
s_init (chat_fixture_t *holder, const char *token)
{
    memset (holder, 0, sizeof *holder);
    raftq__state__command__init (&holder->command);
    raftq__state__new_account__init (&holder->create_account);
    raftq__check_user__init (&holder->check_user);
    raftq__state__new_session__init (&holder->login);
    raftq__logout__init (&holder->logout);
    raftq__list_accounts__init (&holder->list_accounts);
    raftq__send_message__init (&holder->send_message);
    raftq__read_messages__init (&holder->read_messages);
    raftq__delete_messages__init (&holder->delete_messages);
    raftq__delete_account__init (&holder->delete_account);
    holder->command.timestamp_ms = CHAT_FIXTURE_TIMESTAMP;
    if (token)
        holder->command.token = (char *)token;
    return &holder->command;
}

//  The fake hash of a password: apply compares hashes, never computes one.
static const char *
s_hash_of (chat_fixture_t *holder, const char *password)
{
    snprintf (holder->hash, sizeof holder->hash, "$argon2id$v=19$m=8,t=1,p=1$%s", password);
    return holder->hash;
}

//  A 32-hex-digit token from a number.
void
chat_fixture_token (char *token, uint64_t number)
{
    snprintf (token, 33, "%016" PRIx64 "%016" PRIx64, number, number * 7919);
}

Raftq__State__Command *
chat_fixture_create_account (chat_fixture_t *holder, const char *user, const char *password)
{
    Raftq__State__Command *command = s_init (holder, NULL);
    holder->create_account.user = (char *)user;
    holder->create_account.password_hash = (char *)s_hash_of (holder, password);
    command->op_case = RAFTQ__STATE__COMMAND__OP_CREATE_ACCOUNT;
    command->create_account = &holder->create_account;
    return command;
}

Raftq__State__Command *
chat_fixture_login (chat_fixture_t *holder, const char *user, const char *password,
                    uint64_t token_number)
{
    Raftq__State__Command *command = s_init (holder, NULL);
    holder->login.user = (char *)user;
    holder->login.password_hash = (char *)s_hash_of (holder, password);
    chat_fixture_token (holder->token, token_number);
    holder->login.token = holder->token;
    command->op_case = RAFTQ__STATE__COMMAND__OP_LOGIN;
    command->login = &holder->login;
    return command;
}

Raftq__State__Command *
chat_fixture_send (chat_fixture_t *holder, const char *token, const char *to, const char *text)
{
    Raftq__State__Command *command = s_init (holder, token);
    holder->send_message.to = (char *)to;
    holder->send_message.text = (char *)text;
    command->op_case = RAFTQ__STATE__COMMAND__OP_SEND_MESSAGE;
    command->send_message = &holder->send_message;
    return command;
}

Raftq__State__Command *
chat_fixture_read (chat_fixture_t *holder, const char *token, const char *partner, uint32_t page,
                   uint32_t page_size)
{
    Raftq__State__Command *command = s_init (holder, token);
    if (partner)
        holder->read_messages.partner = (char *)partner;
    holder->read_messages.page = page;
    holder->read_messages.page_size = page_size;
    command->op_case = RAFTQ__STATE__COMMAND__OP_READ_MESSAGES;
    command->read_messages = &holder->read_messages;
    return command;
}

Raftq__State__Command *
chat_fixture_delete (chat_fixture_t *holder, const char *token, uint64_t *ids, size_t count)
{
    Raftq__State__Command *command = s_init (holder, token);
    holder->delete_messages.ids = ids;
    holder->delete_messages.n_ids = count;
    command->op_case = RAFTQ__STATE__COMMAND__OP_DELETE_MESSAGES;
    command->delete_messages = &holder->delete_messages;
    return command;
}

Raftq__State__Command *
chat_fixture_list (chat_fixture_t *holder, const char *pattern, uint32_t page, uint32_t page_size)
{
    Raftq__State__Command *command = s_init (holder, NULL);
    if (pattern)
        holder->list_accounts.pattern = (char *)pattern;
    holder->list_accounts.page = page;
    holder->list_accounts.page_size = page_size;
    command->op_case = RAFTQ__STATE__COMMAND__OP_LIST_ACCOUNTS;
    command->list_accounts = &holder->list_accounts;
    return command;
}

Raftq__State__Command *
chat_fixture_check_user (chat_fixture_t *holder, const char *user)
{
    Raftq__State__Command *command = s_init (holder, NULL);
    holder->check_user.user = (char *)user;
    command->op_case = RAFTQ__STATE__COMMAND__OP_CHECK_USER;
    command->check_user = &holder->check_user;
    return command;
}

Raftq__State__Command *
chat_fixture_logout (chat_fixture_t *holder, const char *token)
{
    Raftq__State__Command *command = s_init (holder, token);
    command->op_case = RAFTQ__STATE__COMMAND__OP_LOGOUT;
    command->logout = &holder->logout;
    return command;
}

Raftq__State__Command *
chat_fixture_delete_account (chat_fixture_t *holder, const char *token)
{
    Raftq__State__Command *command = s_init (holder, token);
    command->op_case = RAFTQ__STATE__COMMAND__OP_DELETE_ACCOUNT;
    command->delete_account = &holder->delete_account;
    return command;
}

void
chat_fixture_session (fsm_t *fsm, const char *user, uint64_t token_number, char *out)
{
    chat_fixture_t holder;
    fsm_output_t output;
    fsm_fixture_apply (fsm, chat_fixture_login (&holder, user, "pw", token_number), &output);
    if (output.reply->code != RAFTQ__CODE__OK ||
        output.reply->result_case != RAFTQ__REPLY__RESULT_SESSION ||
        strcmp (output.reply->session->token, "") != 0)
        fsm_fixture_fail ("login of %s failed: %s", user, output.reply->error);
    //  The reply carries no token (the proposer adds it): the fixture acts
    //  as the proposer, whose commands carry the token's key
    strcpy (out, holder.token);
    fsm_output_clear (&output);
}

fsm_t *
chat_fixture_world (const char *const *users, size_t count, char tokens[][33])
{
    fsm_t *fsm = fsm_new (NULL);
    if (!fsm)
        fsm_fixture_fail ("fsm_new failed");
    chat_fixture_t holder;
    for (size_t position = 0; position < count; position++) {
        if (fsm_fixture_run (fsm, chat_fixture_create_account (&holder, users[position], "pw")) !=
            RAFTQ__CODE__OK)
            fsm_fixture_fail ("cannot create account %s", users[position]);
        chat_fixture_session (fsm, users[position], position + 1, tokens[position]);
    }
    return fsm;
}

uint64_t
chat_fixture_send_ok (fsm_t *fsm, const char *token, const char *to, const char *text)
{
    chat_fixture_t holder;
    fsm_output_t output;
    fsm_fixture_apply (fsm, chat_fixture_send (&holder, token, to, text), &output);
    if (output.reply->code != RAFTQ__CODE__OK)
        fsm_fixture_fail ("send to %s failed: %s", to, output.reply->error);
    uint64_t id = output.reply->sent->id;
    fsm_output_clear (&output);
    return id;
}

void
chat_fixture_session_of (fsm_t *fsm, const char *user, const char *raw, int64_t timestamp_ms)
{
    chat_fixture_t holder;
    Raftq__State__Command *command = chat_fixture_login (&holder, user, "pw", 1);
    char key[SESSION_KEY_SIZE];
    session_key (raw, key);
    holder.login.token = key;
    command->timestamp_ms = timestamp_ms;
    if (fsm_fixture_run (fsm, command) != RAFTQ__CODE__OK)
        fsm_fixture_fail ("cannot log %s in", user);
}
