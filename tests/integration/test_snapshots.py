"""Snapshots of real raftqd clusters: a node compacts its log behind a
snapshot, restarts from it, falls back to an older snapshot when the newest
is corrupt, and a follower that fell behind the compacted log (or lost its
data directory) catches up through InstallSnapshot. Tiny snapshot_log_bytes
so that a few hundred publishes make many snapshots. The TakeSnapshot admin
request (protobuf) snapshots any node on demand: the file appears, the log
prefix goes, a second request with nothing new applied gets the same index,
and the node restarts from that snapshot into the same state as the
others."""

import os
import re
import shutil

from harness import check, check_equal, wait_until

#  A snapshot every ~10 entries of the messages below.
#  Small log segments ("segment_bytes"), so that compaction can delete whole ones
SEGMENT_BYTES = 4096
SNAPSHOT_SETTINGS = {"snapshot_log_bytes": 2048, "snapshot_trailing_entries": 5,
                     "segment_bytes": SEGMENT_BYTES}
MESSAGE_BYTES = 200
#  raftq.Request field of TakeSnapshot (proto/raftq.proto)
#  No snapshot but the ones asked for: the log limit is never reached
ON_DEMAND_SETTINGS = {"snapshot_log_bytes": 1 << 30, "snapshot_trailing_entries": 5,
                      "segment_bytes": SEGMENT_BYTES}


def _messages(prefix, count):
    return ["%s-%04d-%s" % (prefix, number, "x" * MESSAGE_BYTES) for number in range(count)]


def _state_hash(cluster, node_id):
    status = cluster.request(node_id, {"type": "status", "method": "GET", "hash": True})
    check(isinstance(status.get("state_hash"), str), "state_hash of node %d: %r", node_id, status)
    return status


def _snapshot_files(cluster, node_id):
    directory = os.path.join(cluster.config.nodes[node_id].dir, "snap")
    if not os.path.isdir(directory):
        return []
    return sorted(name for name in os.listdir(directory) if name.endswith(".snap"))


def _first_log_index(cluster, node_id):
    directory = os.path.join(cluster.config.nodes[node_id].dir, "log")
    segments = [int(name.split(".")[0]) for name in os.listdir(directory) if name.endswith(".seg")]
    return min(segments) if segments else None


def _log_text(cluster, node_id):
    with open(cluster.config.nodes[node_id].log_path, errors="replace") as handle:
        return handle.read()


def _wait_same_state(cluster, node_ids, timeout):
    """Waits until every node applied the same index with the same state."""
    def same():
        answers = [_state_hash(cluster, node_id) for node_id in node_ids]
        applied = {answer.get("applied_index") for answer in answers}
        hashes = {answer.get("state_hash") for answer in answers}
        return answers[0] if len(applied) == 1 and len(hashes) == 1 else None
    return wait_until(same, timeout, "nodes %s to reach the same state" % node_ids)


def test_restart_loads_snapshot(ctx):
    cluster = ctx.cluster(1, **SNAPSHOT_SETTINGS)
    leader = cluster.wait_leader(3.0, since=cluster.start())
    cluster.put_topic(leader, "t")
    sent = _messages("r", 120)
    cluster.publish(leader, "t", sent)
    #  The snapshot job runs beside the broker: under load it may finish a
    #  little after the last publish was answered
    wait_until(lambda: _snapshot_files(cluster, leader), 10.0, "a snapshot after 120 publishes")
    wait_until(lambda: _first_log_index(cluster, leader) > 1, 10.0, "the log prefix compacted")
    applied = _state_hash(cluster, leader)["applied_index"]

    check_equal(cluster.terminate(leader), 0, "exit code of a stopped node")
    leader = cluster.wait_leader(3.0, since=cluster.start())
    check("state restored from snapshot" in _log_text(cluster, leader),
          "restart did not load a snapshot")
    #  the state hash covers the applied index, which the new term's first
    #  entry moves on: the contents are checked instead
    check(_state_hash(cluster, leader)["applied_index"] > applied, "applied index went back")
    check_equal(cluster.drain(leader, "t"), sent, "messages after a restart from a snapshot")


