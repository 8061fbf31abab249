/*  quota — the state quotas (config.json "limits", carried in each command
    as raftq.state.Limits) and the accounted size of the replicated state.

    Accounted bytes are not malloc's bytes: they are a function of the
    state's content alone (a fixed charge per item plus its variable
    bytes), so every node, and a node restored from a snapshot, counts the
    same number whatever its allocator or ring capacities. The charges are
    above what the items cost in a snapshot (protobuf framing, names), so
    max_state_bytes also bounds the snapshot body's share of topics and
    chat.

    A check refuses with RESOURCE_EXHAUSTED and a text naming the limit.
    Only commands that grow the state are checked; pops, reads, deletions
    and logouts never are, so they keep working at a limit and free room.
*/
#ifndef QUOTA_H_INCLUDED
#define QUOTA_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

#include "raftq.pb-c.h"

//  What each item of the state is charged, besides its variable bytes.
//  A topic: its name and stream key, table slots; plus the name's bytes.
#define QUOTA_TOPIC_COST 128
//  A queued message: its ring slot and framing; plus the payload bytes.
#define QUOTA_MESSAGE_COST 32
//  An account with its stream key and room for its sessions (a session is
//  not charged on its own: max_sessions bounds them per account); plus the
//  name and password hash bytes.
#define QUOTA_ACCOUNT_COST 1024
//  A chat message with its links and sender/recipient names; plus the
//  trimmed text bytes.
#define QUOTA_CHAT_MESSAGE_COST 128

//  Refuses, when limit is not 0 and used + adding passes it, with
//  RESOURCE_EXHAUSTED and "<limit_name> reached: <what> holds <used>, ..."
//  in error. Returns 0 when within the limit, else -1.
int quota_check (uint64_t used, uint64_t adding, uint64_t limit, const char *limit_name,
                 const char *what, Raftq__Code *code, char *error, size_t error_size);

//  The checks of one more item: count items held against count_limit
//  (named count_name; what holds them), then the state's accounted bytes
//  plus the item's cost against max_state_bytes. 0 or -1 as quota_check.
int quota_check_item (uint64_t count, uint64_t count_limit, const char *count_name,
                      const char *what, uint64_t state_bytes, uint64_t cost,
                      uint64_t max_state_bytes, Raftq__Code *code, char *error, size_t error_size);

#endif
