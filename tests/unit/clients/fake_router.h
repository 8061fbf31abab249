/*  fake_router — what the fake clusters of the libraftq tests share: a
    reply sent on a fake node's ROUTER in the envelope a DEALER expects,
    and the listings a fake cluster's actor answers the test with.
    Header-only (static inline): each test file is a binary of its own.
*/
#ifndef FAKE_ROUTER_H_INCLUDED
#define FAKE_ROUTER_H_INCLUDED

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <czmq.h>
#include <inttypes.h>

#include "raftq.h"
#include "raftq.pb-c.h"

//  Sends reply to the peer *identity_p on router as [identity][][body];
//  takes the identity.
static inline void
fake_router_send (zsock_t *router, zframe_t **identity_p, const Raftq__Reply *reply)
{
    zframe_t *body = zframe_new (NULL, raftq__reply__get_packed_size (reply));
    raftq__reply__pack (reply, zframe_data (body));
    zmsg_t *message = zmsg_new ();
    zmsg_append (message, &body);
    zmsg_pushmem (message, NULL, 0);
    zmsg_prepend (message, identity_p);
    zmsg_send (&message, router);
}

//  Receives the actor's answer to a listing command, [name][entry]..., and
//  checks its name. Returns the entries still to pop (caller destroys).
static inline zmsg_t *
fake_listing_receive (zactor_t *actor, const char *name)
{
    zmsg_t *listing = zmsg_recv (actor);
    assert_non_null (listing);
    char *header = zmsg_popstr (listing);
    assert_string_equal (header, name);
    zstr_free (&header);
    return listing;
}

//  What a fake cluster's actor does with a command from the test on its
//  pipe: returns -1 to end (on $TERM), else 0.
typedef int (fake_command_fn) (zsock_t *pipe, void *cluster);

//  What it does with one of its sockets that became readable.
typedef void (fake_readable_fn) (void *cluster, void *socket);

//  The actor's loop: waits on poller (the pipe and the fake's sockets)
//  and hands each event to command or readable, until command says stop.
static inline void
fake_actor_loop (zsock_t *pipe, zpoller_t *poller, void *cluster, fake_command_fn *command,
                 fake_readable_fn *readable)
{
    while (true) {
        void *which = zpoller_wait (poller, -1);
        if (!which)
            return;
        if (which == pipe) {
            if (command (pipe, cluster) != 0)
                return;
        } else
            readable (cluster, which);
    }
}

//  Destroys a list of malloc'd strings (log entries), freeing each.
static inline void
fake_strings_destroy (zlist_t **list_p)
{
    char *entry;
    while (*list_p && (entry = (char *)zlist_pop (*list_p)))
        free (entry);
    zlist_destroy (list_p);
}

#endif
