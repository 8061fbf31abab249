/*  sim_disk — durable hard state, snapshot and log, and a volatile tail of
    log writes; see sim_disk.h.
*/
#include "sim_disk.h"

#include <stdlib.h>
#include <string.h>

//  One queued log write: a truncation or the append of one entry.
typedef struct {
    uint64_t truncate_from; //  nonzero: delete entries >= this; else append entry
    raft_entry_t entry;     //  the entry to append, data owned
} write_t;

struct _sim_disk_t {
    uint64_t term;           //  durable current term
    uint32_t voted_for;      //  durable vote in that term
    uint8_t *snapshot;       //  durable snapshot blob, NULL if none
    size_t snapshot_size;    //  its size
    uint64_t snapshot_index; //  last index it covers, 0 if none
    uint64_t snapshot_term;  //  term of that entry
    raft_entry_t *log;       //  durable entries snapshot_index+1.., data owned
    size_t log_count;        //  durable entries
    size_t log_capacity;     //  allocated
    write_t *writes;         //  volatile tail, in write order
    size_t write_count;      //  queued writes
    size_t write_capacity;   //  allocated
    uint64_t future_last;    //  last index once every queued write lands
};

sim_disk_t *
sim_disk_new (void)
{
    return (sim_disk_t *)calloc (1, sizeof (sim_disk_t));
}

static void
s_free_writes (sim_disk_t *self, size_t from)
{
    for (size_t position = from; position < self->write_count; position++)
        free (self->writes[position].entry.data);
    self->write_count = from;
}

//  Drops durable entries from index on.
static void
s_drop_from (sim_disk_t *self, uint64_t index)
{
    while (self->log_count > 0 && sim_disk_last_index (self) >= index)
        free (self->log[--self->log_count].data);
}

void
sim_disk_destroy (sim_disk_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    sim_disk_t *self = *self_p;
    s_drop_from (self, 0);
    free (self->log);
    s_free_writes (self, 0);
    free (self->writes);
    free (self->snapshot);
    free (self);
    *self_p = NULL;
}

int
sim_disk_save_hard_state (sim_disk_t *self, uint64_t term, uint32_t voted_for)
{
    if (term < self->term ||
        (term == self->term && self->voted_for != 0 && voted_for != self->voted_for))
        return -1;
    self->term = term;
    self->voted_for = voted_for;
    return 0;
}

uint64_t
sim_disk_term (sim_disk_t *self)
{
    return self->term;
}

uint32_t
sim_disk_voted_for (sim_disk_t *self)
{
    return self->voted_for;
}

static write_t *
s_queue_write (sim_disk_t *self)
{
    if (self->write_count == self->write_capacity) {
        size_t capacity = self->write_capacity ? self->write_capacity * 2 : 64;
        write_t *writes = (write_t *)realloc (self->writes, capacity * sizeof (write_t));
        if (!writes)
            return NULL;
        self->writes = writes;
        self->write_capacity = capacity;
    }
    write_t *write = &self->writes[self->write_count++];
    memset (write, 0, sizeof (write_t));
    return write;
}

int
sim_disk_write (sim_disk_t *self, uint64_t truncate_from, const raft_entry_t *entries, size_t count)
{
    if (truncate_from > 0) {
        if (truncate_from <= self->snapshot_index)
            return -1;
        write_t *write = s_queue_write (self);
        if (!write)
            return -1;
        write->truncate_from = truncate_from;
        if (self->future_last >= truncate_from)
            self->future_last = truncate_from - 1;
    }
    for (size_t position = 0; position < count; position++) {
        if (entries[position].index != self->future_last + 1)
            return -1;
        write_t *write = s_queue_write (self);
        if (!write)
            return -1;
        write->entry = entries[position];
        write->entry.data = NULL;
        if (entries[position].size > 0) {
            write->entry.data = (uint8_t *)malloc (entries[position].size);
            if (!write->entry.data)
                return -1;
            memcpy (write->entry.data, entries[position].data, entries[position].size);
        }
        self->future_last++;
    }
    return 0;
}

bool
sim_disk_dirty (sim_disk_t *self)
{
    return self->write_count > 0;
}

