/*  fair_queue — per-owner job queues served round robin; see fair_queue.h. */
#include "broker/fair_queue.h"

#include <sodium.h>

//  One job waiting.
typedef struct {
    uint64_t ticket;  //  what the caller queued
    int64_t deadline; //  dropped unserved after this
} s_job_t;

//  One owner with jobs waiting; gone once it has none.
typedef struct {
    char *key;     //  the owner's bytes in hex (the table's key)
    s_job_t *jobs; //  a ring of per_owner_max jobs
    size_t first;  //  the oldest job's slot
    size_t count;  //  jobs in the ring
    void *handle;  //  its place in the round
} s_owner_t;

struct _fair_queue_t {
    size_t per_owner_max; //  jobs one owner may have waiting
    size_t total_max;     //  jobs all owners may have waiting
    size_t total;         //  jobs waiting
    zhashx_t *owners;     //  key -> s_owner_t, owns them
    zlistx_t *round;      //  the same owners, the next to serve first
};

static void
s_owner_destroy (void **item)
{
    s_owner_t *owner = (s_owner_t *)*item;
    if (owner) {
        free (owner->key);
        free (owner->jobs);
        free (owner);
        *item = NULL;
    }
}

fair_queue_t *
fair_queue_new (size_t per_owner_max, size_t total_max)
{
    fair_queue_t *self = calloc (1, sizeof (fair_queue_t));
    if (!self)
        return NULL;
    self->per_owner_max = per_owner_max ? per_owner_max : 1;
    self->total_max = total_max ? total_max : 1;
    self->owners = zhashx_new ();
    self->round = zlistx_new ();
    if (!self->owners || !self->round) {
        fair_queue_destroy (&self);
        return NULL;
    }
    //  Keys are the owners' own (owner->key): nothing to copy or free
    zhashx_set_key_duplicator (self->owners, NULL);
    zhashx_set_key_destructor (self->owners, NULL);
    zhashx_set_destructor (self->owners, s_owner_destroy);
    return self;
}

void
fair_queue_destroy (fair_queue_t **self_p)
{
    if (*self_p) {
        fair_queue_t *self = *self_p;
        zlistx_destroy (&self->round);
        zhashx_destroy (&self->owners);
        free (self);
        *self_p = NULL;
    }
}

//  Takes the oldest job of owner out (it has one).
static s_job_t
s_take_first (fair_queue_t *self, s_owner_t *owner)
{
    s_job_t job = owner->jobs[owner->first];
    owner->first = (owner->first + 1) % self->per_owner_max;
    owner->count--;
    self->total--;
    return job;
}

//  Forgets an owner without jobs.
static void
s_remove_owner (fair_queue_t *self, s_owner_t *owner)
{
    zlistx_delete (self->round, owner->handle);
    zhashx_delete (self->owners, owner->key);
}

//  Drops the jobs at the head of owner that are past their deadline (a
//  client's deadlines come in the order of its requests); false when it
//  has none left, and then it is gone.
static bool
s_drop_expired (fair_queue_t *self, s_owner_t *owner, int64_t now)
{
    while (owner->count && owner->jobs[owner->first].deadline <= now)
        s_take_first (self, owner);
    if (owner->count)
        return true;
    s_remove_owner (self, owner);
    return false;
}

//  Drops every owner's expired head jobs: room for new ones when the
//  queue looks full.
static void
s_drop_all_expired (fair_queue_t *self, int64_t now)
{
    s_owner_t *owner = (s_owner_t *)zlistx_first (self->round);
    while (owner) {
        s_owner_t *next = (s_owner_t *)zlistx_next (self->round);
        s_drop_expired (self, owner, now);
        owner = next;
    }
}

//  A new owner for key (taken) at the end of the round; NULL when out of
//  memory.
static s_owner_t *
s_add_owner (fair_queue_t *self, char *key)
{
    s_owner_t *owner = calloc (1, sizeof (s_owner_t));
    if (owner) {
        owner->key = key;
        owner->jobs = calloc (self->per_owner_max, sizeof (s_job_t));
        owner->handle = owner->jobs ? zlistx_add_end (self->round, owner) : NULL;
    }
    if (!owner || !owner->handle) {
        void *item = owner;
        if (owner)
            s_owner_destroy (&item);
        else
            free (key);
        return NULL;
    }
    zhashx_insert (self->owners, owner->key, owner);
    return owner;
}

fair_queue_status_t
fair_queue_push (fair_queue_t *self, const void *owner_bytes, size_t owner_size, uint64_t ticket,
                 int64_t deadline, int64_t now)
{
    assert (self);
    char *key = malloc (owner_size * 2 + 1);
    if (!key)
        return FAIR_QUEUE_NO_MEMORY;
    sodium_bin2hex (key, owner_size * 2 + 1, (const unsigned char *)owner_bytes, owner_size);
    s_owner_t *owner = (s_owner_t *)zhashx_lookup (self->owners, key);
    if (owner && !s_drop_expired (self, owner, now))
        owner = NULL;
    if (owner && owner->count >= self->per_owner_max) {
        free (key);
        return FAIR_QUEUE_OWNER_FULL;
    }
    if (self->total >= self->total_max) {
        s_drop_all_expired (self, now);
        owner = (s_owner_t *)zhashx_lookup (self->owners, key);
        if (self->total >= self->total_max) {
            free (key);
            return FAIR_QUEUE_FULL;
        }
    }
    if (owner)
        free (key);
    else if (!(owner = s_add_owner (self, key)))
        return FAIR_QUEUE_NO_MEMORY;
    owner->jobs[(owner->first + owner->count) % self->per_owner_max] =
        (s_job_t){.ticket = ticket, .deadline = deadline};
    owner->count++;
    self->total++;
    return FAIR_QUEUE_QUEUED;
}

bool
fair_queue_pop (fair_queue_t *self, int64_t now, uint64_t *ticket_p)
{
    assert (self);
    assert (ticket_p);
    s_owner_t *owner;
    while ((owner = (s_owner_t *)zlistx_first (self->round))) {
        s_job_t job = s_take_first (self, owner);
        if (owner->count)
            zlistx_move_end (self->round, owner->handle);
        else
            s_remove_owner (self, owner);
        if (job.deadline > now) {
            *ticket_p = job.ticket;
            return true;
        }
    }
    return false;
}

size_t
fair_queue_size (fair_queue_t *self)
{
    assert (self);
    return self->total;
}
