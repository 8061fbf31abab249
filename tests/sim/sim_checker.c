/*  sim_checker — Raft safety properties over hash-chained log mirrors; see
    sim_checker.h.
*/
#include "sim_checker.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  A growable array of 64-bit values indexed from 1.
typedef struct {
    uint64_t *values; //  values [0] unused
    size_t count;     //  highest index held
    size_t capacity;  //  allocated slots
} series_t;

//  What the checker knows about one node's log.
typedef struct {
    series_t chain;   //  hash of the log up to each index
    series_t terms;   //  term of each entry
    uint64_t applied; //  last index applied in this incarnation
    uint64_t base;    //  index its snapshot covers: below it, nothing is known
} mirror_t;

//  One slot of the (index, term) -> chain hash table.
typedef struct {
    uint64_t index; //  0: empty slot
    uint64_t term;  //  entry term
    uint64_t chain; //  hash of the log up to it
} known_entry_t;

struct _sim_checker_t {
    size_t node_count;        //  nodes 1..node_count
    mirror_t *mirrors;        //  per node (index = node id)
    series_t leaders;         //  node that led each term, 0 if none seen
    uint64_t elections;       //  terms with a leader
    known_entry_t *known;     //  every (index, term) seen in any log, open addressing
    size_t known_count;       //  slots used
    size_t known_capacity;    //  power of two
    series_t committed_chain; //  chain hash of each committed index
    series_t committed_term;  //  lowest term of a node that saw it committed
    series_t applied_chain;   //  chain hash applied at each index, by anyone
    known_entry_t *commands;  //  command hash -> index applied at (index, chain unused)
    size_t command_count;     //  slots used
    size_t command_capacity;  //  power of two
    char error[256];          //  why the last check failed
};

static int
s_fail (sim_checker_t *self, const char *format, ...)
{
    va_list arguments;
    va_start (arguments, format);
    vsnprintf (self->error, sizeof (self->error), format, arguments);
    va_end (arguments);
    return -1;
}

//  Sets values [index] (growing, new slots zero). Returns 0 or -1.
static int
s_series_set (series_t *series, size_t index, uint64_t value)
{
    if (index >= series->capacity) {
        size_t capacity = series->capacity ? series->capacity : 256;
        while (capacity <= index)
            capacity *= 2;
        uint64_t *values = (uint64_t *)realloc (series->values, capacity * sizeof (uint64_t));
        if (!values)
            return -1;
        memset (values + series->capacity, 0, (capacity - series->capacity) * sizeof (uint64_t));
        series->values = values;
        series->capacity = capacity;
    }
    series->values[index] = value;
    if (index > series->count)
        series->count = index;
    return 0;
}

static uint64_t
s_series_get (const series_t *series, size_t index)
{
    return index < series->capacity ? series->values[index] : 0;
}

static uint64_t
s_mix (uint64_t value)
{
    value ^= value >> 33;
    value *= 0xFF51AFD7ED558CCDULL;
    value ^= value >> 33;
    value *= 0xC4CEB9FE1A85EC53ULL;
    return value ^ (value >> 33);
}

static uint64_t
s_data_hash (const uint8_t *data, size_t size)
{
    uint64_t hash = 0xCBF29CE484222325ULL; //  FNV-1a
    for (size_t position = 0; position < size; position++)
        hash = (hash ^ data[position]) * 0x100000001B3ULL;
    return hash;
}

static uint64_t
s_chain (uint64_t previous, const raft_entry_t *entry)
{
    uint64_t hash = s_mix (previous ^ s_mix (entry->term * 0x9E3779B97F4A7C15ULL + entry->index));
    return s_mix (hash ^ s_data_hash (entry->data, entry->size) ^ ((uint64_t)entry->type << 56));
}

//  Finds the slot of key (index, term) in an open-addressing table, growing
//  it first if it is half full. Returns NULL only when out of memory.
static known_entry_t *
s_table_slot (known_entry_t **table, size_t *count, size_t *capacity, uint64_t index, uint64_t term)
{
    if (*count * 2 >= *capacity) {
        size_t new_capacity = *capacity ? *capacity * 2 : 1024;
        known_entry_t *grown = (known_entry_t *)calloc (new_capacity, sizeof (known_entry_t));
        if (!grown)
            return NULL;
        for (size_t position = 0; position < *capacity; position++) {
            known_entry_t *old = &(*table)[position];
            if (old->index == 0)
                continue;
            size_t slot = s_mix (old->index * 31 + old->term) & (new_capacity - 1);
            while (grown[slot].index != 0)
                slot = (slot + 1) & (new_capacity - 1);
            grown[slot] = *old;
        }
        free (*table);
        *table = grown;
        *capacity = new_capacity;
    }
    size_t slot = s_mix (index * 31 + term) & (*capacity - 1);
    while ((*table)[slot].index != 0 &&
           ((*table)[slot].index != index || (*table)[slot].term != term))
        slot = (slot + 1) & (*capacity - 1);
    return &(*table)[slot];
}

