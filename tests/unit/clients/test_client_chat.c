/*  test_client_chat — the chat operations against canned replies: the test
    packs the reply a fake node gives, calls the library, and reads back the
    request body the node received to check what the client put in it.
*/
#include "fake_cluster.h"

//  --- chat operations against canned replies

static void
test_chat_account_and_session (void **state)
{
    (void)state;
    fake_t fake;
    fake_start (&fake, "chat-session");
    raftq_client_t *client = fake_client (&fake, 1, 2000, 10000);
    assert_null (raftq_client_token (client));

    Raftq__Reply plain = RAFTQ__REPLY__INIT;
    fake_canned (&fake, 0, &plain);
    assert_int_equal (raftq_create_account (client, "alice", "secret"), RAFTQ_OK);
    Raftq__Request *request = fake_last (&fake, 0);
    assert_int_equal (request->op_case, RAFTQ__REQUEST__OP_CREATE_ACCOUNT);
    assert_string_equal (request->create_account->user, "alice");
    assert_string_equal (request->create_account->password, "secret");
    assert_string_equal (request->token, "");
    assert_true (request->client_id == raftq_client_id (client));
    raftq__request__free_unpacked (request, NULL);

    //  The cluster's answer, whatever it is, comes back as the call's code.
    Raftq__Reply taken = RAFTQ__REPLY__INIT;
    taken.code = RAFTQ__CODE__ALREADY_EXISTS;
    taken.error = "account alice exists";
    fake_canned (&fake, 0, &taken);
    assert_int_equal (raftq_create_account (client, "alice", "secret"), RAFTQ_ALREADY_EXISTS);
    assert_string_equal (raftq_client_error (client), "account alice exists");

    Raftq__UserExists exists = RAFTQ__USER_EXISTS__INIT;
    exists.exists = true;
    Raftq__Reply exists_reply = RAFTQ__REPLY__INIT;
    exists_reply.result_case = RAFTQ__REPLY__RESULT_USER_EXISTS;
    exists_reply.user_exists = &exists;
    fake_canned (&fake, 0, &exists_reply);
    bool found = false;
    assert_int_equal (raftq_check_user (client, "bob", &found), RAFTQ_OK);
    assert_true (found);
    request = fake_last (&fake, 0);
    assert_int_equal (request->op_case, RAFTQ__REQUEST__OP_CHECK_USER);
    assert_string_equal (request->check_user->user, "bob");
    raftq__request__free_unpacked (request, NULL);
    //  OK without the promised result is a broken node, not an answer.
    fake_canned (&fake, 0, &plain);
    found = true;
    assert_int_equal (raftq_check_user (client, "bob", &found), RAFTQ_INTERNAL);
    assert_false (found);
    assert_non_null (strstr (raftq_client_error (client), "carries no"));

    raftq_client_destroy (&client);
    fake_stop (&fake);
}

