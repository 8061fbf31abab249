"""Chat on real raftqd clusters, through the JSON dialect (DESIGN 5.2): accounts,
sessions, messages and their errors; what survives a leader crash (sessions,
messages, read marks) and what is applied once despite retries; and the
event streams of DESIGN 6 as a subscriber sees them: every event in order
across a leader crash and across a reconnect to another node, gaps filled
with Replay, and a bounded retained window that says where it starts."""

import json
import random
import threading
import time

import zmq

from raftq_cluster import Client

from harness import OK, check, check_equal, protobuf_fields, wait_until

HASH_LENGTH = 16  # hex digits of "state_hash"


# --- requests -------------------------------------------------------------------

def account_put(user, password):
    return {"type": "account", "method": "PUT", "user": user, "password": password}


def login_put(user, password):
    return {"type": "login", "method": "PUT", "user": user, "password": password}


def chat_put(token, to, text):
    return {"type": "chat", "method": "PUT", "token": token, "to": to, "text": text}


def chat_get(token, partner=None, page=None, page_size=None):
    request = {"type": "chat", "method": "GET", "token": token}
    for key, value in (("with", partner), ("page", page), ("page_size", page_size)):
        if value is not None:
            request[key] = value
    return request


def replay_get(stream, first, limit=None, token=None):
    request = {"type": "replay", "method": "GET", "stream": stream, "from": first}
    if limit is not None:
        request["limit"] = limit
    if token is not None:
        request["token"] = token
    return request


class Writer:
    """One client with its own client_id: every request carries the next seq,
    and a retry resends the same seq (to whichever node leads by then)."""

    def __init__(self, cluster):
        self.cluster = cluster
        self.client = Client()          # its own sockets: writers may run in threads
        cluster.context.on_close(self.client.close)
        self.client_id = random.getrandbits(62) + 1
        self.seq = 0

    def send(self, request, timeout=10.0):
        """The first reply that is not a refusal for lack of a leader (or an
        outcome-unknown timeout), retried with the same seq until then."""
        self.seq += 1
        tagged = dict(request, client_id=self.client_id, seq=self.seq)
        deadline = time.monotonic() + timeout
        while True:
            leader = self.cluster.wait_leader(max(0.1, deadline - time.monotonic()))
            reply = self.client.request(self.cluster.endpoint(leader), tagged, 2.5)
            retry = reply is None or reply.get("code") in ("NOT_LEADER", "NO_LEADER", "TIMEOUT", "UNAVAILABLE")
            if not retry or time.monotonic() >= deadline:
                check(reply is not None, "no reply to %s within %.1f s", request["type"], timeout)
                return reply


def _ok(reply, what):
    check(reply.get("success") is True, "%s: %r", what, reply)
    return reply


def _code(reply):
    return reply.get("code") if reply.get("success") is False else "OK"


def _session(writer, user, password):
    reply = _ok(writer.send(login_put(user, password)), "login of %s" % user)
    check(isinstance(reply.get("token"), str) and len(reply["token"]) == 32,
          "token of %s: %r", user, reply)
    return reply["token"]


def _state_hashes(cluster, node_ids):
    hashes = {}
    for node_id in node_ids:
        status = cluster.request(node_id, {"type": "status", "method": "GET", "hash": True})
        hashes[node_id] = status.get("state_hash")
        check(isinstance(hashes[node_id], str) and len(hashes[node_id]) == HASH_LENGTH,
              "state_hash of node %d: %r", node_id, status)
    return hashes


def _wait_same_state(cluster, node_ids):
    """Every node has applied the leader's commit index and hashes alike."""
    leader = cluster.wait_leader(3.0)
    commit = cluster.status(leader)["commit_index"]
    cluster.wait_applied(node_ids, commit, 5.0)
    hashes = _state_hashes(cluster, node_ids)
    check_equal(len(set(hashes.values())), 1, "distinct state hashes over nodes %s (%r)" % (node_ids, hashes))


# --- subscribers ---------------------------------------------------------------

CONFIRM_WAIT_S = 1.0  # how long a private subscription waits for "subscribed" before trying again


