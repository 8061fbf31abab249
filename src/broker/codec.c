/*  codec — client request bodies to raftq.Request, raftq.Reply back to bodies.

    A body whose first byte is '{' is the JSON dialect (DESIGN 5.2), anything
    else a protobuf raftq.Request. A JSON request is translated into the very
    same protobuf-c structures raftq__request__unpack would build (every
    string and submessage malloc'd), so the server handles one type and frees
    it with raftq__request__free_unpacked whatever the dialect.

    Decisions worth knowing:
    - JSON strings are UTF-8 text, payloads are bytes. When a payload (or any
      other reply text) is not valid UTF-8, each invalid byte becomes U+FFFD
      in the JSON reply; protobuf clients always get the bytes unchanged.
    - "\u0000" is accepted inside a JSON "message" (it is payload bytes) but
      refused in names (topic, stream, host, token), which travel as C
      strings and would be silently cut.
    - Keys a JSON request does not need are ignored: RRMQ clients may add
      their own.
    - "from" and "limit" of a replay are optional (0: from the start, and the
      server's default page size).
    - The four RRMQ requests (topic/message PUT/GET) are answered with exactly
      the contract's keys, even when the rest of the request is bad. A body
      that is not JSON at all cannot be recognized as one of them and gets
      the generic failure form.
    - JSON numbers are signed 64-bit in jansson: client_id and seq above
      2^63-1 cannot be sent in JSON, and reply counters are capped there.
    - "token" is a key of every request (Request.token). A chat request
      without one still decodes: the state machine answers UNAUTHENTICATED,
      which tells the client more than "missing key" would.
    - A "password" is wiped from the parsed JSON as soon as it is copied.
    - Beyond the table of DESIGN 5.2: {"type":"user","method":"GET","user":U}
      is CheckUser, answered {"success":true,"exists":bool}; a status with
      "hash":true adds "state_hash" as 16 hex digits (a string: JSON numbers
      lose precision past 2^53); a replay refused because its events are no
      longer retained adds "oldest_seq" to the failure.
    - A status with "detail":true adds "config_index", "snapshot_index",
      "snapshot_term", "first_index", "log_bytes", "snapshot_bytes" and
      "member_detail": one object per member of the configuration, by id,
      with "id", "role" ("voter" or "learner"), "host", "client_port",
      "peer_port", "pub_port", and "match_index" and "lag" (numbers on the
      leader, null elsewhere). Without it the reply has exactly DESIGN's
      keys. {"type":"snapshot","method":"POST"} is TakeSnapshot, answered
      {"success":true,"index":N} with the snapshot's index; it fails like
      every other operation, with "code" and "error".
    - Events: a "message" carries id, from, to, text, ts; a "delete" always
      carries "ids" (possibly empty); other kinds only the generic keys and
      whatever is set.
*/

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <inttypes.h>
#include <jansson.h>
#include <sodium.h>

#include "broker/codec.h"
#include "util/utf8.h"

typedef int (s_build_fn) (json_t *root, Raftq__Request *request, codec_request_t *decoded);

//  One JSON operation: its name in the dialect and how to build it.
typedef struct {
    const char *type;   //  "type" of the JSON request
    const char *method; //  "method" of the JSON request
    bool strict;        //  one of the four RRMQ requests with fixed reply keys
    s_build_fn *build;  //  fills the request
} s_operation_t;

//  A code's contract name and the text used when a reply carries none.
typedef struct {
    const char *name; //  as in DESIGN 5.1
    const char *text; //  default human text
} s_code_t;

static const s_code_t s_codes[] = {
    [RAFTQ__CODE__OK] = {"OK", "ok"},
    [RAFTQ__CODE__NOT_LEADER] = {"NOT_LEADER", "this node is not the leader"},
    [RAFTQ__CODE__NO_LEADER] = {"NO_LEADER", "no leader is elected"},
    [RAFTQ__CODE__NOT_FOUND] = {"NOT_FOUND", "not found"},
    [RAFTQ__CODE__ALREADY_EXISTS] = {"ALREADY_EXISTS", "already exists"},
    [RAFTQ__CODE__EMPTY] = {"EMPTY", "the queue is empty"},
    [RAFTQ__CODE__INVALID_ARGUMENT] = {"INVALID_ARGUMENT", "invalid argument"},
    [RAFTQ__CODE__UNAUTHENTICATED] = {"UNAUTHENTICATED", "not authenticated"},
    [RAFTQ__CODE__PERMISSION_DENIED] = {"PERMISSION_DENIED", "permission denied"},
    [RAFTQ__CODE__TOO_LARGE] = {"TOO_LARGE", "too large"},
    [RAFTQ__CODE__TIMEOUT] = {"TIMEOUT", "not committed in time: outcome unknown"},
    [RAFTQ__CODE__UNAVAILABLE] = {"UNAVAILABLE", "unavailable"},
    [RAFTQ__CODE__INTERNAL] = {"INTERNAL", "internal error"},
};

//  --------------------------------------------------------------------------
//  Decoding helpers

//  Records why no request came out. Always returns -1.
static int
s_error (codec_request_t *decoded, Raftq__Code code, const char *format, ...)
{
    va_list args;
    va_start (args, format);
    vsnprintf (decoded->error, sizeof decoded->error, format, args);
    va_end (args);
    decoded->error_code = code;
    return -1;
}

//  A JSON string equal to text, byte for byte (an embedded NUL must not
//  make "topic\u0000x" pass for "topic").
static bool
s_string_is (json_t *item, const char *text)
{
    return json_is_string (item) && json_string_length (item) == strlen (text) &&
           memcmp (json_string_value (item), text, strlen (text)) == 0;
}

