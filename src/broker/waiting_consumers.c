/*  waiting_consumers — parked Pop and Reserve waits by topic, deadline and
    connection; see waiting_consumers.h.
*/
#include "broker/waiting_consumers.h"

#include "util/must.h"
#include "util/slot_heap.h"
#include "util/u64_table.h"

//  One topic's line of waiters.
typedef struct {
    char *topic;       //  its name, also its key in lines
    zlistx_t *waiters; //  waiter_t, oldest first
    size_t woken;      //  waiters woken whose entry has not settled
} line_t;

//  One parked request.
typedef struct {
    client_request_t *request; //  owned
    line_t *line;              //  the line it stands in
    int64_t wait_deadline;     //  zclock_mono end of its wait
    size_t slot;               //  its place in deadlines
    void *handle;              //  its place in line->waiters
    char *connection;          //  its routing id in hex, key of connections
    size_t bytes;              //  what it counts in the byte bound
} waiter_t;

//  A woken waiter until its entry settles.
typedef struct {
    uint64_t ticket;       //  its request's ticket, key in woken
    line_t *line;          //  the line it left
    int64_t wait_deadline; //  the end of its wait
    int64_t settle_by;     //  forgotten after this (zclock_mono)
} woken_t;

struct _waiting_consumers_t {
    size_t max_waiting;        //  parked requests at most
    size_t max_per_connection; //  of them from one routing id
    size_t max_bytes;          //  their bytes at most
    zhashx_t *lines;           //  topic -> line_t (owned)
    slot_heap_t *deadlines;    //  waiter_t, earliest wait end first
    zhashx_t *connections;     //  routing id hex -> size_t count (owned)
    zhashx_t *woken;           //  ticket -> woken_t (owned)
    size_t size;               //  parked requests
    size_t bytes;              //  their bytes
};

static bool
s_ends_before (const void *first, const void *second)
{
    return ((const waiter_t *)first)->wait_deadline < ((const waiter_t *)second)->wait_deadline;
}

static void
s_line_destroy (void **item_p)
{
    line_t *line = (line_t *)*item_p;
    if (line) {
        zlistx_destroy (&line->waiters);
        free (line->topic);
        free (line);
        *item_p = NULL;
    }
}

static void
s_free_item (void **item_p)
{
    free (*item_p);
    *item_p = NULL;
}

waiting_consumers_t *
waiting_consumers_new (size_t max_waiting, size_t max_per_connection, size_t max_bytes)
{
    waiting_consumers_t *self = (waiting_consumers_t *)must_zalloc (sizeof (waiting_consumers_t));
    self->max_waiting = max_waiting;
    self->max_per_connection = max_per_connection;
    self->max_bytes = max_bytes;
    self->lines = zhashx_new ();
    zhashx_set_destructor (self->lines, s_line_destroy);
    self->connections = zhashx_new ();
    zhashx_set_destructor (self->connections, s_free_item);
    self->woken = u64_table_new (s_free_item);
    self->deadlines = slot_heap_new (s_ends_before, offsetof (waiter_t, slot));
    if (!self->lines || !self->connections || !self->woken)
        waiting_consumers_destroy (&self);
    return self;
}

void
waiting_consumers_destroy (waiting_consumers_t **self_p)
{
    waiting_consumers_t *self = *self_p;
    if (self) {
        client_request_t *request;
        char *topic;
        while (self->lines && self->connections &&
               (request = waiting_consumers_expired (self, INT64_MAX, &topic))) {
            client_request_destroy (&request);
            free (topic);
        }
        zhashx_destroy (&self->lines);
        zhashx_destroy (&self->connections);
        zhashx_destroy (&self->woken);
        slot_heap_destroy (&self->deadlines);
        free (self);
        *self_p = NULL;
    }
}

//  The line of topic, made when missing.
static line_t *
s_line (waiting_consumers_t *self, const char *topic)
{
    line_t *line = (line_t *)zhashx_lookup (self->lines, topic);
    if (!line) {
        line = (line_t *)must_zalloc (sizeof (line_t));
        line->topic = must_strdup (topic);
        line->waiters = zlistx_new ();
        zhashx_insert (self->lines, topic, line);
    }
    return line;
}

