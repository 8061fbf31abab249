"""Bounds a node keeps whatever its clients do: connections past
limits.max_connections are refused at the handshake while the first ones
are served; a client that pipelines requests and never reads its replies,
and a subscriber that never reads its events, do not grow the node's
memory (VmRSS) past a bound while another client is served in under a
second; a follower whose disk falls below min_free_disk_bytes stays up,
appends nothing more, says why in its status, and the others go on
committing; a node out of file descriptors (connections took them all)
keeps rolling its log to new segments and serving the clients it has.

The configs set "peer_curve": false: harness.py writes no node
certificates yet, and the peer port needs keys otherwise."""

import json
import os
import socket as pysocket
import subprocess
import time

import zmq
from zmq.utils.monitor import recv_monitor_message

import raftq_cluster
from harness import OK, check, check_equal, message_put, topic_put, wait_until

PLAIN_PEERS = {"peer_curve": False}
STATUS = {"type": "status", "method": "GET"}
MiB = 1024 * 1024
PAYLOAD = "p" * (64 * 1024)
RETAINED = 20                  # events a stream keeps: a replay answers ~1.3 MiB
PIPELINED = 500                # replays asked and never read: 650 MiB unbounded
PUBLISHED = 600                # 64 KiB events a stalled subscriber never takes
RSS_GROWTH_MAX = 48 * MiB      # allowed past the node's size after the setup
DESCRIPTORS = 128              # the out-of-descriptors node's hard limit
CROWD_CAP = 68                 # its max_connections: with its own ~60, near the limit
HANDSHAKE_EVENTS = (zmq.EVENT_HANDSHAKE_SUCCEEDED | zmq.EVENT_HANDSHAKE_FAILED_AUTH
                    | zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL | zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL)


class _Client:
    """A DEALER to a node's client port with a monitor of its handshake."""

    def __init__(self, context, endpoint):
        self.socket = context.socket(zmq.DEALER)
        self.socket.linger = 0
        self.monitor = self.socket.get_monitor_socket(HANDSHAKE_EVENTS)
        self.socket.connect(endpoint)

    def handshake(self, timeout=5.0):
        """The first handshake event, e.g. zmq.EVENT_HANDSHAKE_SUCCEEDED."""
        if not self.monitor.poll(int(timeout * 1000)):
            return None
        return recv_monitor_message(self.monitor)["event"]

    def status(self, timeout=1.0):
        """One status round trip (JSON, the DEALER sends the delimiter)."""
        try:
            self.socket.send_multipart([b"", zmq.utils.jsonapi.dumps(STATUS)], zmq.NOBLOCK)
        except zmq.Again:  # no connection to send on: refused
            return None
        if not self.socket.poll(int(timeout * 1000)):
            return None
        return zmq.utils.jsonapi.loads(self.socket.recv_multipart()[-1])

    def close(self):
        self.socket.disable_monitor()
        self.monitor.close()
        self.socket.close()


