/*  sim_snapshots — snapshots in the simulation.

    A node snapshots its applied state (an abstract blob: index, term, the
    checker's hash of the log, the configuration) and compacts; a leader
    streams it in chunks; a follower stores them and installs the
    snapshot once complete.
*/
#include "sim_cluster_private.h"

#include <stdlib.h>
#include <string.h>

#include "util/little_endian.h"

//  Builds the blob of node's snapshot at index (applied). Returns a malloc'd
//  blob, or NULL when out of memory.
static uint8_t *
s_snapshot_blob (sim_cluster_t *self, node_t *node, uint64_t index, size_t *size)
{
    size_t count;
    raft_member_t *members = raft_core_config_as_of (node->core, index, &count);
    size_t config_size = 0;
    uint8_t *config = members ? raft_core_config_encode (members, count, &config_size) : NULL;
    free (members);
    uint8_t *blob = config ? (uint8_t *)malloc (SNAPSHOT_HEADER_SIZE + config_size) : NULL;
    if (blob) {
        little_endian_put_u64 (blob, index);
        little_endian_put_u64 (blob + 8, raft_core_entry (node->core, index)->term);
        little_endian_put_u64 (blob + 16, sim_checker_chain (self->checker, node->id, index));
        little_endian_put_u64 (blob + 24, node->live_applied);
        memcpy (blob + SNAPSHOT_HEADER_SIZE, config, config_size);
        *size = SNAPSHOT_HEADER_SIZE + config_size;
    }
    free (config);
    return blob;
}

//  Parses a blob. Returns 0 (free snapshot->members) or -1 if malformed.
int
sim_snapshots_snapshot_parse (const uint8_t *blob, size_t size, snapshot_t *snapshot)
{
    if (!blob || size < SNAPSHOT_HEADER_SIZE)
        return -1;
    snapshot->index = little_endian_get_u64 (blob);
    snapshot->term = little_endian_get_u64 (blob + 8);
    snapshot->chain = little_endian_get_u64 (blob + 16);
    snapshot->live_applied = little_endian_get_u64 (blob + 24);
    snapshot->members = raft_core_config_decode (
        blob + SNAPSHOT_HEADER_SIZE, size - SNAPSHOT_HEADER_SIZE, &snapshot->member_count);
    return snapshot->members ? 0 : -1;
}

//  The state machine becomes the snapshot's.
int
sim_snapshots_adopt_snapshot (sim_cluster_t *self, node_t *node, const snapshot_t *snapshot)
{
    if (sim_checker_install (self->checker, node->id, snapshot->index, snapshot->term,
                             snapshot->chain))
        return sim_cluster_fail_checker (self);
    if (snapshot->live_applied > node->live_applied)
        node->live_applied = snapshot->live_applied;
    node->checked_commit = snapshot->index;
    return 0;
}

//  A node snapshots its state machine at its applied index, durably, then
//  compacts its log there, as the actor does.
int
sim_snapshots_compact (sim_cluster_t *self, node_t *node)
{
    uint64_t index = raft_core_applied_index (node->core);
    if (index <= raft_core_snapshot_index (node->core) || node->ready_deferred)
        return 0;
    size_t size;
    uint8_t *blob = s_snapshot_blob (self, node, index, &size);
    if (!blob)
        return sim_cluster_fail (self, "out of memory");
    int rc =
        sim_disk_compact (node->disk, index, raft_core_entry (node->core, index)->term, blob, size);
    free (blob);
    if (rc)
        return sim_cluster_fail (self, "node %u applied index %llu that is not on its disk",
                                 node->id, (unsigned long long)index);
    if (raft_core_compact (node->core, index))
        return sim_cluster_fail (self, "node %u refuses to compact up to its applied index %llu",
                                 node->id, (unsigned long long)index);
    if (sim_checker_compact (self->checker, node->id, index))
        return sim_cluster_fail_checker (self);
    self->totals.compactions++;
    sim_cluster_trace (self, "node %u compacts its log up to %llu", node->id,
                       (unsigned long long)index);
    return 0;
}

