/*  fsm — the replicated state machine: topics with their FIFO queues
    (queues.c), the chat state (chat.c), the event streams with their
    retained window (event_log.c) and the exactly-once table of client
    replies (client_table.c). This file owns their lifecycle, dispatches
    each command to its part, and combines the parts into the state hash
    and the snapshot.

    Determinism: apply reads only the state and the entry. Nothing that
    reaches a reply, an event or the state hash depends on a clock, a random
    source, the node id, pointer values or hash-table iteration order: topics
    are listed and hashed in creation order, clients are hashed sorted by id,
    and the exactly-once table evicts by log index.

    Decisions:
    - Exactly-once applies when client_id and seq are both non-zero; seq 0
      means "no retry protection" as in raftq.Request. Every reply an applied
      request produced is remembered, errors included, so a retry gets the
      same answer. A retry (seq == remembered) and a stale request (seq <
      remembered) change nothing, not even the client's place in the
      eviction order. A client evicted from a full table loses its
      protection: its retry would apply again.
    - ListTopics, ListAccounts and CheckUser only read: the leader answers
      them from the applied state once a ReadIndex confirmed it (fsm_query),
      without a log entry. Every other chat operation goes through the log:
      ReadMessages marks messages read, and even a conversation page
      refreshes its session's last use.
    - The retained events live here, in the replicated state, not in the
      server: every node then replays the same events under the same
      sequences, whichever node a subscriber falls back to, and the window
      is in the state hash. Replay itself is a local read (fsm_replay), not
      a log entry.
    - Out of memory aborts the process: a node that cannot apply an entry
      must stop rather than diverge from the others.
    - A snapshot (fsm_snapshot_save / fsm_snapshot_load) carries everything
      above that a later apply can observe, in the order it depends on:
      topics in creation order with their queues and publish counts,
      clients in eviction order, the streams and the retained window in
      emit order, and the chat state. Ring capacities and hash-table
      layouts are not state: a restored fsm may allocate differently, but
      hashes and answers the same. Restoring checks the invariants apply
      relies on and refuses a state that breaks one, since the reply and
      event bytes in it are later unpacked on trust.
*/

#include <czmq.h>
#include <sodium.h>
#include <inttypes.h>

#include "state/client_table.h"
#include "state/command.h"
#include "state/event_log.h"
#include "state/fsm.h"
#include "state/queues.h"
#include "state/reply.h"
#include "util/digest.h"
#include "util/error_text.h"
#include "util/must.h"
#include "util/protobuf_arena.h"

#define FSM_DEFAULT_MAX_CLIENTS     100000
#define FSM_DEFAULT_MAX_TOPIC_NAME  255
#define FSM_DEFAULT_MAX_PAYLOAD     (1024 * 1024)
#define FSM_DEFAULT_RETENTION       1000
#define FSM_DEFAULT_RETENTION_BYTES (64 * 1024 * 1024)
//  Replay: events per answer by default and at most, and the bytes one
//  answer may carry (a bigger first event still goes out alone)
#define FSM_REPLAY_DEFAULT_LIMIT 100
#define FSM_REPLAY_MAX_LIMIT     1000
#define FSM_REPLAY_MAX_BYTES     (4 * 1024 * 1024)
#define FSM_HASH_DOMAIN          "raftq.fsm.state.v2"

struct _fsm_t {
    fsm_options_t options;          //  limits, defaults filled in
    uint64_t applied_index;         //  index of the last entry applied
    queues_t *queues;               //  topics and their queues
    event_log_t *events;            //  stream sequences and retained events
    chat_t *chat;                   //  accounts, sessions, direct messages
    client_table_t *clients;        //  the exactly-once table
    int64_t latest_ms;              //  newest leader time of an applied command; not state
    protobuf_arena_t *decode_arena; //  the command being applied is unpacked here
};

//  --------------------------------------------------------------------------
//  Constructor and destructor

//  Options with every 0 replaced by its default.
static fsm_options_t
s_options_filled (const fsm_options_t *options)
{
    fsm_options_t filled = {0};
    if (options)
        filled = *options;
    if (filled.max_clients == 0)
        filled.max_clients = FSM_DEFAULT_MAX_CLIENTS;
    if (filled.max_topic_name == 0)
        filled.max_topic_name = FSM_DEFAULT_MAX_TOPIC_NAME;
    if (filled.max_payload_bytes == 0)
        filled.max_payload_bytes = FSM_DEFAULT_MAX_PAYLOAD;
    if (filled.event_retention == 0)
        filled.event_retention = FSM_DEFAULT_RETENTION;
    if (filled.event_retention_bytes == 0)
        filled.event_retention_bytes = FSM_DEFAULT_RETENTION_BYTES;
    return filled;
}

