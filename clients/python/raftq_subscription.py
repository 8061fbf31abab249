"""raftq_subscription — follows one event stream (DESIGN 6) of a raftq
cluster from Python, with pyzmq and the JSON dialect only, and hands out
each event once, in seq order: what libraftq's raftq_subscription_t does.

    client = RaftqClient.from_config("config.json")
    client.login("bob", "secret")
    subscription = client.subscribe("user/bob", config_pub_endpoints("config.json"), from_seq=1)
    while True:
        kind, value = subscription.next(timeout=1.0)
        if kind == "event": print(value["seq"], value.get("text"))
        elif kind == "gap": print("lost", value)            # (first, last)
        elif kind == "revoked": break                        # the session ended
        elif kind == "error": print(value)                   # a refused replay; it keeps trying

How it keeps its promise:
- Events from the SUB and from replays go into one table of pending
  events by seq; next_seq is delivered next, anything below it or already
  pending is a duplicate. Gap detection is keyed on the event's "stream"
  and "seq", never on the first frame.
- A hole (next_seq missing while a later seq was seen) is filled by Replay
  on the client ports; NOT_FOUND with an oldest_seq above next_seq, or a
  replay starting later than asked, is reported as a gap, then delivery
  goes on after it.
- After a start from a seq, a move to another node and a confirmation it
  catches up: replays until an empty page.
- A live start (from_seq 0) first asks where the stream is now (a replay
  from past its end answers with "next_seq"), then goes on as a start from
  there: what is published while the SUB joins, or while a private
  subscription waits for its confirmation, is caught up, not lost. Until
  a node answers, the first event to arrive fixes the start.
- After `silence` seconds without a message it asks its node for its
  status; a silent node, or one without a leader, is left for the next.
- Private streams (user/, conv/) need a session token of their user (for
  conv/, of either party): the SUB subscribes to "<stream>#<token>" (the
  broker serves those streams to nothing else and sends their events with
  that string as first frame) and replays carry the token. The broker
  confirms with a seq-0 "subscribed" event; without it the SUB subscribes
  again after CONFIRM_MIN_S, then after waits that double up to
  CONFIRM_MAX_S (the node may not have applied the login yet, and only a
  subscribe made after that is applied). A seq-0 "revoked" (logout,
  expiry, account deletion) ends the subscription: what is in order is
  handed out, then "revoked".
  Seq-0 events are control, never data.
"""

import json
import time

import zmq

from raftq_client import RaftqClient, RaftqError

CONFIRM_MIN_S = 0.05          # first wait for "subscribed" before subscribing again
CONFIRM_MAX_S = 1.0           # the waits double up to this
REPLAY_LIMIT = 256            # events one replay asks for
BACKOFF_MIN_S = 0.02          # first pause after a replay that brought nothing
BACKOFF_MAX_S = 1.0           # pauses double up to this
RECEIVE_HIGH_WATER = 10000    # SUB queue: above libzmq's default for bursts
REFUSAL_GRACE_S = 2.0          # replays refused this long before a private stream's token counts as refused
REFUSALS = ("UNAUTHENTICATED", "PERMISSION_DENIED", "INVALID_ARGUMENT")


def is_private(stream):
    """user/ and conv/ streams are served only with a session token."""
    return stream.startswith("user/") or stream.startswith("conv/")


