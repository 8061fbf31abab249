/*  fanout_budget — the subscriber lag bound as a send high-water mark over
    the size class of the events held; see fanout_budget.h.
*/
#include "broker/fanout_budget.h"

#include <stdatomic.h>
#include <stdlib.h>

//  One class per bit of a size
#define CLASSES 64

//  Shared with libzmq's I/O thread, which releases events
struct _fanout_ledger_t {
    atomic_size_t held[CLASSES]; //  events libzmq holds, per size class
    atomic_size_t holders;       //  the budget, plus each event held
};

struct _fanout_budget_t {
    uint64_t lag_bytes;      //  bytes one subscriber may be behind
    unsigned size_class;     //  no held event is bigger than 2^size_class
    int64_t regrow_at;       //  monotonic ms before which the mark is not raised
    fanout_ledger_t *ledger; //  the held counts
};

unsigned
fanout_budget_class (size_t event_bytes)
{
    unsigned size_class = FANOUT_BUDGET_CLASS_MIN;
    while (size_class < CLASSES - 1 && ((size_t)1 << size_class) < event_bytes)
        size_class++;
    return size_class;
}

int
fanout_budget_hwm_for (uint64_t lag_bytes, unsigned size_class)
{
    uint64_t events = size_class < 64 ? lag_bytes >> size_class : 0;
    if (events < FANOUT_SEND_HWM_MIN)
        return FANOUT_SEND_HWM_MIN;
    return events > FANOUT_SEND_HWM_MAX ? FANOUT_SEND_HWM_MAX : (int)events;
}

fanout_budget_t *
fanout_budget_new (uint64_t lag_bytes)
{
    fanout_budget_t *self = calloc (1, sizeof (fanout_budget_t));
    fanout_ledger_t *ledger = calloc (1, sizeof (fanout_ledger_t));
    if (!self || !ledger) {
        free (self);
        free (ledger);
        return NULL;
    }
    for (unsigned size_class = 0; size_class < CLASSES; size_class++)
        atomic_init (&ledger->held[size_class], 0);
    atomic_init (&ledger->holders, 1);
    self->ledger = ledger;
    self->lag_bytes = lag_bytes;
    self->size_class = FANOUT_BUDGET_CLASS_MIN;
    return self;
}

static void
s_ledger_drop (fanout_ledger_t *ledger)
{
    if (atomic_fetch_sub (&ledger->holders, 1) == 1)
        free (ledger);
}

void
fanout_budget_destroy (fanout_budget_t **self_p)
{
    if (*self_p) {
        fanout_budget_t *self = *self_p;
        s_ledger_drop (self->ledger);
        free (self);
        *self_p = NULL;
    }
}

int
fanout_budget_hwm (fanout_budget_t *self)
{
    return fanout_budget_hwm_for (self->lag_bytes, self->size_class);
}

//  The largest class an event is held in, at least floor_class. Only this
//  thread adds to the counts, so a class seen empty stays empty until then.
static unsigned
s_largest_held (fanout_budget_t *self, unsigned floor_class)
{
    for (unsigned size_class = self->size_class; size_class > floor_class; size_class--)
        if (atomic_load (&self->ledger->held[size_class]))
            return size_class;
    return floor_class;
}

fanout_charge_t
fanout_budget_charge (fanout_budget_t *self, size_t event_bytes, int64_t now_ms, bool *hwm_changed)
{
    unsigned size_class = fanout_budget_class (event_bytes);
    unsigned before = self->size_class;
    if (size_class > self->size_class)
        self->size_class = size_class;
    else if (size_class < self->size_class && now_ms >= self->regrow_at) {
        self->size_class = s_largest_held (self, size_class);
        self->regrow_at = now_ms + FANOUT_BUDGET_REGROW_MS;
    }
    *hwm_changed = fanout_budget_hwm_for (self->lag_bytes, before) != fanout_budget_hwm (self);
    atomic_fetch_add (&self->ledger->holders, 1);
    atomic_fetch_add (&self->ledger->held[size_class], 1);
    return (fanout_charge_t){self->ledger, size_class};
}

void
fanout_budget_release (fanout_charge_t charge)
{
    atomic_fetch_sub (&charge.ledger->held[charge.size_class], 1);
    s_ledger_drop (charge.ledger);
}
