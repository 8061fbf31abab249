/*  fsm_history — random histories of state machine entries for tests:
    every queue and chat operation, errors, retries and stale requests of a
    few clients, undecodable entries and no-ops, from a seed (a printed seed
    replays a run); and comparing what two fsms answer.
*/
#include "fsm_history.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  A command with storage for every operation it may carry.
typedef struct {
    Raftq__State__Command command;
    Raftq__CreateTopic create_topic;
    Raftq__ListTopics list_topics;
    Raftq__Publish publish;
    Raftq__Pop pop;
    Raftq__State__NewAccount create_account;
    Raftq__CheckUser check_user;
    Raftq__State__NewSession login;
    Raftq__Logout logout;
    Raftq__ListAccounts list_accounts;
    Raftq__SendMessage send_message;
    Raftq__ReadMessages read_messages;
    Raftq__DeleteMessages delete_messages;
    Raftq__DeleteAccount delete_account;
    char hash[96];       //  a well-formed (fake) password hash
    char token[40];      //  a well-formed session token
    char text[64];       //  message text
    uint8_t payload[48]; //  publish payload
    uint64_t ids[4];     //  ids to delete
} holder_t;

static void
s_holder_init (holder_t *holder)
{
    memset (holder, 0, sizeof *holder);
    raftq__state__command__init (&holder->command);
    raftq__create_topic__init (&holder->create_topic);
    raftq__list_topics__init (&holder->list_topics);
    raftq__publish__init (&holder->publish);
    raftq__pop__init (&holder->pop);
    raftq__state__new_account__init (&holder->create_account);
    raftq__check_user__init (&holder->check_user);
    raftq__state__new_session__init (&holder->login);
    raftq__logout__init (&holder->logout);
    raftq__list_accounts__init (&holder->list_accounts);
    raftq__send_message__init (&holder->send_message);
    raftq__read_messages__init (&holder->read_messages);
    raftq__delete_messages__init (&holder->delete_messages);
    raftq__delete_account__init (&holder->delete_account);
}

//  A 32-hex-digit token from a small number: the same numbers come back,
//  so some tokens are valid and some were never issued.
static void
s_token (char *token, uint64_t number)
{
    snprintf (token, 33, "%016" PRIx64 "%016" PRIx64, number, number * 7919);
}

//  Fills holder with a random queue operation.
static void
s_random_queue_op (holder_t *holder, uint64_t *random, uint64_t roll)
{
    const char *topics[] = {"a", "b", "c/d", "\xc3\xa9", ""};
    Raftq__State__Command *command = &holder->command;
    const char *topic = topics[fsm_fixture_random (random) % 5];
    if (roll < 5) {
        holder->create_topic.name = (char *)topic;
        command->op_case = RAFTQ__STATE__COMMAND__OP_CREATE_TOPIC;
        command->create_topic = &holder->create_topic;
    } else if (roll < 8) {
        command->op_case = RAFTQ__STATE__COMMAND__OP_LIST_TOPICS;
        command->list_topics = &holder->list_topics;
    } else if (roll < 30) {
        size_t size = fsm_fixture_random (random) % sizeof holder->payload;
        for (size_t byte = 0; byte < size; byte++)
            holder->payload[byte] = (uint8_t)fsm_fixture_random (random);
        holder->publish.topic = (char *)topic;
        holder->publish.payload.data = holder->payload;
        holder->publish.payload.len = size;
        command->op_case = RAFTQ__STATE__COMMAND__OP_PUBLISH;
        command->publish = &holder->publish;
    } else {
        holder->pop.topic = (char *)topic;
        command->op_case = RAFTQ__STATE__COMMAND__OP_POP;
        command->pop = &holder->pop;
    }
}

