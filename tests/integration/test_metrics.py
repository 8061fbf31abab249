"""Metrics and health over HTTP (issue 13) through real raftqd processes
with an http_port each: /metrics on every node parsed (every family the
README lists, # HELP and # TYPE on each, histograms whole) and agreeing
with Status, `promtool check metrics` when it is installed; /healthz and
/readyz; other paths, methods and request bodies refused; /readyz turning
503 on a node cut off from its peers (the two others SIGSTOPped) and 200
again once they resume; and HTTP clients that send nothing or half a
request stall neither a concurrent scrape nor Raft, and are cut off."""

import http.client
import json
import math
import shutil
import socket
import subprocess
import time

import zmq

from harness import check, check_equal, message_get, wait_until

HTTP_TIMEOUT_S = 2.0
SCRAPE_FRESH_S = 3.0          # the broker hands the HTTP thread a snapshot every 250 ms
IDLE_CUTOFF_S = 10.0          # the server drops a silent connection after 5 s
FAMILIES = {
    "raftq_role": "gauge", "raftq_term": "gauge", "raftq_leader_id": "gauge",
    "raftq_leader_changes_total": "counter", "raftq_voter": "gauge", "raftq_members": "gauge",
    "raftq_commit_index": "gauge", "raftq_applied_index": "gauge", "raftq_last_index": "gauge",
    "raftq_log_first_index": "gauge", "raftq_log_bytes": "gauge",
    "raftq_log_entries_written_total": "counter", "raftq_fsync_duration_seconds": "histogram",
    "raftq_peer_messages_dropped_total": "counter", "raftq_proposals_total": "counter",
    "raftq_proposal_batch_entries": "histogram", "raftq_snapshot_index": "gauge",
    "raftq_snapshots_total": "counter", "raftq_snapshot_duration_seconds": "histogram",
    "raftq_requests_total": "counter", "raftq_request_duration_seconds": "histogram",
    "raftq_requests_waiting": "gauge", "raftq_connections": "gauge",
    "raftq_subscriptions": "gauge", "raftq_events_delivered_total": "counter",
    "raftq_subscriptions_revoked_total": "counter", "raftq_state_bytes": "gauge",
    "raftq_state_max_bytes": "gauge", "raftq_disk_free_bytes": "gauge",
    "raftq_disk_min_free_bytes": "gauge", "raftq_ready": "gauge",
}


# --- HTTP ---------------------------------------------------------------------

def http_get(node, path, method="GET", body=None, headers=None):
    """(status, content type, body text) of one request to node's http port."""
    connection = http.client.HTTPConnection(node.host, node.http_port, timeout=HTTP_TIMEOUT_S)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.getheader("Content-Type"), response.read().decode("utf-8")
    finally:
        connection.close()


def health(node, path):
    """(status, JSON body) of /healthz or /readyz."""
    status, content_type, body = http_get(node, path)
    check_equal(content_type, "application/json", "content type of %s" % path)
    return status, json.loads(body)


# --- the exposition format ----------------------------------------------------------

def _labels(text, line):
    """{name: value} of a sample's label text (between the braces), unescaped."""
    labels = {}
    position = 0
    while position < len(text):
        equals = text.index("=", position)
        name = text[position:equals]
        check(text[equals + 1] == '"', "label %s not quoted in %r", name, line)
        value = []
        position = equals + 2
        while text[position] != '"':
            if text[position] == "\\":
                value.append({"n": "\n", "\\": "\\", '"': '"'}[text[position + 1]])
                position += 2
            else:
                value.append(text[position])
                position += 1
        labels[name] = "".join(value)
        position += 1
        if position < len(text):
            check(text[position] == ",", "labels not separated by commas in %r", line)
            position += 1
    return labels


