/*  fuzz_log_recovery — log_store_open recovering arbitrary segment files,
    then the store working on from what it kept.

    Input: a 5-byte header, then the bytes of the segment file(s):
      [flags u8][split u16 LE][second index delta u8][truncate pick u8][bytes]
    flags: 1 SPLIT     the bytes make two segments, cut at split % (n + 1):
                       the first, and one named first + 1 + second index
                       delta (a gap unless it chains); otherwise all of
                       them are the first segment;
           2 SMALL     a segment size of 64 bytes, so appends roll segments;
           4 FIX_CRC   records are walked by their length fields and their
                       crcs recomputed before writing, so that mutations get
                       past the checksum to lengths, indexes and sequencing;
           8 TRUNCATE  truncate the suffix from first + pick % (count + 1);
          16 COMPACTED the first segment is 00000000000000001000.seg (a log
                       whose prefix went into a snapshot), not ...0001.seg;
          32 PREFIX    compact: truncate the prefix up to
                       first - 1 + pick % (count + 1), then append one
                       entry (at the cut + 1 when nothing is left, as after
                       an installed snapshot), before TRUNCATE.
    Seeds: corpus/log_recovery/ (segments written by the log store itself,
    from index 1 and from 1000, whole, split, torn and corrupted; made by
    make_seeds).

    Invariants checked beyond "no crash, no leak, no UB":
    - open either refuses, with an error naming a segment file and an
      offset, and leaves every file byte for byte as written (corruption
      before the end of the log is never cut), or succeeds having dropped
      only a torn tail of the last segment: an earlier segment is kept
      whole, and kept size + recovered bytes = bytes written;
    - replay visits first..last in order, nothing else;
    - an entry appended and synced is there after a reopen, after exactly
      the entries that were kept (same content); an empty log takes it at
      the index given (the first segment's name, or past a prefix cut);
    - a suffix truncation keeps exactly the entries below the cut; a prefix
      truncation keeps whole segments: the last entry, and the first one
      after the cut at the latest (or nothing when the cut passes the end);
    - after each change a reopen finds the same log, with nothing to recover.
    Per-exec work: files on tmpfs in one scratch directory per process,
    whose log directory is emptied rather than removed and created again.
    Not fsync (tmpfs) but the store's read buffer set the pace: 1 MiB
    allocated per open and per replay is an mmap, page faults in ASan's
    shadow and a munmap each time, ~85% of the CPU time; a buffer no
    larger than the segment makes this target ~6x faster.
*/
#include "harness.h"
#include "util/crc32c.h"
#include "util/little_endian.h"
#include "storage/log_store.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FLAG_SPLIT     1
#define FLAG_SMALL     2
#define FLAG_FIX_CRC   4
#define FLAG_TRUNCATE  8
#define FLAG_COMPACTED 16
#define FLAG_PREFIX    32
#define HEADER_BYTES   5
//  First index of a COMPACTED log.
#define COMPACTED_FIRST_INDEX 1000
//  Record layout (log_record.h): length and crc, then the checksummed part
//  (17 bytes and the payload in the first format, 25 with the durable mark).
#define RECORD_PREFIX_BYTES 8
#define RECORD_FIXED_BYTES  17
#define PATH_SIZE           128
#define ERROR_SIZE          1024

//  The input, taken apart.
typedef struct {
    uint8_t flags;         //  FLAG_*
    uint8_t truncate_pick; //  where TRUNCATE and PREFIX cut
    uint8_t *bytes;        //  segment bytes (heap copy: FIX_CRC edits it)
    size_t first_size;     //  bytes of the first segment
    size_t second_size;    //  bytes of the second, after the first
    uint64_t first_index;  //  name of the first segment
    uint64_t second_index; //  name of the second segment
} layout_t;

//  What a replay saw: the log's range and a checksum of each entry.
typedef struct {
    uint64_t first;  //  first index, 0 when empty
    uint64_t count;  //  entries
    uint32_t *crcs;  //  crcs[i]: crc32c of entry first + i (fields and payload)
    size_t capacity; //  crcs allocated
} snapshot_t;