static void
test_chat_login_logout (void **state)
{
    (void)state;
    fake_t fake;
    fake_start (&fake, "chat-login");
    raftq_client_t *client = fake_client (&fake, 1, 2000, 10000);
    Raftq__Reply plain = RAFTQ__REPLY__INIT;
    Raftq__Request *request;
    Raftq__Session session = RAFTQ__SESSION__INIT;
    session.token = "tok-1";
    session.unread = 3;
    Raftq__Reply login_reply = RAFTQ__REPLY__INIT;
    login_reply.result_case = RAFTQ__REPLY__RESULT_SESSION;
    login_reply.session = &session;
    fake_canned (&fake, 0, &login_reply);
    uint64_t unread = 0;
    assert_int_equal (raftq_login (client, "alice", "secret", &unread), RAFTQ_OK);
    assert_true (unread == 3);
    assert_string_equal (raftq_client_token (client), "tok-1");
    request = fake_last (&fake, 0);
    assert_int_equal (request->op_case, RAFTQ__REQUEST__OP_LOGIN);
    assert_string_equal (request->login->user, "alice");
    assert_string_equal (request->login->password, "secret");
    raftq__request__free_unpacked (request, NULL);

    //  The token rides on later requests, even queue ones.
    fake_mode (&fake, 0, "answer", "0");
    assert_int_equal (raftq_create_topic (client, "jobs"), RAFTQ_OK);
    request = fake_last (&fake, 0);
    assert_string_equal (request->token, "tok-1");
    raftq__request__free_unpacked (request, NULL);

    fake_canned (&fake, 0, &plain);
    assert_int_equal (raftq_logout (client), RAFTQ_OK);
    assert_null (raftq_client_token (client));
    request = fake_last (&fake, 0);
    assert_int_equal (request->op_case, RAFTQ__REQUEST__OP_LOGOUT);
    assert_string_equal (request->token, "tok-1");
    raftq__request__free_unpacked (request, NULL);

    //  Without a session nothing is sent.
    logged_t log[FAKE_LOG_MAX];
    size_t before = fake_log (&fake, log, FAKE_LOG_MAX);
    assert_true (before > 0);
    assert_int_equal (raftq_logout (client), RAFTQ_UNAUTHENTICATED);
    assert_int_equal (raftq_send_message (client, "bob", "hi", NULL, NULL), RAFTQ_UNAUTHENTICATED);
    raftq_message_page_t *page = NULL;
    assert_int_equal (raftq_read_messages (client, NULL, 1, 10, &page), RAFTQ_UNAUTHENTICATED);
    assert_null (page);
    assert_int_equal (raftq_delete_account (client), RAFTQ_UNAUTHENTICATED);
    assert_non_null (strstr (raftq_client_error (client), "not logged in"));
    assert_int_equal (fake_log (&fake, log, FAKE_LOG_MAX), 0);

    //  A token from elsewhere; deleting the account ends the session.
    assert_int_equal (raftq_client_set_token (client, "tok-outside"), 0);
    assert_string_equal (raftq_client_token (client), "tok-outside");
    assert_int_equal (raftq_delete_account (client), RAFTQ_OK);
    request = fake_last (&fake, 0);
    assert_int_equal (request->op_case, RAFTQ__REQUEST__OP_DELETE_ACCOUNT);
    assert_string_equal (request->token, "tok-outside");
    raftq__request__free_unpacked (request, NULL);
    assert_null (raftq_client_token (client));
    assert_int_equal (raftq_client_set_token (client, "x"), 0);
    assert_int_equal (raftq_client_set_token (client, ""), 0);
    assert_null (raftq_client_token (client));

    raftq_client_destroy (&client);
    fake_stop (&fake);
}

