/*  raft_thread — the Raft actor's thread, private to src/replica: its
    state and the pieces its files share. raft_thread.c runs the loop and
    the peer sockets, raft_restore.c opens the stores and restores the core
    at start, raft_snapshots.c compacts the log and streams and installs
    snapshots. Nothing here is seen by the broker: it talks to the thread
    only through raft_actor.h.
*/
#ifndef RAFT_THREAD_H_INCLUDED
#define RAFT_THREAD_H_INCLUDED

#include <czmq.h>

#include "raft/raft_core.h"
#include "replica/peer_links.h"
#include "replica/raft_actor.h"
#include "replica/raft_pipe.h"
#include "storage/log_store.h"
#include "storage/log_syncer.h"
#include "storage/meta_store.h"
#include "storage/snapshot_transfer.h"
#include "util/diagnostic.h"
#include "util/disk_space.h"
#include "util/event_loop.h"
#include "util/metric_histogram.h"

//  One other node, reached through its own DEALER.

//  The thread's own state; lives on its thread only.
typedef struct {
    zsock_t *pipe;             //  to the broker
    event_loop_t *loop;        //  reactor of this thread
    uint32_t node_id;          //  this node
    uint32_t report_ms;        //  indexes and progress reach the broker at most this often
    int64_t tick_alarm_at;     //  due time of the earliest alarm that ticks the core, 0: none
    bool housekeeping_armed;   //  an alarm will report indexes and compact the log
    char *cluster;             //  cluster name, checked on every peer message
    meta_store_t *meta;        //  term and vote on disk
    log_store_t *log;          //  the log on disk
    log_syncer_t *syncer;      //  fdatasyncs the log off this loop
    uint64_t log_truncations;  //  suffix truncations so far: a sync from before one reports nothing
    uint64_t sync_ticket;      //  ticket of the latest sync handed to the syncer
    bool sync_in_flight;       //  the syncer is at it; its answer is due
    uint64_t sync_index;       //  in flight: last entry it makes durable
    uint64_t sync_term;        //  in flight: that entry's term
    uint64_t sync_truncations; //  in flight: log_truncations when handed off
    bool sync_wanted;          //  entries were written while one was in flight
    uint64_t wanted_index;     //  wanted: last entry written
    uint64_t wanted_term;      //  wanted: its term
    char *log_path;            //  its directory, for log lines
    raft_core_t *core;         //  the protocol
    zsock_t *router;           //  bound on the peer port; receives only
    peer_links_t *links;       //  DEALERs to the other nodes, their keys
    zmsg_t *rejected;          //  tickets refused since the last report, or NULL
    zmsg_t *reads;             //  READS to report (settled or refused), or NULL
    raft_pipe_batch_t *committed;         //  COMMITTED being built in a ready's round
    bool terminated;                      //  $TERM received
    bool state_reported;                  //  a STATE was sent at least once
    raft_role_t reported_role;            //  last STATE sent: role
    uint64_t reported_term;               //  term
    uint32_t reported_leader;             //  leader
    uint64_t reported_commit;             //  commit index
    uint64_t reported_last;               //  last index
    zframe_t *reported_progress;          //  body of the last PROGRESS sent, NULL before the first
    uint64_t dropped_sends;               //  peer messages dropped because a peer was unreachable
    uint64_t entries_written;             //  log entries appended since start
    metric_histogram_t *fsync_seconds;    //  how long each log sync took
    uint64_t reported_syncs;              //  syncs counted in the last METRICS
    uint64_t reported_dropped_sends;      //  dropped sends in the last METRICS
    diagnostic_limiter_t garbage_limiter; //  bounds complaints about bad peer traffic
    char *snapshot_dir;                   //  <node dir>/snap
    snapshot_writer_t *receiver;          //  writes a leader's snapshot off this loop, and prunes
    uint64_t snapshot_index;              //  newest snapshot file we hold, 0: none
    uint64_t snapshot_term;               //  term of its last entry
    uint32_t trailing_entries;            //  log entries kept behind a snapshot
    uint64_t compact_to;                  //  the log prefix is being dropped up to here
    uint64_t min_free_disk_bytes;         //  below this free on the log's disk, append nothing
    disk_space_watch_t *disk_watch;       //  free space of the log's filesystem, cached
    bool disk_low;                        //  below the watermark at the last decision
    bool commit_notice_armed;             //  an alarm will tell followers the commit index
} raft_thread_t;

//  Tells the core the time before a handler feeds it events: it ticks
//  only at its deadlines (raft_core_set_clock).
void raft_thread_clock (raft_thread_t *self);

//  The zactor function: args is the raft_actor_options_t, borrowed until
//  the thread signals.
void raft_thread_run (zsock_t *pipe, void *args);

//  Storage failed under the protocol: ends the process (see raft_thread.c).
void raft_thread_fatal (raft_thread_t *self, const char *what);

//  Sends one message to its addressee, or drops it.
void raft_thread_send_peer (raft_thread_t *self, const raft_message_t *message);

//  Acts on everything the core wants done, until it wants nothing more.
void raft_thread_process_ready (raft_thread_t *self);

//  raft_restore.c: opens the meta store and the log, builds the core from
//  them and from options, and restores the snapshot to start from and the
//  log after it. Returns 0, or -1 (logged).
int raft_restore_open (raft_thread_t *self, const raft_actor_options_t *options);

//  raft_snapshots.c: COMPACT from the broker: the snapshot of index (entry
//  of term) is durable. The log prefix it frees is dropped a step at a
//  time, by raft_snapshots_compact_step.
void raft_snapshots_compact (raft_thread_t *self, uint64_t index, uint64_t term);

//  Drops the next step of the log prefix a COMPACT freed, if any is left;
//  after each turn of the loop, with no ready outstanding.
void raft_snapshots_compact_step (raft_thread_t *self);

//  Streams what followers need and hands what a leader sent to the writer.
void raft_snapshots_handle_ready (raft_thread_t *self, const raft_ready_t *ready);

//  The loop's reader of the snapshot writer's reports.
int raft_snapshots_on_report (event_loop_t *loop, zsock_t *pipe, void *argument);

//  Deletes the log prefix up to up_to_index (UINT64_MAX: the whole log).
int raft_snapshots_drop_log_prefix (raft_thread_t *self, uint64_t up_to_index);

#endif