//  The leader's core asks for one chunk of its snapshot for a follower: a
//  random size, a message the network may lose, delay or reorder.
int
sim_snapshots_send_snapshot (sim_cluster_t *self, node_t *node, const raft_snapshot_send_t *send)
{
    size_t size;
    uint64_t index;
    uint64_t term;
    const uint8_t *blob = sim_disk_snapshot (node->disk, &size, &index, &term);
    if (!blob || index < raft_core_snapshot_index (node->core))
        return sim_cluster_fail (
            self, "node %u must send a snapshot but holds none that covers %llu", node->id,
            (unsigned long long)raft_core_snapshot_index (node->core));
    uint64_t offset = send->index == index ? send->offset : 0;
    if (offset == 0)
        self->totals.snapshots_sent++;
    size_t chunk =
        offset >= size ? 0 : (size_t)sim_random_range (self->random, 1, self->parameters.chunk_max);
    if (chunk > size - offset)
        chunk = size - offset;
    raft_message_t message = {.type = RAFT_MESSAGE_INSTALL_SNAPSHOT,
                              .from = node->id,
                              .to = send->to,
                              .term = send->term,
                              .snapshot_index = index,
                              .snapshot_term = term,
                              .offset = offset,
                              .data = chunk ? blob + offset : NULL,
                              .data_size = chunk,
                              .done = offset + chunk >= size};
    sim_cluster_trace_message (self, "send", &message);
    sim_network_send (self->network, &message, self->now_ms, EVENT_DELIVER);
    return 0;
}

//  Stores a chunk the core took, in order.
int
sim_snapshots_store_chunk (sim_cluster_t *self, node_t *node, const raft_snapshot_chunk_t *chunk)
{
    if (chunk->offset == 0)
        node->incoming_size = 0;
    if (chunk->offset != node->incoming_size)
        return sim_cluster_fail (
            self, "node %u's core hands out a snapshot chunk at %llu after %zu bytes", node->id,
            (unsigned long long)chunk->offset, node->incoming_size);
    if (node->incoming_size + chunk->size > node->incoming_capacity) {
        size_t capacity = (node->incoming_size + chunk->size) * 2;
        uint8_t *incoming = (uint8_t *)realloc (node->incoming, capacity);
        if (!incoming)
            return sim_cluster_fail (self, "out of memory");
        node->incoming = incoming;
        node->incoming_capacity = capacity;
    }
    if (chunk->size)
        memcpy (node->incoming + node->incoming_size, chunk->data, chunk->size);
    node->incoming_size += chunk->size;
    node->incoming_complete = chunk->done;
    return 0;
}

//  A complete snapshot came in: the core decides; if it takes it, the disk
//  and the state machine become the snapshot.
int
sim_snapshots_install_snapshot (sim_cluster_t *self, node_t *node)
{
    node->incoming_complete = false;
    snapshot_t snapshot;
    if (sim_snapshots_snapshot_parse (node->incoming, node->incoming_size, &snapshot))
        return sim_cluster_fail (self, "node %u received a garbled snapshot", node->id);
    int rc = raft_core_snapshot_installed (node->core, snapshot.index, snapshot.term,
                                           snapshot.members, snapshot.member_count);
    free (snapshot.members);
    if (rc) {
        sim_cluster_trace (self, "node %u drops a stale snapshot up to %llu", node->id,
                           (unsigned long long)snapshot.index);
        return 0;
    }
    if (sim_disk_install (node->disk, snapshot.index, snapshot.term, node->incoming,
                          node->incoming_size))
        return sim_cluster_fail (self, "out of memory");
    self->totals.snapshots_installed++;
    sim_cluster_trace (self, "node %u installs a snapshot up to %llu", node->id,
                       (unsigned long long)snapshot.index);
    return sim_snapshots_adopt_snapshot (self, node, &snapshot);
}
