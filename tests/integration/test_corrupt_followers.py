"""A corrupt record under acknowledged entries on two followers of three
never lets the cluster serve a state missing an acknowledged write (issue
15, README "Storage faults are loud"), through real raftqd processes.

Both followers are stopped, one byte of an acknowledged publish's record
is flipped in each (before the tail: valid records follow it), the leader
is killed too, and all three are started again. Then:
- the two damaged nodes refuse to start, exit 1, with one line naming the
  segment file and the offset of the bad record, and change nothing on
  disk;
- the old leader, alone, has no quorum: it never claims to lead, names no
  leader, and answers reads and pops with a failure (or not at the
  deadline), never with data;
- the documented repair (move the node directory aside, start the node
  with "join": true, add it back) brings the damaged nodes back one at a
  time, each a copy of the old leader; and with the old leader killed,
  the two repaired nodes alone serve every acknowledged message exactly
  once, in order.

One test damages a middle segment, the other the last segment before its
tail (where the torn-tail rule must not mistake it for a crash while
appending). The record, the byte, and whether the payload or the length
field is hit are drawn from a seed, printed; RAFTQ_TEST_SEED replays one.
"""

import os
import random
import struct
import time

from harness import (ELECTION_TIMEOUT_MS, OK, REQUEST_TIMEOUT_S, check, check_equal, message_get,
                     topic_get, wait_until)
from test_membership import admin, mark_joining, node_put, wait_members

#  Small segments so the log spans several files with several records each;
#  snapshots far away (the default, spelled out) so nothing is compacted and
#  the damaged records are the only copy of their entries on those nodes.
SETTINGS = {"segment_bytes": 1024, "snapshot_log_bytes": 64 * 1024 * 1024,
            "snapshot_trailing_entries": 100000}
#  Record layout of a segment (log_record.h): length u32, crc32c u32, then
#  term u64, index u64, type u8 (bit 0x80: a durable mark follows), the
#  durable mark u64, payload. The last segment ends in zeros (preallocated).
PREFIX_BYTES = 8
AT_INDEX = PREFIX_BYTES + 8
FIXED_BYTES = 17
MARKED = 0x80
MARK_BYTES = 8
#  A node that must refuse does so at once.
REFUSAL_TIMEOUT_S = 10.0
#  How long the lone healthy node is watched for a claim to lead: several
#  election timeouts, in which a node that thought it could win would try.
NO_QUORUM_WATCH_S = 4 * ELECTION_TIMEOUT_MS[1] / 1000.0
#  Acknowledged messages published before the damage; padded so a 1 KiB
#  segment holds about six of them.
MESSAGES = 40
PADDING = "x" * 100
#  Further messages published one by one until the last segment of both
#  followers holds enough of them to damage one before its tail.
MORE_MESSAGES_MAX = 30


def _seed():
    seed = int(os.environ.get("RAFTQ_TEST_SEED") or random.randrange(1 << 32))
    print("    seed %d (RAFTQ_TEST_SEED=%d replays it)" % (seed, seed), flush=True)
    return random.Random(seed)


def _message(number):
    return "m%03d-%s" % (number, PADDING)


def _segments(cluster, node_id):
    log_dir = os.path.join(cluster.config.nodes[node_id].dir, "log")
    names = sorted((name for name in os.listdir(log_dir) if name.endswith(".seg")),
                   key=lambda name: int(name[:-4]))
    return log_dir, names


def _records(path):
    """(offset, length, index, payload, durable mark) of each whole record
    of a segment, by the length fields up to the zero tail (the files are
    intact when this runs)."""
    with open(path, "rb") as handle:
        data = handle.read()
    records, offset = [], 0
    while offset + PREFIX_BYTES + FIXED_BYTES <= len(data):
        (length,) = struct.unpack_from("<I", data, offset)
        if length == 0:
            break
        (index,) = struct.unpack_from("<Q", data, offset + AT_INDEX)
        body = data[offset + PREFIX_BYTES:offset + PREFIX_BYTES + length]
        fixed, durable = FIXED_BYTES, None
        if body[FIXED_BYTES - 1] & MARKED:
            (durable,) = struct.unpack_from("<Q", body, FIXED_BYTES)
            fixed += MARK_BYTES
        records.append((offset, length, index, body[fixed:], durable))
        offset += PREFIX_BYTES + length
    return records


