/*  status — the Status reply every node gives from what it knows: its role,
    term, leader and indexes, the configuration, optionally the state hash,
    and on request the detail (each member's replication as the leader sees
    it, the newest snapshot, the log and snapshots on disk, and each topic's
    ready, reserved, delayed and dead-lettered counts: the first
    STATUS_MAX_TOPICS topics, so that the reply stays bounded).
*/
#ifndef STATUS_H_INCLUDED
#define STATUS_H_INCLUDED

#include "broker/client_port.h"
#include "broker/cluster_view.h"
#include "state/fsm.h"

#ifdef __cplusplus
extern "C" {
#endif

//  Topics a status detail describes at most.
#define STATUS_MAX_TOPICS 1000

//  A status ready to send: status.detail points into it when asked for.
typedef struct {
    Raftq__NodeStatus status;     //  the reply's status
    Raftq__StatusDetail detail;   //  the detail, when asked for
    Raftq__MemberStatus *members; //  detail's members, by id (owned)
    Raftq__TopicStatus *topics;   //  detail's topics, creation order (owned)
} status_report_t;

//  What a status is made of, all borrowed.
typedef struct {
    const cluster_view_t *view;            //  role, term, indexes, configuration
    fsm_t *fsm;                            //  the applied state
    const raft_actor_progress_t *progress; //  the actor's latest progress
    const char *snapshot_dir;              //  where snapshot files lie, NULL: none
    uint64_t max_state_bytes;              //  the limit this node proposes (config)
    const char *disk_path;                 //  in the node's directory: its free space is shown
    uint64_t min_free_disk_bytes;          //  the watermark it is held against (config)
} status_source_t;

//  Fills report from source as asked (NULL: no hash, no detail). Hosts and
//  member ids are borrowed from the view. Returns 0, or -1 when out of
//  memory; clear the report either way.
int status_report_fill (status_report_t *report, const status_source_t *source,
                        const Raftq__Status *asked);

//  Frees what fill allocated and zeroes the report.
void status_report_clear (status_report_t *report);

//  Answers request (a Status) from source; the caller still owns request.
void status_answer (client_port_t *port, client_request_t *request, const status_source_t *source);

#ifdef __cplusplus
}
#endif

#endif
