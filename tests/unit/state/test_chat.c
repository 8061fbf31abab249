/*  test_chat — chat.c driven the way the server drives it: packed state
    commands applied by the fsm. Every chat operation with its errors and
    authorization rules (UNAUTHENTICATED, PERMISSION_DENIED), limits
    (INVALID_ARGUMENT, TOO_LARGE), paging and read marks, the events of each
    operation on user/ and conv/ streams, Replay of them, exactly-once
    retries, and determinism: two state machines fed the same random chat
    history end with the same replies, events and state hash.
*/

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "state/fsm.h"

#define TIMESTAMP 1700000000000LL

//  --------------------------------------------------------------------------
//  Building and applying commands

//  A command with storage for every chat operation it may carry.
typedef struct {
    Raftq__State__Command command;
    Raftq__State__NewAccount create_account;
    Raftq__CheckUser check_user;
    Raftq__State__NewSession login;
    Raftq__Logout logout;
    Raftq__ListAccounts list_accounts;
    Raftq__SendMessage send_message;
    Raftq__ReadMessages read_messages;
    Raftq__DeleteMessages delete_messages;
    Raftq__DeleteAccount delete_account;
    char hash[96];  //  a well-formed (fake) password hash
    char token[40]; //  a well-formed session token
} holder_t;

static Raftq__State__Command *
s_init (holder_t *holder, const char *token)
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
    holder->command.timestamp_ms = TIMESTAMP;
    if (token)
        holder->command.token = (char *)token;
    return &holder->command;
}

//  The fake hash of a password: apply compares hashes, never computes one.
static const char *
s_hash_of (holder_t *holder, const char *password)
{
    snprintf (holder->hash, sizeof holder->hash, "$argon2id$v=19$m=8,t=1,p=1$%s", password);
    return holder->hash;
}

//  A 32-hex-digit token from a number.
static void
s_token (char *token, uint64_t number)
{
    snprintf (token, 33, "%016" PRIx64 "%016" PRIx64, number, number * 7919);
}

static Raftq__State__Command *
s_create_account (holder_t *holder, const char *user, const char *password)
{
    Raftq__State__Command *command = s_init (holder, NULL);
    holder->create_account.user = (char *)user;
    holder->create_account.password_hash = (char *)s_hash_of (holder, password);
    command->op_case = RAFTQ__STATE__COMMAND__OP_CREATE_ACCOUNT;
    command->create_account = &holder->create_account;
    return command;
}

static Raftq__State__Command *
s_login (holder_t *holder, const char *user, const char *password, uint64_t token_number)
{
    Raftq__State__Command *command = s_init (holder, NULL);
    holder->login.user = (char *)user;
    holder->login.password_hash = (char *)s_hash_of (holder, password);
    s_token (holder->token, token_number);
    holder->login.token = holder->token;
    command->op_case = RAFTQ__STATE__COMMAND__OP_LOGIN;
    command->login = &holder->login;
    return command;
}

static Raftq__State__Command *
s_send (holder_t *holder, const char *token, const char *to, const char *text)
{
    Raftq__State__Command *command = s_init (holder, token);
    holder->send_message.to = (char *)to;
    holder->send_message.text = (char *)text;
    command->op_case = RAFTQ__STATE__COMMAND__OP_SEND_MESSAGE;
    command->send_message = &holder->send_message;
    return command;
}

static Raftq__State__Command *
s_read (holder_t *holder, const char *token, const char *partner, uint32_t page, uint32_t page_size)
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

static Raftq__State__Command *
s_delete (holder_t *holder, const char *token, uint64_t *ids, size_t count)
{
    Raftq__State__Command *command = s_init (holder, token);
    holder->delete_messages.ids = ids;
    holder->delete_messages.n_ids = count;
    command->op_case = RAFTQ__STATE__COMMAND__OP_DELETE_MESSAGES;
    command->delete_messages = &holder->delete_messages;
    return command;
}

static Raftq__State__Command *
s_list (holder_t *holder, const char *pattern, uint32_t page, uint32_t page_size)
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

static Raftq__State__Command *
s_check_user (holder_t *holder, const char *user)
{
    Raftq__State__Command *command = s_init (holder, NULL);
    holder->check_user.user = (char *)user;
    command->op_case = RAFTQ__STATE__COMMAND__OP_CHECK_USER;
    command->check_user = &holder->check_user;
    return command;
}

static Raftq__State__Command *
s_logout (holder_t *holder, const char *token)
{
    Raftq__State__Command *command = s_init (holder, token);
    command->op_case = RAFTQ__STATE__COMMAND__OP_LOGOUT;
    command->logout = &holder->logout;
    return command;
}

static Raftq__State__Command *
s_delete_account (holder_t *holder, const char *token)
{
    Raftq__State__Command *command = s_init (holder, token);
    command->op_case = RAFTQ__STATE__COMMAND__OP_DELETE_ACCOUNT;
    command->delete_account = &holder->delete_account;
    return command;
}

//  Packs and applies command at the next index; output must be cleared.
static void
s_apply (fsm_t *fsm, const Raftq__State__Command *command, fsm_output_t *output)
{
    size_t size = raftq__state__command__get_packed_size (command);
    uint8_t *data = malloc (size ? size : 1);
    assert_non_null (data);
    raftq__state__command__pack (command, data);
    assert_int_equal (fsm_apply (fsm, fsm_applied_index (fsm) + 1, data, size, output), 0);
    free (data);
    assert_non_null (output->reply);
}

//  Applies and returns the reply code (events dropped).
static Raftq__Code
s_run (fsm_t *fsm, const Raftq__State__Command *command)
{
    fsm_output_t output;
    s_apply (fsm, command, &output);
    Raftq__Code code = output.reply->code;
    fsm_output_clear (&output);
    return code;
}

//  Applies a command that must fail with code (and no events) and whose
//  error text must contain text.
static void
s_expect_error (fsm_t *fsm, const Raftq__State__Command *command, Raftq__Code code,
                const char *text)
{
    fsm_output_t output;
    s_apply (fsm, command, &output);
    if (output.reply->code != code || !strstr (output.reply->error, text))
        fail_msg ("expected code %d with \"%s\", got %d \"%s\"", code, text, output.reply->code,
                  output.reply->error);
    assert_int_equal (output.event_count, 0);
    fsm_output_clear (&output);
}

//  Logs user in with token_number; the token in out (33 bytes).
static void
s_session (fsm_t *fsm, const char *user, uint64_t token_number, char *out)
{
    holder_t holder;
    fsm_output_t output;
    s_apply (fsm, s_login (&holder, user, "pw", token_number), &output);
    assert_int_equal (output.reply->code, RAFTQ__CODE__OK);
    assert_int_equal (output.reply->result_case, RAFTQ__REPLY__RESULT_SESSION);
    strcpy (out, output.reply->session->token);
    assert_string_equal (out, holder.token);
    fsm_output_clear (&output);
}