sim_checker_t *
sim_checker_new (size_t node_count)
{
    sim_checker_t *self = (sim_checker_t *)calloc (1, sizeof (sim_checker_t));
    if (!self)
        return NULL;
    self->node_count = node_count;
    self->mirrors = (mirror_t *)calloc (node_count + 1, sizeof (mirror_t));
    if (!self->mirrors) {
        free (self);
        return NULL;
    }
    return self;
}

void
sim_checker_destroy (sim_checker_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    sim_checker_t *self = *self_p;
    for (size_t node = 0; node <= self->node_count; node++) {
        free (self->mirrors[node].chain.values);
        free (self->mirrors[node].terms.values);
    }
    free (self->mirrors);
    free (self->leaders.values);
    free (self->known);
    free (self->committed_chain.values);
    free (self->committed_term.values);
    free (self->applied_chain.values);
    free (self->commands);
    free (self);
    *self_p = NULL;
}

const char *
sim_checker_error (sim_checker_t *self)
{
    return self->error;
}

int
sim_checker_leader (sim_checker_t *self, uint32_t node, uint64_t term)
{
    uint64_t known = s_series_get (&self->leaders, term);
    if (known == node)
        return 0;
    if (known != 0)
        return s_fail (self, "election safety: nodes %u and %u both lead term %llu",
                       (unsigned)known, (unsigned)node, (unsigned long long)term);
    self->elections++;
    return s_series_set (&self->leaders, term, node);
}

int
sim_checker_truncate (sim_checker_t *self, uint32_t node, uint64_t from_index)
{
    mirror_t *mirror = &self->mirrors[node];
    if (from_index == 0)
        return 0;
    if (from_index <= mirror->applied || from_index <= mirror->base)
        return s_fail (self, "node %u truncates from %llu below its applied index %llu",
                       (unsigned)node, (unsigned long long)from_index,
                       (unsigned long long)mirror->applied);
    if (mirror->chain.count >= from_index)
        mirror->chain.count = mirror->terms.count = from_index - 1;
    return 0;
}

int
sim_checker_append (sim_checker_t *self, uint32_t node, const raft_entry_t *entries, size_t count)
{
    mirror_t *mirror = &self->mirrors[node];
    for (size_t position = 0; position < count; position++) {
        const raft_entry_t *entry = &entries[position];
        uint64_t index = mirror->chain.count + 1;
        if (entry->index != index)
            return s_fail (self, "node %u log gap: entry %llu follows %llu", (unsigned)node,
                           (unsigned long long)entry->index,
                           (unsigned long long)mirror->chain.count);
        if (entry->term < s_series_get (&mirror->terms, index - 1))
            return s_fail (self, "node %u log terms go down at %llu", (unsigned)node,
                           (unsigned long long)index);
        uint64_t chain = s_chain (s_series_get (&mirror->chain, index - 1), entry);
        if (s_series_set (&mirror->chain, index, chain) ||
            s_series_set (&mirror->terms, index, entry->term))
            return s_fail (self, "checker out of memory");
        known_entry_t *known = s_table_slot (&self->known, &self->known_count,
                                             &self->known_capacity, index, entry->term);
        if (!known)
            return s_fail (self, "checker out of memory");
        if (known->index == 0) {
            known->index = index;
            known->term = entry->term;
            known->chain = chain;
            self->known_count++;
        } else if (known->chain != chain)
            return s_fail (self,
                           "log matching: node %u has index %llu term %llu but its log up to "
                           "there differs from another node's",
                           (unsigned)node, (unsigned long long)index,
                           (unsigned long long)entry->term);
    }
    return 0;
}

void
sim_checker_restart (sim_checker_t *self, uint32_t node)
{
    mirror_t *mirror = &self->mirrors[node];
    mirror->chain.count = 0;
    mirror->terms.count = 0;
    mirror->applied = 0;
    mirror->base = 0;
}

uint64_t
sim_checker_chain (sim_checker_t *self, uint32_t node, uint64_t index)
{
    mirror_t *mirror = &self->mirrors[node];
    return index >= mirror->base && index <= mirror->chain.count ? mirror->chain.values[index] : 0;
}

int
sim_checker_compact (sim_checker_t *self, uint32_t node, uint64_t index)
{
    mirror_t *mirror = &self->mirrors[node];
    if (index > mirror->applied || index < mirror->base)
        return s_fail (self, "node %u compacts up to %llu, not applied or below its snapshot",
                       (unsigned)node, (unsigned long long)index);
    mirror->base = index;
    return 0;
}

