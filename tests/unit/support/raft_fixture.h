/*  raft_fixture — a hand-driven cluster of Raft cores for the unit tests.

    Holds a few cores, carries their messages (deep copies, delivered in
    order, or lost to and from an isolated node) and, when asked, says that
    what a ready handed out to persist is durable. It plays each node's
    actor for snapshots too: a leader's chunks are cut from the snapshot it
    is given, a follower's are stored and installed when complete. Shared
    by the tests in tests/unit/raft (it lives here so every test binary
    links it). Failures are reported with cmocka's assertions.
*/
#ifndef RAFT_FIXTURE_H_INCLUDED
#define RAFT_FIXTURE_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "raft/raft_core.h"

#define MAX_NODES    5
#define MAX_QUEUED   4096
#define HEARTBEAT_MS 50
#define ELECTION_MIN 150
#define ELECTION_MAX 300
#define CHUNK_SIZE   8
#define MAX_READS    64

//  Cores under test and the messages between them.
typedef struct {
    raft_core_t *cores[MAX_NODES + 1];           //  index = node id; NULL: absent
    uint32_t voters[MAX_NODES];                  //  ids 1..count
    size_t count;                                //  nodes
    raft_message_t *queued[MAX_QUEUED];          //  sent, not yet delivered (deep copies)
    size_t queued_count;                         //  how many
    uint64_t applied[MAX_NODES + 1];             //  last index applied per node
    bool persist;                                //  persist what each ready hands out at once
    uint32_t isolated;                           //  node cut off: its messages are lost, 0 for none
    const uint8_t *snapshot;                     //  a leader's snapshot, as its actor holds it
    size_t snapshot_size;                        //  its size
    uint64_t snapshot_index;                     //  index it covers
    uint64_t snapshot_term;                      //  term of that entry
    uint8_t received[MAX_NODES + 1][64];         //  snapshot bytes a follower received
    size_t received_size[MAX_NODES + 1];         //  how many
    size_t installed[MAX_NODES + 1];             //  snapshots a follower installed
    raft_read_t reads[MAX_NODES + 1][MAX_READS]; //  reads each node settled, in order
    size_t read_count[MAX_NODES + 1];            //  how many
} raft_fixture_t;

raft_core_options_t raft_fixture_options (raft_fixture_t *harness, uint32_t id);

//  A harness of count nodes; with create, every core is made with defaults.
raft_fixture_t *raft_fixture_new (size_t count, bool create);

raft_fixture_t *raft_fixture_new_led (size_t count);

raft_core_t *raft_fixture_start_core (raft_fixture_t *harness, uint32_t id, uint64_t term);

void raft_fixture_drop_all (raft_fixture_t *harness);

void raft_fixture_destroy (raft_fixture_t **harness_p);

//  The voters of the harness as a configuration.
size_t raft_fixture_voter_members (raft_fixture_t *harness, raft_member_t *members);

//  Acts on every ready of node id: queues its messages, checks and counts
//  what it applies, records the reads it settles, and (if the harness persists) reports the writes
//  durable before advancing, as an actor that syncs in the same turn does.
void raft_fixture_collect (raft_fixture_t *harness, uint32_t id);

//  Takes the oldest queued message out; the caller frees it.
raft_message_t *raft_fixture_take (raft_fixture_t *harness);

//  Delivers queued messages in order until none is left.
void raft_fixture_deliver_all (raft_fixture_t *harness);

//  Lets node id's election timer run out, then delivers everything.
void raft_fixture_elect (raft_fixture_t *harness, uint32_t id, uint64_t now_ms);

//  Lets the election timer of a lone core run out; a granted pre-vote and
//  then a granted vote from voter make it leader of the next term.
void raft_fixture_win_with (raft_core_t *core, uint32_t id, uint32_t voter, uint64_t now_ms);

//  Counts queued messages of a type to a node.
size_t raft_fixture_count_queued (raft_fixture_t *harness, raft_message_type_t type, uint32_t to);

//  The first queued message of a type to a node, or NULL.
raft_message_t *raft_fixture_find_queued (raft_fixture_t *harness, raft_message_type_t type,
                                          uint32_t to);

void raft_fixture_restore (raft_core_t *core, uint64_t index, uint64_t term);

void raft_fixture_restore_terms (raft_core_t *core, const uint64_t *terms, size_t count);

void raft_fixture_propose (raft_core_t *core, const char *text, uint64_t expected_index);

raft_message_t raft_fixture_append (uint32_t from, uint32_t to, uint64_t term, uint64_t prev_index,
                                    uint64_t prev_term, raft_entry_t *entries, size_t count,
                                    uint64_t leader_commit);

raft_message_t raft_fixture_vote_request (uint32_t from, uint32_t to, uint64_t term,
                                          uint64_t last_index, uint64_t last_term);

//  Node 1's chunk of its snapshot of index 6 (term 1) to node 2, in term 1.
raft_message_t raft_fixture_chunk (uint64_t offset, const char *data);

raft_message_t raft_fixture_append_reply (uint32_t from, uint32_t to, uint64_t term, bool success,
                                          uint64_t match_index, uint64_t reject_index);

//  Ticks every node by one heartbeat and delivers what they send.
void raft_fixture_beat (raft_fixture_t *harness, uint64_t *now);

//  A member with an address, as an operator would add it.
raft_member_t raft_fixture_member (uint32_t id, bool voter);

//  Whether node id is a member of core's configuration, and as a voter.
bool raft_fixture_has_member (raft_core_t *core, uint32_t id, bool voter);

//  Adds node id to the harness as a joining node: empty configuration.
raft_core_t *raft_fixture_add_joining (raft_fixture_t *harness, uint32_t id, uint64_t now_ms);

#endif
