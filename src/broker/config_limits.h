/*  config_limits — the "limits" object of config.json: the state quotas
    (checked in apply, carried in each proposed command: proposal.c), the
    node-local connection cap and free-disk watermark. Parsed and validated
    here; config.c calls config_limits_parse for the object and reports
    its error through its own one-line format (file: place: problem).

    Every key is optional; an absent one keeps its default, chosen so that
    five nodes on one machine stay well inside its memory:

    | key                 | default     | range                |
    |---------------------|-------------|----------------------|
    | max_state_bytes     | 1 GiB       | 4 KiB .. 1 GiB       |
    | max_topics          | 10000       | 1 .. 2^40            |
    | max_topic_messages  | 1000000     | 1 .. 2^40            |
    | max_topic_bytes     | 256 MiB     | 1 .. 2^40            |
    | max_accounts        | 100000      | 1 .. 2^40            |
    | max_inbox_messages  | 10000       | 1 .. 2^40            |
    | max_connections     | 1024        | 1 .. 1000000         |
    | min_free_disk_bytes | 64 MiB      | 0 (off) .. 2^50      |
    | max_connection_reply_bytes | 16 MiB | 64 KiB .. 1 GiB    |
    | max_subscriber_lag_bytes   | 64 MiB | 1 MiB .. 1 TiB     |

    max_connections and min_free_disk_bytes are node-local. A leader with
    less than min_free_disk_bytes free where its node directory lies
    refuses growing writes (proposal.c), a follower appends no entries
    (replica/raft_thread.c); max_connections caps the live connections of the client
    port and, apart, of the PUB port (node_keys.c, util/zap_handler.c).
    max_connection_reply_bytes bounds the reply bytes one client
    connection has not taken yet (client_port.h); max_subscriber_lag_bytes
    bounds the event bytes a subscriber may be behind before it loses
    events (fanout_budget.h keeps the XPUB's send high-water mark to it).
    Both node-local.

    max_state_bytes stops at 1 GiB because a snapshot body is one protobuf
    message, which must stay under 2 GiB: the accounted state (quota.h
    charges more than an item's snapshot bytes) plus the retained event
    window (64 MiB) leaves room below that wall for the exactly-once table.
*/
#ifndef CONFIG_LIMITS_H_INCLUDED
#define CONFIG_LIMITS_H_INCLUDED

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

//  The largest max_state_bytes a config may ask for (see above).
#define CONFIG_LIMITS_STATE_BYTES_MAX (1024ull * 1024 * 1024)

typedef struct {
    uint64_t max_state_bytes;            //  accounted bytes of topics, queues and chat (quota.h)
    uint64_t max_topics;                 //  topics in the cluster
    uint64_t max_topic_messages;         //  messages queued in one topic
    uint64_t max_topic_bytes;            //  payload bytes queued in one topic
    uint64_t max_accounts;               //  chat accounts
    uint64_t max_inbox_messages;         //  unread messages one account holds
    uint64_t max_connections;            //  live connections per client or PUB port
    uint64_t min_free_disk_bytes;        //  node-local free space watermark of the data directory
    uint64_t max_connection_reply_bytes; //  reply bytes one client connection may leave unread
    uint64_t max_subscriber_lag_bytes;   //  event bytes a subscriber may be behind
} config_limits_t;

//  Fills limits with the defaults, then reads object (the value of
//  "limits"; NULL when the file has none) over them. Returns 0, or -1 with
//  the JSON path of the problem in place ("limits.max_topics") and what is
//  wrong in problem.
int config_limits_parse (json_t *object, config_limits_t *limits, char *place, size_t place_size,
                         char *problem, size_t problem_size);

#endif
