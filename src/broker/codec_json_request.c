/*  codec_json_request — the JSON dialect's requests (DESIGN 5.2): one table
    of operations by "type" and "method", one builder each, filling the
    protobuf-c structures raftq__request__unpack would build.

    Decisions worth knowing:
    - "\u0000" is accepted inside a JSON "message" (it is payload bytes) but
      refused in names (topic, stream, host, token), which travel as C
      strings and would be silently cut.
    - Keys a JSON request does not need are ignored: RRMQ clients may add
      their own.
    - "from" and "limit" of a replay are optional (0: from the start, and the
      server's default page size).
    - The four RRMQ requests (topic/message PUT/GET) are recognized before
      anything else can fail, so that their reply has exactly the contract's
      keys even when the rest of the request is bad (decoded->strict).
    - JSON numbers are signed 64-bit in jansson: client_id and seq above
      2^63-1 cannot be sent in JSON.
    - "token" is a key of every request (Request.token). A chat request
      without one still decodes: the state machine answers UNAUTHENTICATED,
      which tells the client more than "missing key" would.
    - A "password" is wiped from the parsed JSON as soon as it is copied.
    - Beyond the table of DESIGN 5.2: {"type":"user","method":"GET","user":U}
      is CheckUser; a status may carry "hash" and "detail" (booleans);
      {"type":"snapshot","method":"POST"} is TakeSnapshot.
    - Acknowledged consumption (issue 14): message RESERVE (topic,
      visibility_ms, wait_ms), ACK (receipt), NACK (receipt, delay_ms);
      topic PUT and message GET take the optional max_deliveries,
      dead_letter and wait_ms keys and stay strict RRMQ requests.
*/

#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "broker/codec_private.h"
#include "util/curve_key.h"

typedef int (s_build_fn) (json_t *root, Raftq__Request *request, codec_request_t *decoded);

//  One JSON operation: its name in the dialect and how to build it.
typedef struct {
    const char *type;   //  "type" of the JSON request
    const char *method; //  "method" of the JSON request
    bool strict;        //  one of the four RRMQ requests with fixed reply keys
    s_build_fn *build;  //  fills the request
} s_operation_t;

//  --------------------------------------------------------------------------
//  Decoding helpers

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
        codec_request_fail (decoded, RAFTQ__CODE__INVALID_ARGUMENT, "missing string key \"%s\"",
                            key);
    else if (!json_is_string (item)) {
        codec_request_fail (decoded, RAFTQ__CODE__INVALID_ARGUMENT, "key \"%s\" must be a string",
                            key);
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
        return codec_request_fail (decoded, RAFTQ__CODE__INVALID_ARGUMENT,
                                   "key \"%s\" must not contain a NUL character", key);
    char *copy = malloc (length + 1);
    if (!copy)
        return codec_request_fail (decoded, RAFTQ__CODE__INTERNAL, "out of memory");
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
        return codec_request_fail (decoded, RAFTQ__CODE__INTERNAL, "out of memory");
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
            return codec_request_fail (decoded, RAFTQ__CODE__INVALID_ARGUMENT,
                                       "missing integer key \"%s\"", key);
        return 0;
    }
    //  Reals (5501.0, 1e3) are refused: an id or a port is never approximate.
    if (!json_is_integer (item) || json_integer_value (item) < 0 ||
        (uint64_t)json_integer_value (item) < min || (uint64_t)json_integer_value (item) > max)
        return codec_request_fail (decoded, RAFTQ__CODE__INVALID_ARGUMENT,
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
        return codec_request_fail (decoded, RAFTQ__CODE__INVALID_ARGUMENT,
                                   "key \"%s\" must be true or false", key);
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
        return codec_request_fail (decoded, RAFTQ__CODE__INTERNAL, "out of memory");
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
    if (s_attached (request, RAFTQ__REQUEST__OP_CREATE_TOPIC, create, decoded) ||
        s_name_key (root, "topic", &create->name, decoded) ||
        s_u32_key (root, "max_deliveries", false, 0, UINT32_MAX, &create->max_deliveries, decoded))
        return -1;
    return s_optional_name_key (root, "dead_letter", &create->dead_letter, decoded);
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
    if (s_attached (request, RAFTQ__REQUEST__OP_POP, pop, decoded) ||
        s_name_key (root, "topic", &pop->topic, decoded))
        return -1;
    return s_u32_key (root, "wait_ms", false, 0, UINT32_MAX, &pop->wait_ms, decoded);
}

static int
s_build_reserve (json_t *root, Raftq__Request *request, codec_request_t *decoded)
{
    Raftq__Reserve *reserve = request->reserve = s_new_message (&raftq__reserve__descriptor);
    if (s_attached (request, RAFTQ__REQUEST__OP_RESERVE, reserve, decoded) ||
        s_name_key (root, "topic", &reserve->topic, decoded) ||
        s_u32_key (root, "visibility_ms", false, 0, UINT32_MAX, &reserve->visibility_ms, decoded))
        return -1;
    return s_u32_key (root, "wait_ms", false, 0, UINT32_MAX, &reserve->wait_ms, decoded);
}

static int
s_build_ack (json_t *root, Raftq__Request *request, codec_request_t *decoded)
{
    Raftq__Ack *ack = request->ack = s_new_message (&raftq__ack__descriptor);
    if (s_attached (request, RAFTQ__REQUEST__OP_ACK, ack, decoded))
        return -1;
    return s_name_key (root, "receipt", &ack->receipt, decoded);
}

