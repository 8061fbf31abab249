/*  gateway_chat — the chat API over libraftq; see gateway_chat.h.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway_chat.h"

#define S_PAGE_SIZE_MAX 200 //  most names or messages one page asks for
#define S_PAGE_MAX      1000000000L
#define S_PATTERN_MAX   64 //  longest search text

//  Names (accounts, search text) use the cluster's name characters only,
//  which also keeps glob characters out of a search.
static bool
s_name_text (const char *text, size_t max)
{
    size_t length = strlen (text);
    if (length > max)
        return false;
    for (size_t index = 0; index < length; index++) {
        char character = text[index];
        if (!((character >= 'a' && character <= 'z') || (character >= 'A' && character <= 'Z') ||
              (character >= '0' && character <= '9') || character == '.' || character == '_' ||
              character == '-'))
            return false;
    }
    return true;
}

//  {"user": ..., "csrf": ...} for the page, plus extra fields (taken).
static json_t *
s_session_json (const gateway_session_t *session)
{
    return json_pack ("{s:s, s:s}", "user", session->user, "csrf", session->csrf);
}

enum MHD_Result
gateway_chat_session (gateway_call_t *call)
{
    return gateway_reply (call, MHD_HTTP_OK, s_session_json (&call->session));
}

enum MHD_Result
gateway_chat_available (gateway_call_t *call)
{
    const char *user = gateway_query (call, "user");
    if (!user || !*user)
        return gateway_reply_error (call, MHD_HTTP_BAD_REQUEST, "INVALID_ARGUMENT",
                                    "name the user: ?user=NAME");
    if (!s_name_text (user, GATEWAY_USER_MAX - 1))
        return gateway_reply (call, MHD_HTTP_OK,
                              json_pack ("{s:o, s:b, s:s}", "user", gateway_json_text (user),
                                         "available", 0, "reason",
                                         "letters, digits, '.', '_' and '-' only"));
    bool exists = false;
    raftq_code_t code = raftq_check_user (call->client, user, &exists);
    if (code == RAFTQ_INVALID_ARGUMENT)
        //  The cluster's own rule (its name length limit): a reason, not an error
        return gateway_reply (call, MHD_HTTP_OK,
                              json_pack ("{s:s, s:b, s:s}", "user", user, "available", 0, "reason",
                                         raftq_client_error (call->client)));
    if (code != RAFTQ_OK)
        return gateway_reply_failure (call, code);
    return gateway_reply (call, MHD_HTTP_OK,
                          json_pack ("{s:s, s:b, s:s}", "user", user, "available", !exists,
                                     "reason", exists ? "taken" : ""));
}

//  The user and password of a register or login body; false after
//  queueing the refusal in *result.
static bool
s_credentials (gateway_call_t *call, const char **user, const char **password,
               enum MHD_Result *result)
{
    *user = gateway_body_string (call, "user");
    *password = gateway_body_string (call, "password");
    if (!*user || !**user || !*password) {
        *result = gateway_reply_error (call, MHD_HTTP_BAD_REQUEST, "INVALID_ARGUMENT",
                                       "give \"user\" and \"password\" as strings");
        return false;
    }
    if (!s_name_text (*user, GATEWAY_USER_MAX - 1)) {
        *result = gateway_reply_error (call, MHD_HTTP_BAD_REQUEST, "INVALID_ARGUMENT",
                                       "user names are letters, digits, '.', '_' and '-', "
                                       "at most %d of them",
                                       GATEWAY_USER_MAX - 1);
        return false;
    }
    return true;
}

//  Logs in and answers with the session cookie.
static enum MHD_Result
s_login (gateway_call_t *call, const char *user, const char *password)
{
    uint64_t unread = 0;
    raftq_code_t code = raftq_login (call->client, user, password, &unread);
    if (code != RAFTQ_OK)
        return gateway_reply_failure (call, code);
    gateway_session_t session;
    if (gateway_session_init (&session, user, raftq_client_token (call->client)))
        return gateway_reply_error (call, MHD_HTTP_BAD_GATEWAY, "INTERNAL",
                                    "the cluster's session token does not fit the cookie");
    json_t *object = s_session_json (&session);
    if (object)
        json_object_set_new (object, "unread", json_integer ((json_int_t)unread));
    return gateway_reply_session (call, object, &session);
}

enum MHD_Result
gateway_chat_register (gateway_call_t *call)
{
    const char *user, *password;
    enum MHD_Result result;
    if (!s_credentials (call, &user, &password, &result))
        return result;
    raftq_code_t code = raftq_create_account (call->client, user, password);
    if (code != RAFTQ_OK)
        return gateway_reply_failure (call, code);
    return s_login (call, user, password);
}

enum MHD_Result
gateway_chat_login (gateway_call_t *call)
{
    const char *user, *password;
    enum MHD_Result result;
    if (!s_credentials (call, &user, &password, &result))
        return result;
    return s_login (call, user, password);
}

enum MHD_Result
gateway_chat_logout (gateway_call_t *call)
{
    raftq_code_t code = raftq_logout (call->client);
    //  A session the cluster has forgotten already is logged out too.
    if (code != RAFTQ_OK && code != RAFTQ_UNAUTHENTICATED)
        return gateway_reply_failure (call, code);
    return gateway_reply_session (call, json_object (), NULL);
}

enum MHD_Result
gateway_chat_delete_account (gateway_call_t *call)
{
    raftq_code_t code = raftq_delete_account (call->client);
    if (code != RAFTQ_OK)
        return gateway_reply_failure (call, code);
    return gateway_reply_session (call, json_pack ("{s:s}", "deleted", call->session.user), NULL);
}

//  page and page_size of the query; false after queueing the refusal.
static bool
s_paging (gateway_call_t *call, long first_page, long *page, long *page_size,
          enum MHD_Result *result)
{
    *page = gateway_query_number (call, "page", 1, S_PAGE_MAX);
    *page_size = gateway_query_number (call, "page_size", 20, S_PAGE_SIZE_MAX);
    if (*page >= first_page && *page_size >= 1)
        return true;
    *result = gateway_reply_error (call, MHD_HTTP_BAD_REQUEST, "INVALID_ARGUMENT",
                                   "page from %ld and page_size from 1 to %d", first_page,
                                   S_PAGE_SIZE_MAX);
    return false;
}

enum MHD_Result
gateway_chat_users (gateway_call_t *call)
{
    const char *text = gateway_query (call, "q");
    long page, page_size;
    enum MHD_Result result;
    if (!s_paging (call, 1, &page, &page_size, &result))
        return result;
    if (text && !s_name_text (text, S_PATTERN_MAX))
        return gateway_reply_error (call, MHD_HTTP_BAD_REQUEST, "INVALID_ARGUMENT",
                                    "search with letters, digits, '.', '_' and '-' only");
    char pattern[S_PATTERN_MAX + 3];
    if (text && *text)
        snprintf (pattern, sizeof pattern, "*%s*", text);
    else
        strcpy (pattern, "*");
    char **names = NULL;
    uint64_t total = 0;
    raftq_code_t code = raftq_list_accounts (call->client, pattern, (uint32_t)page,
                                             (uint32_t)page_size, &names, &total);
    if (code != RAFTQ_OK)
        return gateway_reply_failure (call, code);
    json_t *users = json_array ();
    for (size_t index = 0; users && names[index]; index++)
        json_array_append_new (users, json_string (names[index]));
    raftq_strings_free (&names);
    return gateway_reply (call, MHD_HTTP_OK,
                          json_pack ("{s:o*, s:I, s:i, s:i}", "users", users, "total",
                                     (json_int_t)total, "page", (int)page, "page_size",
                                     (int)page_size));
}

//  The page's messages as JSON objects.
static json_t *
s_messages_json (const raftq_message_page_t *page)
{
    json_t *messages = json_array ();
    for (size_t index = 0; messages && index < page->count; index++) {
        const raftq_message_t *message = &page->messages[index];
        json_array_append_new (
            messages, json_pack ("{s:I, s:s, s:s, s:s, s:I, s:b}", "id", (json_int_t)message->id,
                                 "from", message->from, "to", message->to, "text", message->text,
                                 "ts", (json_int_t)message->ts, "read", message->read));
    }
    return messages;
}

//  Sends one page of messages with its position.
static enum MHD_Result
s_reply_page (gateway_call_t *call, raftq_message_page_t **page, long number, long page_size)
{
    json_t *object =
        json_pack ("{s:o*, s:I, s:I, s:i, s:i}", "messages", s_messages_json (*page), "total",
                   (json_int_t)(*page)->total, "remaining", (json_int_t)(*page)->remaining, "page",
                   (int)number, "page_size", (int)page_size);
    raftq_message_page_destroy (page);
    return gateway_reply (call, MHD_HTTP_OK, object);
}

enum MHD_Result
gateway_chat_unread (gateway_call_t *call)
{
    long page, page_size;
    enum MHD_Result result;
    if (!s_paging (call, 1, &page, &page_size, &result))
        return result;
    raftq_message_page_t *messages = NULL;
    raftq_code_t code =
        raftq_read_messages (call->client, NULL, (uint32_t)page, (uint32_t)page_size, &messages);
    if (code != RAFTQ_OK)
        return gateway_reply_failure (call, code);
    return s_reply_page (call, &messages, page, page_size);
}

enum MHD_Result
gateway_chat_conversation (gateway_call_t *call)
{
    const char *partner = call->argument;
    long page, page_size;
    enum MHD_Result result;
    if (!s_paging (call, 0, &page, &page_size, &result))
        return result;
    if (!*partner || !s_name_text (partner, GATEWAY_USER_MAX - 1))
        return gateway_reply_error (call, MHD_HTTP_BAD_REQUEST, "INVALID_ARGUMENT",
                                    "no such user name: %.80s", partner);
    //  Page 0 is the newest page, which the page opens on: the first
    //  answer says how many pages there are.
    uint32_t number = page ? (uint32_t)page : 1;
    raftq_message_page_t *messages = NULL;
    raftq_code_t code =
        raftq_read_messages (call->client, partner, number, (uint32_t)page_size, &messages);
    if (code == RAFTQ_OK && page == 0 && messages->total > (uint64_t)page_size) {
        number = (uint32_t)((messages->total + (uint64_t)page_size - 1) / (uint64_t)page_size);
        raftq_message_page_destroy (&messages);
        code = raftq_read_messages (call->client, partner, number, (uint32_t)page_size, &messages);
    }
    if (code != RAFTQ_OK)
        return gateway_reply_failure (call, code);
    return s_reply_page (call, &messages, number, page_size);
}

enum MHD_Result
gateway_chat_send (gateway_call_t *call)
{
    const char *to = gateway_body_string (call, "to");
    const char *text = gateway_body_string (call, "text");
    if (!to || !*to || !text || !*text)
        return gateway_reply_error (call, MHD_HTTP_BAD_REQUEST, "INVALID_ARGUMENT",
                                    "give \"to\" and a non-empty \"text\" as strings");
    uint64_t id = 0;
    int64_t ts = 0;
    raftq_code_t code = raftq_send_message (call->client, to, text, &id, &ts);
    if (code != RAFTQ_OK)
        return gateway_reply_failure (call, code);
    return gateway_reply (call, MHD_HTTP_OK,
                          json_pack ("{s:I, s:I}", "id", (json_int_t)id, "ts", (json_int_t)ts));
}

enum MHD_Result
gateway_chat_delete_message (gateway_call_t *call)
{
    uint64_t id;
    if (!gateway_parse_u64 (call->argument, &id) || id == 0)
        return gateway_reply_error (call, MHD_HTTP_BAD_REQUEST, "INVALID_ARGUMENT",
                                    "a message id is a positive integer");
    uint64_t ids[1] = {id};
    uint64_t deleted = 0;
    raftq_code_t code = raftq_delete_messages (call->client, ids, 1, &deleted);
    if (code != RAFTQ_OK)
        return gateway_reply_failure (call, code);
    if (deleted == 0)
        return gateway_reply_error (call, MHD_HTTP_NOT_FOUND, "NOT_FOUND",
                                    "no message %" PRIu64 " of yours", id);
    return gateway_reply (call, MHD_HTTP_OK, json_pack ("{s:I}", "deleted", (json_int_t)deleted));
}