class Subscriber:
    """A SUB socket on one node's PUB port for one private stream, as the
    README's protocol says: subscribes "<stream>#<token>", subscribes again
    while no "subscribed" came (the node may not have applied the login
    yet), keeps every event once and in order, and fills a gap (a seq past
    the next one, a late join, a quiet stream) with Replay, token included,
    on the node it listens to."""

    def __init__(self, cluster, node_id, stream, token):
        self.cluster = cluster
        self.stream = stream
        self.token = token
        self.subscription = ("%s#%s" % (stream, token)).encode()
        self.confirmed = False    # "subscribed" seen on this attachment
        self.revoked = False      # "revoked" seen
        self.subscribed_at = 0.0
        self.events = []          # the stream's events, seq 1, 2, ... without gaps
        self.replayed = 0         # events that came from Replay rather than PUB
        self.socket = None
        self.node_id = None
        self.attach(node_id)

    @property
    def next_seq(self):
        return len(self.events) + 1

    def attach(self, node_id):
        """Listens to node_id from now on (a reconnect after a crash)."""
        self.close()
        self.node_id = node_id
        self.socket = zmq.Context.instance().socket(zmq.SUB)
        self.socket.setsockopt(zmq.LINGER, 0)
        self.socket.connect("tcp://127.0.0.1:%d" % self.cluster.config.nodes[node_id].pub_port)
        self.confirmed = False
        self.socket.setsockopt(zmq.SUBSCRIBE, self.subscription)
        self.subscribed_at = time.monotonic()

    def confirm(self):
        """Subscribes again when no confirmation came in time."""
        if not self.confirmed and time.monotonic() - self.subscribed_at >= CONFIRM_WAIT_S:
            self.socket.setsockopt(zmq.UNSUBSCRIBE, self.subscription)
            self.socket.setsockopt(zmq.SUBSCRIBE, self.subscription)
            self.subscribed_at = time.monotonic()

    def close(self):
        if self.socket is not None:
            self.socket.close(0)
            self.socket = None

    def _accept(self, event):
        check_equal(event.get("stream"), self.stream, "stream of an event")
        if event["seq"] < self.next_seq:
            return  # seen already (live and replayed both)
        check_equal(event["seq"], self.next_seq, "seq of the next event on %s" % self.stream)
        self.events.append(event)

    def fill_gap(self):
        """Asks the node for everything after the last event seen."""
        reply = self.cluster.request(self.node_id, replay_get(self.stream, self.next_seq, token=self.token))
        check(reply.get("success") is True, "replay of %s from %d on node %d: %r",
              self.stream, self.next_seq, self.node_id, reply)
        for event in reply["events"]:
            before = len(self.events)
            self._accept(event)
            self.replayed += len(self.events) - before

    def pump(self, wait_ms):
        """Takes what PUB delivered within wait_ms; a gap makes it replay."""
        while self.socket.poll(wait_ms):
            wait_ms = 0
            frames = self.socket.recv_multipart()
            check_equal(frames[0].decode("utf-8", "replace"), self.subscription.decode(), "first frame of a private event")
            check_equal(len(frames), 3, "frames of an event")
            event = json.loads(frames[2].decode("utf-8"))
            if event["seq"] == 0:  # control: not part of the stream
                check_equal(event.get("stream"), self.stream, "stream of a control event")
                self.confirmed = self.confirmed or event.get("kind") == "subscribed"
                self.revoked = self.revoked or event.get("kind") == "revoked"
                continue
            if event["seq"] > self.next_seq:
                self.fill_gap()
            self._accept(event)

    def collect(self, count, timeout):
        """Waits until count events are held; a quiet socket means maybe
        missed events, so the subscriber replays then."""
        def done():
            self.pump(100)
            self.confirm()
            if len(self.events) < count:
                self.fill_gap()
            return len(self.events) >= count
        wait_until(done, timeout, "%d events on %s via node %d (have %d)" % (
            count, self.stream, self.node_id, len(self.events)))
        return self.events


# --- tests ----------------------------------------------------------------------