int
sim_checker_install (sim_checker_t *self, uint32_t node, uint64_t index, uint64_t term,
                     uint64_t chain)
{
    uint64_t applied = s_series_get (&self->applied_chain, index);
    uint64_t committed = s_series_get (&self->committed_chain, index);
    if ((applied != 0 && applied != chain) || (committed != 0 && committed != chain) ||
        (applied == 0 && committed == 0))
        return s_fail (self,
                       "state machine safety: node %u installs a snapshot of index %llu that is "
                       "not the committed state there",
                       (unsigned)node, (unsigned long long)index);
    mirror_t *mirror = &self->mirrors[node];
    if (s_series_set (&mirror->chain, index, chain) || s_series_set (&mirror->terms, index, term))
        return s_fail (self, "checker out of memory");
    mirror->chain.count = mirror->terms.count = index;
    mirror->applied = index;
    mirror->base = index;
    return 0;
}

int
sim_checker_commit (sim_checker_t *self, uint32_t node, uint64_t commit_index, uint64_t term)
{
    mirror_t *mirror = &self->mirrors[node];
    if (commit_index > mirror->chain.count)
        return s_fail (self, "node %u commits %llu beyond its last entry %llu", (unsigned)node,
                       (unsigned long long)commit_index, (unsigned long long)mirror->chain.count);
    //  Walk down from the top: below an index whose record already agrees
    //  and is no newer, nothing can change (chain hashes cover prefixes)
    uint64_t floor = mirror->base > 0 ? mirror->base : 1;
    for (uint64_t index = commit_index; index >= floor; index--) {
        uint64_t chain = mirror->chain.values[index];
        uint64_t known = s_series_get (&self->committed_chain, index);
        uint64_t known_term = s_series_get (&self->committed_term, index);
        if (known != 0 && known != chain)
            return s_fail (self,
                           "state machine safety: node %u commits index %llu but another entry "
                           "was committed there",
                           (unsigned)node, (unsigned long long)index);
        if (known != 0 && known_term <= term)
            break;
        if (s_series_set (&self->committed_chain, index, chain) ||
            s_series_set (&self->committed_term, index, term))
            return s_fail (self, "checker out of memory");
    }
    return 0;
}

int
sim_checker_leader_complete (sim_checker_t *self, uint32_t node, uint64_t term)
{
    //  The lowest term that saw each index committed never decreases with
    //  the index, so the entries committed before this term form a prefix
    uint64_t low = 0;
    uint64_t high = self->committed_chain.count;
    while (low < high) {
        uint64_t middle = (low + high + 1) / 2;
        if (s_series_get (&self->committed_term, middle) < term)
            low = middle;
        else
            high = middle - 1;
    }
    if (low == 0)
        return 0;
    mirror_t *mirror = &self->mirrors[node];
    //  A snapshot is an applied state (checked when taken or installed):
    //  it holds every committed entry up to its index
    if (low <= mirror->base)
        return 0;
    if (mirror->chain.count < low ||
        mirror->chain.values[low] != s_series_get (&self->committed_chain, low))
        return s_fail (self,
                       "leader completeness: node %u leads term %llu without entry %llu, "
                       "committed before",
                       (unsigned)node, (unsigned long long)term, (unsigned long long)low);
    return 0;
}

int
sim_checker_apply (sim_checker_t *self, uint32_t node, const raft_entry_t *entry)
{
    mirror_t *mirror = &self->mirrors[node];
    uint64_t index = entry->index;
    if (index != mirror->applied + 1)
        return s_fail (self, "node %u applies index %llu after %llu", (unsigned)node,
                       (unsigned long long)index, (unsigned long long)mirror->applied);
    if (index > mirror->chain.count || s_series_get (&mirror->terms, index) != entry->term)
        return s_fail (self, "node %u applies index %llu that its log does not hold",
                       (unsigned)node, (unsigned long long)index);
    uint64_t chain = mirror->chain.values[index];
    uint64_t known = s_series_get (&self->applied_chain, index);
    if (known != 0 && known != chain)
        return s_fail (self,
                       "state machine safety: node %u applies a different entry at index %llu "
                       "than another node",
                       (unsigned)node, (unsigned long long)index);
    if (known == 0 && s_series_set (&self->applied_chain, index, chain))
        return s_fail (self, "checker out of memory");
    mirror->applied = index;
    if (entry->type != RAFT_ENTRY_COMMAND || entry->size == 0)
        return 0;
    //  Every command is proposed once, so it may sit at one index only
    uint64_t command = s_data_hash (entry->data, entry->size) | 1;
    known_entry_t *slot =
        s_table_slot (&self->commands, &self->command_count, &self->command_capacity, command, 0);
    if (!slot)
        return s_fail (self, "checker out of memory");
    if (slot->index == 0) {
        slot->index = command;
        slot->chain = index;
        self->command_count++;
    } else if (slot->chain != index)
        return s_fail (self, "command \"%.*s\" applied at index %llu and at index %llu",
                       (int)entry->size, (const char *)entry->data, (unsigned long long)slot->chain,
                       (unsigned long long)index);
    return 0;
}

uint64_t
sim_checker_elections (sim_checker_t *self)
{
    return self->elections;
}

uint64_t
sim_checker_committed (sim_checker_t *self)
{
    return self->committed_chain.count;
}
