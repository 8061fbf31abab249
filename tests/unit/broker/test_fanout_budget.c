/*  test_fanout_budget — the subscriber lag bound as a send high-water
    mark: the mark over size classes, lowered before a bigger event goes
    out, raised only once no bigger event is held and the regrow period
    has passed, and counts that outlive the budget while events are held.
*/

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdlib.h>
#include <time.h>

#include "broker/fanout_budget.h"

#define KiB (1024ull)
#define MiB (1024ull * 1024)

static void
test_classes_and_marks (void **state)
{
    (void)state;
    //  Powers of two, the smallest class for anything up to 1 KiB
    assert_int_equal (fanout_budget_class (0), FANOUT_BUDGET_CLASS_MIN);
    assert_int_equal (fanout_budget_class (1024), 10);
    assert_int_equal (fanout_budget_class (1025), 11);
    assert_int_equal (fanout_budget_class (7 * MiB + 4 * KiB), 23);
    assert_int_equal (fanout_budget_class (SIZE_MAX), 63);
    //  The bound over the class, clamped
    assert_int_equal (fanout_budget_hwm_for (64 * MiB, 10), FANOUT_SEND_HWM_MAX);
    assert_int_equal (fanout_budget_hwm_for (64 * MiB, 17), 512);
    assert_int_equal (fanout_budget_hwm_for (64 * MiB, 23), 8);
    assert_int_equal (fanout_budget_hwm_for (MiB, 23), FANOUT_SEND_HWM_MIN);
    assert_int_equal (fanout_budget_hwm_for (1ull << 40, 63), FANOUT_SEND_HWM_MIN);
}

static void
test_mark_follows_held_sizes (void **state)
{
    (void)state;
    fanout_budget_t *budget = fanout_budget_new (64 * MiB);
    assert_non_null (budget);
    assert_int_equal (fanout_budget_hwm (budget), FANOUT_SEND_HWM_MAX);
    bool changed;
    fanout_charge_t small = fanout_budget_charge (budget, 700, 0, &changed);
    assert_false (changed);

    //  A 3 MiB event lowers the mark before it goes out: 16 of 4 MiB
    fanout_charge_t big = fanout_budget_charge (budget, 3 * MiB, 0, &changed);
    assert_true (changed);
    assert_int_equal (fanout_budget_hwm (budget), 16);
    //  A 100 KiB one changes nothing: bigger ones may still be queued
    fanout_charge_t medium = fanout_budget_charge (budget, 100 * KiB, 1, &changed);
    assert_false (changed);
    assert_int_equal (fanout_budget_hwm (budget), 16);

    //  Released, the big one no longer counts, but the mark waits for the
    //  regrow period after the last look
    fanout_budget_release (big);
    fanout_charge_t later = fanout_budget_charge (budget, 700, 2, &changed);
    assert_false (changed);
    assert_int_equal (fanout_budget_hwm (budget), 16);
    //  ... then rises to the largest class still held (the 100 KiB event)
    fanout_charge_t after =
        fanout_budget_charge (budget, 700, 1 + FANOUT_BUDGET_REGROW_MS, &changed);
    assert_true (changed);
    assert_int_equal (fanout_budget_hwm (budget), fanout_budget_hwm_for (64 * MiB, 17));
    //  ... and to the most once that one is let go of too
    fanout_budget_release (medium);
    fanout_charge_t last =
        fanout_budget_charge (budget, 700, 1 + 2 * FANOUT_BUDGET_REGROW_MS, &changed);
    assert_true (changed);
    assert_int_equal (fanout_budget_hwm (budget), FANOUT_SEND_HWM_MAX);

    //  libzmq may let go of events after the fan-out is gone
    fanout_budget_destroy (&budget);
    assert_null (budget);
    fanout_budget_release (small);
    fanout_budget_release (later);
    fanout_budget_release (after);
    fanout_budget_release (last);
}

//  Whatever the order of sizes, an event goes out only under a mark that
//  keeps every event held times the mark within the bound (or the mark
//  is the minimum and the event alone passes it).
static void
test_bound_holds_for_any_sizes (void **state)
{
    (void)state;
    unsigned seed = (unsigned)time (NULL);
    print_message ("seed %u\n", seed);
    srandom (seed);
    const uint64_t lag_bytes = 4 * MiB;
    fanout_budget_t *budget = fanout_budget_new (lag_bytes);
    assert_non_null (budget);
    enum { HELD_MAX = 64 };
    fanout_charge_t held[HELD_MAX];
    size_t sizes[HELD_MAX];
    size_t count = 0;
    int64_t now = 0;
    for (int round = 0; round < 20000; round++) {
        now += random () % 40;
        if (count == HELD_MAX || (count && random () % 2)) {
            size_t which = (size_t)random () % count;
            fanout_budget_release (held[which]);
            held[which] = held[count - 1];
            sizes[which] = sizes[count - 1];
            count--;
            continue;
        }
        size_t size = (size_t)1 << (random () % 24);
        size += (size_t)random () % size;
        bool changed;
        held[count] = fanout_budget_charge (budget, size, now, &changed);
        sizes[count++] = size;
        uint64_t hwm = (uint64_t)fanout_budget_hwm (budget);
        for (size_t which = 0; which < count; which++)
            assert_true (hwm == FANOUT_SEND_HWM_MIN || hwm * sizes[which] <= lag_bytes);
    }
    fanout_budget_destroy (&budget);
    while (count)
        fanout_budget_release (held[--count]);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_classes_and_marks),
        cmocka_unit_test (test_mark_follows_held_sizes),
        cmocka_unit_test (test_bound_holds_for_any_sizes),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