def test_connections_past_the_cap_refused(ctx):
    cap = 4
    cluster = ctx.cluster(1, limits={"max_connections": cap}, **PLAIN_PEERS)
    cluster.start()
    cluster.wait_leader()
    endpoint = cluster.endpoint(1)
    context = zmq.Context.instance()
    # The harness's own REQ socket may hold one connection: clients get in
    # until the cap, then the next is refused
    first = []
    refused = None
    try:
        while refused is None:
            check(len(first) <= cap, "%d clients let in past a cap of %d", len(first), cap)
            client = _Client(context, endpoint)
            event = client.handshake()
            if event == zmq.EVENT_HANDSHAKE_SUCCEEDED:
                first.append(client)
            else:
                check_equal(event, zmq.EVENT_HANDSHAKE_FAILED_AUTH, "handshake past the cap")
                refused = client
        check(len(first) >= cap - 1, "refused with only %d clients in", len(first))
        refused.close()
        refused = None
        for attempt in range(3):
            refused = _Client(context, endpoint)
            check_equal(refused.handshake(), zmq.EVENT_HANDSHAKE_FAILED_AUTH,
                        "handshake %d past the cap" % (attempt + 1))
            check(refused.status(timeout=0.3) is None, "a refused client was answered")
            refused.close()
            refused = None
        for client in first:
            reply = client.status()
            check(reply is not None and reply.get("leader") == 1,
                  "a first client is not served past the cap: %r", reply)
        # One leaves: a newcomer gets in (once the node saw it go)
        first.pop().close()

        def newcomer():
            client = _Client(context, endpoint)
            if client.handshake() == zmq.EVENT_HANDSHAKE_SUCCEEDED:
                return client
            client.close()
            return None
        client = wait_until(newcomer, 5.0, "a client let in after one left")
        first.append(client)
        check(client.status() is not None, "the newcomer is not served")
    finally:
        for client in first:
            client.close()
        if refused:
            refused.close()


def _memory(cluster, node_id, key):
    """VmRSS (now) or VmHWM (the peak so far) of a node, in bytes."""
    pid = cluster.processes.pid(node_id)
    check(pid is not None, "node %d is not running", node_id)
    with open("/proc/%d/status" % pid) as handle:
        for line in handle:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no %s for node %d" % (key, node_id))


def _reset_peak(cluster, node_id):
    """Starts VmHWM afresh at VmRSS (Linux: "5" to clear_refs), so that a
    peak measured later is this test's and not the start's (the hasher's
    decoy password hash alone takes tens of MiB, once)."""
    with open("/proc/%d/clear_refs" % cluster.processes.pid(node_id), "w") as handle:
        handle.write("5")


def _served_quickly(cluster, node_id, what):
    """A fresh client's publish and status each answered within a second."""
    context = zmq.Context.instance()
    socket = context.socket(zmq.REQ)
    socket.linger = 0
    socket.connect(cluster.endpoint(node_id))
    try:
        for body in (message_put("other", "x"), STATUS):
            started = time.monotonic()
            socket.send_json(body)
            check(socket.poll(1000), "%s: no answer to %r within 1 s", what, body)
            reply = socket.recv_json()
            check(reply.get("success", True) is not False, "%s: %r got %r", what, body, reply)
            check(time.monotonic() - started < 1.0, "%s: answered after %.2f s", what,
                  time.monotonic() - started)
    finally:
        socket.close()


def _publish_and_pop(cluster, node_id, count):
    """count 64 KiB publishes to "big", each popped again, pipelined in
    batches through one DEALER that reads its replies (ten pops' replies
    stay under the 1 MiB of unread replies the node allows a connection)."""
    socket = zmq.Context.instance().socket(zmq.DEALER)
    socket.linger = 0
    socket.connect(cluster.endpoint(node_id))
    try:
        done = 0
        while done < count:
            batch = min(10, count - done)
            for body in [message_put("big", PAYLOAD)] * batch + \
                    [{"type": "message", "method": "GET", "topic": "big"}] * batch:
                socket.send_multipart([b"", json.dumps(body).encode()])
            for _ in range(2 * batch):
                check(socket.poll(5000), "no reply to a pipelined publish or pop")
                reply = json.loads(socket.recv_multipart()[-1])
                check(reply.get("success") is True, "publish or pop: %r", reply)
            done += batch
    finally:
        socket.close()


