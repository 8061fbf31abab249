/*  gateway_cluster — GET /api/cluster: what every node says about itself
    (Status with the detail when the gateway holds the admin secret), one
    record per node of the config, unreachable ones marked so.
*/
#ifndef GATEWAY_CLUSTER_H_INCLUDED
#define GATEWAY_CLUSTER_H_INCLUDED

#include "gateway_call.h"

enum MHD_Result gateway_cluster_status (gateway_call_t *call);

#endif