def test_chat_accounts_sessions_and_errors(ctx):
    cluster = ctx.cluster(3)
    cluster.start()
    leader = cluster.wait_leader(3.0)
    writer = Writer(cluster)
    send = writer.send

    check_equal(send(account_put("ann", "ann's secret")), OK, "create ann")
    check_equal(send(account_put("bob", "pw-bob")), OK, "create bob")
    check_equal(_code(send(account_put("ann", "other"))), "ALREADY_EXISTS", "create ann again")
    for user, password, code in (("", "pw", "INVALID_ARGUMENT"), ("no/slash", "pw", "INVALID_ARGUMENT"),
                                 ("x" * 33, "pw", "INVALID_ARGUMENT"), ("carl", "", "INVALID_ARGUMENT"),
                                 ("carl", "p" * 257, "INVALID_ARGUMENT")):
        check_equal(_code(send(account_put(user, password))), code, "create %r/%d-byte password" % (user[:8], len(password)))
    check_equal(send({"type": "user", "method": "GET", "user": "bob"}), {"success": True, "exists": True}, "CheckUser bob")
    check_equal(send({"type": "user", "method": "GET", "user": "carl"}), {"success": True, "exists": False}, "CheckUser carl")

    check_equal(_code(send(login_put("ann", "wrong"))), "UNAUTHENTICATED", "login with a wrong password")
    check_equal(_code(send(login_put("nobody", "pw"))), "UNAUTHENTICATED", "login of a missing account")
    ann = _session(writer, "ann", "ann's secret")
    bob = _session(writer, "bob", "pw-bob")
    check(ann != bob, "two logins got the same token")

    # followers refuse writes at once, with the leader's address
    follower = cluster.followers(leader)[0]
    refused = cluster.request(follower, chat_put(ann, "bob", "via a follower"))
    check_equal(refused.get("code"), "NOT_LEADER", "a chat write sent to a follower")
    check_equal(refused.get("leader", {}).get("id"), leader, "leader hint of the follower")

    # sending: trimmed, checked, numbered
    first = _ok(send(chat_put(ann, "bob", "  hello bob \n")), "ann to bob")
    second = _ok(send(chat_put(bob, "ann", "hi ann")), "bob to ann")
    third = _ok(send(chat_put(ann, "bob", "how are you?")), "ann to bob again")
    check(first["id"] < second["id"] < third["id"], "message ids increase: %r", [first, second, third])
    for request, code in ((chat_put(ann, "bob", " \t\n "), "INVALID_ARGUMENT"),
                          (chat_put(ann, "bob", "x" * 4097), "TOO_LARGE"),
                          (chat_put(ann, "bob", "bell\x07"), "INVALID_ARGUMENT"),
                          (chat_put(ann, "nobody", "hi"), "NOT_FOUND"),
                          (chat_put("0" * 32, "bob", "hi"), "UNAUTHENTICATED"),
                          ({"type": "chat", "method": "PUT", "to": "bob", "text": "hi"}, "UNAUTHENTICATED"),
                          (chat_get(ann, page_size=1001), "INVALID_ARGUMENT")):
        check_equal(_code(send(request)), code, "%s %s %r" % (request["type"], request["method"], request.get("text", "")[:10]))

    # a login tells the unread count; reading unread marks them read
    bob_again = _ok(send(login_put("bob", "pw-bob")), "second login of bob")
    check_equal(bob_again["unread"], 2, "bob's unread count at login")
    unread = _ok(send(chat_get(bob)), "bob reads unread")
    check_equal([(m["id"], m["from"], m["to"], m["text"], m["read"]) for m in unread["messages"]],
                [(first["id"], "ann", "bob", "hello bob", False), (third["id"], "ann", "bob", "how are you?", False)],
                "bob's unread page")
    check_equal((unread["total"], unread["remaining"]), (2, 0), "total and remaining of bob's unread page")
    check_equal(_ok(send(chat_get(bob)), "bob reads unread again")["messages"], [], "unread after reading")

    # the conversation, both directions, paged; read marks as they were before
    page = _ok(send(chat_get(ann, partner="bob", page=1, page_size=2)), "ann's conversation page 1")
    check_equal([(m["id"], m["read"]) for m in page["messages"]], [(first["id"], True), (second["id"], False)],
                "conversation page 1 (ann's message read by bob; bob's not yet read by ann)")
    check_equal((page["total"], page["remaining"]), (3, 1), "total and remaining of page 1")
    page = _ok(send(chat_get(ann, partner="bob", page=2, page_size=2)), "ann's conversation page 2")
    check_equal([m["id"] for m in page["messages"]], [third["id"]], "conversation page 2")
    check_equal(_code(send(chat_get(ann, partner="ghost"))), "NOT_FOUND", "conversation with a missing account")
    check_equal(_ok(send(chat_get(ann)), "ann's unread")["messages"], [],
                "ann's unread after the conversation page showed bob's message")

    # listing: glob, sorted, paged, total
    for name in ("anna", "zoe", "annabel"):
        check_equal(send(account_put(name, "pw")), OK, "create %s" % name)
    listing = {"type": "account", "method": "GET", "pattern": "ann*", "page": 1, "page_size": 2}
    check_equal(send(listing), {"success": True, "accounts": ["ann", "anna"], "total": 3}, "accounts ann* page 1")
    check_equal(send(dict(listing, page=2)), {"success": True, "accounts": ["annabel"], "total": 3}, "accounts ann* page 2")
    check_equal(send({"type": "account", "method": "GET"}),
                {"success": True, "accounts": ["ann", "anna", "annabel", "bob", "zoe"], "total": 5}, "every account")
    check_equal(send({"type": "account", "method": "GET", "pattern": "?o?"}),
                {"success": True, "accounts": ["bob", "zoe"], "total": 2}, "accounts ?o?")

    # deleting: only one's own messages, the other party told
    zoe = _session(writer, "zoe", "pw")
    check_equal(_code(send({"type": "chat", "method": "DELETE", "token": zoe, "ids": [first["id"]]})),
                "PERMISSION_DENIED", "zoe deleting ann's message to bob")
    check_equal(send({"type": "chat", "method": "DELETE", "token": bob, "ids": [first["id"], first["id"], 999999]}),
                {"success": True, "deleted": 1}, "bob deleting a message he received (twice, plus a missing id)")
    events = cluster.request(leader, replay_get("user/ann", 1, token=ann))["events"]
    check_equal([(event["kind"], event.get("ids")) for event in events][-1], ("delete", [first["id"]]),
                "last event on user/ann (the other party is told)")

    # logout ends one session; DeleteAccount ends them all
    check_equal(send({"type": "login", "method": "DELETE", "token": bob}), OK, "bob logs out")
    check_equal(_code(send(chat_get(bob))), "UNAUTHENTICATED", "a logged-out token")
    check_equal(_code(send({"type": "login", "method": "DELETE", "token": bob})), "UNAUTHENTICATED", "logout twice")
    check_equal(send({"type": "account", "method": "DELETE", "token": bob_again["token"]}), OK, "bob deletes his account")
    check_equal(send({"type": "user", "method": "GET", "user": "bob"}), {"success": True, "exists": False}, "bob after deletion")
    check_equal(_code(send(chat_get(ann, partner="bob"))), "NOT_FOUND", "ann's conversation with the deleted bob")
    check_equal(_code(send(chat_put(ann, "bob", "still there?"))), "NOT_FOUND", "a message to the deleted bob")

    _wait_same_state(cluster, cluster.ids)


