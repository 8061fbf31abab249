/*  seeds_stores — seeds of fuzz_log_recovery and fuzz_meta_recovery: log
    segments and meta files written by the stores themselves, whole and
    damaged. Part of make_seeds.
*/
#include "seeds.h"

#include "storage/log_store.h"
#include "storage/meta_store.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PATH_SIZE  SEEDS_PATH_SIZE
#define ERROR_SIZE SEEDS_ERROR_SIZE
//  Meta file layout (meta_store.c): slots at 0 and at 4096, 24 bytes each.
#define SLOT_BYTES  24
#define SLOT_STRIDE 4096
//  Flags of the file-based targets (see their header comments).
#define LOG_FLAG_SPLIT     1
#define LOG_FLAG_SMALL     2
#define LOG_FLAG_FIX_CRC   4
#define LOG_FLAG_TRUNCATE  8
#define LOG_FLAG_COMPACTED 16
#define LOG_FLAG_PREFIX    32
//  First index of a COMPACTED log in fuzz_log_recovery.
#define COMPACTED_FIRST_INDEX 1000
#define META_FLAG_FIX_CRC     1
#define META_FLAG_SPREAD      2

//  Seeds one log_recovery input: header, then bytes.
static void
s_log_seed (seeds_t *seeds, const char *label, uint8_t flags, uint16_t split, uint8_t delta,
            const uint8_t *bytes, size_t size)
{
    uint8_t *input = malloc (5 + size);
    if (!input) {
        seeds->rc = -1;
        return;
    }
    input[0] = flags;
    input[1] = (uint8_t)split;
    input[2] = (uint8_t)(split >> 8);
    input[3] = delta;
    input[4] = 1;
    memcpy (input + 5, bytes, size);
    seeds_add (seeds, "log_recovery", label, input, 5 + size);
    free (input);
}

//  The segment a fresh log store writes for four entries from first_index.
static uint8_t *
s_log_segment (const char *scratch, uint64_t first_index, size_t *size)
{
    char path[PATH_SIZE];
    snprintf (path, sizeof path, "%s/log-%" PRIu64, scratch, first_index);
    char error[ERROR_SIZE];
    log_store_t *store = log_store_open (path, 0, error, sizeof error);
    if (!store) {
        fprintf (stderr, "%s\n", error);
        return NULL;
    }
    raft_entry_t entries[4] = {
        {1, first_index, RAFT_ENTRY_NOOP, NULL, 0},
        {1, first_index + 1, RAFT_ENTRY_COMMAND, (uint8_t *)"\x0a\x06orders", 8},
        {2, first_index + 2, RAFT_ENTRY_COMMAND, (uint8_t *)"publish me", 10},
        {2, first_index + 3, RAFT_ENTRY_CONFIG, (uint8_t *)"\x01\x02", 2},
    };
    int rc = log_store_append (store, entries, 4) || log_store_sync (store);
    //  The records, not the zero tail the store writes ahead of them
    uint64_t records = log_store_size (store);
    log_store_destroy (&store);
    snprintf (path, sizeof path, "%s/log-%" PRIu64 "/%020" PRIu64 ".seg", scratch, first_index,
              first_index);
    uint8_t *bytes = rc ? NULL : seeds_read_file (path, size);
    if (bytes && *size > records)
        *size = (size_t)records;
    return bytes;
}

