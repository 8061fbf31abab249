/*  client_table — the exactly-once table of the replicated state: for each
    client, the latest seq applied for it and the packed reply that seq got,
    so that a retry is answered with the same reply instead of applying
    again. At most max_clients are remembered; a new client past that
    evicts the least recently applied one (lowest log index), which then
    loses its protection. The table is bounded in bytes too: each client
    is charged its packed reply plus CLIENT_TABLE_CLIENT_BYTES, and while
    the total passes max_bytes the least recently applied clients are
    evicted (never the one just remembered), since replies differ in size
    by four orders of magnitude (an empty OK, a 4 MiB page) and a count
    alone bounds nothing. The bound is a constant of the build
    (CLIENT_TABLE_MAX_BYTES), not a config key: eviction is part of the
    replicated state, so every node and every replay must evict alike,
    and config files may differ between nodes.

    Deterministic: eviction follows a list in apply order, the state hash
    sorts clients by id and the snapshot saves them in eviction order;
    nothing depends on the order of the id table's buckets.
*/
#ifndef CLIENT_TABLE_H_INCLUDED
#define CLIENT_TABLE_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/digest.h"
#include "raftq.pb-c.h"
#include "state.pb-c.h"

typedef struct _client_table_t client_table_t;

//  What the table remembers of one client.
typedef struct _client_t client_t;

//  What the state machine's table may hold: 256 MiB, under the room
//  config_limits.h leaves below a snapshot's 2 GiB.
#define CLIENT_TABLE_MAX_BYTES (256ull * 1024 * 1024)
//  Charged per client besides its reply: the entry and its table slot.
#define CLIENT_TABLE_CLIENT_BYTES 128

//  max_clients must be at least 1; max_bytes bounds the charged bytes.
client_table_t *client_table_new (size_t max_clients, uint64_t max_bytes);

void client_table_destroy (client_table_t **self_p);

//  The client with client_id, NULL when the table does not remember it.
client_t *client_table_lookup (client_table_t *self, uint64_t client_id);

//  The latest seq applied for client.
uint64_t client_table_seq (const client_t *client);

//  Whether request (a command_digest) is the request client's latest seq
//  was: only then may a retry get the cached reply.
bool client_table_same_request (const client_t *client, const uint8_t *request);

//  A copy of the reply client's latest seq got (caller frees with
//  raftq__reply__free_unpacked).
Raftq__Reply *client_table_reply (const client_t *client);

//  Remembers reply as client_id's answer to seq, applied at index, for
//  the request whose command_digest is request; client is what
//  client_table_lookup returned for client_id (NULL: a new one).
void client_table_remember (client_table_t *self, client_t *client, uint64_t client_id,
                            uint64_t seq, uint64_t index, const uint8_t *request,
                            const Raftq__Reply *reply);

//  How many clients the table remembers.
size_t client_table_size (client_table_t *self);

//  The bytes charged for them (see above).
uint64_t client_table_bytes (client_table_t *self);

//  Feeds the clients, sorted by id, to digest.
void client_table_digest (client_table_t *self, digest_t *digest);

//  Describes the clients in state->clients, in eviction order (replies
//  borrowed: valid until the next apply). Free what was allocated with
//  client_table_snapshot_release.
void client_table_snapshot_save (client_table_t *self, Raftq__State__FsmState *state);

//  Frees what client_table_snapshot_save allocated in state.
void client_table_snapshot_release (Raftq__State__FsmState *state);

//  Restores state->clients into an empty table, taking the replies out of
//  state. Returns 0, or -1 with error when they are inconsistent (duplicate
//  or unset ids, indexes not ascending or past state->applied_index, a
//  reply that does not decode).
int client_table_snapshot_load (client_table_t *self, Raftq__State__FsmState *state, char *error,
                                size_t error_size);

#endif
