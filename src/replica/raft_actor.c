/*  raft_actor — owns the broker's handle on the Raft actor: starting the
    thread (raft_thread.c) with its options, queueing proposals, asking for
    compaction and admin changes, and receiving the thread's events. The
    messages themselves are raft_pipe's. See raft_actor.h.
*/
#include "replica/raft_actor.h"

#include "replica/raft_pipe.h"
#include "replica/raft_thread.h"
#include "util/diagnostic.h"
#include "util/thread_priority.h"

struct _raft_actor_t {
    zactor_t *actor;                //  the Raft thread
    raft_pipe_batch_t *batch;       //  PROPOSE being filled
    zmsg_t *reads;                  //  READ being filled, NULL when nothing is queued
    uint32_t node_id;               //  for log lines
    raft_actor_progress_t progress; //  what the latest PROGRESS said (matches owned)
};

//  The Raft thread, ahead of the node's bulk work (thread_priority.h)
static void
s_run (zsock_t *pipe, void *argument)
{
    const raft_actor_options_t *options = (const raft_actor_options_t *)argument;
    thread_priority_t got = thread_priority_raise_self (options->priority);
    if (got < options->priority)
        diagnostic_line (options->node_id, DIAGNOSTIC_INFO,
                         "the Raft thread runs at the %s priority, not %s (%s): on a loaded "
                         "machine it may wait for a CPU past an election timeout",
                         thread_priority_name (got), thread_priority_name (options->priority),
                         strerror (errno));
    raft_thread_run (pipe, argument);
}

raft_actor_t *
raft_actor_new (const raft_actor_options_t *options)
{
    assert (options && options->node_dir && options->cluster && options->host);
    raft_actor_t *self = calloc (1, sizeof (raft_actor_t));
    if (!self)
        return NULL;
    self->node_id = options->node_id;
    self->batch = raft_pipe_batch_new ();
    //  Pipes must never block: a broker and an actor each blocked sending
    //  to the other would deadlock. czmq applies this to pipes created next.
    zsys_set_pipehwm (0);
    //  The thread copies what it keeps before it signals
    self->actor = zactor_new (s_run, (void *)options);
    if (!self->actor || raft_pipe_recv_ready (zactor_sock (self->actor)))
        raft_actor_destroy (&self);
    return self;
}

void
raft_actor_destroy (raft_actor_t **self_p)
{
    if (*self_p) {
        raft_actor_t *self = *self_p;
        //  zactor_destroy waits for the thread's last signal on this socket
        if (self->actor)
            zsock_set_rcvtimeo (zactor_sock (self->actor), -1);
        zactor_destroy (&self->actor);
        raft_pipe_batch_destroy (&self->batch);
        zmsg_destroy (&self->reads);
        free (self->progress.matches);
        free (self);
        *self_p = NULL;
    }
}

zsock_t *
raft_actor_sock (raft_actor_t *self)
{
    return zactor_sock (self->actor);
}

void
raft_actor_propose (raft_actor_t *self, uint64_t ticket, zframe_t **payload_p)
{
    raft_pipe_add_proposal (self->batch, ticket, payload_p);
}

size_t
raft_actor_queued (raft_actor_t *self)
{
    return raft_pipe_batch_count (self->batch);
}

int
raft_actor_compact (raft_actor_t *self, uint64_t index, uint64_t term)
{
    return raft_pipe_send_compact (zactor_sock (self->actor), index, term);
}

void
raft_actor_read (raft_actor_t *self, uint64_t ticket)
{
    raft_pipe_add_read (&self->reads, ticket);
}

int
raft_actor_flush (raft_actor_t *self)
{
    int rc = 0;
    if (raft_pipe_send_proposals (zactor_sock (self->actor), self->batch))
        rc = -1;
    //  After the proposals: a read and a write of one turn are concurrent,
    //  either order is linearizable
    if (self->reads && zmsg_send (&self->reads, zactor_sock (self->actor)))
        rc = -1;
    return rc;
}

int
raft_actor_admin (raft_actor_t *self, uint64_t ticket, raft_actor_admin_kind_t kind,
                  const raft_member_t *member)
{
    return raft_pipe_send_admin (zactor_sock (self->actor), ticket, kind, member);
}

const double *
raft_actor_fsync_bounds (size_t *bound_count)
{
    //  From a page-cache write on tmpfs to a disk that makes Raft miss
    //  heartbeats
    static const double bounds[] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
                                    0.025,  0.05,    0.1,    0.25,  0.5,    1,     2.5};
    *bound_count = sizeof bounds / sizeof bounds[0];
    return bounds;
}

const raft_actor_progress_t *
raft_actor_progress (raft_actor_t *self)
{
    return &self->progress;
}

int
raft_actor_recv (raft_actor_t *self, raft_actor_event_t *event)
{
    memset (event, 0, sizeof (*event));
    zmsg_t *message = zmsg_recv (zactor_sock (self->actor));
    if (!message)
        return -1;
    char *command = zmsg_popstr (message);
    event->message = message;
    if (raft_pipe_decode_event (command, message, event, &self->progress)) {
        diagnostic_line (self->node_id, DIAGNOSTIC_ERROR,
                         "malformed '%s' message from the raft actor", command ? command : "");
        raft_actor_event_clear (event);
    }
    zstr_free (&command);
    return 0;
}

void
raft_actor_event_clear (raft_actor_event_t *event)
{
    free (event->entries);
    free (event->tickets);
    free (event->reads);
    free (event->members);
    zmsg_destroy (&event->message);
    memset (event, 0, sizeof (*event));
}