def parse_metrics(text):
    """{family: {"type", "help", "samples": [(name, labels, value)]}}, every
    sample checked to follow its family's # HELP and # TYPE."""
    families = {}
    current = None
    for line in text.splitlines():
        if line.startswith("# HELP "):
            name, _, help_text = line[len("# HELP "):].partition(" ")
            check(name not in families, "family %s appears twice", name)
            families[name] = current = {"help": help_text, "type": None, "samples": []}
            current["name"] = name
        elif line.startswith("# TYPE "):
            name, _, kind = line[len("# TYPE "):].partition(" ")
            check(current is not None and current["name"] == name,
                  "# TYPE %s does not follow its # HELP", name)
            current["type"] = kind
        elif line:
            series, _, value = line.rpartition(" ")
            name, brace, rest = series.partition("{")
            labels = _labels(rest[:-1], line) if brace else {}
            check(current is not None and current["type"] is not None,
                  "sample before any # HELP/# TYPE: %r", line)
            base = current["name"]
            allowed = {base} if current["type"] != "histogram" else {
                base + "_bucket", base + "_sum", base + "_count"}
            check(name in allowed, "sample %s under family %s", name, base)
            current["samples"].append((name, labels, float(value)))
    return families


def sample(families, family, series=None, **labels):
    """The value of the one sample of family (named series, default the
    family's own name) with exactly these labels."""
    series = series or family
    found = [value for name, sample_labels, value in families[family]["samples"]
             if name == series and sample_labels == labels]
    check_equal(len(found), 1, "samples of %s%r" % (family, labels))
    return found[0]


def check_histograms(families):
    """Every histogram: cumulative buckets ending at +Inf, which _count equals."""
    for family, content in families.items():
        if content["type"] != "histogram":
            continue
        series = {}
        for name, labels, value in content["samples"]:
            key = tuple(sorted((k, v) for k, v in labels.items() if k != "le"))
            series.setdefault(key, {"buckets": [], "count": None})
            if name.endswith("_bucket"):
                series[key]["buckets"].append((float(labels["le"]), value))
            elif name.endswith("_count"):
                series[key]["count"] = value
        for key, parts in series.items():
            buckets = parts["buckets"]
            check(buckets and math.isinf(buckets[-1][0]), "%s%r ends with le=+Inf", family, key)
            check(all(a[0] < b[0] and a[1] <= b[1] for a, b in zip(buckets, buckets[1:])),
                  "%s%r buckets ascend and are cumulative: %r", family, key, buckets)
            check_equal(parts["count"], buckets[-1][1], "%s%r _count against +Inf" % (family, key))


def scrape(node):
    status, content_type, text = http_get(node, "/metrics")
    check_equal(status, 200, "status of node %d's /metrics" % node.id)
    check(content_type.startswith("text/plain; version=0.0.4"), "content type %r", content_type)
    return text, parse_metrics(text)


def promtool_check(text, node_id):
    promtool = shutil.which("promtool")
    if not promtool:
        return
    result = subprocess.run([promtool, "check", "metrics"], input=text.encode(),
                            capture_output=True, timeout=20)
    check(result.returncode == 0, "promtool check metrics on node %d: %s %s", node_id,
          result.stdout.decode(errors="replace"), result.stderr.decode(errors="replace"))


# --- tests --------------------------------------------------------------------