//  The string at root.key; NULL (after recording why) if absent or not a string.
static json_t *
s_string_item (json_t *root, const char *key, codec_request_t *decoded)
{
    json_t *item = json_object_get (root, key);
    if (!item)
        s_error (decoded, RAFTQ__CODE__INVALID_ARGUMENT, "missing string key \"%s\"", key);
    else if (!json_is_string (item)) {
        s_error (decoded, RAFTQ__CODE__INVALID_ARGUMENT, "key \"%s\" must be a string", key);
        item = NULL;
    }
    return item;
}

//  A name (topic, stream, host, token) from a JSON string item, malloc'd.
static int
s_copy_name (json_t *item, const char *key, char **text, codec_request_t *decoded)
{
    size_t length = json_string_length (item);
    if (memchr (json_string_value (item), 0, length))
        return s_error (decoded, RAFTQ__CODE__INVALID_ARGUMENT,
                        "key \"%s\" must not contain a NUL character", key);
    char *copy = malloc (length + 1);
    if (!copy)
        return s_error (decoded, RAFTQ__CODE__INTERNAL, "out of memory");
    memcpy (copy, json_string_value (item), length + 1);
    *text = copy;
    return 0;
}

//  A required name key.
static int
s_name_key (json_t *root, const char *key, char **text, codec_request_t *decoded)
{
    json_t *item = s_string_item (root, key, decoded);
    return item ? s_copy_name (item, key, text, decoded) : -1;
}

//  A required string key taken as payload bytes (NULs allowed).
static int
s_bytes_key (json_t *root, const char *key, ProtobufCBinaryData *bytes, codec_request_t *decoded)
{
    json_t *item = s_string_item (root, key, decoded);
    if (!item)
        return -1;
    size_t length = json_string_length (item);
    if (length == 0)
        return 0; //  {0, NULL}, as unpack leaves an empty bytes field
    uint8_t *copy = malloc (length);
    if (!copy)
        return s_error (decoded, RAFTQ__CODE__INTERNAL, "out of memory");
    memcpy (copy, json_string_value (item), length);
    bytes->data = copy;
    bytes->len = length;
    return 0;
}

//  An integer key in [min, max]. An absent optional key leaves *value alone.
static int
s_integer_key (json_t *root, const char *key, bool required, uint64_t min, uint64_t max,
               uint64_t *value, codec_request_t *decoded)
{
    json_t *item = json_object_get (root, key);
    if (!item) {
        if (required)
            return s_error (decoded, RAFTQ__CODE__INVALID_ARGUMENT, "missing integer key \"%s\"",
                            key);
        return 0;
    }
    //  Reals (5501.0, 1e3) are refused: an id or a port is never approximate.
    if (!json_is_integer (item) || json_integer_value (item) < 0 ||
        (uint64_t)json_integer_value (item) < min || (uint64_t)json_integer_value (item) > max)
        return s_error (decoded, RAFTQ__CODE__INVALID_ARGUMENT,
                        "key \"%s\" must be an integer from %llu to %llu", key,
                        (unsigned long long)min, (unsigned long long)max);
    *value = (uint64_t)json_integer_value (item);
    return 0;
}

//  Same for a uint32_t field.
static int
s_u32_key (json_t *root, const char *key, bool required, uint32_t min, uint32_t max,
           uint32_t *value, codec_request_t *decoded)
{
    uint64_t wide = *value;
    if (s_integer_key (root, key, required, min, max, &wide, decoded))
        return -1;
    *value = (uint32_t)wide;
    return 0;
}

//  An optional boolean key; absent leaves *value alone.
static int
s_boolean_key (json_t *root, const char *key, protobuf_c_boolean *value, codec_request_t *decoded)
{
    json_t *item = json_object_get (root, key);
    if (!item)
        return 0;
    if (!json_is_boolean (item))
        return s_error (decoded, RAFTQ__CODE__INVALID_ARGUMENT, "key \"%s\" must be true or false",
                        key);
    *value = json_is_true (item);
    return 0;
}

//  An optional name key: absent leaves the field at its default ("").
static int
s_optional_name_key (json_t *root, const char *key, char **text, codec_request_t *decoded)
{
    return json_object_get (root, key) ? s_name_key (root, key, text, decoded) : 0;
}

//  The password: copied like a name, then wiped from the parsed JSON so
//  that the plaintext does not linger in freed memory.
static int
s_password_key (json_t *root, char **password, codec_request_t *decoded)
{
    json_t *item = s_string_item (root, "password", decoded);
    if (!item)
        return -1;
    int rc = s_copy_name (item, "password", password, decoded);
    sodium_memzero ((char *)json_string_value (item), json_string_length (item));
    return rc;
}

static int
s_page_keys (json_t *root, uint32_t *page, uint32_t *page_size, codec_request_t *decoded)
{
    return s_u32_key (root, "page", false, 0, UINT32_MAX, page, decoded) ||
           s_u32_key (root, "page_size", false, 0, UINT32_MAX, page_size, decoded);
}

//  A fresh submessage, initialized as unpack would.
static void *
s_new_message (const ProtobufCMessageDescriptor *descriptor)
{
    ProtobufCMessage *message = malloc (descriptor->sizeof_message);
    if (message)
        protobuf_c_message_init (descriptor, message);
    return message;
}

//  Marks the op as set once its submessage exists, so that free_unpacked
//  frees it (and does not look at the union while it is still empty).
static int
s_attached (Raftq__Request *request, Raftq__Request__OpCase op_case, void *message,
            codec_request_t *decoded)
{
    if (!message)
        return s_error (decoded, RAFTQ__CODE__INTERNAL, "out of memory");
    request->op_case = op_case;
    return 0;
}

