/*  read_path — the leader's reads without the log; see read_path.h.  */
#include "broker/read_path.h"

#include "broker/proposal.h"
#include "broker/server_private.h"
#include "state/command.h"

//  A read the actor settled, waiting for the state machine to apply its
//  index. Read indexes settle in nondecreasing order, so a FIFO suffices.
typedef struct {
    uint64_t ticket; //  the parked request
    uint64_t index;  //  answer once applied reaches it
} ready_read_t;

struct _read_path_t {
    zlistx_t *ready;  //  ready_read_t, oldest first
    size_t unsettled; //  reads passed to the Raft actor that no READS settled yet
};

static void
s_ready_destroy (void **item)
{
    free (*item);
    *item = NULL;
}

read_path_t *
read_path_new (void)
{
    read_path_t *self = (read_path_t *)calloc (1, sizeof (read_path_t));
    if (!self)
        return NULL;
    self->ready = zlistx_new ();
    if (!self->ready) {
        free (self);
        return NULL;
    }
    zlistx_set_destructor (self->ready, s_ready_destroy);
    return self;
}

void
read_path_destroy (read_path_t **self_p)
{
    if (*self_p) {
        zlistx_destroy (&(*self_p)->ready);
        free (*self_p);
        *self_p = NULL;
    }
}

//  The request's state machine command, if it is a query; false otherwise.
static bool
s_query_of (const client_request_t *request, Raftq__State__Command *command)
{
    Raftq__State__Command built = RAFTQ__STATE__COMMAND__INIT;
    if (command_from_request (request->decoded.request, &built) || !fsm_is_query (&built))
        return false;
    *command = built;
    return true;
}

bool
read_path_handles (const client_request_t *request)
{
    Raftq__State__Command command;
    return s_query_of (request, &command);
}

int
read_path_admit (read_path_t *self, char *error, size_t error_size)
{
    if (self->unsettled >= READ_PATH_MAX_UNSETTLED) {
        snprintf (error, error_size, "too many pending reads on this node (%d)",
                  READ_PATH_MAX_UNSETTLED);
        return -1;
    }
    self->unsettled++;
    return 0;
}

size_t
read_path_unsettled (read_path_t *self)
{
    return self->unsettled;
}

void
read_path_serve (server_t *server, client_request_t *request)
{
    if (cluster_view_role (server->view) != RAFT_ROLE_LEADER) {
        //  The actor settled every read of our leadership when it stepped
        //  down, before it told us so: whatever is still counted is a READS
        //  message lost (out of memory), and must not hold the bound forever
        server->reads->unsettled = 0;
        client_port_reply_not_leader (server->port, request, server->view,
                                      cluster_view_leader_id (server->view));
        client_request_destroy (&request);
        return;
    }
    char error[128];
    if (read_path_admit (server->reads, error, sizeof error)) {
        client_port_reply_error (server->port, request, RAFTQ__CODE__RESOURCE_EXHAUSTED, error);
        client_request_destroy (&request);
        return;
    }
    if (proposal_park (server, request)) {
        server->reads->unsettled--;
        return;
    }
    raft_actor_read (server->raft, request->ticket);
}

//  Answers the parked read of ticket from the applied state.
static void
s_answer (server_t *server, uint64_t ticket)
{
    client_request_t *request = waiting_table_unpark (server->waiting, ticket);
    if (!request)
        return; //  timed out meanwhile: answered already
    Raftq__State__Command command;
    Raftq__Reply *reply = s_query_of (request, &command) ? fsm_query (server->fsm, &command) : NULL;
    if (reply) {
        client_port_reply (server->port, request, reply);
        raftq__reply__free_unpacked (reply, NULL);
    } else
        client_port_reply_error (server->port, request, RAFTQ__CODE__INTERNAL,
                                 "not a read-only operation");
    client_request_destroy (&request);
}

//  Holds the read of ticket until applied reaches index. Returns 0, or -1
//  out of memory, holding nothing.
static int
s_hold (read_path_t *self, uint64_t ticket, uint64_t index)
{
    ready_read_t *ready = (ready_read_t *)malloc (sizeof (ready_read_t));
    if (!ready)
        return -1;
    *ready = (ready_read_t){.ticket = ticket, .index = index};
    if (zlistx_add_end (self->ready, ready))
        return 0; //  the list owns it now
    free (ready);
    return -1;
}

void
read_path_settled (server_t *server, const raft_actor_event_t *event)
{
    read_path_t *self = server->reads;
    self->unsettled -= event->read_count < self->unsettled ? event->read_count : self->unsettled;
    for (size_t position = 0; position < event->read_count; position++) {
        const raft_read_t *read = &event->reads[position];
        if (read->outcome != RAFT_READ_READY) {
            client_request_t *request = waiting_table_unpark (server->waiting, read->id);
            if (request) {
                client_port_reply_not_leader (server->port, request, server->view,
                                              cluster_view_leader_id (server->view));
                client_request_destroy (&request);
            }
        } else if (read->index <= fsm_applied_index (server->fsm))
            s_answer (server, read->id);
        else if (s_hold (self, read->id, read->index)) {
            client_request_t *request = waiting_table_find (server->waiting, read->id);
            if (request)
                proposal_finish (server, request, RAFTQ__CODE__INTERNAL, "out of memory");
        }
    }
}

void
read_path_applied (server_t *server)
{
    uint64_t applied = fsm_applied_index (server->fsm);
    ready_read_t *ready;
    while ((ready = (ready_read_t *)zlistx_first (server->reads->ready)) &&
           ready->index <= applied) {
        s_answer (server, ready->ticket);
        zlistx_delete (server->reads->ready, zlistx_cursor (server->reads->ready));
    }
}
