/*  fuzz_meta_recovery — meta_store_open on an arbitrary meta file, then
    saves on top of what it found.

    Input: [flags u8][file bytes]
    flags: 1 FIX_CRC  the crc of each whole slot (at 0 and at 4096) is
                      recomputed before writing, so that mutations get past
                      the checksum to versions, parity, terms and votes;
           2 SPREAD   the first 24 file bytes stay at offset 0 and the rest
                      go to offset 4096 (the gap zero-filled): both slots
                      within reach of a short input.
    Seeds: corpus/meta_recovery/ (files written by the meta store itself
    after 0, 1 and 2 saves, torn and corrupted; made by make_seeds).

    Invariants checked beyond "no crash, no leak, no UB":
    - an empty file is a fresh store (term 0, no vote);
    - otherwise open succeeds exactly when a slot is valid (crc, and version
      parity matching its position), and then yields one valid slot's term
      and vote: the newer one when their versions are consecutive;
    - a refusal comes with a reason;
    - two saves in a row (one per slot) each read back after a reopen.
    Per-exec work: one small file on tmpfs in the process's scratch
    directory, in a node directory emptied rather than created anew.
*/
#include "harness.h"
#include "util/crc32c.h"
#include "util/little_endian.h"
#include "storage/meta_store.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FLAG_FIX_CRC 1
#define FLAG_SPREAD  2
//  Slot layout (meta_store.c): [crc u32][version u64][term u64][voted_for u32]
//  at 0 and at 4096.
#define SLOT_BYTES  24
#define SLOT_STRIDE 4096
#define PATH_SIZE   128
#define ERROR_SIZE  256

typedef struct {
    bool valid;         //  crc matches and version parity names this slot
    uint64_t version;   //  save counter
    uint64_t term;      //  current term
    uint32_t voted_for; //  vote
} slot_t;

//  Lays the input out as the file; returns a heap buffer and its size.
static uint8_t *
s_file_bytes (const uint8_t *data, size_t size, size_t *file_size)
{
    uint8_t flags = data[0];
    const uint8_t *body = data + 1;
    size_t body_size = size - 1;
    *file_size = body_size;
    if (flags & FLAG_SPREAD && body_size > SLOT_BYTES)
        *file_size = SLOT_STRIDE + body_size - SLOT_BYTES;
    uint8_t *file = calloc (1, *file_size ? *file_size : 1);
    if (!file)
        return NULL;
    if (*file_size == body_size)
        memcpy (file, body, body_size);
    else {
        memcpy (file, body, SLOT_BYTES);
        memcpy (file + SLOT_STRIDE, body + SLOT_BYTES, body_size - SLOT_BYTES);
    }
    for (size_t index = 0; flags & FLAG_FIX_CRC && index < 2; index++) {
        size_t offset = index * SLOT_STRIDE;
        if (*file_size >= offset + SLOT_BYTES)
            little_endian_put_u32 (file + offset,
                                   crc32c_extend (0, file + offset + 4, SLOT_BYTES - 4));
    }
    return file;
}

static slot_t
s_slot (const uint8_t *file, size_t file_size, unsigned index)
{
    slot_t slot = {false, 0, 0, 0};
    size_t offset = index * SLOT_STRIDE;
    if (file_size < offset + SLOT_BYTES)
        return slot;
    const uint8_t *bytes = file + offset;
    slot.version = little_endian_get_u64 (bytes + 4);
    slot.term = little_endian_get_u64 (bytes + 12);
    slot.voted_for = little_endian_get_u32 (bytes + 20);
    slot.valid = little_endian_get_u32 (bytes) == crc32c_extend (0, bytes + 4, SLOT_BYTES - 4) &&
                 (slot.version & 1) == index;
    return slot;
}

static bool
s_holds (meta_store_t *store, const slot_t *slot)
{
    return slot->valid && meta_store_term (store) == slot->term &&
           meta_store_voted_for (store) == slot->voted_for;
}

static void
s_check_opened (meta_store_t *store, const uint8_t *file, size_t file_size)
{
    if (file_size == 0) {
        HARNESS_CHECK (meta_store_term (store) == 0 && meta_store_voted_for (store) == 0,
                       "fresh store not at term 0");
        return;
    }
    slot_t slots[2] = {s_slot (file, file_size, 0), s_slot (file, file_size, 1)};
    HARNESS_CHECK (slots[0].valid || slots[1].valid, "opened with no valid slot");
    HARNESS_CHECK (s_holds (store, &slots[0]) || s_holds (store, &slots[1]),
                   "term %" PRIu64 " vote %" PRIu32 " is in no valid slot", meta_store_term (store),
                   meta_store_voted_for (store));
    for (unsigned index = 0; index < 2; index++) {
        const slot_t *newer = &slots[index];
        const slot_t *older = &slots[1 - index];
        if (newer->valid && older->valid && newer->version == older->version + 1)
            HARNESS_CHECK (s_holds (store, newer), "took the older slot");
    }
}

static meta_store_t *
s_reopen (meta_store_t **store, const char *directory)
{
    meta_store_destroy (store);
    char error[ERROR_SIZE] = "";
    *store = meta_store_open (directory, error, sizeof error);
    HARNESS_CHECK (*store != NULL, "reopen failed: %s", error);
    return *store;
}

static void
s_run (const char *directory, const uint8_t *file, size_t file_size)
{
    HARNESS_CHECK (harness_write_file (directory, "meta", file, file_size) == 0, "write meta");
    char error[ERROR_SIZE] = "";
    meta_store_t *store = meta_store_open (directory, error, sizeof error);
    if (!store) {
        HARNESS_CHECK (error[0] != '\0', "refused without a reason");
        HARNESS_CHECK (file_size > 0 && !s_slot (file, file_size, 0).valid &&
                           !s_slot (file, file_size, 1).valid,
                       "refused a file with a valid slot: %s", error);
        return;
    }
    s_check_opened (store, file, file_size);
    //  Two saves: the first lands in one slot, the second in the other.
    //  The core never goes past the last term (a store holding it is left
    //  as read); a vote stands for its term, so each save starts a new one.
    for (int save = 0; save < 2 && meta_store_term (store) < UINT64_MAX; save++) {
        uint64_t term = meta_store_term (store) + 1;
        uint32_t voted_for = meta_store_voted_for (store) + 1;
        HARNESS_CHECK (meta_store_save (store, term, voted_for) == 0, "save: %s", strerror (errno));
        s_reopen (&store, directory);
        HARNESS_CHECK (
            meta_store_term (store) == term && meta_store_voted_for (store) == voted_for,
            "save %d of term %" PRIu64 " vote %" PRIu32 " read back as %" PRIu64 " %" PRIu32, save,
            term, voted_for, meta_store_term (store), meta_store_voted_for (store));
    }
    meta_store_destroy (&store);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    const char *scratch = harness_scratch ();
    if (!scratch || size < 1)
        return 0;
    size_t file_size = 0;
    uint8_t *file = s_file_bytes (data, size, &file_size);
    if (!file)
        return 0;
    char directory[PATH_SIZE];
    snprintf (directory, sizeof directory, "%s/node", scratch);
    HARNESS_CHECK (harness_empty_directory (directory) == 0, "cannot empty %s: %s", directory,
                   strerror (errno));
    //  What it leaves is removed by the next input, or at exit with the scratch directory.
    s_run (directory, file, file_size);
    free (file);
    return 0;
}
