"""CurveZMQ on the peer port (issue 10): strangers fail the handshake, a
member's key cannot speak for another member, a broker with a foreign key
cannot join, and keys follow committed membership as nodes are added and
removed. Every cluster the harness makes runs CURVE between brokers."""

import json
import os
import socket
import subprocess

import zmq

import raftq_client
import raftq_wire as wire
from harness import OK, check, check_equal, wait_until
from test_membership import admin, node_delete, node_put, wait_members

HANDSHAKE_TIMEOUT_S = 5.0
# raft.proto Message: type, from, to, term, cluster
REQUEST_VOTE = 1
TIMEOUT_NOW = 7


def _forged(kind, sender, receiver, term, cluster="integration"):
    """A raft.proto Message, packed by hand: what an attacker would send."""
    return (wire.field_varint(1, kind) + wire.field_varint(2, sender) +
            wire.field_varint(3, receiver) + wire.field_varint(4, term) +
            wire.field_bytes(5, cluster) + wire.field_varint(10, 10 ** 6) +
            wire.field_varint(11, term))


class PeerProbe:
    """A DEALER towards a node's peer port, plaintext or with a key pair,
    and a monitor of its handshakes."""

    def __init__(self, context, node, keys=None):
        self.socket = context.socket(zmq.DEALER)
        self.socket.linger = 0
        if keys is not None:
            public, secret = keys
            self.socket.curve_publickey = public
            self.socket.curve_secretkey = secret
            self.socket.curve_serverkey = node.public_key().encode()
        self.monitor = self.socket.get_monitor_socket(
            zmq.EVENT_HANDSHAKE_SUCCEEDED | zmq.EVENT_HANDSHAKE_FAILED_AUTH |
            zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL | zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL |
            zmq.EVENT_DISCONNECTED)
        self.socket.connect("tcp://%s:%d" % (node.host, node.peer_port))

    def first_handshake_event(self, timeout=HANDSHAKE_TIMEOUT_S):
        """The first handshake outcome (an event number), or None."""
        if not self.monitor.poll(int(timeout * 1000)):
            return None
        frames = self.monitor.recv_multipart()
        return int.from_bytes(frames[0][:2], "little")

    def close(self):
        self.socket.disable_monitor()
        self.monitor.close()
        self.socket.close()


def _terms(cluster, node_ids):
    answers = cluster.statuses(node_ids)
    return {node_id: (answer or {}).get("term") for node_id, answer in answers.items()}


def _node_keys(node):
    return raftq_client.load_key_pair(node.certificate)


def test_strangers_fail_the_peer_handshake(ctx):
    cluster = ctx.cluster(3)
    spawned = cluster.start()
    leader = cluster.wait_leader(3.0, since=spawned)
    terms = _terms(cluster, [1, 2, 3])
    target = cluster.config.nodes[leader]
    context = zmq.Context.instance()

    # plaintext: a CURVE server does not even finish the greeting with it
    plain = PeerProbe(context, target)
    plain.socket.send(_forged(REQUEST_VOTE, 2, leader, 2 ** 63), zmq.NOBLOCK)
    event = plain.first_handshake_event()
    check(event is not None and event != zmq.EVENT_HANDSHAKE_SUCCEEDED,
          "a plaintext DEALER on the peer port: handshake event %r", event)
    plain.close()

    # a valid CURVE key that is no member's: refused by ZAP
    stranger = PeerProbe(context, target, zmq.curve_keypair())
    stranger.socket.send(_forged(TIMEOUT_NOW, 2, leader, terms[leader]), zmq.NOBLOCK)
    check_equal(stranger.first_handshake_event(), zmq.EVENT_HANDSHAKE_FAILED_AUTH,
                "handshake of an unknown CURVE key")
    stranger.close()

    check_equal(_terms(cluster, [1, 2, 3]), terms, "terms after the strangers")
    check_equal(cluster.current_leader(), leader, "leader after the strangers")


def test_member_key_cannot_speak_for_another(ctx):
    cluster = ctx.cluster(3)
    spawned = cluster.start()
    leader = cluster.wait_leader(3.0, since=spawned)
    follower, other = [node_id for node_id in (1, 2, 3) if node_id != leader]
    # every node in the leader's term first: a follower the first heartbeat
    # has not reached yet would move on by itself after the sample
    def one_term():
        seen = _terms(cluster, [1, 2, 3])
        return seen if len(set(seen.values())) == 1 else None
    terms = wait_until(one_term, 3.0, "all three nodes in the leader's term")
    context = zmq.Context.instance()
    # the follower's real key pair, signing as the other follower: a vote
    # request with a huge term would depose the leader if it were believed
    probe = PeerProbe(context, cluster.config.nodes[leader],
                      tuple(key.encode() if isinstance(key, str) else key
                            for key in _node_keys(cluster.config.nodes[follower])))
    check_equal(probe.first_handshake_event(), zmq.EVENT_HANDSHAKE_SUCCEEDED,
                "handshake with a member's own key")
    probe.socket.send(_forged(REQUEST_VOTE, other, leader, terms[leader] + 1000))
    log = cluster.config.nodes[leader].log_path
    complaint = "a message signed node %d from a connection that is not that node's" % other

    def complained():
        with open(log, errors="replace") as handle:
            return complaint in handle.read()
    wait_until(complained, 5.0, "node %d to drop the message signed %d" % (leader, other))
    probe.close()
    check_equal(_terms(cluster, [1, 2, 3]), terms, "terms after the impersonation")
    check_equal(cluster.current_leader(), leader, "leader after the impersonation")


