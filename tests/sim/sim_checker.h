/*  sim_checker — the Raft safety properties, checked as a simulated run goes.

    It mirrors each node's log as a chain of hashes (the hash at an index
    covers the whole log up to it), so comparing two logs up to an index is
    comparing two numbers:
    - election safety: at most one leader per term, over the whole run;
    - log matching: two logs with an entry of the same index and term hold
      the same entries up to it;
    - leader completeness: an entry known committed while some node was in
      term T is in the log of every leader of a term above T;
    - state machine safety: nodes apply the same entry at each index, each in
      order, without gaps, and no command is applied at two indexes; a
      snapshot installed stands for the state applied at its index.
    Every check returns 0, or -1 with the reason in sim_checker_error.
*/
#ifndef SIM_CHECKER_H_INCLUDED
#define SIM_CHECKER_H_INCLUDED

#include "raft/raft_core.h"

typedef struct _sim_checker_t sim_checker_t;

//  Nodes are numbered 1..node_count.
sim_checker_t *sim_checker_new (size_t node_count);

void sim_checker_destroy (sim_checker_t **self_p);

//  Why the last check failed.
const char *sim_checker_error (sim_checker_t *self);

//  Node observed as leader of term.
int sim_checker_leader (sim_checker_t *self, uint32_t node, uint64_t term);

//  Node's log lost entries >= from_index.
int sim_checker_truncate (sim_checker_t *self, uint32_t node, uint64_t from_index);

//  Node's log grew by these entries (which must follow its last).
int sim_checker_append (sim_checker_t *self, uint32_t node, const raft_entry_t *entries,
                        size_t count);

//  Node restarts: its log mirror and its applied sequence start over.
void sim_checker_restart (sim_checker_t *self, uint32_t node);

//  Hash of node's log up to index (0 if not known): what a snapshot of its
//  state machine at index stands for.
uint64_t sim_checker_chain (sim_checker_t *self, uint32_t node, uint64_t index);

//  Node compacted its log up to index (applied).
int sim_checker_compact (sim_checker_t *self, uint32_t node, uint64_t index);

//  Node's log and state machine are now a snapshot up to index, entry of
//  term, standing for chain: it must be the committed (applied) state there.
int sim_checker_install (sim_checker_t *self, uint32_t node, uint64_t index, uint64_t term,
                         uint64_t chain);

//  Node, in term, knows entries up to commit_index are committed.
int sim_checker_commit (sim_checker_t *self, uint32_t node, uint64_t commit_index, uint64_t term);

//  Node leads term: its log must hold what was committed before that term.
int sim_checker_leader_complete (sim_checker_t *self, uint32_t node, uint64_t term);

//  Node applies entry.
int sim_checker_apply (sim_checker_t *self, uint32_t node, const raft_entry_t *entry);

//  Counters for the run's totals.
uint64_t sim_checker_elections (sim_checker_t *self);
uint64_t sim_checker_committed (sim_checker_t *self);

#endif
