"""Storage faults are loud and safe, and a data directory knows its cluster
(issue 15), through real raftqd processes: a log with a corrupt record
before its end (acknowledged entries after it) refuses to start with exit 1
and one line naming the segment and the offset; a node started on another
cluster's data directory exits 2 with one line naming the directory and
both identities; and the RRMQ course suite's way of running (a fresh
config with new ports per test, in one working directory) starts a new,
empty cluster each time, while the same config again finds its state;
and a follower sent a snapshot whose body passes every checksum but does
not decode stops (exit 1) rather than serve the state it had, and a
restart refuses too."""

import json
import os
import re
import struct
import subprocess

import zmq

from harness import OK, STATUS, check, check_equal, topic_get, topic_put, wait_until

#  Small segments, so that the log spans several files.
SEGMENT_SETTINGS = {"segment_bytes": 1024}
#  Record prefix of a log segment (DESIGN 4): length u32, crc32c u32.
PREFIX_BYTES = 8
#  A node that must refuse to start does so at once; one that does not is
#  still running when this runs out.
REFUSAL_TIMEOUT_S = 10.0


def _run_refused(ctx, arguments, directory):
    """Runs raftqd with arguments in directory, as the tools do; returns
    (exit code, its output lines). A node still running at the timeout did
    not refuse: the test fails."""
    try:
        completed = subprocess.run([ctx.program("raftqd")] + arguments, cwd=directory,
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                   timeout=REFUSAL_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        check(False, "raftqd %s started instead of refusing to" % " ".join(arguments))
    return completed.returncode, completed.stdout.decode("utf-8", "replace").splitlines()


def _record_offsets(path):
    """Offsets of the records of a segment file, by their length fields, up
    to the zero tail of the last segment (preallocated)."""
    with open(path, "rb") as handle:
        data = handle.read()
    offsets, offset = [], 0
    while offset + PREFIX_BYTES <= len(data):
        (length,) = struct.unpack_from("<I", data, offset)
        if length == 0:
            break
        offsets.append(offset)
        offset += PREFIX_BYTES + length
    return offsets


def test_corrupt_record_before_the_end_refuses_to_start(ctx):
    cluster = ctx.cluster(3, **SEGMENT_SETTINGS)
    cluster.start()
    leader = cluster.wait_leader(3.0)
    cluster.put_topic(leader, "kept")
    cluster.publish(leader, "kept", ["m%03d-%s" % (number, "x" * 100) for number in range(40)])
    follower = cluster.followers(leader)[0]
    cluster.wait_applied([follower], cluster.status(leader)["commit_index"], 3.0)
    cluster.kill(follower)

    log_dir = os.path.join(cluster.config.nodes[follower].dir, "log")
    segments = sorted(name for name in os.listdir(log_dir) if name.endswith(".seg"))
    check(len(segments) >= 3, "the log spans %d segment(s), not several: %s", len(segments), segments)
    # the second record of a middle segment: a bad sector under acknowledged entries
    damaged = segments[len(segments) // 2]
    path = os.path.join(log_dir, damaged)
    offsets = _record_offsets(path)
    check(len(offsets) >= 2, "%s holds %d record(s)", damaged, len(offsets))
    with open(path, "r+b") as handle:
        handle.seek(offsets[1] + PREFIX_BYTES + 2)   # inside the term
        byte = handle.read(1)[0]
        handle.seek(offsets[1] + PREFIX_BYTES + 2)
        handle.write(bytes([byte ^ 0x5A]))
    sizes = {name: os.path.getsize(os.path.join(log_dir, name)) for name in segments}

    code, lines = _run_refused(ctx, ["--config", cluster.config_path, "--id", str(follower)],
                               cluster.directory)
    check_equal(code, 1, "exit code of a node whose log is corrupt before its end")
    named = [line for line in lines if damaged in line and "at offset %d " % offsets[1] in line]
    check(len(named) == 1, "no one line names %s and offset %d: %s", damaged, offsets[1], lines)
    check("refusing to start" in named[0], "the line does not say the node refuses: %s", named[0])
    # nothing was cut: the acknowledged entries after the bad record are all still there
    check_equal({name: os.path.getsize(os.path.join(log_dir, name)) for name in segments}, sizes,
                "segment sizes after the refusal")
    # the others go on serving
    leader = cluster.wait_leader(3.0, node_ids=[node for node in cluster.ids if node != follower])
    cluster.publish(leader, "kept", ["after"])


#  Ports of the block a test owns that its cluster leaves spare (harness:
#  client, peer and pub ports of up to 5 nodes, then spares).
SPARE_CLIENT_PORT, SPARE_PEER_PORT = 15, 16


def _write_config(directory, name, document):
    path = os.path.join(directory, name)
    with open(path, "w") as handle:
        json.dump(document, handle)
    return path


def test_another_clusters_directory_exits_2(ctx):
    first = ctx.cluster(1)
    first.start()
    leader = first.wait_leader(3.0)
    first.put_topic(leader, "mine")
    first.stop(1)
    # another cluster (another name, another port) in the same working
    # directory, with the same data_dir
    other = _write_config(first.directory, "other.json", {
        "cluster": "other", "data_dir": "data", "peer_curve": False,
        "nodes": [{"id": 1, "host": "127.0.0.1", "client_port": ctx.port_base + SPARE_CLIENT_PORT,
                   "peer_port": ctx.port_base + SPARE_PEER_PORT}]})
    code, lines = _run_refused(ctx, ["--config", other, "--id", "1"], first.directory)
    check_equal(code, 2, "exit code of a node started on another cluster's directory")
    pattern = re.compile(r"data directory data/node-1 belongs to cluster (integration/[0-9a-f]{16}), "
                         r"not to cluster (other/[0-9a-f]{16}) ")
    named = [line for line in lines if pattern.search(line)]
    check(len(named) == 1, "no one line names data/node-1 and both identities: %s", lines)
    # its own cluster's config still starts it, with its state
    first.start()
    check_equal(first.topics(first.wait_leader(3.0)), ["mine"], "topics of the first cluster")
    # and so does its config grown by a node to be added later: the
    # directory is bound to the cluster and this node's place in it, not to
    # the whole node list
    first.stop(1)
    with open(first.config_path) as handle:
        document = json.load(handle)
    document["nodes"].append({"id": 2, "host": "127.0.0.1", "join": True,
                              "client_port": ctx.port_base + SPARE_CLIENT_PORT,
                              "peer_port": ctx.port_base + SPARE_PEER_PORT,
                              "public_key": zmq.curve_keypair()[0].decode()})
    with open(first.config_path, "w") as handle:
        json.dump(document, handle)
    first.start([1])
    check_equal(first.topics(first.wait_leader(3.0, node_ids=[1])), ["mine"],
                "topics after the config listed one more node")


def _request(ctx, client, endpoint, message):
    answer = client.request(endpoint, message, 2.0)
    check(isinstance(answer, dict), "no answer from %s to %r" % (endpoint, message))
    return answer


def test_rrmq_fresh_config_in_one_directory(ctx):
    # the course suite: one working directory, a new config (new ports) per test
    first = ctx.cluster(3, rrmq=True)
    first.start()
    leader = first.wait_leader(3.0)
    first.put_topic(leader, "kept")
    first.publish(leader, "kept", ["one"])
    for node_id in first.ids:
        first.stop(node_id)

    # the next test's config, a single node on new ports, run in the same
    # working directory the same way (raftqd CONFIG INDEX)
    port = ctx.port_base + SPARE_CLIENT_PORT
    second = _write_config(first.directory, "next.json", {
        "addresses": [{"ip": "127.0.0.1", "port": port, "internal_port": ctx.port_base + SPARE_PEER_PORT}]})
    log = open(os.path.join(first.directory, "next.log"), "wb")
    process = subprocess.Popen([ctx.program("raftqd"), second, "0"], cwd=first.directory,
                               stdout=log, stderr=subprocess.STDOUT)
    ctx.on_close(lambda: (process.kill(), process.wait(), log.close()))
    endpoint = "tcp://127.0.0.1:%d" % port
    client = first.client
    wait_until(lambda: (client.request(endpoint, STATUS, 0.5) or {}).get("role") == "Leader", 5.0,
               "the new single-node cluster to elect itself")
    check_equal(_request(ctx, client, endpoint, topic_get()), {"success": True, "topics": []},
                "topics of a new cluster in the same working directory")
    check_equal(_request(ctx, client, endpoint, topic_put("other")), OK, "create a topic in it")
    process.terminate()
    check_equal(process.wait(10), 0, "exit code of the new cluster's node after SIGTERM")

    # the first config again: its state is back
    first.start()
    leader = first.wait_leader(3.0)
    check_equal(first.topics(leader), ["kept"], "topics after a restart with the same config")
    check_equal(first.drain(leader, "kept"), ["one"], "messages after a restart with the same config")


#  Snapshots every ~10 of the messages below, in small segments, so that a
#  follower that misses 200 of them is sent a snapshot (as in test_snapshots).
SNAPSHOT_SETTINGS = {"snapshot_log_bytes": 2048, "snapshot_trailing_entries": 5, "segment_bytes": 4096}
#  Snapshot file header (README "Snapshots", RAFTQSN2): 44 bytes; the body
#  crc at 32, the membership size at 36, the header crc (over the 40 bytes
#  before it and the membership) at 40.
SNAPSHOT_HEADER_BYTES, AT_BODY_CRC, AT_MEMBERSHIP_SIZE, AT_HEADER_CRC = 44, 32, 36, 40


def _crc32c(data, crc=0):
    crc ^= 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


def _spoil_snapshot_body(path):
    """Replaces the body of a snapshot file by bytes that are no state, with
    every checksum right: only decoding the body can tell."""
    with open(path, "r+b") as handle:
        data = bytearray(handle.read())
        (membership_size,) = struct.unpack_from("<I", data, AT_MEMBERSHIP_SIZE)
        body_at = SNAPSHOT_HEADER_BYTES + membership_size
        body = b"\xff" * (len(data) - body_at)
        struct.pack_into("<I", data, AT_BODY_CRC, _crc32c(body))
        header_crc = _crc32c(bytes(data[body_at - membership_size:body_at]),
                             _crc32c(bytes(data[:AT_HEADER_CRC])))
        struct.pack_into("<I", data, AT_HEADER_CRC, header_crc)
        data[body_at:] = body
        handle.seek(0)
        handle.write(data)


def test_installed_snapshot_that_cannot_load_stops_the_node(ctx):
    cluster = ctx.cluster(3, **SNAPSHOT_SETTINGS)
    leader = cluster.wait_leader(3.0, since=cluster.start())
    cluster.put_topic(leader, "t")
    cluster.publish(leader, "t", ["a%03d-%s" % (number, "x" * 200) for number in range(20)])
    lagging = cluster.followers(leader)[0]
    cluster.kill(lagging)
    cluster.publish(leader, "t", ["b%03d-%s" % (number, "x" * 200) for number in range(200)])
    # a snapshot covering everything applied, so no job still running writes
    # a newer (good) one after the spoiled file below
    check_equal(cluster.take_snapshot(leader)["code"], "OK", "TakeSnapshot on the leader")
    snap_dir = os.path.join(cluster.config.nodes[leader].dir, "snap")
    newest = sorted(name for name in os.listdir(snap_dir) if name.endswith(".snap"))[-1]
    # what the leader will stream: checksums right, a body no state machine reads
    _spoil_snapshot_body(os.path.join(snap_dir, newest))

    cluster.spawn([lagging])
    cluster.told_to_exit.add(lagging)   # it is expected to stop by itself
    check(cluster.processes.wait_gone(lagging, 10.0),
          "node %d still runs on a snapshot its state could not load" % lagging)
    check_equal(cluster.processes.exit_code(lagging), 1, "exit code of node %d" % lagging)
    with open(cluster.config.nodes[lagging].log_path, errors="replace") as handle:
        text = handle.read()
    check("fatal: the state cannot follow installed snapshot" in text,
          "node %d did not say why it stopped: %s" % (lagging, text[-2000:]))
    # and a restart refuses too, rather than serve the state it had
    code, lines = _run_refused(ctx, ["--config", cluster.config_path, "--id", str(lagging)],
                               cluster.directory)
    check_equal(code, 1, "exit code of node %d restarted on that snapshot" % lagging)
