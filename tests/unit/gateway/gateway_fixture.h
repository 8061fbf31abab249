/*  gateway_fixture — the scratch directory a gateway unit test works in,
    with the path of the one file it writes there (a key, a config).
    Header-only (static inline): each test file is a binary of its own.
*/
#ifndef GATEWAY_FIXTURE_H_INCLUDED
#define GATEWAY_FIXTURE_H_INCLUDED

#include <stdio.h>
#include <stdlib.h>

#include "temp_dir.h"

typedef struct {
    char directory[256]; //  scratch directory, removed by the teardown
    char path[300];      //  <directory>/<the file's name>
} gateway_fixture_t;

//  A cmocka setup's body: a fresh directory and the path of file_name in it.
static inline int
gateway_fixture_setup (void **state, const char *file_name)
{
    gateway_fixture_t *fixture = calloc (1, sizeof *fixture);
    if (!fixture ||
        temp_dir_make (fixture->directory, sizeof fixture->directory, "gateway") == -1) {
        free (fixture);
        return -1;
    }
    snprintf (fixture->path, sizeof fixture->path, "%s/%s", fixture->directory, file_name);
    *state = fixture;
    return 0;
}

static inline int
gateway_fixture_teardown (void **state)
{
    gateway_fixture_t *fixture = *state;
    temp_dir_remove (fixture->directory);
    free (fixture);
    return 0;
}

#endif
