/*  fanout_budget — the byte bound on how far one subscriber may fall
    behind (limits.max_subscriber_lag_bytes), kept with the XPUB's send
    high-water mark, which libzmq counts in messages.

    The mark is the byte bound over the size class of the events libzmq
    may be holding: a class is a power of two, and every event the fan-out
    hands to libzmq is counted held in its class until libzmq lets go of
    it (written to the kernel for every subscriber, or dropped). So while
    no held event is bigger than the class, a subscriber's queue holds at
    most mark x class <= the bound, whatever mix of sizes it has.
    - An event of a bigger class lowers the mark before it is sent (libzmq
      applies a new mark to every connection at once): a queue already
      past the new mark takes nothing more until it drains below it.
    - The mark rises again only once no event of the bigger class is held
      anywhere, checked at most every FANOUT_BUDGET_REGROW_MS (each change
      is a command to every connection's I/O thread).
    The counts are the only thing shared with libzmq's I/O thread (atomic);
    they outlive the budget while libzmq still holds events.
*/
#ifndef FANOUT_BUDGET_H_INCLUDED
#define FANOUT_BUDGET_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

//  The mark's range: at least one event (even one past the bound) may wait
//  for each subscriber; at most 10,000, which is ten seconds of headroom at
//  1000 events/s and caps libzmq's per-message structures per connection.
#define FANOUT_SEND_HWM_MIN 1
#define FANOUT_SEND_HWM_MAX 10000

//  The smallest class (log2 of bytes): smaller events count as this.
#define FANOUT_BUDGET_CLASS_MIN 10

//  What libzmq allocates per event beside the frames' bytes (three
//  message structures and two shared contents), counted in its size.
#define FANOUT_EVENT_OVERHEAD_BYTES 256

//  The shortest time between two raises of the mark.
#define FANOUT_BUDGET_REGROW_MS 250

typedef struct _fanout_budget_t fanout_budget_t;
typedef struct _fanout_ledger_t fanout_ledger_t;

//  One event counted held: what fanout_budget_release needs, on any thread.
typedef struct {
    fanout_ledger_t *ledger; //  the counts (shared with libzmq's I/O thread)
    unsigned size_class;     //  log2 of the bytes the event was counted as
} fanout_charge_t;

//  A budget of lag_bytes per subscriber; NULL when out of memory.
fanout_budget_t *fanout_budget_new (uint64_t lag_bytes);

//  Events still held keep the counts alive until their release.
void fanout_budget_destroy (fanout_budget_t **self_p);

//  The send high-water mark to apply now.
int fanout_budget_hwm (fanout_budget_t *self);

//  An event of event_bytes (frames and FANOUT_EVENT_OVERHEAD_BYTES) is
//  about to be handed to libzmq at monotonic now_ms: counts it held, and
//  returns the charge for fanout_budget_release. *hwm_changed tells that
//  fanout_budget_hwm changed and must be applied before the event is sent.
fanout_charge_t fanout_budget_charge (fanout_budget_t *self, size_t event_bytes, int64_t now_ms,
                                      bool *hwm_changed);

//  libzmq let go of a charged event; on whichever thread that happens.
void fanout_budget_release (fanout_charge_t charge);

//  The size class (log2 of bytes, at least FANOUT_BUDGET_CLASS_MIN) of an
//  event of event_bytes.
unsigned fanout_budget_class (size_t event_bytes);

//  The mark for lag_bytes over events of size_class.
int fanout_budget_hwm_for (uint64_t lag_bytes, unsigned size_class);

#ifdef __cplusplus
}
#endif

#endif
