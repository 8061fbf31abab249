/*  sim_queue — the simulation's agenda: events ordered by virtual time, ties
    broken by the order they were scheduled, so a run is deterministic.
    A payload, if any, is one malloc'd block the queue frees if the event is
    still queued when the queue is destroyed.
*/
#ifndef SIM_QUEUE_H_INCLUDED
#define SIM_QUEUE_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint64_t time;        //  virtual milliseconds when it happens
    uint64_t sequence;    //  scheduling order, breaks ties
    int kind;             //  what happens (the cluster's event kinds)
    uint32_t node;        //  node it concerns, if any
    uint64_t incarnation; //  node incarnation it was scheduled for (stale after a crash)
    void *payload;        //  owned block (e.g. a message copy), or NULL
} sim_event_t;

typedef struct _sim_queue_t sim_queue_t;

sim_queue_t *sim_queue_new (void);

void sim_queue_destroy (sim_queue_t **self_p);

//  Schedules an event; takes ownership of payload. Returns 0 or -1.
int sim_queue_push (sim_queue_t *self, uint64_t time, int kind, uint32_t node, uint64_t incarnation,
                    void *payload);

//  Removes the earliest event into event; the caller then owns its payload.
//  Returns false when the queue is empty.
bool sim_queue_pop (sim_queue_t *self, sim_event_t *event);

size_t sim_queue_size (sim_queue_t *self);

#endif
