/*  raft_restore — owns how the Raft thread starts: opening the meta store
    and the log in the node directory, building the core from them, and
    restoring the snapshot to start from (its header only: index, term,
    membership) and the log entries after it. A log that starts after the
    snapshot leaves a gap no one can fill: the node refuses to start rather
    than run a wrong state.
*/
#include "replica/raft_thread.h"

#include <sodium.h>
#include <unistd.h>

#include "storage/node_dir.h"
#include "storage/snapshot.h"

//  What replaying the log after a snapshot needs.
typedef struct {
    raft_core_t *core;       //  restored into
    uint64_t snapshot_index; //  entries up to this one are in the snapshot
    uint64_t snapshot_term;  //  term of that entry
    bool diverged;           //  the log holds that index with another term
} replay_t;

static uint64_t
s_random_seed (uint32_t node_id)
{
    uint64_t seed;
    if (sodium_init () >= 0)
        randombytes_buf (&seed, sizeof (seed));
    else
        seed = (uint64_t)zclock_time () ^ ((uint64_t)node_id << 32) ^ (uint64_t)getpid ();
    return seed;
}

static int
s_restore_entry_after_snapshot (const raft_entry_t *entry, void *argument)
{
    replay_t *replay = (replay_t *)argument;
    if (entry->index < replay->snapshot_index)
        return 0;
    if (entry->index == replay->snapshot_index) {
        //  An installed snapshot replaced a log that disagrees with it: the
        //  entries after it are not the leader's, keep none of them
        if (entry->term != replay->snapshot_term && replay->snapshot_index) {
            replay->diverged = true;
            return -1;
        }
        return 0;
    }
    return raft_core_restore_entry (replay->core, entry);
}

//  Gives the core the snapshot's index, term and membership.
static int
s_restore_snapshot_into_core (raft_thread_t *self, const raft_actor_snapshot_t *snapshot)
{
    size_t count = 0;
    raft_member_t *members =
        raft_core_config_decode (snapshot->membership, snapshot->membership_size, &count);
    if (!members) {
        diagnostic_line (self->node_id, DIAGNOSTIC_ERROR,
                         "snapshot %" PRIu64 ": malformed membership", snapshot->index);
        return -1;
    }
    int rc =
        raft_core_restore_snapshot (self->core, snapshot->index, snapshot->term, members, count);
    free (members);
    return rc;
}

//  The snapshot to start from: the one the broker restored, else the newest
//  valid one here. Returns it in *start (index 0: none); *loaded is what
//  to destroy once done with start's borrowed membership.
static void
s_find_start_snapshot (raft_thread_t *self, const raft_actor_snapshot_t *given,
                       raft_actor_snapshot_t *start, snapshot_t **loaded)
{
    memset (start, 0, sizeof (*start));
    *loaded = NULL;
    if (given) {
        *start = *given;
        return;
    }
    char report[1024] = "";
    *loaded = snapshot_load (self->snapshot_dir, UINT64_MAX, report, sizeof (report));
    if (report[0])
        diagnostic_line (self->node_id, DIAGNOSTIC_WARNING, "snapshots: %s", report);
    if (*loaded) {
        const snapshot_header_t *header = snapshot_header (*loaded);
        *start = (raft_actor_snapshot_t){header->index, header->term, header->membership,
                                         header->membership_size};
    }
}

//  Replays the log after the snapshot of replay into the core; a log that
//  disagrees with the snapshot is dropped whole. Returns 0 or -1 (logged).
static int
s_replay_log (raft_thread_t *self, replay_t *replay)
{
    uint64_t first = log_store_first_index (self->log);
    if (first > replay->snapshot_index + 1) {
        diagnostic_line (self->node_id, DIAGNOSTIC_ERROR,
                         "log %s starts at %" PRIu64 " but no valid snapshot reaches %" PRIu64
                         ": state lost, refusing to start",
                         self->log_path, first, first - 1);
        return -1;
    }
    if (log_store_replay (self->log, s_restore_entry_after_snapshot, replay) == 0) {
        //  A received snapshot is in place before the log behind it is
        //  emptied: a crash between the two leaves a log that ends below the
        //  snapshot, which the core (starting after it) would append to out
        //  of place. What it holds is covered by the snapshot: drop it.
        uint64_t last = log_store_last_index (self->log);
        if (last == 0 || last >= replay->snapshot_index)
            return 0;
        diagnostic_line (self->node_id, DIAGNOSTIC_WARNING,
                         "log %s ends at %" PRIu64 ", below snapshot %" PRIu64 ": dropping the log",
                         self->log_path, last, replay->snapshot_index);
        return raft_snapshots_drop_log_prefix (self, UINT64_MAX);
    }
    if (!replay->diverged) {
        diagnostic_line (self->node_id, DIAGNOSTIC_ERROR, "cannot restore log %s into the core",
                         self->log_path);
        return -1;
    }
    //  Nothing after the snapshot reached the core (the snapshot's own
    //  entry comes first): drop the whole log and continue after it
    diagnostic_line (self->node_id, DIAGNOSTIC_WARNING,
                     "log %s disagrees with snapshot %" PRIu64 ": dropping the log", self->log_path,
                     replay->snapshot_index);
    return raft_snapshots_drop_log_prefix (self, UINT64_MAX);
}

