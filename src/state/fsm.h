/*  fsm — the replicated state machine: topics with their FIFO queues
    (queues.h), the chat state (chat.h), the event streams with their
    retained window (event_log.h) and the exactly-once table of client
    replies (client_table.h). This is the state layer's one entry point
    for the broker and the snapshot code. Apply is
    deterministic: it reads nothing but its state and the entry (no clock,
    no randomness, no node id), so every node that applies the same log ends
    in the same state.
*/
#ifndef FSM_H_INCLUDED
#define FSM_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

#include "state/chat.h"
#include "raftq.pb-c.h"
#include "state.pb-c.h"

typedef struct _fsm_t fsm_t;

typedef struct {
    size_t max_clients;           //  exactly-once table: clients remembered (0: default 100000)
    size_t max_topic_name;        //  longest topic name in bytes (0: default 255)
    size_t max_payload_bytes;     //  largest message (0: default 1 MiB)
    chat_options_t chat;          //  chat limits (zeros: chat.h defaults)
    size_t event_retention;       //  events retained per stream for Replay (0: default 1000)
    size_t event_retention_bytes; //  retained bytes over all streams (0: default 64 MiB)
} fsm_options_t;

//  What applying one entry produced.
typedef struct {
    Raftq__Reply *reply;   //  answer for the client that proposed it (free with fsm_output_clear)
    Raftq__Event **events; //  events to publish, in order
    size_t event_count;    //  how many
} fsm_output_t;

fsm_t *fsm_new (const fsm_options_t *options);

void fsm_destroy (fsm_t **self_p);

//  Applies the command entry at index (payload is a packed state Command).
//  A malformed payload is applied as a no-op with an INTERNAL reply, the same
//  on every node. Returns 0, or -1 if index is not applied_index + 1.
int fsm_apply (fsm_t *self, uint64_t index, const uint8_t *data, size_t size, fsm_output_t *output);

//  Records that a non-command entry (no-op, config) at index was applied.
int fsm_skip (fsm_t *self, uint64_t index);

//  Frees what an apply put in output and zeroes it.
void fsm_output_clear (fsm_output_t *output);

//  Index of the last entry applied.
uint64_t fsm_applied_index (fsm_t *self);

//  Whether command only reads the state: ListTopics, ListAccounts,
//  CheckUser. Those need no log entry (fsm_query). ReadMessages does not
//  qualify even with a partner: its session check refreshes the session's
//  last use and may end an expired one, which is replicated state.
bool fsm_is_query (const Raftq__State__Command *command);

//  Answers a query (fsm_is_query) from the state as applied, as apply
//  would answer it at the applied index: nothing changes, nothing is
//  remembered for exactly-once, no event. NULL when command is not a
//  query. Caller frees the reply.
Raftq__Reply *fsm_query (fsm_t *self, Raftq__State__Command *command);

//  If client_id already has a reply for seq, returns a copy of it (caller frees
//  with raftq__reply__free_unpacked), else NULL. Lets a retried request be
//  answered without a new log entry.
Raftq__Reply *fsm_cached_reply (fsm_t *self, uint64_t client_id, uint64_t seq);

//  The answer to request if its (client_id, seq) was applied already: the
//  cached reply when request is that same request (same command_digest), a
//  refusal (INVALID_ARGUMENT "client id reused") when the seq was another
//  request; NULL when the seq is new. Caller frees the reply.
Raftq__Reply *fsm_retry_reply (fsm_t *self, const Raftq__Request *request);

//  Checks a command before proposing (names, sizes, then the quotas in
//  command->limits): 0, or -1 with code and error filled. Apply checks
//  again, and decides: entries in flight are not counted here; this
//  spares the log bad entries.
int fsm_validate (fsm_t *self, const Raftq__State__Command *command, Raftq__Code *code, char *error,
                  size_t error_size);