//  A fresh state with accounts (password "pw") and a session for each.
static fsm_t *
s_world (const char *const *users, size_t count, char tokens[][33])
{
    fsm_t *fsm = fsm_new (NULL);
    assert_non_null (fsm);
    holder_t holder;
    for (size_t position = 0; position < count; position++) {
        assert_int_equal (s_run (fsm, s_create_account (&holder, users[position], "pw")),
                          RAFTQ__CODE__OK);
        s_session (fsm, users[position], position + 1, tokens[position]);
    }
    return fsm;
}

//  Sends and returns the message id.
static uint64_t
s_send_ok (fsm_t *fsm, const char *token, const char *to, const char *text)
{
    holder_t holder;
    fsm_output_t output;
    s_apply (fsm, s_send (&holder, token, to, text), &output);
    if (output.reply->code != RAFTQ__CODE__OK)
        fail_msg ("send to %s failed: %s", to, output.reply->error);
    uint64_t id = output.reply->sent->id;
    fsm_output_clear (&output);
    return id;
}

//  --------------------------------------------------------------------------
//  Accounts

static void
test_create_and_check (void **state)
{
    (void)state;
    fsm_t *fsm = fsm_new (NULL);
    holder_t holder;
    assert_int_equal (s_run (fsm, s_create_account (&holder, "ann", "pw")), RAFTQ__CODE__OK);
    assert_int_equal (s_run (fsm, s_create_account (&holder, "Ann", "pw")), RAFTQ__CODE__OK);
    assert_int_equal (s_run (fsm, s_create_account (&holder, "a.b_c-9", "pw")), RAFTQ__CODE__OK);
    assert_string_equal (fsm_password_hash (fsm, "ann"), "$argon2id$v=19$m=8,t=1,p=1$pw");
    assert_null (fsm_password_hash (fsm, "bob"));
    s_expect_error (fsm, s_create_account (&holder, "ann", "other"), RAFTQ__CODE__ALREADY_EXISTS,
                    "account 'ann' already exists");
    //  The first hash stays
    assert_string_equal (fsm_password_hash (fsm, "ann"), "$argon2id$v=19$m=8,t=1,p=1$pw");

    const char *bad[][2] = {
        {"", "user name is empty"},
        {"123456789012345678901234567890123", "user name is longer than 32 bytes"},
        {"a/b", "user name may hold only"},
        {"a b", "user name may hold only"},
        {"\xc3\xa9", "user name may hold only"},
        {"a*", "user name may hold only"},
    };
    for (size_t position = 0; position < sizeof bad / sizeof bad[0]; position++)
        s_expect_error (fsm, s_create_account (&holder, bad[position][0], "pw"),
                        RAFTQ__CODE__INVALID_ARGUMENT, bad[position][1]);
    assert_int_equal (
        s_run (fsm, s_create_account (&holder, "12345678901234567890123456789012", "pw")),
        RAFTQ__CODE__OK);
    //  Only a hash is accepted where the password was
    Raftq__State__Command *command = s_create_account (&holder, "carl", "pw");
    holder.create_account.password_hash = "plaintext";
    s_expect_error (fsm, command, RAFTQ__CODE__INVALID_ARGUMENT, "malformed password hash");
    holder.create_account.password_hash = "$argon2id$with space";
    s_expect_error (fsm, command, RAFTQ__CODE__INVALID_ARGUMENT, "malformed password hash");

    fsm_output_t output;
    const char *names[] = {"ann", "Ann", "bob", "carl"};
    const bool exist[] = {true, true, false, false};
    for (size_t position = 0; position < 4; position++) {
        s_apply (fsm, s_check_user (&holder, names[position]), &output);
        assert_int_equal (output.reply->code, RAFTQ__CODE__OK);
        assert_int_equal (output.reply->result_case, RAFTQ__REPLY__RESULT_USER_EXISTS);
        assert_int_equal (output.reply->user_exists->exists, exist[position]);
        assert_int_equal (output.event_count, 0);
        fsm_output_clear (&output);
    }
    s_expect_error (fsm, s_check_user (&holder, "no/pe"), RAFTQ__CODE__INVALID_ARGUMENT,
                    "user name may hold only");

    //  The leader's checks before hashing
    Raftq__Code code;
    char error[128];
    assert_int_equal (fsm_check_credentials (fsm, "dora", "pw", &code, error, sizeof error), 0);
    assert_int_equal (fsm_check_credentials (fsm, "dora", "", &code, error, sizeof error), -1);
    assert_int_equal (code, RAFTQ__CODE__INVALID_ARGUMENT);
    assert_string_equal (error, "password is empty");
    char long_password[258];
    memset (long_password, 'p', 257);
    long_password[257] = 0;
    assert_int_equal (
        fsm_check_credentials (fsm, "dora", long_password, &code, error, sizeof error), -1);
    assert_string_equal (error, "password is longer than 256 bytes");
    long_password[256] = 0;
    assert_int_equal (
        fsm_check_credentials (fsm, "dora", long_password, &code, error, sizeof error), 0);
    assert_int_equal (fsm_check_credentials (fsm, "do ra", "pw", &code, error, sizeof error), -1);
    assert_int_equal (fsm_check_credentials (fsm, NULL, NULL, &code, error, sizeof error), -1);
    assert_string_equal (error, "user name is empty");
    fsm_destroy (&fsm);
}

//  Lists with pattern and paging; names is a space-separated expectation.
static void
s_expect_listing (fsm_t *fsm, const char *pattern, uint32_t page, uint32_t page_size,
                  const char *names, uint64_t total)
{
    holder_t holder;
    fsm_output_t output;
    s_apply (fsm, s_list (&holder, pattern, page, page_size), &output);
    assert_int_equal (output.reply->code, RAFTQ__CODE__OK);
    assert_int_equal (output.reply->result_case, RAFTQ__REPLY__RESULT_ACCOUNTS);
    char seen[512] = "";
    for (size_t position = 0; position < output.reply->accounts->n_names; position++) {
        if (position)
            strcat (seen, " ");
        strcat (seen, output.reply->accounts->names[position]);
    }
    if (strcmp (seen, names) || output.reply->accounts->total != total)
        fail_msg ("pattern \"%s\" page %u/%u: \"%s\" of %" PRIu64 ", expected \"%s\" of %" PRIu64,
                  pattern ? pattern : "(none)", page, page_size, seen,
                  output.reply->accounts->total, names, total);
    fsm_output_clear (&output);
}