//  --------------------------------------------------------------------------
//  One builder per JSON operation

static int
s_build_status (json_t *root, Raftq__Request *request, codec_request_t *decoded)
{
    request->status = s_new_message (&raftq__status__descriptor);
    if (s_attached (request, RAFTQ__REQUEST__OP_STATUS, request->status, decoded) ||
        s_boolean_key (root, "hash", &request->status->with_hash, decoded))
        return -1;
    return s_boolean_key (root, "detail", &request->status->detail, decoded);
}

static int
s_build_create_topic (json_t *root, Raftq__Request *request, codec_request_t *decoded)
{
    Raftq__CreateTopic *create = request->create_topic =
        s_new_message (&raftq__create_topic__descriptor);
    if (s_attached (request, RAFTQ__REQUEST__OP_CREATE_TOPIC, create, decoded))
        return -1;
    return s_name_key (root, "topic", &create->name, decoded);
}

static int
s_build_list_topics (json_t *root, Raftq__Request *request, codec_request_t *decoded)
{
    (void)root;
    request->list_topics = s_new_message (&raftq__list_topics__descriptor);
    return s_attached (request, RAFTQ__REQUEST__OP_LIST_TOPICS, request->list_topics, decoded);
}

static int
s_build_publish (json_t *root, Raftq__Request *request, codec_request_t *decoded)
{
    Raftq__Publish *publish = request->publish = s_new_message (&raftq__publish__descriptor);
    if (s_attached (request, RAFTQ__REQUEST__OP_PUBLISH, publish, decoded) ||
        s_name_key (root, "topic", &publish->topic, decoded))
        return -1;
    return s_bytes_key (root, "message", &publish->payload, decoded);
}

static int
s_build_pop (json_t *root, Raftq__Request *request, codec_request_t *decoded)
{
    Raftq__Pop *pop = request->pop = s_new_message (&raftq__pop__descriptor);
    if (s_attached (request, RAFTQ__REQUEST__OP_POP, pop, decoded))
        return -1;
    return s_name_key (root, "topic", &pop->topic, decoded);
}

static int
s_build_replay (json_t *root, Raftq__Request *request, codec_request_t *decoded)
{
    Raftq__Replay *replay = request->replay = s_new_message (&raftq__replay__descriptor);
    if (s_attached (request, RAFTQ__REQUEST__OP_REPLAY, replay, decoded) ||
        s_name_key (root, "stream", &replay->stream, decoded) ||
        s_integer_key (root, "from", false, 0, INT64_MAX, &replay->from_seq, decoded))
        return -1;
    return s_u32_key (root, "limit", false, 0, UINT32_MAX, &replay->limit, decoded);
}

static int
s_build_create_account (json_t *root, Raftq__Request *request, codec_request_t *decoded)
{
    Raftq__CreateAccount *create = request->create_account =
        s_new_message (&raftq__create_account__descriptor);
    if (s_attached (request, RAFTQ__REQUEST__OP_CREATE_ACCOUNT, create, decoded) ||
        s_name_key (root, "user", &create->user, decoded))
        return -1;
    return s_password_key (root, &create->password, decoded);
}

static int
s_build_list_accounts (json_t *root, Raftq__Request *request, codec_request_t *decoded)
{
    Raftq__ListAccounts *list = request->list_accounts =
        s_new_message (&raftq__list_accounts__descriptor);
    if (s_attached (request, RAFTQ__REQUEST__OP_LIST_ACCOUNTS, list, decoded) ||
        s_optional_name_key (root, "pattern", &list->pattern, decoded))
        return -1;
    return s_page_keys (root, &list->page, &list->page_size, decoded);
}

static int
s_build_delete_account (json_t *root, Raftq__Request *request, codec_request_t *decoded)
{
    request->delete_account = s_new_message (&raftq__delete_account__descriptor);
    (void)root; //  the token is a common key
    return s_attached (request, RAFTQ__REQUEST__OP_DELETE_ACCOUNT, request->delete_account,
                       decoded);
}

static int
s_build_check_user (json_t *root, Raftq__Request *request, codec_request_t *decoded)
{
    Raftq__CheckUser *check = request->check_user = s_new_message (&raftq__check_user__descriptor);
    if (s_attached (request, RAFTQ__REQUEST__OP_CHECK_USER, check, decoded))
        return -1;
    return s_name_key (root, "user", &check->user, decoded);
}

static int
s_build_login (json_t *root, Raftq__Request *request, codec_request_t *decoded)
{
    Raftq__Login *login = request->login = s_new_message (&raftq__login__descriptor);
    if (s_attached (request, RAFTQ__REQUEST__OP_LOGIN, login, decoded) ||
        s_name_key (root, "user", &login->user, decoded))
        return -1;
    return s_password_key (root, &login->password, decoded);
}

static int
s_build_logout (json_t *root, Raftq__Request *request, codec_request_t *decoded)
{
    request->logout = s_new_message (&raftq__logout__descriptor);
    (void)root; //  the token is a common key
    return s_attached (request, RAFTQ__REQUEST__OP_LOGOUT, request->logout, decoded);
}

static int
s_build_send_message (json_t *root, Raftq__Request *request, codec_request_t *decoded)
{
    Raftq__SendMessage *send = request->send_message =
        s_new_message (&raftq__send_message__descriptor);
    if (s_attached (request, RAFTQ__REQUEST__OP_SEND_MESSAGE, send, decoded) ||
        s_name_key (root, "to", &send->to, decoded))
        return -1;
    return s_name_key (root, "text", &send->text, decoded);
}

