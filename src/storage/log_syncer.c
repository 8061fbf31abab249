/*  log_syncer — fdatasync off the Raft loop; see log_syncer.h.  */
#include "storage/log_syncer.h"
#include "util/worker.h"

#include <errno.h>
#include <unistd.h>

struct _log_syncer_t {
    zactor_t *actor; //  the thread that syncs
};

//  Syncs each descriptor it is handed, in order, and says how it went.
static void
s_syncer_actor (zsock_t *pipe, void *argument)
{
    (void)argument;
    worker_begin ("raftq-syncer");
    zsock_signal (pipe, 0);
    zmsg_t *message;
    char *command;
    while ((command = worker_next_command (pipe, &message))) {
        zframe_t *fd_frame = zmsg_first (message);
        zframe_t *ticket_frame = zmsg_next (message);
        if (streq (command, "SYNC") && fd_frame && zframe_size (fd_frame) == sizeof (int) &&
            ticket_frame && zframe_size (ticket_frame) == sizeof (uint64_t)) {
            int fd;
            uint64_t ticket;
            memcpy (&fd, zframe_data (fd_frame), sizeof fd);
            memcpy (&ticket, zframe_data (ticket_frame), sizeof ticket);
            int64_t started = zclock_usecs ();
            int error = fdatasync (fd) ? errno : 0;
            uint64_t usecs = (uint64_t)(zclock_usecs () - started);
            close (fd);
            zsock_send (pipe, "s88i", "SYNCED", ticket, usecs, error);
        }
        free (command);
        zmsg_destroy (&message);
    }
}

log_syncer_t *
log_syncer_new (void)
{
    log_syncer_t *self = calloc (1, sizeof (log_syncer_t));
    if (!self)
        return NULL;
    self->actor = zactor_new (s_syncer_actor, NULL);
    if (!self->actor)
        log_syncer_destroy (&self);
    return self;
}

void
log_syncer_destroy (log_syncer_t **self_p)
{
    if (*self_p) {
        zactor_destroy (&(*self_p)->actor);
        free (*self_p);
        *self_p = NULL;
    }
}

zsock_t *
log_syncer_sock (log_syncer_t *self)
{
    return zactor_sock (self->actor);
}

int
log_syncer_sync (log_syncer_t *self, int fd, uint64_t ticket)
{
    zmsg_t *message = zmsg_new ();
    zmsg_addstr (message, "SYNC");
    zmsg_addmem (message, &fd, sizeof fd);
    zmsg_addmem (message, &ticket, sizeof ticket);
    if (zmsg_send (&message, self->actor) == 0)
        return 0;
    zmsg_destroy (&message);
    close (fd);
    return -1;
}

int
log_syncer_recv (log_syncer_t *self, uint64_t *ticket, uint64_t *usecs, int *error)
{
    char *command = NULL;
    int rc = zsock_recv (self->actor, "s88i", &command, ticket, usecs, error);
    bool synced = rc == 0 && command && streq (command, "SYNCED");
    free (command);
    return synced ? 0 : -1;
}
