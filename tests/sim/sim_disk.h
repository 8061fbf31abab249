/*  sim_disk — one node's simulated storage. The hard state (term, vote) is
    saved synchronously, as the meta store does, and so is a snapshot (an
    opaque blob covering the log up to an index). Log writes (truncations
    and appends, in order) first land in a volatile tail; a sync makes the
    whole tail durable. A crash loses the volatile tail, or keeps a random
    prefix of it (a torn write: some of the writes reached the platter, in
    order); a rarer fault loses synced entries at the end of the log too.
    Durable state is what a restarted node is built from.
*/
#ifndef SIM_DISK_H_INCLUDED
#define SIM_DISK_H_INCLUDED

#include "raft/raft_core.h"
#include "sim_random.h"

typedef struct _sim_disk_t sim_disk_t;

sim_disk_t *sim_disk_new (void);

void sim_disk_destroy (sim_disk_t **self_p);

//  Saves term and vote durably. Returns -1 if that would move the term back
//  or change a vote already cast in this term (the core must never ask).
int sim_disk_save_hard_state (sim_disk_t *self, uint64_t term, uint32_t voted_for);

uint64_t sim_disk_term (sim_disk_t *self);
uint32_t sim_disk_voted_for (sim_disk_t *self);

//  Queues a truncation (entries >= truncate_from, if nonzero) then appends
//  copies of entries, all volatile. Returns -1 if the entries do not follow
//  the log as it will be (the core handed out a gap or an overlap), or the
//  truncation reaches into the snapshot.
int sim_disk_write (sim_disk_t *self, uint64_t truncate_from, const raft_entry_t *entries,
                    size_t count);

//  Whether writes are waiting for a sync.
bool sim_disk_dirty (sim_disk_t *self);

//  Makes every queued write durable.
void sim_disk_sync (sim_disk_t *self);

//  Loses the volatile tail; with torn, a random prefix of it survives.
void sim_disk_crash (sim_disk_t *self, sim_random_t *random, bool torn);

//  Loses durable entries >= from_index (never the snapshot), as a log store
//  does that cuts a corrupt tail on restart: entries it once synced (and a
//  leader may have counted) are gone. Only for a crashed node: queued
//  writes are dropped too.
void sim_disk_lose_suffix (sim_disk_t *self, uint64_t from_index);

//  Saves a snapshot of the log up to index (whose entry has term) durably,
//  then drops the durable entries it covers. Returns 0 or -1 if index is
//  not durable in the log or below the snapshot held.
int sim_disk_compact (sim_disk_t *self, uint64_t index, uint64_t term, const uint8_t *blob,
                      size_t size);

//  Saves a snapshot received from the leader durably and drops the whole
//  log, queued writes included: the log continues after index.
int sim_disk_install (sim_disk_t *self, uint64_t index, uint64_t term, const uint8_t *blob,
                      size_t size);

//  The snapshot: its blob (NULL if none), size, index and term.
const uint8_t *sim_disk_snapshot (sim_disk_t *self, size_t *size, uint64_t *index, uint64_t *term);

//  The durable log: entries after the snapshot index up to the last index.
uint64_t sim_disk_snapshot_index (sim_disk_t *self);
uint64_t sim_disk_last_index (sim_disk_t *self);
//  Term of the last entry, or of the snapshot's when the log is empty.
uint64_t sim_disk_last_term (sim_disk_t *self);
//  The entry at index, NULL if the log does not hold it (or the snapshot does).
const raft_entry_t *sim_disk_entry (sim_disk_t *self, uint64_t index);

#endif