static void
test_list_accounts (void **state)
{
    (void)state;
    fsm_t *fsm = fsm_new (NULL);
    holder_t holder;
    const char *users[] = {"carl", "ann", "bob", "anna", "Zed", "a*b", "annabel", "b2", "x.y"};
    for (size_t position = 0; position < sizeof users / sizeof users[0]; position++)
        if (strchr (users[position], '*'))
            s_expect_error (fsm, s_create_account (&holder, users[position], "pw"),
                            RAFTQ__CODE__INVALID_ARGUMENT, "may hold only");
        else
            assert_int_equal (s_run (fsm, s_create_account (&holder, users[position], "pw")),
                              RAFTQ__CODE__OK);

    //  Sorted byte-wise; empty pattern means all
    s_expect_listing (fsm, NULL, 0, 0, "Zed ann anna annabel b2 bob carl x.y", 8);
    s_expect_listing (fsm, "", 1, 100, "Zed ann anna annabel b2 bob carl x.y", 8);
    s_expect_listing (fsm, "*", 1, 3, "Zed ann anna", 8);
    s_expect_listing (fsm, "*", 2, 3, "annabel b2 bob", 8);
    s_expect_listing (fsm, "*", 3, 3, "carl x.y", 8);
    s_expect_listing (fsm, "*", 4, 3, "", 8);
    s_expect_listing (fsm, "*", UINT32_MAX, 1000, "", 8);
    s_expect_listing (fsm, "ann*", 1, 20, "ann anna annabel", 3);
    s_expect_listing (fsm, "ann?", 1, 20, "anna", 1);
    s_expect_listing (fsm, "ann", 1, 20, "ann", 1);
    s_expect_listing (fsm, "an", 1, 20, "", 0);
    s_expect_listing (fsm, "*a*", 1, 20, "ann anna annabel carl", 4);
    s_expect_listing (fsm, "*l", 1, 20, "annabel carl", 2);
    s_expect_listing (fsm, "[a-b]*", 1, 20, "ann anna annabel b2 bob", 5);
    s_expect_listing (fsm, "[!a-b]*", 1, 20, "Zed carl x.y", 3);
    s_expect_listing (fsm, "[^a-z]*", 1, 20, "Zed", 1);
    s_expect_listing (fsm, "b[0-9]", 1, 20, "b2", 1);
    s_expect_listing (fsm, "x\\.y", 1, 20, "x.y", 1);
    s_expect_listing (fsm, "x?y", 1, 20, "x.y", 1);
    s_expect_listing (fsm, "[]a]nn", 1, 20, "ann", 1);
    s_expect_listing (fsm, "[abc", 1, 20, "", 0); //  unclosed: a literal '['
    s_expect_listing (fsm, "**a**n**", 1, 20, "ann anna annabel", 3);
    //  A pattern made to blow up a backtracking matcher is quick here
    assert_int_equal (
        s_run (fsm, s_create_account (&holder, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "pw")),
        RAFTQ__CODE__OK);
    clock_t started = clock ();
    s_expect_listing (fsm, "*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b", 1,
                      20, "", 0);
    assert_true ((double)(clock () - started) / CLOCKS_PER_SEC < 1.0);

    char pattern[130];
    memset (pattern, '*', 129);
    pattern[129] = 0;
    s_expect_error (fsm, s_list (&holder, pattern, 1, 20), RAFTQ__CODE__INVALID_ARGUMENT,
                    "pattern is longer than 128 bytes");
    pattern[128] = 0;
    assert_int_equal (s_run (fsm, s_list (&holder, pattern, 1, 20)), RAFTQ__CODE__OK);
    s_expect_error (fsm, s_list (&holder, "*", 1, 1001), RAFTQ__CODE__INVALID_ARGUMENT,
                    "page_size 1001 exceeds the limit of 1000");
    s_expect_listing (fsm, "*", 1, 1000,
                      "Zed aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa ann anna annabel b2 bob carl x.y", 9);
    fsm_destroy (&fsm);
}

//  --------------------------------------------------------------------------
//  Sessions

static void
test_login_and_logout (void **state)
{
    (void)state;
    fsm_options_t options = {.chat = {.max_sessions = 2}};
    fsm_t *fsm = fsm_new (&options);
    holder_t holder;
    assert_int_equal (s_run (fsm, s_create_account (&holder, "ann", "pw")), RAFTQ__CODE__OK);
    assert_int_equal (s_run (fsm, s_create_account (&holder, "bob", "pw")), RAFTQ__CODE__OK);

    //  The leader verified against a hash that is no longer (or never was) the stored one
    s_expect_error (fsm, s_login (&holder, "ann", "old-password", 1), RAFTQ__CODE__UNAUTHENTICATED,
                    "wrong user name or password");
    s_expect_error (fsm, s_login (&holder, "nobody", "pw", 1), RAFTQ__CODE__UNAUTHENTICATED,
                    "wrong user name or password");
    Raftq__State__Command *command = s_login (&holder, "ann", "pw", 1);
    holder.login.token = "ABCDEF0123456789ABCDEF0123456789";
    s_expect_error (fsm, command, RAFTQ__CODE__INVALID_ARGUMENT, "malformed session token");
    holder.login.token = "0123";
    s_expect_error (fsm, command, RAFTQ__CODE__INVALID_ARGUMENT, "malformed session token");

    char first[33], second[33], third[33], bobs[33];
    s_session (fsm, "ann", 1, first);
    s_session (fsm, "ann", 2, second);
    s_session (fsm, "bob", 9, bobs);
    //  A token is never handed out twice
    s_expect_error (fsm, s_login (&holder, "bob", "pw", 2), RAFTQ__CODE__INVALID_ARGUMENT,
                    "session token already in use");

    //  Unread count at login
    s_send_ok (fsm, bobs, "ann", "one");
    s_send_ok (fsm, bobs, "ann", "two");
    fsm_output_t output;
    s_apply (fsm, s_login (&holder, "ann", "pw", 3), &output);
    assert_int_equal (output.reply->session->unread, 2);
    strcpy (third, output.reply->session->token);
    assert_int_equal (output.event_count, 0);
    fsm_output_clear (&output);
    //  A third session ends the oldest (max_sessions 2)
    s_expect_error (fsm, s_read (&holder, first, NULL, 1, 1), RAFTQ__CODE__UNAUTHENTICATED,
                    "invalid session token");
    assert_int_equal (s_run (fsm, s_read (&holder, second, NULL, 1, 1)), RAFTQ__CODE__OK);

    //  Logout ends exactly that session
    assert_int_equal (s_run (fsm, s_logout (&holder, second)), RAFTQ__CODE__OK);
    s_expect_error (fsm, s_logout (&holder, second), RAFTQ__CODE__UNAUTHENTICATED,
                    "invalid session token");
    s_expect_error (fsm, s_read (&holder, second, NULL, 1, 1), RAFTQ__CODE__UNAUTHENTICATED,
                    "invalid session token");
    assert_int_equal (s_run (fsm, s_read (&holder, third, NULL, 1, 1)), RAFTQ__CODE__OK);
    s_expect_error (fsm, s_logout (&holder, NULL), RAFTQ__CODE__UNAUTHENTICATED,
                    "no session token: log in first");
    //  A token too long to be one is refused before the log
    char huge[70];
    memset (huge, 'a', 69);
    huge[69] = 0;
    Raftq__Code code;
    char error[64];
    assert_int_equal (fsm_validate (fsm, s_logout (&holder, huge), &code, error, sizeof error), -1);
    assert_int_equal (code, RAFTQ__CODE__UNAUTHENTICATED);
    fsm_destroy (&fsm);
}