def test_chat_message_survives_leader_kill9(ctx):
    cluster = ctx.cluster(3)
    cluster.start()
    leader = cluster.wait_leader(3.0)
    writer = Writer(cluster)
    for user in ("ann", "bob"):
        check_equal(writer.send(account_put(user, "pw-" + user)), OK, "create %s" % user)
    ann = _session(writer, "ann", "pw-ann")
    bob = _session(writer, "bob", "pw-bob")
    sent = _ok(writer.send(chat_put(ann, "bob", "before the crash")), "ann to bob")

    cluster.kill(leader)
    new_leader = cluster.wait_leader(3.0, other_than=leader)
    # a login at once: the new leader checks the password only against a
    # state holding every account acknowledged before the crash
    check(_session(writer, "ann", "pw-ann") != ann, "a new login gave an old token")
    # the sessions were replicated: the same tokens work on the new leader at once
    unread = _ok(writer.send(chat_get(bob)), "bob reads unread on the new leader")
    check_equal([(m["id"], m["text"]) for m in unread["messages"]], [(sent["id"], "before the crash")],
                "bob's unread messages after the leader crash")
    check_equal(_ok(writer.send(chat_get(bob)), "bob reads unread again")["messages"], [],
                "the same message a second time (it must have become read)")
    conversation = _ok(writer.send(chat_get(bob, partner="ann")), "bob's conversation with ann")
    check_equal([(m["id"], m["read"]) for m in conversation["messages"]], [(sent["id"], True)],
                "the conversation: the message once, read")
    after = _ok(writer.send(chat_put(ann, "bob", "after the crash")), "ann to bob under node %d" % new_leader)
    check(after["id"] > sent["id"], "message id after the crash %d, before %d", after["id"], sent["id"])

    # the killed node comes back, catches up and agrees
    cluster.start([leader])
    _wait_same_state(cluster, cluster.ids)