static void
s_log_seeds (seeds_t *seeds, const char *scratch)
{
    size_t size = 0;
    uint8_t *bytes = s_log_segment (scratch, 1, &size);
    if (!bytes) {
        seeds->rc = -1;
        return;
    }
    //  Record sizes: 33 + payload; records 1 and 2 end at 33 and 74.
    s_log_seed (seeds, "whole", 0, 0, 0, bytes, size);
    s_log_seed (seeds, "whole-truncate", LOG_FLAG_TRUNCATE | LOG_FLAG_SMALL, 0, 0, bytes, size);
    s_log_seed (seeds, "split-compact", LOG_FLAG_SPLIT | LOG_FLAG_PREFIX | LOG_FLAG_SMALL, 74, 1,
                bytes, size);
    s_log_seed (seeds, "split-chained", LOG_FLAG_SPLIT, 74, 1, bytes, size);
    s_log_seed (seeds, "split-gap", LOG_FLAG_SPLIT | LOG_FLAG_TRUNCATE, 74, 7, bytes, size);
    s_log_seed (seeds, "torn-tail", 0, 0, 0, bytes, size - 3);
    s_log_seed (seeds, "torn-fix-crc", LOG_FLAG_FIX_CRC, 0, 0, bytes, size - 3);
    bytes[40] ^= 0x40;
    s_log_seed (seeds, "flipped", LOG_FLAG_SMALL, 0, 0, bytes, size);
    s_log_seed (seeds, "flipped-fix-crc", LOG_FLAG_FIX_CRC | LOG_FLAG_SPLIT, 33, 0, bytes, size);
    s_log_seed (seeds, "empty", 0, 0, 0, bytes, 0);
    free (bytes);

    bytes = s_log_segment (scratch, COMPACTED_FIRST_INDEX, &size);
    if (!bytes) {
        seeds->rc = -1;
        return;
    }
    s_log_seed (seeds, "compacted", LOG_FLAG_COMPACTED | LOG_FLAG_TRUNCATE | LOG_FLAG_PREFIX, 0, 0,
                bytes, size);
    s_log_seed (seeds, "compacted-split", LOG_FLAG_COMPACTED | LOG_FLAG_SPLIT | LOG_FLAG_SMALL, 74,
                1, bytes, size);
    free (bytes);
}

static void
s_meta_seed (seeds_t *seeds, const char *label, uint8_t flags, const uint8_t *file, size_t size)
{
    uint8_t *input = malloc (1 + size);
    if (!input) {
        seeds->rc = -1;
        return;
    }
    input[0] = flags;
    memcpy (input + 1, file, size);
    seeds_add (seeds, "meta_recovery", label, input, 1 + size);
    free (input);
}

//  The meta file after saves saves, read back.
static uint8_t *
s_meta_file (const char *scratch, int saves, size_t *size)
{
    char path[PATH_SIZE];
    snprintf (path, sizeof path, "%s/node-%d", scratch, saves);
    char error[ERROR_SIZE];
    meta_store_t *store = meta_store_open (path, error, sizeof error);
    if (!store)
        return NULL;
    int rc = 0;
    for (int save = 1; save <= saves && rc == 0; save++)
        rc = meta_store_save (store, (uint64_t)save * 3, (uint32_t)save);
    meta_store_destroy (&store);
    snprintf (path, sizeof path, "%s/node-%d/meta", scratch, saves);
    return rc ? NULL : seeds_read_file (path, size);
}

static void
s_meta_seeds (seeds_t *seeds, const char *scratch)
{
    for (int saves = 0; saves <= 2; saves++) {
        size_t size = 0;
        uint8_t *file = s_meta_file (scratch, saves, &size);
        if (!file) {
            seeds->rc = -1;
            return;
        }
        char label[32];
        snprintf (label, sizeof label, "saved-%d", saves);
        s_meta_seed (seeds, label, 0, file, size);
        if (size >= SLOT_STRIDE + SLOT_BYTES) {
            //  The compact form: both slots, without the padding between them.
            uint8_t compact[2 * SLOT_BYTES];
            memcpy (compact, file, SLOT_BYTES);
            memcpy (compact + SLOT_BYTES, file + SLOT_STRIDE, SLOT_BYTES);
            snprintf (label, sizeof label, "saved-%d-spread", saves);
            s_meta_seed (seeds, label, META_FLAG_SPREAD | META_FLAG_FIX_CRC, compact,
                         sizeof compact);
            snprintf (label, sizeof label, "saved-%d-torn", saves);
            s_meta_seed (seeds, label, 0, file, SLOT_STRIDE + SLOT_BYTES / 2);
            file[SLOT_STRIDE + 9] ^= 1;
            snprintf (label, sizeof label, "saved-%d-flipped", saves);
            s_meta_seed (seeds, label, 0, file, size);
        }
        free (file);
    }
    s_meta_seed (seeds, "empty", 0, (const uint8_t *)"", 0);
    s_meta_seed (seeds, "garbage", 0, (const uint8_t *)"not a meta file at all.", 24);
}

void
seeds_stores (seeds_t *seeds, const char *scratch)
{
    s_log_seeds (seeds, scratch);
    s_meta_seeds (seeds, scratch);
}
