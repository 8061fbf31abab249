/*  fsm_history — random histories over every state machine operation, for
    the snapshot tests; built on fsm_fixture (entries, random numbers,
    output comparison). See fsm_history.c.
*/
#ifndef FSM_HISTORY_H_INCLUDED
#define FSM_HISTORY_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fsm_fixture.h"
#include "state/fsm.h"

//  Runs under valgrind are slower: tests make shorter histories there.
#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#endif
#endif
#ifndef RUNNING_ON_VALGRIND
#define RUNNING_ON_VALGRIND 0
#endif

//  Options with small bounds, so that eviction of clients, of events by
//  count and by bytes, and the session limit all come into play.
extern const fsm_options_t fsm_history_small_options;

//  count random entries from seed (fsm_fixture_random), over queue and
//  chat operations. Free with fsm_fixture_history_destroy.
fsm_fixture_entry_t *fsm_history_new (uint64_t seed, size_t count);

//  Applies entry at fsm's next index (fails the test if apply refuses).
void fsm_history_apply (fsm_t *fsm, const fsm_fixture_entry_t *entry, fsm_output_t *output);

//  True if both fsms answer a Replay of stream from its start alike.
bool fsm_history_same_replay (fsm_t *first, fsm_t *second, const char *stream);

//  A fsm with some of everything (small options): the first count entries
//  of the history of seed applied.
fsm_t *fsm_history_rich_fsm (uint64_t seed, size_t count);

#endif
