"""harness — what the integration tests share: a per-test context (temp dir,
ports), clusters of real raftqd processes built on tools/raftq_cluster.py,
JSON requests with timeouts, waiting for conditions with deadlines, and the
safety check that no term ever has two leaders.

Every process a test starts is killed when its context closes, whatever the
test did; a node that exited without being told to fails the test.
"""

import json
import os
import signal
import sys
import time

import zmq

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(REPO, "tools"))
sys.path.insert(0, os.path.join(REPO, "clients", "python"))

import raftq_cluster  # noqa: E402
import raftq_wire as wire  # noqa: E402

PORTS_PER_CLUSTER = 20        # client, peer and pub ports of up to 5 nodes, and spares
CLUSTERS_PER_TEST = 1         # port blocks each test may use (20 ports each: 50 tests fit in 1000)
REQUEST_TIMEOUT_S = 2.5       # the contract says 1 s; silence past this is a failure
POLL_INTERVAL_S = 0.02        # pause between two looks at a condition
HEARTBEAT_MS = 50
ELECTION_TIMEOUT_MS = [300, 600]
REQUEST_TIMEOUT_MS = 1000


class TestFailure(AssertionError):
    """A check failed; the message says what was expected and what was seen."""


def check(condition, message, *args):
    if not condition:
        raise TestFailure(message % args if args else message)


def check_equal(seen, expected, what):
    """Equality as JSON sees it (true is not 1, 1.0 is not 1); sets as sets."""
    if isinstance(seen, (set, frozenset)) or isinstance(expected, (set, frozenset)):
        if seen != expected:
            raise TestFailure("%s: expected %r, got %r (missing %r, extra %r)" % (
                what, sorted(expected), sorted(seen), sorted(set(expected) - set(seen)),
                sorted(set(seen) - set(expected))))
        return
    if json.dumps(seen, sort_keys=True) != json.dumps(expected, sort_keys=True):
        raise TestFailure("%s: expected %r, got %r" % (what, expected, seen))


