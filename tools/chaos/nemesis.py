"""nemesis — injects one fault at a time into a running cluster, heals it,
and waits for the cluster to settle before the next.

Faults (names for --faults):
  kill              SIGKILL the leader or a random node, restart it later
  pause             SIGSTOP the leader or a random node, SIGCONT later
  slow              the leader or a random node alternates 20-150 ms stopped
                    and as long running: every message it sends or handles
                    waits, without it ever missing an election timeout
  partition-one     cut one random node off from every other node
  partition-leader  cut the leader off
  partition-split   a random minority (with the leader half of the time)
                    against the majority
  partition-bridge  two halves that cannot see each other and one node that
                    sees both
  partition-ring    each node sees only its two neighbours on a random ring
                    (5 nodes only: with 3 every node neighbours every other)
  loss              every link between nodes drops 10-40 % of its packets
  torn              kill a node, tear the tail of its log, restart it
  corrupt           kill a node, flip a byte in its last log record, restart it
  membership        have the leader remove the leader or a random node, stop
                    it, wipe its data half the time, let the rest run without
                    it, then start it and have the leader add it back (see
                    membership.py); healed once it votes again and has
                    caught up (the settle)
  delay             the links of one random node, or every link, hold each
                    chunk 20-80 ms (plus up to a quarter more of jitter,
                    order kept) each way. This kernel has no sch_netem (no
                    `tc netem delay`), so new peer connections are NATed
                    into delay.py's proxy, and the links' open connections
                    are destroyed (ss -K, a reset to both ends) so that
                    ZeroMQ reconnects through it;
                    healing removes the NAT rules and resets the proxied
                    connections, and the nodes reconnect directly

Every fault is healed before the next starts, and the cluster must settle
(a leader whose configuration holds every node, every node answering and
applied up to the leader's commit index at heal time) before another fault. A cluster that did not settle in time is
an anomaly (a liveness bug), and no disk fault is injected until a later
settle succeeds: an acknowledged entry must never be damaged on a second node
while the first still lacks it, which Raft could not survive and which would
not be a broker bug.

The nemesis runs in the main thread: raftq_cluster spawns nodes with a
parent-death signal, which the kernel ties to the spawning thread.
"""

import collections
import itertools
import shutil
import subprocess
import time

import raftq_cluster

from . import delay, disk, membership
from .workload import find_leader

FAULTS = ["kill", "pause", "slow", "partition-one", "partition-leader", "partition-split",
          "partition-bridge", "partition-ring", "loss", "delay", "torn", "corrupt", "membership"]
NEEDS_FIVE = ("partition-ring",)    # with 3 nodes every node neighbours every other
UNAVAILABLE = {}
ADMIN_BUDGET_S = 30.0       # a remove or an add (with its catch-up) must be done within this
SLOW_STALL_S = (0.02, 0.15)   # range of one stop (and one run) of a slow node
SETTLE_POLL_S = 0.05        # pause between two looks while settling
SETTLE_PROBE_TIMEOUT_S = 0.5  # how long one look waits for the nodes' status
RESTART_TRIES = 3           # a node that will not come back is tried this often
DELAY_S = (0.02, 0.08)      # range of the hold time of a delayed link, each way
DELAY_PROXY_OFFSET = 50     # the proxy listens on the lowest node address + this
RECONNECT_BUDGET_S = 5.0    # the links' direct connections must be gone within this
TCP_ESTABLISHED = "01"      # state column of /proc/net/tcp


