/*  client_table — the exactly-once table; see client_table.h.

    A retry (seq == remembered) and a stale request (seq < remembered)
    change nothing here, not even the client's place in the eviction order:
    only client_table_remember moves a client, to the newest end. Indexes
    only grow, so the use list stays sorted by last_index and the oldest,
    evicted first, is found in O(1).
*/

#include <czmq.h>
#include <inttypes.h>

#include "state/client_table.h"
#include "state/command.h"
#include "state/reply.h"
#include "util/error_text.h"
#include "util/must.h"
#include "util/u64_table.h"

struct _client_t {
    uint64_t id;                          //  client_id, also its key in the table
    uint64_t seq;                         //  latest seq applied for it
    uint8_t *reply;                       //  packed raftq.Reply that seq got
    size_t reply_size;                    //  its bytes
    uint64_t last_index;                  //  log index of that apply: eviction order
    uint8_t request[COMMAND_DIGEST_SIZE]; //  digest of the request that seq was
    bool has_request;                     //  false when restored from a snapshot without it
    struct _client_t *older;              //  previous client in use order, NULL for the oldest
    struct _client_t *newer;              //  next client in use order, NULL for the newest
};

struct _client_table_t {
    size_t max_clients; //  clients remembered at most
    uint64_t max_bytes; //  bytes charged at most, past the newest client
    uint64_t bytes;     //  charged now: replies plus CLIENT_TABLE_CLIENT_BYTES each
    zhashx_t *clients;  //  client id -> client_t, owns them
    client_t *oldest;   //  least recently applied client: evicted first
    client_t *newest;   //  most recently applied client
};

static void
s_client_destroy (void **item_p)
{
    client_t *client = (client_t *)*item_p;
    if (client) {
        free (client->reply);
        free (client);
        *item_p = NULL;
    }
}

client_table_t *
client_table_new (size_t max_clients, uint64_t max_bytes)
{
    assert (max_clients > 0);
    client_table_t *self = (client_table_t *)must_zalloc (sizeof (client_table_t));
    self->max_clients = max_clients;
    self->max_bytes = max_bytes;
    self->clients = u64_table_new (s_client_destroy);
    return self;
}

void
client_table_destroy (client_table_t **self_p)
{
    assert (self_p);
    client_table_t *self = *self_p;
    if (self) {
        zhashx_destroy (&self->clients);
        free (self);
        *self_p = NULL;
    }
}

client_t *
client_table_lookup (client_table_t *self, uint64_t client_id)
{
    assert (self);
    return (client_t *)zhashx_lookup (self->clients, &client_id);
}

uint64_t
client_table_seq (const client_t *client)
{
    assert (client);
    return client->seq;
}

bool
client_table_same_request (const client_t *client, const uint8_t *request)
{
    assert (client && request);
    //  Without a remembered digest nothing proves the retry is the same
    //  request: it is refused rather than answered with someone's reply
    return client->has_request && memcmp (client->request, request, COMMAND_DIGEST_SIZE) == 0;
}

Raftq__Reply *
client_table_reply (const client_t *client)
{
    assert (client);
    return reply_unpack (client->reply, client->reply_size);
}

uint64_t
client_table_bytes (client_table_t *self)
{
    assert (self);
    return self->bytes;
}

size_t
client_table_size (client_table_t *self)
{
    assert (self);
    return zhashx_size (self->clients);
}

static void
s_client_unlink (client_table_t *self, client_t *client)
{
    if (client->older)
        client->older->newer = client->newer;
    else
        self->oldest = client->newer;
    if (client->newer)
        client->newer->older = client->older;
    else
        self->newest = client->older;
    client->older = client->newer = NULL;
}

static void
s_client_append (client_table_t *self, client_t *client)
{
    client->older = self->newest;
    client->newer = NULL;
    if (self->newest)
        self->newest->newer = client;
    else
        self->oldest = client;
    self->newest = client;
}

//  Forgets the least recently applied client.
static void
s_evict_oldest (client_table_t *self)
{
    client_t *evicted = self->oldest;
    s_client_unlink (self, evicted);
    self->bytes -= CLIENT_TABLE_CLIENT_BYTES + evicted->reply_size;
    zhashx_delete (self->clients, &evicted->id);
}

void
client_table_remember (client_table_t *self, client_t *client, uint64_t client_id, uint64_t seq,
                       uint64_t index, const uint8_t *request, const Raftq__Reply *reply)
{
    assert (self);
    assert (reply);
    if (client) {
        s_client_unlink (self, client);
        self->bytes -= client->reply_size;
    } else {
        if (zhashx_size (self->clients) >= self->max_clients)
            s_evict_oldest (self);
        client = (client_t *)must_zalloc (sizeof (client_t));
        client->id = client_id;
        zhashx_insert (self->clients, &client->id, client);
        self->bytes += CLIENT_TABLE_CLIENT_BYTES;
    }
    free (client->reply);
    client->reply_size = raftq__reply__get_packed_size (reply);
    self->bytes += client->reply_size;
    client->reply = (uint8_t *)must_alloc (client->reply_size);
    raftq__reply__pack (reply, client->reply);
    memcpy (client->request, request, COMMAND_DIGEST_SIZE);
    client->has_request = true;
    client->seq = seq;
    client->last_index = index;
    s_client_append (self, client);
    while (self->bytes > self->max_bytes && self->oldest != client)
        s_evict_oldest (self);
}

