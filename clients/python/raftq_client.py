"""raftq_client — a small Python client of a raftq cluster, over pyzmq and
the JSON dialect of the client port (DESIGN 5.2). It needs nothing of
raftq's own code: pyzmq (Debian: python3-zmq) and the standard library. It
is the proof that any ZeroMQ client can use the cluster.

    client = RaftqClient.from_config("config.json")   # or RaftqClient([endpoints])
    job = client.reserve("jobs", visibility_ms=5000, wait_ms=1000)  # message, receipt
    client.ack(job["receipt"])                         # done: it is gone for good
    client.create_account("alice", "secret")
    token, unread = client.login("alice", "secret")    # the client keeps the token
    message_id = client.send_message("bob", "hello")
    page = client.read_messages()                      # unread, which become read
    client.close()

How it behaves:
- One DEALER per node; a request is [empty][JSON] (the REQ envelope), so
  replies come back the same way.
- Leader finding: it asks every node's status and takes the one that says
  Leader in the highest term; a NOT_LEADER failure's "leader" hint is
  followed at once; silence, NO_LEADER, UNAVAILABLE and TIMEOUT send it to
  look again, with a short growing pause.
- Every logical request carries the client's random client_id and its own
  seq, unchanged across retries, so the cluster applies it once however
  often it is resent (exactly-once).
- A node that stays silent for the attempt timeout has its socket closed:
  a late reply can never be taken for the answer to a later request.
- CurveZMQ: when a cluster requires it on its client ports (config
  client_curve), give each node's public key and the client's key pair:
  RaftqClient(endpoints, server_keys=[Z85, ...], client_certificate=PATH),
  or RaftqClient.from_config(path), which reads the nodes' certificate
  files (czmq's text format) or public_key and honours client_curve,
  $RAFTQ_CLIENT_CERTIFICATE and client_certificate. Without a client
  certificate the client makes itself a fresh key pair (accepted by a
  cluster with client_curve true, not by an allow-list). A node that
  refuses the handshake stays silent: requests end in TIMEOUT.
- Failures raise RaftqError with the code name of DESIGN 5.1. The four
  RRMQ requests (create_topic, topics, publish, pop) fail as a bare
  {"success": false} by contract, whatever the reason (topic exists,
  queue empty, no such topic): their RaftqError code is "FAILED".
"""

import json
import os
import random
import time

import zmq
from zmq.utils import z85

TRANSIENT_CODES = {"NOT_LEADER", "NO_LEADER", "UNAVAILABLE", "TIMEOUT"}
BACKOFF_MIN_S = 0.01
BACKOFF_MAX_S = 0.2


class RaftqError(Exception):
    """A request failed: code is a DESIGN 5.1 code name, message the node's
    text, reply the node's whole failure object (None without one), for
    keys such as a replay's oldest_seq."""

    def __init__(self, code, message, reply=None):
        Exception.__init__(self, "%s: %s" % (code, message))
        self.code = code
        self.message = message
        self.reply = reply


def config_endpoints(path):
    """Client endpoints of a config file, raftq form (nodes[].host and
    client_port) or RRMQ form (addresses[].ip and port)."""
    with open(path, "rb") as handle:
        document = json.loads(handle.read().decode("utf-8"))
    if "nodes" in document:
        return ["tcp://%s:%d" % (node.get("host", "127.0.0.1"), node["client_port"])
                for node in document["nodes"]]
    endpoints = []
    for address in document["addresses"]:
        host = address["ip"]
        for scheme in ("http://", "https://", "tcp://"):
            if host.startswith(scheme):
                host = host[len(scheme):]
        endpoints.append("tcp://%s:%d" % (host.rstrip("/"), address["port"]))
    return endpoints


def config_pub_endpoints(path):
    """PUB endpoints of a config file's nodes, in the order of
    config_endpoints ("" for a node without pub_port; the RRMQ form has
    none)."""
    with open(path, "rb") as handle:
        document = json.loads(handle.read().decode("utf-8"))
    return ["tcp://%s:%d" % (node.get("host", "127.0.0.1"), node["pub_port"]) if node.get("pub_port")
            else "" for node in document.get("nodes", [])]