static void
test_chat_session_failures (void **state)
{
    (void)state;
    fake_t fake;
    fake_start (&fake, "chat-fail");
    raftq_client_t *client = fake_client (&fake, 1, 2000, 10000);

    Raftq__Reply refused = RAFTQ__REPLY__INIT;
    refused.code = RAFTQ__CODE__UNAUTHENTICATED;
    refused.error = "wrong user or password";
    fake_canned (&fake, 0, &refused);
    uint64_t unread = 7;
    assert_int_equal (raftq_login (client, "alice", "bad", &unread), RAFTQ_UNAUTHENTICATED);
    assert_true (unread == 0);
    assert_null (raftq_client_token (client));
    assert_string_equal (raftq_client_error (client), "wrong user or password");
    assert_int_equal (raftq_client_retry_after (client), 0);

    //  A throttled login says how long to wait; the client passes it on
    Raftq__Reply throttled = RAFTQ__REPLY__INIT;
    throttled.code = RAFTQ__CODE__RESOURCE_EXHAUSTED;
    throttled.error = "too many failed logins";
    throttled.retry_after_ms = 2000;
    fake_canned (&fake, 0, &throttled);
    assert_int_equal (raftq_login (client, "alice", "bad", NULL), RAFTQ_RESOURCE_EXHAUSTED);
    assert_int_equal (raftq_client_retry_after (client), 2000);
    fake_canned (&fake, 0, &refused);
    assert_int_equal (raftq_login (client, "alice", "bad", NULL), RAFTQ_UNAUTHENTICATED);
    assert_int_equal (raftq_client_retry_after (client), 0);

    //  A session without a token is no session.
    Raftq__Session empty = RAFTQ__SESSION__INIT;
    Raftq__Reply tokenless = RAFTQ__REPLY__INIT;
    tokenless.result_case = RAFTQ__REPLY__RESULT_SESSION;
    tokenless.session = &empty;
    fake_canned (&fake, 0, &tokenless);
    assert_int_equal (raftq_login (client, "alice", "secret", NULL), RAFTQ_INTERNAL);
    assert_null (raftq_client_token (client));

    //  The cluster forgot the session (expired, other logout): the client
    //  forgets it too.
    assert_int_equal (raftq_client_set_token (client, "tok-old"), 0);
    fake_canned (&fake, 0, &refused);
    assert_int_equal (raftq_logout (client), RAFTQ_UNAUTHENTICATED);
    assert_null (raftq_client_token (client));
    //  ...but a refused send keeps it: the caller may retry or log out.
    assert_int_equal (raftq_client_set_token (client, "tok-2"), 0);
    assert_int_equal (raftq_send_message (client, "bob", "hi", NULL, NULL), RAFTQ_UNAUTHENTICATED);
    assert_string_equal (raftq_client_token (client), "tok-2");

    //  Bad arguments never reach the cluster.
    logged_t log[FAKE_LOG_MAX];
    fake_log (&fake, log, FAKE_LOG_MAX);
    assert_int_equal (raftq_create_account (client, "", "pw"), RAFTQ_INVALID_ARGUMENT);
    assert_int_equal (raftq_create_account (client, "carol", NULL), RAFTQ_INVALID_ARGUMENT);
    assert_int_equal (raftq_login (client, NULL, "pw", NULL), RAFTQ_INVALID_ARGUMENT);
    bool exists = true;
    assert_int_equal (raftq_check_user (client, "", &exists), RAFTQ_INVALID_ARGUMENT);
    assert_false (exists);
    assert_int_equal (raftq_send_message (client, "", "hi", NULL, NULL), RAFTQ_INVALID_ARGUMENT);
    assert_int_equal (raftq_send_message (client, "bob", NULL, NULL, NULL), RAFTQ_INVALID_ARGUMENT);
    uint64_t ids[] = {1};
    assert_int_equal (raftq_delete_messages (client, ids, 0, NULL), RAFTQ_INVALID_ARGUMENT);
    assert_int_equal (raftq_delete_messages (client, NULL, 1, NULL), RAFTQ_INVALID_ARGUMENT);
    assert_int_equal (fake_log (&fake, log, FAKE_LOG_MAX), 0);

    raftq_client_destroy (&client);
    fake_stop (&fake);
}

//  Starts the fake cluster (endpoints named for prefix) with node 0
//  redirecting to node 1, and a client of it logged in as "tok-a": the
//  session must survive the leader change.
static raftq_client_t *
s_redirected_client (fake_t *fake, const char *prefix)
{
    fake_start (fake, prefix);
    fake_mode (fake, 0, "redirect", fake->endpoints[1]);
    raftq_client_t *client = fake_client (fake, FAKE_NODES, 2000, 10000);
    assert_int_equal (raftq_client_set_token (client, "tok-a"), 0);
    return client;
}

