"""disk — damage to the tail of a stopped node's Raft log, the way a power
cut or a bad sector would leave it: a torn last record (bytes missing at
the end, or half of a next record written) or one flipped byte inside the
last record. The broker must find it by CRC on start, cut the log at the
last good record, and catch up from the leader.

Log layout (DESIGN 4): <node dir>/log/<first index, 20 digits>.seg files of
records [length u32][crc32c u32][term u64][index u64][type u8][payload],
where length counts the 17 fixed bytes plus the payload.

Only ever call these on a node whose process is dead, and on one node at a
time: Raft tolerates losing an acknowledged entry on one node only while a
majority still holds it.
"""

import os
import struct

PREFIX_BYTES = 8        # length u32, crc32c u32
FIXED_BYTES = 17        # term u64, index u64, type u8
MAX_TORN_BYTES = 16     # a torn write loses at most this many bytes here


def last_segment(node_dir):
    """Path of the newest segment file of the node's log, or None."""
    log_dir = os.path.join(node_dir, "log")
    try:
        names = [name for name in os.listdir(log_dir)
                 if name.endswith(".seg") and name[:-4].isdigit()]
    except OSError:
        return None
    if not names:
        return None
    return os.path.join(log_dir, max(names, key=lambda name: int(name[:-4])))


def last_record(path):
    """(offset, size) of the last whole record of a segment file, judged by
    the length fields alone (no CRC), or None when it holds none."""
    with open(path, "rb") as handle:
        data = handle.read()
    offset, last = 0, None
    while offset + PREFIX_BYTES <= len(data):
        (length,) = struct.unpack_from("<I", data, offset)
        end = offset + PREFIX_BYTES + length
        if length < FIXED_BYTES or end > len(data):
            break
        last = (offset, PREFIX_BYTES + length)
        offset = end
    return last


def record_index(path, offset):
    """The log index stored in the record at offset (for the report)."""
    with open(path, "rb") as handle:
        handle.seek(offset + PREFIX_BYTES + 8)
        raw = handle.read(8)
    return struct.unpack("<Q", raw)[0] if len(raw) == 8 else None


def tear_tail(node_dir, rng):
    """Cuts 1..16 bytes off the end of the last segment (never more than its
    last record), or appends the first bytes of a record that was never
    finished. Returns a description, or None if there is no log to tear."""
    path = last_segment(node_dir)
    record = last_record(path) if path else None
    if record is None:
        return None
    offset, size = record
    index = record_index(path, offset)
    if rng.random() < 0.5:
        cut = rng.randint(1, min(MAX_TORN_BYTES, size))
        with open(path, "r+b") as handle:
            handle.truncate(offset + size - cut)
        return "cut %d bytes off the last record (index %s) of %s" % (cut, index, os.path.basename(path))
    # a next record whose write stopped part way: a plausible length, garbage after
    garbage = struct.pack("<I", FIXED_BYTES + rng.randint(1, 64)) + bytes(
        rng.randrange(256) for _ in range(rng.randint(1, MAX_TORN_BYTES)))
    with open(path, "r+b") as handle:
        handle.seek(offset + size)
        handle.truncate()
        handle.write(garbage)
    return "appended %d bytes of an unfinished record after index %s in %s" % (
        len(garbage), index, os.path.basename(path))


def corrupt_tail(node_dir, rng):
    """Flips one byte inside the last record of the last segment (its CRC,
    header or payload). Returns a description, or None if there is no log."""
    path = last_segment(node_dir)
    record = last_record(path) if path else None
    if record is None:
        return None
    offset, size = record
    index = record_index(path, offset)
    # skip the length field: a wrong length reads as a torn tail, covered above
    where = offset + rng.randrange(4, size)
    with open(path, "r+b") as handle:
        handle.seek(where)
        byte = handle.read(1)[0]
        handle.seek(where)
        handle.write(bytes([byte ^ rng.randint(1, 255)]))
    return "flipped byte %d of the last record (index %s) of %s" % (
        where - offset, index, os.path.basename(path))