static int
s_build_nack (json_t *root, Raftq__Request *request, codec_request_t *decoded)
{
    Raftq__Nack *nack = request->nack = s_new_message (&raftq__nack__descriptor);
    if (s_attached (request, RAFTQ__REQUEST__OP_NACK, nack, decoded) ||
        s_name_key (root, "receipt", &nack->receipt, decoded))
        return -1;
    return s_u32_key (root, "delay_ms", false, 0, UINT32_MAX, &nack->delay_ms, decoded);
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
        return codec_request_fail (decoded, RAFTQ__CODE__INVALID_ARGUMENT,
                                   "key \"ids\" must be an array of message ids");
    size_t count = json_array_size (ids);
    if (count == 0)
        return 0;
    delete_messages->ids = malloc (count * sizeof (uint64_t));
    if (!delete_messages->ids)
        return codec_request_fail (decoded, RAFTQ__CODE__INTERNAL, "out of memory");
    for (size_t index = 0; index < count; index++) {
        json_t *id = json_array_get (ids, index);
        if (!json_is_integer (id) || json_integer_value (id) < 1)
            return codec_request_fail (decoded, RAFTQ__CODE__INVALID_ARGUMENT,
                                       "key \"ids\" must hold positive integers only");
        delete_messages->ids[delete_messages->n_ids++] = (uint64_t)json_integer_value (id);
    }
    return 0;
}

//  An optional CurveZMQ public key in Z85 text, as 32 bytes.
static int
s_public_key_key (json_t *root, const char *key, ProtobufCBinaryData *bytes,
                  codec_request_t *decoded)
{
    json_t *item = json_object_get (root, key);
    if (!item)
        return 0;
    uint8_t *raw = malloc (CURVE_KEY_SIZE);
    if (!raw)
        return codec_request_fail (decoded, RAFTQ__CODE__INTERNAL, "out of memory");
    if (!json_is_string (item) || curve_key_decode (json_string_value (item), raw)) {
        free (raw);
        return codec_request_fail (decoded, RAFTQ__CODE__INVALID_ARGUMENT,
                                   "key \"public_key\" must be a CurveZMQ public key in Z85 (40 "
                                   "characters)");
    }
    bytes->data = raw;
    bytes->len = CURVE_KEY_SIZE;
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
    if (s_u32_key (root, "pub_port", false, 0, 65535, &add->pub_port, decoded) ||
        s_optional_name_key (root, "peer_host", &add->peer_host, decoded))
        return -1;
    return s_public_key_key (root, "public_key", &add->public_key, decoded);
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
    {"message", "RESERVE", false, s_build_reserve},
    {"message", "ACK", false, s_build_ack},
    {"message", "NACK", false, s_build_nack},
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

//  An optional string key of root into *target (left as it is when absent).
static int
s_optional_name (json_t *root, const char *key, char **target, codec_request_t *decoded)
{
    json_t *item = json_object_get (root, key);
    if (!item)
        return 0;
    if (!json_is_string (item))
        return codec_request_fail (decoded, RAFTQ__CODE__INVALID_ARGUMENT,
                                   "key \"%s\" must be a string", key);
    return s_copy_name (item, key, target, decoded);
}

//  Keys any JSON request may carry, whatever its operation.
static int
s_common_keys (json_t *root, Raftq__Request *request, codec_request_t *decoded)
{
    if (s_integer_key (root, "client_id", false, 0, INT64_MAX, &request->client_id, decoded) ||
        s_integer_key (root, "seq", false, 0, INT64_MAX, &request->seq, decoded))
        return -1;
    return s_optional_name (root, "token", &request->token, decoded) ||
           s_optional_name (root, "admin", &request->admin_secret, decoded);
}

static int
s_decode_object (json_t *root, codec_request_t *decoded)
{
    if (!json_is_object (root))
        return codec_request_fail (decoded, RAFTQ__CODE__INVALID_ARGUMENT,
                                   "request must be a JSON object");
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
        return codec_request_fail (decoded, RAFTQ__CODE__INVALID_ARGUMENT,
                                   "unknown operation: %.64s %.16s", json_string_value (type),
                                   json_string_value (method));

    Raftq__Request *request = s_new_message (&raftq__request__descriptor);
    if (!request)
        return codec_request_fail (decoded, RAFTQ__CODE__INTERNAL, "out of memory");
    if (s_common_keys (root, request, decoded) || operation->build (root, request, decoded)) {
        raftq__request__free_unpacked (request, NULL);
        return -1;
    }
    decoded->request = request;
    return 0;
}

int
codec_json_request_decode (const uint8_t *body, size_t size, codec_request_t *decoded)
{
    decoded->dialect = CODEC_JSON;
    json_error_t json_error;
    //  NUL is allowed by the parser so that a payload may carry it; names
    //  refuse it one by one. Duplicate keys would make a request ambiguous.
    json_t *root =
        json_loadb ((const char *)body, size, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &json_error);
    if (!root) {
        if (json_error.line > 1)
            return codec_request_fail (decoded, RAFTQ__CODE__INVALID_ARGUMENT,
                                       "malformed JSON at line %d, column %d: %s", json_error.line,
                                       json_error.column, json_error.text);
        return codec_request_fail (decoded, RAFTQ__CODE__INVALID_ARGUMENT,
                                   "malformed JSON at column %d: %s", json_error.column,
                                   json_error.text);
    }
    int rc = s_decode_object (root, decoded);
    json_decref (root);
    return rc;
}