//  --------------------------------------------------------------------------
//  State hash and snapshot

static int
s_client_compare (const void *first, const void *second)
{
    return u64_table_compare (&(*(client_t *const *)first)->id, &(*(client_t *const *)second)->id);
}

void
client_table_digest (client_table_t *self, digest_t *digest)
{
    assert (self);
    //  Sorted by id, so the hash does not follow bucket order
    size_t client_count = zhashx_size (self->clients);
    client_t **clients = (client_t **)must_alloc (client_count * sizeof (client_t *));
    size_t position = 0;
    for (client_t *client = self->oldest; client; client = client->newer)
        clients[position++] = client;
    qsort (clients, client_count, sizeof (client_t *), s_client_compare);
    digest_u64 (digest, client_count);
    for (position = 0; position < client_count; position++) {
        digest_u64 (digest, clients[position]->id);
        digest_u64 (digest, clients[position]->seq);
        digest_u64 (digest, clients[position]->last_index);
        digest_bytes (digest, clients[position]->reply, clients[position]->reply_size);
        digest_bytes (digest, clients[position]->request,
                      clients[position]->has_request ? COMMAND_DIGEST_SIZE : 0);
    }
    free (clients);
}

void
client_table_snapshot_save (client_table_t *self, Raftq__State__FsmState *state)
{
    assert (self);
    size_t count = zhashx_size (self->clients);
    //  One block of structs (none when empty) plus the pointer array
    //  protobuf-c wants; element 0 is the block's start, for release
    Raftq__State__ClientState *clients =
        count ? (Raftq__State__ClientState *)must_alloc (count * sizeof (Raftq__State__ClientState))
              : NULL;
    state->clients =
        (Raftq__State__ClientState **)must_alloc (count * sizeof (Raftq__State__ClientState *));
    state->n_clients = 0;
    for (client_t *client = self->oldest; client; client = client->newer) {
        Raftq__State__ClientState *saved = &clients[state->n_clients];
        raftq__state__client_state__init (saved);
        saved->client_id = client->id;
        saved->seq = client->seq;
        saved->reply.data = client->reply;
        saved->reply.len = client->reply_size;
        saved->last_index = client->last_index;
        saved->request_digest.data = client->has_request ? client->request : NULL;
        saved->request_digest.len = client->has_request ? COMMAND_DIGEST_SIZE : 0;
        state->clients[state->n_clients++] = saved;
    }
}

void
client_table_snapshot_release (Raftq__State__FsmState *state)
{
    free (state->n_clients ? state->clients[0] : NULL);
    free (state->clients);
    state->clients = NULL;
    state->n_clients = 0;
}

//  Refuses a saved client apply could not have left: 0 when it is fine.
static int
s_check_saved (client_table_t *self, const Raftq__State__ClientState *saved, uint64_t applied_index,
               char *error, size_t error_size)
{
    //  Use order is apply order: indexes strictly ascending, none ahead
    //  of the state, which is what makes the oldest the one to evict
    bool in_order = !self->newest || saved->last_index > self->newest->last_index;
    if (saved->client_id == 0 || saved->seq == 0 ||
        zhashx_lookup (self->clients, &saved->client_id) || !in_order ||
        saved->last_index > applied_index ||
        (saved->request_digest.len != 0 && saved->request_digest.len != COMMAND_DIGEST_SIZE))
        return error_text_set (error, error_size,
                               "client %" PRIu64 " is a duplicate, out of order or unset",
                               saved->client_id);
    //  Retries unpack the remembered reply and may trust it only then
    Raftq__Reply *reply = raftq__reply__unpack (NULL, saved->reply.len, saved->reply.data);
    if (!reply)
        return error_text_set (error, error_size,
                               "the reply remembered for client %" PRIu64 " does not decode",
                               saved->client_id);
    raftq__reply__free_unpacked (reply, NULL);
    return 0;
}

int
client_table_snapshot_load (client_table_t *self, Raftq__State__FsmState *state, char *error,
                            size_t error_size)
{
    assert (self);
    assert (zhashx_size (self->clients) == 0);
    for (size_t position = 0; position < state->n_clients; position++) {
        Raftq__State__ClientState *saved = state->clients[position];
        if (s_check_saved (self, saved, state->applied_index, error, error_size))
            return -1;
        client_t *client = (client_t *)must_zalloc (sizeof (client_t));
        client->id = saved->client_id;
        client->seq = saved->seq;
        client->last_index = saved->last_index;
        client->has_request = saved->request_digest.len == COMMAND_DIGEST_SIZE;
        if (client->has_request)
            memcpy (client->request, saved->request_digest.data, COMMAND_DIGEST_SIZE);
        client->reply = saved->reply.data; //  moves
        client->reply_size = saved->reply.len;
        saved->reply.data = NULL;
        saved->reply.len = 0;
        self->bytes += CLIENT_TABLE_CLIENT_BYTES + client->reply_size;
        zhashx_insert (self->clients, &client->id, client);
        s_client_append (self, client);
    }
    return 0;
}