//  The state's accounted bytes (quota.h): topics with their queued
//  messages, accounts and chat messages; what max_state_bytes caps. The
//  retained event window (event_retention, event_retention_bytes) and the
//  exactly-once table (max_clients, CLIENT_TABLE_MAX_BYTES) have their own bounds.
//  Derived from the content alone: equal on every node and after a
//  snapshot is restored.
uint64_t fsm_state_bytes (fsm_t *self);

//  Checks the user name and password of a CreateAccount or Login before the
//  leader hashes or verifies the password: 0, or -1 with code and error.
int fsm_check_credentials (fsm_t *self, const char *user, const char *password, Raftq__Code *code,
                           char *error, size_t error_size);

//  The stored password hash of user as of the last apply, NULL if there is
//  no such account. Valid until the next apply.
const char *fsm_password_hash (fsm_t *self, const char *user);

//  The user whose live session has the token key token_key (session_key.h),
//  NULL if none: the check requests get in apply (chat_session_user), at
//  the later of now_ms (the caller's clock) and the leader time of the
//  newest command applied, so a node never finds live a session that its
//  applied state has outlived. Valid until the next apply.
const char *fsm_session_user (fsm_t *self, const char *token_key, int64_t now_ms);

//  Changes whenever a session ends (chat_sessions_ended).
uint64_t fsm_sessions_ended (fsm_t *self);

//  Answers a Replay from the retained events, without a log entry: every
//  node retains the same events for what it has applied. OK with the events
//  (possibly none), NOT_FOUND with Reply.oldest_seq when from_seq is older
//  than what is retained, INVALID_ARGUMENT without a stream. OK and
//  NOT_FOUND carry Reply.next_seq, the seq of the stream's next event (a
//  live subscriber starts there). Caller frees the reply with
//  raftq__reply__free_unpacked.
Raftq__Reply *fsm_replay (fsm_t *self, const Raftq__Replay *replay);

//  Sets *ready to the messages of topic name a Reserve or Pop could take
//  now: the leader wakes waiting consumers by it. Returns 0, or -1 when
//  there is no such topic.
int fsm_topic_ready (fsm_t *self, const char *name, uint64_t *ready);

//  The earliest end of a reservation or a Nack delay, leader time in ms
//  (INT64_MAX: none). The leader proposes an Expire entry once its clock
//  passes it.
int64_t fsm_next_deadline (fsm_t *self);

//  How many topics exist, and the one at position (creation order) as
//  Status shows it; strings borrowed until the next apply.
size_t fsm_topic_count (fsm_t *self);
void fsm_topic_status (fsm_t *self, size_t position, Raftq__TopicStatus *status);

//  A hash of the whole state, equal on nodes that applied the same log.
uint64_t fsm_state_hash (fsm_t *self);

//  Describes the whole state in state, for a snapshot: topics with their
//  queues, the event streams with the retained window, the chat state and
//  the exactly-once table, as of fsm_applied_index. Nothing is copied:
//  strings and payloads are borrowed from the fsm, so state is valid until
//  the next apply. One pass over the state; packing it is the caller's.
//  Free what was allocated with fsm_snapshot_release.
void fsm_snapshot_save (fsm_t *self, Raftq__State__FsmState *state);

//  Frees what fsm_snapshot_save allocated in state (not what it borrowed).
void fsm_snapshot_release (Raftq__State__FsmState *state);

//  Restores a saved state into an fsm that has applied nothing, with the
//  same options as the nodes that saved it: the result has the same
//  fsm_state_hash and gives the same replies and events on every later
//  apply. Takes the payloads out of state (their pointers become NULL)
//  rather than copying them. Returns 0, or -1 with error when the fsm is
//  not fresh or state is inconsistent (a decodable snapshot that no fsm
//  could have saved); the fsm must then be destroyed.
int fsm_snapshot_load (fsm_t *self, Raftq__State__FsmState *state, char *error, size_t error_size);

#endif
