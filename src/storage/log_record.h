/*  log_record — the record format of the log's segment files, and a
    sequential reader of one segment that checks every record:

        [length u32][crc32c u32][term u64][index u64][type u8][durable u64][payload]

    little-endian; length counts the bytes after the crc (25 + payload) and
    the crc covers those same bytes. The type byte carries LOG_RECORD_MARKED
    over the entry's type; durable is the store's durable mark when the
    record was written: every entry up to that index had been fdatasync'd
    by then. Recovery reads it to tell an unsynced tail whose pages reached
    the disk out of order from corruption under synced entries. Records of
    the first format (no mark bit, no durable field: 17 + payload) are still
    read, as unmarked. The reader never trusts a length it has not checked
    against the file, so a garbage length cannot cost a large buffer. Used
    by the log store (append, replay) and its recovery.
*/
#ifndef LOG_RECORD_H_INCLUDED
#define LOG_RECORD_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

#include "raft/raft_core.h"

//  Record prefix before the checksummed part: length u32, crc32c u32.
#define LOG_RECORD_PREFIX_BYTES 8
//  Fixed checksummed part of the first format: term u64, index u64, type u8.
#define LOG_RECORD_FIXED_BYTES 17
//  The durable mark after the type byte of a marked record.
#define LOG_RECORD_MARK_BYTES 8
//  Type bit of a record that carries the durable mark.
#define LOG_RECORD_MARKED 0x80
//  The durable mark reported for a record of the first format: it says
//  nothing, so recovery takes every entry before it as synced.
#define LOG_RECORD_UNMARKED UINT64_MAX
//  Largest record length field trusted on read and produced on write.
#define LOG_RECORD_MAX_BYTES (64U * 1024 * 1024)

//  Sequential reader of one segment file, in large reads.
typedef struct {
    int fd;           //  file being read
    uint64_t end;     //  bytes of the file that may be read
    uint64_t next;    //  file offset of the next read
    uint8_t *buffer;  //  bytes read from the file
    size_t capacity;  //  bytes allocated for buffer
    size_t head;      //  first byte not yet consumed
    size_t tail;      //  end of the bytes read
    uint64_t durable; //  durable mark of the last valid record read
} log_reader_t;

//  What the reader found next.
typedef enum {
    LOG_RECORD_VALID,  //  a whole record with a good checksum
    LOG_RECORD_END,    //  clean end of the file
    LOG_RECORD_INVALID //  torn or corrupt: nothing from here on is trusted
} log_record_status_t;

//  Bytes the record of entry takes in a segment, as written now.
size_t log_record_size (const raft_entry_t *entry);

//  Encodes entry's record into record (log_record_size bytes), marked
//  with durable: every entry up to that index is on disk already.
void log_record_encode (uint8_t *record, const raft_entry_t *entry, uint64_t durable);

//  Checks the record at the start of bytes (available long) whose index is
//  in [low, high]: the length fits, the index is in range, the crc holds
//  (tested in that order, so scanning garbage costs a few loads per byte).
//  Sets entry (data pointing into bytes) and durable. Returns the record's
//  size, or 0 when no such valid record starts there.
size_t log_record_parse (const uint8_t *bytes, uint64_t available, uint64_t low, uint64_t high,
                         raft_entry_t *entry, uint64_t *durable);

//  Starts reading the first end bytes of the open segment fd from its
//  start. The reader's buffer is kept from one segment to the next (a
//  zeroed reader has none); free it with log_reader_release.
void log_reader_start (log_reader_t *reader, int fd, uint64_t end);

//  Reads the next record into entry, whose data points into the reader's
//  buffer until the next call, and its durable mark into reader->durable.
//  Sets offset to where the record starts.
//  Returns a log_record_status_t, or -1 on a read error.
int log_reader_next (log_reader_t *reader, raft_entry_t *entry, uint64_t *offset);

//  File offset where the next record starts: the end of the last one read.
uint64_t log_reader_offset (const log_reader_t *reader);

//  Frees the reader's buffer, keeping errno.
void log_reader_release (log_reader_t *reader);

#endif