def _acked_inside(records, acked, last_segment):
    """Positions of the records that carry one of the acknowledged messages,
    and not as the first or the last record of their file: valid records
    come before and after each (the middle of a segment, not its tail). In
    the last segment, a later record must also carry a durable mark that
    says the record was synced before it was written: else a crash could
    have left the same bytes, and recovery rightly cuts them as a torn
    tail."""
    marked = [text.encode() for text in acked]

    def synced_before_a_later_one(position):
        index = records[position][2]
        return any(durable is None or durable >= index for *_, durable in records[position + 1:])
    return [position for position, record in enumerate(records)
            if 0 < position < len(records) - 1 and any(text in record[3] for text in marked)
            and (not last_segment or synced_before_a_later_one(position))]


def _last_segment_ready(cluster, node_ids, acked):
    for node_id in node_ids:
        log_dir, names = _segments(cluster, node_id)
        if len(names) < 2 or not _acked_inside(_records(os.path.join(log_dir, names[-1])), acked, True):
            return False
    return True


def _damage(cluster, node_id, acked, last_segment, rng, hit_length):
    """Flips one byte of a record holding an acknowledged message in the
    middle of a segment of node_id: the last segment if last_segment, else
    one before it. hit_length flips the low byte of the record's length
    field (recovery must then search byte by byte for the records after
    it), else a byte inside the message text. Returns (segment file name,
    offset of the record, its index, {file: size})."""
    log_dir, names = _segments(cluster, node_id)
    check(len(names) >= 3, "node %d's log spans %d segment(s), not several: %s", node_id, len(names), names)
    choices = [names[-1]] if last_segment else names[1:-1]
    candidates = []
    for name in choices:
        records = _records(os.path.join(log_dir, name))
        candidates.extend((name, records[position])
                          for position in _acked_inside(records, acked, last_segment))
    check(candidates, "node %d: no acknowledged record in the middle of %s", node_id, choices)
    name, (offset, length, index, payload, _) = rng.choice(candidates)
    path = os.path.join(log_dir, name)
    if hit_length:
        at = offset
    else:
        text = next(text.encode() for text in acked if text.encode() in payload)
        at = offset + PREFIX_BYTES + length - len(payload) + payload.index(text) + rng.randrange(len(text))
    with open(path, "r+b") as handle:
        handle.seek(at)
        byte = handle.read(1)[0]
        handle.seek(at)
        handle.write(bytes([byte ^ 0x01]))
    print("    node %d: flipped byte %d of %s (record of index %d at offset %d, %s)"
          % (node_id, at, name, index, offset, "length field" if hit_length else "payload"), flush=True)
    sizes = {segment: os.path.getsize(os.path.join(log_dir, segment)) for segment in names}
    return name, offset, index, sizes


def _check_refused(cluster, node_id, damage):
    """node_id, spawned, exits 1 by itself with one line naming the damaged
    file and the offset of the bad record, and leaves its segments as they
    were."""
    name, offset, index, sizes = damage
    check(cluster.processes.wait_gone(node_id, REFUSAL_TIMEOUT_S),
          "node %d started on a log corrupt at %s offset %d" % (node_id, name, offset))
    check_equal(cluster.processes.exit_code(node_id), 1, "exit code of damaged node %d" % node_id)
    with open(cluster.config.nodes[node_id].log_path, errors="replace") as handle:
        lines = handle.read().splitlines()
    named = [line for line in lines
             if "refusing to start" in line and name in line and "at offset %d " % offset in line
             and "(index %d expected)" % index in line]
    check(len(named) == 1, "node %d: no one line names %s, offset %d and index %d: %s",
          node_id, name, offset, index, [line for line in lines if "refusing" in line or "log" in line][-5:])
    log_dir, _ = _segments(cluster, node_id)
    check_equal({segment: os.path.getsize(os.path.join(log_dir, segment)) for segment in sizes}, sizes,
                "segment sizes of node %d after its refusal" % node_id)


