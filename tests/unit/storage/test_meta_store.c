/*  test_meta_store — drives the meta store on a real directory: fresh store,
    save and reopen, slot alternation, torn and corrupt slots.

    The tests know the on-disk layout (two 24-byte slots 4096 bytes apart,
    version v in slot v % 2) so they can tear and corrupt exactly one slot.
*/
#include "misuse.h"
#include "temp_dir.h"
#include "storage/meta_store.h"

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#define SLOT_BYTES  24
#define SLOT_STRIDE 4096
#define ERROR_SIZE  256
//  Room for the fixture path plus a file name.
#define PATH_SIZE 256

typedef struct {
    char root[64];        //  fresh temporary directory
    char path[128];       //  the node directory inside it
    char file[PATH_SIZE]; //  the meta file
} fixture_t;

static int
s_setup (void **state)
{
    fixture_t *fixture = calloc (1, sizeof (fixture_t));
    if (!fixture)
        return -1;
    if (temp_dir_make (fixture->root, sizeof fixture->root, "test-meta")) {
        free (fixture);
        return -1;
    }
    snprintf (fixture->path, sizeof fixture->path, "%s/node", fixture->root);
    snprintf (fixture->file, sizeof fixture->file, "%s/meta", fixture->path);
    *state = fixture;
    return 0;
}

static int
s_teardown (void **state)
{
    fixture_t *fixture = (fixture_t *)*state;
    int rc = temp_dir_remove (fixture->root);
    free (fixture);
    return rc;
}

static meta_store_t *
s_open (fixture_t *fixture)
{
    char error[ERROR_SIZE] = "";
    meta_store_t *meta = meta_store_open (fixture->path, error, sizeof error);
    if (!meta)
        fprintf (stderr, "meta_store_open: %s\n", error);
    assert_non_null (meta);
    return meta;
}

static void
s_expect (fixture_t *fixture, uint64_t term, uint32_t voted_for)
{
    meta_store_t *meta = s_open (fixture);
    assert_int_equal (meta_store_term (meta), term);
    assert_int_equal (meta_store_voted_for (meta), voted_for);
    meta_store_destroy (&meta);
    assert_null (meta);
}

static void
s_save (fixture_t *fixture, uint64_t term, uint32_t voted_for)
{
    meta_store_t *meta = s_open (fixture);
    assert_int_equal (meta_store_save (meta, term, voted_for), 0);
    assert_int_equal (meta_store_term (meta), term);
    assert_int_equal (meta_store_voted_for (meta), voted_for);
    meta_store_destroy (&meta);
}

//  Overwrites bytes of the file at offset, as a torn or corrupting write would.
static void
s_overwrite (fixture_t *fixture, off_t offset, const void *bytes, size_t size)
{
    int fd = open (fixture->file, O_RDWR);
    assert_true (fd >= 0);
    assert_int_equal (pwrite (fd, bytes, size, offset), (ssize_t)size);
    close (fd);
}

static void
s_flip_byte (fixture_t *fixture, off_t offset)
{
    int fd = open (fixture->file, O_RDWR);
    assert_true (fd >= 0);
    uint8_t byte;
    assert_int_equal (pread (fd, &byte, 1, offset), 1);
    byte ^= 0x01;
    assert_int_equal (pwrite (fd, &byte, 1, offset), 1);
    close (fd);
}

//  The term stored in slot index, read straight from the file.
static uint64_t
s_slot_term (fixture_t *fixture, int index)
{
    int fd = open (fixture->file, O_RDONLY);
    assert_true (fd >= 0);
    uint8_t bytes[SLOT_BYTES];
    assert_int_equal (pread (fd, bytes, sizeof bytes, (off_t)index * SLOT_STRIDE), SLOT_BYTES);
    close (fd);
    uint64_t term = 0;
    for (int at = 7; at >= 0; at--)
        term = term << 8 | bytes[12 + at];
    return term;
}

static void
test_fresh_store (void **state)
{
    fixture_t *fixture = (fixture_t *)*state;
    s_expect (fixture, 0, 0);
    //  The fresh state is on disk, not just assumed.
    struct stat status;
    assert_int_equal (stat (fixture->file, &status), 0);
    assert_true (status.st_size >= SLOT_BYTES);
    s_expect (fixture, 0, 0);
}

static void
test_empty_file_is_fresh (void **state)
{
    fixture_t *fixture = (fixture_t *)*state;
    assert_int_equal (mkdir (fixture->path, 0755), 0);
    int fd = open (fixture->file, O_WRONLY | O_CREAT, 0644);
    assert_true (fd >= 0);
    close (fd);
    s_expect (fixture, 0, 0);
    s_save (fixture, 3, 2);
    s_expect (fixture, 3, 2);
}

static void
test_save_and_reopen (void **state)
{
    fixture_t *fixture = (fixture_t *)*state;
    s_save (fixture, 5, 2);
    s_expect (fixture, 5, 2);
    s_save (fixture, 6, 0);
    s_expect (fixture, 6, 0);
    s_save (fixture, UINT64_MAX - 1, UINT32_MAX);
    s_expect (fixture, UINT64_MAX - 1, UINT32_MAX);
}

