"""workload — the queue clients, the sessions every client (queue, chat,
admin) talks through, and the history they all write.

A client is one thread with its own REQ sockets (raftq_cluster.Client) and
its own client_id; its operations are strictly sequential, each with the
next seq. An operation is retried, with the SAME client_id and seq, until a
definite answer or its time budget runs out: a retry after a timeout or a
leader change is then answered from the broker's exactly-once table instead
of applying twice. Its outcome:
  ok       a definite answer (OK, EMPTY, NOT_FOUND) to some attempt;
  fail     every attempt was refused before being proposed (NOT_LEADER,
           NO_LEADER, or a definite refusal), so it certainly did not apply;
  unknown  some attempt may have been proposed (no reply, TIMEOUT,
           UNAVAILABLE, INTERNAL) and no attempt got a definite answer.

Values are unique in the whole run: "<client number>-<counter>", so a popped
value names the publish it came from.

Topics rotate: time is cut into windows of --topic-window seconds, each with
its own topics, so the history of one topic stays short enough for the
linearizability search (P-compositionality: topics are independent).
"""

import json
import threading
import time

import raftq_cluster

import raftq_wire as wire

REPLY_TIMEOUT_S = 2.0        # the broker answers within request_timeout_ms (1 s); silence past this is a lost request
LEADER_PROBE_TIMEOUT_S = 0.3  # how long a status probe waits for the nodes
NO_LEADER_BACKOFF_S = 0.05   # pause before asking again when no node leads
DEFINITE_OK = ("OK", "EMPTY", "NOT_FOUND")
NOT_PROPOSED = ("NOT_LEADER", "NO_LEADER")
MAYBE_APPLIED = ("TIMEOUT", "UNAVAILABLE", "INTERNAL")
# answers a fault explains (Session.call retries them); INTERNAL is not one
FAULT_CODES = NOT_PROPOSED + ("TIMEOUT", "UNAVAILABLE", "no-reply")


class History:
    """Operation and nemesis records, one JSON object per line, written as
    they complete (so a killed run still leaves what it saw) and kept in
    memory for the checker. Thread safe."""

    def __init__(self, path, clock):
        self.path = path                      # the history file
        self.clock = clock                    # seconds since the run started
        self.records = []                     # everything recorded, in completion order
        self.lock = threading.Lock()          # guards records and the file
        self.handle = open(path, "w")

    def record(self, entry):
        line = json.dumps(entry, sort_keys=True)
        with self.lock:
            self.records.append(entry)
            self.handle.write(line + "\n")
            self.handle.flush()

    def operations(self):
        with self.lock:
            return [entry for entry in self.records if entry.get("type") == "op"]

    def close(self):
        with self.lock:
            self.handle.close()


class LeaderLog:
    """Every (term, leader) any status answer claimed: two leaders in one
    term break election safety. Shared by the clients and the nemesis."""

    def __init__(self):
        self.lock = threading.Lock()     # guards leaders
        self.leaders = {}                # term -> set of node ids that said they lead it

    def observe(self, node_id, status):
        if not isinstance(status, dict) or status.get("role") != "Leader":
            return
        with self.lock:
            self.leaders.setdefault(status.get("term"), set()).add(node_id)

    def violations(self):
        with self.lock:
            return {term: sorted(ids) for term, ids in self.leaders.items() if len(ids) > 1}


def ask_status(client, endpoint, timeout, admin_secret=None, with_hash=False, detail=False):
    """One node's protobuf status (raftq_wire's dict, with the state hash
    and the topics' queues when asked for; both need admin_secret), or
    None when it does not answer or answers something else."""
    request = wire.status_request(with_hash=with_hash, admin_secret=admin_secret, detail=detail)
    raw = client.request_raw(endpoint, request, timeout)
    if raw is None:
        return None
    try:
        return wire.decode_reply(raw).get("status")
    except ValueError:
        return None


def find_leader(context, nodes, leader_log, timeout=LEADER_PROBE_TIMEOUT_S):
    """The node that says it leads in the highest term the answering nodes
    know, or None. (A strict RRMQ reply carries no leader hint, and a
    minority leader may still think it leads: the highest term wins.)"""
    answers = raftq_cluster.query_statuses(context, nodes, timeout)
    best = None
    for node_id, status in answers.items():
        leader_log.observe(node_id, status)
        if isinstance(status, dict) and status.get("role") == "Leader" \
                and isinstance(status.get("term"), int):
            if best is None or status["term"] > best[0]:
                best = (status["term"], node_id)
    return None if best is None else best[1]


