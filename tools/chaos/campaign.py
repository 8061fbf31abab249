"""campaign — one chaos run from start to verdict: a fresh cluster (each node
on its own loopback address, small snapshot_log_bytes so that snapshots,
log compaction and InstallSnapshot happen under the faults), concurrent
clients (queue, chat, both, the limits workload's, which run under
small quotas, or the consume workload's, which reserve, ack, nack and
crash), the nemesis, healing, draining every topic,
listing every chat conversation, the convergence check, the history checks,
and the report whose last line is

  acked=N lost=N duplicated=N unexpected=N reordered=N diverged=N nonlinearizable=N

(a limits run prints above it
  limits: refused=N (<refusals by limit>) unclear=N refused_applied=N impossible=N over_limit=N
a consume run
  consume: deliveries=N redeliveries=N nacks=N crashes=N dead_lettered=N acks_refused=N waits=N
           after_ack=N early_redelivery=N bad_dead_letter=N)

The exit code is 0 only when every counter but acked is 0 (the report's
table also counts unauthenticated: chat sessions lost over failover) and
nothing else went wrong (a node that exited by itself or would not restart,
a membership change that would not complete, two leaders in one term, a
topic that could not be drained, a conversation that could not be listed,
no acknowledged write at all, a limits run in which some quota was never
reached, a consume run without a crashed consumer or a dead letter); 1
otherwise; 2 for bad arguments or a
cluster that never started.

Phases: start -> create topics and chat accounts -> clients + nemesis for
--duration -> heal everything (removed nodes added back) -> settle -> stop
clients (each finishes its operation under way) -> drain every topic, log
in to every account, read its unread messages and list every conversation
-> wait for every node to be a member, applied to the same index with the
same state hash -> (limits) list the topics -> check the history.
"""

import argparse
import atexit
import collections
import json
import os
import random
import re
import shutil
import signal
import sys
import tempfile
import threading
import time

import zmq

import raftq_cluster

from . import chat, checker, consume, firewall, limits, nemesis, workload

HEARTBEAT_MS = 50
ELECTION_TIMEOUT_MS = [300, 600]
REQUEST_TIMEOUT_MS = 1000
FIRST_LEADER_TIMEOUT_S = 10.0   # a fresh cluster must elect within this
CONVERGE_TIMEOUT_S = 30.0       # every node must reach the same state within this after the drain
DRAINERS = 4                    # threads popping the topics empty at the end
READERS = 2                     # stale-read clients beside the queue clients (workload.Reader)
DRAIN_TRIES = 5                 # a pop without a definite answer is retried this often
STATUS_TIMEOUT_S = 0.5          # how long one status request waits during the convergence check
SNAPSHOT_LOG_LINES = (          # what the brokers' logs say when a snapshot is made or taken over
    ("written", re.compile(r"\bsnapshot \d+ written")),
    ("installed", re.compile(r"\binstalled snapshot \d+")),
    ("restored", re.compile(r"\bstate restored from snapshot \d+")),
)


class CampaignError(Exception):
    """The run could not be set up (no binary, no leader, no nft)."""


def _repo_dir():
    return os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _default_bin():
    return os.environ.get("RAFTQ_BUILD") or os.path.join(_repo_dir(), "build")