fsm_t *
fsm_new (const fsm_options_t *options)
{
    //  Only selects the fastest BLAKE2b code; safe to call more than once.
    if (sodium_init () < 0)
        return NULL;
    fsm_t *self = (fsm_t *)zmalloc (sizeof (fsm_t));
    self->options = s_options_filled (options);
    self->events =
        event_log_new (self->options.event_retention, self->options.event_retention_bytes);
    self->queues =
        queues_new (self->options.max_topic_name, self->options.max_payload_bytes, self->events);
    self->chat = chat_new (&self->options.chat, self->events);
    self->clients = client_table_new (self->options.max_clients, CLIENT_TABLE_MAX_BYTES);
    self->decode_arena = protobuf_arena_new ();
    if (!self->decode_arena)
        fsm_destroy (&self);
    return self;
}

void
fsm_destroy (fsm_t **self_p)
{
    assert (self_p);
    fsm_t *self = *self_p;
    if (self) {
        queues_destroy (&self->queues);
        chat_destroy (&self->chat);
        event_log_destroy (&self->events);
        client_table_destroy (&self->clients);
        protobuf_arena_destroy (&self->decode_arena);
        free (self);
        *self_p = NULL;
    }
}

//  --------------------------------------------------------------------------
//  Checks before proposing

int
fsm_validate (fsm_t *self, const Raftq__State__Command *command, Raftq__Code *code, char *error,
              size_t error_size)
{
    assert (self);
    assert (command);
    //  Quotas come after the checks of the command itself, so that a bad
    //  request is told what is wrong with it, not that a limit is reached
    //  (an entry without limits, written before quotas, has none)
    const Raftq__State__Limits *limits = command->limits;
    uint64_t state_bytes = fsm_state_bytes (self);
    if (chat_handles (command))
        return chat_validate (self->chat, command, code, error, error_size) ||
                       (limits && chat_admit (self->chat, command, limits, state_bytes, code, error,
                                              error_size))
                   ? -1
                   : 0;
    return queues_validate (self->queues, command, code, error, error_size) ||
                   (limits && queues_admit (self->queues, command, limits, state_bytes, code, error,
                                            error_size))
               ? -1
               : 0;
}

uint64_t
fsm_state_bytes (fsm_t *self)
{
    assert (self);
    return queues_bytes (self->queues) + chat_bytes (self->chat);
}

int
fsm_check_credentials (fsm_t *self, const char *user, const char *password, Raftq__Code *code,
                       char *error, size_t error_size)
{
    assert (self);
    return chat_check_credentials (self->chat, user, password, code, error, error_size);
}

const char *
fsm_session_user (fsm_t *self, const char *token_key, int64_t now_ms)
{
    assert (self);
    return chat_session_user (self->chat, token_key,
                              now_ms > self->latest_ms ? now_ms : self->latest_ms);
}

uint64_t
fsm_sessions_ended (fsm_t *self)
{
    assert (self);
    return chat_sessions_ended (self->chat);
}

const char *
fsm_password_hash (fsm_t *self, const char *user)
{
    assert (self);
    return chat_password_hash (self->chat, user);
}

//  --------------------------------------------------------------------------
//  Apply

//  The reply to a command that is not a retry: applies it.
static Raftq__Reply *
s_execute (fsm_t *self, Raftq__State__Command *command, uint64_t index)
{
    Raftq__Code code;
    char error[256];
    if (fsm_validate (self, command, &code, error, sizeof error))
        return reply_error (code, index, command->seq, "%s", error);
    Raftq__Reply *reply = reply_new (RAFTQ__CODE__OK, index, command->seq);
    if (chat_handles (command))
        chat_execute (self->chat, command, index, reply);
    else
        queues_execute (self->queues, command, index, reply);
    return reply;
}

bool
fsm_is_query (const Raftq__State__Command *command)
{
    assert (command);
    return command->op_case == RAFTQ__STATE__COMMAND__OP_LIST_TOPICS ||
           command->op_case == RAFTQ__STATE__COMMAND__OP_LIST_ACCOUNTS ||
           command->op_case == RAFTQ__STATE__COMMAND__OP_CHECK_USER;
}