class TopicSchedule:
    """Which topics the clients use when: window w (of window_s seconds)
    has topics chaos-<w>-0 .. chaos-<w>-<per_window - 1>."""

    def __init__(self, window_s, per_window, duration_s):
        self.window_s = window_s          # seconds a window lasts
        self.per_window = per_window      # topics in each window
        self.windows = int(duration_s // window_s) + 1   # windows a run can reach

    def all_topics(self):
        return [self.name(window, slot) for window in range(self.windows)
                for slot in range(self.per_window)]

    @staticmethod
    def name(window, slot):
        return "chaos-%04d-%d" % (window, slot)

    def pick(self, elapsed, rng):
        window = min(int(elapsed // self.window_s), self.windows - 1)
        return self.name(window, rng.randrange(self.per_window))


class Session:
    """One client identity against the cluster: client_id, the next seq,
    its REQ sockets and its guess of the leader. Not thread safe: one per
    thread."""

    def __init__(self, name, client_id, nodes, context, leader_log, clock):
        self.name = name                          # process name in the history
        self.client_id = client_id                # random u64 for exactly-once
        self.seq = 0                              # seq of the latest operation
        self.nodes = nodes                        # id -> raftq_cluster.Node
        self.context = context                    # shared zmq context
        self.client = raftq_cluster.Client(context)   # this thread's REQ sockets
        self.leader_log = leader_log              # election safety watch
        self.clock = clock                        # seconds since the run started
        self.leader = None                        # node id we believe leads, or None

    def _leader(self):
        if self.leader is None:
            self.leader = find_leader(self.context, list(self.nodes.values()), self.leader_log)
        return self.leader

    def call(self, make_body, budget_s, abort=None):
        """Runs one operation (make_body(client_id, seq) -> request bytes)
        until a definite answer or budget_s seconds pass. Returns
        (outcome, reply dict or None, attempts, codes seen)."""
        self.seq += 1
        body = make_body(self.client_id, self.seq)
        deadline = time.monotonic() + budget_s
        uncertain = False
        attempts = 0
        codes = []
        while True:
            node_id = self._leader()
            if node_id is not None:
                attempts += 1
                endpoint = self.nodes[node_id].endpoint
                raw = self.client.request_raw(endpoint, body, REPLY_TIMEOUT_S)
                if raw is None:
                    # it may have reached the node and been proposed
                    uncertain = True
                    self.leader = None
                    codes.append("no-reply@%d" % node_id)
                else:
                    try:
                        reply = wire.decode_reply(raw)
                    except ValueError as error:
                        uncertain = True
                        codes.append("garbled@%d" % node_id)
                        reply = {"code": "GARBLED", "error": str(error)}
                    code = reply["code"]
                    if code != "GARBLED":
                        codes.append("%s@%d" % (code, node_id))
                    if code in DEFINITE_OK:
                        return "ok", reply, attempts, codes
                    if code == "NOT_LEADER":
                        hint = reply.get("leader_id")
                        self.leader = hint if hint in self.nodes and hint != node_id else None
                    elif code == "NO_LEADER":
                        self.leader = None
                        time.sleep(NO_LEADER_BACKOFF_S)
                    elif code in MAYBE_APPLIED:
                        uncertain = True
                        self.leader = None
                    elif code != "GARBLED":
                        # a definite refusal of the request itself: retrying cannot help
                        return ("unknown" if uncertain else "fail"), reply, attempts, codes
            else:
                time.sleep(NO_LEADER_BACKOFF_S)
            if time.monotonic() >= deadline or (abort is not None and abort.is_set()):
                return ("unknown" if uncertain else "fail"), None, attempts, codes

    def close(self):
        self.client.close()


def base_record(session, kind, invoked, outcome, reply, attempts, codes):
    """The history line of one finished operation, without what is
    particular to its kind: who, which seq, when, outcome, reply code and the
    log index it committed at."""
    entry = {"type": "op", "process": session.name, "client_id": session.client_id,
             "seq": session.seq, "op": kind, "invoke": round(invoked, 6),
             "complete": round(session.clock(), 6), "outcome": outcome, "attempts": attempts}
    if attempts != 1 or outcome != "ok":
        # what the attempts were answered, for the report; plain successes
        # need no such line and would only fatten a long run's history. An
        # early answer that no fault explains is kept however long the
        # retries went on: the limits checker counts it as an unclear refusal
        early = [code for code in codes[:-6] if code.split("@")[0] not in FAULT_CODES]
        entry["codes"] = early + codes[-6:]
    if reply is not None:
        entry["result"] = reply["code"]
        if reply["code"] not in DEFINITE_OK and reply.get("error"):
            # a refusal's text: it must name the limit that was reached
            entry["error"] = reply["error"]
        if reply.get("index"):
            entry["index"] = reply["index"]
    return entry


def operation_record(session, kind, topic, value, invoked, outcome, reply, attempts, codes):
    """The history line of one finished queue operation."""
    entry = base_record(session, kind, invoked, outcome, reply, attempts, codes)
    entry["topic"] = topic
    entry["value"] = value
    if reply is not None:
        if reply.get("sequence"):
            entry["position"] = reply["sequence"]
        if kind == "pop" and reply["code"] == "OK":
            entry["value"] = reply.get("payload", b"").decode("utf-8", "replace")
    return entry


def publish(session, history, topic, value, budget_s, abort=None):
    invoked = session.clock()
    outcome, reply, attempts, codes = session.call(
        lambda client_id, seq: wire.publish_request(client_id, seq, topic, value.encode("utf-8")),
        budget_s, abort)
    entry = operation_record(session, "publish", topic, value, invoked, outcome, reply, attempts, codes)
    history.record(entry)
    return entry


def pop(session, history, topic, budget_s, abort=None):
    invoked = session.clock()
    outcome, reply, attempts, codes = session.call(
        lambda client_id, seq: wire.pop_request(client_id, seq, topic), budget_s, abort)
    entry = operation_record(session, "pop", topic, None, invoked, outcome, reply, attempts, codes)
    history.record(entry)
    return entry


def create_topic(session, history, name, budget_s, abort=None, max_deliveries=0, dead_letter=None):
    """Creates a topic (with max_deliveries and dead_letter: one that makes
    dead letters), recorded as op create (the limits checker counts every
    creation against max_topics, the setup's too)."""
    invoked = session.clock()
    outcome, reply, attempts, codes = session.call(
        lambda client_id, seq: wire.create_topic_request(client_id, seq, name, max_deliveries,
                                                         dead_letter), budget_s, abort)
    entry = base_record(session, "create", invoked, outcome, reply, attempts, codes)
    entry["topic"] = name
    history.record(entry)
    return entry


def list_topics(session, history, budget_s, abort=None):
    """Lists the topics (a read the leader answers without a log entry),
    recorded as op list with the names it got."""
    invoked = session.clock()
    outcome, reply, attempts, codes = session.call(
        lambda client_id, seq: wire.list_topics_request(client_id, seq), budget_s, abort)
    entry = base_record(session, "list", invoked, outcome, reply, attempts, codes)
    entry["names"] = reply.get("topics", []) if reply is not None else []
    history.record(entry)
    return entry


class Reader(threading.Thread):
    """The stale-read client: creates a fresh topic now and then and lists
    the topics in between, until told to stop, so that the checker can hold
    every listing against the creations acknowledged before it was sent
    (checker.check_reads)."""

    CREATE_RATIO = 0.2   # share of its operations that create a topic

    def __init__(self, number, session, history, rng, budget_s, stop):
        super().__init__(name=session.name, daemon=True)
        self.number = number              # reader number, in its topic names
        self.session = session            # identity, sockets, leader guess
        self.history = history            # where operations are recorded
        self.rng = rng                    # this reader's own random.Random
        self.budget_s = budget_s          # retry budget of one operation
        self.stop = stop                  # threading.Event: start no new operation
        self.created = 0                  # topics it has tried to create
        self.error = None                 # an exception that ended the thread

    def run(self):
        try:
            while not self.stop.is_set():
                if self.rng.random() < self.CREATE_RATIO:
                    self.created += 1
                    create_topic(self.session, self.history,
                                 "read-%d-%d" % (self.number, self.created), self.budget_s)
                else:
                    list_topics(self.session, self.history, self.budget_s)
        except Exception as error:  # reported by the campaign; the run goes on
            self.error = "%s: %s" % (type(error).__name__, error)
        finally:
            self.session.close()


class Worker(threading.Thread):
    """One chaos client: publishes unique values and pops, at random, on the
    topics of the current window, until told to stop. The operation under
    way when stop is set is still carried to a definite answer (within its
    budget): the run heals every fault before it stops the clients."""

    def __init__(self, number, session, history, schedule, rng, publish_ratio, budget_s, stop):
        super().__init__(name=session.name, daemon=True)
        self.number = number              # client number, the prefix of its values
        self.session = session            # identity, sockets, leader guess
        self.history = history            # where operations are recorded
        self.schedule = schedule          # topic windows
        self.rng = rng                    # this client's own random.Random
        self.publish_ratio = publish_ratio  # share of operations that publish
        self.budget_s = budget_s          # retry budget of one operation
        self.stop = stop                  # threading.Event: start no new operation
        self.published = 0                # values this client has tried to publish
        self.error = None                 # an exception that ended the thread

    def run(self):
        try:
            while not self.stop.is_set():
                topic = self.schedule.pick(self.session.clock(), self.rng)
                if self.rng.random() < self.publish_ratio:
                    self.published += 1
                    publish(self.session, self.history, topic,
                            "%d-%d" % (self.number, self.published), self.budget_s)
                else:
                    pop(self.session, self.history, topic, self.budget_s)
        except Exception as error:  # reported by the campaign; the run goes on
            self.error = "%s: %s" % (type(error).__name__, error)
        finally:
            self.session.close()

