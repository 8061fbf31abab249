/*  gateway_http — the gateway's HTTP server (libmicrohttpd): connections,
    request bodies, the checks every request passes (body cap, JSON,
    Origin, CSRF, session cookie), the routes to the handlers and the
    embedded pages.

    Threads: one thread per connection (MHD_USE_THREAD_PER_CONNECTION).
    Each connection owns its libraftq client, made at its first API request
    and used only by that connection's thread (MHD's own thread destroys it
    once it has joined that thread); an event stream owns its subscription
    the same way. Nothing in the cluster's reach is shared
    between threads; what they all read (options, sealing key) is fixed
    before the first connection. What they share and change sits behind
    its own lock: the cluster page's answer (gateway_cluster.h) and the
    count of event streams per user (gateway_events.h).
*/
#ifndef GATEWAY_HTTP_H_INCLUDED
#define GATEWAY_HTTP_H_INCLUDED

#include <stdint.h>

#include "gateway_options.h"
#include "gateway_seal.h"

//  Largest request body accepted: a message's text (4 KiB at most in the
//  cluster) even fully \u-escaped fits.
#define GATEWAY_BODY_MAX (32 * 1024)

typedef struct _gateway_http_t gateway_http_t;

//  Starts serving on options' host and port. options and seal must outlive
//  the server. NULL with error set when it cannot listen.
gateway_http_t *gateway_http_new (const gateway_options_t *options, gateway_seal_t *seal,
                                  char *error, size_t error_size);

//  Stops serving (waits for the connection threads) and frees the server;
//  nulls *self_p.
void gateway_http_destroy (gateway_http_t **self_p);

//  The port it listens on (the one the system chose for port 0).
uint16_t gateway_http_port (gateway_http_t *self);

#endif