static const uint8_t s_appended_payload[] = "appended by fuzz_log_recovery";

//  Recomputes the crc of each whole record, walking by length fields.
static void
s_fix_crcs (uint8_t *bytes, size_t size)
{
    size_t at = 0;
    while (size - at >= RECORD_PREFIX_BYTES) {
        uint32_t length = little_endian_get_u32 (bytes + at);
        if (length < RECORD_FIXED_BYTES || length > size - at - RECORD_PREFIX_BYTES)
            return;
        little_endian_put_u32 (bytes + at + 4,
                               crc32c_extend (0, bytes + at + RECORD_PREFIX_BYTES, length));
        at += RECORD_PREFIX_BYTES + length;
    }
}

static int
s_layout (layout_t *layout, const uint8_t *data, size_t size)
{
    if (size < HEADER_BYTES)
        return -1;
    layout->flags = data[0];
    size_t body_size = size - HEADER_BYTES;
    size_t split = ((size_t)data[1] | (size_t)data[2] << 8) % (body_size + 1);
    layout->first_index = layout->flags & FLAG_COMPACTED ? COMPACTED_FIRST_INDEX : 1;
    layout->second_index = layout->first_index + 1 + (uint64_t)data[3];
    layout->truncate_pick = data[4];
    layout->bytes = malloc (body_size ? body_size : 1);
    if (!layout->bytes)
        return -1;
    if (body_size)
        memcpy (layout->bytes, data + HEADER_BYTES, body_size);
    layout->first_size = layout->flags & FLAG_SPLIT ? split : body_size;
    layout->second_size = body_size - layout->first_size;
    if (layout->flags & FLAG_FIX_CRC) {
        s_fix_crcs (layout->bytes, layout->first_size);
        s_fix_crcs (layout->bytes + layout->first_size, layout->second_size);
    }
    return 0;
}

static void
s_segment_name (char *name, size_t size, uint64_t first_index)
{
    snprintf (name, size, "%020" PRIu64 ".seg", first_index);
}

static void
s_write_segments (const char *directory, const layout_t *layout)
{
    char name[32];
    s_segment_name (name, sizeof name, layout->first_index);
    HARNESS_CHECK (harness_write_file (directory, name, layout->bytes, layout->first_size) == 0,
                   "write %s", name);
    if (layout->flags & FLAG_SPLIT) {
        s_segment_name (name, sizeof name, layout->second_index);
        HARNESS_CHECK (harness_write_file (directory, name, layout->bytes + layout->first_size,
                                           layout->second_size) == 0,
                       "write %s", name);
    }
}

static uint32_t
s_entry_crc (const raft_entry_t *entry)
{
    uint8_t fields[RECORD_FIXED_BYTES + 8];
    little_endian_put_u64 (fields, entry->term);
    little_endian_put_u64 (fields + 8, entry->index);
    fields[16] = entry->type;
    little_endian_put_u64 (fields + 17, entry->size);
    return crc32c_extend (crc32c_extend (0, fields, sizeof fields), entry->data, entry->size);
}

static int
s_visit (const raft_entry_t *entry, void *argument)
{
    snapshot_t *snapshot = (snapshot_t *)argument;
    HARNESS_CHECK (entry->index == snapshot->first + snapshot->count,
                   "replay gave %" PRIu64 ", not %" PRIu64, entry->index,
                   snapshot->first + snapshot->count);
    HARNESS_CHECK (entry->size == 0 || entry->data, "payload missing");
    if (snapshot->count == snapshot->capacity) {
        size_t capacity = snapshot->capacity ? snapshot->capacity * 2 : 64;
        uint32_t *crcs = realloc (snapshot->crcs, capacity * sizeof (uint32_t));
        HARNESS_CHECK (crcs != NULL, "out of memory");
        snapshot->crcs = crcs;
        snapshot->capacity = capacity;
    }
    snapshot->crcs[snapshot->count++] = s_entry_crc (entry);
    return 0;
}