static void
test_saves_alternate_slots (void **state)
{
    fixture_t *fixture = (fixture_t *)*state;
    meta_store_t *meta = s_open (fixture);
    for (uint64_t term = 1; term <= 100; term++) {
        assert_int_equal (meta_store_save (meta, term, (uint32_t)(term % 5)), 0);
        //  Version v (here v == term) goes to slot v % 2; the other slot still
        //  holds the previous save.
        assert_int_equal (s_slot_term (fixture, (int)(term % 2)), term);
        assert_int_equal (s_slot_term (fixture, (int)((term + 1) % 2)), term - 1);
        if (term % 10 == 0)
            s_expect (fixture, term, (uint32_t)(term % 5));
    }
    meta_store_destroy (&meta);
    s_expect (fixture, 100, 0);
}

static void
test_torn_save_keeps_previous (void **state)
{
    fixture_t *fixture = (fixture_t *)*state;
    s_save (fixture, 3, 1); //  version 1, slot 1
    s_save (fixture, 4, 2); //  version 2, slot 0
    //  The write of version 2 reached the disk only in part.
    uint8_t zeros[SLOT_BYTES / 2] = {0};
    s_overwrite (fixture, SLOT_BYTES / 2, zeros, sizeof zeros);
    s_expect (fixture, 3, 1);

    //  The next save replaces the torn slot, and wins.
    s_save (fixture, 9, 4);
    s_expect (fixture, 9, 4);
    assert_int_equal (s_slot_term (fixture, 0), 9);
    assert_int_equal (s_slot_term (fixture, 1), 3);
}

static void
test_torn_first_save_keeps_fresh_state (void **state)
{
    fixture_t *fixture = (fixture_t *)*state;
    s_save (fixture, 7, 3); //  version 1, slot 1: extends the file
    assert_int_equal (truncate (fixture->file, SLOT_STRIDE + 10), 0);
    s_expect (fixture, 0, 0);
}

static void
test_flipped_byte_in_newest_slot (void **state)
{
    fixture_t *fixture = (fixture_t *)*state;
    s_save (fixture, 10, 1); //  slot 1
    s_save (fixture, 11, 2); //  slot 0
    s_save (fixture, 12, 3); //  slot 1, newest
    for (int at = 0; at < SLOT_BYTES; at++) {
        s_flip_byte (fixture, SLOT_STRIDE + at);
        s_expect (fixture, 11, 2);
        s_flip_byte (fixture, SLOT_STRIDE + at);
        s_expect (fixture, 12, 3);
    }
}

static void
test_both_slots_corrupt_is_an_error (void **state)
{
    fixture_t *fixture = (fixture_t *)*state;
    s_save (fixture, 20, 1);
    s_save (fixture, 21, 2);
    s_flip_byte (fixture, 14);
    s_flip_byte (fixture, SLOT_STRIDE + 14);
    char error[ERROR_SIZE] = "";
    assert_null (meta_store_open (fixture->path, error, sizeof error));
    assert_non_null (strstr (error, "corrupt"));

    //  Garbage that never was a meta file is refused too.
    char garbage[100];
    memset (garbage, 'x', sizeof garbage);
    assert_int_equal (truncate (fixture->file, 0), 0);
    s_overwrite (fixture, 0, garbage, sizeof garbage);
    error[0] = '\0';
    assert_null (meta_store_open (fixture->path, error, sizeof error));
    assert_true (strlen (error) > 0);
}

static void
test_open_errors (void **state)
{
    fixture_t *fixture = (fixture_t *)*state;
    char error[ERROR_SIZE] = "";
    //  The directory path is a regular file.
    int fd = open (fixture->path, O_WRONLY | O_CREAT | O_EXCL, 0644);
    assert_true (fd >= 0);
    close (fd);
    assert_null (meta_store_open (fixture->path, error, sizeof error));
    assert_true (strlen (error) > 0);
}

//  Opens a store of the forked child's own, at term 5 with a vote for 2.
static meta_store_t *
s_open_child_store (fixture_t *fixture)
{
    char path[PATH_SIZE];
    snprintf (path, sizeof path, "%s/child-%d", fixture->root, (int)getpid ());
    char error[256];
    meta_store_t *meta = meta_store_open (path, error, sizeof error);
    if (!meta || meta_store_save (meta, 5, 2))
        _exit (3); //  neither a clean exit nor an abort: fails the check
    return meta;
}

//  Saves an older term (misuse), or a newer one.
static void
s_save_older_term (void *fixture, bool misuse)
{
    meta_store_t *meta = s_open_child_store ((fixture_t *)fixture);
    meta_store_save (meta, misuse ? 4 : 6, 0);
    meta_store_destroy (&meta);
}

//  Changes the vote within its term (misuse), or saves the same vote again.
static void
s_save_second_vote (void *fixture, bool misuse)
{
    meta_store_t *meta = s_open_child_store ((fixture_t *)fixture);
    meta_store_save (meta, 5, misuse ? 3 : 2);
    meta_store_destroy (&meta);
}

//  The core keeps Raft's promises (terms never go back, one vote a term);
//  a save that would break them is the caller's bug and aborts.
static void
test_raft_promises_are_preconditions (void **state)
{
    fixture_t *fixture = (fixture_t *)*state;
    misuse_check (s_save_older_term, fixture);
    misuse_check (s_save_second_vote, fixture);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown (test_fresh_store, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_raft_promises_are_preconditions, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_empty_file_is_fresh, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_save_and_reopen, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_saves_alternate_slots, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_torn_save_keeps_previous, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_torn_first_save_keeps_fresh_state, s_setup,
                                         s_teardown),
        cmocka_unit_test_setup_teardown (test_flipped_byte_in_newest_slot, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_both_slots_corrupt_is_an_error, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_open_errors, s_setup, s_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