def test_corrupt_newest_snapshot_falls_back(ctx):
    #  A wide trailing window: the log still reaches back to the older one
    cluster = ctx.cluster(1, snapshot_log_bytes=2048, snapshot_trailing_entries=1000,
                          segment_bytes=SEGMENT_BYTES)
    leader = cluster.wait_leader(3.0, since=cluster.start())
    cluster.put_topic(leader, "t")
    #  Rounds until two snapshots exist: under load one job may cover what
    #  several would have on a quiet machine
    sent = []
    for round_number in range(20):
        batch = _messages("c%d-" % round_number, 30)
        cluster.publish(leader, "t", batch)
        sent += batch
        if len(_snapshot_files(cluster, leader)) >= 2:
            break
    check_equal(cluster.terminate(leader), 0, "exit code of a stopped node")
    #  Listed once the node is down: a job still running at the last publish
    #  may have put a newer file in place before the node stopped
    files = _snapshot_files(cluster, leader)
    check(len(files) >= 2, "want two snapshots to fall back on, have %r", files)

    newest = os.path.join(cluster.config.nodes[leader].dir, "snap", files[-1])
    with open(newest, "r+b") as handle:
        handle.seek(os.path.getsize(newest) // 2)
        byte = handle.read(1)
        handle.seek(-1, os.SEEK_CUR)
        handle.write(bytes([byte[0] ^ 0xFF]))

    leader = cluster.wait_leader(3.0, since=cluster.start())
    check(files[-1] in _log_text(cluster, leader), "the corrupt snapshot %s was not reported" % files[-1])
    check_equal(cluster.drain(leader, "t"), sent, "messages with the newest snapshot corrupt")


def test_lagging_follower_catches_up_by_install_snapshot(ctx):
    cluster = ctx.cluster(3, **SNAPSHOT_SETTINGS)
    leader = cluster.wait_leader(3.0, since=cluster.start())
    cluster.put_topic(leader, "t")
    sent = _messages("a", 20)
    cluster.publish(leader, "t", sent)
    lagging = cluster.followers(leader)[0]
    cluster.kill(lagging)

    more = _messages("b", 200)
    cluster.publish(leader, "t", more)
    check(_first_log_index(cluster, leader) > 40,
          "leader log not compacted past the lagging follower: starts at %r",
          _first_log_index(cluster, leader))

    cluster.start([lagging])
    _wait_same_state(cluster, cluster.ids, 10.0)
    check("installed snapshot" in _log_text(cluster, lagging),
          "node %d caught up without InstallSnapshot" % lagging)
    check(_first_log_index(cluster, lagging) is None or _first_log_index(cluster, lagging) > 1,
          "log of node %d still starts at 1" % lagging)
    check_equal(cluster.drain(leader, "t"), sent + more, "messages after the catch-up")
    _wait_same_state(cluster, cluster.ids, 10.0)


def test_wiped_node_rejoins_by_snapshot(ctx):
    cluster = ctx.cluster(3, **SNAPSHOT_SETTINGS)
    leader = cluster.wait_leader(3.0, since=cluster.start())
    cluster.put_topic(leader, "t")
    cluster.publish(leader, "t", _messages("w", 150))
    wiped = cluster.followers(leader)[0]
    cluster.kill(wiped)
    node_dir = cluster.config.nodes[wiped].dir
    for name in os.listdir(node_dir):
        path = os.path.join(node_dir, name)
        if os.path.isdir(path):
            shutil.rmtree(path)
        elif not name.startswith("raftqd."):
            os.remove(path)

    cluster.start([wiped])
    state = _wait_same_state(cluster, cluster.ids, 10.0)
    check(state["applied_index"] > 150, "applied index %r" % state["applied_index"])
    check(len(_snapshot_files(cluster, wiped)) >= 1, "wiped node %d holds no snapshot" % wiped)
    #  and it serves as a full member: the cluster survives losing another node
    other = [node_id for node_id in cluster.followers(leader) if node_id != wiped][0]
    cluster.kill(other)
    cluster.publish(leader, "t", _messages("after", 5))


def test_take_snapshot_on_demand_and_restart_from_it(ctx):
    cluster = ctx.cluster(3, **ON_DEMAND_SETTINGS)
    leader = cluster.wait_leader(3.0, since=cluster.start())
    cluster.put_topic(leader, "t")
    sent = _messages("d", 80)
    cluster.publish(leader, "t", sent)
    node = cluster.followers(leader)[0]
    cluster.wait_applied([node], _state_hash(cluster, leader)["applied_index"], 5.0)
    applied = _state_hash(cluster, node)["applied_index"]
    check_equal(_snapshot_files(cluster, node), [], "snapshots of node %d before asking" % node)
    check_equal(_first_log_index(cluster, node), 1, "first log index of node %d before" % node)

    #  A follower answers it for its own state
    reply = cluster.take_snapshot(node)
    check_equal(reply["code"], "OK", "TakeSnapshot on node %d: %r" % (node, reply))
    index = reply["index"]
    check(index >= applied, "snapshot %d does not cover applied index %d", index, applied)
    check_equal(_snapshot_files(cluster, node), ["snapshot-%020d.snap" % index],
                "snapshot files of node %d" % node)
    wait_until(lambda: _first_log_index(cluster, node) > 1, 5.0,
               "node %d to compact its log behind snapshot %d" % (node, index))
    #  Nothing applied since: the same snapshot answers at once
    again = cluster.take_snapshot(node)
    check_equal((again["code"], again["index"]), ("OK", index), "TakeSnapshot asked again")
    check_equal(len(_snapshot_files(cluster, node)), 1, "snapshots after asking again")

    #  The leader too, while it keeps serving
    more = _messages("e", 20)
    cluster.publish(leader, "t", more)
    reply = cluster.take_snapshot(leader)
    check_equal(reply["code"], "OK", "TakeSnapshot on the leader %d: %r" % (leader, reply))
    check(reply["index"] > index, "leader snapshot %d not past %d", reply["index"], index)

    #  The follower restarts from its snapshot into everybody's state
    check_equal(cluster.terminate(node), 0, "exit code of a stopped node")
    cluster.start([node])
    check("state restored from snapshot %d" % index in _log_text(cluster, node),
          "node %d did not restart from snapshot %d" % (node, index))
    _wait_same_state(cluster, cluster.ids, 10.0)
    check_equal(cluster.drain(leader, "t"), sent + more, "messages after the restart")
    _wait_same_state(cluster, cluster.ids, 10.0)


def test_snapshot_period_grows_with_the_state(ctx):
    """A snapshot costs as much as the state it writes, so the log between
    two snapshots is at least as large as the older one: a backlog that
    only grows is written about log2(backlog / period) times, not once per
    snapshot_log_bytes (with 2 KiB, about 50 times for these 400 publishes
    of ~230 log bytes each, all kept in the queue)."""
    cluster = ctx.cluster(1, **SNAPSHOT_SETTINGS)
    leader = cluster.wait_leader(3.0, since=cluster.start())
    cluster.put_topic(leader, "t")
    sent = _messages("g", 400)
    cluster.publish(leader, "t", sent)

    def written():
        indexes = [int(index) for index in
                   re.findall(r"snapshot (\d+) written", _log_text(cluster, leader))]
        return indexes if len(indexes) >= 3 else None
    indexes = wait_until(written, 10.0, "snapshots as the backlog grows")
    check(len(indexes) <= 10, "%d snapshots of a growing backlog (at %r): the period "
          "did not grow with the state" % (len(indexes), indexes))
    gaps = [later - earlier for earlier, later in zip(indexes, indexes[1:])]
    check(gaps[-1] > 2 * gaps[0], "gaps between snapshots %r do not grow" % (gaps,))
    check_equal(cluster.drain(leader, "t"), sent, "messages behind the snapshots")


def test_nodes_snapshot_at_different_indexes(ctx):
    """Every node counts the same entries: without a phase by node id all
    would fork and write their snapshot at the same index, at once, on the
    same cores and disk (a five-node run stalled 0.9 s and lost its leader
    so). Node N's first snapshot comes (N - 1) eighths of a period later."""
    period = 16384
    cluster = ctx.cluster(3, snapshot_log_bytes=period, snapshot_trailing_entries=5,
                          segment_bytes=SEGMENT_BYTES)
    leader = cluster.wait_leader(3.0, since=cluster.start())
    cluster.put_topic(leader, "t")
    #  About 250 log bytes each: the third node's threshold (1.25 periods)
    #  is passed, the next period of the first node's is not
    cluster.publish(leader, "t", _messages("p", 100))

    def first_snapshots():
        found = {node_id: _snapshot_files(cluster, node_id) for node_id in cluster.ids}
        return found if all(len(names) == 1 for names in found.values()) else None
    found = wait_until(first_snapshots, 10.0, "one snapshot on every node")
    indexes = [int(found[node_id][0].split("-")[1].split(".")[0]) for node_id in sorted(cluster.ids)]
    check(indexes[0] < indexes[1] < indexes[2],
          "snapshot indexes by node id %r: the nodes snapshot together" % (indexes,))