static int
s_build_read_messages (json_t *root, Raftq__Request *request, codec_request_t *decoded)
{
    Raftq__ReadMessages *read = request->read_messages =
        s_new_message (&raftq__read_messages__descriptor);
    if (s_attached (request, RAFTQ__REQUEST__OP_READ_MESSAGES, read, decoded) ||
        s_optional_name_key (root, "with", &read->partner, decoded))
        return -1;
    return s_page_keys (root, &read->page, &read->page_size, decoded);
}

static int
s_build_delete_messages (json_t *root, Raftq__Request *request, codec_request_t *decoded)
{
    Raftq__DeleteMessages *delete_messages = request->delete_messages =
        s_new_message (&raftq__delete_messages__descriptor);
    if (s_attached (request, RAFTQ__REQUEST__OP_DELETE_MESSAGES, delete_messages, decoded))
        return -1;
    json_t *ids = json_object_get (root, "ids");
    if (!json_is_array (ids))
        return s_error (decoded, RAFTQ__CODE__INVALID_ARGUMENT,
                        "key \"ids\" must be an array of message ids");
    size_t count = json_array_size (ids);
    if (count == 0)
        return 0;
    delete_messages->ids = malloc (count * sizeof (uint64_t));
    if (!delete_messages->ids)
        return s_error (decoded, RAFTQ__CODE__INTERNAL, "out of memory");
    for (size_t index = 0; index < count; index++) {
        json_t *id = json_array_get (ids, index);
        if (!json_is_integer (id) || json_integer_value (id) < 1)
            return s_error (decoded, RAFTQ__CODE__INVALID_ARGUMENT,
                            "key \"ids\" must hold positive integers only");
        delete_messages->ids[delete_messages->n_ids++] = (uint64_t)json_integer_value (id);
    }
    return 0;
}

static int
s_build_add_node (json_t *root, Raftq__Request *request, codec_request_t *decoded)
{
    Raftq__AddNode *add = request->add_node = s_new_message (&raftq__add_node__descriptor);
    if (s_attached (request, RAFTQ__REQUEST__OP_ADD_NODE, add, decoded) ||
        s_u32_key (root, "id", true, 1, UINT32_MAX, &add->id, decoded) ||
        s_name_key (root, "host", &add->host, decoded) ||
        s_u32_key (root, "client_port", true, 1, 65535, &add->client_port, decoded) ||
        s_u32_key (root, "peer_port", true, 1, 65535, &add->peer_port, decoded))
        return -1;
    //  0 or absent: the new node publishes nothing.
    return s_u32_key (root, "pub_port", false, 0, 65535, &add->pub_port, decoded);
}

static int
s_build_remove_node (json_t *root, Raftq__Request *request, codec_request_t *decoded)
{
    Raftq__RemoveNode *remove = request->remove_node =
        s_new_message (&raftq__remove_node__descriptor);
    if (s_attached (request, RAFTQ__REQUEST__OP_REMOVE_NODE, remove, decoded))
        return -1;
    return s_u32_key (root, "id", true, 1, UINT32_MAX, &remove->id, decoded);
}

static int
s_build_transfer_leadership (json_t *root, Raftq__Request *request, codec_request_t *decoded)
{
    Raftq__TransferLeadership *transfer = request->transfer_leadership =
        s_new_message (&raftq__transfer_leadership__descriptor);
    if (s_attached (request, RAFTQ__REQUEST__OP_TRANSFER_LEADERSHIP, transfer, decoded))
        return -1;
    return s_u32_key (root, "id", true, 1, UINT32_MAX, &transfer->id, decoded);
}

static int
s_build_take_snapshot (json_t *root, Raftq__Request *request, codec_request_t *decoded)
{
    (void)root;
    request->take_snapshot = s_new_message (&raftq__take_snapshot__descriptor);
    return s_attached (request, RAFTQ__REQUEST__OP_TAKE_SNAPSHOT, request->take_snapshot, decoded);
}

static const s_operation_t s_operations[] = {
    {"status", "GET", false, s_build_status},
    {"topic", "PUT", true, s_build_create_topic},
    {"topic", "GET", true, s_build_list_topics},
    {"message", "PUT", true, s_build_publish},
    {"message", "GET", true, s_build_pop},
    {"replay", "GET", false, s_build_replay},
    {"node", "PUT", false, s_build_add_node},
    {"node", "DELETE", false, s_build_remove_node},
    {"leader", "PUT", false, s_build_transfer_leadership},
    {"snapshot", "POST", false, s_build_take_snapshot},
    {"account", "PUT", false, s_build_create_account},
    {"account", "GET", false, s_build_list_accounts},
    {"account", "DELETE", false, s_build_delete_account},
    {"user", "GET", false, s_build_check_user},
    {"login", "PUT", false, s_build_login},
    {"login", "DELETE", false, s_build_logout},
    {"chat", "PUT", false, s_build_send_message},
    {"chat", "GET", false, s_build_read_messages},
    {"chat", "DELETE", false, s_build_delete_messages},
};

static const s_operation_t *
s_operation_find (json_t *type, json_t *method)
{
    for (size_t index = 0; index < sizeof s_operations / sizeof s_operations[0]; index++)
        if (s_string_is (type, s_operations[index].type) &&
            s_string_is (method, s_operations[index].method))
            return &s_operations[index];
    return NULL;
}

