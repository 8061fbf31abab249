/*  test_hasher — hasher.c through its pipe, as the server drives it: hashes
    that verify (and are salted), wrong passwords, hashes that are not
    hashes, jobs past their deadline, many jobs answered in order, the
    decoy that missing accounts are checked against (never a match, and as
    slow as a real check), and the default (interactive) limits once.
*/

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <sodium.h>

#include "broker/hasher.h"

//  Generous: only a wedged thread takes this long.
#define RESULT_DEADLINE_MS 30000

static hasher_t *
s_fast_hasher (void)
{
    hasher_t *hasher = hasher_new (crypto_pwhash_OPSLIMIT_MIN, crypto_pwhash_MEMLIMIT_MIN);
    assert_non_null (hasher);
    return hasher;
}

//  Waits for the next result, failing the test if none comes.
static void
s_expect_result (hasher_t *hasher, uint64_t job, hasher_status_t status, hasher_result_t *result)
{
    zpoller_t *poller = zpoller_new (hasher_sock (hasher), NULL);
    assert_non_null (poller);
    void *ready = zpoller_wait (poller, RESULT_DEADLINE_MS);
    zpoller_destroy (&poller);
    if (!ready)
        fail_msg ("no result for job %" PRIu64 " within %d ms", job, RESULT_DEADLINE_MS);
    assert_int_equal (hasher_recv (hasher, result), 0);
    assert_int_equal (result->job, job);
    assert_int_equal (result->status, status);
}

static int64_t
s_later (void)
{
    return zclock_mono () + RESULT_DEADLINE_MS;
}

static void
test_hash_and_verify (void **state)
{
    (void)state;
    hasher_t *hasher = s_fast_hasher ();
    hasher_result_t first, second, checked;
    assert_int_equal (hasher_hash (hasher, 1, s_later (), "correct horse"), 0);
    s_expect_result (hasher, 1, HASHER_OK, &first);
    assert_int_equal (strncmp (first.hash, "$argon2id$", 10), 0);
    //  Salted: the same password never gives the same hash twice
    assert_int_equal (hasher_hash (hasher, 2, s_later (), "correct horse"), 0);
    s_expect_result (hasher, 2, HASHER_OK, &second);
    assert_string_not_equal (first.hash, second.hash);

    assert_int_equal (hasher_verify (hasher, 3, s_later (), "correct horse", first.hash), 0);
    s_expect_result (hasher, 3, HASHER_OK, &checked);
    assert_string_equal (checked.hash, "");
    assert_int_equal (hasher_verify (hasher, 4, s_later (), "correct horse", second.hash), 0);
    s_expect_result (hasher, 4, HASHER_OK, &checked);
    const char *wrong[] = {"correct hors", "correct horse ", "Correct horse", ""};
    for (size_t index = 0; index < sizeof wrong / sizeof wrong[0]; index++) {
        assert_int_equal (hasher_verify (hasher, 10 + index, s_later (), wrong[index], first.hash),
                          0);
        s_expect_result (hasher, 10 + index, HASHER_MISMATCH, &checked);
    }
    //  Non-ASCII passwords are bytes like any other
    assert_int_equal (hasher_hash (hasher, 20, s_later (), "p\xc3\xa4ss w\xc3\xb6rd"), 0);
    s_expect_result (hasher, 20, HASHER_OK, &first);
    assert_int_equal (hasher_verify (hasher, 21, s_later (), "p\xc3\xa4ss w\xc3\xb6rd", first.hash),
                      0);
    s_expect_result (hasher, 21, HASHER_OK, &checked);
    hasher_destroy (&hasher);
    assert_null (hasher);
    hasher_destroy (&hasher);
}

static void
test_not_a_hash (void **state)
{
    (void)state;
    hasher_t *hasher = s_fast_hasher ();
    hasher_result_t result;
    char huge[300];
    memset (huge, 'x', sizeof huge - 1);
    huge[sizeof huge - 1] = 0;
    const char *hashes[] = {"", "plaintext", "$argon2id$v=19$m=8,t=1,p=1$garbage", huge};
    for (size_t index = 0; index < sizeof hashes / sizeof hashes[0]; index++) {
        assert_int_equal (hasher_verify (hasher, index + 1, s_later (), "pw", hashes[index]), 0);
        s_expect_result (hasher, index + 1, HASHER_MISMATCH, &result);
    }
    hasher_destroy (&hasher);
}

