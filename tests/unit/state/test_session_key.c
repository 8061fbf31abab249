/*  test_session_key — what the state keeps of a session token: a fixed,
    one-way key of it, never the token itself.
*/

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "state/session_key.h"

static void
test_key_of_a_token (void **state)
{
    (void)state;
    const char *token = "0123456789abcdef0123456789abcdef";
    char key[SESSION_KEY_SIZE], again[SESSION_KEY_SIZE], other[SESSION_KEY_SIZE];
    session_key (token, key);
    session_key (token, again);
    session_key ("0123456789abcdef0123456789abcdee", other);
    //  32 lowercase hex digits, the same every time, never the token
    assert_int_equal (strlen (key), SESSION_KEY_LENGTH);
    assert_int_equal (strspn (key, "0123456789abcdef"), SESSION_KEY_LENGTH);
    assert_string_equal (key, again);
    assert_string_not_equal (key, token);
    assert_string_not_equal (key, other);
    //  A key presented as a token is no key of a session: keys do not chain
    session_key (key, again);
    assert_string_not_equal (again, key);
    //  No token stays no token
    session_key ("", key);
    assert_string_equal (key, "");
    session_key (NULL, key);
    assert_string_equal (key, "");
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_key_of_a_token),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