def test_chat_retries_apply_once(ctx):
    cluster = ctx.cluster(3)
    cluster.start()
    leader = cluster.wait_leader(3.0)
    writer = Writer(cluster)
    for user in ("ann", "bob"):
        check_equal(writer.send(account_put(user, "pw")), OK, "create %s" % user)
    ann = _session(writer, "ann", "pw")

    client_id = random.getrandbits(62) + 1
    send = dict(chat_put(ann, "bob", "exactly once"), client_id=client_id, seq=1)
    first = _ok(cluster.request(leader, send), "send with client_id/seq")
    check_equal(cluster.request(leader, send), first, "the same send retried on the same leader")
    cluster.kill(leader)
    leader = cluster.wait_leader(3.0, other_than=leader)
    check_equal(cluster.request(leader, send), first, "the same send retried on the new leader")

    # a retried login is a new login: the state keeps no token to hand out
    # again (only its hash), so it opens a second session; both work
    login = dict(login_put("bob", "pw"), client_id=client_id, seq=2)
    session = _ok(cluster.request(leader, login), "login with client_id/seq")
    again = _ok(cluster.request(leader, login), "the same login retried")
    check(again["token"] != session["token"], "a retried login got the same token: %r", again)
    _ok(cluster.request(leader, chat_get(again["token"], partner="ann")), "bob's second session")
    conversation = _ok(cluster.request(leader, chat_get(session["token"], partner="ann")), "bob's conversation")
    check_equal([(m["id"], m["text"]) for m in conversation["messages"]], [(first["id"], "exactly once")],
                "messages after three tries of one send")
    check_equal(session["unread"], 1, "unread count at bob's login")


def test_chat_subscriber_on_follower_across_leader_kill(ctx):
    cluster = ctx.cluster(3)
    cluster.start()
    leader = cluster.wait_leader(3.0)
    writer = Writer(cluster)
    for user in ("ann", "bob"):
        check_equal(writer.send(account_put(user, "pw")), OK, "create %s" % user)
    ann = _session(writer, "ann", "pw")
    bob = _session(writer, "bob", "pw")
    follower = cluster.followers(leader)[0]
    texts = ["burst %02d" % number for number in range(30)]
    progress = {"sent": 0}
    problems = []

    def burst():
        try:
            for text in texts:
                _ok(writer.send(chat_put(ann, "bob", text), timeout=15.0), "send %r" % text)
                progress["sent"] += 1
        except Exception as error:  # reported by the main thread
            problems.append(repr(error))

    sender = threading.Thread(target=burst)
    sender.start()
    # joins late (the first events are missed on PUB), so Replay has a gap to fill
    wait_until(lambda: progress["sent"] >= 3 or problems, 20.0, "the first messages of the burst")
    subscriber = Subscriber(cluster, follower, "user/bob", bob)
    try:
        wait_until(lambda: progress["sent"] >= 12 or problems, 20.0, "a dozen messages of the burst")
        cluster.kill(leader)
        sender.join(60.0)
        check(not sender.is_alive(), "the burst did not finish")
        check(not problems, "burst: %s", problems)
        events = subscriber.collect(len(texts), 15.0)
    finally:
        subscriber.close()
    check_equal([event["text"] for event in events], texts, "texts on user/bob, in order, each once")
    check_equal([event["seq"] for event in events], list(range(1, len(texts) + 1)), "seqs on user/bob")
    check(all(event["kind"] == "message" and event["from"] == "ann" and event["to"] == "bob"
              and type(event["id"]) is int and type(event["ts"]) is int for event in events),
          "message events: %r", events[:2])
    check_equal(sorted({event["id"] for event in events}), [event["id"] for event in events], "message ids (increasing, unique)")
    check(subscriber.replayed >= 1, "the late subscriber replayed nothing (%d live)", len(events))