//  Keys any JSON request may carry, whatever its operation.
static int
s_common_keys (json_t *root, Raftq__Request *request, codec_request_t *decoded)
{
    if (s_integer_key (root, "client_id", false, 0, INT64_MAX, &request->client_id, decoded) ||
        s_integer_key (root, "seq", false, 0, INT64_MAX, &request->seq, decoded))
        return -1;
    json_t *token = json_object_get (root, "token");
    if (!token)
        return 0;
    if (!json_is_string (token))
        return s_error (decoded, RAFTQ__CODE__INVALID_ARGUMENT, "key \"token\" must be a string");
    return s_copy_name (token, "token", &request->token, decoded);
}

static int
s_decode_object (json_t *root, codec_request_t *decoded)
{
    if (!json_is_object (root))
        return s_error (decoded, RAFTQ__CODE__INVALID_ARGUMENT, "request must be a JSON object");
    json_t *type = json_object_get (root, "type");
    json_t *method = json_object_get (root, "method");
    const s_operation_t *operation = s_operation_find (type, method);
    //  Known before anything else can fail: an RRMQ request's failure reply
    //  has exactly {"success":false} whatever went wrong after this.
    decoded->strict = operation && operation->strict;
    if (!s_string_item (root, "type", decoded) || !s_string_item (root, "method", decoded))
        return -1;
    //  Echoed names come from the client: cap them to keep the text short.
    if (!operation)
        return s_error (decoded, RAFTQ__CODE__INVALID_ARGUMENT, "unknown operation: %.64s %.16s",
                        json_string_value (type), json_string_value (method));

    Raftq__Request *request = s_new_message (&raftq__request__descriptor);
    if (!request)
        return s_error (decoded, RAFTQ__CODE__INTERNAL, "out of memory");
    if (s_common_keys (root, request, decoded) || operation->build (root, request, decoded)) {
        raftq__request__free_unpacked (request, NULL);
        return -1;
    }
    decoded->request = request;
    return 0;
}

static int
s_decode_json (const uint8_t *body, size_t size, codec_request_t *decoded)
{
    decoded->dialect = CODEC_JSON;
    json_error_t json_error;
    //  NUL is allowed by the parser so that a payload may carry it; names
    //  refuse it one by one. Duplicate keys would make a request ambiguous.
    json_t *root =
        json_loadb ((const char *)body, size, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &json_error);
    if (!root) {
        if (json_error.line > 1)
            return s_error (decoded, RAFTQ__CODE__INVALID_ARGUMENT,
                            "malformed JSON at line %d, column %d: %s", json_error.line,
                            json_error.column, json_error.text);
        return s_error (decoded, RAFTQ__CODE__INVALID_ARGUMENT, "malformed JSON at column %d: %s",
                        json_error.column, json_error.text);
    }
    int rc = s_decode_object (root, decoded);
    json_decref (root);
    return rc;
}

static int
s_decode_protobuf (const uint8_t *body, size_t size, codec_request_t *decoded)
{
    Raftq__Request *request = raftq__request__unpack (NULL, size, body);
    if (!request)
        return s_error (decoded, RAFTQ__CODE__INVALID_ARGUMENT, "malformed protobuf request");
    //  Also what an op added by a newer client looks like to us.
    if (request->op_case == RAFTQ__REQUEST__OP__NOT_SET) {
        raftq__request__free_unpacked (request, NULL);
        return s_error (decoded, RAFTQ__CODE__INVALID_ARGUMENT, "no operation");
    }
    decoded->request = request;
    return 0;
}

int
codec_request_decode (const uint8_t *body, size_t size, codec_request_t *decoded)
{
    if (!decoded)
        return -1;
    memset (decoded, 0, sizeof *decoded);
    decoded->dialect = CODEC_PROTOBUF;
    decoded->error_code = RAFTQ__CODE__OK;
    if (!body || size == 0)
        return s_error (decoded, RAFTQ__CODE__INVALID_ARGUMENT, "empty request body");
    if (body[0] == '{')
        return s_decode_json (body, size, decoded);
    return s_decode_protobuf (body, size, decoded);
}

void
codec_request_clear (codec_request_t *decoded)
{
    if (!decoded)
        return;
    if (decoded->request)
        raftq__request__free_unpacked (decoded->request, NULL);
    memset (decoded, 0, sizeof *decoded);
}

//  --------------------------------------------------------------------------
//  Encoding helpers

//  Bytes as a JSON string, each byte that is not part of valid UTF-8
//  replaced by U+FFFD (see the header comment).
static json_t *
s_json_text (const void *data, size_t size)
{
    const uint8_t *bytes = data ? data : (const uint8_t *)"";
    size_t offset = 0;
    while (offset < size) {
        size_t length = utf8_sequence (bytes + offset, size - offset, NULL);
        if (!length)
            break;
        offset += length;
    }
    if (offset == size)
        return json_stringn ((const char *)bytes, size);

    //  Each byte becomes at most the three bytes of U+FFFD.
    char *clean = malloc (size * 3);
    if (!clean)
        return NULL;
    size_t used = 0;
    for (offset = 0; offset < size;) {
        size_t length = utf8_sequence (bytes + offset, size - offset, NULL);
        if (length) {
            memcpy (clean + used, bytes + offset, length);
            used += length;
            offset += length;
        } else {
            memcpy (clean + used, "\xEF\xBF\xBD", 3);
            used += 3;
            offset++;
        }
    }
    json_t *text = json_stringn (clean, used);
    free (clean);
    return text;
}

static json_t *
s_json_string (const char *text)
{
    return s_json_text (text, text ? strlen (text) : 0);
}

//  jansson integers are signed 64-bit: larger counters are capped.
static json_t *
s_json_count (uint64_t value)
{
    return json_integer (value > INT64_MAX ? INT64_MAX : (json_int_t)value);
}