Raftq__Reply *
fsm_query (fsm_t *self, Raftq__State__Command *command)
{
    assert (self);
    if (!fsm_is_query (command))
        return NULL;
    //  None of these touches the state (no session, no quota, no event)
    return s_execute (self, command, self->applied_index);
}

//  What the table answers for client's seq: the cached reply for a retry
//  of the same request, a refusal for a stale seq or one reused by another
//  request; NULL for a new seq.
static Raftq__Reply *
s_remembered_reply (client_t *client, uint64_t seq, const uint8_t *request, uint64_t index)
{
    uint64_t remembered_seq = client_table_seq (client);
    if (seq > remembered_seq)
        return NULL;
    if (seq < remembered_seq)
        return reply_error (RAFTQ__CODE__INVALID_ARGUMENT, index, seq,
                            "stale request: seq %" PRIu64 " already superseded", seq);
    if (!client_table_same_request (client, request))
        return reply_error (RAFTQ__CODE__INVALID_ARGUMENT, index, seq,
                            "client id reused: seq %" PRIu64 " was another request", seq);
    return client_table_reply (client);
}

int
fsm_apply (fsm_t *self, uint64_t index, const uint8_t *data, size_t size, fsm_output_t *output)
{
    assert (self);
    assert (output);
    memset (output, 0, sizeof (fsm_output_t));
    if (index != self->applied_index + 1)
        return -1;
    self->applied_index = index;

    //  Nothing of the command outlives this call: what the state, the
    //  reply and the events keep of it they copy
    Raftq__State__Command *command =
        data || size == 0 ? raftq__state__command__unpack (
                                protobuf_arena_allocator (self->decode_arena), size, data)
                          : NULL;
    if (!command) {
        protobuf_arena_reset (self->decode_arena);
        output->reply = reply_error (RAFTQ__CODE__INTERNAL, index, 0, "undecodable command");
        return 0;
    }
    if (command->timestamp_ms > self->latest_ms)
        self->latest_ms = command->timestamp_ms;
    //  A Login is never remembered: its reply is what hands out a token,
    //  and only the proposer knows it. A retried Login opens a new session.
    bool is_protected = command->client_id != 0 && command->seq != 0 &&
                        command->op_case != RAFTQ__STATE__COMMAND__OP_LOGIN;
    client_t *client =
        is_protected ? client_table_lookup (self->clients, command->client_id) : NULL;
    uint8_t request[COMMAND_DIGEST_SIZE];
    command_digest (command, request);
    output->reply = client ? s_remembered_reply (client, command->seq, request, index) : NULL;
    if (!output->reply) {
        output->reply = s_execute (self, command, index);
        if (is_protected)
            client_table_remember (self->clients, client, command->client_id, command->seq, index,
                                   request, output->reply);
    }
    event_log_take (self->events, &output->events, &output->event_count);
    protobuf_arena_reset (self->decode_arena);
    return 0;
}

int
fsm_skip (fsm_t *self, uint64_t index)
{
    assert (self);
    if (index != self->applied_index + 1)
        return -1;
    self->applied_index = index;
    return 0;
}

void
fsm_output_clear (fsm_output_t *output)
{
    assert (output);
    raftq__reply__free_unpacked (output->reply, NULL);
    for (size_t position = 0; position < output->event_count; position++)
        raftq__event__free_unpacked (output->events[position], NULL);
    free (output->events);
    memset (output, 0, sizeof (fsm_output_t));
}

uint64_t
fsm_applied_index (fsm_t *self)
{
    assert (self);
    return self->applied_index;
}

Raftq__Reply *
fsm_cached_reply (fsm_t *self, uint64_t client_id, uint64_t seq)
{
    assert (self);
    if (client_id == 0 || seq == 0)
        return NULL;
    client_t *client = client_table_lookup (self->clients, client_id);
    if (!client || client_table_seq (client) != seq)
        return NULL;
    return client_table_reply (client);
}

Raftq__Reply *
fsm_retry_reply (fsm_t *self, const Raftq__Request *request)
{
    assert (self);
    assert (request);
    if (request->client_id == 0 || request->seq == 0)
        return NULL;
    client_t *client = client_table_lookup (self->clients, request->client_id);
    uint8_t digest[COMMAND_DIGEST_SIZE];
    if (!client || client_table_seq (client) != request->seq ||
        command_request_digest (request, digest))
        return NULL;
    return s_remembered_reply (client, request->seq, digest, 0);
}

