/*  metrics — what one node counts for a scraper, owned by the broker
    thread: client requests by operation and code with their latency,
    proposals and their batches, leader changes, snapshots, events
    delivered and subscriptions revoked, and the Raft actor's own counters
    as its METRICS report carries them (log syncs, entries written, peer
    messages dropped). Counting is an increment on the hot path (a latency
    also a bucket search); the text is made only by metrics_render, from
    the counters and the facts the server gathers at that moment.

    metrics_readiness says whether the node is ready (/readyz) from the same
    facts, with the reason either way.
*/
#ifndef METRICS_H_INCLUDED
#define METRICS_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "raft/raft_core.h"
#include "raftq.pb-c.h"
#include "replica/raft_actor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct _metrics_t metrics_t;

//  The node as it is when the text is made: gauges, gathered by the server.
typedef struct {
    raft_role_t role;             //  this node's role
    uint64_t term;                //  its term
    uint32_t leader_id;           //  leader it believes in, 0: none
    bool member;                  //  in the configuration
    bool voter;                   //  a voter there (else a learner)
    size_t member_count;          //  members of the configuration
    uint64_t commit_index;        //  highest entry known committed
    uint64_t applied_index;       //  highest entry applied to the state
    uint64_t last_index;          //  last entry in the log
    uint64_t first_index;         //  first entry on disk, 0: empty log
    uint64_t log_bytes;           //  size of the log's segment files
    uint64_t snapshot_index;      //  newest snapshot held, 0: none
    uint64_t state_bytes;         //  accounted replicated state (quota.h)
    uint64_t max_state_bytes;     //  the limit this node proposes
    uint64_t free_disk_bytes;     //  free on the node directory's filesystem
    uint64_t min_free_disk_bytes; //  the watermark, 0: off
    size_t client_connections;    //  TCP connections on the client port
    size_t pub_connections;       //  and on the PUB port
    size_t topic_subscriptions;   //  topic prefixes applied on the PUB port
    size_t private_subscriptions; //  private subscription strings held
    size_t waiting_requests;      //  requests parked until applied or hashed
} metrics_facts_t;

//  Empty counters, or NULL when out of memory.
metrics_t *metrics_new (void);

void metrics_destroy (metrics_t **self_p);

//  A reply went out to a request of op (Request.op_case, 0: undecoded)
//  with code, latency_us after the request arrived.
void metrics_count_reply (metrics_t *self, int op, Raftq__Code code, int64_t latency_us);

//  count proposals went to Raft in one batch.
void metrics_count_proposals (metrics_t *self, size_t count);

//  The leader this node believes in changed (to none included).
void metrics_count_leader_change (metrics_t *self);

//  A snapshot job of this node ended after seconds, written or failed.
void metrics_count_snapshot (metrics_t *self, bool written, double seconds);

//  A leader's snapshot was installed here.
void metrics_count_snapshot_installed (metrics_t *self);

//  count event messages went out on the PUB port.
void metrics_count_deliveries (metrics_t *self, size_t count);

//  A private subscription was cut off (its session ended).
void metrics_count_revoked (metrics_t *self);

//  Takes the Raft actor's counters from its METRICS report; a malformed
//  histogram leaves the last one.
void metrics_take_raft (metrics_t *self, const raft_actor_metrics_t *report);

//  The exposition text (caller frees; size bytes), or NULL when out of
//  memory.
char *metrics_render (metrics_t *self, const metrics_facts_t *facts, size_t *size);

//  Whether facts make the node ready: a voter of the configuration that
//  knows a leader (or is it) and has applied up to the commit index it
//  knows. reason says why, or what it follows, either way.
bool metrics_readiness (const metrics_facts_t *facts, char *reason, size_t reason_size);

#ifdef __cplusplus
}
#endif

#endif
