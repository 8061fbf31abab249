/*  fanout — the XPUB events go out on: which stream prefixes subscribers
    asked for, and publishing an event as [stream][protobuf Event][JSON
    event] (DESIGN 6) only when some subscriber wants its stream, since
    building an event costs more than the rest of an apply and nobody may
    be listening at all.
*/
#ifndef FANOUT_H_INCLUDED
#define FANOUT_H_INCLUDED

#include <czmq.h>

#include "raftq.pb-c.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct _fanout_t fanout_t;

//  The XPUB's send high-water mark (messages) for subscribers that may be
//  lag_bytes behind when events carry payloads of up to max_payload_bytes:
//  libzmq counts messages, so the count is the byte budget over the
//  largest event (a payload in protobuf and again as JSON text, escaped),
//  at least FANOUT_SEND_HWM_MIN and at most FANOUT_SEND_HWM_MAX. A
//  subscriber that far behind loses events (XPUB drops them), sees the gap
//  in the stream's seqs and replays; one that stops reading altogether is
//  cut off by ZMTP heartbeats (server.c).
#define FANOUT_SEND_HWM_MIN 16
#define FANOUT_SEND_HWM_MAX 10000
int fanout_send_hwm (uint64_t lag_bytes, uint32_t max_payload_bytes);

//  Fan-out on the bound XPUB *socket_p (taken); node_id marks its log
//  lines. Returns NULL when out of memory (socket destroyed).
fanout_t *fanout_new (zsock_t **socket_p, uint32_t node_id);

void fanout_destroy (fanout_t **self_p);

//  The XPUB, to poll for subscriptions.
zsock_t *fanout_sock (fanout_t *self);

//  Takes in the subscriptions and cancels that reached the XPUB so far.
void fanout_take_subscriptions (fanout_t *self);

//  Whether some subscribed prefix starts stream.
bool fanout_has_subscriber (fanout_t *self, const char *stream);

//  Publishes event if a subscriber wants its stream. Never blocks: XPUB
//  drops for slow subscribers.
void fanout_publish (fanout_t *self, const Raftq__Event *event);

#ifdef __cplusplus
}
#endif

#endif