//  Deletes line when nobody stands in it or waits for an entry.
static void
s_line_tidy (waiting_consumers_t *self, line_t *line)
{
    if (zlistx_size (line->waiters) == 0 && line->woken == 0)
        zhashx_delete (self->lines, line->topic);
}

//  The parked count of a connection, made 0 when missing.
static size_t *
s_connection_count (waiting_consumers_t *self, const char *connection)
{
    size_t *count = (size_t *)zhashx_lookup (self->connections, connection);
    if (!count) {
        count = (size_t *)must_zalloc (sizeof (size_t));
        zhashx_insert (self->connections, connection, count);
    }
    return count;
}

//  What a parked request holds, as the byte bound counts it: its packed
//  form (unknown fields included) and its routing id.
static size_t
s_request_bytes (client_request_t *request)
{
    const Raftq__Request *decoded = request->decoded.request;
    return zframe_size (request->routing_id) +
           (decoded ? raftq__request__get_packed_size (decoded) : 0);
}

//  Parks request in line, at its head or its tail.
static void
s_add (waiting_consumers_t *self, line_t *line, client_request_t *request, int64_t wait_deadline,
       char *connection, bool first)
{
    waiter_t *waiter = (waiter_t *)must_zalloc (sizeof (waiter_t));
    waiter->bytes = s_request_bytes (request);
    self->bytes += waiter->bytes;
    waiter->request = request;
    waiter->line = line;
    waiter->wait_deadline = wait_deadline;
    waiter->connection = connection;
    waiter->handle =
        first ? zlistx_add_start (line->waiters, waiter) : zlistx_add_end (line->waiters, waiter);
    slot_heap_push (self->deadlines, waiter);
    (*s_connection_count (self, connection))++;
    self->size++;
}

//  Takes waiter out of every index; returns its request. The line stays.
static client_request_t *
s_remove (waiting_consumers_t *self, waiter_t *waiter)
{
    client_request_t *request = waiter->request;
    zlistx_delete (waiter->line->waiters, waiter->handle);
    slot_heap_remove (self->deadlines, waiter);
    size_t *count = s_connection_count (self, waiter->connection);
    if (--*count == 0)
        zhashx_delete (self->connections, waiter->connection);
    free (waiter->connection);
    self->bytes -= waiter->bytes;
    free (waiter);
    self->size--;
    return request;
}

int
waiting_consumers_park (waiting_consumers_t *self, const char *topic, client_request_t *request,
                        int64_t wait_deadline, char *error, size_t error_size)
{
    assert (self && topic && request);
    if (self->size >= self->max_waiting) {
        snprintf (error, error_size, "too many waiting consumers on this node (%zu)",
                  self->max_waiting);
        return -1;
    }
    if (self->bytes + s_request_bytes (request) > self->max_bytes) {
        snprintf (error, error_size, "waiting consumers on this node hold %zu bytes already",
                  self->bytes);
        return -1;
    }
    char *connection = zframe_strhex (request->routing_id);
    size_t *count = (size_t *)zhashx_lookup (self->connections, connection);
    if (count && *count >= self->max_per_connection) {
        snprintf (error, error_size, "too many waiting requests on this connection (%zu)",
                  self->max_per_connection);
        free (connection);
        return -1;
    }
    s_add (self, s_line (self, topic), request, wait_deadline, connection, false);
    return 0;
}

void
waiting_consumers_park_first (waiting_consumers_t *self, const char *topic,
                              client_request_t *request, int64_t wait_deadline)
{
    assert (self && topic && request);
    s_add (self, s_line (self, topic), request, wait_deadline, zframe_strhex (request->routing_id),
           true);
}

size_t
waiting_consumers_count (waiting_consumers_t *self, const char *topic)
{
    assert (self);
    line_t *line = (line_t *)zhashx_lookup (self->lines, topic);
    return line ? zlistx_size (line->waiters) + line->woken : 0;
}