//  --------------------------------------------------------------------------
//  Messages

static void
test_send_and_events (void **state)
{
    (void)state;
    const char *users[] = {"bob", "ann"};
    char tokens[2][33];
    fsm_t *fsm = s_world (users, 2, tokens);
    holder_t holder;
    fsm_output_t output;

    s_apply (fsm, s_send (&holder, tokens[0], "ann", "  \t hello ann \n "), &output);
    assert_int_equal (output.reply->code, RAFTQ__CODE__OK);
    assert_int_equal (output.reply->result_case, RAFTQ__REPLY__RESULT_SENT);
    assert_int_equal (output.reply->sent->id, 1);
    assert_int_equal (output.reply->sent->ts, TIMESTAMP);
    //  One event per stream: the recipient's, the sender's, the conversation's
    assert_int_equal (output.event_count, 3);
    const char *streams[] = {"user/ann", "user/bob", "conv/ann/bob"};
    for (size_t position = 0; position < 3; position++) {
        Raftq__Event *event = output.events[position];
        assert_string_equal (event->stream, streams[position]);
        assert_int_equal (event->seq, 1);
        assert_int_equal (event->index, fsm_applied_index (fsm));
        assert_string_equal (event->kind, "message");
        assert_int_equal (event->id, 1);
        assert_string_equal (event->from, "bob");
        assert_string_equal (event->to, "ann");
        assert_string_equal (event->text, "hello ann");
        assert_int_equal (event->ts, TIMESTAMP);
    }
    fsm_output_clear (&output);

    //  Ids go on; per-stream seqs count each stream; to oneself: two events
    assert_int_equal (s_send_ok (fsm, tokens[1], "bob", "hi bob"), 2);
    s_apply (fsm, s_send (&holder, tokens[1], "ann", "note to self"), &output);
    assert_int_equal (output.reply->sent->id, 3);
    assert_int_equal (output.event_count, 2);
    assert_string_equal (output.events[0]->stream, "user/ann");
    assert_int_equal (output.events[0]->seq, 3);
    assert_string_equal (output.events[1]->stream, "conv/ann/ann");
    assert_int_equal (output.events[1]->seq, 1);
    fsm_output_clear (&output);

    //  Errors: nothing sent, no events, no id used
    char big[4098];
    memset (big, 'b', 4097);
    big[4097] = 0;
    s_expect_error (fsm, s_send (&holder, tokens[0], "nobody", "hi"), RAFTQ__CODE__NOT_FOUND,
                    "no account named 'nobody'");
    s_expect_error (fsm, s_send (&holder, tokens[0], "bad name", "hi"),
                    RAFTQ__CODE__INVALID_ARGUMENT, "recipient may hold only");
    s_expect_error (fsm, s_send (&holder, tokens[0], "ann", " \r\n\t "),
                    RAFTQ__CODE__INVALID_ARGUMENT, "message text is empty");
    s_expect_error (fsm, s_send (&holder, tokens[0], "ann", ""), RAFTQ__CODE__INVALID_ARGUMENT,
                    "message text is empty");
    s_expect_error (fsm, s_send (&holder, tokens[0], "ann", big), RAFTQ__CODE__TOO_LARGE,
                    "message text of 4097 bytes exceeds the limit of 4096");
    s_expect_error (fsm, s_send (&holder, tokens[0], "ann", "bad \xff byte"),
                    RAFTQ__CODE__INVALID_ARGUMENT, "not valid UTF-8");
    s_expect_error (fsm, s_send (&holder, tokens[0], "ann", "escape \x1b[2J"),
                    RAFTQ__CODE__INVALID_ARGUMENT, "control character");
    s_expect_error (fsm, s_send (&holder, "ffffffffffffffffffffffffffffffff", "ann", "hi"),
                    RAFTQ__CODE__UNAUTHENTICATED, "invalid session token");
    s_expect_error (fsm, s_send (&holder, NULL, "ann", "hi"), RAFTQ__CODE__UNAUTHENTICATED,
                    "no session token");
    //  Trimming comes before the size check; tabs and new lines inside stay
    big[4096] = 0;
    big[0] = ' ';
    big[1] = '\t';
    assert_int_equal (s_send_ok (fsm, tokens[0], "ann", big), 4);
    assert_int_equal (s_send_ok (fsm, tokens[0], "ann", "two\n\tlines \xe2\x9c\x93"), 5);
    fsm_destroy (&fsm);
}

//  Reads a page; checks ids (0-terminated), read flags, total and remaining.
static void
s_expect_page (fsm_t *fsm, const char *token, const char *partner, uint32_t page,
               uint32_t page_size, const uint64_t *ids, const bool *read, uint64_t total,
               uint64_t remaining)
{
    holder_t holder;
    fsm_output_t output;
    s_apply (fsm, s_read (&holder, token, partner, page, page_size), &output);
    if (output.reply->code != RAFTQ__CODE__OK)
        fail_msg ("read failed: %s", output.reply->error);
    Raftq__MessagePage *result = output.reply->page;
    size_t count = 0;
    while (ids[count])
        count++;
    if (result->n_messages != count)
        fail_msg ("page %u of %s: %zu messages, expected %zu", page, partner ? partner : "unread",
                  result->n_messages, count);
    for (size_t position = 0; position < count; position++) {
        assert_int_equal (result->messages[position]->id, ids[position]);
        assert_int_equal (result->messages[position]->read, read[position]);
    }
    assert_int_equal (result->total, total);
    assert_int_equal (result->remaining, remaining);
    assert_int_equal (output.event_count, 0);
    fsm_output_clear (&output);
}