def parse_arguments(argv):
    parser = argparse.ArgumentParser(
        prog="raftq-chaos",
        description="Concurrent clients and injected faults against a real raftqd cluster; "
                    "records a history, checks it, prints a report.",
        epilog="faults: %s (default: all)%s" % (
            ", ".join(nemesis.FAULTS),
            "".join("; not available here: %s (%s)" % item for item in nemesis.UNAVAILABLE.items())))
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of faults and load (default 60)")
    parser.add_argument("--seed", type=int, default=None, help="random seed (default: random, printed)")
    parser.add_argument("--nodes", type=int, choices=[3, 5], default=5, help="cluster size (default 5)")
    parser.add_argument("--clients", type=int, default=5, help="concurrent clients (default 5)")
    parser.add_argument("--workload", choices=["queue", "chat", "mixed", "limits", "consume"],
                        default="queue",
                        help="queue: unique values published with client_id/seq, and pops; "
                             "chat: logins, unique texts sent, unread and conversation pages read; "
                             "mixed: both at once, the clients split between them; "
                             "limits: small quotas, topics created and filled until refused, "
                             "popped and filled again; "
                             "consume: unique values published, reserved for a short visibility "
                             "time, then acked, nacked or dropped (a crashed consumer), one topic "
                             "making dead letters")
    parser.add_argument("--chat-accounts", type=int, default=None,
                        help="chat accounts (default: one per chat client and %d that only receive)"
                             % chat.EXTRA_ACCOUNTS)
    parser.add_argument("--send-ratio", type=float, default=0.6, help="share of chat operations that send")
    parser.add_argument("--faults", default="all",
                        help="comma-separated fault kinds, 'all', or 'none' (default all)")
    parser.add_argument("--fault-duration", default="1:4", metavar="MIN:MAX",
                        help="seconds a fault stays in place (default 1:4)")
    parser.add_argument("--quiet", default="0.5:2", metavar="MIN:MAX",
                        help="seconds between a settled cluster and the next fault (default 0.5:2)")
    parser.add_argument("--publish-ratio", type=float, default=0.55, help="share of operations that publish")
    parser.add_argument("--topic-window", type=float, default=2.0,
                        help="seconds the clients use one set of topics (bounds each linearizability search)")
    parser.add_argument("--topics-per-window", type=int, default=2)
    parser.add_argument("--op-budget", type=float, default=10.0,
                        help="seconds one operation is retried before its outcome is unknown")
    parser.add_argument("--settle-timeout", type=float, default=20.0,
                        help="seconds the cluster may take to recover after a fault is healed")
    parser.add_argument("--search-budget", type=int, default=checker.DEFAULT_SEARCH_BUDGET,
                        help="linearizability search steps per topic before it is undecided")
    parser.add_argument("--segment-bytes", type=int, default=65536,
                        help="log segment size (segment_bytes) so logs have many segments")
    parser.add_argument("--snapshot-bytes", type=int, default=256 * 1024,
                        help="snapshot_log_bytes of the cluster: a snapshot each time the log grows "
                             "this much (default 256 KiB, so snapshots happen under the faults; "
                             "0: the broker's default)")
    parser.add_argument("--snapshot-trailing", type=int, default=300,
                        help="snapshot_trailing_entries: log entries kept behind a snapshot "
                             "(default 300, so a lagging node often needs InstallSnapshot)")
    parser.add_argument("--bin", default=None, help="directory holding raftqd (default $RAFTQ_BUILD, else <repo>/build)")
    parser.add_argument("--host-base", default="127.0.0.11",
                        help="address of node 1; node N gets the N-1th next one (default 127.0.0.11)")
    parser.add_argument("--port-base", type=int, default=22100,
                        help="client port of every node; peer and pub ports follow (default 22100)")
    parser.add_argument("--dir", default=None, help="work directory (default: a fresh temp dir)")
    parser.add_argument("--keep", action="store_true", help="keep the work directory even when the run passes")
    parser.add_argument("--history", default=None, help="history file (default <dir>/history.jsonl)")
    parser.add_argument("--nft-table", default=firewall.DEFAULT_TABLE, help="nftables table (inet) to use")
    parser.add_argument("--self-test", action="store_true",
                        help="check the checkers on synthetic histories, start no cluster")
    parser.add_argument("-v", "--verbose", action="store_true", help="print every fault and settle")
    args = parser.parse_args(argv)
    if args.self_test:
        return args
    args.fault_range = _range(parser, "--fault-duration", args.fault_duration)
    args.quiet_range = _range(parser, "--quiet", args.quiet)
    if args.faults == "none":
        args.fault_kinds = []
    elif args.faults == "all":
        args.fault_kinds = [kind for kind in nemesis.FAULTS
                            if args.nodes >= 5 or kind not in nemesis.NEEDS_FIVE]
    else:
        args.fault_kinds = [kind.strip() for kind in args.faults.split(",") if kind.strip()]
        for kind in args.fault_kinds:
            if kind in nemesis.UNAVAILABLE:
                parser.error("fault %s is not available: %s" % (kind, nemesis.UNAVAILABLE[kind]))
            if kind not in nemesis.FAULTS:
                parser.error("unknown fault %r (known: %s)" % (kind, ", ".join(nemesis.FAULTS)))
            if kind in nemesis.NEEDS_FIVE and args.nodes < 5:
                parser.error("fault %s needs 5 nodes" % kind)
    if args.clients < 1 or args.duration <= 0 or args.topic_window <= 0 or args.topics_per_window < 1:
        parser.error("--clients, --duration, --topic-window and --topics-per-window must be positive")
    if args.workload == "mixed" and args.clients < 2:
        parser.error("--workload mixed needs at least 2 clients")
    args.limits_clients = args.clients if args.workload == "limits" else 0
    args.consume_clients = args.clients if args.workload == "consume" else 0
    args.queue_clients = {"queue": args.clients, "chat": 0, "mixed": (args.clients + 1) // 2,
                          "limits": 0, "consume": 0}[args.workload]
    args.chat_clients = args.clients - args.queue_clients - args.limits_clients - args.consume_clients
    if args.chat_accounts is None:
        args.chat_accounts = args.chat_clients + chat.EXTRA_ACCOUNTS if args.chat_clients else 0
    if args.chat_clients and args.chat_accounts < max(2, args.chat_clients):
        parser.error("--chat-accounts: at least one per chat client, and 2")
    if args.snapshot_bytes and args.snapshot_bytes < 1024:
        parser.error("--snapshot-bytes: the broker wants at least 1024")
    octets = args.host_base.split(".")
    if len(octets) != 4 or not all(octet.isdigit() for octet in octets) or int(octets[3]) + args.nodes > 255:
        parser.error("--host-base: an IPv4 address with room for %d nodes after it" % args.nodes)
    if args.seed is None:
        args.seed = random.SystemRandom().randrange(1, 2 ** 31)
    return args


