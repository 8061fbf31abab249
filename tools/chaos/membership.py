"""membership — the membership fault's moves: have the leader remove a node
(RemoveNode, answered once a configuration without it is committed; the
leader itself hands over first), stop its process, wipe its data half the
time, and later start it again and have the leader add it back (AddNode,
answered once it votes again, after its catch-up as a learner).

A wiped node restarts with "join": true in the cluster config, as an
operator would add a fresh node: it starts empty and never campaigns. A
node that keeps its directory restarts with its old log and configuration,
in which it may still count itself a voter: a stale member coming back,
the classic source of membership bugs (disruptive elections, conflicting
log suffixes, a snapshot it must take over).

Admin requests go to the leader of the moment, without client_id and seq
(they are not state machine commands); a retry of an add or a remove the
leader already works on is answered when it is done, so NOT_LEADER,
NO_LEADER, UNAVAILABLE, TIMEOUT and silence are all retried until the
budget runs out.
"""

import json
import os
import shutil
import time

import raftq_cluster

import raftq_wire as wire
from .workload import find_leader

ADMIN_REPLY_TIMEOUT_S = 12.0   # the broker answers an admin request within its 10 s admin timeout
RETRY_PAUSE_S = 0.2            # pause before asking again
STATUS_TIMEOUT_S = 0.5         # one status probe
KEPT_FILES = ("raftqd.log", "raftqd.pid")   # what a wipe leaves in a node dir: the evidence


class Membership:
    """Removes and re-adds nodes of one cluster through its leader."""

    def __init__(self, cluster, context, leader_log, interrupted):
        self.cluster = cluster            # raftq_cluster.Cluster
        self.context = context            # zmq context
        self.leader_log = leader_log      # election safety watch
        self.interrupted = interrupted    # threading.Event set when the run must end
        self.client = raftq_cluster.Client(context)   # REQ sockets of the main thread

    def _nodes(self, exclude=()):
        return [node for node_id, node in self.cluster.config.nodes.items() if node_id not in exclude]

    def members(self, exclude=()):
        """The member ids the current leader reports, or None without a leader."""
        answers = raftq_cluster.query_statuses(self.context, self._nodes(exclude), STATUS_TIMEOUT_S)
        best = None
        for node_id, status in answers.items():
            self.leader_log.observe(node_id, status)
            if isinstance(status, dict) and status.get("role") == "Leader":
                if best is None or status.get("term", 0) > best.get("term", 0):
                    best = status
        return None if best is None else sorted(best.get("members") or [])

    def _admin(self, make_body, done, budget_s, exclude=()):
        """Sends make_body() to the leader until done(reply) or the budget
        runs out. Returns (True, codes) or (False, codes)."""
        deadline = time.monotonic() + budget_s
        codes = []
        while time.monotonic() < deadline and not self.interrupted.is_set():
            leader = find_leader(self.context, self._nodes(exclude), self.leader_log)
            if leader is None:
                codes.append("no-leader")
            else:
                node = self.cluster.config.nodes[leader]
                left = max(0.5, min(ADMIN_REPLY_TIMEOUT_S, deadline - time.monotonic()))
                raw = self.client.request_raw(node.endpoint, make_body(), left)
                if raw is None:
                    codes.append("no-reply@%d" % leader)
                else:
                    try:
                        reply = wire.decode_reply(raw)
                    except ValueError:
                        reply = {"code": "GARBLED"}
                    codes.append("%s@%d" % (reply["code"], leader))
                    if done(reply):
                        return True, codes
            self.interrupted.wait(RETRY_PAUSE_S)
        return False, codes

    def remove(self, node_id, budget_s):
        """Has the leader remove node_id; True once it is out of the
        committed configuration. The node keeps running."""
        secret = self.cluster.config.admin_secret
        return self._admin(lambda: wire.remove_node_request(0, 0, node_id, admin_secret=secret()),
                           lambda reply: reply["code"] == "OK", budget_s)

    def add(self, node_id, budget_s):
        """Has the leader add node_id (running) back; True once it votes."""
        node = self.cluster.config.nodes[node_id]
        secret = self.cluster.config.admin_secret
        return self._admin(lambda: wire.add_node_request(0, 0, node.id, node.host, node.client_port,
                                                         node.peer_port, node.pub_port,
                                                         admin_secret=secret(),
                                                         public_key=node.public_key()),
                           lambda reply: reply["code"] == "OK", budget_s)

    def wipe(self, node_id):
        """Removes a stopped node's state (log, meta, snapshots), keeps its
        broker log, and marks it "join" in the config so it starts empty."""
        node = self.cluster.config.nodes[node_id]
        for name in os.listdir(node.dir):
            if name in KEPT_FILES:
                continue
            path = os.path.join(node.dir, name)
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path)
            else:
                os.unlink(path)
        mark_joining(self.cluster.config.path, node_id)

    def close(self):
        self.client.close()


def mark_joining(config_path, node_id):
    """Sets "join": true on node_id in the cluster config file, atomically
    (the other nodes may read it when they restart)."""
    with open(config_path) as handle:
        document = json.load(handle)
    for entry in document["nodes"]:
        if entry["id"] == node_id:
            entry["join"] = True
    temporary = config_path + ".tmp"
    with open(temporary, "w") as handle:
        json.dump(document, handle, indent=2)
    os.replace(temporary, config_path)
