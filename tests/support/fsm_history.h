/*  fsm_history — random histories of state machine entries for tests, and
    comparing what two state machines answer. See fsm_history.c.
*/
#ifndef FSM_HISTORY_H_INCLUDED
#define FSM_HISTORY_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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

//  One log entry: a packed command, or NULL data for a no-op entry.
typedef struct {
    uint8_t *data; //  the packed command, NULL: a no-op
    size_t size;   //  its size
} fsm_history_entry_t;

//  Options with small bounds, so that eviction of clients, of events by
//  count and by bytes, and the session limit all come into play.
extern const fsm_options_t fsm_history_small_options;

//  xorshift64*: a fixed generator, so a printed seed replays the run.
uint64_t fsm_history_random (uint64_t *seed);

//  count random entries from seed. Free with fsm_history_destroy.
fsm_history_entry_t *fsm_history_new (uint64_t seed, size_t count);

void fsm_history_destroy (fsm_history_entry_t **history_p, size_t count);

//  Applies entry at fsm's next index (fails the test if apply refuses).
void fsm_history_apply (fsm_t *fsm, const fsm_history_entry_t *entry, fsm_output_t *output);

//  True if both outputs pack to the same bytes.
bool fsm_history_same_output (const fsm_output_t *first, const fsm_output_t *second);

//  True if both fsms answer a Replay of stream from its start alike.
bool fsm_history_same_replay (fsm_t *first, fsm_t *second, const char *stream);

//  A fsm with some of everything (small options): the first count entries
//  of the history of seed applied.
fsm_t *fsm_history_rich_fsm (uint64_t seed, size_t count);

#endif
