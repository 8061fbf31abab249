/*  raft_snapshots — owns snapshots on the Raft side: compacting the log
    once the broker's snapshot is durable, streaming our newest snapshot
    file to a follower, and taking in a leader's once the writer has
    received it. Only headers are read here (index, term, membership): the
    state machine's bytes are the broker's, which loads the body itself
    when told INSTALLED.
*/
#include "replica/raft_thread.h"

#include "replica/raft_pipe.h"
#include "storage/snapshot.h"

//  Bytes of a snapshot file per InstallSnapshot message.
#define SNAPSHOT_CHUNK_BYTES (256 * 1024)
//  Log entries dropped per step of a compaction: each is a payload to
//  free, and the 190,000 of a 64 MiB log at once held this thread for
//  0.7-1.2 s under load, past the followers' election timeout.
#define COMPACT_STEP_ENTRIES 4096

int
raft_snapshots_drop_log_prefix (raft_thread_t *self, uint64_t up_to_index)
{
    //  An empty log has nothing to delete (and log_store would memmove NULL)
    if (log_store_last_index (self->log) == 0)
        return 0;
    return log_store_truncate_prefix (self->log, up_to_index);
}

//  The core and the log keep the trailing window behind the snapshot, so a
//  follower a little behind still catches up from the log.
void
raft_snapshots_compact (raft_thread_t *self, uint64_t index, uint64_t term)
{
    if (index > self->snapshot_index) {
        self->snapshot_index = index;
        self->snapshot_term = term;
    }
    //  The writer owns pruning: a new snapshot is in place
    if (snapshot_writer_prune (self->receiver))
        diagnostic_line (self->node_id, DIAGNOSTIC_ERROR,
                         "cannot ask the snapshot writer to prune");
    event_loop_touched (self->loop, snapshot_writer_sock (self->receiver));
    uint64_t up_to = index > self->trailing_entries ? index - self->trailing_entries : 0;
    if (up_to > self->compact_to)
        self->compact_to = up_to;
    raft_snapshots_compact_step (self);
}

void
raft_snapshots_compact_step (raft_thread_t *self)
{
    uint64_t done = raft_core_snapshot_index (self->core);
    if (self->compact_to <= done)
        return;
    uint64_t up_to = self->compact_to - done > COMPACT_STEP_ENTRIES ? done + COMPACT_STEP_ENTRIES
                                                                    : self->compact_to;
    if (up_to > raft_core_applied_index (self->core))
        return;
    if (raft_core_compact (self->core, up_to)) {
        diagnostic_line (self->node_id, DIAGNOSTIC_ERROR,
                         "raft core refused to compact to %" PRIu64, up_to);
        self->compact_to = 0;
        return;
    }
    if (raft_snapshots_drop_log_prefix (self, up_to))
        raft_thread_fatal (self, "cannot delete the log prefix");
}

//  Leader: sends one chunk of our newest snapshot file. A follower asking
//  for another one (pruned since, or 0: start) gets the newest from 0.
static void
s_send_snapshot_chunk (raft_thread_t *self, const raft_snapshot_send_t *send)
{
    if (!self->snapshot_index)
        return;
    uint64_t offset = send->index == self->snapshot_index ? send->offset : 0;
    char path[PATH_MAX];
    snapshot_path (self->snapshot_dir, self->snapshot_index, path, sizeof (path));
    uint8_t *buffer = malloc (SNAPSHOT_CHUNK_BYTES);
    if (!buffer)
        return;
    uint64_t file_size = 0;
    ssize_t size = snapshot_read_chunk (path, offset, buffer, SNAPSHOT_CHUNK_BYTES, &file_size);
    if (size >= 0) {
        raft_message_t message = {.type = RAFT_MESSAGE_INSTALL_SNAPSHOT,
                                  .from = self->node_id,
                                  .to = send->to,
                                  .term = send->term,
                                  .snapshot_index = self->snapshot_index,
                                  .snapshot_term = self->snapshot_term,
                                  .offset = offset,
                                  .data = buffer,
                                  .data_size = (size_t)size,
                                  .done = offset + (uint64_t)size >= file_size};
        raft_thread_send_peer (self, &message);
    } else
        diagnostic_line (self->node_id, DIAGNOSTIC_WARNING, "cannot read snapshot %s for node %u",
                         path, send->to);
    free (buffer);
}