//  Sets object.key, taking the value; remembers any failure in *rc so
//  that a whole object can be built before one check.
static void
s_set (json_t *object, const char *key, json_t *value, int *rc)
{
    if (json_object_set_new (object, key, value))
        *rc = -1;
}

static void
s_append (json_t *array, json_t *value, int *rc)
{
    if (json_array_append_new (array, value))
        *rc = -1;
}

//  Drops a half-built object when anything failed (out of memory).
static json_t *
s_built (json_t *object, int rc)
{
    if (rc) {
        json_decref (object);
        return NULL;
    }
    return object;
}

static json_t *
s_json_ids (const uint64_t *ids, size_t count)
{
    json_t *array = json_array ();
    int rc = 0;
    for (size_t index = 0; array && index < count; index++)
        s_append (array, s_json_count (ids[index]), &rc);
    return s_built (array, rc);
}

static json_t *
s_event_object (const Raftq__Event *event)
{
    json_t *object = json_object ();
    if (!object)
        return NULL;
    int rc = 0;
    bool publish = event->kind && strcmp (event->kind, "publish") == 0;
    s_set (object, "stream", s_json_string (event->stream), &rc);
    s_set (object, "seq", s_json_count (event->seq), &rc);
    s_set (object, "index", s_json_count (event->index), &rc);
    s_set (object, "kind", s_json_string (event->kind), &rc);
    if (publish || (event->topic && *event->topic))
        s_set (object, "topic", s_json_string (event->topic), &rc);
    if (publish || event->message.len)
        s_set (object, "message", s_json_text (event->message.data, event->message.len), &rc);
    if (event->kind && strcmp (event->kind, "message") == 0) {
        s_set (object, "id", s_json_count (event->id), &rc);
        s_set (object, "from", s_json_string (event->from), &rc);
        s_set (object, "to", s_json_string (event->to), &rc);
        s_set (object, "text", s_json_string (event->text), &rc);
        s_set (object, "ts", json_integer (event->ts), &rc);
    }
    if ((event->kind && strcmp (event->kind, "delete") == 0) || event->n_ids)
        s_set (object, "ids", s_json_ids (event->ids, event->n_ids), &rc);
    return s_built (object, rc);
}

//  {"success":false,"code":..,"error":..} (+ "leader" for NOT_LEADER).
static json_t *
s_failure_object (Raftq__Code code, const char *error, uint32_t leader_id, const char *endpoint)
{
    json_t *object = json_object ();
    if (!object)
        return NULL;
    int rc = 0;
    if (!error || !*error)
        error = (size_t)code < sizeof s_codes / sizeof s_codes[0] ? s_codes[code].text
                                                                  : "unknown error";
    s_set (object, "success", json_false (), &rc);
    s_set (object, "code", json_string (codec_code_name (code)), &rc);
    s_set (object, "error", s_json_string (error), &rc);
    if (code == RAFTQ__CODE__NOT_LEADER && leader_id != 0) {
        json_t *leader = json_object ();
        if (leader) {
            s_set (leader, "id", json_integer (leader_id), &rc);
            s_set (leader, "endpoint", s_json_string (endpoint), &rc);
        }
        s_set (object, "leader", leader, &rc);
    }
    return s_built (object, rc);
}

static json_t *
s_reply_failure (const Raftq__Reply *reply)
{
    return s_failure_object (reply->code, reply->error, reply->leader_id, reply->leader_endpoint);
}

//  {"success":true|false}, the start of every other reply object.
static json_t *
s_success_object (bool success)
{
    json_t *object = json_object ();
    if (object && json_object_set_new (object, "success", json_boolean (success))) {
        json_decref (object);
        return NULL;
    }
    return object;
}

//  The four RRMQ requests: exactly the contract's keys, whatever happened.
static json_t *
s_strict_reply (const Raftq__Request *request, const Raftq__Reply *reply)
{
    if (!request || reply->code != RAFTQ__CODE__OK)
        return s_success_object (false);
    int rc = 0;
    json_t *object;
    if (request->op_case == RAFTQ__REQUEST__OP_LIST_TOPICS) {
        object = s_success_object (true);
        json_t *topics = json_array ();
        if (topics && reply->result_case == RAFTQ__REPLY__RESULT_TOPICS && reply->topics)
            for (size_t index = 0; index < reply->topics->n_names; index++)
                s_append (topics, s_json_string (reply->topics->names[index]), &rc);
        if (object)
            s_set (object, "topics", topics, &rc);
        else
            json_decref (topics);
    } else if (request->op_case == RAFTQ__REQUEST__OP_POP) {
        //  A pop that claims success without a message has nothing to give.
        if (reply->result_case != RAFTQ__REPLY__RESULT_POPPED || !reply->popped)
            return s_success_object (false);
        object = s_success_object (true);
        if (object)
            s_set (object, "message",
                   s_json_text (reply->popped->payload.data, reply->popped->payload.len), &rc);
    } else
        object = s_success_object (true);
    return s_built (object, rc);
}

static const char *
s_role_name (Raftq__Role role)
{
    if (role == RAFTQ__ROLE__LEADER)
        return "Leader";
    if (role == RAFTQ__ROLE__CANDIDATE)
        return "Candidate";
    return "Follower";
}

//  A replication counter the answering node may not know: null then.
static json_t *
s_json_known_count (bool known, uint64_t value)
{
    return known ? s_json_count (value) : json_null ();
}