def test_unread_replies_and_stalled_subscriber_bounded(ctx):
    # The log is compacted often, so that what it holds in memory stays
    # small beside what is measured
    cluster = ctx.cluster(1, event_retention=RETAINED, snapshot_log_bytes=4 * MiB,
                          snapshot_trailing_entries=10,
                          limits={"max_connection_reply_bytes": MiB,
                                  "max_subscriber_lag_bytes": MiB}, **PLAIN_PEERS)
    cluster.start()
    cluster.wait_leader()
    for name in ("big", "other"):
        check_equal(cluster.request(1, topic_put(name)), OK, "create topic %s" % name)
    # Fill the retained window, and let the node reach its working size
    _publish_and_pop(cluster, 1, 2 * RETAINED)
    replay = {"type": "replay", "method": "GET", "stream": "topic/big"}
    check(len(cluster.request(1, replay).get("events", [])) == RETAINED, "replay of the window")
    _reset_peak(cluster, 1)
    baseline = _memory(cluster, 1, "VmRSS")
    context = zmq.Context.instance()

    # A client that pipelines replays (~1.3 MiB each) and does not read
    greedy = context.socket(zmq.DEALER)
    greedy.linger = 0
    greedy.rcvhwm = 1
    greedy.connect(cluster.endpoint(1))
    # A subscriber to everything that never reads
    stalled = context.socket(zmq.SUB)
    stalled.linger = 0
    stalled.rcvhwm = 1
    stalled.setsockopt(zmq.SUBSCRIBE, b"")
    stalled.connect("tcp://127.0.0.1:%d" % cluster.config.nodes[1].pub_port)
    try:
        body = json.dumps(replay).encode()
        for _ in range(PIPELINED):
            greedy.send_multipart([b"", body])
        _served_quickly(cluster, 1, "beside the unread replays")
        # Only now read: every replay was answered, the later ones short
        codes = []
        greedy.rcvhwm = 1000
        while len(codes) < PIPELINED:
            check(greedy.poll(10000), "%d replies of %d came", len(codes), PIPELINED)
            reply = json.loads(greedy.recv_multipart()[-1])
            codes.append("OK" if "events" in reply else reply.get("code"))
        refused = codes.count("UNAVAILABLE")
        check(refused > PIPELINED // 2 and refused + codes.count("OK") == PIPELINED,
              "replies to the unread replays: %d UNAVAILABLE of %d (%r)", refused, PIPELINED,
              sorted(set(codes)))
        after_replays = _memory(cluster, 1, "VmHWM")
        _publish_and_pop(cluster, 1, PUBLISHED)
        _served_quickly(cluster, 1, "beside the stalled subscriber")
        after_events = _memory(cluster, 1, "VmHWM")
        print("VmRSS %.1f MiB after setup; peak %.1f MiB after %d unread replays (%d refused), "
              "%.1f MiB after %d events not taken" % (
                  baseline / MiB, after_replays / MiB, PIPELINED, refused, after_events / MiB,
                  PUBLISHED))
        for seen, what in ((after_replays, "unread replays"), (after_events, "a stalled subscriber")):
            check(seen - baseline < RSS_GROWTH_MAX, "%s grew the peak VmRSS by %.1f MiB (bound %d MiB)",
                  what, (seen - baseline) / MiB, RSS_GROWTH_MAX // MiB)
        # The stalled subscriber was held to its bound, not served whole: what
        # reached it (its queue, the kernel's buffers) is a small part of the
        # events, the rest dropped for it alone
        seqs = set()
        while stalled.poll(1000):
            event = json.loads(stalled.recv_multipart()[-1])
            if event.get("stream") == "topic/big":
                seqs.add(event["seq"])
        check(0 < len(seqs) < PUBLISHED // 2, "the stalled subscriber got %d events of seqs %s..%s",
              len(seqs), min(seqs, default=None), max(seqs, default=None))
        print("the stalled subscriber got %d of the %d events" % (len(seqs), PUBLISHED))
    finally:
        greedy.close()
        stalled.close()


def test_low_disk_follower_stays_up_and_others_commit(ctx):
    cluster = ctx.cluster(3, segment_bytes=65536, snapshot_log_bytes=1 << 30,
                          limits={"min_free_disk_bytes": 4 * MiB}, **PLAIN_PEERS)
    # Node 3's directory is a small filesystem of its own
    mount = os.path.join(cluster.directory, "data", "node-3")
    os.makedirs(mount, mode=0o700)
    if subprocess.call(["mount", "-t", "tmpfs", "-o", "size=8m,mode=0700", "tmpfs", mount]) != 0:
        print("SKIP: cannot mount a tmpfs (needs root)")
        return
    ctx.on_close(lambda: subprocess.call(["umount", "-l", mount]))
    cluster.start()
    leader = cluster.wait_leader()
    if leader == 3:
        reply = cluster.request(3, {"type": "leader", "method": "PUT", "id": 1}, timeout=10.0)
        check(reply is not None and reply.get("success") is True, "transfer to node 1: %r", reply)
        leader = cluster.wait_leader(other_than=3)
    term = cluster.status(leader)["term"]
    check_equal(cluster.request(leader, topic_put("fill")), OK, "create topic")
    detail = {"type": "status", "method": "GET", "detail": True}
    payload = "f" * 30000

    def node_3_low():
        check_equal(cluster.request(leader, message_put("fill", payload)), OK, "a publish")
        status = cluster.request(3, detail)
        return status if status and status.get("disk_low") else None
    low = wait_until(node_3_low, 60.0, "node 3 below its watermark")
    check(low["free_disk_bytes"] < low["min_free_disk_bytes"] == 4 * MiB,
          "node 3's status: %r", low)
    # The Raft thread's own look at the disk, beside the status's
    log_path = os.path.join(mount, "raftqd.log")
    log_path = os.path.join(mount, "raftqd.log")

    def refusing():
        check_equal(cluster.request(leader, message_put("fill", payload)), OK, "a publish")
        return "appending no entries" in open(log_path).read()
    wait_until(refusing, 10.0, "node 3 logging that it appends nothing")
    # Writes still commit, through nodes 1 and 2; node 3 takes none of them
    for _ in range(20):
        check_equal(cluster.request(leader, message_put("fill", payload)), OK,
                    "a publish with node 3 low")
    last = {node_id: cluster.status(node_id)["last_index"] for node_id in cluster.ids}
    check(last[3] <= last[leader] - 20, "node 3 appended while low: last indexes %r", last)
    leader_detail = cluster.request(leader, detail)
    lag = {member["id"]: member["lag"] for member in leader_detail["member_detail"]}
    check(lag[3] >= 20, "node 3's lag as the leader sees it: %r", lag)
    # Nothing was disturbed: same leader and term, node 3 up and following
    check_equal(cluster.status(leader)["term"], term, "the term")
    check_equal(cluster.status(3)["leader"], leader, "node 3's leader")
    check_equal(cluster.alive(), [1, 2, 3], "nodes running")


def s_closed_by_peer(bare, seen):
    """Whether the other end closed a plain TCP socket (reads end of file
    or reset), without waiting; seen is the set of those already found."""
    if bare in seen:
        return True
    try:
        if bare.recv(1, pysocket.MSG_DONTWAIT) == b"":
            seen.add(bare)
    except BlockingIOError:
        pass
    except ConnectionResetError:
        seen.add(bare)
    return bare in seen


def test_out_of_descriptors_survived(ctx):
    """The node starts under a hard limit of 128 descriptors, with a
    max_connections that (with its own descriptors) would reach it, and it
    warns about that. Then a crowd comes: 200 ZeroMQ clients and 100 bare
    TCP connections that never greet (so are never refused at a handshake,
    and would keep their descriptors for libzmq's 30 s handshake timeout),
    and 50 more of those to the peer port.
    The node shuts connections down as they come once fewer than
    ZAP_DESCRIPTOR_RESERVE (64) descriptors are left to it, so it never
    runs out: publishes that roll the log over ten new segment files commit
    for the client it serves, and once the crowd leaves new clients are
    served.

    Without the shutdown the bare connections held the node at its limit,
    and its next log segment could not be opened: it stopped (8 of 8
    runs)."""
    cluster = ctx.cluster(1, segment_bytes=65536, snapshot_log_bytes=1 << 30,
                          limits={"max_connections": CROWD_CAP}, **PLAIN_PEERS)
    # raftqd through a wrapper that lowers both limits: the node may raise
    # its soft limit to the hard one, never past it
    wrapper_dir = os.path.join(ctx.dir, "limited-bin")
    os.makedirs(wrapper_dir)
    wrapper = os.path.join(wrapper_dir, "raftqd")
    with open(wrapper, "w") as handle:
        handle.write("#!/bin/sh\nulimit -n %d || exit 1\nexec %s \"$@\"\n" % (DESCRIPTORS, ctx.program("raftqd")))
    os.chmod(wrapper, 0o755)
    cluster.processes = raftq_cluster.Cluster(cluster.config, wrapper_dir, detach=False)
    cluster.start()
    leader = cluster.wait_leader()
    check_equal(cluster.request(leader, topic_put("rolls")), OK, "create topic")
    log_path = cluster.config.nodes[1].log_path
    check("file descriptors allowed" in open(log_path).read(), "no warning about the limit")
    context = zmq.Context.instance()
    # One client that keeps its connection, then a crowd past the limit
    kept = context.socket(zmq.REQ)
    kept.linger = 0
    kept.connect(cluster.endpoint(1))
    kept.send_json(STATUS)
    check(kept.poll(2000), "the kept client got no status")
    kept.recv_json()
    crowd = []
    bare_crowd = []
    try:
        # From another source address: the TIME-WAIT the crowd leaves
        # behind on ephemeral ports cannot then block a later test's bind
        # of 127.0.0.1 in this port range
        crowd_endpoint = cluster.endpoint(1).replace("tcp://", "tcp://127.0.0.2:0;")
        for _ in range(200):
            socket = context.socket(zmq.DEALER)
            socket.linger = 0
            socket.connect(crowd_endpoint)
            crowd.append(socket)
        host, port = cluster.endpoint(1)[len("tcp://"):].rsplit(":", 1)
        # The client port, then the peer port, which anyone who reaches it
        # can connect to just as well
        peer_port = cluster.config.nodes[1].peer_port
        for port in [int(port)] * 100 + [peer_port] * 50:
            bare = pysocket.socket(pysocket.AF_INET, pysocket.SOCK_STREAM)
            bare.bind(("127.0.0.2", 0))
            bare.connect((host, port))
            bare_crowd.append(bare)
        pid = cluster.processes.pid(1)
        # Those the node could not hold it shut down (an end of file here)
        shut = set()
        wait_until(lambda: sum(s_closed_by_peer(bare, shut) for bare in bare_crowd[:100]) >= 50 and
                   sum(s_closed_by_peer(bare, shut) for bare in bare_crowd[100:]) >= 25, 10.0,
                   "half the bare connections to each port shut down by the node")
        used = len(os.listdir("/proc/%d/fd" % pid))
        print("descriptors of the node: %d of %d, bare connections it shut down: %d of %d" %
              (used, DESCRIPTORS, sum(s_closed_by_peer(bare, shut) for bare in bare_crowd), len(bare_crowd)))
        check(used <= DESCRIPTORS - 16, "the node holds %d of its %d descriptors", used, DESCRIPTORS)
        payload = "s" * 30000
        for _ in range(20):  # two records a segment: ten new segment files
            kept.send_json(message_put("rolls", payload))
            check(kept.poll(3000), "a publish got no answer with descriptors exhausted")
            check_equal(kept.recv_json(), OK, "a publish with descriptors exhausted")
    finally:
        for socket in crowd:
            socket.close()
        for bare in bare_crowd:
            bare.close()
    check_equal(cluster.alive(), [1], "nodes running")
    wait_until(lambda: cluster.request(1, STATUS) is not None, 10.0, "a new client served")
    kept.close()