//  Lands the first count queued writes; the entries' data moves to the log.
static void
s_land (sim_disk_t *self, size_t count)
{
    for (size_t position = 0; position < count; position++) {
        write_t *write = &self->writes[position];
        if (write->truncate_from > 0) {
            s_drop_from (self, write->truncate_from);
            continue;
        }
        if (self->log_count == self->log_capacity) {
            size_t capacity = self->log_capacity ? self->log_capacity * 2 : 256;
            raft_entry_t *log =
                (raft_entry_t *)realloc (self->log, capacity * sizeof (raft_entry_t));
            if (!log) {
                free (write->entry.data);
                continue;
            }
            self->log = log;
            self->log_capacity = capacity;
        }
        self->log[self->log_count++] = write->entry;
    }
    //  What did not land is lost
    for (size_t position = count; position < self->write_count; position++)
        free (self->writes[position].entry.data);
    self->write_count = 0;
    self->future_last = sim_disk_last_index (self);
}

void
sim_disk_sync (sim_disk_t *self)
{
    s_land (self, self->write_count);
}

void
sim_disk_crash (sim_disk_t *self, sim_random_t *random, bool torn)
{
    s_land (self, torn ? sim_random_range (random, 0, self->write_count) : 0);
}

void
sim_disk_lose_suffix (sim_disk_t *self, uint64_t from_index)
{
    s_land (self, 0);
    if (from_index <= self->snapshot_index)
        from_index = self->snapshot_index + 1;
    s_drop_from (self, from_index);
    self->future_last = sim_disk_last_index (self);
}

//  Replaces the snapshot by a copy of blob. Returns 0 or -1.
static int
s_save_snapshot (sim_disk_t *self, uint64_t index, uint64_t term, const uint8_t *blob, size_t size)
{
    uint8_t *copy = (uint8_t *)malloc (size ? size : 1);
    if (!copy)
        return -1;
    if (size)
        memcpy (copy, blob, size);
    free (self->snapshot);
    self->snapshot = copy;
    self->snapshot_size = size;
    self->snapshot_index = index;
    self->snapshot_term = term;
    return 0;
}

int
sim_disk_compact (sim_disk_t *self, uint64_t index, uint64_t term, const uint8_t *blob, size_t size)
{
    const raft_entry_t *entry = sim_disk_entry (self, index);
    if (!entry || entry->term != term)
        return -1;
    uint64_t old_index = self->snapshot_index;
    if (s_save_snapshot (self, index, term, blob, size))
        return -1;
    size_t dropped = (size_t)(index - old_index);
    for (size_t position = 0; position < dropped; position++)
        free (self->log[position].data);
    memmove (self->log, self->log + dropped, (self->log_count - dropped) * sizeof (raft_entry_t));
    self->log_count -= dropped;
    return 0;
}

int
sim_disk_install (sim_disk_t *self, uint64_t index, uint64_t term, const uint8_t *blob, size_t size)
{
    s_free_writes (self, 0);
    s_drop_from (self, 0);
    if (s_save_snapshot (self, index, term, blob, size))
        return -1;
    self->future_last = index;
    return 0;
}

const uint8_t *
sim_disk_snapshot (sim_disk_t *self, size_t *size, uint64_t *index, uint64_t *term)
{
    *size = self->snapshot_size;
    *index = self->snapshot_index;
    *term = self->snapshot_term;
    return self->snapshot;
}

uint64_t
sim_disk_snapshot_index (sim_disk_t *self)
{
    return self->snapshot_index;
}

uint64_t
sim_disk_last_index (sim_disk_t *self)
{
    return self->snapshot_index + self->log_count;
}

uint64_t
sim_disk_last_term (sim_disk_t *self)
{
    return self->log_count ? self->log[self->log_count - 1].term : self->snapshot_term;
}

const raft_entry_t *
sim_disk_entry (sim_disk_t *self, uint64_t index)
{
    if (index <= self->snapshot_index || index > sim_disk_last_index (self))
        return NULL;
    return &self->log[index - self->snapshot_index - 1];
}
