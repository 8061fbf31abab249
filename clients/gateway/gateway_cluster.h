/*  gateway_cluster — GET /api/cluster: what every node says about itself
    (Status with the detail when the gateway holds the admin secret), one
    record per node of the config, unreachable ones marked so.

    The page is public and the detail is asked with the gateway's admin
    secret, so the answer is shared: one fan-out to the nodes serves every
    viewer for GATEWAY_CLUSTER_FRESH_MS. A flood of page loads costs the
    cluster at most one Status per node (two when the detail is refused)
    per period; a viewer that comes while a fan-out runs waits for it and
    gets its answer.
*/
#ifndef GATEWAY_CLUSTER_H_INCLUDED
#define GATEWAY_CLUSTER_H_INCLUDED

#include "gateway_call.h"

//  How long one fan-out's answer serves every viewer: the page's refresh
//  period, so a single viewer still sees every second's state.
#define GATEWAY_CLUSTER_FRESH_MS 1000

//  No answer yet. NULL when out of memory.
gateway_cluster_t *gateway_cluster_new (void);

//  Frees it (no handler may be running); nulls *self_p.
void gateway_cluster_destroy (gateway_cluster_t **self_p);

//  The handler: the shared answer, made anew when older than
//  GATEWAY_CLUSTER_FRESH_MS (the "ms" it carries is when it was made).
enum MHD_Result gateway_cluster_status (gateway_call_t *call);

#endif