void
waiting_consumers_wake (waiting_consumers_t *self, waiting_consumers_ready_fn *ready,
                        waiting_consumers_wake_fn *wake, void *argument)
{
    assert (self && ready && wake);
    //  wake records the woken (their lines' counts) but never adds or
    //  deletes a line: the iteration stays valid; empty lines go after
    zlistx_t *empty = zlistx_new ();
    for (line_t *line = (line_t *)zhashx_first (self->lines); line;
         line = (line_t *)zhashx_next (self->lines)) {
        uint64_t available = zlistx_size (line->waiters) ? ready (argument, line->topic) : 0;
        while (available > line->woken && zlistx_size (line->waiters)) {
            waiter_t *waiter = (waiter_t *)zlistx_first (line->waiters);
            int64_t wait_deadline = waiter->wait_deadline;
            client_request_t *request = s_remove (self, waiter);
            wake (argument, request, line->topic, wait_deadline);
        }
        if (zlistx_size (line->waiters) == 0 && line->woken == 0)
            zlistx_add_end (empty, line);
    }
    for (line_t *line = (line_t *)zlistx_first (empty); line; line = (line_t *)zlistx_next (empty))
        s_line_tidy (self, line);
    zlistx_destroy (&empty);
}

void
waiting_consumers_woke (waiting_consumers_t *self, const char *topic, uint64_t ticket,
                        int64_t wait_deadline, int64_t settle_by)
{
    assert (self && topic);
    woken_t *woken = (woken_t *)zhashx_lookup (self->woken, &ticket);
    if (woken)
        return; //  tickets are never given twice
    woken = (woken_t *)must_zalloc (sizeof (woken_t));
    woken->ticket = ticket;
    woken->line = s_line (self, topic);
    woken->wait_deadline = wait_deadline;
    woken->settle_by = settle_by;
    woken->line->woken++;
    zhashx_insert (self->woken, &woken->ticket, woken);
}

bool
waiting_consumers_settle (waiting_consumers_t *self, uint64_t ticket, int64_t *wait_deadline,
                          char **topic)
{
    assert (self);
    woken_t *woken = (woken_t *)zhashx_lookup (self->woken, &ticket);
    if (!woken)
        return false;
    line_t *line = woken->line;
    *wait_deadline = woken->wait_deadline;
    *topic = must_strdup (line->topic);
    line->woken--;
    zhashx_delete (self->woken, &ticket);
    s_line_tidy (self, line);
    return true;
}

client_request_t *
waiting_consumers_expired (waiting_consumers_t *self, int64_t now, char **topic)
{
    assert (self && topic);
    waiter_t *waiter = (waiter_t *)slot_heap_first (self->deadlines);
    if (!waiter || waiter->wait_deadline > now)
        return NULL;
    line_t *line = waiter->line;
    *topic = must_strdup (line->topic);
    client_request_t *request = s_remove (self, waiter);
    s_line_tidy (self, line);
    return request;
}

//  Forgets the woken waiters with settle_by at or before now.
static void
s_forget (waiting_consumers_t *self, int64_t now)
{
    zlistx_t *stale = zlistx_new ();
    for (woken_t *woken = (woken_t *)zhashx_first (self->woken); woken;
         woken = (woken_t *)zhashx_next (self->woken))
        if (woken->settle_by <= now)
            zlistx_add_end (stale, woken);
    for (woken_t *woken = (woken_t *)zlistx_first (stale); woken;
         woken = (woken_t *)zlistx_next (stale)) {
        line_t *line = woken->line;
        line->woken--;
        zhashx_delete (self->woken, &woken->ticket);
        s_line_tidy (self, line);
    }
    zlistx_destroy (&stale);
}

void
waiting_consumers_forget_stale (waiting_consumers_t *self, int64_t now)
{
    assert (self);
    s_forget (self, now);
}

void
waiting_consumers_forget_woken (waiting_consumers_t *self)
{
    assert (self);
    s_forget (self, INT64_MAX);
}

size_t
waiting_consumers_size (waiting_consumers_t *self)
{
    assert (self);
    return self->size;
}
