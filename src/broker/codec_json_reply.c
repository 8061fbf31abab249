/*  codec_json_reply — raftq.Reply and raftq.Event as the JSON of DESIGN 5.2
    and 6, for the request the reply answers.

    Decisions worth knowing:
    - JSON strings are UTF-8 text, payloads are bytes. When a payload (or any
      other reply text) is not valid UTF-8, each invalid byte becomes U+FFFD
      in the JSON reply; protobuf clients always get the bytes unchanged.
    - The four RRMQ requests (topic/message PUT/GET) are answered with exactly
      the contract's keys, even when the rest of the request is bad. A body
      that is not JSON at all cannot be recognized as one of them and gets
      the generic failure form.
    - JSON numbers are signed 64-bit in jansson: reply counters are capped
      at 2^63-1.
    - CheckUser is answered {"success":true,"exists":bool}; a status with
      "hash":true adds "state_hash" as 16 hex digits (a string: JSON numbers
      lose precision past 2^53); a replay adds "next_seq" (the seq the
      stream's next event gets: where a live subscriber starts), and when
      refused because its events are no longer retained, "oldest_seq" to
      the failure; a refusal by a
      throttle (a login for an account that failed too often) adds
      "retry_after_ms".
    - A status with "detail":true adds "config_index", "snapshot_index",
      "snapshot_term", "first_index", "log_bytes", "snapshot_bytes" and
      "member_detail": one object per member of the configuration, by id,
      with "id", "role" ("voter" or "learner"), "host", "client_port",
      "peer_port", "pub_port", and "match_index" and "lag" (numbers on the
      leader, null elsewhere), and "topics": one object per topic in
      creation order with "name", "ready", "reserved", "delayed",
      "dead_lettered", "max_deliveries" and "dead_letter". Without it the reply has exactly DESIGN's
      keys. TakeSnapshot is answered {"success":true,"index":N} with the
      snapshot's index; it fails like every other operation, with "code"
      and "error".
    - RESERVE is answered {"success":true,"message":M,"receipt":R,
      "deliveries":D}, plus "original_topic" and "original_deliveries" for
      a dead letter; ACK and NACK {"success":true}. A dead letter popped by
      the strict message GET has only "message", as the RRMQ contract says.
    - Events: a "message" carries id, from, to, text, ts; a "delete" always
      carries "ids" (possibly empty); other kinds only the generic keys and
      whatever is set.
*/

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <inttypes.h>
#include <jansson.h>

#include "broker/codec_private.h"
#include "util/utf8.h"

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
        error = codec_code_text (code);
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

//  A failure as s_failure_object, plus "retry_after_ms" when a throttle
//  said how long to wait.
static json_t *
s_reply_failure (const Raftq__Reply *reply)
{
    json_t *failure =
        s_failure_object (reply->code, reply->error, reply->leader_id, reply->leader_endpoint);
    if (failure && reply->retry_after_ms &&
        json_object_set_new (failure, "retry_after_ms", json_integer (reply->retry_after_ms))) {
        json_decref (failure);
        return NULL;
    }
    return failure;
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

static json_t *
s_topic_detail_object (const Raftq__TopicStatus *topic)
{
    json_t *object = json_object ();
    if (!object)
        return NULL;
    int rc = 0;
    s_set (object, "name", s_json_string (topic->name), &rc);
    s_set (object, "ready", s_json_count (topic->ready), &rc);
    s_set (object, "reserved", s_json_count (topic->reserved), &rc);
    s_set (object, "delayed", s_json_count (topic->delayed), &rc);
    s_set (object, "dead_lettered", s_json_count (topic->dead_lettered), &rc);
    s_set (object, "max_deliveries", json_integer (topic->max_deliveries), &rc);
    s_set (object, "dead_letter", s_json_string (topic->dead_letter), &rc);
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
    s_set (object, "state_bytes", s_json_count (detail->state_bytes), rc);
    s_set (object, "max_state_bytes", s_json_count (detail->max_state_bytes), rc);
    s_set (object, "free_disk_bytes", s_json_count (detail->free_disk_bytes), rc);
    s_set (object, "min_free_disk_bytes", s_json_count (detail->min_free_disk_bytes), rc);
    s_set (object, "disk_low", json_boolean (detail->disk_low), rc);
    json_t *members = json_array ();
    for (size_t index = 0; members && index < detail->n_members; index++)
        s_append (members, s_member_detail_object (detail->members[index]), rc);
    s_set (object, "member_detail", members, rc);
    json_t *topics = json_array ();
    for (size_t index = 0; topics && index < detail->n_topics; index++)
        s_append (topics, s_topic_detail_object (detail->topics[index]), rc);
    s_set (object, "topics", topics, rc);
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
    //  A node without it (an older version) leaves the key out
    if (reply->next_seq)
        s_set (object, "next_seq", s_json_count (reply->next_seq), &rc);
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

//  {"success":true,"message":M,"receipt":R,"deliveries":D}, plus
//  "original_topic" and "original_deliveries" for a dead letter.
static json_t *
s_reserved_reply (const Raftq__Reply *reply)
{
    if (reply->result_case != RAFTQ__REPLY__RESULT_RESERVED || !reply->reserved)
        return s_missing_result ();
    const Raftq__Reserved *reserved = reply->reserved;
    json_t *object =
        s_success_with ("message", s_json_text (reserved->payload.data, reserved->payload.len));
    int rc = object ? 0 : -1;
    if (object) {
        s_set (object, "receipt", s_json_string (reserved->receipt), &rc);
        s_set (object, "deliveries", json_integer (reserved->deliveries), &rc);
        if (reserved->original_topic && *reserved->original_topic) {
            s_set (object, "original_topic", s_json_string (reserved->original_topic), &rc);
            s_set (object, "original_deliveries", json_integer (reserved->original_deliveries),
                   &rc);
        }
    }
    return s_built (object, rc);
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
        //  and where the stream is now
        int rc = 0;
        if (failure && request && request->op_case == RAFTQ__REQUEST__OP_REPLAY) {
            if (reply->oldest_seq)
                s_set (failure, "oldest_seq", s_json_count (reply->oldest_seq), &rc);
            if (reply->next_seq)
                s_set (failure, "next_seq", s_json_count (reply->next_seq), &rc);
        }
        return s_built (failure, rc);
    }
    switch (request->op_case) {
    case RAFTQ__REQUEST__OP_STATUS:
        return s_status_reply (reply, request->status && request->status->with_hash,
                               request->status && request->status->detail);
    case RAFTQ__REQUEST__OP_TAKE_SNAPSHOT:
        return s_success_with ("index", s_json_count (reply->index));
    case RAFTQ__REQUEST__OP_REPLAY:
        return s_replay_reply (reply);
    case RAFTQ__REQUEST__OP_RESERVE:
        return s_reserved_reply (reply);
    default:
        return s_chat_reply (request, reply);
    }
}

//  object as compact JSON text (a malloc'd body, its length in *size);
//  takes object, NULL when it is NULL or out of memory.
static uint8_t *
s_dumped (json_t *object, size_t *size)
{
    char *text = object ? json_dumps (object, JSON_COMPACT) : NULL;
    json_decref (object);
    if (!text)
        return NULL;
    *size = strlen (text);
    return (uint8_t *)text;
}

uint8_t *
codec_json_reply_encode (const codec_request_t *decoded, const Raftq__Reply *reply, size_t *size)
{
    return s_dumped (s_json_reply (decoded, reply), size);
}

char *
codec_event_json (const Raftq__Event *event)
{
    if (!event)
        return NULL;
    size_t size;
    return (char *)s_dumped (s_event_object (event), &size);
}