void
raft_snapshots_handle_ready (raft_thread_t *self, const raft_ready_t *ready)
{
    for (size_t position = 0; position < ready->snapshot_send_count; position++)
        s_send_snapshot_chunk (self, &ready->snapshot_sends[position]);
    for (size_t position = 0; position < ready->snapshot_chunk_count; position++) {
        const raft_snapshot_chunk_t *chunk = &ready->snapshot_chunks[position];
        if (snapshot_writer_chunk (self->receiver, chunk->index, chunk->term, chunk->offset,
                                   chunk->data, chunk->size, chunk->done))
            diagnostic_line (self->node_id, DIAGNOSTIC_ERROR, "cannot queue a snapshot chunk");
        event_loop_touched (self->loop, snapshot_writer_sock (self->receiver));
    }
}

//  Gives the core the header of the received snapshot of index (the file
//  is verified and in place). Returns 0 when the core took it, 1 when it
//  declined (its log already holds all the snapshot covers, or the snapshot
//  is stale), -1 when the file is unreadable or disagrees with what the
//  leader announced (logged).
static int
s_install_header (raft_thread_t *self, uint64_t index, uint64_t term)
{
    char error[1024] = "";
    snapshot_t *snapshot = snapshot_load_header (self->snapshot_dir, index, error, sizeof (error));
    if (snapshot && snapshot_header (snapshot)->term != term)
        snprintf (error, sizeof (error), "its term %" PRIu64 " is not the announced %" PRIu64,
                  snapshot_header (snapshot)->term, term);
    if (!snapshot || error[0]) {
        diagnostic_line (self->node_id, DIAGNOSTIC_ERROR,
                         "received snapshot %" PRIu64 " unusable: %s", index, error);
        snapshot_destroy (&snapshot);
        return -1;
    }
    size_t size;
    const uint8_t *bytes = snapshot_membership (snapshot, &size);
    size_t count = 0;
    raft_member_t *members = raft_core_config_decode (bytes, size, &count);
    snapshot_destroy (&snapshot);
    if (!members) {
        diagnostic_line (self->node_id, DIAGNOSTIC_ERROR,
                         "received snapshot %" PRIu64 " unusable: its membership does not decode",
                         index);
        return -1;
    }
    int rc = raft_core_snapshot_installed (self->core, index, term, members, count);
    free (members);
    return rc ? 1 : 0;
}

//  A leader's snapshot is durable here: the core takes it, the log is
//  emptied (it continues after the snapshot) and the broker loads it. One
//  the core declines is still a verified snapshot of committed state (a
//  leader snapshots only what it applied), now the newest in snap/: if it
//  is newer than ours it becomes the one this node streams, so pruning
//  (which keeps the newest) never leaves the node without the file it
//  offers.
static void
s_install_received (raft_thread_t *self, uint64_t index, uint64_t term)
{
    int taken = s_install_header (self, index, term);
    if (taken == -1)
        return;
    if (taken == 0 && raft_snapshots_drop_log_prefix (self, UINT64_MAX))
        raft_thread_fatal (self, "cannot empty the log for a snapshot");
    if (index > self->snapshot_index) {
        self->snapshot_index = index;
        self->snapshot_term = term;
    }
    if (taken == 1) {
        diagnostic_line (self->node_id, DIAGNOSTIC_INFO,
                         "kept the log: it already holds snapshot %" PRIu64, index);
        return;
    }
    diagnostic_line (self->node_id, DIAGNOSTIC_INFO,
                     "installed snapshot %" PRIu64 " from the leader", index);
    raft_pipe_send_installed (self->pipe, index);
}

int
raft_snapshots_on_report (event_loop_t *loop, zsock_t *pipe, void *argument)
{
    (void)loop;
    (void)pipe;
    raft_thread_t *self = (raft_thread_t *)argument;
    raft_thread_clock (self);
    snapshot_report_t report;
    if (snapshot_writer_recv (self->receiver, &report))
        return 0;
    if (report.outcome == SNAPSHOT_RECEIVED)
        s_install_received (self, report.index, report.term);
    else if (report.outcome == SNAPSHOT_FAILED)
        diagnostic_line (self->node_id, DIAGNOSTIC_WARNING, "receiving snapshot %" PRIu64 ": %s",
                         report.index, report.reason);
    raft_thread_process_ready (self);
    return 0;
}