def certificate_keys(path):
    """The CURVE keys of a czmq certificate (its text format: a "curve"
    section with public-key and secret-key, values quoted Z85): a dict
    with "public-key", and "secret-key" when the file has it. Raises
    ValueError when the file holds no public key, OSError when it cannot
    be read."""
    keys, section = {}, None
    with open(path, "r", encoding="utf-8") as handle:
        for line in handle:
            text = line.rstrip()
            # a comment is a whole line: Z85 values may hold '#'
            if not text.strip() or text.strip().startswith("#"):
                continue
            if not text[0].isspace():
                section = text.strip()
                continue
            name, _, value = text.strip().partition("=")
            if section == "curve" and name.strip() in ("public-key", "secret-key"):
                keys[name.strip()] = value.strip().strip('"')
    if len(keys.get("public-key", "")) != 40:
        raise ValueError("%s: not a CURVE certificate (no 40-character public-key)" % path)
    return keys


def load_key_pair(path):
    """(public, secret) Z85 keys, as bytes, of the certificate at path: the
    public part from path, the secret from path + "_secret", as `raftq
    keygen` writes them. Raises ValueError or OSError saying which file."""
    public = certificate_keys(path)["public-key"]
    secret_keys = certificate_keys(path + "_secret")
    secret = secret_keys.get("secret-key", "")
    if len(secret) != 40 or secret_keys["public-key"] != public \
            or zmq.curve_public(secret.encode("ascii")) != public.encode("ascii"):
        raise ValueError("%s_secret: no secret key matching the public key of %s" % (path, path))
    return public.encode("ascii"), secret.encode("ascii")


def check_key(key, what):
    """key (str or bytes) as bytes when it is a Z85 CURVE public key, else
    ValueError naming what."""
    text = key.decode("ascii", "replace") if isinstance(key, bytes) else str(key)
    try:
        if len(text) == 40 and len(z85.decode(text)) == 32:
            return text.encode("ascii")
    except (ValueError, KeyError, UnicodeError):
        pass
    raise ValueError("%s: %r is not a CURVE public key (40 Z85 characters)" % (what, text[:64]))


class CurveKeys:
    """What a client needs to talk CurveZMQ: each node's public key, by
    endpoint, and the client's own key pair (from a certificate, or fresh)."""

    def __init__(self, server_keys, client_certificate=None):
        self.server_keys = {endpoint: check_key(key, endpoint)     # endpoint -> Z85 bytes
                            for endpoint, key in dict(server_keys).items()}
        if client_certificate:
            self.public, self.secret = load_key_pair(client_certificate)
        else:
            self.public, self.secret = zmq.curve_keypair()

    def apply(self, socket, endpoint):
        """Makes socket, before it connects to endpoint, a CURVE client of
        that node. ValueError when its key is not known."""
        key = self.server_keys.get(endpoint)
        if key is None:
            raise ValueError("%s: no CURVE public key known for this node" % endpoint)
        socket.curve_secretkey = self.secret
        socket.curve_publickey = self.public
        socket.curve_serverkey = key


def _beside(config_path, name):
    """A file name of the config, from the config's directory unless absolute."""
    return os.path.join(os.path.dirname(os.path.abspath(config_path)), name)


def config_curve(path, client_certificate=None):
    """The CurveKeys a client of the config at path must use, or None when
    its client_curve is off (false or absent). Each node's key comes from
    its "certificate" file or its "public_key"; the client's key pair from
    client_certificate, else $RAFTQ_CLIENT_CERTIFICATE, else the config's
    client_certificate, else a fresh pair."""
    with open(path, "rb") as handle:
        document = json.loads(handle.read().decode("utf-8"))
    setting = document.get("client_curve", False)
    if setting is False or "nodes" not in document:
        return None
    keys = {}
    for position, (node, endpoint) in enumerate(zip(document["nodes"], config_endpoints(path))):
        if "certificate" in node:
            keys[endpoint] = certificate_keys(_beside(path, node["certificate"]))["public-key"]
        elif "public_key" in node:
            keys[endpoint] = node["public_key"]
        else:
            raise ValueError("%s: nodes[%d]: client_curve is on but the node names no certificate "
                             "or public_key" % (path, position))
    certificate = client_certificate or os.environ.get("RAFTQ_CLIENT_CERTIFICATE")
    if not certificate and document.get("client_certificate"):
        certificate = _beside(path, document["client_certificate"])
    return CurveKeys(keys, certificate)