def wait_until(condition, timeout, what):
    """Calls condition until it returns something truthy, which is returned;
    raises TestFailure after timeout seconds, naming what and the last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise TestFailure("timed out after %.1f s waiting for %s (last: %r)" % (timeout, what, value))
        time.sleep(POLL_INTERVAL_S)


# --- requests ---------------------------------------------------------------

def topic_put(name):
    return {"type": "topic", "method": "PUT", "topic": name}


def topic_get():
    return {"type": "topic", "method": "GET"}


def message_put(topic, message):
    return {"type": "message", "method": "PUT", "topic": topic, "message": message}


def message_get(topic):
    return {"type": "message", "method": "GET", "topic": topic}


STATUS = {"type": "status", "method": "GET"}
OK = {"success": True}
FAILED = {"success": False}
STATUS_KEYS = {"role", "term", "id", "leader", "commit_index", "applied_index", "last_index", "members"}

# protobuf raftq.Request { status = 14: Status {} }: field 14, length-delimited, empty
PROTOBUF_STATUS_REQUEST = bytes([(14 << 3) | 2, 0])


# Enough protobuf to read a raftq.Reply's code and nested status without
# protoc: the chaos tool's decoder, {field number: [values]}.
protobuf_fields = wire.fields


def failure_reply(body):
    """None if body is a failure reply in either dialect (JSON with success
    false, or a protobuf raftq.Reply whose code is not OK), else why not."""
    if body is None:
        return "no reply"
    if body[:1] == b"{":
        try:
            reply = json.loads(body.decode("utf-8"))
        except ValueError:
            return "reply starts with { but is not JSON: %r" % body[:80]
        if not isinstance(reply, dict) or reply.get("success") is not False:
            return "JSON reply is not a failure: %r" % body[:200]
        return None
    try:
        code = protobuf_fields(body).get(1, [0])[-1]
    except ValueError as error:
        return "reply is neither JSON nor protobuf (%s): %r" % (error, body[:80])
    return None if code != 0 else "protobuf reply has code OK: %r" % body[:80]


# --- clusters ---------------------------------------------------------------

class TestCluster:
    """Real raftqd processes of one generated config, with a client for them.
    Watches every status answer for two leaders in one term."""

    def __init__(self, context, directory, size, port_base, rrmq=False, settings=None):
        self.context = context                       # the test's Context
        self.directory = directory                   # holds config.json and data/
        os.makedirs(directory)
        self.config_path = os.path.join(directory, "config.json")
        with open(self.config_path, "w") as handle:
            json.dump(self._document(size, port_base, rrmq, settings or {}), handle, indent=2)
        self.config = raftq_cluster.ClusterConfig(self.config_path)
        self.processes = raftq_cluster.Cluster(self.config, context.bin_dir, detach=False)
        # Keys now, not at the first spawn: the client below needs them
        # when the config turns client_curve on
        self.processes.make_keys()
        self.client = raftq_cluster.Client(admin_secret=self.config.admin_secret,
                                           curve=self.config.curve())  # REQ sockets, one per node
        self.leaders = {}                            # term -> ids seen as its leader
        self.told_to_exit = set()                    # ids we stopped or killed
        self.problems = []                           # unexpected exits seen on the way

    @staticmethod
    def _document(size, port_base, rrmq, settings):
        """The config: the RRMQ form has no keys (plaintext peer port); the
        raftq form gives every node a certificate (keys/node-N.cert, made
        by raftq keygen), so the peer port runs CURVE as by default, unless
        settings turn peer_curve off (a test that wants plaintext).
        "http_ports": True in settings gives every node an http_port (metrics
        and health), from the same block of ports."""
        settings = dict(settings)
        http_ports = settings.pop("http_ports", False)
        if rrmq:
            addresses = []
            for index in range(size):
                # the RRMQ suite writes hosts with a scheme; the broker must accept both
                addresses.append({"ip": "http://127.0.0.1" if index == 0 else "127.0.0.1",
                                  "port": port_base + index, "internal_port": port_base + 5 + index})
            document = {"addresses": addresses}
        else:
            nodes = [{"id": index + 1, "host": "127.0.0.1", "client_port": port_base + index,
                      "peer_port": port_base + 5 + index, "pub_port": port_base + 10 + index}
                     for index in range(size)]
            if http_ports:
                for index, node in enumerate(nodes):
                    node["http_port"] = port_base + 15 + index
            if settings.get("peer_curve", True) is not False:
                for node in nodes:
                    node["certificate"] = "keys/node-%d.cert" % node["id"]
            document = {"cluster": "integration", "data_dir": "data",
                        "heartbeat_ms": HEARTBEAT_MS, "election_timeout_ms": ELECTION_TIMEOUT_MS,
                        "request_timeout_ms": REQUEST_TIMEOUT_MS, "nodes": nodes}
        document.update(settings)
        return document

    @property
    def ids(self):
        return list(self.config.nodes)

    def alive(self):
        """Nodes with a process, paused or not."""
        return [node_id for node_id in self.ids if self.processes.running(node_id)]

    def answering(self):
        """Nodes with a process that is not paused."""
        return [node_id for node_id in self.ids if self.processes.state(node_id) == "running"]

    def endpoint(self, node_id):
        return self.config.nodes[node_id].endpoint

    # processes

    def _note_unexpected_exit(self, node_id):
        code = self.processes.exit_code(node_id)
        if code is not None and node_id not in self.told_to_exit:
            problem = "node %d exited by itself with code %d" % (node_id, code)
            if problem not in self.problems:
                self.problems.append(problem)

    def spawn(self, node_ids=None):
        """Starts nodes without waiting; returns the monotonic spawn time."""
        node_ids = node_ids or self.ids
        for node_id in node_ids:
            self._note_unexpected_exit(node_id)
            check(not self.processes.running(node_id), "node %d is already running", node_id)
        started = time.monotonic()
        for node_id in node_ids:
            self.told_to_exit.discard(node_id)
            self.processes.spawn(node_id)
        return started

    def start(self, node_ids=None, within=5.0):
        """Starts nodes and waits until each answers status; returns the
        monotonic spawn time."""
        node_ids = node_ids or self.ids
        started = self.spawn(node_ids)
        answered = self.processes.wait_answering(node_ids, started + within)
        silent = [node_id for node_id in node_ids if answered[node_id] is None]
        for node_id in silent:
            self._note_unexpected_exit(node_id)
        check(not silent, "node(s) %s did not answer status within %.1f s of spawn%s", silent, within,
              "".join("; " + problem for problem in self.problems))
        return started

    def kill(self, node_id):
        self.told_to_exit.add(node_id)
        self._note_unexpected_exit(node_id)
        self.processes.kill(node_id)

    def stop(self, node_id):
        self.told_to_exit.add(node_id)
        self._note_unexpected_exit(node_id)
        return self.processes.stop(node_id)

    def terminate(self, node_id, timeout=5.0):
        """SIGTERM, then waits up to timeout seconds; returns the exit code,
        or None if the node is still running (it is left running)."""
        self.told_to_exit.add(node_id)
        check(self.processes.signal(node_id, signal.SIGTERM), "node %d is not running", node_id)
        if not self.processes.wait_gone(node_id, timeout):
            return None
        return self.processes.exit_code(node_id)

    def pause(self, node_id):
        check(self.processes.pause(node_id), "node %d is not running", node_id)

    def resume(self, node_id):
        check(self.processes.resume(node_id), "node %d is not running", node_id)

    def close(self):
        """Kills everything; returns the problems seen (unexpected exits)."""
        for node_id in self.ids:
            self._note_unexpected_exit(node_id)
        self.processes.kill_all()
        self.client.close()
        return self.problems

    def log_tails(self, count):
        return {node.id: raftq_cluster.tail(node.log_path, count) for node in self.config.nodes.values()}

    # status and leaders

    def _observe(self, node_id, answer):
        if isinstance(answer, dict) and answer.get("role") == "Leader":
            term = answer.get("term")
            claimed = self.leaders.setdefault(term, set())
            claimed.add(node_id)
            check(len(claimed) == 1, "election safety: nodes %s all led term %r", sorted(claimed), term)
        return answer

    def status(self, node_id, timeout=0.5):
        """The node's JSON status, or None if it gave none in time."""
        try:
            answer = self.client.request(self.endpoint(node_id), STATUS, timeout)
        except ValueError:
            return None
        return self._observe(node_id, answer)

    def statuses(self, node_ids=None, timeout=0.5):
        """Status of several nodes at once: id -> dict or None."""
        node_ids = node_ids if node_ids is not None else self.answering()
        nodes = [self.config.nodes[node_id] for node_id in node_ids]
        answers = raftq_cluster.query_statuses(zmq.Context.instance(), nodes, timeout,
                                               curve=self.config.curve())
        for node_id, answer in answers.items():
            self._observe(node_id, answer)
        return answers

    def current_leader(self, node_ids=None):
        """The node that says it leads in the highest term any answering node
        knows, or None."""
        answers = {node_id: answer for node_id, answer in self.statuses(node_ids).items()
                   if isinstance(answer, dict) and isinstance(answer.get("term"), int)}
        if not answers:
            return None
        highest = max(answer["term"] for answer in answers.values())
        for node_id, answer in answers.items():
            if answer.get("role") == "Leader" and answer["term"] == highest:
                return node_id
        return None

    def wait_leader(self, timeout=3.0, since=None, node_ids=None, other_than=None):
        """Waits for a leader (among node_ids, default the running nodes, and
        not other_than) at most timeout seconds after since (default now)."""
        since = time.monotonic() if since is None else since
        def leader():
            found = self.current_leader(node_ids)
            return found if found is not None and found != other_than else None
        left = max(0.05, since + timeout - time.monotonic())
        return wait_until(leader, left, "a leader%s within %.1f s" % (
            "" if other_than is None else " other than node %d" % other_than, timeout))

    def followers(self, leader):
        return [node_id for node_id in self.answering() if node_id != leader]

    # requests

    def raw(self, node_id, body, timeout=REQUEST_TIMEOUT_S):
        """Sends raw frames; returns the reply body or None."""
        return self.client.request_raw(self.endpoint(node_id), body, timeout)

    def take_snapshot(self, node_id):
        """Sends a protobuf TakeSnapshot to node_id, which answers once a
        snapshot covering its applied state is durable; returns the decoded
        raftq.Reply. A snapshot of the whole state may take a while: a
        generous timeout."""
        reply = self.raw(node_id, wire.take_snapshot_request(admin_secret=self.config.admin_secret()),
                         timeout=10.0)
        check(reply is not None, "node %d did not answer TakeSnapshot", node_id)
        return wire.decode_reply(reply)

    def request(self, node_id, message, timeout=REQUEST_TIMEOUT_S):
        """Sends a JSON request; returns the JSON reply. Silence, or a reply
        that is not a JSON object, fails the test."""
        started = time.monotonic()
        try:
            reply = self.client.request(self.endpoint(node_id), message, timeout)
        except ValueError as error:
            raise TestFailure("node %d answered %s with %s" % (node_id, _short(message), error))
        check(reply is not None, "node %d gave no reply to %s within %.1f s",
              node_id, _short(message), time.monotonic() - started)
        return reply

    def leader_request(self, message, timeout=5.0):
        """Sends to the leader; when the answer is a failure from a node that
        no longer leads, finds the new leader and sends again. Returns the
        leader's reply. Only for requests whose retry is harmless or that
        carry client_id/seq."""
        deadline = time.monotonic() + timeout
        while True:
            leader = self.wait_leader(max(0.1, deadline - time.monotonic()))
            reply = self.request(leader, message)
            if reply.get("success") is not False or time.monotonic() >= deadline:
                return reply
            if self.current_leader() == leader:
                return reply

    def put_topic(self, leader, name):
        check_equal(self.request(leader, topic_put(name)), OK, "create topic %r on node %d" % (name, leader))

    def publish(self, leader, topic, messages):
        for message in messages:
            check_equal(self.request(leader, message_put(topic, message)), OK,
                        "publish %r to %r on node %d" % (_short(message), topic, leader))

    def pop(self, leader, topic):
        """The popped message, or None when the node answers {"success": false}."""
        reply = self.request(leader, message_get(topic))
        if reply == FAILED:
            return None
        check(reply.get("success") is True and set(reply) == {"success", "message"},
              "pop from %r on node %d: unexpected reply %r", topic, leader, reply)
        return reply["message"]

    def drain(self, leader, topic, limit=10000):
        """Pops until the topic is empty; returns the messages in pop order."""
        messages = []
        while len(messages) < limit:
            message = self.pop(leader, topic)
            if message is None:
                return messages
            messages.append(message)
        raise TestFailure("topic %r did not run empty after %d pops" % (topic, limit))

    def topics(self, leader):
        reply = self.request(leader, topic_get())
        check(reply.get("success") is True and set(reply) == {"success", "topics"},
              "list topics on node %d: unexpected reply %r", leader, reply)
        return reply["topics"]

    def wait_applied(self, node_ids, index, timeout):
        """Waits until every node in node_ids has applied index."""
        def caught_up():
            answers = self.statuses(node_ids)
            behind = {node_id: (answer or {}).get("applied_index") for node_id, answer in answers.items()
                      if not answer or not isinstance(answer.get("applied_index"), int)
                      or answer["applied_index"] < index}
            return True if not behind else ApplyLag(behind)
        return wait_until(caught_up, timeout, "nodes %s to apply index %d" % (node_ids, index))


