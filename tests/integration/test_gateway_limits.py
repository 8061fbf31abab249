"""raftq-gateway's bounds on what anonymous or single users make it do:
the public cluster page shares one fan-out to the nodes a second among
all its viewers (counted by the nodes' own request metrics), and a user
holds at most --max-streams-per-user event streams (429 past it, another
user unaffected, a slot freed when a stream closes).
"""

import concurrent.futures
import http.client
import re
import time

from gateway_support import CLUSTER_REQUEST_TIMEOUT_MS, EventStream, Gateway, Http
from harness import check, check_equal, wait_until, wire

BURST = 60              # cluster page loads fired at once
BURST_THREADS = 8       # from this many viewers at a time
FRESH_MS = 1000         # gateway_cluster.h GATEWAY_CLUSTER_FRESH_MS
STATUS_PER_FAN_OUT = 2  # Status detail, and plain Status when the detail is refused
HTTP_TIMEOUT_S = 5.0
METRICS_WAIT_S = 3.0    # a node's metrics snapshot (every 250 ms) counts a request within this
STREAMS = 2             # --max-streams-per-user of the test's gateway
FREED_S = 5.0           # a closed stream's slot is free within this (a keep-alive a second)


def _requests(node):
    """{op: requests node has answered} (raftq_requests_total, all codes)."""
    connection = http.client.HTTPConnection(node.host, node.http_port, timeout=HTTP_TIMEOUT_S)
    try:
        connection.request("GET", "/metrics")
        text = connection.getresponse().read().decode()
    finally:
        connection.close()
    counts = {}
    for line in text.splitlines():
        match = re.match(r'raftq_requests_total\{op="([a-z_]+)",.*\} (\S+)$', line)
        if match:
            counts[match.group(1)] = counts.get(match.group(1), 0) + int(float(match.group(2)))
    return counts


def _settled_requests(cluster, node_id):
    """_requests once the node's metrics cover every request answered so
    far: they are a snapshot a few times a second, so a ListTopics is sent
    and the snapshot waited for that counts it (and so all before it)."""
    node = cluster.config.nodes[node_id]
    marked = _requests(node).get("list_topics", 0) + 1
    cluster.raw(node_id, wire.list_topics_request())

    def counted():
        counts = _requests(node)
        return counts if counts.get("list_topics", 0) >= marked else None
    return wait_until(counted, METRICS_WAIT_S, "node %d's metrics to count a ListTopics" % node_id)


def _cluster_page_burst(cluster, gateway):
    ids = sorted(cluster.ids)
    before = {node_id: _settled_requests(cluster, node_id).get("status", 0) for node_id in ids}
    started = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(BURST_THREADS) as pool:
        answers = list(pool.map(lambda _: Http(gateway).request("GET", "/api/cluster"),
                                range(BURST)))
    elapsed = time.monotonic() - started
    after = {node_id: _settled_requests(cluster, node_id).get("status", 0) for node_id in ids}
    for status, _, answer in answers:
        check(status == 200 and len(answer["nodes"]) == len(ids)
              and all(node["reachable"] for node in answer["nodes"]),
              "a cluster page answer with every node reachable: %d %r", status, answer)
    # Fan-outs start at least FRESH_MS apart: in elapsed, at most this many
    fan_outs = int(elapsed * 1000 / FRESH_MS) + 1
    made = len({answer["ms"] for _, _, answer in answers})
    asked = {node_id: after[node_id] - before[node_id] for node_id in ids}
    print("    %d cluster page loads in %.2f s: %d answers made, Status requests per node %r"
          % (BURST, elapsed, made, asked))
    check(made <= fan_outs, "%d answers made in %.2f s, at most %d", made, elapsed, fan_outs)
    for node_id in ids:
        check(1 <= asked[node_id] <= STATUS_PER_FAN_OUT * fan_outs,
              "node %d answered %d Status requests for %d page loads in %.2f s: at most %d",
              node_id, asked[node_id], BURST, elapsed, STATUS_PER_FAN_OUT * fan_outs)
    # and the shared answer ages out: a later load gets a new one
    seen = {answer["ms"] for _, _, answer in answers}
    wait_until(lambda: Http(gateway).request("GET", "/api/cluster")[2]["ms"] not in seen,
               FRESH_MS / 1000.0 + HTTP_TIMEOUT_S, "a cluster page answer made after the burst")


def _stream_cap(gateway):
    alice, bob = Http(gateway), Http(gateway)
    alice.register("alice", "pw-alice")
    bob.register("bob", "pw-bob")
    streams = [EventStream(gateway, alice.cookie) for _ in range(STREAMS)]
    refused = EventStream(gateway, alice.cookie, refused_ok=True)
    check(refused.status == 429 and refused.refusal.get("code") == "RESOURCE_EXHAUSTED"
          and "too many event streams for alice (%d)" % STREAMS in refused.refusal.get("error", ""),
          "alice's stream past %d: %d %r", STREAMS, refused.status, refused.refusal)
    # The cap is the user's: bob's stream opens beside alice's
    bobs = EventStream(gateway, bob.cookie)
    check_equal(bobs.next_event()[0], "hello", "bob's stream's first event")
    # A closed stream frees its slot once the gateway notices the closed tab
    streams.pop().close()
    def reopened():
        stream = EventStream(gateway, alice.cookie, refused_ok=True)
        if stream.status == 200:
            streams.append(stream)
        return stream.status == 200
    wait_until(reopened, FREED_S, "a stream of alice's again after she closed one")
    check_equal(EventStream(gateway, alice.cookie, refused_ok=True).status, 429,
                "alice's stream past %d again" % STREAMS)
    for stream in streams + [bobs]:
        stream.close()


def test_gateway_limits(ctx):
    cluster = ctx.cluster(3, http_ports=True, request_timeout_ms=CLUSTER_REQUEST_TIMEOUT_MS)
    cluster.start()
    cluster.wait_leader(3.0)
    gateway = Gateway(ctx, cluster, extra=["--max-streams-per-user", str(STREAMS)])
    _cluster_page_burst(cluster, gateway)
    _stream_cap(gateway)
    check_equal(gateway.process.poll(), None, "the gateway still runs")
