/*  snapshot_fixture — what the snapshot tests share: a fresh directory per
    test with a snapshot directory and a second one in it, the seed of the
    test's random runs (RAFTQ_TEST_SEED replays one; printed before the
    test runs), and checking which snapshot files a directory holds.
*/
#ifndef SNAPSHOT_FIXTURE_H_INCLUDED
#define SNAPSHOT_FIXTURE_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

typedef struct {
    char root[64];   //  fresh temporary directory
    char dir[128];   //  <root>/snap: the snapshot directory
    char other[128]; //  <root>/other: a second one (receiving, comparing)
    uint64_t seed;   //  seed of the test's random runs
} snapshot_fixture_t;

//  cmocka setup: a fresh snapshot_fixture_t in *state (directories not
//  created: the code under test creates them).
int snapshot_fixture_setup (void **state);

//  cmocka teardown: removes the directory and frees the fixture.
int snapshot_fixture_teardown (void **state);

//  Fails unless dir holds exactly the snapshot files of expected (newest
//  first).
void snapshot_fixture_expect_indexes (const char *dir, const uint64_t *expected,
                                      size_t expected_count);

#endif
