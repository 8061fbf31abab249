/*  fanout_grants — the private subscriptions ("<stream>#<token>") the
    fan-out knows of, and which of them it publishes on. The XPUB never
    says which connection sent a subscription, so a grant counts the
    subscribes of its string minus the cancels (those libzmq makes for a
    closed connection included), and goes when nobody holds it. A grant is
    live while its token is a live session of a party on the applied
    state; events of a stream go out once per live grant of it.

    Bounded (a grant is a few hundred bytes at most):
    - FANOUT_GRANTS_MAX grants in all;
    - FANOUT_GRANTS_MAX_PENDING grants that are not live when first seen
      (a token not applied here yet, a dead or wrong one): garbage cannot
      take the room of real subscriptions;
    - FANOUT_GRANTS_PER_SESSION live grants per session: one token cannot
      take the rest.
    A subscription past a bound is not applied (the subscriber sees no
    confirmation and may try again). The XPUB names no connection, so no
    cap is per connection; the session cap stands in for it.
*/
#ifndef FANOUT_GRANTS_H_INCLUDED
#define FANOUT_GRANTS_H_INCLUDED

#include "state/fsm.h"
#include "state/stream_access.h"

#ifdef __cplusplus
extern "C" {
#endif

#define FANOUT_GRANTS_MAX         65536
#define FANOUT_GRANTS_MAX_PENDING 4096
#define FANOUT_GRANTS_PER_SESSION 256

typedef struct _fanout_grants_t fanout_grants_t;

//  Called for each grant that stops being live: subscription is its
//  string, stream its stream key.
typedef void (fanout_grants_revoked_fn) (void *argument, const char *subscription,
                                         const char *stream);

fanout_grants_t *fanout_grants_new (void);

void fanout_grants_destroy (fanout_grants_t **self_p);

//  A subscribe of the private subscription parsed, checked on fsm's applied
//  state at now_ms: counted (unless a bound refuses it), and true when it
//  is to be applied (its token is a live session of a party). With fsm
//  NULL it is only counted, never applied.
bool fanout_grants_subscribe (fanout_grants_t *self, const stream_subscription_t *parsed,
                              fsm_t *fsm, int64_t now_ms);

//  A cancel of the private subscription parsed.
void fanout_grants_cancel (fanout_grants_t *self, const stream_subscription_t *parsed);

//  Checks every live grant again; each whose session is no longer live
//  is no longer published on, and revoked is told.
void fanout_grants_revalidate (fanout_grants_t *self, fsm_t *fsm, int64_t now_ms,
                               fanout_grants_revoked_fn *revoked, void *argument);

//  The first live subscription string of stream, NULL if none; then the
//  next ones until NULL. The table must not change meanwhile.
const char *fanout_grants_first (fanout_grants_t *self, const char *stream);
const char *fanout_grants_next (fanout_grants_t *self);

//  Grants held, live or not.
size_t fanout_grants_size (fanout_grants_t *self);

#ifdef __cplusplus
}
#endif

#endif