def _range(parser, name, text):
    try:
        low, high = (float(part) for part in text.split(":"))
    except ValueError:
        parser.error("%s: MIN:MAX in seconds" % name)
    if low < 0 or high < low:
        parser.error("%s: need 0 <= MIN <= MAX" % name)
    return low, high


def write_config(directory, args):
    """The cluster config of the run: node N on host_base + N - 1, every
    node on the same three ports of its own address, with a certificate
    (made at the first spawn) so that the peer port runs CURVE, as it does
    by default."""
    octets = [int(octet) for octet in args.host_base.split(".")]
    nodes = []
    for number in range(args.nodes):
        host = "%d.%d.%d.%d" % (octets[0], octets[1], octets[2], octets[3] + number)
        nodes.append({"id": number + 1, "host": host, "client_port": args.port_base,
                      "peer_port": args.port_base + 1, "pub_port": args.port_base + 2,
                      "certificate": "keys/node-%d.cert" % (number + 1)})
    document = {"cluster": "chaos", "data_dir": "data", "heartbeat_ms": HEARTBEAT_MS,
                "election_timeout_ms": ELECTION_TIMEOUT_MS, "request_timeout_ms": REQUEST_TIMEOUT_MS,
                "segment_bytes": args.segment_bytes, "nodes": nodes}
    if args.limits_clients:
        document["limits"] = dict(limits.LIMITS)
    if args.snapshot_bytes:
        document["snapshot_log_bytes"] = args.snapshot_bytes
        document["snapshot_trailing_entries"] = args.snapshot_trailing
    path = os.path.join(directory, "config.json")
    with open(path, "w") as handle:
        json.dump(document, handle, indent=2)
    return path


