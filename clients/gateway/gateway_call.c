/*  gateway_call — the replies of API handlers; see gateway_call.h.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway_call.h"

#define S_COOKIE_NAME "raftq_session"

void
gateway_add_headers (struct MHD_Response *response, bool api)
{
    //  No inline script or style anywhere: the pages load their own files.
    MHD_add_response_header (response, "Content-Security-Policy",
                             "default-src 'none'; script-src 'self'; style-src 'self'; "
                             "img-src 'self' data:; connect-src 'self'; form-action 'self'; "
                             "base-uri 'none'; frame-ancestors 'none'");
    MHD_add_response_header (response, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header (response, "Referrer-Policy", "no-referrer");
    MHD_add_response_header (response, "X-Frame-Options", "DENY");
    MHD_add_response_header (response, "Cross-Origin-Opener-Policy", "same-origin");
    MHD_add_response_header (response, "Cache-Control", api ? "no-store" : "no-cache");
}

//  Sends object with status and, if cookie is not NULL, that Set-Cookie.
static enum MHD_Result
s_send (gateway_call_t *call, unsigned status, json_t *object, const char *cookie)
{
    char *text = object ? json_dumps (object, JSON_COMPACT) : NULL;
    json_decref (object);
    if (!text) {
        status = MHD_HTTP_INTERNAL_SERVER_ERROR;
        text = strdup ("{\"error\":\"the gateway is out of memory\",\"code\":\"INTERNAL\"}");
        if (!text)
            return MHD_NO;
    }
    struct MHD_Response *response =
        MHD_create_response_from_buffer (strlen (text), text, MHD_RESPMEM_MUST_FREE);
    if (!response) {
        free (text);
        return MHD_NO;
    }
    gateway_add_headers (response, true);
    MHD_add_response_header (response, "Content-Type", "application/json; charset=utf-8");
    if (cookie)
        MHD_add_response_header (response, "Set-Cookie", cookie);
    enum MHD_Result result = MHD_queue_response (call->connection, status, response);
    MHD_destroy_response (response);
    return result;
}

enum MHD_Result
gateway_reply (gateway_call_t *call, unsigned status, json_t *object)
{
    return s_send (call, status, object, NULL);
}

json_t *
gateway_json_text (const char *text)
{
    json_t *string = json_string (text);
    if (string)
        return string;
    char *copy = strdup (text);
    for (char *next = copy; next && *next; next++)
        if ((unsigned char)*next >= 0x80)
            *next = '?';
    string = copy ? json_string (copy) : NULL;
    free (copy);
    return string;
}

enum MHD_Result
gateway_reply_error (gateway_call_t *call, unsigned status, const char *code, const char *format,
                     ...)
{
    char text[512];
    va_list arguments;
    va_start (arguments, format);
    vsnprintf (text, sizeof text, format, arguments);
    va_end (arguments);
    return s_send (call, status,
                   json_pack ("{s:o, s:s}", "error", gateway_json_text (text), "code", code), NULL);
}

//  The Set-Cookie value: the sealed session, or an expired empty cookie.
static char *
s_cookie (gateway_call_t *call, const gateway_session_t *session)
{
    char *sealed = session ? gateway_seal_session (call->seal, session) : strdup ("");
    char *cookie = NULL;
    if (sealed && asprintf (&cookie, "%s=%s; Path=/; HttpOnly; SameSite=Strict%s%s", S_COOKIE_NAME,
                            sealed, call->options->secure_cookie ? "; Secure" : "",
                            session ? "" : "; Max-Age=0") == -1)
        cookie = NULL;
    free (sealed);
    return cookie;
}

enum MHD_Result
gateway_reply_session (gateway_call_t *call, json_t *object, const gateway_session_t *session)
{
    char *cookie = s_cookie (call, session);
    if (!cookie) {
        json_decref (object);
        return gateway_reply_error (call, MHD_HTTP_INTERNAL_SERVER_ERROR, "INTERNAL",
                                    "the gateway is out of memory");
    }
    enum MHD_Result result = s_send (call, MHD_HTTP_OK, object, cookie);
    free (cookie);
    return result;
}

//  The HTTP status for a code of the cluster.
static unsigned
s_status (raftq_code_t code)
{
    switch (code) {
    case RAFTQ_INVALID_ARGUMENT:
    case RAFTQ_EMPTY:
        return MHD_HTTP_BAD_REQUEST;
    case RAFTQ_UNAUTHENTICATED:
        return MHD_HTTP_UNAUTHORIZED;
    case RAFTQ_PERMISSION_DENIED:
        return MHD_HTTP_FORBIDDEN;
    case RAFTQ_NOT_FOUND:
        return MHD_HTTP_NOT_FOUND;
    case RAFTQ_ALREADY_EXISTS:
        return MHD_HTTP_CONFLICT;
    case RAFTQ_TOO_LARGE:
        return MHD_HTTP_CONTENT_TOO_LARGE;
    case RAFTQ_RESOURCE_EXHAUSTED:
        return MHD_HTTP_TOO_MANY_REQUESTS;
    case RAFTQ_INTERNAL:
        return MHD_HTTP_BAD_GATEWAY;
    default:
        //  NO_LEADER, TIMEOUT, UNAVAILABLE: worth a retry later
        return MHD_HTTP_SERVICE_UNAVAILABLE;
    }
}

enum MHD_Result
gateway_reply_failure (gateway_call_t *call, raftq_code_t code)
{
    const char *text = call->client ? raftq_client_error (call->client) : "";
    json_t *object = json_pack ("{s:s, s:s}", "error", *text ? text : raftq_code_name (code),
                                "code", raftq_code_name (code));
    if (object && code == RAFTQ_RESOURCE_EXHAUSTED && call->client &&
        raftq_client_retry_after (call->client))
        json_object_set_new (object, "retry_after_ms",
                             json_integer (raftq_client_retry_after (call->client)));
    if (code != RAFTQ_UNAUTHENTICATED || !call->has_session)
        return s_send (call, s_status (code), object, NULL);
    char *cookie = s_cookie (call, NULL);
    enum MHD_Result result = s_send (call, s_status (code), object, cookie);
    free (cookie);
    return result;
}

const char *
gateway_query (gateway_call_t *call, const char *key)
{
    return MHD_lookup_connection_value (call->connection, MHD_GET_ARGUMENT_KIND, key);
}

const char *
gateway_body_string (gateway_call_t *call, const char *key)
{
    json_t *item = call->body ? json_object_get (call->body, key) : NULL;
    return json_is_string (item) ? json_string_value (item) : NULL;
}

bool
gateway_parse_u64 (const char *text, uint64_t *value)
{
    char *end = NULL;
    *value = strtoull (text, &end, 10);
    return *text && *end == 0 && text[0] != '-';
}

long
gateway_query_number (gateway_call_t *call, const char *key, long fallback, long max)
{
    const char *text = gateway_query (call, key);
    if (!text)
        return fallback;
    char *end = NULL;
    long value = strtol (text, &end, 10);
    return *text && *end == 0 && value >= 0 && value <= max ? value : -1;
}
