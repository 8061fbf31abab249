/*  test_cluster_identity — a node directory is bound to the first identity
    it is started with: written (atomically: no temporary left, one line),
    found again, and another one refused with one line naming the directory
    and both identities, the file left as it was. Parents are created.
*/
#include "temp_dir.h"
#include "storage/cluster_identity.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#define PATH_SIZE  256
#define ERROR_SIZE 1024

static int
s_setup (void **state)
{
    static char root[PATH_SIZE];
    if (temp_dir_make (root, sizeof root, "raftq-test-identity"))
        return -1;
    *state = root;
    return 0;
}

static int
s_teardown (void **state)
{
    return temp_dir_remove ((const char *)*state);
}

//  The whole identity file of node_dir, into text.
static void
s_read_file (const char *node_dir, char *text, size_t size)
{
    char path[PATH_SIZE + 16];
    snprintf (path, sizeof path, "%s/cluster", node_dir);
    FILE *file = fopen (path, "r");
    assert_non_null (file);
    size_t got = fread (text, 1, size - 1, file);
    text[got] = 0;
    fclose (file);
}

static void
test_written_then_matched (void **state)
{
    char node_dir[PATH_SIZE];
    //  Its parent (a keyed data directory) does not exist yet either.
    snprintf (node_dir, sizeof node_dir, "%s/data/rrmq-1/node-1", (const char *)*state);
    char error[ERROR_SIZE] = "";
    assert_int_equal (cluster_identity_bind (node_dir, "raftq", 0x1234abcdULL, error, sizeof error),
                      CLUSTER_IDENTITY_WRITTEN);
    char text[256];
    s_read_file (node_dir, text, sizeof text);
    assert_string_equal (text, "raftq/000000001234abcd\n");
    char temporary[PATH_SIZE + 16];
    snprintf (temporary, sizeof temporary, "%s/cluster.tmp", node_dir);
    assert_int_equal (access (temporary, F_OK), -1);
    assert_int_equal (cluster_identity_bind (node_dir, "raftq", 0x1234abcdULL, error, sizeof error),
                      CLUSTER_IDENTITY_MATCHED);
}

static void
test_another_cluster_refused (void **state)
{
    char node_dir[PATH_SIZE];
    snprintf (node_dir, sizeof node_dir, "%s/node-2", (const char *)*state);
    char error[ERROR_SIZE] = "";
    assert_int_equal (cluster_identity_bind (node_dir, "raftq", 7, error, sizeof error),
                      CLUSTER_IDENTITY_WRITTEN);
    //  Another id under the same name, then another name.
    assert_int_equal (cluster_identity_bind (node_dir, "raftq", 8, error, sizeof error),
                      CLUSTER_IDENTITY_MISMATCH);
    char expected[ERROR_SIZE];
    snprintf (expected, sizeof expected,
              "data directory %s belongs to cluster raftq/0000000000000007, not to cluster "
              "raftq/0000000000000008 of this config: ",
              node_dir);
    assert_memory_equal (error, expected, strlen (expected));
    assert_null (strchr (error, '\n'));
    assert_int_equal (cluster_identity_bind (node_dir, "other\ncluster", 7, error, sizeof error),
                      CLUSTER_IDENTITY_MISMATCH);
    assert_non_null (strstr (error, "not to cluster other?cluster/0000000000000007"));
    char text[256];
    s_read_file (node_dir, text, sizeof text);
    assert_string_equal (text, "raftq/0000000000000007\n");
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown (test_written_then_matched, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_another_cluster_refused, s_setup, s_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