//  Replays store into a snapshot, checking it visits exactly first..last.
static snapshot_t
s_snapshot (log_store_t *store)
{
    snapshot_t snapshot = {log_store_first_index (store), 0, NULL, 0};
    uint64_t last = log_store_last_index (store);
    HARNESS_CHECK ((snapshot.first == 0) == (last == 0) && snapshot.first <= last,
                   "first %" PRIu64 " last %" PRIu64, snapshot.first, last);
    HARNESS_CHECK (log_store_replay (store, s_visit, &snapshot) == 0, "replay failed: %s",
                   strerror (errno));
    HARNESS_CHECK (snapshot.count == (last ? last - snapshot.first + 1 : 0),
                   "replay visited %" PRIu64 " of %" PRIu64 "..%" PRIu64, snapshot.count,
                   snapshot.first, last);
    return snapshot;
}

static void
s_snapshot_clear (snapshot_t *snapshot)
{
    free (snapshot->crcs);
    memset (snapshot, 0, sizeof *snapshot);
}

static uint64_t
s_snapshot_last (const snapshot_t *snapshot)
{
    return snapshot->count ? snapshot->first + snapshot->count - 1 : 0;
}

//  Every entry of part is the same entry in whole.
static void
s_check_slice (const snapshot_t *whole, const snapshot_t *part)
{
    if (part->count == 0)
        return;
    HARNESS_CHECK (part->first >= whole->first && s_snapshot_last (part) <= s_snapshot_last (whole),
                   "%" PRIu64 "..%" PRIu64 " is not within %" PRIu64 "..%" PRIu64, part->first,
                   s_snapshot_last (part), whole->first, s_snapshot_last (whole));
    HARNESS_CHECK (memcmp (part->crcs, whole->crcs + (part->first - whole->first),
                           part->count * sizeof (uint32_t)) == 0,
                   "kept entries changed");
}

//  Where the log is and how it is opened.
typedef struct {
    const char *directory;  //  the log directory
    uint64_t segment_bytes; //  its segment size (0: the default)
} place_t;

static log_store_t *
s_open (const place_t *place)
{
    char error[ERROR_SIZE] = "";
    log_store_t *store =
        log_store_open (place->directory, place->segment_bytes, error, sizeof error);
    HARNESS_CHECK (store != NULL, "open failed: %s", error);
    return store;
}

//  Reopens the store and snapshots it: the same range as before the
//  reopen, nothing to recover.
static snapshot_t
s_reopen (log_store_t **store, const place_t *place)
{
    uint64_t first = log_store_first_index (*store);
    uint64_t last = log_store_last_index (*store);
    log_store_destroy (store);
    *store = s_open (place);
    HARNESS_CHECK (log_store_recovered_bytes (*store) == 0,
                   "%" PRIu64 " bytes recovered from a clean store",
                   log_store_recovered_bytes (*store));
    HARNESS_CHECK (log_store_first_index (*store) == first && log_store_last_index (*store) == last,
                   "reopened as %" PRIu64 "..%" PRIu64 ", not %" PRIu64 "..%" PRIu64,
                   log_store_first_index (*store), log_store_last_index (*store), first, last);
    return s_snapshot (*store);
}

//  Appends one entry after what was kept, at empty_index when nothing was;
//  returns the log after a reopen.
static snapshot_t
s_append (log_store_t **store, const place_t *place, const snapshot_t *kept, uint64_t empty_index)
{
    uint64_t index = kept->count ? s_snapshot_last (kept) + 1 : empty_index;
    raft_entry_t entry = {1, index, RAFT_ENTRY_NOOP, (uint8_t *)s_appended_payload,
                          sizeof s_appended_payload};
    HARNESS_CHECK (log_store_append (*store, &entry, 1) == 0, "append %" PRIu64 ": %s", entry.index,
                   strerror (errno));
    HARNESS_CHECK (log_store_sync (*store) == 0, "sync: %s", strerror (errno));
    snapshot_t after = s_reopen (store, place);
    HARNESS_CHECK (after.count == kept->count + 1 && s_snapshot_last (&after) == entry.index,
                   "%" PRIu64 " entries after appending to %" PRIu64, after.count, kept->count);
    s_check_slice (&after, kept);
    HARNESS_CHECK (after.crcs[after.count - 1] == s_entry_crc (&entry),
                   "appended entry came back changed");
    return after;
}

