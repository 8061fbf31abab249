/*  raftq_chat — the chat operations of the client (DESIGN 5.1): requests
    built from the caller's arguments, results mapped onto the types of
    raftq.h, and the session token's life (login sets it, logout and
    account deletion clear it). Arguments are checked before anything is
    sent, so a missing name or session costs no round trip.
*/
#include "raftq_client.h"

//  A name argument (account, recipient) must be a non-empty string.
//  Passwords only need to be present: what makes one acceptable is the
//  cluster's call.
static bool
s_name_ok (raftq_client_t *self, const char *name, const char *what)
{
    if (name && *name)
        return true;
    raftq_client_fail (self, RAFTQ_INVALID_ARGUMENT, "%s is missing", what);
    return false;
}

//  Operations on a session need its token.
static bool
s_session_ok (raftq_client_t *self)
{
    if (raftq_client_token (self))
        return true;
    raftq_client_fail (self, RAFTQ_UNAUTHENTICATED, "not logged in: no session token");
    return false;
}

//  Creating an account and logging in take the same pair of arguments and
//  must reject them the same way.
static bool
s_credentials_ok (raftq_client_t *self, const char *user, const char *password)
{
    if (!s_name_ok (self, user, "user name"))
        return false;
    if (password)
        return true;
    raftq_client_fail (self, RAFTQ_INVALID_ARGUMENT, "password is missing");
    return false;
}

//  Runs the operation (a submessage of op_case); an OK reply must carry
//  result_case (0: no result expected), what names it in the error.
//  Returns the code; the reply (if any) in *reply_p.
static raftq_code_t
s_run (raftq_client_t *self, Raftq__Request__OpCase op_case, void *operation,
       Raftq__Reply__ResultCase result_case, const char *what, Raftq__Reply **reply_p)
{
    Raftq__Request request;
    raftq_wire_request (&request, op_case, operation);
    raftq_code_t code = raftq_client_call (self, &request, reply_p);
    if (code == RAFTQ_OK && result_case != RAFTQ__REPLY__RESULT__NOT_SET &&
        (*reply_p)->result_case != result_case)
        code = raftq_client_missing_result (self, what);
    return code;
}

//  Runs a request whose OK reply carries nothing the caller needs, so the
//  reply is freed here and only the code goes back.
static raftq_code_t
s_run_no_result (raftq_client_t *self, Raftq__Request__OpCase op_case, void *operation)
{
    Raftq__Reply *reply;
    raftq_code_t code =
        s_run (self, op_case, operation, RAFTQ__REPLY__RESULT__NOT_SET, NULL, &reply);
    raftq__reply__free_unpacked (reply, NULL);
    return code;
}

//  Runs an operation that ends the session (logout, account deletion):
//  the token goes once the cluster says OK, or also_ends.
static raftq_code_t
s_end_session (raftq_client_t *self, Raftq__Request__OpCase op_case, void *operation,
               raftq_code_t also_ends)
{
    if (!s_session_ok (self))
        return RAFTQ_UNAUTHENTICATED;
    raftq_code_t code = s_run_no_result (self, op_case, operation);
    if (code == RAFTQ_OK || code == also_ends)
        raftq_client_set_token (self, NULL);
    return code;
}

//  A copy of a string of a reply; protobuf-c gives "" for an absent one,
//  but a NULL must not crash us either.
static char *
s_copy (const char *text)
{
    return strdup (text ? text : "");
}

raftq_code_t
raftq_create_account (raftq_client_t *self, const char *user, const char *password)
{
    if (!s_credentials_ok (self, user, password))
        return RAFTQ_INVALID_ARGUMENT;
    Raftq__CreateAccount create = RAFTQ__CREATE_ACCOUNT__INIT;
    create.user = (char *)user;
    create.password = (char *)password;
    return s_run_no_result (self, RAFTQ__REQUEST__OP_CREATE_ACCOUNT, &create);
}

