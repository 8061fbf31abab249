"""Authorized chat streams (issue 11, README "Authorized chat streams"), with
real brokers and plain pyzmq SUB sockets: an eavesdropper on any node's PUB
port (the empty prefix, "user/", "conv/", another user's stream, a wrong
token, someone else's token) receives no private event while alice and bob
chat across a leader kill, and topic streams stay public; bob's own
subscription receives every event in order; logout ends its delivery; and
Replay of a private stream needs a party's token, in both dialects."""

import json
import time

import zmq

import raftq_wire as wire
from harness import OK, check, check_equal, wait_until
from test_chat import (Subscriber, Writer, _code, _ok, _session, account_put, chat_put, replay_get)

WRONG_TOKEN = "0123456789abcdef0123456789abcdef"
QUIET_S = 1.0     # how long "nothing more arrives" is watched for
REVOKE_S = 1.5    # logout to "revoked", with room for a loaded machine


def _sub(cluster, node_id, subscription):
    socket = zmq.Context.instance().socket(zmq.SUB)
    socket.setsockopt(zmq.LINGER, 0)
    socket.connect("tcp://127.0.0.1:%d" % cluster.config.nodes[node_id].pub_port)
    socket.setsockopt(zmq.SUBSCRIBE, subscription.encode())
    cluster.context.on_close(lambda: socket.close(0))
    return socket


def _drain(socket, wait_ms=0):
    """Every message already delivered (or within wait_ms of the last)."""
    messages = []
    while socket.poll(wait_ms):
        messages.append(socket.recv_multipart())
        wait_ms = 0
    return messages


def _private_leaks(messages, secrets):
    """The messages an eavesdropper must never see: anything not a topic
    event, or holding a secret text."""
    return [frames for frames in messages
            if not frames[0].startswith(b"topic/") or any(secret.encode() in b"".join(frames) for secret in secrets)]


def _world(cluster):
    writer = Writer(cluster)
    for user in ("alice", "bob", "carol"):
        check_equal(writer.send(account_put(user, "pw-" + user)), OK, "create %s" % user)
    tokens = {user: _session(writer, user, "pw-" + user) for user in ("alice", "bob", "carol")}
    leader = cluster.wait_leader(3.0)
    cluster.wait_applied(cluster.ids, cluster.status(leader)["commit_index"], 5.0)
    return writer, tokens, leader


def test_eavesdroppers_see_nothing_private(ctx):
    cluster = ctx.cluster(3)
    cluster.start()
    writer, tokens, leader = _world(cluster)
    alice, bob = tokens["alice"], tokens["bob"]
    follower = cluster.followers(leader)[0]
    tries = ["", "user/", "conv/", "u", "user/alice", "user/bob", "conv/alice/bob",
             "user/bob#" + WRONG_TOKEN, "user/bob#" + alice, "user/alice#" + bob,
             "conv/alice/carol#" + bob, "conv/bob/alice#" + bob, "user/bob#" + bob.upper()]
    eavesdroppers = [(node_id, subscription, _sub(cluster, node_id, subscription))
                     for node_id in cluster.ids for subscription in tries]
    topic_watchers = {node_id: _sub(cluster, node_id, "topic/") for node_id in cluster.ids}
    owner = Subscriber(cluster, follower, "user/bob", bob)
    conv = Subscriber(cluster, follower, "conv/alice/bob", alice)
    check_equal(cluster.request(leader, {"type": "topic", "method": "PUT", "topic": "news"}), OK, "create news")

    texts = []
    try:
        # until each authorized subscription is confirmed, and every SUB has
        # had time to reach its node
        wait_until(lambda: (owner.pump(50), conv.pump(50), owner.confirm(), conv.confirm())
                   and owner.confirmed and conv.confirmed, 10.0, "confirmation of the authorized subscriptions")
        for number in range(10):
            texts.append("secret %d from alice" % number)
            _ok(writer.send(chat_put(alice, "bob", texts[-1])), "alice sends")
            texts.append("secret %d from bob" % number)
            _ok(writer.send(chat_put(bob, "alice", texts[-1])), "bob sends")
            if number == 4:
                cluster.kill(leader)
        new_leader = cluster.wait_leader(5.0, other_than=leader)
        check_equal(cluster.request(new_leader, {"type": "message", "method": "PUT", "topic": "news",
                                                 "message": "public"}), OK, "publish to news")
        events = owner.collect(len(texts), 15.0)
        conv_events = conv.collect(len(texts), 15.0)
    finally:
        owner.close()
        conv.close()
    check_equal([event["text"] for event in events], texts, "user/bob: every event, in order, each once")
    check_equal([event["text"] for event in conv_events], texts, "conv/alice/bob via alice's token")

    # topic streams stay public, on every node still up
    for node_id in cluster.alive():
        def seen_public():
            return any(frames[0] == b"topic/news" for frames in _drain(topic_watchers[node_id], 100))
        wait_until(seen_public, 5.0, "the news event on node %d" % node_id)

    for node_id, subscription, socket in eavesdroppers:
        messages = _drain(socket, 200 if node_id in cluster.alive() else 0)
        check_equal(_private_leaks(messages, texts), [], "private events on node %d to %r" % (node_id, subscription))
        if subscription == "" and node_id in cluster.alive():
            check(any(frames[0] == b"topic/news" for frames in messages),
                  "the empty prefix on node %d still receives topic events", node_id)