static void
test_read_messages (void **state)
{
    (void)state;
    const char *users[] = {"ann", "bob", "cid"};
    char tokens[3][33];
    fsm_t *fsm = s_world (users, 3, tokens);
    const char *ann = tokens[0], *bob = tokens[1], *cid = tokens[2];
    holder_t holder;
    //  1..5 from bob to ann, 6 from cid to ann, 7 from ann to bob
    for (int number = 1; number <= 5; number++)
        s_send_ok (fsm, bob, "ann", "from bob");
    s_send_ok (fsm, cid, "ann", "from cid");
    s_send_ok (fsm, ann, "bob", "to bob");

    const bool unread[] = {false, false, false, false, false};
    //  Unread page 2 of size 2: 3 and 4 become read; the listing had 6
    s_expect_page (fsm, ann, NULL, 2, 2, (const uint64_t[]){3, 4, 0}, unread, 6, 2);
    //  Now unread: 1, 2, 5, 6
    s_expect_page (fsm, ann, NULL, 3, 2, (const uint64_t[]){0}, unread, 4, 0);
    s_expect_page (fsm, ann, NULL, 0, 0, (const uint64_t[]){1, 2, 5, 6, 0}, unread, 4, 0);
    s_expect_page (fsm, ann, NULL, 1, 20, (const uint64_t[]){0}, unread, 0, 0);

    //  The conversation with bob, both directions, marks as they were before
    s_expect_page (fsm, bob, "ann", 1, 4, (const uint64_t[]){1, 2, 3, 4, 0},
                   (const bool[]){true, true, true, true}, 6, 2);
    s_expect_page (fsm, bob, "ann", 2, 4, (const uint64_t[]){5, 7, 0}, (const bool[]){true, false},
                   6, 0);
    //  ... and bob has now read 7, which reading the conversation showed him
    s_expect_page (fsm, ann, "bob", 2, 4, (const uint64_t[]){5, 7, 0}, (const bool[]){true, true},
                   6, 0);
    s_expect_page (fsm, bob, NULL, 1, 20, (const uint64_t[]){0}, unread, 0, 0);
    s_expect_page (fsm, ann, "cid", 1, 20, (const uint64_t[]){6, 0}, (const bool[]){true}, 1, 0);
    s_expect_page (fsm, cid, "bob", 1, 20, (const uint64_t[]){0}, unread, 0, 0);
    s_expect_page (fsm, ann, "bob", 9, 4, (const uint64_t[]){0}, unread, 6, 0);

    //  Reading a conversation marks only what the reader received
    s_send_ok (fsm, bob, "ann", "new 8");
    s_send_ok (fsm, ann, "bob", "new 9");
    s_expect_page (fsm, ann, "bob", 3, 3, (const uint64_t[]){8, 9, 0}, (const bool[]){false, false},
                   8, 0);
    s_expect_page (fsm, ann, NULL, 1, 20, (const uint64_t[]){0}, unread, 0, 0);
    s_expect_page (fsm, bob, NULL, 1, 20, (const uint64_t[]){9, 0}, unread, 1, 0);

    s_expect_error (fsm, s_read (&holder, ann, "nobody", 1, 1), RAFTQ__CODE__NOT_FOUND,
                    "no account named 'nobody'");
    s_expect_error (fsm, s_read (&holder, ann, "no body", 1, 1), RAFTQ__CODE__INVALID_ARGUMENT,
                    "partner may hold only");
    s_expect_error (fsm, s_read (&holder, ann, NULL, 1, 1001), RAFTQ__CODE__INVALID_ARGUMENT,
                    "page_size 1001 exceeds the limit of 1000");
    s_expect_error (fsm, s_read (&holder, "00000000000000000000000000000000", NULL, 1, 1),
                    RAFTQ__CODE__UNAUTHENTICATED, "invalid session token");

    //  The page's messages carry everything
    fsm_output_t output;
    s_apply (fsm, s_read (&holder, cid, "ann", 1, 1), &output);
    Raftq__ChatMessage *message = output.reply->page->messages[0];
    assert_int_equal (message->id, 6);
    assert_string_equal (message->from, "cid");
    assert_string_equal (message->to, "ann");
    assert_string_equal (message->text, "from cid");
    assert_int_equal (message->ts, TIMESTAMP);
    assert_true (message->read);
    fsm_output_clear (&output);
    fsm_destroy (&fsm);
}

static void
test_delete_messages (void **state)
{
    (void)state;
    const char *users[] = {"ann", "bob", "cid"};
    char tokens[3][33];
    fsm_t *fsm = s_world (users, 3, tokens);
    const char *ann = tokens[0], *bob = tokens[1], *cid = tokens[2];
    holder_t holder;
    fsm_output_t output;
    uint64_t to_bob = s_send_ok (fsm, ann, "bob", "1");   //  1
    uint64_t from_bob = s_send_ok (fsm, bob, "ann", "2"); //  2
    uint64_t to_cid = s_send_ok (fsm, ann, "cid", "3");   //  3
    uint64_t between = s_send_ok (fsm, bob, "cid", "4");  //  4
    uint64_t self = s_send_ok (fsm, ann, "ann", "5");     //  5

    //  Someone else's message: refused, and nothing at all is deleted
    uint64_t mixed[] = {to_bob, between};
    s_expect_error (fsm, s_delete (&holder, ann, mixed, 2), RAFTQ__CODE__PERMISSION_DENIED,
                    "message 4 is not yours");
    s_expect_page (fsm, ann, "bob", 1, 20, (const uint64_t[]){1, 2, 0},
                   (const bool[]){false, false}, 2, 0);

    //  Mine, sent and received, twice, plus ids that do not exist
    uint64_t ids[] = {to_cid, 999, from_bob, to_bob, self, to_bob};
    s_apply (fsm, s_delete (&holder, ann, ids, 6), &output);
    assert_int_equal (output.reply->code, RAFTQ__CODE__OK);
    assert_int_equal (output.reply->deleted->count, 4);
    //  The actor's stream names all; each partner and conversation its own
    struct {
        const char *stream;
        uint64_t ids[3];
        size_t count;
    } expected[] = {
        {"user/ann", {1, 2, 3}, 4},  {"conv/ann/ann", {5}, 1}, {"user/bob", {1, 2}, 2},
        {"conv/ann/bob", {1, 2}, 2}, {"user/cid", {3}, 1},     {"conv/ann/cid", {3}, 1},
    };
    assert_int_equal (output.event_count, 6);
    for (size_t position = 0; position < 6; position++) {
        Raftq__Event *event = output.events[position];
        assert_string_equal (event->stream, expected[position].stream);
        assert_string_equal (event->kind, "delete");
        assert_int_equal (event->n_ids, expected[position].count);
        for (size_t id = 0; id < expected[position].count && id < 3; id++)
            assert_int_equal (event->ids[id], expected[position].ids[id]);
    }
    assert_int_equal (output.events[0]->ids[3], 5);
    fsm_output_clear (&output);

    //  Gone for both parties; the unread count follows
    s_expect_page (fsm, bob, "ann", 1, 20, (const uint64_t[]){0}, NULL, 0, 0);
    s_expect_page (fsm, cid, NULL, 1, 20, (const uint64_t[]){4, 0}, (const bool[]){false}, 1, 0);
    s_apply (fsm, s_login (&holder, "bob", "pw", 50), &output);
    assert_int_equal (output.reply->session->unread, 0);
    fsm_output_clear (&output);

    //  A retry deletes nothing more; ids are kept, never reused
    s_apply (fsm, s_delete (&holder, ann, ids, 6), &output);
    assert_int_equal (output.reply->deleted->count, 0);
    assert_int_equal (output.event_count, 0);
    fsm_output_clear (&output);
    assert_int_equal (s_send_ok (fsm, ann, "bob", "6"), 6);

    s_expect_error (fsm, s_delete (&holder, ann, NULL, 0), RAFTQ__CODE__INVALID_ARGUMENT,
                    "no message ids to delete");
    uint64_t *many = calloc (1001, sizeof (uint64_t));
    assert_non_null (many);
    s_expect_error (fsm, s_delete (&holder, ann, many, 1001), RAFTQ__CODE__TOO_LARGE,
                    "1001 message ids exceed the limit of 1000 per request");
    free (many);
    s_expect_error (fsm, s_delete (&holder, NULL, ids, 1), RAFTQ__CODE__UNAUTHENTICATED,
                    "no session token");
    fsm_destroy (&fsm);
}