static json_t *
s_member_detail_object (const Raftq__MemberStatus *member)
{
    json_t *object = json_object ();
    if (!object)
        return NULL;
    int rc = 0;
    s_set (object, "id", json_integer (member->id), &rc);
    s_set (object, "role", json_string (member->voter ? "voter" : "learner"), &rc);
    s_set (object, "host", s_json_string (member->host), &rc);
    s_set (object, "client_port", json_integer (member->client_port), &rc);
    s_set (object, "peer_port", json_integer (member->peer_port), &rc);
    s_set (object, "pub_port", json_integer (member->pub_port), &rc);
    s_set (object, "match_index",
           s_json_known_count (member->replication_known, member->match_index), &rc);
    s_set (object, "lag", s_json_known_count (member->replication_known, member->lag), &rc);
    return s_built (object, rc);
}

//  Adds the keys of a status asked with "detail" to object.
static void
s_status_detail_keys (json_t *object, const Raftq__StatusDetail *detail, int *rc)
{
    s_set (object, "config_index", s_json_count (detail->config_index), rc);
    s_set (object, "snapshot_index", s_json_count (detail->snapshot_index), rc);
    s_set (object, "snapshot_term", s_json_count (detail->snapshot_term), rc);
    s_set (object, "first_index", s_json_count (detail->first_index), rc);
    s_set (object, "log_bytes", s_json_count (detail->log_bytes), rc);
    s_set (object, "snapshot_bytes", s_json_count (detail->snapshot_bytes), rc);
    json_t *members = json_array ();
    for (size_t index = 0; members && index < detail->n_members; index++)
        s_append (members, s_member_detail_object (detail->members[index]), rc);
    s_set (object, "member_detail", members, rc);
}

//  with_hash: the request asked for the state hash, sent as 16 hex digits
//  (a string: JSON numbers lose precision past 2^53). with_detail: it
//  asked for the detail keys.
static json_t *
s_status_reply (const Raftq__Reply *reply, bool with_hash, bool with_detail)
{
    if (reply->result_case != RAFTQ__REPLY__RESULT_STATUS || !reply->status)
        return s_failure_object (RAFTQ__CODE__INTERNAL, "status reply without a status", 0, NULL);
    const Raftq__NodeStatus *status = reply->status;
    json_t *object = json_object ();
    json_t *members = json_array ();
    if (!object || !members) {
        json_decref (object);
        json_decref (members);
        return NULL;
    }
    int rc = 0;
    s_set (object, "role", json_string (s_role_name (status->role)), &rc);
    s_set (object, "term", s_json_count (status->term), &rc);
    s_set (object, "id", json_integer (status->id), &rc);
    s_set (object, "leader", status->leader_id ? json_integer (status->leader_id) : json_null (),
           &rc);
    s_set (object, "commit_index", s_json_count (status->commit_index), &rc);
    s_set (object, "applied_index", s_json_count (status->applied_index), &rc);
    s_set (object, "last_index", s_json_count (status->last_index), &rc);
    for (size_t index = 0; index < status->n_members; index++)
        s_append (members, json_integer (status->members[index]), &rc);
    s_set (object, "members", members, &rc);
    if (with_hash) {
        char hash[17];
        snprintf (hash, sizeof hash, "%016" PRIx64, status->state_hash);
        s_set (object, "state_hash", json_string (hash), &rc);
    }
    //  A node without detail (an older version) leaves the keys out
    if (with_detail && status->detail)
        s_status_detail_keys (object, status->detail, &rc);
    return s_built (object, rc);
}

static json_t *
s_replay_reply (const Raftq__Reply *reply)
{
    json_t *object = s_success_object (true);
    json_t *events = json_array ();
    int rc = 0;
    if (events && reply->result_case == RAFTQ__REPLY__RESULT_EVENTS && reply->events)
        for (size_t index = 0; index < reply->events->n_events; index++)
            s_append (events, s_event_object (reply->events->events[index]), &rc);
    if (!object) {
        json_decref (events);
        return NULL;
    }
    s_set (object, "events", events, &rc);
    return s_built (object, rc);
}

static json_t *
s_chat_message_object (const Raftq__ChatMessage *message)
{
    json_t *object = json_object ();
    if (!object)
        return NULL;
    int rc = 0;
    s_set (object, "id", s_json_count (message->id), &rc);
    s_set (object, "from", s_json_string (message->from), &rc);
    s_set (object, "to", s_json_string (message->to), &rc);
    s_set (object, "text", s_json_string (message->text), &rc);
    s_set (object, "ts", json_integer (message->ts), &rc);
    s_set (object, "read", json_boolean (message->read), &rc);
    return s_built (object, rc);
}

static json_t *
s_accounts_reply (const Raftq__AccountList *accounts)
{
    json_t *object = s_success_object (true);
    json_t *names = json_array ();
    int rc = object && names ? 0 : -1;
    for (size_t index = 0; names && index < accounts->n_names; index++)
        s_append (names, s_json_string (accounts->names[index]), &rc);
    if (object) {
        s_set (object, "accounts", names, &rc);
        s_set (object, "total", s_json_count (accounts->total), &rc);
    } else
        json_decref (names);
    return s_built (object, rc);
}

static json_t *
s_page_reply (const Raftq__MessagePage *page)
{
    json_t *object = s_success_object (true);
    json_t *messages = json_array ();
    int rc = object && messages ? 0 : -1;
    for (size_t index = 0; messages && index < page->n_messages; index++)
        s_append (messages, s_chat_message_object (page->messages[index]), &rc);
    if (object) {
        s_set (object, "messages", messages, &rc);
        s_set (object, "total", s_json_count (page->total), &rc);
        s_set (object, "remaining", s_json_count (page->remaining), &rc);
    } else
        json_decref (messages);
    return s_built (object, rc);
}

//  {"success":true} plus one key with value (taken).
static json_t *
s_success_with (const char *key, json_t *value)
{
    json_t *object = s_success_object (true);
    int rc = object ? 0 : -1;
    if (object)
        s_set (object, key, value, &rc);
    else
        json_decref (value);
    return s_built (object, rc);
}

