/*  fanout — the XPUB events go out on (DESIGN 6, README "Authorized chat
    streams"). The XPUB runs ZMQ_XPUB_MANUAL: a subscription reaches a
    subscriber's connection only when the fan-out applies it.
    - Topic subscriptions are applied as their topic prefix (a prefix of
      "topic/", the empty one included, as "topic/"); events of topic
      streams go out as [stream][protobuf Event][JSON event].
    - A private subscription "<stream>#<token>" is applied only when the
      token is a live session of a party on this node's applied state; the
      fan-out then publishes on it a control event {stream, seq 0, kind
      "subscribed"}, and each event of the stream once per such string A,
      as [A][protobuf Event][JSON event]. When the session stops being
      live (checked after each applied entry that ended a session, and by
      fanout_revalidate) a {seq 0, kind "revoked"} goes out on A and
      nothing more.
    - Anything else is not applied: it receives nothing.
    Events are built only when someone listens: building one costs more
    than the rest of an apply.
*/
#ifndef FANOUT_H_INCLUDED
#define FANOUT_H_INCLUDED

#include <czmq.h>

#include "raftq.pb-c.h"
#include "broker/metrics.h"
#include "state/fsm.h"

#ifdef __cplusplus
extern "C" {
#endif

//  Period of fanout_revalidate: sessions expire with time alone.
#define FANOUT_REVALIDATE_MS 250

typedef struct _fanout_t fanout_t;

//  Makes an XPUB socket a fan-out socket (ZMQ_XPUB_MANUAL) for
//  subscribers that may be lag_bytes behind (its first send high-water
//  mark); before it binds, so that no subscriber is ever served
//  unfiltered. 0, or -1.
int fanout_prepare_socket (zsock_t *socket, uint64_t lag_bytes);

//  Fan-out on the prepared, bound XPUB *socket_p (taken), deciding on
//  fsm's applied state (borrowed: see fanout_set_state); node_id marks
//  its log lines. A subscriber may fall lag_bytes of events behind before
//  it loses events (fanout_budget.h sets the XPUB's send high-water mark
//  for it). Returns NULL when out of memory (socket destroyed).
fanout_t *fanout_new (zsock_t **socket_p, uint32_t node_id, fsm_t *fsm, uint64_t lag_bytes);

void fanout_destroy (fanout_t **self_p);

//  The XPUB, to poll for subscriptions.
zsock_t *fanout_sock (fanout_t *self);

//  Takes in the subscriptions and cancels that reached the XPUB so far.
void fanout_take_subscriptions (fanout_t *self);

//  Whether some applied subscription wants stream's events.
bool fanout_has_subscriber (fanout_t *self, const char *stream);

//  Publishes event to those who may have it. Never blocks: XPUB drops
//  for subscribers past the lag bound, who see the gap in the seqs and
//  replay.
void fanout_publish (fanout_t *self, const Raftq__Event *event);

//  After an entry is applied and before its events are published: if a
//  session ended, checks every private subscription again.
void fanout_follow (fanout_t *self);

//  Checks every private subscription again (expiry comes with time alone).
void fanout_revalidate (fanout_t *self);

//  The state machine was replaced (a snapshot installed): decides on fsm
//  from now on, and checks every private subscription again.
void fanout_set_state (fanout_t *self, fsm_t *fsm);

//  Counts deliveries and revoked subscriptions into metrics (borrowed; it
//  outlives the fan-out), NULL: nowhere.
void fanout_count_into (fanout_t *self, metrics_t *metrics);

//  Subscriptions held now: topic prefix subscriptions (each subscribe not
//  yet cancelled) and private subscription strings.
void fanout_subscriptions (fanout_t *self, size_t *topics, size_t *private_strings);

#ifdef __cplusplus
}
#endif

#endif
