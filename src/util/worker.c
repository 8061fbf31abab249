/*  worker — signals and the command loop of actor threads; see worker.h.  */
#include "util/worker.h"

#include <pthread.h>
#include <signal.h>

void
worker_begin (const char *name)
{
    //  The kernel keeps 15 characters and a NUL; a longer name is refused
    char kept[16];
    snprintf (kept, sizeof kept, "%s", name);
    pthread_setname_np (pthread_self (), kept);
    sigset_t signals;
    sigemptyset (&signals);
    sigaddset (&signals, SIGINT);
    sigaddset (&signals, SIGTERM);
    pthread_sigmask (SIG_BLOCK, &signals, NULL);
}

char *
worker_next_command (zsock_t *pipe, zmsg_t **message_p)
{
    zmsg_t *message;
    do
        message = zmsg_recv (pipe);
    while (!message && zmq_errno () == EINTR);
    char *command = message ? zmsg_popstr (message) : NULL;
    if (!command || streq (command, "$TERM")) {
        free (command);
        zmsg_destroy (&message);
        command = NULL;
    }
    *message_p = message;
    return command;
}