//  Fills holder with a random chat operation; position bounds message ids.
static void
s_random_chat_op (holder_t *holder, uint64_t *random, uint64_t roll, size_t position)
{
    const char *users[] = {"ann", "bob", "cid", "dan"};
    Raftq__State__Command *command = &holder->command;
    const char *user = users[fsm_fixture_random (random) % 4];
    const char *other = users[fsm_fixture_random (random) % 4];
    snprintf (holder->hash, sizeof holder->hash, "$argon2id$v=19$m=8,t=1,p=1$%s",
              roll % 7 ? "pw" : "bad");
    s_token (holder->token, 1 + fsm_fixture_random (random) % 10);
    if (roll != 40 && roll != 41 && roll != 42)
        command->token = holder->token;
    if (roll < 44) {
        holder->create_account.user = (char *)user;
        holder->create_account.password_hash = holder->hash;
        command->op_case = RAFTQ__STATE__COMMAND__OP_CREATE_ACCOUNT;
        command->create_account = &holder->create_account;
    } else if (roll < 52) {
        holder->login.user = (char *)user;
        holder->login.password_hash = holder->hash;
        holder->login.token = holder->token;
        command->op_case = RAFTQ__STATE__COMMAND__OP_LOGIN;
        command->login = &holder->login;
    } else if (roll < 70) {
        snprintf (holder->text, sizeof holder->text, " hello %" PRIu64 " ",
                  fsm_fixture_random (random) % 1000);
        holder->send_message.to = (char *)other;
        holder->send_message.text = holder->text;
        command->op_case = RAFTQ__STATE__COMMAND__OP_SEND_MESSAGE;
        command->send_message = &holder->send_message;
    } else if (roll < 78) {
        holder->read_messages.partner = roll % 2 ? (char *)other : NULL;
        holder->read_messages.page = (uint32_t)(fsm_fixture_random (random) % 3);
        holder->read_messages.page_size = (uint32_t)(fsm_fixture_random (random) % 4);
        command->op_case = RAFTQ__STATE__COMMAND__OP_READ_MESSAGES;
        command->read_messages = &holder->read_messages;
    } else if (roll < 84) {
        for (size_t id = 0; id < 4; id++)
            holder->ids[id] = 1 + fsm_fixture_random (random) % (position / 4 + 1);
        holder->delete_messages.ids = holder->ids;
        holder->delete_messages.n_ids = 1 + fsm_fixture_random (random) % 4;
        command->op_case = RAFTQ__STATE__COMMAND__OP_DELETE_MESSAGES;
        command->delete_messages = &holder->delete_messages;
    } else if (roll < 86) {
        command->op_case = RAFTQ__STATE__COMMAND__OP_DELETE_ACCOUNT;
        command->delete_account = &holder->delete_account;
    } else if (roll < 89) {
        command->op_case = RAFTQ__STATE__COMMAND__OP_LOGOUT;
        command->logout = &holder->logout;
    } else if (roll < 94) {
        holder->list_accounts.pattern = roll % 2 ? "*" : "[a-c]*";
        holder->list_accounts.page_size = 2;
        command->op_case = RAFTQ__STATE__COMMAND__OP_LIST_ACCOUNTS;
        command->list_accounts = &holder->list_accounts;
    } else {
        holder->check_user.user = (char *)user;
        command->op_case = RAFTQ__STATE__COMMAND__OP_CHECK_USER;
        command->check_user = &holder->check_user;
    }
}

//  A random history over every operation: queue and chat commands, errors,
//  retries and stale requests of a few clients, undecodable entries, no-ops.
fsm_fixture_entry_t *
fsm_history_new (uint64_t seed, size_t count)
{
    uint64_t random = seed ? seed : 1;
    uint64_t client_seq[5] = {0, 0, 0, 0, 0};
    fsm_fixture_entry_t *history = calloc (count, sizeof (fsm_fixture_entry_t));
    assert_non_null (history);
    for (size_t position = 0; position < count; position++) {
        uint64_t roll = fsm_fixture_random (&random) % 100;
        if (roll < 2)
            continue; //  a no-op entry
        if (roll < 4) {
            history[position].size = 1 + fsm_fixture_random (&random) % 8;
            history[position].data = malloc (history[position].size);
            for (size_t byte = 0; byte < history[position].size; byte++)
                history[position].data[byte] = (uint8_t)(0xf0 | fsm_fixture_random (&random));
            continue; //  undecodable: every byte continues a varint that never ends
        }
        holder_t holder;
        s_holder_init (&holder);
        holder.command.timestamp_ms = 1700000000000LL + (int64_t)position;
        if (roll < 40)
            s_random_queue_op (&holder, &random, roll - 4);
        else
            s_random_chat_op (&holder, &random, roll, position);
        uint64_t who = fsm_fixture_random (&random) % 8;
        if (who < 5) {
            holder.command.client_id = 1000 + who;
            uint64_t kind = fsm_fixture_random (&random) % 10;
            if (kind == 0 && client_seq[who] > 1)
                holder.command.seq = client_seq[who] - 1; //  stale
            else if (kind == 1 && client_seq[who] > 0)
                holder.command.seq = client_seq[who]; //  retry
            else
                holder.command.seq = ++client_seq[who];
        }
        history[position].size = raftq__state__command__get_packed_size (&holder.command);
        history[position].data = malloc (history[position].size + 1);
        assert_non_null (history[position].data);
        raftq__state__command__pack (&holder.command, history[position].data);
    }
    return history;
}

void
fsm_history_apply (fsm_t *fsm, const fsm_fixture_entry_t *entry, fsm_output_t *output)
{
    assert_int_equal (fsm_fixture_apply_entry (fsm, entry, output), 0);
}

//  True if both fsms answer a Replay of stream from its start alike.
bool
fsm_history_same_replay (fsm_t *first, fsm_t *second, const char *stream)
{
    Raftq__Replay replay = RAFTQ__REPLAY__INIT;
    replay.stream = (char *)stream;
    fsm_output_t one = {.reply = fsm_replay (first, &replay)};
    fsm_output_t two = {.reply = fsm_replay (second, &replay)};
    bool same = fsm_fixture_same_output (&one, &two);
    fsm_output_clear (&one);
    fsm_output_clear (&two);
    return same;
}

const fsm_options_t fsm_history_small_options = {.max_clients = 3,
                                                 .max_payload_bytes = 40,
                                                 .event_retention = 5,
                                                 .event_retention_bytes = 3000,
                                                 .chat = {.max_sessions = 2}};

//  A fsm with some of everything: applies the first count entries of a
//  seeded history.
fsm_t *
fsm_history_rich_fsm (uint64_t seed, size_t count)
{
    fsm_fixture_entry_t *history = fsm_history_new (seed, count);
    fsm_t *fsm = fsm_new (&fsm_history_small_options);
    for (size_t position = 0; position < count; position++) {
        fsm_output_t output;
        fsm_history_apply (fsm, &history[position], &output);
        fsm_output_clear (&output);
    }
    fsm_fixture_history_destroy (&history, count);
    return fsm;
}