def test_chat_subscriber_reconnects_to_another_node(ctx):
    cluster = ctx.cluster(3)
    cluster.start()
    leader = cluster.wait_leader(3.0)
    writer = Writer(cluster)
    for user in ("ann", "bob"):
        check_equal(writer.send(account_put(user, "pw")), OK, "create %s" % user)
    ann = _session(writer, "ann", "pw")
    first, second = cluster.followers(leader)
    subscriber = Subscriber(cluster, first, "conv/ann/bob", ann)
    try:
        for number in range(5):
            _ok(writer.send(chat_put(ann, "bob", "before %d" % number)), "send before the crash")
        subscriber.collect(5, 10.0)

        # the node it listens to dies; messages go on meanwhile
        cluster.kill(first)
        for number in range(5):
            _ok(writer.send(chat_put(ann, "bob", "while away %d" % number)), "send while the subscriber is away")
        subscriber.attach(second)
        for number in range(3):
            _ok(writer.send(chat_put(ann, "bob", "after %d" % number)), "send after the reconnect")
        events = subscriber.collect(13, 10.0)
    finally:
        subscriber.close()
    expected = ["before %d" % n for n in range(5)] + ["while away %d" % n for n in range(5)] + ["after %d" % n for n in range(3)]
    check_equal([event["text"] for event in events], expected, "conversation events across the reconnect")
    check_equal([event["seq"] for event in events], list(range(1, 14)), "seqs across the reconnect")


def test_chat_replay_window_is_bounded(ctx):
    cluster = ctx.cluster(3, event_retention=5)
    cluster.start()
    leader = cluster.wait_leader(3.0)
    writer = Writer(cluster)
    for user in ("ann", "bob"):
        check_equal(writer.send(account_put(user, "pw")), OK, "create %s" % user)
    ann = _session(writer, "ann", "pw")
    bob = _session(writer, "bob", "pw")
    for number in range(8):
        _ok(writer.send(chat_put(ann, "bob", "m%d" % number)), "send m%d" % number)
    commit = cluster.status(leader)["commit_index"]
    cluster.wait_applied(cluster.ids, commit, 5.0)

    for node_id in cluster.ids:
        gone = cluster.request(node_id, replay_get("user/bob", 2, token=bob))
        check_equal((gone.get("success"), gone.get("code"), gone.get("oldest_seq"), gone.get("next_seq")),
                    (False, "NOT_FOUND", 4, 9), "replay of evicted events on node %d" % node_id)
        kept = cluster.request(node_id, replay_get("user/bob", 4, limit=3, token=bob))
        check_equal([(event["seq"], event["text"]) for event in kept["events"]], [(4, "m3"), (5, "m4"), (6, "m5")],
                    "replay of retained events on node %d (limit 3)" % node_id)
        oldest = cluster.request(node_id, replay_get("user/bob", 0, token=bob))
        check_equal([event["seq"] for event in oldest["events"]], [4, 5, 6, 7, 8], "replay from 0 on node %d" % node_id)
        check_equal(cluster.request(node_id, replay_get("user/bob", 9, token=bob)),
                    {"success": True, "events": [], "next_seq": 9}, "replay past the newest event on node %d" % node_id)
        check_equal(cluster.request(node_id, replay_get("conv/bob/nobody", 1, token=bob)),
                    {"success": True, "events": [], "next_seq": 1},
                    "replay of a stream without events on node %d" % node_id)

    # the protobuf dialect: Request{replay = 15: Replay{stream = 1, from_seq = 2}}
    # with Request.token = 3 (a private stream's replay needs a party's token)
    stream = b"user/bob"
    replay = bytes([(1 << 3) | 2, len(stream)]) + stream + bytes([(2 << 3) | 0, 1])
    token = bytes([(3 << 3) | 2, len(bob)]) + bob.encode()
    body = cluster.raw(leader, token + bytes([(15 << 3) | 2, len(replay)]) + replay)
    check(body is not None, "no reply to a protobuf Replay")
    reply = protobuf_fields(body)
    check_equal((reply.get(1, [0])[-1], reply.get(7, [0])[-1]), (3, 4),
                "code (NOT_FOUND = 3) and oldest_seq of a protobuf Replay from seq 1")
    _wait_same_state(cluster, cluster.ids)
