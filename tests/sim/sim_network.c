/*  sim_network — lossy, reordering, partitionable message delivery; see
    sim_network.h.
*/
#include "sim_network.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct _sim_network_t {
    size_t node_count;           //  nodes 1..node_count
    uint32_t *group;             //  group of each node (index = node id); equal = connected
    bool partitioned;            //  not everyone in one group
    sim_network_faults_t faults; //  current fault rates and delays
    sim_random_t *random;        //  the run's generator, borrowed
    sim_queue_t *queue;          //  the run's agenda, borrowed
    uint64_t sent;               //  messages handed to us
    uint64_t dropped;            //  messages lost on purpose
};

sim_network_t *
sim_network_new (size_t node_count, sim_random_t *random, sim_queue_t *queue)
{
    sim_network_t *self = (sim_network_t *)calloc (1, sizeof (sim_network_t));
    if (!self)
        return NULL;
    self->group = (uint32_t *)calloc (node_count + 1, sizeof (uint32_t));
    if (!self->group) {
        free (self);
        return NULL;
    }
    self->node_count = node_count;
    self->random = random;
    self->queue = queue;
    self->faults.delay_min_ms = 1;
    self->faults.delay_max_ms = 1;
    return self;
}

void
sim_network_destroy (sim_network_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    free ((*self_p)->group);
    free (*self_p);
    *self_p = NULL;
}

void
sim_network_set_faults (sim_network_t *self, const sim_network_faults_t *faults)
{
    self->faults = *faults;
}

//  One block: the message, then its entries, then their payloads, then a
//  snapshot chunk's data.
static raft_message_t *
s_copy_message (const raft_message_t *message)
{
    size_t entry_bytes = message->entry_count * sizeof (raft_entry_t);
    size_t data_bytes = 0;
    for (size_t position = 0; position < message->entry_count; position++)
        data_bytes += message->entries[position].size;
    raft_message_t *copy = (raft_message_t *)malloc (sizeof (raft_message_t) + entry_bytes +
                                                     data_bytes + message->data_size);
    if (!copy)
        return NULL;
    *copy = *message;
    copy->entries = NULL;
    copy->data = NULL;
    if (message->data_size > 0) {
        uint8_t *chunk = (uint8_t *)(copy + 1) + entry_bytes + data_bytes;
        memcpy (chunk, message->data, message->data_size);
        copy->data = chunk;
    }
    if (message->entry_count > 0) {
        copy->entries = (raft_entry_t *)(copy + 1);
        uint8_t *data = (uint8_t *)(copy->entries + message->entry_count);
        for (size_t position = 0; position < message->entry_count; position++) {
            raft_entry_t *entry = &copy->entries[position];
            *entry = message->entries[position];
            if (entry->size > 0) {
                memcpy (data, entry->data, entry->size);
                entry->data = data;
                data += entry->size;
            } else
                entry->data = NULL;
        }
    }
    return copy;
}

static void
s_schedule (sim_network_t *self, const raft_message_t *message, uint64_t now_ms, int deliver_kind)
{
    const sim_network_faults_t *faults = &self->faults;
    uint64_t delay = sim_random_range (self->random, faults->delay_min_ms, faults->delay_max_ms);
    if (sim_random_chance (self->random, faults->slow_per_mille))
        delay = sim_random_range (self->random, faults->delay_min_ms, faults->slow_max_ms);
    raft_message_t *copy = s_copy_message (message);
    if (copy)
        sim_queue_push (self->queue, now_ms + delay, deliver_kind, message->to, 0, copy);
}

void
sim_network_send (sim_network_t *self, const raft_message_t *message, uint64_t now_ms,
                  int deliver_kind)
{
    self->sent++;
    if (sim_random_chance (self->random, self->faults.drop_per_mille)) {
        self->dropped++;
        return;
    }
    s_schedule (self, message, now_ms, deliver_kind);
    if (sim_random_chance (self->random, self->faults.duplicate_per_mille))
        s_schedule (self, message, now_ms, deliver_kind);
}

bool
sim_network_connected (sim_network_t *self, uint32_t from, uint32_t to)
{
    if (from == 0 || to == 0 || from > self->node_count || to > self->node_count)
        return false;
    return self->group[from] == self->group[to];
}

void
sim_network_split (sim_network_t *self)
{
    uint32_t groups = self->node_count >= 5 ? (uint32_t)sim_random_range (self->random, 2, 3) : 2;
    //  Deal a random permutation round-robin so no group is empty
    uint32_t order[64];
    size_t count = self->node_count < 64 ? self->node_count : 64;
    for (size_t position = 0; position < count; position++)
        order[position] = (uint32_t)position + 1;
    for (size_t position = count; position > 1; position--) {
        size_t other = sim_random_range (self->random, 0, position - 1);
        uint32_t swap = order[position - 1];
        order[position - 1] = order[other];
        order[other] = swap;
    }
    for (size_t position = 0; position < count; position++)
        self->group[order[position]] =
            position < groups ? (uint32_t)position
                              : (uint32_t)sim_random_range (self->random, 0, groups - 1);
    self->partitioned = true;
}

void
sim_network_isolate (sim_network_t *self, uint32_t node)
{
    for (size_t id = 1; id <= self->node_count; id++)
        self->group[id] = id == node ? 1 : 0;
    self->partitioned = true;
}

void
sim_network_heal (sim_network_t *self)
{
    memset (self->group, 0, (self->node_count + 1) * sizeof (uint32_t));
    self->partitioned = false;
}

bool
sim_network_partitioned (sim_network_t *self)
{
    return self->partitioned;
}

void
sim_network_describe (sim_network_t *self, char *text, size_t size)
{
    size_t used = 0;
    text[0] = 0;
    for (uint32_t group = 0; group <= self->node_count && used < size; group++) {
        bool first = true;
        for (size_t id = 1; id <= self->node_count && used < size; id++) {
            if (self->group[id] != group)
                continue;
            used += snprintf (text + used, size - used, "%s%zu", first ? "{" : ",", id);
            first = false;
        }
        if (!first && used < size)
            used += snprintf (text + used, size - used, "}");
    }
}

uint64_t
sim_network_sent (sim_network_t *self)
{
    return self->sent;
}

uint64_t
sim_network_dropped (sim_network_t *self)
{
    return self->dropped;
}
