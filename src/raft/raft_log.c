/*  raft_log — the in-memory Raft log.

    A growable array of entries with an index offset, so a compacted
    prefix can be dropped. A dropped prefix only moves the start: the live
    entries slide to the front when the array is full and at least half of
    it is dropped prefix, so compaction costs O(1) per entry. (Moving the
    rest down at every drop cost a 300,000-entry log about 460 MB of
    memmove per snapshot, 4096 entries at a time, on the Raft thread.)
    Here: appending (a configuration entry takes effect at once),
    truncating a conflicting suffix, resetting it under a snapshot,
    restoring it from disk at start, and the queries on it.
*/
#include "raft/raft_private.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

//  Frees the payloads of the held entries at [from .. to) (0: the first held).
static void
s_free_payloads (raft_core_t *self, size_t from, size_t to)
{
    for (size_t position = self->log_start + from; position < self->log_start + to; position++) {
        free (self->log[position].data);
        self->log[position].data = NULL;
    }
}

//  Room for one more entry at the end of the array: slides the live
//  entries to the front when the dropped prefix is at least half of it,
//  else doubles it. Returns 0, or -1 when out of memory.
static int
s_make_room (raft_core_t *self)
{
    if (self->log_start + self->log_count < self->log_capacity)
        return 0;
    if (self->log_start && self->log_start >= self->log_capacity / 2) {
        memmove (self->log, self->log + self->log_start, self->log_count * sizeof (raft_entry_t));
        self->log_start = 0;
        return 0;
    }
    size_t capacity = self->log_capacity ? self->log_capacity * 2 : 64;
    raft_entry_t *log = (raft_entry_t *)realloc (self->log, capacity * sizeof (raft_entry_t));
    if (!log)
        return -1;
    self->log = log;
    self->log_capacity = capacity;
    return 0;
}

//  Appends a copy of an entry after the last; a configuration entry takes
//  effect at once. Returns 0, or -1 when out of memory (nothing appended).
int
raft_log_append (raft_core_t *self, uint64_t term, uint8_t type, const uint8_t *data, size_t size)
{
    if (s_make_room (self))
        return -1;
    uint8_t *copy = NULL;
    if (size > 0) {
        copy = (uint8_t *)malloc (size);
        if (!copy)
            return -1;
        memcpy (copy, data, size);
    }
    raft_entry_t *entry = &self->log[self->log_start + self->log_count++];
    entry->term = term;
    entry->index = raft_log_last_index (self);
    entry->type = type;
    entry->data = copy;
    entry->size = size;
    if (type == RAFT_ENTRY_CONFIG && raft_config_adopt_entry (self, entry)) {
        //  Never handed out: it can go as if it never came
        self->log_count--;
        free (copy);
        return -1;
    }
    return 0;
}

//  Deletes entries >= from_index; handed-out ones are reported in the ready.
void
raft_log_truncate (raft_core_t *self, uint64_t from_index)
{
    assert (from_index > self->log_offset);
    size_t kept = (size_t)(from_index - self->log_offset - 1);
    if (kept < self->log_count) {
        s_free_payloads (self, kept, self->log_count);
        self->log_count = kept;
    }
    if (self->persisted_index >= from_index)
        self->persisted_index = from_index - 1;
    if (from_index < self->unsaved_from) {
        self->unsaved_from = from_index;
        if (self->truncated_from == 0 || from_index < self->truncated_from)
            self->truncated_from = from_index;
    }
    if (self->config_index >= from_index)
        raft_config_revert (self);
}

//  Drops the whole log: it continues after index, whose entry had term,
//  covered by a snapshot that counts as committed, applied and persisted.
void
raft_log_reset (raft_core_t *self, uint64_t index, uint64_t term)
{
    s_free_payloads (self, 0, self->log_count);
    self->log_start = 0;
    self->log_count = 0;
    self->log_offset = index;
    self->log_offset_term = term;
    self->persisted_index = index;
    self->unsaved_from = index + 1;
    if (self->handed_out_index < index)
        self->handed_out_index = index;
    self->truncated_from = 0;
    if (self->commit_index < index)
        self->commit_index = index;
    if (self->applied_index < index)
        self->applied_index = index;
}

//  Drops the entries up to up_to_index (held and applied): the log then
//  starts after it, and remembers its term.
void
raft_log_drop_prefix (raft_core_t *self, uint64_t up_to_index)
{
    assert (up_to_index > self->log_offset && up_to_index <= self->applied_index);
    uint64_t term = raft_log_term_at (self, up_to_index);
    size_t dropped = (size_t)(up_to_index - self->log_offset);
    s_free_payloads (self, 0, dropped);
    self->log_count -= dropped;
    self->log_start = self->log_count ? self->log_start + dropped : 0;
    self->log_offset = up_to_index;
    self->log_offset_term = term;
}

void
raft_log_release (raft_core_t *self)
{
    s_free_payloads (self, 0, self->log_count);
    free (self->log);
    self->log = NULL;
    self->log_start = 0;
    self->log_count = 0;
    self->log_capacity = 0;
}

int
raft_core_restore_entry (raft_core_t *self, const raft_entry_t *entry)
{
    assert (self);
    assert (entry);
    assert (!self->started); //  restoring is part of creation, before any event
    if (entry->index != raft_log_last_index (self) + 1 || entry->term < raft_log_last_term (self) ||
        entry->term > self->term || (entry->size > 0 && !entry->data))
        return -1;
    if (raft_log_append (self, entry->term, entry->type, entry->data, entry->size))
        return -1;
    self->persisted_index = entry->index;
    self->unsaved_from = entry->index + 1;
    self->handed_out_index = entry->index;
    self->config_changed = false; //  restoring is part of creation
    return 0;
}

const raft_entry_t *
raft_core_entry (raft_core_t *self, uint64_t index)
{
    assert (self);
    return raft_log_entry (self, index);
}

uint64_t
raft_core_last_index (raft_core_t *self)
{
    assert (self);
    return raft_log_last_index (self);
}

uint64_t
raft_core_persisted_index (raft_core_t *self)
{
    assert (self);
    return self->persisted_index;
}
