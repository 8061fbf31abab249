/*  test_secret_file — the admin secret's file: created once with a random
    secret, 0600 in a 0700 directory; read back the same; refused when
    others may read it, when empty, or when missing and not to be created.
*/

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/secret_file.h"

//  A fresh temporary directory for one test; removed by s_teardown.
static int
s_setup (void **state)
{
    char *directory = strdup ("/tmp/raftq-secret-XXXXXX");
    assert_non_null (mkdtemp (directory));
    *state = directory;
    return 0;
}

static int
s_teardown (void **state)
{
    char command[128];
    snprintf (command, sizeof command, "rm -rf '%s'", (char *)*state);
    assert_int_equal (system (command), 0);
    free (*state);
    return 0;
}

static void
s_write (const char *path, const char *text, mode_t mode)
{
    int fd = open (path, O_WRONLY | O_CREAT | O_TRUNC, mode);
    assert_true (fd >= 0);
    assert_int_equal (write (fd, text, strlen (text)), (ssize_t)strlen (text));
    assert_int_equal (fchmod (fd, mode), 0);
    close (fd);
}

static void
test_created_private_and_stable (void **state)
{
    char path[256], secret[SECRET_FILE_MAX + 1], again[SECRET_FILE_MAX + 1], error[512];
    snprintf (path, sizeof path, "%s/data/admin.secret", (char *)*state);
    bool created = false;
    mode_t old = umask (0);
    int rc = secret_file_read (path, true, secret, sizeof secret, &created, error, sizeof error);
    umask (old);
    assert_int_equal (rc, 0);
    assert_true (created);
    assert_int_equal (strlen (secret), 64);
    struct stat status;
    assert_int_equal (stat (path, &status), 0);
    assert_int_equal (status.st_mode & 0777, 0600);
    char directory[256];
    snprintf (directory, sizeof directory, "%s/data", (char *)*state);
    assert_int_equal (stat (directory, &status), 0);
    assert_int_equal (status.st_mode & 0777, 0700);

    assert_int_equal (
        secret_file_read (path, true, again, sizeof again, &created, error, sizeof error), 0);
    assert_false (created);
    assert_string_equal (again, secret);
}

static void
test_refusals (void **state)
{
    char path[256], secret[SECRET_FILE_MAX + 1], error[512];
    snprintf (path, sizeof path, "%s/admin.secret", (char *)*state);
    assert_int_equal (
        secret_file_read (path, false, secret, sizeof secret, NULL, error, sizeof error), -1);
    assert_non_null (strstr (error, "cannot read"));

    s_write (path, "hunter2\n", 0644);
    assert_int_equal (
        secret_file_read (path, true, secret, sizeof secret, NULL, error, sizeof error), -1);
    assert_non_null (strstr (error, "chmod 600"));
    assert_null (strstr (error, "hunter2"));

    s_write (path, " \n", 0600);
    assert_int_equal (
        secret_file_read (path, true, secret, sizeof secret, NULL, error, sizeof error), -1);
    assert_non_null (strstr (error, "empty"));

    s_write (path, "hunter2 \r\n", 0600);
    assert_int_equal (
        secret_file_read (path, true, secret, sizeof secret, NULL, error, sizeof error), 0);
    assert_string_equal (secret, "hunter2");
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown (test_created_private_and_stable, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_refusals, s_setup, s_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