//  A success that lacks the result its operation promises.
static json_t *
s_missing_result (void)
{
    return s_failure_object (RAFTQ__CODE__INTERNAL, "reply without its result", 0, NULL);
}

//  The success forms of DESIGN 5.2 for the chat operations.
static json_t *
s_chat_reply (const Raftq__Request *request, const Raftq__Reply *reply)
{
    switch (request->op_case) {
    case RAFTQ__REQUEST__OP_CHECK_USER:
        if (reply->result_case != RAFTQ__REPLY__RESULT_USER_EXISTS || !reply->user_exists)
            return s_missing_result ();
        return s_success_with ("exists", json_boolean (reply->user_exists->exists));
    case RAFTQ__REQUEST__OP_LIST_ACCOUNTS:
        if (reply->result_case != RAFTQ__REPLY__RESULT_ACCOUNTS || !reply->accounts)
            return s_missing_result ();
        return s_accounts_reply (reply->accounts);
    case RAFTQ__REQUEST__OP_LOGIN: {
        if (reply->result_case != RAFTQ__REPLY__RESULT_SESSION || !reply->session)
            return s_missing_result ();
        json_t *object = s_success_with ("token", s_json_string (reply->session->token));
        int rc = object ? 0 : -1;
        if (object)
            s_set (object, "unread", s_json_count (reply->session->unread), &rc);
        return s_built (object, rc);
    }
    case RAFTQ__REQUEST__OP_SEND_MESSAGE:
        if (reply->result_case != RAFTQ__REPLY__RESULT_SENT || !reply->sent)
            return s_missing_result ();
        return s_success_with ("id", s_json_count (reply->sent->id));
    case RAFTQ__REQUEST__OP_READ_MESSAGES:
        if (reply->result_case != RAFTQ__REPLY__RESULT_PAGE || !reply->page)
            return s_missing_result ();
        return s_page_reply (reply->page);
    case RAFTQ__REQUEST__OP_DELETE_MESSAGES:
        if (reply->result_case != RAFTQ__REPLY__RESULT_DELETED || !reply->deleted)
            return s_missing_result ();
        return s_success_with ("deleted", s_json_count (reply->deleted->count));
    default:
        return s_success_object (true);
    }
}

static json_t *
s_json_reply (const codec_request_t *decoded, const Raftq__Reply *reply)
{
    if (decoded->strict)
        return s_strict_reply (decoded->request, reply);
    const Raftq__Request *request = decoded->request;
    if (!request || reply->code != RAFTQ__CODE__OK) {
        json_t *failure = s_reply_failure (reply);
        //  A replay from before the window says where the window starts
        if (failure && request && request->op_case == RAFTQ__REQUEST__OP_REPLAY &&
            reply->oldest_seq &&
            json_object_set_new (failure, "oldest_seq", s_json_count (reply->oldest_seq))) {
            json_decref (failure);
            return NULL;
        }
        return failure;
    }
    switch (request->op_case) {
    case RAFTQ__REQUEST__OP_STATUS:
        return s_status_reply (reply, request->status && request->status->with_hash,
                               request->status && request->status->detail);
    case RAFTQ__REQUEST__OP_TAKE_SNAPSHOT:
        return s_success_with ("index", s_json_count (reply->index));
    case RAFTQ__REQUEST__OP_REPLAY:
        return s_replay_reply (reply);
    default:
        return s_chat_reply (request, reply);
    }
}

static uint8_t *
s_pack_reply (const Raftq__Reply *reply, size_t *size)
{
    size_t packed_size = raftq__reply__get_packed_size (reply);
    //  An all-default reply packs to nothing; malloc (0) may answer NULL.
    uint8_t *body = malloc (packed_size ? packed_size : 1);
    if (!body)
        return NULL;
    *size = raftq__reply__pack (reply, body);
    return body;
}

uint8_t *
codec_reply_encode (const codec_request_t *decoded, const Raftq__Reply *reply, size_t *size)
{
    size_t ignored;
    if (!size)
        size = &ignored;
    *size = 0;
    if (!decoded)
        return NULL;

    //  Without a request there is nothing a success could describe: the
    //  answer is the decoding failure unless the caller gave a failure.
    Raftq__Reply failure = RAFTQ__REPLY__INIT;
    if (!reply || (!decoded->request && reply->code == RAFTQ__CODE__OK)) {
        bool known = decoded->error_code != RAFTQ__CODE__OK;
        failure.code = known ? decoded->error_code : RAFTQ__CODE__INTERNAL;
        failure.error = known ? (char *)decoded->error : (char *)"no reply to encode";
        if (reply)
            failure.seq = reply->seq;
        reply = &failure;
    }

    if (decoded->dialect == CODEC_PROTOBUF)
        return s_pack_reply (reply, size);

    json_t *object = s_json_reply (decoded, reply);
    char *text = object ? json_dumps (object, JSON_COMPACT) : NULL;
    json_decref (object);
    if (!text)
        return NULL;
    *size = strlen (text);
    return (uint8_t *)text;
}

char *
codec_event_json (const Raftq__Event *event)
{
    if (!event)
        return NULL;
    json_t *object = s_event_object (event);
    char *text = object ? json_dumps (object, JSON_COMPACT) : NULL;
    json_decref (object);
    return text;
}

const char *
codec_code_name (Raftq__Code code)
{
    if ((size_t)code < sizeof s_codes / sizeof s_codes[0] && s_codes[code].name)
        return s_codes[code].name;
    return "UNKNOWN";
}