//  Where PREFIX cuts: from just before the first entry to the last one.
static uint64_t
s_prefix_cut (const snapshot_t *before, uint8_t pick)
{
    return (before->first ? before->first - 1 : 0) + pick % (before->count + 1);
}

static snapshot_t
s_truncate_prefix (log_store_t **store, const place_t *place, const snapshot_t *before,
                   uint64_t up_to)
{
    HARNESS_CHECK (log_store_truncate_prefix (*store, up_to) == 0,
                   "truncate prefix to %" PRIu64 ": %s", up_to, strerror (errno));
    snapshot_t after = s_reopen (store, place);
    if (up_to >= s_snapshot_last (before))
        HARNESS_CHECK (after.count == 0, "%" PRIu64 " entries left after compacting to %" PRIu64,
                       after.count, up_to);
    else
        HARNESS_CHECK (
            s_snapshot_last (&after) == s_snapshot_last (before) && after.first >= before->first &&
                after.first <= up_to + 1,
            "compacting %" PRIu64 "..%" PRIu64 " to %" PRIu64 " left %" PRIu64 "..%" PRIu64,
            before->first, s_snapshot_last (before), up_to, after.first, s_snapshot_last (&after));
    s_check_slice (before, &after);
    return after;
}

static snapshot_t
s_truncate_suffix (log_store_t **store, const place_t *place, const snapshot_t *before,
                   uint8_t pick)
{
    uint64_t from = (before->first ? before->first : 1) + pick % (before->count + 1);
    HARNESS_CHECK (log_store_truncate_suffix (*store, from) == 0,
                   "truncate suffix from %" PRIu64 ": %s", from, strerror (errno));
    snapshot_t after = s_reopen (store, place);
    uint64_t kept = before->count ? from - before->first : 0;
    HARNESS_CHECK (
        after.count == kept && (kept == 0 || after.first == before->first),
        "truncating %" PRIu64 "..%" PRIu64 " from %" PRIu64 " left %" PRIu64 "..%" PRIu64,
        before->first, s_snapshot_last (before), from, after.first, s_snapshot_last (&after));
    s_check_slice (before, &after);
    return after;
}

//  Replaces *current by next, the log after one more step.
static void
s_advance (snapshot_t *current, snapshot_t next)
{
    s_snapshot_clear (current);
    *current = next;
}

//  The file name in directory holds exactly size bytes of expected.
static bool
s_file_is (const char *directory, const char *name, const uint8_t *expected, size_t size)
{
    char path[PATH_SIZE];
    snprintf (path, sizeof path, "%s/%s", directory, name);
    FILE *file = fopen (path, "rb");
    if (!file)
        return false;
    uint8_t *bytes = malloc (size + 1);
    HARNESS_CHECK (bytes != NULL, "out of memory");
    size_t got = fread (bytes, 1, size + 1, file);
    fclose (file);
    bool same = got == size && (size == 0 || memcmp (bytes, expected, size) == 0);
    free (bytes);
    return same;
}

