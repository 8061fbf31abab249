/*  server_private — the server's state, shared by the broker modules that
    work across its parts (proposing, credentials, applying, the snapshot
    policy). Each part with a concern of its own owns its struct (client
    port, waiting table, cluster view, admin, fan-out, credentials); what
    is here is what ties them together. Not for use outside src/broker.
*/
#ifndef SERVER_PRIVATE_H_INCLUDED
#define SERVER_PRIVATE_H_INCLUDED

#include <czmq.h>

#include "broker/admin.h"
#include "broker/client_port.h"
#include "broker/cluster_view.h"
#include "broker/config.h"
#include "broker/credentials.h"
#include "broker/fanout.h"
#include "broker/http_server.h"
#include "broker/metrics.h"
#include "broker/node_keys.h"
#include "broker/read_path.h"
#include "broker/server.h"
#include "broker/waiting_consumers.h"
#include "broker/waiting_table.h"
#include "replica/raft_actor.h"
#include "state/fsm.h"
#include "storage/snapshot.h"
#include "storage/snapshot_job.h"
#include "util/disk_space.h"
#include "util/event_loop.h"

//  Messages read from one socket per loop turn before the batch goes out.
#define SERVER_DRAIN_LIMIT 1000

struct _server_t {
    const config_t *config;               //  borrowed, outlives the server
    const config_node_t *node;            //  this node in config
    uint32_t node_id;                     //  its id
    event_loop_t *loop;                   //  the broker reactor
    disk_space_watch_t *disk_watch;       //  free space where proposals go, cached
    client_port_t *port;                  //  the client ROUTER
    fanout_t *fanout;                     //  the XPUB, NULL without a pub port
    cluster_view_t *view;                 //  role, term, leader, configuration
    waiting_table_t *waiting;             //  requests parked until applied or hashed
    waiting_consumers_t *consumers;       //  Pop and Reserve waits until a message is ready
    int64_t expiry_proposed_for;          //  the deadline the last Expire was proposed for
    int64_t expiry_proposed_at;           //  zclock_mono of that proposal
    read_path_t *reads;                   //  confirmed reads waiting for apply
    int64_t leaving_at;                   //  zclock_mono of the stop signal taken, 0: running
    uint32_t handover_target;             //  the voter asked to take over, 0 if none
    int64_t handed_at;                    //  zclock_mono another node was first seen leading since
                                          //  then, 0: not yet (handover.c)
    admin_t *admin;                       //  admin requests until done
    admin_credential_t *admin_credential; //  what admin requests must present
    credentials_t *credentials;           //  password work and deferred logins
    node_keys_t *keys;                    //  key pair and ZAP handler; outlives every socket
    raft_actor_t *raft;                   //  the Raft thread
    fsm_t *fsm;                           //  the replicated state machine
    uint32_t origin_node_field;           //  field numbers of Command.origin_node
    uint32_t ticket_field;                //  and Command.ticket, from the descriptor
    char *snapshot_dir;                   //  <data_dir>/node-<id>/snap
    snapshot_job_t *snapshot_job;         //  the child writing a snapshot, NULL if none
    int64_t snapshot_started_at;          //  zclock_mono when that job started
    zlistx_t *snapshot_waiting;           //  TakeSnapshot requests until a snapshot covers them
    int64_t snapshot_retry_at;            //  no new job before this zclock_mono (after a failure)
    uint64_t snapshot_durable_index; //  newest snapshot in place (written or installed), 0 if none
    uint64_t log_bytes_since_snapshot; //  log bytes applied since the last one
    uint64_t snapshot_due_bytes;       //  log bytes that make the next one due
    uint64_t counted_index;            //  last entry counted in those bytes
    metrics_t *metrics;                //  what this node counts for a scraper
    http_server_t *http;               //  serves them, NULL without an http port
    uint8_t *membership;               //  Raft configuration as of the applied index
    size_t membership_size;            //  its size
};

//  Tells the raft actor what this loop turn proposed, as one batch.
void server_flush_proposals (server_t *self);

#endif