def test_logout_ends_delivery(ctx):
    cluster = ctx.cluster(3)
    cluster.start()
    writer, tokens, leader = _world(cluster)
    alice, bob = tokens["alice"], tokens["bob"]
    node_id = cluster.followers(leader)[0]
    subscription = "user/bob#" + bob
    socket = _sub(cluster, node_id, subscription)

    def confirmed():
        for frames in _drain(socket, 200):
            event = json.loads(frames[2])
            if frames[0] == subscription.encode() and event["seq"] == 0 and event["kind"] == "subscribed":
                return True
        socket.setsockopt(zmq.UNSUBSCRIBE, subscription.encode())
        socket.setsockopt(zmq.SUBSCRIBE, subscription.encode())
        return False
    wait_until(confirmed, 10.0, "confirmation of %s" % subscription)
    _ok(writer.send(chat_put(alice, "bob", "before logout")), "send before logout")
    wait_until(lambda: any(json.loads(frames[2]).get("text") == "before logout" for frames in _drain(socket, 100)),
               5.0, "the message before logout")

    check_equal(writer.send({"type": "login", "method": "DELETE", "token": bob}), OK, "bob logs out")
    logged_out = time.monotonic()
    revoked = []

    def got_revoked():
        for frames in _drain(socket, 50):
            event = json.loads(frames[2])
            check(event["seq"] == 0, "an event after logout: %r", event)
            if event["kind"] == "revoked":
                check_equal(frames[0].decode(), subscription, "frame 1 of revoked")
                check_equal(event["stream"], "user/bob", "stream of revoked")
                revoked.append(time.monotonic() - logged_out)
        return revoked
    wait_until(got_revoked, REVOKE_S, "revoked within %.1f s of the logout" % REVOKE_S)
    for number in range(3):
        _ok(writer.send(chat_put(alice, "bob", "after logout %d" % number)), "send after logout")
    check_equal(_drain(socket, int(QUIET_S * 1000)), [], "messages after revoked")
    # and subscribing again with the dead token gets nothing either
    socket.setsockopt(zmq.UNSUBSCRIBE, subscription.encode())
    socket.setsockopt(zmq.SUBSCRIBE, subscription.encode())
    _ok(writer.send(chat_put(alice, "bob", "after resubscribe")), "send after resubscribe")
    check_equal(_drain(socket, int(QUIET_S * 1000)), [], "messages to a dead token's subscription")


def test_expiry_ends_delivery(ctx):
    cluster = ctx.cluster(3, session_idle_s=2)
    cluster.start()
    writer, tokens, leader = _world(cluster)
    subscription = "user/carol#" + tokens["carol"]
    socket = _sub(cluster, leader, subscription)
    kinds = []

    def seen(kind):
        kinds.extend(json.loads(frames[2])["kind"] for frames in _drain(socket, 100))
        return kind in kinds
    wait_until(lambda: seen("subscribed"), 5.0, "confirmation of %s" % subscription)
    # nobody uses the session: it expires 2 s after the login, without any request
    wait_until(lambda: seen("revoked"), 4.0, "revoked at expiry")


def _replay_codes(cluster, node_id, stream, token):
    return _code(cluster.request(node_id, replay_get(stream, 1, token=token)))


def _refusal(node_id, leader):
    """What a replay a token does not allow gets on node_id: only the leader
    refuses; a follower sends the client there (it may learn of a login a
    heartbeat after the client that made it)."""
    return "PERMISSION_DENIED" if node_id == leader else "NOT_LEADER"