//  Bytes of the written segment files that open kept. Past the log's
//  records (records bytes) they may hold only a tail of zeros in the last
//  file, which open takes as the store's preallocated end.
static uint64_t
s_kept_bytes (const char *directory, const layout_t *layout, uint64_t records)
{
    uint64_t indexes[2] = {layout->first_index, layout->second_index};
    int files = layout->flags & FLAG_SPLIT ? 2 : 1;
    uint64_t total = 0;
    uint8_t *last = NULL;
    size_t last_size = 0;
    for (int at = 0; at < files; at++) {
        char name[32];
        char path[PATH_SIZE + sizeof name];
        s_segment_name (name, sizeof name, indexes[at]);
        snprintf (path, sizeof path, "%s/%s", directory, name);
        FILE *file = fopen (path, "rb");
        if (!file)
            continue;
        HARNESS_CHECK (fseek (file, 0, SEEK_END) == 0, "seek %s", path);
        long size = ftell (file);
        HARNESS_CHECK (size >= 0 && fseek (file, 0, SEEK_SET) == 0, "size of %s", path);
        free (last);
        last = malloc ((size_t)size + 1);
        HARNESS_CHECK (last != NULL, "out of memory");
        HARNESS_CHECK (fread (last, 1, (size_t)size, file) == (size_t)size, "read %s", path);
        fclose (file);
        last_size = (size_t)size;
        total += (uint64_t)size;
    }
    HARNESS_CHECK (total >= records && total - records <= last_size,
                   "files of %" PRIu64 " bytes for %" PRIu64 " bytes of records", total, records);
    for (size_t at = last_size - (size_t)(total - records); at < last_size; at++)
        HARNESS_CHECK (last[at] == 0, "a kept byte %zu past the records is not zero", at);
    free (last);
    return total;
}

//  A refused open names a segment and an offset, and changed nothing.
static void
s_check_refusal (const char *directory, const layout_t *layout, const char *error)
{
    HARNESS_CHECK (strstr (error, ".seg: ") && strstr (error, " at offset ") &&
                       strstr (error, "refusing to start"),
                   "open failed otherwise than by refusing corruption: %s", error);
    char name[32];
    s_segment_name (name, sizeof name, layout->first_index);
    HARNESS_CHECK (s_file_is (directory, name, layout->bytes, layout->first_size),
                   "a refused open changed %s", name);
    if (layout->flags & FLAG_SPLIT) {
        s_segment_name (name, sizeof name, layout->second_index);
        HARNESS_CHECK (
            s_file_is (directory, name, layout->bytes + layout->first_size, layout->second_size),
            "a refused open changed %s", name);
    }
}

static void
s_run (const char *directory, const layout_t *layout)
{
    place_t place = {directory, layout->flags & FLAG_SMALL ? 64 : 0};
    s_write_segments (directory, layout);

    char error[ERROR_SIZE] = "";
    log_store_t *store = log_store_open (directory, place.segment_bytes, error, sizeof error);
    if (!store) {
        s_check_refusal (directory, layout, error);
        return;
    }
    if (layout->flags & FLAG_SPLIT) {
        //  Only the last segment can be torn: the first one is kept whole.
        char name[32];
        s_segment_name (name, sizeof name, layout->first_index);
        HARNESS_CHECK (s_file_is (directory, name, layout->bytes, layout->first_size),
                       "recovery cut %s, which is not the last segment", name);
    }
    uint64_t written = layout->first_size + layout->second_size;
    uint64_t kept = s_kept_bytes (directory, layout, log_store_size (store));
    HARNESS_CHECK (kept + log_store_recovered_bytes (store) == written,
                   "kept %" PRIu64 " + recovered %" PRIu64 " != written %" PRIu64, kept,
                   log_store_recovered_bytes (store), written);
    snapshot_t current = s_snapshot (store);
    s_advance (&current, s_append (&store, &place, &current, layout->first_index));
    if (layout->flags & FLAG_PREFIX) {
        uint64_t up_to = s_prefix_cut (&current, layout->truncate_pick);
        s_advance (&current, s_truncate_prefix (&store, &place, &current, up_to));
        s_advance (&current, s_append (&store, &place, &current, up_to + 1));
    }
    if (layout->flags & FLAG_TRUNCATE)
        s_advance (&current, s_truncate_suffix (&store, &place, &current, layout->truncate_pick));
    s_snapshot_clear (&current);
    log_store_destroy (&store);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    const char *scratch = harness_scratch ();
    layout_t layout;
    if (!scratch || s_layout (&layout, data, size))
        return 0;
    char directory[PATH_SIZE];
    snprintf (directory, sizeof directory, "%s/log", scratch);
    HARNESS_CHECK (harness_empty_directory (directory) == 0, "cannot empty %s: %s", directory,
                   strerror (errno));
    //  What it leaves is removed by the next input, or at exit with the scratch directory.
    s_run (directory, &layout);
    free (layout.bytes);
    return 0;
}
