/*  test_glob — shell-style patterns as ListAccounts uses them: every kind
    of element, the corner cases of sets and escapes (which every node must
    read alike), the literal prefix that narrows a sorted scan, and linear
    time on a pattern built to make a backtracking matcher explode.
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/glob.h"

typedef struct {
    const char *pattern; //  the pattern
    const char *name;    //  a name to match
    bool matches;        //  whether it matches
} glob_case_t;

//  Fails naming the first case that glob_match gets wrong.
static void
s_expect_cases (const glob_case_t *cases, size_t count)
{
    for (size_t position = 0; position < count; position++)
        if (glob_match (cases[position].pattern, cases[position].name) != cases[position].matches)
            fail_msg ("'%s' against '%s' should %s", cases[position].pattern, cases[position].name,
                      cases[position].matches ? "match" : "not match");
}

static void
test_literals_stars_and_questions (void **state)
{
    (void)state;
    const glob_case_t cases[] = {
        {"ann", "ann", true},     {"ann", "an", false},    {"ann", "anne", false},
        {"", "", true},           {"", "a", false},        {"*", "", true},
        {"*", "anything", true},  {"a*", "a", true},       {"a*", "ba", false},
        {"*n", "ann", true},      {"*n", "and", false},    {"a*n*e", "annie", true},
        {"a*n*e", "anni", false}, {"**", "x", true},       {"a**b", "ab", true},
        {"?", "a", true},         {"?", "", false},        {"?", "ab", false},
        {"a?c", "abc", true},     {"a?c", "ac", false},    {"*?", "", false},
        {"*a*b", "xaxb", true},   {"*a*b", "xbxa", false}, {"Ann", "ann", false},
    };
    s_expect_cases (cases, sizeof cases / sizeof cases[0]);
}

static void
test_sets (void **state)
{
    (void)state;
    const glob_case_t cases[] = {
        {"[abc]", "b", true},
        {"[abc]", "d", false},
        {"[a-c]x", "bx", true},
        {"[a-c]x", "dx", false},
        {"[!a-c]", "d", true},
        {"[!a-c]", "a", false},
        {"[^a-c]", "d", true},
        {"[^a-c]", "c", false},
        {"[]a]", "]", true},
        {"[]a]", "a", true},
        {"[]a]", "b", false},
        {"[!]]", "]", false},
        {"[!]]", "x", true},
        {"[a-]", "-", true},
        {"[a-]", "b", false},
        {"[-a]", "-", true},
        {"[0-9_.]*", "7x", true},
        {"[0-9_.]*", "x7", false},
        {"[a-cx-z]", "y", true},
        {"[a-cx-z]", "m", false},
        //  No closing bracket: the '[' is an ordinary character
        {"[ab", "[ab", true},
        {"[ab", "a", false},
        {"a[", "a[", true},
    };
    s_expect_cases (cases, sizeof cases / sizeof cases[0]);
}

static void
test_escapes (void **state)
{
    (void)state;
    const glob_case_t cases[] = {
        {"\\*", "*", true},
        {"\\*", "a", false},
        {"a\\?", "a?", true},
        {"a\\?", "ab", false},
        {"\\[a]", "[a]", true},
        {"\\\\", "\\", true},
        {"\\a", "a", true},
        //  A trailing backslash stands for itself
        {"a\\", "a\\", true},
        {"a\\", "a", false},
    };
    s_expect_cases (cases, sizeof cases / sizeof cases[0]);
}

static void
test_literal_prefix (void **state)
{
    (void)state;
    assert_int_equal (glob_literal_prefix (""), 0);
    assert_int_equal (glob_literal_prefix ("ann"), 3);
    assert_int_equal (glob_literal_prefix ("an*"), 2);
    assert_int_equal (glob_literal_prefix ("a?n"), 1);
    assert_int_equal (glob_literal_prefix ("ab[c]"), 2);
    assert_int_equal (glob_literal_prefix ("a\\*"), 1);
    assert_int_equal (glob_literal_prefix ("*ann"), 0);
    //  Every name a pattern matches begins with its literal prefix
    const char *names[] = {"ann", "anna", "bob", "an", "annex"};
    const char *patterns[] = {"an*", "ann?", "a[n]*", "bo*", "*"};
    for (size_t pattern = 0; pattern < 5; pattern++)
        for (size_t name = 0; name < 5; name++)
            if (glob_match (patterns[pattern], names[name]))
                assert_int_equal (strncmp (names[name], patterns[pattern],
                                           glob_literal_prefix (patterns[pattern])),
                                  0);
}

//  "a*a*...*b" against a long run of 'a': exponential for a backtracking
//  matcher, a fraction of a second here.
static void
test_linear_time (void **state)
{
    (void)state;
    char pattern[129];
    size_t length = 0;
    while (length < 120) {
        pattern[length++] = 'a';
        pattern[length++] = '*';
    }
    pattern[length++] = 'b';
    pattern[length] = 0;
    const size_t name_length = 20000;
    char *name = (char *)malloc (name_length + 1);
    assert_non_null (name);
    memset (name, 'a', name_length);
    name[name_length] = 0;
    clock_t start = clock ();
    assert_false (glob_match (pattern, name));
    name[name_length - 1] = 'b';
    assert_true (glob_match (pattern, name));
    double seconds = (double)(clock () - start) / CLOCKS_PER_SEC;
    free (name);
    if (seconds > 2.0)
        fail_msg ("matching took %.2f s", seconds);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_literals_stars_and_questions),
        cmocka_unit_test (test_sets),
        cmocka_unit_test (test_escapes),
        cmocka_unit_test (test_literal_prefix),
        cmocka_unit_test (test_linear_time),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