//  Restores the snapshot to start from (if any) into the core, then the
//  log entries after it.
static int
s_restore_snapshot_and_log (raft_thread_t *self, const raft_actor_snapshot_t *given)
{
    raft_actor_snapshot_t start;
    snapshot_t *loaded;
    s_find_start_snapshot (self, given, &start, &loaded);
    replay_t replay = {.core = self->core};
    if (start.index) {
        replay.snapshot_index = start.index;
        replay.snapshot_term = start.term;
        int rc = s_restore_snapshot_into_core (self, &start);
        snapshot_destroy (&loaded);
        if (rc)
            return -1;
        self->snapshot_index = start.index;
        self->snapshot_term = start.term;
    }
    if (s_replay_log (self, &replay))
        return -1;
    return 0;
}

//  Opens the meta store and the log of the node directory.
static int
s_open_stores (raft_thread_t *self, const raft_actor_options_t *options)
{
    char path[PATH_MAX];
    char error[1024] = "";
    if (zsys_dir_create ("%s", options->node_dir)) {
        diagnostic_line (self->node_id, DIAGNOSTIC_ERROR, "cannot create %s: %s", options->node_dir,
                         strerror (errno));
        return -1;
    }
    //  The meta store keeps its file "meta" inside the node directory
    self->meta = meta_store_open (options->node_dir, error, sizeof (error));
    if (!self->meta) {
        diagnostic_line (self->node_id, DIAGNOSTIC_ERROR, "cannot open meta store %s: %s",
                         options->node_dir, error);
        return -1;
    }
    if (node_dir_log_path (path, sizeof (path), options->node_dir) ||
        !(self->log_path = strdup (path)))
        return -1;
    self->log = log_store_open (path, options->segment_bytes, error, sizeof (error));
    if (!self->log) {
        //  error names the file (and, for corruption, the offset) already
        diagnostic_line (self->node_id, DIAGNOSTIC_ERROR, "cannot open the log: %s", error);
        return -1;
    }
    if (log_store_recovered_bytes (self->log))
        diagnostic_line (self->node_id, DIAGNOSTIC_WARNING,
                         "log %s: truncated %" PRIu64 " bytes of torn or corrupt tail", path,
                         log_store_recovered_bytes (self->log));
    return 0;
}

//  Builds the core from the options and the term and vote on disk.
static int
s_build_core (raft_thread_t *self, const raft_actor_options_t *options)
{
    raft_core_options_t core_options = {
        .self_id = self->node_id,
        .members = options->members,
        .member_count = options->member_count,
        .heartbeat_ms = options->heartbeat_ms,
        .election_timeout_min_ms = options->election_timeout_min_ms,
        .election_timeout_max_ms = options->election_timeout_max_ms,
        .random_seed = s_random_seed (self->node_id),
        .now_ms = (uint64_t)zclock_mono (),
        .term = meta_store_term (self->meta),
        .voted_for = meta_store_voted_for (self->meta),
    };
    self->core = raft_core_new (&core_options);
    if (!self->core) {
        diagnostic_line (self->node_id, DIAGNOSTIC_ERROR, "raft core refused its options");
        return -1;
    }
    return 0;
}

//  Opens what snapshots need: the directory and the writer that receives
//  a leader's snapshot (and prunes).
static int
s_open_snapshots (raft_thread_t *self, const raft_actor_options_t *options)
{
    char path[PATH_MAX];
    if (node_dir_snapshot_path (path, sizeof (path), options->node_dir) ||
        !(self->snapshot_dir = strdup (path)))
        return -1;
    self->trailing_entries = options->snapshot_trailing_entries;
    self->min_free_disk_bytes = options->min_free_disk_bytes;
    self->receiver = snapshot_writer_new (self->snapshot_dir);
    if (!self->receiver) {
        diagnostic_line (self->node_id, DIAGNOSTIC_ERROR, "cannot start the snapshot receiver");
        return -1;
    }
    return 0;
}

int
raft_restore_open (raft_thread_t *self, const raft_actor_options_t *options)
{
    if (s_open_stores (self, options) || s_build_core (self, options) ||
        s_open_snapshots (self, options) || s_restore_snapshot_and_log (self, options->snapshot))
        return -1;
    diagnostic_line (self->node_id, DIAGNOSTIC_INFO,
                     "recovered term %" PRIu64 ", vote %u, log %" PRIu64 "..%" PRIu64 " (%" PRIu64
                     " bytes)",
                     meta_store_term (self->meta), meta_store_voted_for (self->meta),
                     log_store_first_index (self->log), log_store_last_index (self->log),
                     log_store_size (self->log));
    return 0;
}