class SocketPool:
    """One socket of one type per endpoint, connected on first use with
    linger 0. Its user drops a socket that met silence: the next request
    to that endpoint gets a fresh one, so a late reply can never be read
    as the answer to a later request (and a REQ socket is never left stuck
    waiting). tools/raftq_cluster.py uses it too."""

    def __init__(self, context, socket_type, curve=None):
        self.context = context          # where sockets come from
        self.socket_type = socket_type  # zmq.DEALER, zmq.REQ, ...
        self.curve = curve              # CurveKeys, or None: plaintext
        self.sockets = {}               # endpoint -> its socket

    def socket(self, endpoint):
        """The endpoint's socket, made and connected if it has none."""
        socket = self.sockets.get(endpoint)
        if socket is None:
            socket = self.context.socket(self.socket_type)
            socket.setsockopt(zmq.LINGER, 0)
            try:
                if self.curve is not None:
                    self.curve.apply(socket, endpoint)
            except ValueError:
                socket.close(0)
                raise
            socket.connect(endpoint)
            self.sockets[endpoint] = socket
        return socket

    def existing(self, endpoint):
        """The endpoint's socket, or None if it has none now."""
        return self.sockets.get(endpoint)

    def drop(self, endpoint):
        socket = self.sockets.pop(endpoint, None)
        if socket is not None:
            socket.close(0)

    def close(self):
        for endpoint in list(self.sockets):
            self.drop(endpoint)