class Campaign:
    """One run: owns the work dir, the cluster, the firewall table, the
    history, the clients and the nemesis."""

    def __init__(self, args, out):
        self.args = args                                  # parsed options
        self.out = out                                    # where the report goes
        self.started = time.monotonic()                   # zero of the history clock
        self.rng = random.Random(args.seed)               # seeds everything below
        self.context = zmq.Context.instance()             # shared by all sockets
        self.own_dir = args.dir is None                   # did we make the work dir?
        self.dir = args.dir or tempfile.mkdtemp(prefix="raftq-chaos-")
        os.makedirs(self.dir, exist_ok=True)
        self.firewall = firewall.Firewall(args.nft_table)  # our nft table
        self.interrupted = threading.Event()              # set by SIGINT/SIGTERM
        self.leader_log = workload.LeaderLog()            # election safety watch
        self.history = None                               # workload.History, once started
        self.cluster = None                               # raftq_cluster.Cluster, once configured
        self.nemesis = None                               # nemesis.Nemesis
        self.problems = []                                # failures outside the counters
        self.notes = []                                   # facts worth printing (not failures)
        self.drained = {}                                 # topic -> True once popped to EMPTY
        self.diverged = 0                                 # nodes not at the common state
        self.accounts = chat.account_names(args.chat_accounts)   # chat account names
        self.password = "chaos-%d" % self.rng.randrange(10 ** 9)  # every account's password

    def clock(self):
        return time.monotonic() - self.started

    def say(self, line):
        if self.args.verbose:
            self.out.write("[%7.2fs] %s\n" % (self.clock(), line))
            self.out.flush()

    # --- setup ----------------------------------------------------------------

    def setup(self):
        if not self.firewall.available():
            raise CampaignError("nft not found: install nftables (the Makefile's chaos target does)")
        # a run killed before it could clean up may have left its table
        self.firewall.heal()
        config_path = write_config(self.dir, self.args)
        config = raftq_cluster.ClusterConfig(config_path)
        self.cluster = raftq_cluster.Cluster(config, self.args.bin or _default_bin(), detach=False)
        history_path = self.args.history or os.path.join(self.dir, "history.jsonl")
        self.history = workload.History(history_path, self.clock)
        self.nemesis = nemesis.Nemesis(self.cluster, self.firewall, self.history, self.leader_log,
                                       self.context, random.Random(self.rng.random()), self.say,
                                       self.interrupted)
        lines = []
        failed = self.cluster.start(report=lines.append)
        if failed:
            raise CampaignError("node(s) %s did not start:\n  %s" % (failed, "\n  ".join(lines)))
        deadline = time.monotonic() + FIRST_LEADER_TIMEOUT_S
        while self.nemesis.leader() is None:
            if time.monotonic() > deadline:
                raise CampaignError("no leader within %.0f s of start" % FIRST_LEADER_TIMEOUT_S)
            time.sleep(0.05)

    def create_topics(self, topics, dead_letters=None):
        """dead_letters: topic -> (max_deliveries, dead_letter) for those
        that make dead letters."""
        session = self._session("admin")
        try:
            for topic in topics:
                most, dead_letter = (dead_letters or {}).get(topic, (0, None))
                entry = workload.create_topic(session, self.history, topic, self.args.op_budget,
                                              max_deliveries=most, dead_letter=dead_letter)
                if entry["outcome"] != "ok" and entry.get("result") != "ALREADY_EXISTS":
                    raise CampaignError("cannot create topic %s: %s %s"
                                        % (topic, entry["outcome"], entry.get("codes", [])))
        finally:
            session.close()

    def create_accounts(self):
        session = self._session("accounts")
        try:
            failed = chat.create_accounts(session, self.accounts, self.password, self.args.op_budget)
        finally:
            session.close()
        if failed:
            raise CampaignError("cannot create chat accounts: %s" % ", ".join(failed))

    def _stream_nodes(self):
        """(client endpoint, PUB endpoint or "") of every node, for a watcher."""
        return [(node.endpoint, "tcp://%s:%d" % (node.host, node.pub_port) if node.pub_port else "")
                for node in self.cluster.config.nodes.values()]

    def _session(self, name):
        client_id = self.rng.randrange(1, 2 ** 63)
        return workload.Session(name, client_id, self.cluster.config.nodes, self.context,
                                self.leader_log, self.clock)

    # --- the run --------------------------------------------------------------------

    def run_faults(self):
        """The nemesis loop, in this (the main) thread, until the duration
        has passed."""
        end = self.started + self.args.duration
        low, high = self.args.fault_range
        quiet_low, quiet_high = self.args.quiet_range
        while not self.interrupted.is_set():
            self.interrupted.wait(self.nemesis.rng.uniform(quiet_low, quiet_high))
            if time.monotonic() >= end or self.interrupted.is_set():
                break
            self.nemesis.check_exits()
            if not self.args.fault_kinds:
                continue
            kind = self.nemesis.rng.choice(self.args.fault_kinds)
            duration = min(self.nemesis.rng.uniform(low, high), max(0.2, end - time.monotonic()))
            detail = self.nemesis.inject(kind, duration)
            if detail is None:
                self.nemesis.skipped[kind] += 1
                continue
            self.nemesis.check_exits()
            took = self.nemesis.settle(self.args.settle_timeout)
            if took is not None:
                self.say("%-17s healed; settled in %.2f s" % ("", took))

    def drain(self, topics):
        """Pops every topic until EMPTY; records the pops in the history."""
        queue = collections.deque(topics)
        lock = threading.Lock()
        errors = []

        def drainer(number):
            session = self._session("drain-%d" % number)
            try:
                while True:
                    with lock:
                        if not queue:
                            return
                        topic = queue.popleft()
                    failures = 0
                    while failures < DRAIN_TRIES and not self.interrupted.is_set():
                        entry = workload.pop(session, self.history, topic, self.args.op_budget)
                        if entry["outcome"] != "ok":
                            failures += 1
                        elif entry.get("result") != "OK":
                            self.drained[topic] = entry.get("result") == "EMPTY"
                            break
            except Exception as error:
                errors.append("%s: %s" % (type(error).__name__, error))
            finally:
                session.close()

        threads = [threading.Thread(target=drainer, args=(number,), daemon=True)
                   for number in range(DRAINERS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        for error in errors:
            self.problems.append("drain client failed: %s" % error)
        undrained = [topic for topic in topics if not self.drained.get(topic)]
        if undrained:
            self.problems.append("%d topic(s) could not be popped empty: %s"
                                 % (len(undrained), ", ".join(undrained[:5])))

    def drain_consumed(self):
        """Reserves and acks every topic of the consume workload until the
        leader holds no message in any (records them in the history)."""
        session = self._session("drain-1")
        client = raftq_cluster.Client(self.context)

        def leader_endpoint():
            leader = self.nemesis.leader()
            return self.cluster.config.nodes[leader].endpoint if leader else None

        try:
            left = consume.drain(session, self.history, leader_endpoint, client,
                                 self.cluster.config.admin_secret(), self.args.op_budget, self.interrupted)
        finally:
            session.close()
            client.close()
        if left:
            self.problems.append("topic(s) still holding messages after the drain: %s" % ", ".join(
                "%s (%s)" % (name, "no answer" if count is None else count)
                for name, count in sorted(left.items())))

    def list_topics(self):
        """Records the topics the converged cluster holds, as op topics,
        for the limits checks (no refused creation there, none acked missing)."""
        client = raftq_cluster.Client(self.context)
        invoked = self.clock()
        try:
            for _ in range(DRAIN_TRIES):
                leader = self.nemesis.leader()
                reply = leader and client.request(self.cluster.config.nodes[leader].endpoint,
                                                  {"type": "topic", "method": "GET"}, STATUS_TIMEOUT_S * 4)
                if isinstance(reply, dict) and isinstance(reply.get("topics"), list):
                    self.history.record({"type": "op", "op": "topics", "process": "verify-topics",
                                         "names": reply["topics"], "invoke": round(invoked, 6),
                                         "complete": round(self.clock(), 6), "outcome": "ok"})
                    return
                time.sleep(0.2)
        finally:
            client.close()
        self.problems.append("the final topic listing got no answer")

    def _node_state(self, client, node):
        """(applied_index, state hash or None, commit_index, role, members)
        of one node, or None."""
        status = workload.ask_status(client, node.endpoint, STATUS_TIMEOUT_S,
                                     self.cluster.config.admin_secret(), with_hash=True)
        if status is None:
            return None
        self.leader_log.observe(node.id, status)
        state_hash = status.get("state_hash")
        if state_hash is None:
            reply = client.request(node.endpoint, {"type": "status", "method": "GET", "hash": True},
                                   STATUS_TIMEOUT_S)
            state_hash = reply.get("state_hash") if isinstance(reply, dict) else None
        return (status["applied_index"], state_hash, status["commit_index"], status["role"],
                tuple(sorted(status.get("members") or [])))

    def converge(self):
        """Waits until every node is a member (as every node sees it) and
        has applied the same index with the same state hash; sets
        self.diverged to the nodes outside the largest agreeing group when
        that does not happen in time. A node the nemesis could not add back
        is left out, and reported."""
        client = raftq_cluster.Client(self.context, admin_secret=self.cluster.config.admin_secret)
        deadline = time.monotonic() + CONVERGE_TIMEOUT_S
        states = {}
        if self.nemesis.removed:
            self.problems.append("node(s) %s not members again at the end: left out of the convergence check"
                                 % sorted(self.nemesis.removed))
        members = tuple(sorted(set(self.cluster.config.nodes) - self.nemesis.removed))
        try:
            while True:
                states = {node_id: self._node_state(client, self.cluster.config.nodes[node_id])
                          for node_id in members}
                answered = [state for state in states.values() if state is not None]
                commits = [state[2] for state in answered if state[3] == "Leader"]
                agreeing = {(state[0], state[1]) for state in answered}
                if len(answered) == len(states) and len(agreeing) == 1 and commits \
                        and answered[0][0] >= max(commits) \
                        and all(state[4] == members for state in answered):
                    break
                if time.monotonic() >= deadline:
                    groups = collections.Counter((state[0], state[1]) for state in answered)
                    largest = groups.most_common(1)[0][1] if groups else 0
                    self.diverged = len(states) - largest
                    self.problems.append("nodes did not converge within %.0f s: %s" % (
                        CONVERGE_TIMEOUT_S, ", ".join("node %d: %s" % (node_id, _state_text(state))
                                                      for node_id, state in sorted(states.items()))))
                    return states
                time.sleep(0.1)
        finally:
            client.close()
        if all(state[1] is None for state in states.values()):
            self.notes.append("the broker reports no state hash yet: convergence judged by applied_index alone")
        return states

    def run(self):
        args = self.args
        schedule = workload.TopicSchedule(args.topic_window, args.topics_per_window, args.duration)
        topics = schedule.all_topics() if args.queue_clients else []
        self.setup()
        if topics:
            self.create_topics(topics)
        if args.consume_clients:
            self.create_topics([name for name, _, _ in consume.topics()], consume.topic_limits())
        if args.chat_clients:
            self.create_accounts()
        self.say("cluster up in %s, %d topics and %d accounts created; starting %d queue and %d chat clients"
                 % (self.dir, len(topics), len(self.accounts), args.queue_clients, args.chat_clients))
        stop = threading.Event()
        workers = []
        for number in range(args.queue_clients):
            session = self._session("client-%d" % (number + 1))
            workers.append(workload.Worker(number + 1, session, self.history, schedule,
                                           random.Random(self.rng.random()), args.publish_ratio,
                                           args.op_budget, stop))
        for number in range(READERS if args.queue_clients else 0):
            # beside the queue clients: the stale-read check's listings
            workers.append(workload.Reader(number + 1, self._session("reader-%d" % (number + 1)),
                                           self.history, random.Random(self.rng.random()),
                                           args.op_budget, stop))
        limit_topics = limits.Topics(limits.initial_topics())
        for number in range(args.limits_clients):
            session = self._session("client-%d" % (number + 1))
            workers.append(limits.LimitsWorker(number + 1, session, self.history, limit_topics,
                                               random.Random(self.rng.random()), args.op_budget, stop))
        for number in range(args.consume_clients):
            session = self._session("client-%d" % (number + 1))
            workers.append(consume.ConsumeWorker(number + 1, session, self.history,
                                                 random.Random(self.rng.random()), args.op_budget, stop))
        for number in range(args.chat_clients):
            user = self.accounts[number]
            client = chat.ChatClient(self._session("chat-%d" % (number + 1)), self.history, user,
                                     self.password, args.op_budget)
            workers.append(chat.ChatWorker(client, [name for name in self.accounts if name != user],
                                           random.Random(self.rng.random()), args.send_ratio, stop))
            workers.append(chat.ChatWatcher(client, self._stream_nodes(), self.cluster.config.curve(),
                                            stop))
        # the clients' clock starts with the faults: windows line up with --duration
        self.started = time.monotonic()
        if args.limits_clients:
            # after the clock's zero, so that the checker sees these topics
            # counted against max_topics before any client's operation
            self.create_topics(limits.initial_topics())
        for worker in workers:
            worker.start()
        try:
            self.run_faults()
        finally:
            self.nemesis.heal_all()
        self.nemesis.settle(args.settle_timeout)
        stop.set()
        for worker in workers:
            worker.join(args.op_budget + 10)
            if worker.is_alive():
                self.problems.append("%s did not finish its last operation" % worker.name)
            if worker.error:
                self.problems.append("%s failed: %s" % (worker.name, worker.error))
        topics += limit_topics.all() if args.limits_clients else []
        if topics:
            self.say("clients stopped; draining %d topics" % len(topics))
            self.drain(topics)
        if args.consume_clients:
            self.say("clients stopped; reserving and acking every consume topic")
            self.drain_consumed()
        if args.chat_clients:
            self.say("listing the conversations of %d accounts" % len(self.accounts))
            self.problems.extend("chat verification: " + problem for problem in chat.verify(
                self._session, self.history, self.accounts, self.password, args.op_budget))
        self.nemesis.check_exits()
        states = self.converge()
        self.say("final states: %s" % ", ".join("node %d: %s" % (node_id, _state_text(state))
                                                for node_id, state in sorted(states.items())))
        for term, ids in sorted(self.leader_log.violations().items()):
            self.problems.append("election safety: nodes %s all led term %s" % (ids, term))
        self.problems.extend(self.nemesis.anomalies)
        if args.limits_clients:
            self.list_topics()
        report = checker.check(self.history.operations(), args.search_budget,
                               limits.LIMITS if args.limits_clients else None,
                               consume.topic_limits() if args.consume_clients else None)
        self.problems.extend(report.problems)
        return report

    def close(self):
        try:
            self.firewall.heal()
            if self.nemesis is not None:
                self.nemesis.membership.close()
        finally:
            if self.cluster is not None:
                self.cluster.kill_all()
            if self.history is not None:
                self.history.close()

    # --- report ------------------------------------------------------------------------

    def print_report(self, report, history_kept):
        args = self.args
        write = self.out.write
        write("raftq-chaos: seed %d, %d nodes, %d clients, %.0f s, workload %s\n"
              % (args.seed, args.nodes, args.clients, args.duration, args.workload))
        write("  %d queue client(s), %d chat client(s) on %d account(s)%s%s; snapshot_log_bytes %s, "
              "trailing %s\n" % (args.queue_clients, args.chat_clients, len(self.accounts),
                                 ", %d limits client(s) under %s" % (args.limits_clients, _limits_text())
                                 if args.limits_clients else "",
                                 ", %d consume client(s)" % args.consume_clients
                                 if args.consume_clients else "",
                                 args.snapshot_bytes or "default", args.snapshot_trailing if args.snapshot_bytes
                                 else "default"))
        write("faults injected\n")
        for kind in nemesis.FAULTS:
            if kind in args.fault_kinds:
                skipped = self.nemesis.skipped[kind]
                extra = "  (%d skipped)" % skipped if skipped else ""
                if kind == "membership" and self.nemesis.injected[kind]:
                    extra += "  (%d with data wiped)" % self.nemesis.wiped
                write("  %-18s %5d%s\n" % (kind, self.nemesis.injected[kind], extra))
        for kind, why in nemesis.UNAVAILABLE.items():
            write("  %-18s     -  not available: %s\n" % (kind, why))
        if self.nemesis.settle_times:
            times = sorted(self.nemesis.settle_times)
            write("  settle after heal: median %.2f s, max %.2f s\n" % (times[len(times) // 2], times[-1]))
        operations = self.history.operations()
        write("operations        ok   fail unknown  total\n")
        for kind in ("create", "publish", "pop", "list", "reserve", "ack", "nack"):
            for group, label in (("admin", kind + " (setup)"), ("client", kind), ("reader", kind + " (reads)"),
                                 ("drain", kind + " (drain)")):
                ops = [op for op in operations if op["op"] == kind and op["process"].startswith(group)]
                if not ops:
                    continue
                counts = collections.Counter(op["outcome"] for op in ops)
                write("  %-14s %6d %6d %6d %6d\n" % (label, counts["ok"], counts["fail"],
                                                      counts["unknown"], len(ops)))
        for kind, label, keep in CHAT_ROWS:
            ops = [op for op in operations if op["op"] == kind and keep(op)]
            if ops:
                counts = collections.Counter(op["outcome"] for op in ops)
                write("  %-14s %6d %6d %6d %6d\n" % (label, counts["ok"], counts["fail"],
                                                      counts["unknown"], len(ops)))
        retried = [op for op in operations if op.get("attempts", 1) > 1]
        uncertain = sum(1 for op in retried if any(code.split("@")[0] in UNCERTAIN_CODES
                                                   for code in op.get("codes", [])))
        write("  retried: %d operation(s) took more than one attempt, %d after an attempt of unknown "
              "outcome\n" % (len(retried), uncertain))
        if args.queue_clients or args.limits_clients:
            results = collections.Counter(op.get("result") for op in operations
                                          if op["op"] == "pop" and op["outcome"] == "ok")
            write("  pops answered: %d with a value, %d EMPTY, %d NOT_FOUND\n"
                  % (results["OK"], results["EMPTY"], results["NOT_FOUND"]))
        if args.chat_clients:
            sends = [op for op in operations if op["op"] == "send"]
            listed = sum(len(op["messages"]) for op in operations if op["op"] == "listing")
            write("  chat: %d send(s) acked, %d answered otherwise; %d message(s) in the final listings; "
                  "%d unauthenticated\n" % (
                      sum(1 for op in sends if op["outcome"] == "ok" and op.get("result") == "OK"),
                      sum(1 for op in sends if op.get("result") not in (None, "OK")), listed,
                      report.counts["unauthenticated"]))
            watches = [op for op in operations if op["op"] == "watch"]
            write("  live user streams (with tokens): %d event(s) on %d stream(s), %d gap(s), "
                  "%d revocation(s)\n" % (sum(len(op["events"]) for op in watches), len(watches),
                                          sum(len(op["gaps"]) for op in watches),
                                          sum(len(op["revoked"]) for op in watches)))
        write("snapshots: %s\n" % self._snapshot_summary())
        listings = [op for op in operations if op["op"] == "list" and op["outcome"] == "ok"]
        if listings:
            write("reads: %d topic listing(s) answered, checked against the creations acknowledged "
                  "before each was sent: stale_read=%d\n" % (len(listings), report.counts["stale_read"]))
        write("linearizability: %d topic(s) decided, %d undecided (search budget %d)%s\n"
              % (report.topics_checked, len(report.undecided), args.search_budget,
                 (": " + ", ".join(report.undecided[:5])) if report.undecided else ""))
        for name, examples in report.examples.items():
            for example in examples:
                write("  %s: %s\n" % (name, example))
        for note in self.notes:
            write("note: %s\n" % note)
        for problem in self.problems:
            write("PROBLEM: %s\n" % problem)
        if history_kept:
            write("history: %s\n" % self.history.path)
        counts = report.counts
        if args.consume_clients:
            write("consume: %s %s\n" % (" ".join("%s=%d" % (name, report.consume[name]) for name in CONSUME_TALLIES),
                                       " ".join("%s=%d" % (name, counts[name]) for name in
                                                ("after_ack", "early_redelivery", "bad_dead_letter"))))
        if args.limits_clients:
            write("limits: refused=%d (%s) unclear=%d refused_applied=%d impossible=%d over_limit=%d\n"
                  % (sum(report.refusals.values()),
                     " ".join("%s=%d" % (name, report.refusals[name])
                              for name in sorted(set(limits.LIMITS) | set(report.refusals))),
                     counts["unclear"], counts["refused_applied"], counts["impossible"],
                     counts["over_limit"]))
        write("acked=%d lost=%d duplicated=%d unexpected=%d reordered=%d diverged=%d nonlinearizable=%d\n"
              % (counts["acked"], counts["lost"], counts["duplicated"], counts["unexpected"],
                 counts["reordered"], self.diverged, counts["nonlinearizable"]))
        self.out.flush()

    def _snapshot_summary(self):
        """Snapshots written, installed from a leader and restored at start,
        as the brokers' logs tell, over all nodes."""
        totals = collections.Counter()
        for node in self.cluster.config.nodes.values():
            try:
                with open(node.log_path, "rb") as handle:
                    text = handle.read().decode("utf-8", "replace")
            except OSError:
                continue
            for name, pattern in SNAPSHOT_LOG_LINES:
                totals[name] += len(pattern.findall(text))
        return ", ".join("%d %s" % (totals[name], name) for name, _ in SNAPSHOT_LOG_LINES)

    def verdict(self, report):
        counts = report.counts
        bad = sum(counts[name] for name in counts if name != "acked") + self.diverged
        if counts["acked"] == 0:
            self.problems.append("no publish or send was acknowledged: nothing was checked")
        if self.args.consume_clients:
            # a run without them checked no redelivery and no dead letter
            for name in ("crashes", "dead_lettered"):
                if not report.consume[name]:
                    self.problems.append("a consume run with %s=0 checked too little" % name)
        if self.args.limits_clients:
            # a limits run that never reached a quota checked no refusal
            for name in limits.LIMITS:
                if not report.refusals[name]:
                    self.problems.append("nothing was refused at %s: the quota was never reached" % name)
        return 0 if bad == 0 and not self.problems else 1


# what the consume line of the report tallies (consume_checker fills them)
CONSUME_TALLIES = ("deliveries", "redeliveries", "nacks", "crashes", "dead_lettered", "acks_refused",
                   "waits")

# attempt answers (workload.Session codes) after which the request may have applied
UNCERTAIN_CODES = ("no-reply", "garbled") + workload.MAYBE_APPLIED

# operation table rows of the chat workload: (op, label, which records)
CHAT_ROWS = (
    ("login", "login", lambda op: True),
    ("send", "send", lambda op: True),
    ("read", "read unread", lambda op: not op["partner"] and not op["process"].startswith("verify-")),
    ("read", "read conv", lambda op: op["partner"] and not op["process"].startswith("verify-")),
    ("read", "read (verify)", lambda op: op["process"].startswith("verify-")),
)


def _limits_text():
    return ", ".join("%s %d" % item for item in sorted(limits.LIMITS.items()))


def _state_text(state):
    if state is None:
        return "no answer"
    applied, state_hash, commit, role, members = state
    if isinstance(state_hash, int):
        state_hash = "%016x" % state_hash
    return "%s applied %d commit %d hash %s members %s" % (role, applied, commit, state_hash or "-",
                                                           ",".join(map(str, members)))


def main(argv=None):
    args = parse_arguments(argv)
    if args.self_test:
        from . import selftest
        return selftest.run(sys.stdout)
    campaign = Campaign(args, sys.stdout)

    def on_signal(signum, frame):
        campaign.interrupted.set()
        raise KeyboardInterrupt

    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, on_signal)
    atexit.register(campaign.firewall.heal)
    keep = args.keep
    try:
        report = campaign.run()
        code = campaign.verdict(report)
        keep = keep or code != 0
        campaign.print_report(report, keep or args.history is not None)
        return code
    except (CampaignError, raftq_cluster.ConfigError, firewall.FirewallError) as error:
        sys.stderr.write("raftq-chaos: %s\n" % error)
        keep = True
        return 2
    except KeyboardInterrupt:
        sys.stderr.write("raftq-chaos: interrupted; faults healed, nodes stopped\n")
        keep = True
        return 130
    finally:
        campaign.close()
        if keep:
            sys.stdout.write("work directory kept: %s\n" % campaign.dir)
        elif campaign.own_dir:
            shutil.rmtree(campaign.dir, ignore_errors=True)