//  Replays stream from from_seq: the reply (caller frees).
static Raftq__Reply *
s_replay (fsm_t *fsm, const char *stream, uint64_t from_seq, uint32_t limit)
{
    Raftq__Replay replay = RAFTQ__REPLAY__INIT;
    replay.stream = (char *)stream;
    replay.from_seq = from_seq;
    replay.limit = limit;
    Raftq__Reply *reply = fsm_replay (fsm, &replay);
    assert_non_null (reply);
    return reply;
}

static void
test_delete_account (void **state)
{
    (void)state;
    const char *users[] = {"ann", "bob", "cid"};
    char tokens[3][33];
    fsm_t *fsm = s_world (users, 3, tokens);
    const char *ann = tokens[0], *bob = tokens[1], *cid = tokens[2];
    holder_t holder;
    fsm_output_t output;
    char second_bob[33];
    s_session (fsm, "bob", 77, second_bob);
    s_send_ok (fsm, ann, "bob", "1");
    s_send_ok (fsm, bob, "ann", "2");
    s_send_ok (fsm, bob, "cid", "3");
    s_send_ok (fsm, ann, "cid", "4");
    s_send_ok (fsm, bob, "bob", "5");

    s_apply (fsm, s_delete_account (&holder, bob), &output);
    assert_int_equal (output.reply->code, RAFTQ__CODE__OK);
    //  Conversations in key order: ann/bob, bob/bob, bob/cid; then the end
    const char *streams[] = {"user/bob", "user/ann", "conv/ann/bob", "user/bob", "conv/bob/bob",
                             "user/bob", "user/cid", "conv/bob/cid", "user/bob"};
    assert_int_equal (output.event_count, 9);
    for (size_t position = 0; position < 9; position++)
        assert_string_equal (output.events[position]->stream, streams[position]);
    assert_string_equal (output.events[1]->kind, "delete");
    assert_int_equal (output.events[1]->n_ids, 2);
    assert_string_equal (output.events[8]->kind, "account_deleted");
    fsm_output_clear (&output);

    //  Every session of bob is gone; the account too
    s_expect_error (fsm, s_read (&holder, bob, NULL, 1, 1), RAFTQ__CODE__UNAUTHENTICATED, "");
    s_expect_error (fsm, s_read (&holder, second_bob, NULL, 1, 1), RAFTQ__CODE__UNAUTHENTICATED,
                    "");
    assert_null (fsm_password_hash (fsm, "bob"));
    s_expect_error (fsm, s_read (&holder, ann, "bob", 1, 1), RAFTQ__CODE__NOT_FOUND, "");
    s_expect_error (fsm, s_send (&holder, ann, "bob", "hi"), RAFTQ__CODE__NOT_FOUND, "");
    //  Others keep what did not involve bob
    s_expect_page (fsm, cid, NULL, 1, 20, (const uint64_t[]){4, 0}, (const bool[]){false}, 1, 0);
    s_expect_page (fsm, ann, NULL, 1, 20, (const uint64_t[]){0}, NULL, 0, 0);

    //  The text of bob's conversations is not replayable any more; the
    //  sequence goes on after the deletion events
    Raftq__Reply *reply = s_replay (fsm, "conv/ann/bob", 1, 0);
    assert_int_equal (reply->code, RAFTQ__CODE__NOT_FOUND);
    assert_int_equal (reply->oldest_seq, 3);
    raftq__reply__free_unpacked (reply, NULL);
    reply = s_replay (fsm, "conv/ann/bob", 0, 0);
    assert_int_equal (reply->code, RAFTQ__CODE__OK);
    assert_int_equal (reply->events->n_events, 1);
    assert_string_equal (reply->events->events[0]->kind, "delete");
    raftq__reply__free_unpacked (reply, NULL);
    reply = s_replay (fsm, "user/bob", 0, 0);
    assert_int_equal (reply->events->n_events, 1);
    assert_string_equal (reply->events->events[0]->kind, "account_deleted");
    raftq__reply__free_unpacked (reply, NULL);

    //  The name is free again, with nothing of the old owner's
    assert_int_equal (s_run (fsm, s_create_account (&holder, "bob", "new")), RAFTQ__CODE__OK);
    s_apply (fsm, s_login (&holder, "bob", "new", 88), &output);
    assert_int_equal (output.reply->code, RAFTQ__CODE__OK);
    assert_int_equal (output.reply->session->unread, 0);
    fsm_output_clear (&output);
    s_expect_page (fsm, ann, "bob", 1, 20, (const uint64_t[]){0}, NULL, 0, 0);
    s_expect_error (fsm, s_delete_account (&holder, bob), RAFTQ__CODE__UNAUTHENTICATED, "");
    fsm_destroy (&fsm);
}

