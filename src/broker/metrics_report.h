/*  metrics_report — how a node's metrics reach its HTTP server: every
    METRICS_REPORT_MS the broker gathers the facts of the moment (the
    cluster view, the state, the actor's progress, the ports' connections,
    the fan-out's subscriptions, the disk), renders the exposition text and
    judges readiness, and hands both to the http_server thread, which
    serves that snapshot until the next. The broker's cost is the same
    whatever scrapers do.
*/
#ifndef METRICS_REPORT_H_INCLUDED
#define METRICS_REPORT_H_INCLUDED

#include "broker/server.h"

#ifdef __cplusplus
extern "C" {
#endif

//  Period of the snapshots handed to the HTTP server.
#define METRICS_REPORT_MS 250

//  Starts the HTTP server of a node with an http port, publishes a first
//  snapshot and sets the timer of the next. Returns 0 (also without a
//  port), or -1 after logging why.
int metrics_report_open (server_t *self);

#ifdef __cplusplus
}
#endif

#endif