def _check_no_quorum(cluster, survivor):
    """The survivor alone: never Leader, no leader named, and a read or a
    pop answered with a failure or not at all, over several election
    timeouts."""
    answers = cluster.processes.wait_answering([survivor], time.monotonic() + 5.0)
    check(answers[survivor] is not None, "node %d did not answer status after its restart", survivor)
    deadline = time.monotonic() + NO_QUORUM_WATCH_S
    while time.monotonic() < deadline:
        status = cluster.status(survivor)
        if status is not None:
            check(status.get("role") != "Leader" and status.get("leader") is None,
                  "node %d leads or names a leader with no quorum: %r", survivor, status)
        time.sleep(0.05)
    for request in (topic_get(), message_get("acked")):
        reply = cluster.client.request(cluster.endpoint(survivor), request, REQUEST_TIMEOUT_S)
        check(reply is None or reply.get("success") is False,
              "node %d served %r with no quorum: %r", survivor, request, reply)


def _repair(cluster, node_id, leader):
    """The README's repair: the node's directory moved aside, the node
    started empty with "join": true and added back; it follows leader and
    catches up with it."""
    node_dir = cluster.config.nodes[node_id].dir
    os.rename(node_dir, node_dir + ".corrupt")
    mark_joining(cluster, {node_id})
    cluster.start([node_id])
    # a node started empty never leads: with it, the old leader has a quorum
    check_equal(cluster.wait_leader(5.0, node_ids=[leader, node_id]), leader,
                "the leader once node %d rejoined empty" % node_id)
    check_equal(admin(cluster, node_put(cluster.config.nodes[node_id])), OK, "adding node %d back" % node_id)
    cluster.wait_applied([node_id], cluster.status(leader)["commit_index"], 10.0)


def _corrupt_two_followers(ctx, last_segment):
    rng = _seed()
    cluster = ctx.cluster(3, **SETTINGS)
    leader = cluster.wait_leader(3.0, since=cluster.start())
    cluster.put_topic(leader, "acked")
    acked = [_message(number) for number in range(MESSAGES)]
    cluster.publish(leader, "acked", acked)   # each one checked OK: acknowledged
    followers = cluster.followers(leader)
    cluster.wait_applied(followers, cluster.status(leader)["commit_index"], 5.0)
    if last_segment:
        # the last segment must hold acknowledged records with valid ones
        # after them on both followers
        while not _last_segment_ready(cluster, followers, acked):
            check(len(acked) < MESSAGES + MORE_MESSAGES_MAX,
                  "after %d messages the followers' last segments still hold no acknowledged "
                  "record between two others", len(acked))
            acked.append(_message(len(acked)))
            cluster.publish(leader, "acked", acked[-1:])
            cluster.wait_applied(followers, cluster.status(leader)["commit_index"], 5.0)

    for node_id in followers:
        cluster.stop(node_id)
    # one follower's length field in the last segment, when drawn: the
    # case where the next records are found only by searching
    length_hit = rng.choice(followers) if last_segment and rng.random() < 0.5 else None
    damage = {node_id: _damage(cluster, node_id, acked, last_segment, rng, node_id == length_hit)
              for node_id in followers}
    cluster.kill(leader)

    cluster.spawn()
    cluster.told_to_exit.update(followers)   # they are expected to refuse
    for node_id in followers:
        _check_refused(cluster, node_id, damage[node_id])
    _check_no_quorum(cluster, leader)

    for node_id in followers:
        _repair(cluster, node_id, leader)
    wait_members(cluster, cluster.ids, cluster.ids)
    cluster.wait_applied(followers, cluster.status(leader)["commit_index"], 10.0)
    # the repaired nodes alone hold and serve every acknowledged write
    cluster.kill(leader)
    survivor = cluster.wait_leader(5.0, node_ids=followers)
    check_equal(cluster.topics(survivor), ["acked"], "topics served by the repaired nodes")
    check_equal(cluster.drain(survivor, "acked"), acked,
                "messages served by the repaired nodes (every acknowledged one, once, in order)")


def test_corrupt_middle_segment_on_two_followers(ctx):
    _corrupt_two_followers(ctx, last_segment=False)


def test_corrupt_last_segment_before_tail_on_two_followers(ctx):
    _corrupt_two_followers(ctx, last_segment=True)
