/*  fsm_fixture — unit tests drive the state machine here; see fsm_fixture.h.  */

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fsm_fixture.h"

void
fsm_fixture_fail (const char *format, ...)
{
    va_list arguments;
    va_start (arguments, format);
    vfprintf (stderr, format, arguments);
    va_end (arguments);
    fprintf (stderr, "\n");
    abort ();
}

static void *
s_alloc (size_t size)
{
    void *memory = malloc (size ? size : 1);
    if (!memory)
        fsm_fixture_fail ("out of memory");
    return memory;
}

uint64_t
fsm_fixture_random (uint64_t *seed)
{
    *seed ^= *seed >> 12;
    *seed ^= *seed << 25;
    *seed ^= *seed >> 27;
    return *seed * 0x2545F4914F6CDD1DULL;
}

uint64_t
fsm_fixture_seed (void)
{
    const char *text = getenv ("RAFTQ_TEST_SEED");
    if (text)
        return strtoull (text, NULL, 0);
    return (uint64_t)time (NULL) * 1000003ULL ^ (uint64_t)getpid ();
}

uint8_t *
fsm_fixture_pack (const Raftq__State__Command *command, size_t *size)
{
    *size = raftq__state__command__get_packed_size (command);
    uint8_t *data = (uint8_t *)s_alloc (*size);
    raftq__state__command__pack (command, data);
    return data;
}

void
fsm_fixture_apply (fsm_t *fsm, const Raftq__State__Command *command, fsm_output_t *output)
{
    size_t size;
    uint8_t *data = fsm_fixture_pack (command, &size);
    int rc = fsm_apply (fsm, fsm_applied_index (fsm) + 1, data, size, output);
    free (data);
    if (rc != 0 || !output->reply)
        fsm_fixture_fail ("fsm_apply at %" PRIu64 " gave no reply", fsm_applied_index (fsm) + 1);
    //  A retry's reply keeps the index its request first applied at
    if (output->reply->index > fsm_applied_index (fsm) || output->reply->seq != command->seq)
        fsm_fixture_fail ("reply of index %" PRIu64 " seq %" PRIu64 " does not answer seq %" PRIu64,
                          output->reply->index, output->reply->seq, command->seq);
}

Raftq__Code
fsm_fixture_run (fsm_t *fsm, const Raftq__State__Command *command)
{
    fsm_output_t output;
    fsm_fixture_apply (fsm, command, &output);
    Raftq__Code code = output.reply->code;
    fsm_output_clear (&output);
    return code;
}

void
fsm_fixture_expect_error (fsm_t *fsm, const Raftq__State__Command *command, Raftq__Code code,
                          const char *text)
{
    fsm_output_t output;
    fsm_fixture_apply (fsm, command, &output);
    if (output.reply->code != code || !strstr (output.reply->error, text) || output.event_count)
        fsm_fixture_fail ("expected code %d with \"%s\" and no event, got %d \"%s\" and %zu events",
                          code, text, output.reply->code, output.reply->error, output.event_count);
    fsm_output_clear (&output);
}

int
fsm_fixture_apply_entry (fsm_t *fsm, const fsm_fixture_entry_t *entry, fsm_output_t *output)
{
    uint64_t index = fsm_applied_index (fsm) + 1;
    if (!entry->data) {
        memset (output, 0, sizeof *output);
        return fsm_skip (fsm, index);
    }
    return fsm_apply (fsm, index, entry->data, entry->size, output);
}

void
fsm_fixture_history_destroy (fsm_fixture_entry_t **history_p, size_t count)
{
    for (size_t position = 0; position < count; position++)
        free ((*history_p)[position].data);
    free (*history_p);
    *history_p = NULL;
}

uint8_t *
fsm_fixture_output_bytes (const fsm_output_t *output, size_t *size)
{
    *size = output->reply ? raftq__reply__get_packed_size (output->reply) : 0;
    for (size_t position = 0; position < output->event_count; position++)
        *size += raftq__event__get_packed_size (output->events[position]);
    uint8_t *bytes = (uint8_t *)s_alloc (*size);
    size_t used = output->reply ? raftq__reply__pack (output->reply, bytes) : 0;
    for (size_t position = 0; position < output->event_count; position++)
        used += raftq__event__pack (output->events[position], bytes + used);
    if (used != *size)
        fsm_fixture_fail ("packed %zu bytes of %zu", used, *size);
    return bytes;
}

bool
fsm_fixture_same_output (const fsm_output_t *first, const fsm_output_t *second)
{
    if ((first->reply == NULL) != (second->reply == NULL) ||
        first->event_count != second->event_count)
        return false;
    size_t first_size, second_size;
    uint8_t *first_bytes = fsm_fixture_output_bytes (first, &first_size);
    uint8_t *second_bytes = fsm_fixture_output_bytes (second, &second_size);
    bool same = first_size == second_size && memcmp (first_bytes, second_bytes, first_size) == 0;
    free (first_bytes);
    free (second_bytes);
    return same;
}

Raftq__Reply *
fsm_fixture_replay (fsm_t *fsm, const char *stream, uint64_t from_seq, uint32_t limit)
{
    Raftq__Replay replay = RAFTQ__REPLAY__INIT;
    replay.stream = (char *)stream;
    replay.from_seq = from_seq;
    replay.limit = limit;
    Raftq__Reply *reply = fsm_replay (fsm, &replay);
    if (!reply)
        fsm_fixture_fail ("fsm_replay of %s gave no reply", stream);
    return reply;
}

fsm_t *
fsm_fixture_snapshot_copy (fsm_t *fsm, const fsm_options_t *options)
{
    uint64_t hash_before = fsm_state_hash (fsm);
    Raftq__State__FsmState saved;
    fsm_snapshot_save (fsm, &saved);
    size_t size = raftq__state__fsm_state__get_packed_size (&saved);
    uint8_t *packed = (uint8_t *)s_alloc (size);
    raftq__state__fsm_state__pack (&saved, packed);
    fsm_snapshot_release (&saved);
    if (saved.n_topics || saved.n_clients || saved.events || saved.chat)
        fsm_fixture_fail ("fsm_snapshot_release left parts of the state");
    //  Saving borrows: the original is untouched
    if (fsm_state_hash (fsm) != hash_before)
        fsm_fixture_fail ("saving a snapshot changed the state");

    Raftq__State__FsmState *state = raftq__state__fsm_state__unpack (NULL, size, packed);
    free (packed);
    if (!state)
        fsm_fixture_fail ("a saved state does not unpack");
    fsm_t *copy = fsm_new (options);
    char error[256] = "";
    if (fsm_snapshot_load (copy, state, error, sizeof error))
        fsm_fixture_fail ("fsm_snapshot_load: %s", error);
    raftq__state__fsm_state__free_unpacked (state, NULL);
    if (fsm_applied_index (copy) != fsm_applied_index (fsm) || fsm_state_hash (copy) != hash_before)
        fsm_fixture_fail ("a restored state differs from the saved one");
    return copy;
}
