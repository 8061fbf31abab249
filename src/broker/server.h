/*  server — the broker of one node: the client ROUTER, the requests waiting
    for their entry to commit, the replicated state machine it applies
    committed entries to, and the XPUB socket events fan out on. Raft itself
    runs in the raft_actor thread it starts and talks to by pipe.

    Writes and reads of the queue and of chat go through the log on the
    leader only, and are answered once their entry is committed and
    applied; followers refuse them at once with a leader hint. Status and
    Replay are answered by every node from what it knows and has applied.

    CreateAccount and Login need password work first, done by the hasher
    thread so that the loop never waits on it: the leader proposes a
    CreateAccount with the salted hash instead of the password, and a Login
    (once the password matched the stored hash) with a random session token
    and the hash it matched. A new leader verifies no password until it has
    applied an entry of its own term: before that its state may lack
    accounts that earlier leaders acknowledged.
*/
#ifndef SERVER_H_INCLUDED
#define SERVER_H_INCLUDED

#include "broker/config.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct _server_t server_t;

//  Starts node node_id of config: binds its client and pub ports and starts
//  its Raft actor. config is borrowed and must outlive the server. Returns
//  NULL after logging why when the node cannot start. secret_key is the
//  node's CurveZMQ secret key (copied), NULL when the config uses no key.
server_t *server_new (const config_t *config, uint32_t node_id, const uint8_t *secret_key);

//  Stops Raft, answers requests still waiting, closes every socket.
void server_destroy (server_t **self_p);

//  Serves until interrupted (SIGINT, SIGTERM). Returns 0, or -1 if the Raft
//  actor failed.
int server_run (server_t *self);

#ifdef __cplusplus
}
#endif

#endif