//  --------------------------------------------------------------------------
//  Replay

Raftq__Reply *
fsm_replay (fsm_t *self, const Raftq__Replay *replay)
{
    assert (self);
    if (!replay || !replay->stream || !*replay->stream)
        return reply_error (RAFTQ__CODE__INVALID_ARGUMENT, 0, 0, "replay needs a stream");
    size_t limit = replay->limit ? replay->limit : FSM_REPLAY_DEFAULT_LIMIT;
    if (limit > FSM_REPLAY_MAX_LIMIT)
        limit = FSM_REPLAY_MAX_LIMIT;
    Raftq__EventList *events = NULL;
    uint64_t oldest_seq = 0;
    Raftq__Reply *reply;
    if (event_log_replay (self->events, replay->stream, replay->from_seq, limit,
                          FSM_REPLAY_MAX_BYTES, &events, &oldest_seq))
        reply = reply_error (RAFTQ__CODE__NOT_FOUND, self->applied_index, 0,
                             "events of stream '%s' before seq %" PRIu64 " are no longer retained",
                             replay->stream, oldest_seq);
    else {
        reply = reply_new (RAFTQ__CODE__OK, self->applied_index, 0);
        reply->result_case = RAFTQ__REPLY__RESULT_EVENTS;
        reply->events = events;
    }
    reply->oldest_seq = oldest_seq;
    reply->next_seq = event_log_last_seq (self->events, replay->stream) + 1;
    return reply;
}

//  --------------------------------------------------------------------------
//  Topics as the broker sees them

int
fsm_topic_ready (fsm_t *self, const char *name, uint64_t *ready)
{
    assert (self);
    return queues_ready (self->queues, name, ready);
}

int64_t
fsm_next_deadline (fsm_t *self)
{
    assert (self);
    return queues_next_deadline (self->queues);
}

size_t
fsm_topic_count (fsm_t *self)
{
    assert (self);
    return queues_topic_count (self->queues);
}

void
fsm_topic_status (fsm_t *self, size_t position, Raftq__TopicStatus *status)
{
    assert (self);
    queues_topic_status (self->queues, position, status);
}

//  --------------------------------------------------------------------------
//  State hash

uint64_t
fsm_state_hash (fsm_t *self)
{
    assert (self);
    digest_t *digest = digest_new (FSM_HASH_DOMAIN);
    digest_u64 (digest, self->applied_index);
    queues_digest (self->queues, digest);
    event_log_digest (self->events, digest);
    chat_digest (self->chat, digest);
    client_table_digest (self->clients, digest);
    return digest_finish (&digest);
}

//  --------------------------------------------------------------------------
//  Snapshots

void
fsm_snapshot_save (fsm_t *self, Raftq__State__FsmState *state)
{
    assert (self);
    assert (state);
    raftq__state__fsm_state__init (state);
    state->applied_index = self->applied_index;
    queues_snapshot_save (self->queues, state);
    state->events =
        (Raftq__State__EventLogState *)must_alloc (sizeof (Raftq__State__EventLogState));
    event_log_snapshot_save (self->events, state->events);
    state->chat = (Raftq__State__ChatState *)must_alloc (sizeof (Raftq__State__ChatState));
    chat_snapshot_save (self->chat, state->chat);
    client_table_snapshot_save (self->clients, state);
}

void
fsm_snapshot_release (Raftq__State__FsmState *state)
{
    if (!state)
        return;
    queues_snapshot_release (state);
    event_log_snapshot_release (state->events);
    free (state->events);
    chat_snapshot_release (state->chat);
    free (state->chat);
    client_table_snapshot_release (state);
    raftq__state__fsm_state__init (state);
}

int
fsm_snapshot_load (fsm_t *self, Raftq__State__FsmState *state, char *error, size_t error_size)
{
    assert (self);
    assert (state);
    if (self->applied_index != 0 || queues_topic_count (self->queues) != 0 ||
        client_table_size (self->clients) != 0)
        return error_text_set (error, error_size, "the state machine has applied entries");
    if (queues_snapshot_load (self->queues, state, error, error_size))
        return -1;
    if (state->events && event_log_snapshot_load (self->events, state->events, error, error_size))
        return -1;
    if (state->chat && chat_snapshot_load (self->chat, state->chat, error, error_size))
        return -1;
    if (client_table_snapshot_load (self->clients, state, error, error_size))
        return -1;
    self->applied_index = state->applied_index;
    return 0;
}