raftq_code_t
raftq_check_user (raftq_client_t *self, const char *user, bool *exists_p)
{
    *exists_p = false;
    if (!s_name_ok (self, user, "user name"))
        return RAFTQ_INVALID_ARGUMENT;
    Raftq__CheckUser check = RAFTQ__CHECK_USER__INIT;
    check.user = (char *)user;

    Raftq__Reply *reply;
    raftq_code_t code = s_run (self, RAFTQ__REQUEST__OP_CHECK_USER, &check,
                               RAFTQ__REPLY__RESULT_USER_EXISTS, "user answer", &reply);
    if (code == RAFTQ_OK)
        *exists_p = reply->user_exists->exists;
    raftq__reply__free_unpacked (reply, NULL);
    return code;
}

raftq_code_t
raftq_login (raftq_client_t *self, const char *user, const char *password, uint64_t *unread_p)
{
    if (unread_p)
        *unread_p = 0;
    if (!s_credentials_ok (self, user, password))
        return RAFTQ_INVALID_ARGUMENT;
    Raftq__Login login = RAFTQ__LOGIN__INIT;
    login.user = (char *)user;
    login.password = (char *)password;

    Raftq__Reply *reply;
    raftq_code_t code = s_run (self, RAFTQ__REQUEST__OP_LOGIN, &login, RAFTQ__REPLY__RESULT_SESSION,
                               "session", &reply);
    if (code == RAFTQ_OK) {
        const char *token = reply->session->token;
        if (!token || !*token)
            code = raftq_client_missing_result (self, "session token");
        else if (raftq_client_set_token (self, token) == -1)
            code = raftq_client_fail (self, RAFTQ_INTERNAL, "out of memory");
        else if (unread_p)
            *unread_p = reply->session->unread;
    }
    raftq__reply__free_unpacked (reply, NULL);
    return code;
}

raftq_code_t
raftq_logout (raftq_client_t *self)
{
    Raftq__Logout logout = RAFTQ__LOGOUT__INIT;
    //  A rejected token means the session is over too: keeping a dead
    //  token helps nobody.
    return s_end_session (self, RAFTQ__REQUEST__OP_LOGOUT, &logout, RAFTQ_UNAUTHENTICATED);
}

raftq_code_t
raftq_list_accounts (raftq_client_t *self, const char *pattern, uint32_t page, uint32_t page_size,
                     char ***names_p, uint64_t *total_p)
{
    *names_p = NULL;
    if (total_p)
        *total_p = 0;
    Raftq__ListAccounts list = RAFTQ__LIST_ACCOUNTS__INIT;
    list.pattern = (char *)(pattern ? pattern : "");
    list.page = page;
    list.page_size = page_size;

    Raftq__Reply *reply;
    raftq_code_t code = s_run (self, RAFTQ__REQUEST__OP_LIST_ACCOUNTS, &list,
                               RAFTQ__REPLY__RESULT_ACCOUNTS, "account list", &reply);
    if (code == RAFTQ_OK) {
        *names_p = raftq_wire_strings (reply->accounts->names, reply->accounts->n_names);
        if (!*names_p)
            code = raftq_client_fail (self, RAFTQ_INTERNAL, "out of memory");
        else if (total_p)
            *total_p = reply->accounts->total;
    }
    raftq__reply__free_unpacked (reply, NULL);
    return code;
}

raftq_code_t
raftq_send_message (raftq_client_t *self, const char *to, const char *text, uint64_t *id_p,
                    int64_t *ts_p)
{
    if (id_p)
        *id_p = 0;
    if (ts_p)
        *ts_p = 0;
    if (!s_name_ok (self, to, "recipient"))
        return RAFTQ_INVALID_ARGUMENT;
    if (!text)
        return raftq_client_fail (self, RAFTQ_INVALID_ARGUMENT, "message text is missing");
    if (!s_session_ok (self))
        return RAFTQ_UNAUTHENTICATED;
    Raftq__SendMessage send = RAFTQ__SEND_MESSAGE__INIT;
    send.to = (char *)to;
    send.text = (char *)text;

    Raftq__Reply *reply;
    raftq_code_t code = s_run (self, RAFTQ__REQUEST__OP_SEND_MESSAGE, &send,
                               RAFTQ__REPLY__RESULT_SENT, "sent message", &reply);
    if (code == RAFTQ_OK) {
        if (id_p)
            *id_p = reply->sent->id;
        if (ts_p)
            *ts_p = reply->sent->ts;
    }
    raftq__reply__free_unpacked (reply, NULL);
    return code;
}

