/*  waiting_table — parked client requests by ticket and by deadline; see
    waiting_table.h.
*/
#include "broker/waiting_table.h"

#include <sodium.h>

#include "util/u64_table.h"

struct _waiting_table_t {
    zhashx_t *by_ticket;  //  ticket -> request, keyed by request->ticket
    zlistx_t *deadlines;  //  the same requests, earliest deadline first
    uint64_t next_ticket; //  random incarnation << 32, then counts up
};

//  Orders requests by deadline for the sorted deadline list.
static int
s_compare_deadlines (const void *one, const void *other)
{
    int64_t first = ((const client_request_t *)one)->deadline;
    int64_t second = ((const client_request_t *)other)->deadline;
    return first < second ? -1 : first > second ? 1 : 0;
}

waiting_table_t *
waiting_table_new (void)
{
    if (sodium_init () < 0)
        return NULL;
    waiting_table_t *self = calloc (1, sizeof (waiting_table_t));
    if (!self)
        return NULL;
    self->by_ticket = u64_table_new (NULL);
    self->deadlines = zlistx_new ();
    if (!self->by_ticket || !self->deadlines) {
        waiting_table_destroy (&self);
        return NULL;
    }
    zlistx_set_comparator (self->deadlines, s_compare_deadlines);
    self->next_ticket = ((uint64_t)randombytes_random () << 32) + 1;
    return self;
}

void
waiting_table_destroy (waiting_table_t **self_p)
{
    if (*self_p) {
        waiting_table_t *self = *self_p;
        if (self->by_ticket && self->deadlines) {
            client_request_t *request;
            while ((request = waiting_table_expired (self, INT64_MAX)))
                client_request_destroy (&request);
        }
        zlistx_destroy (&self->deadlines);
        zhashx_destroy (&self->by_ticket);
        free (self);
        *self_p = NULL;
    }
}

uint64_t
waiting_table_new_ticket (waiting_table_t *self)
{
    return self->next_ticket++;
}

int
waiting_table_park (waiting_table_t *self, client_request_t *request, int64_t deadline)
{
    request->ticket = self->next_ticket++;
    request->deadline = deadline;
    //  Searching from the end: deadlines mostly come in order, so it stops at once
    request->deadline_handle = zlistx_insert (self->deadlines, request, false);
    if (!request->deadline_handle)
        return -1;
    zhashx_insert (self->by_ticket, &request->ticket, request);
    return 0;
}

client_request_t *
waiting_table_find (waiting_table_t *self, uint64_t ticket)
{
    return (client_request_t *)zhashx_lookup (self->by_ticket, &ticket);
}

client_request_t *
waiting_table_unpark (waiting_table_t *self, uint64_t ticket)
{
    client_request_t *request = (client_request_t *)zhashx_lookup (self->by_ticket, &ticket);
    if (request) {
        zlistx_detach (self->deadlines, request->deadline_handle);
        request->deadline_handle = NULL;
        zhashx_delete (self->by_ticket, &ticket);
    }
    return request;
}

client_request_t *
waiting_table_expired (waiting_table_t *self, int64_t now)
{
    client_request_t *oldest = (client_request_t *)zlistx_first (self->deadlines);
    if (!oldest || oldest->deadline > now)
        return NULL;
    return waiting_table_unpark (self, oldest->ticket);
}

size_t
waiting_table_size (waiting_table_t *self)
{
    return zhashx_size (self->by_ticket);
}

size_t
waiting_table_proposed (waiting_table_t *self)
{
    size_t count = 0;
    for (client_request_t *request = (client_request_t *)zlistx_first (self->deadlines); request;
         request = (client_request_t *)zlistx_next (self->deadlines))
        count += request->proposed;
    return count;
}