def test_replay_refusals_come_only_from_the_leader(ctx):
    """A follower cannot tell a dead token from one of a login it has not
    applied yet: a follower learns of a commit after the client that made
    it (a live start asked a follower just after its login and was refused;
    the chaos checker saw a subscriber cut off while it logged in again
    take the lasting refusal for the session's end). So a follower refuses
    no token: with a leader it answers NOT_LEADER naming it, alone
    UNAVAILABLE, while a token it has applied still replays and a missing
    one is still UNAUTHENTICATED. The leader refuses."""
    cluster = ctx.cluster(3)
    cluster.start()
    writer, tokens, leader = _world(cluster)
    _ok(writer.send(chat_put(tokens["alice"], "bob", "before the cut")), "alice sends")
    cluster.wait_applied(cluster.ids, cluster.status(leader)["commit_index"], 5.0)
    alone = cluster.followers(leader)[0]
    sent_on = cluster.request(alone, replay_get("user/bob", 1, token=WRONG_TOKEN))
    check_equal((_code(sent_on), (sent_on.get("leader") or {}).get("id")), ("NOT_LEADER", leader),
                "replay with a wrong token on follower %d" % alone)
    check_equal(_replay_codes(cluster, leader, "user/bob", WRONG_TOKEN), "PERMISSION_DENIED",
                "replay with a wrong token on the leader")
    others = [node_id for node_id in cluster.ids if node_id != alone]
    for node_id in others:
        cluster.kill(node_id)
    wait_until(lambda: not (cluster.status(alone) or {"leader": "no answer"}).get("leader"), 5.0,
               "node %d to know no leader" % alone)
    check_equal(_replay_codes(cluster, alone, "user/bob", WRONG_TOKEN), "UNAVAILABLE",
                "replay with a token node %d cannot vouch for" % alone)
    check_equal(_replay_codes(cluster, alone, "user/bob", None), "UNAUTHENTICATED",
                "replay without a token")
    events = cluster.request(alone, replay_get("user/bob", 1, token=tokens["bob"]))["events"]
    check_equal([event["text"] for event in events], ["before the cut"],
                "bob's replay with the token node %d applied" % alone)
    cluster.start(others)
    new_leader = cluster.wait_leader(5.0)
    wait_until(lambda: _replay_codes(cluster, alone, "user/bob", WRONG_TOKEN) == _refusal(alone, new_leader),
               10.0, "node %d refusing a wrong token, or sending it to the leader, once it follows one" % alone)


def test_replay_needs_a_party_token(ctx):
    cluster = ctx.cluster(3)
    cluster.start()
    writer, tokens, _ = _world(cluster)
    alice, bob, carol = tokens["alice"], tokens["bob"], tokens["carol"]
    _ok(writer.send(chat_put(alice, "bob", "replayable")), "alice sends")
    check_equal(writer.send({"type": "topic", "method": "PUT", "topic": "news"}), OK, "create news")
    leader = cluster.wait_leader(3.0)
    cluster.wait_applied(cluster.ids, cluster.status(leader)["commit_index"], 5.0)
    for node_id in cluster.ids:
        refused = _refusal(node_id, leader)
        for stream in ("user/bob", "conv/alice/bob"):
            check_equal(_replay_codes(cluster, node_id, stream, None), "UNAUTHENTICATED",
                        "replay of %s without a token on node %d" % (stream, node_id))
            check_equal(_replay_codes(cluster, node_id, stream, WRONG_TOKEN), refused,
                        "replay of %s with a wrong token on node %d" % (stream, node_id))
            check_equal(_replay_codes(cluster, node_id, stream, carol), refused,
                        "replay of %s with a stranger's token on node %d" % (stream, node_id))
        check_equal(_replay_codes(cluster, node_id, "user/bob", alice), refused,
                    "replay of user/bob with alice's token on node %d" % node_id)
        events = cluster.request(node_id, replay_get("user/bob", 1, token=bob))["events"]
        check_equal([event["text"] for event in events], ["replayable"], "bob's replay on node %d" % node_id)
        events = cluster.request(node_id, replay_get("conv/alice/bob", 1, token=alice))["events"]
        check_equal([event["text"] for event in events], ["replayable"], "alice's conv replay on node %d" % node_id)
        check_equal(_replay_codes(cluster, node_id, "topic/news", None), "OK", "topic replay on node %d" % node_id)

    # protobuf: the same codes
    def protobuf(token):
        # Request{token = 3, replay = 15: Replay{stream = 1, from_seq = 2}}
        replay = wire.field_bytes(1, "user/bob") + wire.field_varint(2, 1)
        body = (wire.field_bytes(3, token) if token else b"") + wire.field_bytes(15, replay)
        reply = cluster.raw(leader, body)
        check(reply is not None, "no reply to a protobuf Replay")
        return wire.decode_reply(reply)["code"]
    check_equal(protobuf(None), "UNAUTHENTICATED", "protobuf replay without a token")
    check_equal(protobuf(WRONG_TOKEN), "PERMISSION_DENIED", "protobuf replay with a wrong token")
    check_equal(protobuf(alice), "PERMISSION_DENIED", "protobuf replay with alice's token")
    check_equal(protobuf(bob), "OK", "protobuf replay with bob's token")
    check_equal(_code(writer.send({"type": "login", "method": "DELETE", "token": bob})), "OK", "bob logs out")
    check_equal(_replay_codes(cluster, leader, "user/bob", bob), "PERMISSION_DENIED", "replay after logout")