static void
test_replay_of_chat_streams (void **state)
{
    (void)state;
    fsm_options_t options = {.event_retention = 3};
    fsm_t *fsm = fsm_new (&options);
    holder_t holder;
    char ann[33], bob[33];
    assert_int_equal (s_run (fsm, s_create_account (&holder, "ann", "pw")), RAFTQ__CODE__OK);
    assert_int_equal (s_run (fsm, s_create_account (&holder, "bob", "pw")), RAFTQ__CODE__OK);
    s_session (fsm, "ann", 1, ann);
    s_session (fsm, "bob", 2, bob);
    for (int number = 0; number < 5; number++)
        s_send_ok (fsm, ann, "bob", "m");

    Raftq__Reply *reply = s_replay (fsm, "user/bob", 0, 0);
    assert_int_equal (reply->code, RAFTQ__CODE__OK);
    assert_int_equal (reply->oldest_seq, 3);
    assert_int_equal (reply->events->n_events, 3);
    for (size_t position = 0; position < 3; position++) {
        Raftq__Event *event = reply->events->events[position];
        assert_int_equal (event->seq, 3 + position);
        assert_int_equal (event->id, 3 + position);
        assert_string_equal (event->kind, "message");
        assert_string_equal (event->from, "ann");
    }
    raftq__reply__free_unpacked (reply, NULL);
    reply = s_replay (fsm, "user/bob", 2, 0);
    assert_int_equal (reply->code, RAFTQ__CODE__NOT_FOUND);
    assert_int_equal (reply->oldest_seq, 3);
    assert_int_equal (reply->result_case, RAFTQ__REPLY__RESULT__NOT_SET);
    assert_non_null (strstr (reply->error, "before seq 3"));
    raftq__reply__free_unpacked (reply, NULL);
    reply = s_replay (fsm, "conv/ann/bob", 4, 1);
    assert_int_equal (reply->events->n_events, 1);
    assert_int_equal (reply->events->events[0]->seq, 4);
    raftq__reply__free_unpacked (reply, NULL);
    reply = s_replay (fsm, "", 0, 0);
    assert_int_equal (reply->code, RAFTQ__CODE__INVALID_ARGUMENT);
    raftq__reply__free_unpacked (reply, NULL);
    reply = fsm_replay (fsm, NULL);
    assert_int_equal (reply->code, RAFTQ__CODE__INVALID_ARGUMENT);
    raftq__reply__free_unpacked (reply, NULL);
    fsm_destroy (&fsm);
}

static void
test_exactly_once_chat (void **state)
{
    (void)state;
    const char *users[] = {"ann", "bob"};
    char tokens[2][33];
    fsm_t *fsm = s_world (users, 2, tokens);
    holder_t holder;
    fsm_output_t first, again;

    //  A send retried under the same client_id/seq: one message, same reply, no events
    Raftq__State__Command *command = s_send (&holder, tokens[0], "bob", "once");
    command->client_id = 42;
    command->seq = 1;
    s_apply (fsm, command, &first);
    assert_int_equal (first.event_count, 3);
    command->timestamp_ms = TIMESTAMP + 1000; //  a retry proposed later by another leader
    s_apply (fsm, command, &again);
    assert_int_equal (again.reply->sent->id, first.reply->sent->id);
    assert_int_equal (again.reply->sent->ts, TIMESTAMP);
    assert_int_equal (again.event_count, 0);
    fsm_output_clear (&first);
    fsm_output_clear (&again);
    s_expect_page (fsm, tokens[1], "ann", 1, 20, (const uint64_t[]){1, 0}, (const bool[]){false}, 1,
                   0);

    //  A retried login: the first token, not a second session
    command = s_login (&holder, "bob", "pw", 500);
    command->client_id = 42;
    command->seq = 2;
    s_apply (fsm, command, &first);
    s_token (holder.token, 501);
    s_apply (fsm, command, &again);
    assert_string_equal (again.reply->session->token, first.reply->session->token);
    fsm_output_clear (&first);
    fsm_output_clear (&again);
    s_expect_error (fsm, s_read (&holder, holder.token, NULL, 1, 1), RAFTQ__CODE__UNAUTHENTICATED,
                    "");

    //  A retried read: the first page again, nothing read twice
    command = s_read (&holder, tokens[0], NULL, 1, 20);
    s_send_ok (fsm, tokens[1], "ann", "for ann");
    command->client_id = 43;
    command->seq = 1;
    s_apply (fsm, command, &first);
    s_apply (fsm, command, &again);
    assert_int_equal (first.reply->page->n_messages, 1);
    assert_int_equal (again.reply->page->n_messages, 1);
    fsm_output_clear (&first);
    fsm_output_clear (&again);
    fsm_destroy (&fsm);
}

//  --------------------------------------------------------------------------
//  Determinism

typedef struct {
    uint8_t *data; //  packed command
    size_t size;   //  its bytes
} entry_t;

static uint64_t
s_random (uint64_t *seed)
{
    //  xorshift64*: a fixed generator, so a printed seed replays the run
    *seed ^= *seed >> 12;
    *seed ^= *seed << 25;
    *seed ^= *seed >> 27;
    return *seed * 0x2545F4914F6CDD1DULL;
}

static entry_t
s_pack (const Raftq__State__Command *command)
{
    entry_t entry;
    entry.size = raftq__state__command__get_packed_size (command);
    entry.data = malloc (entry.size ? entry.size : 1);
    assert_non_null (entry.data);
    raftq__state__command__pack (command, entry.data);
    return entry;
}

//  A random chat history over a few users: every operation, good and bad
//  tokens, retries, accounts deleted and created again.
static entry_t *
s_random_history (uint64_t seed, size_t count)
{
    uint64_t random = seed ? seed : 1;
    const char *users[] = {"ann", "bob", "cid", "dan"};
    entry_t *history = calloc (count, sizeof (entry_t));
    assert_non_null (history);
    for (size_t position = 0; position < count; position++) {
        holder_t holder;
        const char *user = users[s_random (&random) % 4];
        const char *other = users[s_random (&random) % 4];
        char token[33];
        s_token (token, 1 + s_random (&random) % 12); //  some valid, some never issued
        uint64_t ids[4];
        for (size_t id = 0; id < 4; id++)
            ids[id] = 1 + s_random (&random) % (position + 1);
        char text[40];
        snprintf (text, sizeof text, " text %" PRIu64 " ", s_random (&random) % 1000);
        Raftq__State__Command *command;
        uint64_t roll = s_random (&random) % 100;
        if (roll < 10)
            command = s_create_account (&holder, user, "pw");
        else if (roll < 25)
            command = s_login (&holder, user, roll % 5 ? "pw" : "bad", 1 + s_random (&random) % 12);
        else if (roll < 55)
            command = s_send (&holder, token, other, roll % 11 ? text : "  ");
        else if (roll < 70)
            command = s_read (&holder, token, roll % 2 ? other : NULL, s_random (&random) % 3,
                              s_random (&random) % 4);
        else if (roll < 80)
            command = s_delete (&holder, token, ids, 1 + s_random (&random) % 4);
        else if (roll < 84)
            command = s_delete_account (&holder, token);
        else if (roll < 88)
            command = s_logout (&holder, token);
        else if (roll < 94)
            command = s_list (&holder, roll % 2 ? "*" : "[a-c]*", 1, 2);
        else
            command = s_check_user (&holder, user);
        command->timestamp_ms = TIMESTAMP + (int64_t)position;
        if (roll % 3 == 0) {
            command->client_id = 1 + roll % 2;
            command->seq = position / 2 + 1; //  every other entry retries
        }
        history[position] = s_pack (command);
    }
    return history;
}