class Subscription:
    """One stream followed on any node. Not thread-safe: one per thread."""

    def __init__(self, endpoints, pub_endpoints, stream, from_seq=0, token=None, silence=1.0,
                 curve=None, context=None):
        """endpoints[i] and pub_endpoints[i] are node i's client and PUB
        endpoints ("" or None: no PUB); curve: a raftq_client.CurveKeys
        keyed by the client endpoints, or None. from_seq 0 starts live."""
        if not stream:
            raise ValueError("no stream")
        if len(pub_endpoints) != len(endpoints) or not any(pub_endpoints):
            raise ValueError("give one PUB endpoint per node, at least one of them real")
        self.stream = stream                  # the stream key
        self.endpoints = list(endpoints)      # client endpoints: replays, probes
        self.pub_endpoints = [endpoint or "" for endpoint in pub_endpoints]
        self.silence = silence                # quiet seconds before a probe
        self.curve = curve                    # CurveKeys or None
        self.context = context or zmq.Context.instance()
        self.client = RaftqClient(self.endpoints, timeout=silence, attempt_timeout=silence / 2,
                                  context=self.context, curve=curve)
        self.topic = stream                   # what the SUB subscribes to
        self.next_seq = from_seq              # seq delivered next; 0 until a live start knows its start
        self.highest_seen = 0                 # highest seq any node or replay showed
        self.pending = {}                     # seq -> event, seq >= next_seq
        self.catching_up = False              # replay until an empty page
        self.replay_at = 0.0                  # earliest time of the next replay
        self.backoff = BACKOFF_MIN_S          # pause after the next empty replay
        self.heard_at = 0.0                   # last sign of life of the followed node
        self.confirmed = False                # the node said "subscribed" (private streams)
        self.granted = False                  # some node confirmed this token once
        self.refused_since = None             # first of the replay refusals in a row (monotonic)
        self.subscribed_at = 0.0              # when the SUB last subscribed
        self.confirm_wait = CONFIRM_MIN_S     # wait for "subscribed" before subscribing again
        self.revoked = False                  # the node said "revoked": over
        self.token_told = False               # the caller heard a private stream needs a token
        self.error = ""                       # text of the last failure
        self.socket = None                    # the SUB
        self.node = None                      # index of the followed node
        first = next(node for node, endpoint in enumerate(self.pub_endpoints) if endpoint)
        self.set_token(token)
        if not self._follow(first):
            self.client.close()
            raise ValueError(self.error)
        if self._live_start_askable():
            self._start_live()

    def close(self):
        if self.socket is not None:
            self.socket.close(0)
            self.socket = None
        self.client.close()

    # --- the SUB

    def set_token(self, token):
        """The session token: with replays, and in the subscription of a
        private stream ("<stream>#<token>"). Again after "revoked" to go
        on with a fresh session."""
        self.client.token = token or None
        if not is_private(self.stream):
            return
        old_topic, self.topic = self.topic, ("%s#%s" % (self.stream, token) if token else self.stream)
        self.revoked = False
        self.granted = False
        if self.socket is not None:
            self._subscribe_again(old_topic)
            self.confirm_wait = CONFIRM_MIN_S
            if self._live_start_askable():
                self._start_live()

    def _subscribe_again(self, old_topic):
        """Unsubscribe, subscribe: the node decides on it afresh."""
        self.socket.setsockopt(zmq.UNSUBSCRIBE, old_topic.encode("utf-8"))
        self.socket.setsockopt(zmq.SUBSCRIBE, self.topic.encode("utf-8"))
        self.subscribed_at = time.monotonic()
        self.confirmed = False

    def _follow(self, node):
        """A new SUB on node's PUB in place of the old one. False (error
        set, the old SUB kept) when it cannot be made."""
        socket = self.context.socket(zmq.SUB)
        socket.setsockopt(zmq.LINGER, 0)
        socket.setsockopt(zmq.RCVHWM, RECEIVE_HIGH_WATER)
        try:
            if self.curve is not None:
                # a node's PUB port has the key of its client port
                key = self.curve.server_keys.get(self.endpoints[node])
                if key is None:
                    raise ValueError("%s: no CURVE public key known" % self.endpoints[node])
                socket.curve_secretkey = self.curve.secret
                socket.curve_publickey = self.curve.public
                socket.curve_serverkey = key
            socket.setsockopt(zmq.SUBSCRIBE, self.topic.encode("utf-8"))
            socket.connect(self.pub_endpoints[node])
        except (ValueError, zmq.ZMQError) as error:
            socket.close(0)
            self.error = "%s: %s" % (self.pub_endpoints[node], error)
            return False
        if self.socket is not None:
            self.socket.close(0)
        self.socket, self.node = socket, node
        self.heard_at = self.subscribed_at = time.monotonic()
        self.confirm_wait = CONFIRM_MIN_S
        self.confirmed = False
        # what was published before the SUB joined comes only by replay
        self._catch_up()
        return True

    def _move_on(self):
        count = len(self.pub_endpoints)
        for step in range(1, count + 1):
            node = (self.node + step) % count
            if self.pub_endpoints[node] and self._follow(node):
                return

    def _catch_up(self):
        self.catching_up = self.next_seq > 0
        self.replay_at = time.monotonic()
        self.backoff = BACKOFF_MIN_S

    def _accept(self, event):
        """Takes an event into pending, or drops it (not ours, duplicate)."""
        seq = event.get("seq")
        if event.get("stream") != self.stream or not isinstance(seq, int) or seq <= 0:
            return
        self.highest_seen = max(self.highest_seen, seq)
        if (self.next_seq and seq < self.next_seq) or seq in self.pending:
            return
        self.pending[seq] = event

    def _control(self, event):
        if event.get("kind") == "subscribed":
            self.confirmed = True
            self.granted = True
            # published before the node applied the subscription: by replay
            self._catch_up()
        elif event.get("kind") == "revoked":
            self.revoked = True
            self.error = "%s: the session token was revoked (logout, expiry or account deletion)" \
                % self.stream

    def _drain(self):
        """Reads what the SUB holds: [topic][Event protobuf][Event JSON]."""
        received = 0
        while received < 1000 and self.socket.poll(0):
            frames = self.socket.recv_multipart()
            received += 1
            if len(frames) < 3 or frames[0] != self.topic.encode("utf-8"):
                continue
            try:
                event = json.loads(frames[2].decode("utf-8"))
            except ValueError:
                continue
            if not isinstance(event, dict):
                continue
            if event.get("seq") == 0 and event.get("stream") == self.stream:
                self._control(event)
            else:
                self._accept(event)
        if received:
            self.heard_at = time.monotonic()
        return received

    # --- repair

    def _deliverable(self):
        if not self.pending:
            return None
        first = min(self.pending)
        return first if self.next_seq == 0 or first == self.next_seq else None

    def _replay_needed(self):
        if self.next_seq == 0:
            return self._live_start_askable()     # where the stream is: _start_live
        return self.catching_up or self.highest_seen >= self.next_seq

    def _live_start_askable(self):
        """A live start can ask where the stream is (a private stream's
        replay needs the token)."""
        return self.next_seq == 0 and (not is_private(self.stream) or self.topic != self.stream)

    def _pace_replays(self, progress):
        """The next replay at once after progress, else after a backoff
        that doubles."""
        now = time.monotonic()
        if progress:
            self.backoff, self.replay_at = BACKOFF_MIN_S, now
        else:
            self.replay_at = now + self.backoff
            self.backoff = min(self.backoff * 2, BACKOFF_MAX_S)

    def _start_live(self):
        """Fixes where a live start begins: the seq the stream's next event
        gets, which a replay from past its end tells. From there nothing is
        missed while the SUB joins or a node has yet to confirm a private
        subscription; until a node tells, the first event to arrive fixes
        it."""
        try:
            told = self.client.stream_next_seq(self.stream)
        except RaftqError as error:
            self.error = "where %s is now: %s" % (self.stream, error)
            told = 0
        # nothing is pending while next_seq is 0: next() hands out at once
        # whatever arrives first
        if told:
            self.next_seq = told
            self.catching_up = True
        self._pace_replays(bool(told))

    def _gap(self, resume):
        gap = (self.next_seq, resume - 1)
        self.error = "%s: events %d-%d are no longer retained by the cluster" % ((self.stream,) + gap)
        self.next_seq = resume
        for seq in [seq for seq in self.pending if seq < resume]:
            del self.pending[seq]
        return ("gap", gap)

    def _replay(self):
        """Asks for the stream from next_seq; returns what the caller must
        hear (a gap or an error) or None."""
        result = None
        try:
            events = self.client.replay(self.stream, self.next_seq, REPLAY_LIMIT)
            self.refused_since = None
            usable = [event.get("seq") for event in events
                      if event.get("stream") == self.stream and isinstance(event.get("seq"), int)
                      and event["seq"] >= self.next_seq]
            for event in events:
                self._accept(event)
            # a short page may be a byte limit: only an empty one is the end
            if not events:
                self.catching_up = False
            if usable and min(usable) > self.next_seq:
                result = self._gap(min(usable))
        except RaftqError as error:
            oldest = (error.reply or {}).get("oldest_seq", 0)
            if error.code == "NOT_FOUND" and oldest > self.next_seq:
                result = self._gap(oldest)
            elif error.code == "NOT_FOUND":
                self.catching_up = False      # nothing published from next_seq on yet
            else:
                self.error = "replay of %s from %d: %s" % (self.stream, self.next_seq, error)
                # only a refusal is the caller's business; silence is waited
                # out. A refused token some node once confirmed has ended:
                # the end a "revoked" event brings, which a subscriber
                # moving between nodes may never see; one never confirmed
                # is the caller's mistake, an error
                refused = error.code in ("UNAUTHENTICATED", "PERMISSION_DENIED")
                now = time.monotonic()
                if refused and is_private(self.stream) and self.topic != self.stream:
                    # the node that answers may not have applied a fresh
                    # login yet: only a refusal that lasts counts
                    self.refused_since = self.refused_since or now
                    if now - self.refused_since < REFUSAL_GRACE_S:
                        pass
                    elif self.granted:
                        self.revoked = True
                    else:
                        result = ("error", self.error)
                elif error.code in REFUSALS:
                    result = ("error", self.error)
        self._pace_replays((result is not None and result[0] == "gap") or self._deliverable() is not None)
        return result

    def _probe(self):
        """The node was quiet for the silence: alive, with a leader? Else
        the next node."""
        endpoint = self.endpoints[self.node]
        status = self.client.status(endpoint, self.silence / 2)
        if isinstance(status, dict) and status.get("leader"):
            self.heard_at = time.monotonic()
            self.catching_up = self.next_seq > 0
            return
        self.error = "%s %s: moving on" % (self.pub_endpoints[self.node],
                                           "knows no leader" if status else "is silent")
        self._move_on()

    def _unconfirmed(self):
        return is_private(self.stream) and self.topic != self.stream and not self.confirmed

    def _wait(self, now):
        """Seconds until a timer is due."""
        wait = self.heard_at + self.silence - now
        if self._replay_needed():
            wait = min(wait, self.replay_at - now)
        if self._unconfirmed():
            wait = min(wait, self.subscribed_at + self.confirm_wait - now)
        return max(0.0, wait)

    # --- the caller's side

    def next(self, timeout=None):
        """Waits up to timeout seconds (None: until something happens) for
        the next thing to report: ("event", event dict), ("gap", (first,
        last)), ("error", text), ("revoked", text), or (None, None)."""
        if is_private(self.stream) and self.topic == self.stream and not self.token_told:
            self.token_told = True
            self.error = "%s is private: it needs a session token of its user" % self.stream
            return ("error", self.error)
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            first = self._deliverable()
            if first is not None:
                self.next_seq = first + 1
                return ("event", self.pending.pop(first))
            if self.revoked:
                return ("revoked", self.error)
            if self._drain():
                continue
            now = time.monotonic()
            if self._replay_needed() and now >= self.replay_at and self.next_seq == 0:
                self._start_live()
                continue
            if self._replay_needed() and now >= self.replay_at:
                result = self._replay()
                if result is not None:
                    return result
                continue
            if self._unconfirmed() and now - self.subscribed_at >= self.confirm_wait:
                self._subscribe_again(self.topic)
                self.confirm_wait = min(self.confirm_wait * 2, CONFIRM_MAX_S)
                continue
            if now - self.heard_at >= self.silence:
                self._probe()
                continue
            if deadline is not None and now >= deadline:
                return (None, None)
            wait = self._wait(now)
            if deadline is not None:
                wait = min(wait, deadline - now)
            self.socket.poll(int(wait * 1000) + 1)

    def endpoint(self):
        """PUB endpoint of the node followed now."""
        return self.pub_endpoints[self.node]