def _rewrite(cluster, change):
    with open(cluster.config_path) as handle:
        document = json.load(handle)
    change(document)
    with open(cluster.config_path, "w") as handle:
        json.dump(document, handle, indent=2)


def test_broker_with_a_foreign_key_cannot_join(ctx):
    cluster = ctx.cluster(4)
    real_key = cluster.config.nodes[4].public_key()
    # node 4 is added with its real public key, but the broker that starts
    # as node 4 holds another key pair
    foreign = os.path.join(cluster.directory, "keys", "foreign.cert")
    made = subprocess.run([ctx.program("raftq"), "keygen", foreign], stdout=subprocess.PIPE)
    check_equal(made.returncode, 0, "raftq keygen's exit code")

    def foreign_node_4(document):
        for node in document["nodes"]:
            if node["id"] == 4:
                node["join"] = True
                node["certificate"] = foreign
    _rewrite(cluster, foreign_node_4)
    spawned = cluster.start([1, 2, 3])
    leader = cluster.wait_leader(3.0, since=spawned, node_ids=[1, 2, 3])
    cluster.start([4])
    add = node_put(cluster.config.nodes[4])
    add["public_key"] = real_key
    reply = cluster.request(leader, add, timeout=12.0)
    check(reply.get("success") is False, "adding a node whose broker holds another key: %r", reply)
    status = cluster.status(4)
    check(status is not None and status["members"] == [] and status["commit_index"] == 0,
          "the foreign broker received nothing: %r", status)


def test_keys_follow_membership(ctx):
    cluster = ctx.cluster(5)
    later = {}

    def without_4_and_5(document):
        later.update({node["id"]: node for node in document["nodes"] if node["id"] in (4, 5)})
        document["nodes"] = [node for node in document["nodes"] if node["id"] not in later]
    # 1, 2 and 3 start from a file that does not know 4 and 5: the keys of
    # 4 and 5 reach them only through the configuration entries
    _rewrite(cluster, without_4_and_5)
    spawned = cluster.start([1, 2, 3])
    leader = cluster.wait_leader(3.0, since=spawned, node_ids=[1, 2, 3])
    cluster.put_topic(leader, "t")

    def with_4_and_5_joining(document):
        document["nodes"] += [dict(later[node_id], join=True) for node_id in (4, 5)]
    _rewrite(cluster, with_4_and_5_joining)
    cluster.start([4, 5])
    for node_id in (4, 5):
        check_equal(admin(cluster, node_put(cluster.config.nodes[node_id])), OK,
                    "adding node %d with its key" % node_id)
    wait_members(cluster, [1, 2, 3, 4, 5], [1, 2, 3, 4, 5])
    leader = cluster.wait_leader(3.0)
    cluster.publish(leader, "t", ["grown"])
    last = cluster.status(leader)["commit_index"]
    cluster.wait_applied([1, 2, 3, 4, 5], last, 5.0)

    for node_id in (5, 4):
        check_equal(admin(cluster, node_delete(node_id)), OK, "removing node %d" % node_id)
    wait_members(cluster, [1, 2, 3], [1, 2, 3])
    # removed and not in their file: 1, 2 and 3 no longer let 4's key in
    context = zmq.Context.instance()
    keys = tuple(key.encode() if isinstance(key, str) else key
                 for key in _node_keys(cluster.config.nodes[4]))
    for node_id in (1, 2, 3):
        probe = PeerProbe(context, cluster.config.nodes[node_id], keys)
        check_equal(probe.first_handshake_event(), zmq.EVENT_HANDSHAKE_FAILED_AUTH,
                    "node %d's handshake with removed node 4's key" % node_id)
        probe.close()
    leader = cluster.wait_leader(3.0, node_ids=[1, 2, 3])
    cluster.publish(leader, "t", ["shrunk"])
    check_equal(cluster.drain(leader, "t"), ["grown", "shrunk"], "the topic after shrinking")


def test_peer_port_on_its_own_network(ctx):
    def private_peer_hosts(document):
        for node in document["nodes"]:
            node["peer_host"] = "127.0.0.%d" % (10 + node["id"])
    cluster = ctx.cluster(3)
    _rewrite(cluster, private_peer_hosts)
    spawned = cluster.start()
    leader = cluster.wait_leader(3.0, since=spawned)
    cluster.put_topic(leader, "t")
    cluster.publish(leader, "t", ["over the private network"])
    cluster.wait_applied([1, 2, 3], cluster.status(leader)["commit_index"], 5.0)
    for node_id in (1, 2, 3):
        node = cluster.config.nodes[node_id]
        for host, listening in (("127.0.0.%d" % (10 + node_id), True), (node.host, False)):
            probe = socket.socket()
            probe.settimeout(2.0)
            reached = probe.connect_ex((host, node.peer_port)) == 0
            probe.close()
            check_equal(reached, listening, "node %d's peer port at %s:%d" % (
                node_id, host, node.peer_port))