//  Packs every reply and event of an output into one buffer to compare.
static uint8_t *
s_output_bytes (const fsm_output_t *output, size_t *size)
{
    *size = raftq__reply__get_packed_size (output->reply);
    for (size_t position = 0; position < output->event_count; position++)
        *size += raftq__event__get_packed_size (output->events[position]);
    uint8_t *bytes = malloc (*size + 1);
    assert_non_null (bytes);
    size_t used = raftq__reply__pack (output->reply, bytes);
    for (size_t position = 0; position < output->event_count; position++)
        used += raftq__event__pack (output->events[position], bytes + used);
    assert_int_equal (used, *size);
    return bytes;
}

static uint64_t
s_test_seed (void)
{
    const char *text = getenv ("RAFTQ_TEST_SEED");
    if (text)
        return strtoull (text, NULL, 0);
    return (uint64_t)time (NULL) * 1000003ULL ^ (uint64_t)getpid ();
}

static void
test_determinism (void **state)
{
    (void)state;
    const size_t count = 3000;
    uint64_t seed = s_test_seed ();
    entry_t *history = s_random_history (seed, count);
    entry_t *other_history = s_random_history (seed + 1, count);
    //  Small bounds, so eviction and session limits come into play
    fsm_options_t options = {.max_clients = 2, .event_retention = 4, .chat = {.max_sessions = 2}};
    fsm_t *first = fsm_new (&options);
    fsm_t *second = fsm_new (&options);
    fsm_t *other = fsm_new (&options);
    size_t events = 0, successes = 0;
    for (size_t position = 0; position < count; position++) {
        fsm_output_t outputs[3];
        fsm_t *fsms[3] = {first, second, other};
        for (int which = 0; which < 3; which++) {
            const entry_t *entry = which == 2 ? &other_history[position] : &history[position];
            assert_int_equal (
                fsm_apply (fsms[which], position + 1, entry->data, entry->size, &outputs[which]),
                0);
        }
        size_t first_size, second_size;
        uint8_t *first_bytes = s_output_bytes (&outputs[0], &first_size);
        uint8_t *second_bytes = s_output_bytes (&outputs[1], &second_size);
        if (first_size != second_size || memcmp (first_bytes, second_bytes, first_size))
            fail_msg ("seed %" PRIu64 " (RAFTQ_TEST_SEED): entry %zu differs", seed, position);
        free (first_bytes);
        free (second_bytes);
        events += outputs[0].event_count;
        successes += outputs[0].reply->code == RAFTQ__CODE__OK;
        for (int which = 0; which < 3; which++)
            fsm_output_clear (&outputs[which]);
        if (position % 300 == 0 && fsm_state_hash (first) != fsm_state_hash (second))
            fail_msg ("seed %" PRIu64 " (RAFTQ_TEST_SEED): hash differs at %zu", seed, position);
    }
    if (events == 0 || successes < count / 10)
        fail_msg ("seed %" PRIu64 ": a dull history (%zu events, %zu successes)", seed, events,
                  successes);
    if (fsm_state_hash (first) != fsm_state_hash (second))
        fail_msg ("seed %" PRIu64 " (RAFTQ_TEST_SEED): final hashes differ", seed);
    if (fsm_state_hash (first) == fsm_state_hash (other))
        fail_msg ("seed %" PRIu64 " (RAFTQ_TEST_SEED): different histories, same hash", seed);
    //  Replays agree too
    const char *streams[] = {"user/ann", "user/bob", "conv/ann/bob", "conv/cid/dan"};
    for (size_t which = 0; which < 4; which++) {
        Raftq__Reply *one = s_replay (first, streams[which], 0, 0);
        Raftq__Reply *two = s_replay (second, streams[which], 0, 0);
        fsm_output_t one_output = {.reply = one}, two_output = {.reply = two};
        size_t one_size, two_size;
        uint8_t *one_bytes = s_output_bytes (&one_output, &one_size);
        uint8_t *two_bytes = s_output_bytes (&two_output, &two_size);
        if (one_size != two_size || memcmp (one_bytes, two_bytes, one_size))
            fail_msg ("seed %" PRIu64 ": replay of %s differs", seed, streams[which]);
        free (one_bytes);
        free (two_bytes);
        raftq__reply__free_unpacked (one, NULL);
        raftq__reply__free_unpacked (two, NULL);
    }
    for (size_t position = 0; position < count; position++) {
        free (history[position].data);
        free (other_history[position].data);
    }
    free (history);
    free (other_history);
    fsm_destroy (&first);
    fsm_destroy (&second);
    fsm_destroy (&other);
}

//  States that differ in one chat detail hash differently.
static void
test_hash_sensitivity (void **state)
{
    (void)state;
    enum { VARIANTS = 6 };
    uint64_t hashes[VARIANTS];
    for (int variant = 0; variant < VARIANTS; variant++) {
        const char *users[] = {"ann", "bob"};
        char tokens[2][33];
        fsm_t *fsm = s_world (users, 2, tokens);
        holder_t holder;
        s_send_ok (fsm, tokens[0], "bob", variant == 1 ? "hellp" : "hello");
        if (variant == 2) //  read
            assert_int_equal (s_run (fsm, s_read (&holder, tokens[1], NULL, 1, 1)),
                              RAFTQ__CODE__OK);
        else
            assert_int_equal (fsm_skip (fsm, fsm_applied_index (fsm) + 1), 0);
        if (variant == 3) //  one session more
            s_session (fsm, "ann", 99, tokens[0]);
        else
            assert_int_equal (fsm_skip (fsm, fsm_applied_index (fsm) + 1), 0);
        if (variant == 4) //  another password hash
            assert_int_equal (s_run (fsm, s_create_account (&holder, "cid", "x")), RAFTQ__CODE__OK);
        else
            assert_int_equal (s_run (fsm, s_create_account (&holder, "cid", "y")), RAFTQ__CODE__OK);
        Raftq__State__Command *command = s_send (&holder, tokens[1], "ann", "reply");
        if (variant == 5) //  another timestamp
            command->timestamp_ms = 1;
        assert_int_equal (s_run (fsm, command), RAFTQ__CODE__OK);
        hashes[variant] = fsm_state_hash (fsm);
        fsm_destroy (&fsm);
    }
    for (int first = 0; first < VARIANTS; first++)
        for (int second = first + 1; second < VARIANTS; second++)
            if (hashes[first] == hashes[second])
                fail_msg ("variants %d and %d hash the same", first, second);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_create_and_check),  cmocka_unit_test (test_list_accounts),
        cmocka_unit_test (test_login_and_logout),  cmocka_unit_test (test_send_and_events),
        cmocka_unit_test (test_read_messages),     cmocka_unit_test (test_delete_messages),
        cmocka_unit_test (test_delete_account),    cmocka_unit_test (test_replay_of_chat_streams),
        cmocka_unit_test (test_exactly_once_chat), cmocka_unit_test (test_determinism),
        cmocka_unit_test (test_hash_sensitivity),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
