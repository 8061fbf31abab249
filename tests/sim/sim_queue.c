/*  sim_queue — a binary min-heap of events; see sim_queue.h. */
#include "sim_queue.h"

#include <stdlib.h>

struct _sim_queue_t {
    sim_event_t *heap;      //  binary heap ordered by (time, sequence)
    size_t count;           //  events queued
    size_t capacity;        //  events allocated
    uint64_t next_sequence; //  next tie breaker
};

sim_queue_t *
sim_queue_new (void)
{
    return (sim_queue_t *)calloc (1, sizeof (sim_queue_t));
}

void
sim_queue_destroy (sim_queue_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    sim_queue_t *self = *self_p;
    for (size_t position = 0; position < self->count; position++)
        free (self->heap[position].payload);
    free (self->heap);
    free (self);
    *self_p = NULL;
}

static bool
s_earlier (const sim_event_t *one, const sim_event_t *other)
{
    return one->time < other->time || (one->time == other->time && one->sequence < other->sequence);
}

int
sim_queue_push (sim_queue_t *self, uint64_t time, int kind, uint32_t node, uint64_t incarnation,
                void *payload)
{
    if (self->count == self->capacity) {
        size_t capacity = self->capacity ? self->capacity * 2 : 256;
        sim_event_t *heap = (sim_event_t *)realloc (self->heap, capacity * sizeof (sim_event_t));
        if (!heap) {
            free (payload);
            return -1;
        }
        self->heap = heap;
        self->capacity = capacity;
    }
    sim_event_t event = {time, self->next_sequence++, kind, node, incarnation, payload};
    size_t slot = self->count++;
    while (slot > 0) {
        size_t parent = (slot - 1) / 2;
        if (!s_earlier (&event, &self->heap[parent]))
            break;
        self->heap[slot] = self->heap[parent];
        slot = parent;
    }
    self->heap[slot] = event;
    return 0;
}

bool
sim_queue_pop (sim_queue_t *self, sim_event_t *event)
{
    if (self->count == 0)
        return false;
    *event = self->heap[0];
    sim_event_t last = self->heap[--self->count];
    size_t slot = 0;
    while (true) {
        size_t child = slot * 2 + 1;
        if (child >= self->count)
            break;
        if (child + 1 < self->count && s_earlier (&self->heap[child + 1], &self->heap[child]))
            child++;
        if (!s_earlier (&self->heap[child], &last))
            break;
        self->heap[slot] = self->heap[child];
        slot = child;
    }
    if (self->count > 0)
        self->heap[slot] = last;
    return true;
}

size_t
sim_queue_size (sim_queue_t *self)
{
    return self->count;
}
