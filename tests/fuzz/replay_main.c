/*  replay_main — runs a fuzz target without libFuzzer, so that the corpora
    are regression tests on any compiler (`make fuzz-replay`, part of
    `make test`).

    Usage: fuzz_<name> [-v] PATH...  Each file named, and each regular file
    in each directory named, is fed once to LLVMFuzzerTestOneInput, in name
    order so that a failure reproduces the same way every time. An input that
    breaks an invariant aborts the process (or a sanitizer stops it); -v
    names each input before it runs, to tell which one that was.
*/
#include "harness.h"

#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

//  Largest input replayed: corpora are minimized, so anything bigger is a
//  mistake (a stray file), not a test.
#define REPLAY_MAX_INPUT (16 * 1024 * 1024)

//  libFuzzer calls it once before the first input when a target defines it.
int LLVMFuzzerInitialize (int *argc, char ***argv) __attribute__ ((weak));

//  Reads a whole file. Returns a malloc'd buffer (at least one byte, so an
//  empty input is a valid pointer) or NULL with a message printed.
static uint8_t *
s_read_file (const char *path, size_t *size)
{
    FILE *file = fopen (path, "rb");
    if (!file) {
        fprintf (stderr, "%s: %s\n", path, strerror (errno));
        return NULL;
    }
    uint8_t *data = NULL;
    size_t used = 0;
    size_t capacity = 0;
    bool failed = false;
    while (!failed) {
        if (used == capacity) {
            capacity = capacity ? capacity * 2 : 4096;
            uint8_t *bigger = capacity <= REPLAY_MAX_INPUT ? realloc (data, capacity) : NULL;
            if (!bigger) {
                fprintf (stderr, "%s: too large or out of memory\n", path);
                failed = true;
                break;
            }
            data = bigger;
        }
        size_t got = fread (data + used, 1, capacity - used, file);
        used += got;
        if (got == 0) {
            if (ferror (file)) {
                fprintf (stderr, "%s: read error\n", path);
                failed = true;
            }
            break;
        }
    }
    fclose (file);
    if (failed) {
        free (data);
        return NULL;
    }
    *size = used;
    return data;
}

//  What a replay run is doing.
typedef struct {
    bool verbose; //  name each input before running it
    size_t count; //  inputs run so far
} replay_t;

static int
s_replay_file (const char *path, replay_t *replay)
{
    size_t size = 0;
    uint8_t *data = s_read_file (path, &size);
    if (!data)
        return -1;
    if (replay->verbose) {
        fprintf (stderr, "%s\n", path);
        fflush (stderr);
    }
    LLVMFuzzerTestOneInput (data, size);
    free (data);
    replay->count++;
    return 0;
}

static int
s_compare_names (const void *left, const void *right)
{
    return strcmp (*(char *const *)left, *(char *const *)right);
}

static int
s_replay_directory (const char *path, replay_t *replay)
{
    DIR *directory = opendir (path);
    if (!directory) {
        fprintf (stderr, "%s: %s\n", path, strerror (errno));
        return -1;
    }
    char **names = NULL;
    size_t name_count = 0;
    int rc = 0;
    struct dirent *item;
    while (rc == 0 && (item = readdir (directory))) {
        if (item->d_name[0] == '.')
            continue;
        char **more = realloc (names, (name_count + 1) * sizeof (char *));
        char *name = NULL;
        if (more) {
            names = more;
            if (asprintf (&name, "%s/%s", path, item->d_name) < 0)
                name = NULL;
        }
        if (!name)
            rc = -1;
        else
            names[name_count++] = name;
    }
    closedir (directory);
    if (name_count > 1)
        qsort (names, name_count, sizeof (char *), s_compare_names);
    for (size_t index = 0; index < name_count; index++) {
        struct stat status;
        if (rc == 0 && stat (names[index], &status) == 0 && S_ISREG (status.st_mode))
            rc = s_replay_file (names[index], replay);
        free (names[index]);
    }
    free (names);
    return rc;
}

int
main (int argc, char **argv)
{
    replay_t replay = {false, 0};
    int first = 1;
    if (argc > 1 && strcmp (argv[1], "-v") == 0) {
        replay.verbose = true;
        first = 2;
    }
    if (argc <= first) {
        fprintf (stderr, "usage: %s [-v] CORPUS_DIRECTORY_OR_FILE...\n", argv[0]);
        return 2;
    }
    if (LLVMFuzzerInitialize)
        LLVMFuzzerInitialize (&argc, &argv);
    int rc = 0;
    for (int index = first; index < argc && rc == 0; index++) {
        struct stat status;
        if (stat (argv[index], &status)) {
            fprintf (stderr, "%s: %s\n", argv[index], strerror (errno));
            rc = -1;
        } else if (S_ISDIR (status.st_mode))
            rc = s_replay_directory (argv[index], &replay);
        else
            rc = s_replay_file (argv[index], &replay);
    }
    printf ("%s: %zu inputs replayed%s\n", argv[0], replay.count, rc ? ", then failed" : "");
    return rc ? 1 : 0;
}