def test_metrics_on_every_node(ctx):
    cluster = ctx.cluster(3, http_ports=True)
    spawned = cluster.start()
    leader = cluster.wait_leader(3.0, since=spawned)
    nodes = cluster.config.nodes

    # a subscriber on the leader's PUB port, applied before the publishes
    subscriber = zmq.Context.instance().socket(zmq.SUB)
    subscriber.linger = 0
    ctx.on_close(subscriber.close)
    subscriber.setsockopt(zmq.SUBSCRIBE, b"topic/")
    subscriber.connect("tcp://%s:%d" % (nodes[leader].host, nodes[leader].pub_port))
    wait_until(lambda: sample(scrape(nodes[leader])[1], "raftq_subscriptions", kind="topic") >= 1,
               SCRAPE_FRESH_S, "the leader's metrics to count the topic subscription")

    cluster.put_topic(leader, "jobs")
    cluster.publish(leader, "jobs", ["m%d" % number for number in range(5)])
    check(subscriber.poll(int(HTTP_TIMEOUT_S * 1000)), "the subscriber receives an event")
    check_equal(cluster.request(leader, message_get("empty-topic")).get("success"), False,
                "a pop of a missing topic")
    snapshot = cluster.take_snapshot(leader)

    for node_id in cluster.ids:
        node = nodes[node_id]

        def agrees():
            # the follower may learn the last commit after one status and
            # before the next: the two must meet once nothing is written.
            # The Raft actor's counters come in its own periodic report,
            # which may trail the commit index the broker knows at once.
            status = cluster.status(node_id)
            text, families = scrape(node)
            seen = (sample(families, "raftq_commit_index"), sample(families, "raftq_term"),
                    sample(families, "raftq_log_entries_written_total") >= status["commit_index"])
            wanted = (float(status["commit_index"]), float(status["term"]), True)
            return (status, text, families) if seen == wanted else None
        status, text, families = wait_until(
            agrees, SCRAPE_FRESH_S, "node %d's metrics to show its status' commit index and term"
            % node_id)
        for family, kind in FAMILIES.items():
            check(family in families, "node %d exports %s", node_id, family)
            check_equal(families[family]["type"], kind, "type of %s" % family)
            check(families[family]["help"], "%s has a help text", family)
        check_histograms(families)
        promtool_check(text, node_id)

        roles = {role: sample(families, "raftq_role", role=role)
                 for role in ("leader", "follower", "candidate")}
        expected = "leader" if node_id == leader else "follower"
        check_equal(roles, {role: float(role == expected) for role in roles}, "node %d's roles" % node_id)
        check_equal(sample(families, "raftq_leader_id"), float(leader), "node %d's leader" % node_id)
        check(sample(families, "raftq_applied_index") == status["applied_index"] and
              sample(families, "raftq_last_index") >= status["commit_index"],
              "node %d: applied and last index against status %r", node_id, status)
        check(sample(families, "raftq_log_bytes") > 0 and
              sample(families, "raftq_log_entries_written_total") >= status["commit_index"],
              "node %d wrote its log: %r bytes, %r entries, commit index %d", node_id,
              sample(families, "raftq_log_bytes"),
              sample(families, "raftq_log_entries_written_total"), status["commit_index"])
        check(sample(families, "raftq_fsync_duration_seconds",
                     "raftq_fsync_duration_seconds_count") > 0,
              "node %d counted its log syncs", node_id)
        check(sample(families, "raftq_state_bytes") > 0 and
              sample(families, "raftq_state_max_bytes") >= sample(families, "raftq_state_bytes"),
              "node %d: state bytes under their limit", node_id)
        check(sample(families, "raftq_disk_free_bytes") > 0, "node %d sees free disk", node_id)
        check_equal(sample(families, "raftq_ready"), 1.0, "node %d's raftq_ready" % node_id)
        check(sample(families, "raftq_requests_total", op="status", code="OK") >= 1,
              "node %d counted its status requests", node_id)

        check_equal(health(node, "/healthz")[0], 200, "node %d's /healthz" % node_id)
        ready_status, ready = health(node, "/readyz")
        check(ready_status == 200 and ready["ready"] is True and ready["reason"],
              "node %d's /readyz: %d %r", node_id, ready_status, ready)

    _, families = scrape(nodes[leader])
    check_equal(sample(families, "raftq_requests_total", op="publish", code="OK"), 5.0,
                "publishes counted on the leader")
    check_equal(sample(families, "raftq_requests_total", op="pop", code="NOT_FOUND"), 1.0,
                "the failed pop counted by its code")
    check(sample(families, "raftq_proposals_total") >= 7, "the leader counted its proposals")
    check(sample(families, "raftq_events_delivered_total") >= 5, "the leader counted deliveries")
    check(sample(families, "raftq_connections", port="pub") >= 1, "the subscriber's connection")
    check_equal(sample(families, "raftq_snapshots_total", outcome="written"), 1.0,
                "the leader's snapshot counted")
    check_equal(sample(families, "raftq_snapshot_duration_seconds",
                       "raftq_snapshot_duration_seconds_count"), 1.0,
                "the leader's snapshot timed")
    check(sample(families, "raftq_snapshot_index") >= snapshot.get("index", 1),
          "snapshot index %r against the TakeSnapshot reply %r",
          sample(families, "raftq_snapshot_index"), snapshot)
    check_equal(sample(families, "raftq_request_duration_seconds",
                       "raftq_request_duration_seconds_count", op="publish"), 5.0,
                "publish latencies observed")

    # anything but GET or HEAD of the three paths is refused
    node = nodes[leader]
    check_equal(http_get(node, "/")[0], 404, "status of /")
    check_equal(http_get(node, "/metrics/x")[0], 404, "status of /metrics/x")
    check_equal(http_get(node, "/metrics", method="POST", body="x")[0], 405, "status of a POST")
    check_equal(http_get(node, "/metrics", method="DELETE")[0], 405, "status of a DELETE")
    check_equal(http_get(node, "/metrics", body="x" * 100)[0], 413, "status of a GET with a body")
    head = http_get(node, "/metrics", method="HEAD")
    check_equal((head[0], head[2]), (200, ""), "HEAD of /metrics")