class RaftqClient:
    """A client of one cluster. Not thread-safe: one per thread."""

    def __init__(self, endpoints, timeout=5.0, attempt_timeout=1.0, context=None,
                 server_keys=None, client_certificate=None, curve=None):
        """server_keys: the Z85 public key of each endpoint, same order,
        to talk CurveZMQ (client_certificate: the client's key pair file);
        or curve, a CurveKeys made already. Neither: plaintext."""
        if not endpoints:
            raise ValueError("no endpoints")
        if server_keys is not None:
            if len(server_keys) != len(endpoints):
                raise ValueError("give one server key per endpoint")
            curve = CurveKeys(zip(endpoints, server_keys), client_certificate)
        self.endpoints = list(endpoints)        # nodes' client endpoints; hints may add more
        self.timeout = timeout                  # seconds a request keeps trying
        self.attempt_timeout = attempt_timeout  # seconds one node gets to answer
        self.context = context or zmq.Context.instance()
        # JSON numbers are signed 64-bit on the nodes: stay below 2^63.
        self.client_id = random.SystemRandom().randrange(1, 2 ** 63)
        self.seq = 0                            # last seq used; a retry reuses it
        self.token = None                       # chat session token, after login
        self.leader = None                      # endpoint that last served a request
        self._sockets = SocketPool(self.context, zmq.DEALER, curve)  # a DEALER per node

    @classmethod
    def from_config(cls, path, client_certificate=None, **options):
        """A client of the nodes of the config at path, with CurveZMQ when
        its client_curve says so (see config_curve)."""
        return cls(config_endpoints(path), curve=config_curve(path, client_certificate), **options)

    def close(self):
        self._sockets.close()

    # --- transport

    def _exchange(self, endpoint, message, timeout):
        """Sends message to endpoint; returns its JSON reply, or None when
        none came in time (the socket is then dropped)."""
        socket = self._sockets.socket(endpoint)
        socket.send_multipart([b"", json.dumps(message).encode("utf-8")])
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not socket.poll(int(left * 1000) + 1):
                self._sockets.drop(endpoint)
                return None
            frames = socket.recv_multipart()
            if len(frames) != 2 or frames[0] != b"":
                continue            # not a reply in our envelope
            try:
                reply = json.loads(frames[1].decode("utf-8"))
            except ValueError:
                continue
            if isinstance(reply, dict):
                return reply

    # --- leader finding

    def status(self, endpoint, timeout=None):
        """The JSON status of one node, or None if it is silent."""
        return self._exchange(endpoint, {"type": "status", "method": "GET"},
                              self.attempt_timeout if timeout is None else timeout)

    def find_leader(self):
        """Asks every node at once; returns the endpoint of the first that
        says it leads, or None. A stale leader is possible: its NOT_LEADER
        hint then leads on."""
        sockets = {}
        for endpoint in self.endpoints:
            socket = self._sockets.socket(endpoint)
            socket.send_multipart([b"", b'{"type":"status","method":"GET"}'])
            sockets[socket] = endpoint
        poller = zmq.Poller()
        for socket in sockets:
            poller.register(socket, zmq.POLLIN)
        answered = set()
        leader = None
        deadline = time.monotonic() + self.attempt_timeout
        while leader is None and len(answered) < len(sockets):
            left = deadline - time.monotonic()
            if left <= 0:
                break
            for socket, _ in poller.poll(int(left * 1000) + 1):
                frames = socket.recv_multipart()
                answered.add(sockets[socket])
                try:
                    answer = json.loads(frames[-1].decode("utf-8"))
                except ValueError:
                    continue
                if isinstance(answer, dict) and answer.get("role") == "Leader" and leader is None:
                    leader = sockets[socket]
        # A status answer still on its way must not pass for a later reply.
        for endpoint in self.endpoints:
            if endpoint not in answered:
                self._sockets.drop(endpoint)
        return leader

    # --- requests

    def request(self, message, wait=0.0):
        """Sends one logical request until a node answers it definitively;
        returns the success reply or raises RaftqError. wait: seconds a
        leader may park the request (a RESERVE or GET with wait_ms), which
        every attempt and the whole request get on top of their timeouts."""
        self.seq += 1
        message = dict(message, client_id=self.client_id, seq=self.seq)
        deadline = time.monotonic() + self.timeout + wait
        target = self.leader
        backoff = BACKOFF_MIN_S
        last = RaftqError("TIMEOUT", "no reply within %.1f s" % self.timeout)
        position = 0
        while time.monotonic() < deadline:
            if target is None:
                target = self.find_leader() or self.endpoints[position % len(self.endpoints)]
                position += 1
            attempt = min(self.attempt_timeout + wait, max(0.01, deadline - time.monotonic()))
            reply = self._exchange(target, message, attempt)
            if reply is None:
                last = RaftqError("TIMEOUT", "%s: no reply within %.1f s" % (target, attempt))
                target = self.leader = None
                continue
            if reply.get("success") is True:
                self.leader = target
                return reply
            code = reply.get("code")
            hint = reply.get("leader")
            if code == "NOT_LEADER" and isinstance(hint, dict) and hint.get("endpoint") \
                    and hint["endpoint"] != target:
                if hint["endpoint"] not in self.endpoints:
                    self.endpoints.append(hint["endpoint"])
                target = hint["endpoint"]
                continue
            if code is None:
                # The RRMQ requests fail as a bare {"success": false}, from
                # a follower too: only the leader's is an answer.
                status = self.status(target)
                if status is not None and status.get("role") == "Leader":
                    raise RaftqError("FAILED", "the leader refused %s" % message.get("type"))
                code = "NOT_LEADER"
            if code not in TRANSIENT_CODES:
                self.leader = target
                raise RaftqError(code, reply.get("error", ""), reply)
            last = RaftqError(code, reply.get("error", ""))
            target = self.leader = None
            time.sleep(min(backoff, max(0.0, deadline - time.monotonic())))
            backoff = min(backoff * 2, BACKOFF_MAX_S)
        raise last

    def _session(self):
        if not self.token:
            raise RaftqError("UNAUTHENTICATED", "not logged in")
        return self.token

    # --- queues

    def create_topic(self, topic, max_deliveries=0, dead_letter=None):
        """With max_deliveries and dead_letter (an existing topic): a
        message reserved that many times without an ack moves there."""
        message = {"type": "topic", "method": "PUT", "topic": topic}
        if max_deliveries or dead_letter:
            message.update(max_deliveries=max_deliveries, dead_letter=dead_letter)
        self.request(message)

    def topics(self):
        return self.request({"type": "topic", "method": "GET"})["topics"]

    def publish(self, topic, message):
        self.request({"type": "message", "method": "PUT", "topic": topic, "message": message})

    def pop(self, topic, wait_ms=0):
        """The oldest message of topic, removed; RaftqError FAILED when the
        topic is empty or missing. wait_ms: the leader waits up to that long
        for a message when there is none."""
        message = {"type": "message", "method": "GET", "topic": topic}
        if wait_ms:
            message["wait_ms"] = wait_ms
        return self.request(message, wait_ms / 1000.0)["message"]

    def reserve(self, topic, visibility_ms=None, wait_ms=0):
        """Reserves the oldest ready message of topic for visibility_ms
        (None: the cluster's default, 30 s), waiting up to wait_ms for one.
        Returns the reply: message, receipt (for ack and nack), deliveries
        (this one included). RaftqError EMPTY when none came."""
        message = {"type": "message", "method": "RESERVE", "topic": topic, "wait_ms": wait_ms}
        if visibility_ms is not None:
            message["visibility_ms"] = visibility_ms
        return self.request(message, wait_ms / 1000.0)

    def ack(self, receipt):
        """Done with a reserved message: it is gone. RaftqError NOT_FOUND
        when the receipt is unknown or its visibility time ended."""
        self.request({"type": "message", "method": "ACK", "receipt": receipt})

    def nack(self, receipt, delay_ms=0):
        """Gives a reserved message back, ready again after delay_ms."""
        self.request({"type": "message", "method": "NACK", "receipt": receipt, "delay_ms": delay_ms})

    # --- chat

    def create_account(self, user, password):
        self.request({"type": "account", "method": "PUT", "user": user, "password": password})

    def list_accounts(self, pattern="*", page=1, page_size=20):
        """(names, total) of the accounts matching the glob pattern."""
        reply = self.request({"type": "account", "method": "GET", "pattern": pattern,
                              "page": page, "page_size": page_size})
        return reply["accounts"], reply["total"]

    def login(self, user, password):
        """Logs in; keeps the token. Returns (token, unread count)."""
        reply = self.request({"type": "login", "method": "PUT", "user": user, "password": password})
        self.token = reply["token"]
        return reply["token"], reply.get("unread", 0)

    def logout(self):
        self.request({"type": "login", "method": "DELETE", "token": self._session()})
        self.token = None

    def send_message(self, to, text):
        """Sends text to the account to; returns the message id."""
        reply = self.request({"type": "chat", "method": "PUT", "token": self._session(),
                              "to": to, "text": text})
        return reply["id"]

    def read_messages(self, partner=None, page=1, page_size=20):
        """Unread messages (partner None; they become read) or the
        conversation with partner: {"messages": [...], "total", "remaining"}."""
        message = {"type": "chat", "method": "GET", "token": self._session(),
                   "page": page, "page_size": page_size}
        if partner:
            message["with"] = partner
        reply = self.request(message)
        return {"messages": reply["messages"], "total": reply["total"], "remaining": reply["remaining"]}

    def delete_messages(self, ids):
        reply = self.request({"type": "chat", "method": "DELETE", "token": self._session(),
                              "ids": list(ids)})
        return reply["deleted"]

    def delete_account(self):
        self.request({"type": "account", "method": "DELETE", "token": self._session()})
        self.token = None

    def replay(self, stream, from_seq=1, limit=100):
        """Retained events of stream from from_seq (DESIGN 6 JSON events).
        user/ and conv/ streams need the session of a party: the client's
        token goes with the request when it has one."""
        return self._replay_reply(stream, from_seq, limit)["events"]

    def stream_next_seq(self, stream):
        """The seq stream's next event gets (0 from a node too old to
        say): a replay from past the end of any stream."""
        return self._replay_reply(stream, 2 ** 63 - 1, 1).get("next_seq", 0)

    def _replay_reply(self, stream, from_seq, limit):
        message = {"type": "replay", "method": "GET", "stream": stream, "from": from_seq,
                   "limit": limit}
        if self.token:
            message["token"] = self.token
        return self.request(message)

    def subscribe(self, stream, pub_endpoints, from_seq=0, silence=1.0):
        """A raftq_subscription.Subscription to stream over this client's
        nodes (pub_endpoints in the same order, e.g. config_pub_endpoints),
        with its CURVE keys and its session token (needed for user/ and
        conv/ streams)."""
        from raftq_subscription import Subscription
        # hints the client followed come after the configured nodes
        return Subscription(self.endpoints[:len(pub_endpoints)], pub_endpoints, stream, from_seq=from_seq,
                            token=self.token, silence=silence, curve=self._sockets.curve,
                            context=self.context)