static void
test_chat_messages (void **state)
{
    (void)state;
    fake_t fake;
    raftq_client_t *client = s_redirected_client (&fake, "chat-messages");

    Raftq__MessageSent sent = RAFTQ__MESSAGE_SENT__INIT;
    sent.id = 42;
    sent.ts = 1700000000123;
    Raftq__Reply sent_reply = RAFTQ__REPLY__INIT;
    sent_reply.result_case = RAFTQ__REPLY__RESULT_SENT;
    sent_reply.sent = &sent;
    fake_canned (&fake, 1, &sent_reply);
    uint64_t id = 0;
    int64_t ts = 0;
    assert_int_equal (raftq_send_message (client, "bob", "hello bob", &id, &ts), RAFTQ_OK);
    assert_true (id == 42);
    assert_true (ts == 1700000000123);
    Raftq__Request *request = fake_last (&fake, 1);
    assert_int_equal (request->op_case, RAFTQ__REQUEST__OP_SEND_MESSAGE);
    assert_string_equal (request->send_message->to, "bob");
    assert_string_equal (request->send_message->text, "hello bob");
    assert_string_equal (request->token, "tok-a");
    raftq__request__free_unpacked (request, NULL);
    logged_t log[FAKE_LOG_MAX];
    assert_int_equal (fake_log (&fake, log, FAKE_LOG_MAX), 2);
    assert_true (log[0].seq == log[1].seq);

    char *names[] = {"alice", "anna"};
    Raftq__AccountList accounts = RAFTQ__ACCOUNT_LIST__INIT;
    accounts.names = names;
    accounts.n_names = 2;
    accounts.total = 12;
    Raftq__Reply accounts_reply = RAFTQ__REPLY__INIT;
    accounts_reply.result_case = RAFTQ__REPLY__RESULT_ACCOUNTS;
    accounts_reply.accounts = &accounts;
    fake_canned (&fake, 1, &accounts_reply);
    char **listed = NULL;
    uint64_t total = 0;
    assert_int_equal (raftq_list_accounts (client, "a*", 2, 10, &listed, &total), RAFTQ_OK);
    assert_string_equal (listed[0], "alice");
    assert_string_equal (listed[1], "anna");
    assert_null (listed[2]);
    assert_true (total == 12);
    raftq_strings_free (&listed);
    request = fake_last (&fake, 1);
    assert_int_equal (request->op_case, RAFTQ__REQUEST__OP_LIST_ACCOUNTS);
    assert_string_equal (request->list_accounts->pattern, "a*");
    assert_int_equal (request->list_accounts->page, 2);
    assert_int_equal (request->list_accounts->page_size, 10);
    raftq__request__free_unpacked (request, NULL);
    //  No pattern: every account.
    assert_int_equal (raftq_list_accounts (client, NULL, 1, 0, &listed, NULL), RAFTQ_OK);
    raftq_strings_free (&listed);
    request = fake_last (&fake, 1);
    assert_string_equal (request->list_accounts->pattern, "");
    raftq__request__free_unpacked (request, NULL);

    raftq_client_destroy (&client);
    fake_stop (&fake);
}