//  A page of raftq.h messages copied from a reply's page; NULL when out of
//  memory.
static raftq_message_page_t *
s_page_new (const Raftq__MessagePage *received)
{
    raftq_message_page_t *page = (raftq_message_page_t *)calloc (1, sizeof (raftq_message_page_t));
    if (!page)
        return NULL;
    page->total = received->total;
    page->remaining = received->remaining;
    if (received->n_messages == 0)
        return page;
    page->messages = (raftq_message_t *)calloc (received->n_messages, sizeof (raftq_message_t));
    if (!page->messages) {
        free (page);
        return NULL;
    }
    for (size_t index = 0; index < received->n_messages; index++) {
        const Raftq__ChatMessage *from = received->messages[index];
        raftq_message_t *message = &page->messages[index];
        //  Counted first, so that destroy frees whatever was copied.
        page->count++;
        message->id = from->id;
        message->ts = from->ts;
        message->read = from->read;
        message->from = s_copy (from->from);
        message->to = s_copy (from->to);
        message->text = s_copy (from->text);
        if (!message->from || !message->to || !message->text) {
            raftq_message_page_destroy (&page);
            return NULL;
        }
    }
    return page;
}

raftq_code_t
raftq_read_messages (raftq_client_t *self, const char *partner, uint32_t page, uint32_t page_size,
                     raftq_message_page_t **page_p)
{
    *page_p = NULL;
    if (!s_session_ok (self))
        return RAFTQ_UNAUTHENTICATED;
    Raftq__ReadMessages read = RAFTQ__READ_MESSAGES__INIT;
    read.partner = (char *)(partner ? partner : "");
    read.page = page;
    read.page_size = page_size;

    Raftq__Reply *reply;
    raftq_code_t code = s_run (self, RAFTQ__REQUEST__OP_READ_MESSAGES, &read,
                               RAFTQ__REPLY__RESULT_PAGE, "message page", &reply);
    if (code == RAFTQ_OK) {
        *page_p = s_page_new (reply->page);
        if (!*page_p)
            code = raftq_client_fail (self, RAFTQ_INTERNAL, "out of memory");
    }
    raftq__reply__free_unpacked (reply, NULL);
    return code;
}

void
raftq_message_page_destroy (raftq_message_page_t **page_p)
{
    if (!page_p || !*page_p)
        return;
    raftq_message_page_t *page = *page_p;
    for (size_t index = 0; index < page->count; index++) {
        free (page->messages[index].from);
        free (page->messages[index].to);
        free (page->messages[index].text);
    }
    free (page->messages);
    free (page);
    *page_p = NULL;
}

raftq_code_t
raftq_delete_messages (raftq_client_t *self, const uint64_t *ids, size_t count, uint64_t *deleted_p)
{
    if (deleted_p)
        *deleted_p = 0;
    if (!ids || count == 0)
        return raftq_client_fail (self, RAFTQ_INVALID_ARGUMENT, "no message ids to delete");
    if (!s_session_ok (self))
        return RAFTQ_UNAUTHENTICATED;
    Raftq__DeleteMessages deletion = RAFTQ__DELETE_MESSAGES__INIT;
    deletion.ids = (uint64_t *)ids;
    deletion.n_ids = count;

    Raftq__Reply *reply;
    raftq_code_t code = s_run (self, RAFTQ__REQUEST__OP_DELETE_MESSAGES, &deletion,
                               RAFTQ__REPLY__RESULT_DELETED, "deletion count", &reply);
    if (code == RAFTQ_OK && deleted_p)
        *deleted_p = reply->deleted->count;
    raftq__reply__free_unpacked (reply, NULL);
    return code;
}

raftq_code_t
raftq_delete_account (raftq_client_t *self)
{
    Raftq__DeleteAccount deletion = RAFTQ__DELETE_ACCOUNT__INIT;
    return s_end_session (self, RAFTQ__REQUEST__OP_DELETE_ACCOUNT, &deletion, RAFTQ_OK);
}