class ApplyLag(dict):
    """applied_index of the nodes still behind: falsy, so wait_until goes on,
    and shown in its timeout message."""

    def __bool__(self):
        return False

    def __repr__(self):
        return "applied_index %s" % dict.__repr__(self)


def _short(message):
    text = message if isinstance(message, str) else json.dumps(message)
    return text if len(text) <= 120 else text[:117] + "..."


# --- per-test context ---------------------------------------------------------

class Context:
    """What one test owns: a temp dir, a range of ports, its clusters and
    stray processes, all cleaned up by close()."""

    def __init__(self, name, directory, port_base, bin_dir):
        self.name = name                 # test function name
        self.dir = directory             # fresh temp dir
        self.port_base = port_base       # first of this test's ports
        self.bin_dir = bin_dir           # holds raftqd and raftq
        self.clusters = []               # TestCluster objects made by cluster()
        self.cleanups = []               # callables run by close(), last first

    def cluster(self, size, rrmq=False, **settings):
        """A new cluster config of size nodes on a fresh block of ports; no
        process is started yet."""
        block = len(self.clusters)
        check(block < CLUSTERS_PER_TEST, "a test may make at most %d clusters", CLUSTERS_PER_TEST)
        directory = os.path.join(self.dir, "cluster-%d" % (block + 1))
        cluster = TestCluster(self, directory, size, self.port_base + block * PORTS_PER_CLUSTER, rrmq, settings)
        self.clusters.append(cluster)
        return cluster

    def program(self, name):
        path = os.path.join(self.bin_dir, name)
        check(os.access(path, os.X_OK), "%s is not built", path)
        return path

    def on_close(self, cleanup):
        self.cleanups.append(cleanup)

    def close(self):
        """Kills every process; returns the problems noticed (unexpected exits)."""
        problems = []
        for cleanup in reversed(self.cleanups):
            try:
                cleanup()
            except Exception as error:  # cleanup goes on whatever failed before
                problems.append("cleanup failed: %r" % error)
        for cluster in self.clusters:
            problems.extend(cluster.close())
        return problems

    def log_tails(self, count):
        tails = []
        for position, cluster in enumerate(self.clusters):
            for node_id, lines in cluster.log_tails(count).items():
                tails.append(("cluster %d node %d" % (position + 1, node_id), lines))
        return tails