static void
test_chat_pages (void **state)
{
    (void)state;
    fake_t fake;
    raftq_client_t *client = s_redirected_client (&fake, "chat-pages");
    Raftq__Request *request;
    Raftq__ChatMessage first = RAFTQ__CHAT_MESSAGE__INIT;
    first.id = 5;
    first.from = "bob";
    first.to = "alice";
    first.text = "hi alice";
    first.ts = 1000;
    Raftq__ChatMessage second = RAFTQ__CHAT_MESSAGE__INIT;
    second.id = 9;
    second.from = "carol";
    second.to = "alice";
    second.text = "";
    second.ts = 2000;
    second.read = true;
    Raftq__ChatMessage *messages[] = {&first, &second};
    Raftq__MessagePage page = RAFTQ__MESSAGE_PAGE__INIT;
    page.messages = messages;
    page.n_messages = 2;
    page.total = 7;
    page.remaining = 5;
    Raftq__Reply page_reply = RAFTQ__REPLY__INIT;
    page_reply.result_case = RAFTQ__REPLY__RESULT_PAGE;
    page_reply.page = &page;
    fake_canned (&fake, 1, &page_reply);
    raftq_message_page_t *read = NULL;
    assert_int_equal (raftq_read_messages (client, NULL, 1, 2, &read), RAFTQ_OK);
    assert_non_null (read);
    assert_int_equal (read->count, 2);
    assert_true (read->total == 7 && read->remaining == 5);
    assert_true (read->messages[0].id == 5);
    assert_string_equal (read->messages[0].from, "bob");
    assert_string_equal (read->messages[0].to, "alice");
    assert_string_equal (read->messages[0].text, "hi alice");
    assert_true (read->messages[0].ts == 1000);
    assert_false (read->messages[0].read);
    assert_true (read->messages[1].id == 9);
    assert_string_equal (read->messages[1].text, "");
    assert_true (read->messages[1].read);
    raftq_message_page_destroy (&read);
    assert_null (read);
    request = fake_last (&fake, 1);
    assert_int_equal (request->op_case, RAFTQ__REQUEST__OP_READ_MESSAGES);
    assert_string_equal (request->read_messages->partner, "");
    assert_int_equal (request->read_messages->page, 1);
    assert_int_equal (request->read_messages->page_size, 2);
    raftq__request__free_unpacked (request, NULL);

    //  A conversation page; an empty page is a page too.
    Raftq__MessagePage empty = RAFTQ__MESSAGE_PAGE__INIT;
    page_reply.page = &empty;
    fake_canned (&fake, 1, &page_reply);
    assert_int_equal (raftq_read_messages (client, "bob", 3, 20, &read), RAFTQ_OK);
    assert_int_equal (read->count, 0);
    assert_null (read->messages);
    raftq_message_page_destroy (&read);
    request = fake_last (&fake, 1);
    assert_string_equal (request->read_messages->partner, "bob");
    assert_int_equal (request->read_messages->page, 3);
    raftq__request__free_unpacked (request, NULL);

    raftq_client_destroy (&client);
    fake_stop (&fake);
}

static void
test_chat_delete_messages (void **state)
{
    (void)state;
    fake_t fake;
    raftq_client_t *client = s_redirected_client (&fake, "chat-delete");
    Raftq__Request *request;
    Raftq__Deleted deleted = RAFTQ__DELETED__INIT;
    deleted.count = 2;
    Raftq__Reply deleted_reply = RAFTQ__REPLY__INIT;
    deleted_reply.result_case = RAFTQ__REPLY__RESULT_DELETED;
    deleted_reply.deleted = &deleted;
    fake_canned (&fake, 1, &deleted_reply);
    uint64_t ids[] = {5, 9, 11};
    uint64_t count = 0;
    assert_int_equal (raftq_delete_messages (client, ids, 3, &count), RAFTQ_OK);
    assert_true (count == 2);
    request = fake_last (&fake, 1);
    assert_int_equal (request->op_case, RAFTQ__REQUEST__OP_DELETE_MESSAGES);
    assert_int_equal (request->delete_messages->n_ids, 3);
    assert_true (request->delete_messages->ids[0] == 5 && request->delete_messages->ids[2] == 11);
    raftq__request__free_unpacked (request, NULL);

    Raftq__Reply denied = RAFTQ__REPLY__INIT;
    denied.code = RAFTQ__CODE__PERMISSION_DENIED;
    fake_canned (&fake, 1, &denied);
    assert_int_equal (raftq_delete_messages (client, ids, 1, &count), RAFTQ_PERMISSION_DENIED);
    assert_true (count == 0);
    //  Without a text from the node, the error names code and node.
    assert_non_null (strstr (raftq_client_error (client), "PERMISSION_DENIED"));

    raftq_client_destroy (&client);
    fake_stop (&fake);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_chat_account_and_session),
        cmocka_unit_test (test_chat_login_logout),
        cmocka_unit_test (test_chat_session_failures),
        cmocka_unit_test (test_chat_messages),
        cmocka_unit_test (test_chat_pages),
        cmocka_unit_test (test_chat_delete_messages),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
