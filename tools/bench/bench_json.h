/*  bench_json — raftq-bench's connection in the JSON dialect (--json): one
    DEALER to one node, publishes and topic listings sent as the JSON of
    DESIGN 5.2, each reply read as the outcome of the oldest request still
    unanswered on the connection.

    JSON replies carry no seq, so matching goes by order: the leader
    answers a connection's publishes in commit order, which is the order
    they were sent, and its reads in the order their confirmations come,
    which is the order they arrived. A refusal sent at once while older
    requests wait (a full queue, say) would be matched to the oldest:
    counted right, its latency misattributed. The four RRMQ requests
    answer a failure with exactly {"success":false}: such a reply counts
    as RAFTQ_UNAVAILABLE; a reply with a "code" counts as that code.
*/
#ifndef BENCH_JSON_H_INCLUDED
#define BENCH_JSON_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "raftq.h"

typedef struct _bench_json_t bench_json_t;

//  A connection to endpoint that publishes payload (size bytes of text
//  that needs no JSON escaping, copied) to topic, as client client_id
//  (for the cluster's exactly-once table). NULL when out of memory or
//  the socket cannot connect.
bench_json_t *bench_json_new (const char *endpoint, const char *topic, const char *payload,
                              size_t size, uint64_t client_id);

void bench_json_destroy (bench_json_t **self_p);

//  Sends a publish of the payload ({"type":"message","method":"PUT"}).
//  Returns 0 and its seq in *seq_p, or -1 when it cannot be queued.
int bench_json_send_publish (bench_json_t *self, uint64_t *seq_p);

//  Sends a ListTopics ({"type":"topic","method":"GET"}), like a publish.
int bench_json_send_list_topics (bench_json_t *self, uint64_t *seq_p);

//  Reads one waiting reply without blocking into reply (code and the seq
//  it answers; the rest zero). Returns 0, or -1 when none is waiting.
//  A reply that is no JSON object counts as RAFTQ_INTERNAL.
int bench_json_receive (bench_json_t *self, raftq_reply_t *reply);

//  Gives up on every request in flight: a fresh socket to the same node,
//  so that a late reply cannot be taken for a newer request's.
void bench_json_reconnect (bench_json_t *self);

//  Waits up to timeout_ms until at least one of count connections has a
//  reply waiting; sets ready[i] for each. Returns how many are ready, or
//  -1 when polling failed.
int bench_json_wait (bench_json_t **connections, size_t count, int timeout_ms, bool *ready);

#endif
