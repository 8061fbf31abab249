/*  test_gateway_seal — the gateway's sealed session cookie: the key file
    (made when missing, shared by a second gateway, refused when it is not
    a key or when others may read it), a round trip, and every forged,
    tampered, foreign or malformed cookie refused without a crash.
*/
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "gateway_seal.h"
#include "gateway_fixture.h"

static int
s_setup (void **state)
{
    return gateway_fixture_setup (state, "gateway.key");
}

static gateway_seal_t *
s_seal (const char *key_file)
{
    char error[256] = "";
    gateway_seal_t *seal = gateway_seal_new (key_file, error, sizeof error);
    if (!seal)
        fail_msg ("gateway_seal_new: %s", error);
    return seal;
}

static void
test_round_trip_and_shared_key (void **state)
{
    gateway_fixture_t *fixture = *state;
    gateway_seal_t *maker = s_seal (fixture->path);
    struct stat info;
    assert_int_equal (stat (fixture->path, &info), 0);
    assert_int_equal (info.st_mode & 0777, 0600);
    assert_int_equal (info.st_size, 65);

    gateway_session_t session, opened;
    assert_int_equal (gateway_session_init (&session, "alice", "0123456789abcdef0123456789abcdef"),
                      0);
    assert_true (strlen (session.csrf) >= 20);
    char *cookie = gateway_seal_session (maker, &session);
    char *again = gateway_seal_session (maker, &session);
    assert_non_null (cookie);
    assert_string_not_equal (cookie, again); //  a fresh nonce each time
    assert_null (strstr (cookie, "alice"));
    assert_null (strpbrk (cookie, "=;, +/"));

    //  A second gateway on the same key file opens what the first sealed.
    gateway_seal_t *reader = s_seal (fixture->path);
    assert_int_equal (gateway_seal_open (reader, cookie, &opened), 0);
    assert_string_equal (opened.user, "alice");
    assert_string_equal (opened.token, session.token);
    assert_string_equal (opened.csrf, session.csrf);
    assert_int_equal (gateway_seal_open (reader, again, &opened), 0);

    gateway_session_t other;
    assert_int_equal (gateway_session_init (&other, "alice", session.token), 0);
    assert_string_not_equal (other.csrf, session.csrf);
    free (cookie);
    free (again);
    gateway_seal_destroy (&maker);
    gateway_seal_destroy (&reader);
    assert_null (reader);
}

static void
test_forgeries_refused (void **state)
{
    gateway_fixture_t *fixture = *state;
    gateway_seal_t *seal = s_seal (fixture->path);
    gateway_session_t session, opened;
    assert_int_equal (gateway_session_init (&session, "bob", "feedfeedfeedfeedfeedfeedfeedfeed"),
                      0);
    char *cookie = gateway_seal_session (seal, &session);
    assert_non_null (cookie);

    //  Every byte changed, one at a time: the box's MAC catches each.
    for (size_t index = 0; cookie[index]; index++) {
        char *tampered = strdup (cookie);
        tampered[index] = tampered[index] == 'A' ? 'B' : 'A';
        assert_int_equal (gateway_seal_open (seal, tampered, &opened), -1);
        free (tampered);
    }
    //  Cut short, empty, not base64, far too long, NULL
    char *shortened = strndup (cookie, strlen (cookie) / 2);
    assert_int_equal (gateway_seal_open (seal, shortened, &opened), -1);
    assert_int_equal (gateway_seal_open (seal, "", &opened), -1);
    assert_int_equal (gateway_seal_open (seal, "not base64 at all!", &opened), -1);
    assert_int_equal (gateway_seal_open (seal, NULL, &opened), -1);
    char *huge = malloc (100001);
    memset (huge, 'A', 100000);
    huge[100000] = 0;
    assert_int_equal (gateway_seal_open (seal, huge, &opened), -1);

    //  Sealed under another key
    char other_file[400];
    snprintf (other_file, sizeof other_file, "%s/other.key", fixture->directory);
    gateway_seal_t *other = s_seal (other_file);
    assert_int_equal (gateway_seal_open (other, cookie, &opened), -1);

    free (shortened);
    free (huge);
    free (cookie);
    gateway_seal_destroy (&seal);
    gateway_seal_destroy (&other);
}

static void
test_session_fields_bounded (void **state)
{
    (void)state;
    gateway_session_t session;
    char long_name[GATEWAY_USER_MAX + 1];
    memset (long_name, 'x', sizeof long_name - 1);
    long_name[sizeof long_name - 1] = 0;
    assert_int_equal (gateway_session_init (&session, long_name, "token"), -1);
    assert_int_equal (gateway_session_init (&session, "alice", NULL), -1);
}

static void
test_bad_key_files (void **state)
{
    gateway_fixture_t *fixture = *state;
    FILE *file = fopen (fixture->path, "w");
    assert_non_null (file);
    fputs ("not a key\n", file);
    fclose (file);
    assert_int_equal (chmod (fixture->path, 0600), 0);
    char error[256] = "";
    assert_null (gateway_seal_new (fixture->path, error, sizeof error));
    assert_non_null (strstr (error, "not a gateway key"));
    assert_non_null (strstr (error, fixture->path));

    char missing[400];
    snprintf (missing, sizeof missing, "%s/no/such/dir/gateway.key", fixture->directory);
    assert_null (gateway_seal_new (missing, error, sizeof error));
    assert_non_null (strstr (error, missing));
}

//  A key file others may read is refused, with what to do about it; the
//  same file private again is taken.
static void
test_readable_key_file_refused (void **state)
{
    gateway_fixture_t *fixture = *state;
    gateway_seal_t *maker = s_seal (fixture->path);
    gateway_seal_destroy (&maker);
    char error[256] = "";
    const mode_t modes[] = {0604, 0640, 0644};
    for (size_t index = 0; index < sizeof modes / sizeof modes[0]; index++) {
        assert_int_equal (chmod (fixture->path, modes[index]), 0);
        assert_null (gateway_seal_new (fixture->path, error, sizeof error));
        assert_non_null (strstr (error, "chmod 600"));
        assert_non_null (strstr (error, fixture->path));
    }
    assert_int_equal (chmod (fixture->path, 0600), 0);
    gateway_seal_t *reader = s_seal (fixture->path);
    gateway_seal_destroy (&reader);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown (test_round_trip_and_shared_key, s_setup,
                                         gateway_fixture_teardown),
        cmocka_unit_test_setup_teardown (test_forgeries_refused, s_setup, gateway_fixture_teardown),
        cmocka_unit_test (test_session_fields_bounded),
        cmocka_unit_test_setup_teardown (test_bad_key_files, s_setup, gateway_fixture_teardown),
        cmocka_unit_test_setup_teardown (test_readable_key_file_refused, s_setup,
                                         gateway_fixture_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
