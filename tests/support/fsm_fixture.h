/*  fsm_fixture — driving a state machine in unit tests the way the server
    does: packed commands applied at the next index, outputs compared byte
    for byte, snapshots packed and restored, seeded random numbers. A check
    that fails prints why and aborts the test binary, a failure `make unit`
    reports: this file links into every test binary and into the fuzz
    targets, which do not link cmocka, so it cannot call cmocka itself.
*/
#ifndef FSM_FIXTURE_H_INCLUDED
#define FSM_FIXTURE_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "state/fsm.h"

//  One log entry of a random history.
typedef struct {
    uint8_t *data; //  packed command, NULL for a skipped (no-op) entry
    size_t size;   //  its bytes
} fsm_fixture_entry_t;

//  Prints why a check failed and aborts the test binary.
void fsm_fixture_fail (const char *format, ...) __attribute__ ((format (printf, 1, 2), noreturn));

//  xorshift64*: a fixed generator, so a printed seed replays a run.
uint64_t fsm_fixture_random (uint64_t *seed);

//  RAFTQ_TEST_SEED when set, else one from the clock and the process id.
uint64_t fsm_fixture_seed (void);

//  Packs command; the caller frees.
uint8_t *fsm_fixture_pack (const Raftq__State__Command *command, size_t *size);

//  Applies command packed at the next index; the reply must answer it
//  (same seq, an index not ahead of the state). Clear output after.
void fsm_fixture_apply (fsm_t *fsm, const Raftq__State__Command *command, fsm_output_t *output);

//  Applies command and returns its reply code (events dropped).
Raftq__Code fsm_fixture_run (fsm_t *fsm, const Raftq__State__Command *command);

//  Applies a command that must fail with code, without events, with an
//  error text that contains text.
void fsm_fixture_expect_error (fsm_t *fsm, const Raftq__State__Command *command, Raftq__Code code,
                               const char *text);

//  Applies entry at the next index (a skip when it has no data); returns
//  what fsm_apply or fsm_skip returned.
int fsm_fixture_apply_entry (fsm_t *fsm, const fsm_fixture_entry_t *entry, fsm_output_t *output);

//  Frees the count entries of a history and the history.
void fsm_fixture_history_destroy (fsm_fixture_entry_t **history_p, size_t count);

//  The reply (if any) and the events of output, packed one after the
//  other; the caller frees.
uint8_t *fsm_fixture_output_bytes (const fsm_output_t *output, size_t *size);

//  True when both outputs pack to the same bytes.
bool fsm_fixture_same_output (const fsm_output_t *first, const fsm_output_t *second);

//  Replay of stream from from_seq, at most limit events (the caller frees).
Raftq__Reply *fsm_fixture_replay (fsm_t *fsm, const char *stream, uint64_t from_seq,
                                  uint32_t limit);

//  A fresh fsm with options restored from fsm's state, the way a snapshot
//  file carries it (packed and unpacked); it must hash like fsm, and
//  saving must leave fsm as it was.
fsm_t *fsm_fixture_snapshot_copy (fsm_t *fsm, const fsm_options_t *options);

#endif