static void
test_expired_jobs (void **state)
{
    (void)state;
    hasher_t *hasher = s_fast_hasher ();
    hasher_result_t result;
    int64_t past = zclock_mono () - 1;
    assert_int_equal (hasher_hash (hasher, 7, past, "pw"), 0);
    s_expect_result (hasher, 7, HASHER_EXPIRED, &result);
    assert_string_equal (result.hash, "");
    assert_int_equal (hasher_verify (hasher, 8, past, "pw", "$argon2id$x"), 0);
    s_expect_result (hasher, 8, HASHER_EXPIRED, &result);
    //  The thread goes on with live jobs
    assert_int_equal (hasher_hash (hasher, 9, s_later (), "pw"), 0);
    s_expect_result (hasher, 9, HASHER_OK, &result);
    hasher_destroy (&hasher);
}

static void
test_jobs_in_order (void **state)
{
    (void)state;
    hasher_t *hasher = s_fast_hasher ();
    const uint64_t count = 40;
    for (uint64_t job = 0; job < count; job++) {
        char password[32];
        snprintf (password, sizeof password, "password-%" PRIu64, job);
        assert_int_equal (hasher_hash (hasher, 1000 + job, s_later (), password), 0);
    }
    hasher_result_t result;
    for (uint64_t job = 0; job < count; job++)
        s_expect_result (hasher, 1000 + job, HASHER_OK, &result);
    //  Jobs still queued when the hasher stops are dropped, not leaked
    for (uint64_t job = 0; job < count; job++)
        assert_int_equal (hasher_hash (hasher, job, s_later (), "pw"), 0);
    hasher_destroy (&hasher);
}

static void
test_interactive_defaults (void **state)
{
    (void)state;
    hasher_t *hasher = hasher_new (0, 0);
    assert_non_null (hasher);
    hasher_result_t result;
    assert_int_equal (hasher_hash (hasher, 1, s_later (), "pw"), 0);
    s_expect_result (hasher, 1, HASHER_OK, &result);
    //  64 MiB, 2 passes: libsodium's interactive limits
    assert_non_null (strstr (result.hash, "$m=65536,t=2,"));
    assert_int_equal (crypto_pwhash_str_verify (result.hash, "pw", 2), 0);

    //  A missing account (the decoy) costs what a wrong password costs:
    //  loosely checked, the machine is shared
    int64_t start = zclock_usecs ();
    assert_int_equal (hasher_verify (hasher, 2, s_later (), "wrong", result.hash), 0);
    s_expect_result (hasher, 2, HASHER_MISMATCH, &result);
    int64_t wrong_us = zclock_usecs () - start;
    start = zclock_usecs ();
    assert_int_equal (hasher_verify (hasher, 3, s_later (), "wrong", NULL), 0);
    s_expect_result (hasher, 3, HASHER_MISMATCH, &result);
    int64_t decoy_us = zclock_usecs () - start;
    print_message ("wrong password %" PRId64 " us, missing account %" PRId64 " us\n", wrong_us,
                   decoy_us);
    assert_true (decoy_us * 3 > wrong_us && wrong_us * 3 > decoy_us);
    hasher_destroy (&hasher);
}

static void
test_decoy_never_matches (void **state)
{
    (void)state;
    hasher_t *hasher = s_fast_hasher ();
    hasher_result_t result;
    const char *passwords[] = {"pw", "", "\x01"};
    for (size_t index = 0; index < sizeof passwords / sizeof passwords[0]; index++) {
        assert_int_equal (hasher_verify (hasher, index + 1, s_later (), passwords[index], NULL), 0);
        s_expect_result (hasher, index + 1, HASHER_MISMATCH, &result);
    }
    hasher_destroy (&hasher);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_hash_and_verify),      cmocka_unit_test (test_not_a_hash),
        cmocka_unit_test (test_expired_jobs),         cmocka_unit_test (test_jobs_in_order),
        cmocka_unit_test (test_interactive_defaults), cmocka_unit_test (test_decoy_never_matches),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
