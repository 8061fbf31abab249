/*  test_chat_accounts — chat accounts and sessions driven the way the server
    drives them (packed state commands applied by the fsm): CreateAccount
    and CheckUser with their name rules, ListAccounts with patterns and
    pages, Login and Logout with the session limit and UNAUTHENTICATED.
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

#include "chat_fixture.h"
#include "fsm_fixture.h"

static void
test_create_and_check (void **state)
{
    (void)state;
    fsm_t *fsm = fsm_new (NULL);
    chat_fixture_t holder;
    assert_int_equal (fsm_fixture_run (fsm, chat_fixture_create_account (&holder, "ann", "pw")),
                      RAFTQ__CODE__OK);
    assert_int_equal (fsm_fixture_run (fsm, chat_fixture_create_account (&holder, "Ann", "pw")),
                      RAFTQ__CODE__OK);
    assert_int_equal (fsm_fixture_run (fsm, chat_fixture_create_account (&holder, "a.b_c-9", "pw")),
                      RAFTQ__CODE__OK);
    assert_string_equal (fsm_password_hash (fsm, "ann"), "$argon2id$v=19$m=8,t=1,p=1$pw");
    assert_null (fsm_password_hash (fsm, "bob"));
    fsm_fixture_expect_error (fsm, chat_fixture_create_account (&holder, "ann", "other"),
                              RAFTQ__CODE__ALREADY_EXISTS, "account 'ann' already exists");
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
        fsm_fixture_expect_error (fsm,
                                  chat_fixture_create_account (&holder, bad[position][0], "pw"),
                                  RAFTQ__CODE__INVALID_ARGUMENT, bad[position][1]);
    assert_int_equal (fsm_fixture_run (fsm, chat_fixture_create_account (
                                                &holder, "12345678901234567890123456789012", "pw")),
                      RAFTQ__CODE__OK);
    //  Only a hash is accepted where the password was
    Raftq__State__Command *command = chat_fixture_create_account (&holder, "carl", "pw");
    holder.create_account.password_hash = "plaintext";
    fsm_fixture_expect_error (fsm, command, RAFTQ__CODE__INVALID_ARGUMENT,
                              "malformed password hash");
    holder.create_account.password_hash = "$argon2id$with space";
    fsm_fixture_expect_error (fsm, command, RAFTQ__CODE__INVALID_ARGUMENT,
                              "malformed password hash");

    fsm_output_t output;
    const char *names[] = {"ann", "Ann", "bob", "carl"};
    const bool exist[] = {true, true, false, false};
    for (size_t position = 0; position < 4; position++) {
        fsm_fixture_apply (fsm, chat_fixture_check_user (&holder, names[position]), &output);
        assert_int_equal (output.reply->code, RAFTQ__CODE__OK);
        assert_int_equal (output.reply->result_case, RAFTQ__REPLY__RESULT_USER_EXISTS);
        assert_int_equal (output.reply->user_exists->exists, exist[position]);
        assert_int_equal (output.event_count, 0);
        fsm_output_clear (&output);
    }
    fsm_fixture_expect_error (fsm, chat_fixture_check_user (&holder, "no/pe"),
                              RAFTQ__CODE__INVALID_ARGUMENT, "user name may hold only");
    fsm_destroy (&fsm);
}

//  The leader's checks of a user name and password before hashing.
static void
test_check_credentials (void **state)
{
    (void)state;
    fsm_t *fsm = fsm_new (NULL);
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
    chat_fixture_t holder;
    fsm_output_t output;
    fsm_fixture_apply (fsm, chat_fixture_list (&holder, pattern, page, page_size), &output);
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
    chat_fixture_t holder;
    const char *users[] = {"carl", "ann", "bob", "anna", "Zed", "a*b", "annabel", "b2", "x.y"};
    for (size_t position = 0; position < sizeof users / sizeof users[0]; position++)
        if (strchr (users[position], '*'))
            fsm_fixture_expect_error (fsm,
                                      chat_fixture_create_account (&holder, users[position], "pw"),
                                      RAFTQ__CODE__INVALID_ARGUMENT, "may hold only");
        else
            assert_int_equal (
                fsm_fixture_run (fsm, chat_fixture_create_account (&holder, users[position], "pw")),
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
    assert_int_equal (fsm_fixture_run (fsm, chat_fixture_create_account (
                                                &holder, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "pw")),
                      RAFTQ__CODE__OK);
    clock_t started = clock ();
    s_expect_listing (fsm, "*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b", 1,
                      20, "", 0);
    assert_true ((double)(clock () - started) / CLOCKS_PER_SEC < 1.0);

    char pattern[130];
    memset (pattern, '*', 129);
    pattern[129] = 0;
    fsm_fixture_expect_error (fsm, chat_fixture_list (&holder, pattern, 1, 20),
                              RAFTQ__CODE__INVALID_ARGUMENT, "pattern is longer than 128 bytes");
    pattern[128] = 0;
    assert_int_equal (fsm_fixture_run (fsm, chat_fixture_list (&holder, pattern, 1, 20)),
                      RAFTQ__CODE__OK);
    fsm_fixture_expect_error (fsm, chat_fixture_list (&holder, "*", 1, 1001),
                              RAFTQ__CODE__INVALID_ARGUMENT,
                              "page_size 1001 exceeds the limit of 1000");
    s_expect_listing (fsm, "*", 1, 1000,
                      "Zed aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa ann anna annabel b2 bob carl x.y", 9);
    fsm_destroy (&fsm);
}

static void
test_login_and_logout (void **state)
{
    (void)state;
    fsm_options_t options = {.chat = {.max_sessions = 2}};
    fsm_t *fsm = fsm_new (&options);
    chat_fixture_t holder;
    assert_int_equal (fsm_fixture_run (fsm, chat_fixture_create_account (&holder, "ann", "pw")),
                      RAFTQ__CODE__OK);
    assert_int_equal (fsm_fixture_run (fsm, chat_fixture_create_account (&holder, "bob", "pw")),
                      RAFTQ__CODE__OK);

    //  The leader verified against a hash that is no longer (or never was) the stored one
    fsm_fixture_expect_error (fsm, chat_fixture_login (&holder, "ann", "old-password", 1),
                              RAFTQ__CODE__UNAUTHENTICATED, "wrong user name or password");
    fsm_fixture_expect_error (fsm, chat_fixture_login (&holder, "nobody", "pw", 1),
                              RAFTQ__CODE__UNAUTHENTICATED, "wrong user name or password");
    Raftq__State__Command *command = chat_fixture_login (&holder, "ann", "pw", 1);
    holder.login.token = "ABCDEF0123456789ABCDEF0123456789";
    fsm_fixture_expect_error (fsm, command, RAFTQ__CODE__INVALID_ARGUMENT,
                              "malformed session token");
    holder.login.token = "0123";
    fsm_fixture_expect_error (fsm, command, RAFTQ__CODE__INVALID_ARGUMENT,
                              "malformed session token");

    char first[33], second[33], third[33], bobs[33];
    chat_fixture_session (fsm, "ann", 1, first);
    chat_fixture_session (fsm, "ann", 2, second);
    chat_fixture_session (fsm, "bob", 9, bobs);
    //  A token is never handed out twice
    fsm_fixture_expect_error (fsm, chat_fixture_login (&holder, "bob", "pw", 2),
                              RAFTQ__CODE__INVALID_ARGUMENT, "session token already in use");

    //  Unread count at login
    chat_fixture_send_ok (fsm, bobs, "ann", "one");
    chat_fixture_send_ok (fsm, bobs, "ann", "two");
    fsm_output_t output;
    fsm_fixture_apply (fsm, chat_fixture_login (&holder, "ann", "pw", 3), &output);
    assert_int_equal (output.reply->session->unread, 2);
    strcpy (third, holder.token);
    assert_int_equal (output.event_count, 0);
    fsm_output_clear (&output);
    //  A third session ends the oldest (max_sessions 2)
    fsm_fixture_expect_error (fsm, chat_fixture_read (&holder, first, NULL, 1, 1),
                              RAFTQ__CODE__UNAUTHENTICATED, "invalid session token");
    assert_int_equal (fsm_fixture_run (fsm, chat_fixture_read (&holder, second, NULL, 1, 1)),
                      RAFTQ__CODE__OK);

    //  Logout ends exactly that session
    assert_int_equal (fsm_fixture_run (fsm, chat_fixture_logout (&holder, second)),
                      RAFTQ__CODE__OK);
    fsm_fixture_expect_error (fsm, chat_fixture_logout (&holder, second),
                              RAFTQ__CODE__UNAUTHENTICATED, "invalid session token");
    fsm_fixture_expect_error (fsm, chat_fixture_read (&holder, second, NULL, 1, 1),
                              RAFTQ__CODE__UNAUTHENTICATED, "invalid session token");
    assert_int_equal (fsm_fixture_run (fsm, chat_fixture_read (&holder, third, NULL, 1, 1)),
                      RAFTQ__CODE__OK);
    fsm_fixture_expect_error (fsm, chat_fixture_logout (&holder, NULL),
                              RAFTQ__CODE__UNAUTHENTICATED, "no session token: log in first");
    //  A token too long to be one is refused before the log
    char huge[70];
    memset (huge, 'a', 69);
    huge[69] = 0;
    Raftq__Code code;
    char error[64];
    assert_int_equal (
        fsm_validate (fsm, chat_fixture_logout (&holder, huge), &code, error, sizeof error), -1);
    assert_int_equal (code, RAFTQ__CODE__UNAUTHENTICATED);
    fsm_destroy (&fsm);
}

//  Reads ann's unread page with token at leader time at_ms: the reply's code.
static Raftq__Code
s_use_at (fsm_t *fsm, const char *token, int64_t at_ms)
{
    chat_fixture_t holder;
    Raftq__State__Command *command = chat_fixture_read (&holder, token, NULL, 1, 1);
    command->timestamp_ms = CHAT_FIXTURE_TIMESTAMP + at_ms;
    fsm_output_t output;
    fsm_fixture_apply (fsm, command, &output);
    Raftq__Code code = output.reply->code;
    if (code == RAFTQ__CODE__UNAUTHENTICATED && !strstr (output.reply->error, "expired") &&
        !strstr (output.reply->error, "invalid"))
        fail_msg ("unexpected refusal: %s", output.reply->error);
    fsm_output_clear (&output);
    return code;
}

//  Logs ann in with token number at leader time at_ms.
static void
s_login_at (fsm_t *fsm, uint64_t number, int64_t at_ms)
{
    chat_fixture_t holder;
    Raftq__State__Command *command = chat_fixture_login (&holder, "ann", "pw", number);
    command->timestamp_ms = CHAT_FIXTURE_TIMESTAMP + at_ms;
    assert_int_equal (fsm_fixture_run (fsm, command), RAFTQ__CODE__OK);
}

//  Sessions expire after an idle time and a maximum lifetime, measured in
//  the leader's timestamps of the entries: a restored copy fed the same
//  entries decides the same, whatever its own clock.
static void
test_session_expiry (void **state)
{
    (void)state;
    fsm_options_t options = {.chat = {.session_idle_ms = 1000, .session_lifetime_ms = 5000}};
    fsm_t *fsm = fsm_new (&options);
    chat_fixture_t holder;
    assert_int_equal (fsm_fixture_run (fsm, chat_fixture_create_account (&holder, "ann", "pw")),
                      RAFTQ__CODE__OK);
    char idle[33], busy[33];
    chat_fixture_session (fsm, "ann", 1, idle);
    chat_fixture_session (fsm, "ann", 2, busy);

    //  Each use restarts the idle time; the lifetime counts from the login
    assert_int_equal (s_use_at (fsm, idle, 900), RAFTQ__CODE__OK);
    assert_int_equal (s_use_at (fsm, idle, 1900), RAFTQ__CODE__OK);
    for (int64_t at = 800; at <= 4800; at += 800)
        assert_int_equal (s_use_at (fsm, busy, at), RAFTQ__CODE__OK);
    fsm_t *copy = fsm_fixture_snapshot_copy (fsm, &options);
    fsm_t *const both[] = {fsm, copy};
    for (size_t which = 0; which < 2; which++) {
        fsm_t *target = both[which];
        //  An earlier timestamp (another leader's clock) does not move the
        //  last use back: 2850 is 950 ms after 1900
        assert_int_equal (s_use_at (target, idle, 1500), RAFTQ__CODE__OK);
        assert_int_equal (s_use_at (target, idle, 2850), RAFTQ__CODE__OK);
    }
    assert_int_equal (fsm_state_hash (fsm), fsm_state_hash (copy));
    for (size_t which = 0; which < 2; which++) {
        fsm_t *target = both[which];
        //  Idle past 1000 ms since 2850: expired, then gone
        chat_fixture_t late;
        Raftq__State__Command *command = chat_fixture_read (&late, idle, NULL, 1, 1);
        command->timestamp_ms = CHAT_FIXTURE_TIMESTAMP + 3851;
        fsm_fixture_expect_error (target, command, RAFTQ__CODE__UNAUTHENTICATED, "session expired");
        command->timestamp_ms = CHAT_FIXTURE_TIMESTAMP + 3852;
        fsm_fixture_expect_error (target, command, RAFTQ__CODE__UNAUTHENTICATED, "invalid session");
        //  Used 201 ms ago but 5001 ms old: expired too
        command = chat_fixture_read (&late, busy, NULL, 1, 1);
        command->timestamp_ms = CHAT_FIXTURE_TIMESTAMP + 5001;
        fsm_fixture_expect_error (target, command, RAFTQ__CODE__UNAUTHENTICATED, "session expired");
    }
    assert_int_equal (fsm_state_hash (fsm), fsm_state_hash (copy));
    fsm_destroy (&copy);

    //  A session nobody presents again ends at the account's next login
    s_login_at (fsm, 3, 6000);
    s_login_at (fsm, 4, 7001);
    Raftq__State__FsmState saved = RAFTQ__STATE__FSM_STATE__INIT;
    fsm_snapshot_save (fsm, &saved);
    assert_int_equal (saved.chat->accounts[0]->n_session_tokens, 1);
    fsm_snapshot_release (&saved);
    fsm_destroy (&fsm);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_create_and_check), cmocka_unit_test (test_check_credentials),
        cmocka_unit_test (test_list_accounts),    cmocka_unit_test (test_login_and_logout),
        cmocka_unit_test (test_session_expiry),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