class Nemesis:
    """Faults against one cluster. Everything it did is counted in
    self.injected and recorded in the history; problems it saw (a node that
    exited by itself, would not restart, or a cluster that would not settle)
    go to self.anomalies."""

    def __init__(self, cluster, firewall, history, leader_log, context, rng, say, interrupted):
        self.cluster = cluster            # raftq_cluster.Cluster of the campaign
        self.firewall = firewall          # firewall.Firewall for partitions and loss
        self.history = history            # workload.History
        self.leader_log = leader_log      # election safety watch
        self.context = context            # zmq context for status probes
        self.rng = rng                    # the nemesis' own random.Random
        self.say = say                    # progress line printer
        self.interrupted = interrupted    # threading.Event set when the run must end
        self.injected = collections.Counter()     # fault kind -> times injected
        self.skipped = collections.Counter()      # fault kind -> times it could not be injected
        self.anomalies = []               # text lines: broker misbehaviour seen
        self.down = set()                 # node ids we killed and not yet restarted
        self.paused = set()               # node ids we stopped with SIGSTOP
        self.settle_times = []            # seconds each settle took
        self.unsettled = False            # the last settle timed out: no disk faults now
        self.membership = membership.Membership(cluster, context, leader_log, interrupted)
        self.removed = set()              # node ids out of the configuration, to add back
        self.wiped = 0                    # removed nodes whose data was wiped
        self.proxy = None                 # delay.DelayProxy while a delay fault is on
        self.ss = shutil.which("ss")      # iproute2's ss, to reset connections (delay)

    # --- helpers ------------------------------------------------------------

    @property
    def ids(self):
        return list(self.cluster.config.nodes)

    def host(self, node_id):
        return self.cluster.config.nodes[node_id].host

    def leader(self):
        nodes = [self.cluster.config.nodes[node_id] for node_id in self.ids
                 if node_id not in self.down and node_id not in self.paused]
        return find_leader(self.context, nodes, self.leader_log)

    def _leader_or_random(self):
        leader = self.leader() if self.rng.random() < 0.5 else None
        return (leader, "leader") if leader is not None else (self.rng.choice(self.ids), "random")

    def _sleep(self, seconds):
        self.interrupted.wait(seconds)

    def _record(self, kind, phase, detail, duration=None):
        self.history.record({"type": "nemesis", "fault": kind, "phase": phase,
                             "detail": detail, "time": round(self.history.clock(), 6)})
        if phase == "start":
            self.say("%-17s %s%s" % (kind, detail, "" if duration is None else " for %.1f s" % duration))

    def _anomaly(self, text):
        self.anomalies.append("%.1f s: %s" % (self.history.clock(), text))
        self.say("ANOMALY: " + text)

    def check_exits(self):
        """Notes and restarts nodes that ended without being told to."""
        for node_id in self.ids:
            if node_id in self.down:
                continue
            code = self.cluster.exit_code(node_id)
            if code is not None or not self.cluster.running(node_id):
                self._anomaly("node %d exited by itself (code %s); log %s"
                              % (node_id, code, self.cluster.config.nodes[node_id].log_path))
                self.paused.discard(node_id)
                self._restart(node_id)

    def _kill(self, node_id):
        self.down.add(node_id)
        self.paused.discard(node_id)
        self.cluster.kill(node_id)

    def _restart(self, node_id):
        for attempt in range(RESTART_TRIES):
            failed = self.cluster.start([node_id], report=lambda line: None)
            if not failed:
                self.down.discard(node_id)
                return True
            self._anomaly("node %d did not come back after restart %d (log %s)"
                          % (node_id, attempt + 1, self.cluster.config.nodes[node_id].log_path))
        return False

    # --- faults -------------------------------------------------------------

    def _stutter(self, node_id, stall, duration):
        """SIGSTOP and SIGCONT in turn, stall seconds each, for duration."""
        self.paused.add(node_id)
        end = time.monotonic() + duration
        try:
            while time.monotonic() < end and not self.interrupted.is_set():
                self.cluster.pause(node_id)
                self._sleep(stall)
                self.cluster.resume(node_id)
                self._sleep(stall)
        finally:
            self.cluster.resume(node_id)
            self.paused.discard(node_id)

    def _partition(self, groups, bridges=()):
        """Cuts every link between different groups both ways, except the
        links in bridges (pairs of ids)."""
        allowed = {frozenset(pair) for pair in bridges}
        group_of = {node_id: position for position, group in enumerate(groups) for node_id in group}
        cut = []
        for a, b in itertools.permutations(self.ids, 2):
            if group_of.get(a) != group_of.get(b) and frozenset((a, b)) not in allowed:
                cut.append((self.host(a), self.host(b)))
        self.firewall.install(cut)
        return cut

    def _split_groups(self, kind):
        ids = self.ids[:]
        self.rng.shuffle(ids)
        if kind == "partition-one":
            return [ids[:1], ids[1:]], (), "node %d alone" % ids[0]
        if kind == "partition-leader":
            leader = self.leader()
            if leader is None:
                return None
            others = [node_id for node_id in ids if node_id != leader]
            return [[leader], others], (), "leader %d alone" % leader
        if kind == "partition-split":
            minority_size = (len(ids) - 1) // 2
            leader = self.leader()
            if leader is not None and self.rng.random() < 0.5:
                ids.remove(leader)
                ids.insert(0, leader)
            minority, majority = ids[:minority_size], ids[minority_size:]
            return [minority, majority], (), "minority %s | majority %s" % (sorted(minority), sorted(majority))
        if kind == "partition-bridge":
            bridge, rest = ids[0], ids[1:]
            half = len(rest) // 2
            left, right = rest[:half], rest[half:]
            # the bridge sits in a group of its own, linked to everyone
            bridges = [(bridge, other) for other in rest]
            return [left, right, [bridge]], bridges, "%s | %s bridged by %d" % (sorted(left), sorted(right), bridge)
        if kind == "partition-ring":
            ring = ids
            bridges = [(ring[position], ring[(position + 1) % len(ring)]) for position in range(len(ring))]
            groups = [[node_id] for node_id in ring]
            return groups, bridges, "ring %s" % "-".join(map(str, ring))
        raise ValueError(kind)

    def inject(self, kind, duration):
        """Injects one fault for about duration seconds and heals it.
        Returns a description, or None if it could not be injected now."""
        if kind in ("kill", "pause"):
            node_id, why = self._leader_or_random()
            if kind == "kill":
                self._kill(node_id)
                detail = "SIGKILL node %d (%s)" % (node_id, why)
                self._record(kind, "start", detail, duration)
                self._sleep(duration)
                self._restart(node_id)
            else:
                self.cluster.pause(node_id)
                self.paused.add(node_id)
                detail = "SIGSTOP node %d (%s)" % (node_id, why)
                self._record(kind, "start", detail, duration)
                self._sleep(duration)
                self.cluster.resume(node_id)
                self.paused.discard(node_id)
        elif kind == "slow":
            node_id, why = self._leader_or_random()
            stall = self.rng.uniform(*SLOW_STALL_S)
            detail = "node %d (%s) stopped %.0f ms in every %.0f ms" % (node_id, why, stall * 1000, stall * 2000)
            self._record(kind, "start", detail, duration)
            self._stutter(node_id, stall, duration)
        elif kind.startswith("partition-"):
            shape = self._split_groups(kind)
            if shape is None:
                return None
            groups, bridges, detail = shape
            self._partition(groups, bridges)
            self._record(kind, "start", detail, duration)
            self._sleep(duration)
            self.firewall.heal()
        elif kind == "loss":
            percent = self.rng.randint(10, 40)
            pairs = [(self.host(a), self.host(b)) for a, b in itertools.permutations(self.ids, 2)]
            self.firewall.install((), pairs, percent)
            detail = "%d %% packet loss on every link" % percent
            self._record(kind, "start", detail, duration)
            self._sleep(duration)
            self.firewall.heal()
        elif kind == "delay":
            detail = self._delay_links(duration)
            if detail is None:
                return None
        elif kind == "membership":
            detail = self._remove_and_add(duration)
            if detail is None:
                return None
        elif kind in ("torn", "corrupt"):
            if self.unsettled:
                # a node may still lack acknowledged entries: damaging a
                # second one could destroy an entry's last majority copy
                return None
            node_id = self.rng.choice(self.ids)
            self._kill(node_id)
            damage = (disk.tear_tail if kind == "torn" else disk.corrupt_tail)(
                self.cluster.config.nodes[node_id].dir, self.rng)
            if damage is None:
                self._restart(node_id)
                return None
            detail = "node %d: %s" % (node_id, damage)
            self._record(kind, "start", detail, min(duration, 1.0))
            self._sleep(min(duration, 1.0))
            self._restart(node_id)
        else:
            raise ValueError("unknown fault %r" % kind)
        self.injected[kind] += 1
        self._record(kind, "healed", detail)
        return detail

    def _proxy_host(self):
        octets = min(tuple(int(octet) for octet in self.host(node_id).split(".")) for node_id in self.ids)
        last = octets[3] + DELAY_PROXY_OFFSET
        if last > 254:
            last = octets[3] - DELAY_PROXY_OFFSET
        return "%d.%d.%d.%d" % (octets[0], octets[1], octets[2], last)

    def _peer_links(self, pairs):
        """(source, destination, peer port) of the connections each node of
        a pair opens to the other's peer port, both ways."""
        triples = []
        for a, b in pairs:
            triples.append((self.host(a), self.host(b), self.cluster.config.nodes[b].peer_port))
            triples.append((self.host(b), self.host(a), self.cluster.config.nodes[a].peer_port))
        return triples

    def _direct_connections(self, triples):
        """How many established connections still go straight from a
        source to its destination's peer port. Only the accepting end can
        tell: NAT is invisible to the connecting socket, which names the
        real peer either way, while the accepting one sees the proxy."""
        wanted = {((destination, port), source) for source, destination, port in triples}
        count = 0
        with open("/proc/net/tcp") as table:
            next(table)
            for line in table:
                fields = line.split()
                if fields[3] != TCP_ESTABLISHED:
                    continue
                local, remote = (_endpoint(field) for field in fields[1:3])
                if (local, remote[0]) in wanted:
                    count += 1
        return count

    def _reset_direct(self, triples):
        """Destroys the links' direct connections at their accepting end
        (the kernel resets the connecting end too, and ZeroMQ reconnects,
        now through NAT); returns how many were still there."""
        direct = self._direct_connections(triples)
        if direct:
            for source, destination, port in triples:
                subprocess.run([self.ss, "-K", "-tn", "state", "established", "src", destination,
                                "sport", "=", ":%d" % port, "dst", source],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return direct

    def _delay_links(self, duration):
        """The delay fault; returns its description, or None without ss."""
        if self.ss is None:
            return None
        if self.rng.random() < 0.5:
            node_id = self.rng.choice(self.ids)
            pairs = [(node_id, other) for other in self.ids if other != node_id]
            scope = "links of node %d" % node_id
        else:
            pairs = list(itertools.combinations(self.ids, 2))
            scope = "every link"
        hold = self.rng.uniform(*DELAY_S)
        jitter = self.rng.uniform(0, hold / 4)
        self.proxy = delay.DelayProxy(self._proxy_host(), hold, jitter, self.rng.randrange(2 ** 31))
        try:
            port = self.proxy.start()
        except OSError as error:
            self._anomaly("delay: %s" % error)
            self.proxy = None
            return None
        triples = self._peer_links(pairs)
        self.firewall.install((), redirect=triples, proxy=(self.proxy.host, port))
        # ZeroMQ keeps its connections open and NAT only sees new ones
        deadline = time.monotonic() + RECONNECT_BUDGET_S
        direct = self._reset_direct(triples)
        while direct and time.monotonic() < deadline and not self.interrupted.is_set():
            self._sleep(SETTLE_POLL_S)
            direct = self._reset_direct(triples)
        detail = "%s delayed %.0f ms (+0-%.0f ms jitter) each way" % (scope, hold * 1000, jitter * 1000)
        if direct:
            detail += ", %d connections still direct" % direct
        self._record("delay", "start", detail, duration)
        self._sleep(duration)
        detail += ", %d connections relayed" % self.proxy.connections
        self._stop_delay()
        return detail

    def _stop_delay(self):
        """Removes the NAT rules first so that the nodes, once the proxy
        resets their connections, reconnect directly."""
        self.firewall.heal()
        if self.proxy is not None:
            self.proxy.stop()
            self.proxy = None

    def _remove_and_add(self, duration):
        """The membership fault; returns its description, or None when the
        node could not be removed (it then still runs as a member)."""
        if self.unsettled:
            # a node may still lack acknowledged entries: taking another
            # copy away could leave too few
            return None
        node_id, why = self._leader_or_random()
        done, codes = self.membership.remove(node_id, ADMIN_BUDGET_S)
        if not done:
            members = self.membership.members()
            if self.interrupted.is_set() or members is None or node_id in members:
                if not self.interrupted.is_set():
                    self._anomaly("node %d (%s) could not be removed within %.0f s: %s"
                                  % (node_id, why, ADMIN_BUDGET_S, ", ".join(codes[-5:])))
                return None
        self.removed.add(node_id)
        self.down.add(node_id)
        self.paused.discard(node_id)
        self.cluster.stop(node_id)
        wipe = self.rng.random() < 0.5
        if wipe:
            self.membership.wipe(node_id)
            self.wiped += 1
        detail = "node %d (%s) removed and stopped, data %s" % (node_id, why, "wiped" if wipe else "kept")
        self._record("membership", "start", detail, duration)
        self._sleep(duration)
        self._add_back(node_id)
        return detail

    def _add_back(self, node_id):
        """Starts a removed node and has the leader add it again."""
        if not self._restart(node_id):
            return False
        done, codes = self.membership.add(node_id, ADMIN_BUDGET_S)
        if done:
            self.removed.discard(node_id)
            return True
        if not self.interrupted.is_set():
            self._anomaly("node %d could not be added back within %.0f s: %s"
                          % (node_id, ADMIN_BUDGET_S, ", ".join(codes[-5:])))
        return False

    def heal_all(self):
        """Removes every fault still in place: rules, pauses, dead nodes,
        removed nodes."""
        self._stop_delay()
        for node_id in list(self.paused):
            self.cluster.resume(node_id)
            self.paused.discard(node_id)
        for node_id in list(self.down):
            if node_id not in self.removed:
                self._restart(node_id)
        for node_id in list(self.removed):
            self._add_back(node_id)
        self.check_exits()

    def settle(self, timeout):
        """Waits until there is a leader, every node answers, and every node
        has applied the leader's commit index as first seen. Returns the
        seconds it took, or None (noted as an anomaly) on timeout."""
        started = time.monotonic()
        target = None
        last = None
        members = set(self.ids) - self.removed
        nodes = [self.cluster.config.nodes[node_id] for node_id in sorted(members)]
        while time.monotonic() - started < timeout and not self.interrupted.is_set():
            statuses = raftq_cluster.query_statuses(self.context, nodes, SETTLE_PROBE_TIMEOUT_S)
            for node_id, status in statuses.items():
                self.leader_log.observe(node_id, status)
            leaders = [(status["term"], node_id) for node_id, status in statuses.items()
                       if isinstance(status, dict) and status.get("role") == "Leader"]
            last = {node_id: (None if status is None else (status.get("role"), status.get("term"),
                                                           status.get("applied_index")))
                    for node_id, status in statuses.items()}
            if leaders and all(status is not None for status in statuses.values()) \
                    and set(statuses[max(leaders)[1]].get("members", members)) == members:
                leader = statuses[max(leaders)[1]]
                if target is None:
                    target = leader.get("commit_index", 0)
                if all(status.get("applied_index", -1) >= target for status in statuses.values()):
                    took = time.monotonic() - started
                    self.settle_times.append(took)
                    self.unsettled = False
                    return took
            time.sleep(SETTLE_POLL_S)
        self.unsettled = True
        if not self.interrupted.is_set():
            self._anomaly("cluster did not settle within %.0f s (role, term, applied per node: %s)"
                          % (timeout, last))
        return None


def _endpoint(field):
    """(address, port) from a /proc/net/tcp column such as 0100007F:1F90
    (the address in host byte order, little endian here)."""
    address, port = field.split(":")
    octets = bytes.fromhex(address)[::-1]
    return ".".join(str(octet) for octet in octets), int(port, 16)
