/*  test_login_throttle — login_throttle.c on a clock of the test's own: the
    free failures, the doubling wait and its cap, a success that forgets,
    forgetting after a quiet spell, and a table that stays bounded however
    many names fail, dropping the oldest first.
*/

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "broker/login_throttle.h"

//  Any start: the throttle must not care where the clock begins.
#define T0 1000000

static login_throttle_t *
s_throttle (size_t max_accounts)
{
    login_throttle_options_t options = login_throttle_defaults ();
    options.max_accounts = max_accounts;
    login_throttle_t *throttle = login_throttle_new (&options);
    assert_non_null (throttle);
    return throttle;
}

static void
test_defaults (void **state)
{
    (void)state;
    login_throttle_options_t options = login_throttle_defaults ();
    assert_int_equal (options.free_failures, 5);
    assert_int_equal (options.first_delay_ms, 1000);
    assert_int_equal (options.max_delay_ms, 60000);
}

static void
test_doubling_up_to_the_cap (void **state)
{
    (void)state;
    login_throttle_t *throttle = s_throttle (100);
    int64_t now = T0;
    //  The free failures cost nothing, however fast they come
    for (int failure = 1; failure < 5; failure++) {
        assert_int_equal (login_throttle_wait (throttle, "ann", now), 0);
        login_throttle_failed (throttle, "ann", now);
    }
    assert_int_equal (login_throttle_wait (throttle, "ann", now), 0);
    //  Then 1 s, 2 s, 4 s ... 32 s, and 60 s from there on
    const uint32_t waits[] = {1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000, 60000};
    for (size_t index = 0; index < sizeof waits / sizeof waits[0]; index++) {
        login_throttle_failed (throttle, "ann", now);
        assert_int_equal (login_throttle_wait (throttle, "ann", now), waits[index]);
        assert_int_equal (login_throttle_wait (throttle, "ann", now + waits[index] - 1), 1);
        //  Other names are not affected
        assert_int_equal (login_throttle_wait (throttle, "bob", now), 0);
        now += waits[index];
        assert_int_equal (login_throttle_wait (throttle, "ann", now), 0);
    }
    //  Thousands more failures never overflow the wait
    for (int failure = 0; failure < 5000; failure++)
        login_throttle_failed (throttle, "ann", now);
    assert_int_equal (login_throttle_wait (throttle, "ann", now), 60000);
    assert_int_equal (login_throttle_size (throttle), 1);
    login_throttle_destroy (&throttle);
    assert_null (throttle);
}

static void
test_success_forgets (void **state)
{
    (void)state;
    login_throttle_t *throttle = s_throttle (100);
    for (int failure = 0; failure < 7; failure++)
        login_throttle_failed (throttle, "ann", T0);
    assert_int_equal (login_throttle_wait (throttle, "ann", T0), 4000);
    login_throttle_succeeded (throttle, "ann");
    assert_int_equal (login_throttle_wait (throttle, "ann", T0), 0);
    assert_int_equal (login_throttle_size (throttle), 0);
    //  A full budget of free failures again
    for (int failure = 0; failure < 4; failure++)
        login_throttle_failed (throttle, "ann", T0);
    assert_int_equal (login_throttle_wait (throttle, "ann", T0), 0);
    login_throttle_failed (throttle, "ann", T0);
    assert_int_equal (login_throttle_wait (throttle, "ann", T0), 1000);
    //  A success of a name never seen changes nothing
    login_throttle_succeeded (throttle, "nobody");
    assert_int_equal (login_throttle_size (throttle), 1);
    login_throttle_destroy (&throttle);
}

static void
test_quiet_spell_forgets (void **state)
{
    (void)state;
    login_throttle_t *throttle = s_throttle (100);
    login_throttle_options_t options = login_throttle_defaults ();
    for (int failure = 0; failure < 4; failure++)
        login_throttle_failed (throttle, "ann", T0);
    //  Just before the spell ends the count goes on; after it, it starts over
    login_throttle_failed (throttle, "ann", T0 + options.forget_ms - 1);
    assert_int_equal (login_throttle_wait (throttle, "ann", T0 + options.forget_ms - 1), 1000);
    int64_t later = T0 + 2 * (int64_t)options.forget_ms;
    assert_int_equal (login_throttle_wait (throttle, "ann", later), 0);
    login_throttle_failed (throttle, "ann", later);
    assert_int_equal (login_throttle_wait (throttle, "ann", later), 0);
    login_throttle_destroy (&throttle);
}

static void
test_bounded_table (void **state)
{
    (void)state;
    login_throttle_t *throttle = s_throttle (3);
    int64_t now = T0;
    //  ann is throttled; then a flood of other names, one failure each
    for (int failure = 0; failure < 5; failure++)
        login_throttle_failed (throttle, "ann", now);
    assert_int_equal (login_throttle_wait (throttle, "ann", now), 1000);
    login_throttle_failed (throttle, "n1", now + 1);
    login_throttle_failed (throttle, "n2", now + 2);
    assert_int_equal (login_throttle_size (throttle), 3);
    //  ann's latest failure is now the oldest: it is the one forgotten
    login_throttle_failed (throttle, "n3", now + 3);
    assert_int_equal (login_throttle_size (throttle), 3);
    assert_int_equal (login_throttle_wait (throttle, "ann", now + 3), 0);
    //  A name that fails again moves to the young end and stays
    login_throttle_failed (throttle, "n1", now + 4);
    login_throttle_failed (throttle, "n4", now + 5);
    login_throttle_failed (throttle, "n5", now + 6);
    for (int failure = 0; failure < 3; failure++)
        login_throttle_failed (throttle, "n5", now + 7);
    login_throttle_failed (throttle, "n5", now + 7);
    assert_int_equal (login_throttle_wait (throttle, "n5", now + 7), 1000);
    //  n1 outlived n2 and n3 and kept its two failures: three more throttle it
    login_throttle_failed (throttle, "n1", now + 8);
    login_throttle_failed (throttle, "n1", now + 8);
    login_throttle_failed (throttle, "n1", now + 8);
    assert_int_equal (login_throttle_wait (throttle, "n1", now + 8), 1000);
    //  Ten thousand random names later the table holds three
    char name[32];
    for (int index = 0; index < 10000; index++) {
        snprintf (name, sizeof name, "random%d", index);
        login_throttle_failed (throttle, name, now + 10);
    }
    assert_int_equal (login_throttle_size (throttle), 3);
    login_throttle_destroy (&throttle);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_defaults),        cmocka_unit_test (test_doubling_up_to_the_cap),
        cmocka_unit_test (test_success_forgets), cmocka_unit_test (test_quiet_spell_forgets),
        cmocka_unit_test (test_bounded_table),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