def test_readyz_follows_quorum(ctx):
    cluster = ctx.cluster(3, http_ports=True)
    spawned = cluster.start()
    leader = cluster.wait_leader(3.0, since=spawned)
    cut_off = cluster.followers(leader)[0]
    node = cluster.config.nodes[cut_off]
    check_equal(wait_until(lambda: health(node, "/readyz")[0] == 200 or None, SCRAPE_FRESH_S,
                           "node %d ready" % cut_off), True, "readiness")

    others = [node_id for node_id in cluster.ids if node_id != cut_off]
    for node_id in others:
        cluster.pause(node_id)

    def not_ready():
        status, body = health(node, "/readyz")
        return body if status == 503 else None
    body = wait_until(not_ready, 5.0, "node %d's /readyz to turn 503 without its peers" % cut_off)
    check(body["ready"] is False and "leader" in body["reason"],
          "a cut-off node says it has no leader: %r", body)
    check_equal(health(node, "/healthz")[0], 200, "the cut-off node still serves /healthz")

    for node_id in others:
        cluster.resume(node_id)
    wait_until(lambda: health(node, "/readyz")[0] == 200 or None, 6.0,
               "node %d's /readyz to turn 200 again once its peers are back" % cut_off)
    _, families = scrape(node)
    check(sample(families, "raftq_leader_changes_total") >= 2,
          "node %d counted losing and finding a leader", cut_off)


def test_slow_http_clients_stall_nothing(ctx):
    cluster = ctx.cluster(3, http_ports=True)
    spawned = cluster.start()
    leader = cluster.wait_leader(3.0, since=spawned)
    node = cluster.config.nodes[leader]
    cluster.put_topic(leader, "jobs")

    # silent connections, half requests and a request with a huge header
    # left unfinished, all held open
    slow = []
    for number in range(12):
        connection = socket.create_connection((node.host, node.http_port), timeout=HTTP_TIMEOUT_S)
        ctx.on_close(connection.close)
        if number % 3 == 1:
            connection.sendall(b"GET /metr")
        elif number % 3 == 2:
            connection.sendall(b"GET /metrics HTTP/1.1\r\nX-Long: " + b"a" * 4000)
        slow.append(connection)
    opened = time.monotonic()

    # meanwhile scrapes are answered at once and Raft commits
    before = cluster.status(leader)["commit_index"]
    for number in range(10):
        started = time.monotonic()
        _, families = scrape(node)
        check(time.monotonic() - started < 1.0, "a scrape beside slow clients took %.2f s",
              time.monotonic() - started)
        cluster.publish(leader, "jobs", ["m%d" % number])
    wait_until(lambda: sample(scrape(node)[1], "raftq_commit_index") >= before + 10 or None,
               SCRAPE_FRESH_S, "the commits to show in the metrics")

    # and the server cuts the slow ones off by itself
    for connection in slow:
        connection.settimeout(max(0.1, opened + IDLE_CUTOFF_S - time.monotonic()))
        try:
            while connection.recv(4096):
                pass
        except socket.timeout:
            check(False, "a slow HTTP connection still open after %.0f s", IDLE_CUTOFF_S)
        except ConnectionResetError:
            pass
    check_equal(health(node, "/healthz")[0], 200, "the node after the slow clients")
