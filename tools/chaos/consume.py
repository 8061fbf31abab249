"""consume — the consume workload: acknowledged consumption under faults.
Clients publish unique values ("<client>-<counter>", as the queue workload
does) and consume them: each consumption reserves the oldest ready message
of a topic for a short visibility time, then acks it, nacks it (at once or
with a short delay), or "crashes": drops the reservation and never answers,
so the message must come back once its visibility time ends. One topic
makes dead letters: its messages are crashed on and nacked more often, and
one reserved MAX_DELIVERIES times without an ack moves to the dead-letter
topic, which the clients consume too. Some reserves wait (wait_ms) for a
message instead of taking EMPTY at once.

After the faults the drain reserves and acks every topic until the
leader's status says no topic holds a message ready, reserved or delayed
(reservations of crashed consumers end by their visibility time).

History records, besides publish (workload.operation_record):
  reserve  topic, visibility_ms, wait_ms; when answered OK: value, receipt,
           deliveries (this one included), and for a dead letter
           original_topic and original_deliveries
  ack      topic, value, receipt (of the reserve it settles)
  nack     the same and delay_ms
  crash    topic, value, receipt: the reservation was dropped (no request)
"""

import threading
import time

import raftq_wire as wire

from .workload import ask_status, base_record, operation_record, publish

MAX_DELIVERIES = 3
DEAD_LETTER_TOPIC = "consume-dead"
POISON_TOPIC = "consume-poison"          # its messages move to DEAD_LETTER_TOPIC
PLAIN_TOPICS = ("consume-0", "consume-1")
VISIBILITY_MS = (500, 1500)              # a reservation lasts this long (random in range)
WAIT_MS = 300                            # a waiting reserve asks the leader to hold it this long
WAIT_CHANCE = 0.2                        # share of reserves that wait
NACK_DELAY_MS = (0, 300)                 # a nack makes the message ready again after this long
PUBLISH_CHANCE = 0.45                    # share of a client's steps that publish
# what a consumer does with a reservation: (crash, nack) chances, the rest acks
FATES = {"plain": (0.15, 0.15), "poison": (0.4, 0.3)}
DRAIN_VISIBILITY_MS = 10000              # the drain acks long before this
DRAIN_TIMEOUT_S = 45.0                   # the drain gives up after this long
STATUS_TIMEOUT_S = 1.0


def topics():
    """Every topic of the workload with (max_deliveries, dead_letter), in
    the order they must be created (a dead-letter topic first)."""
    return ([(DEAD_LETTER_TOPIC, 0, None), (POISON_TOPIC, MAX_DELIVERIES, DEAD_LETTER_TOPIC)]
            + [(name, 0, None) for name in PLAIN_TOPICS])


def topic_limits():
    """topic -> (max_deliveries, dead_letter or None), as the checker wants it."""
    return {name: (most, dead_letter) for name, most, dead_letter in topics()}


def reserve(session, history, topic, visibility_ms, wait_ms, budget_s, abort=None):
    invoked = session.clock()
    outcome, reply, attempts, codes = session.call(
        lambda client_id, seq: wire.reserve_request(client_id, seq, topic, visibility_ms, wait_ms),
        budget_s, abort)
    entry = operation_record(session, "reserve", topic, None, invoked, outcome, reply, attempts, codes)
    entry.update(visibility_ms=visibility_ms, wait_ms=wait_ms)
    if reply is not None and reply["code"] == "OK":
        entry.update(value=reply.get("payload", b"").decode("utf-8", "replace"),
                     receipt=reply.get("receipt"), deliveries=reply.get("deliveries", 0))
        if reply.get("original_topic"):
            entry.update(original_topic=reply["original_topic"],
                         original_deliveries=reply.get("original_deliveries", 0))
    history.record(entry)
    return entry


def settle(session, history, taken, budget_s, delay_ms=None, abort=None):
    """Acks the reservation taken (a reserve record), or nacks it with
    delay_ms when that is not None."""
    receipt = taken["receipt"]
    if delay_ms is None:
        kind, make = "ack", lambda client_id, seq: wire.ack_request(client_id, seq, receipt)
    else:
        kind, make = "nack", lambda client_id, seq: wire.nack_request(client_id, seq, receipt, delay_ms)
    invoked = session.clock()
    outcome, reply, attempts, codes = session.call(make, budget_s, abort)
    entry = base_record(session, kind, invoked, outcome, reply, attempts, codes)
    entry.update(topic=taken["topic"], value=taken["value"], receipt=receipt)
    if delay_ms is not None:
        entry["delay_ms"] = delay_ms
    history.record(entry)
    return entry


def crash(session, history, taken):
    """Records a dropped reservation: no request, the consumer is gone."""
    now = session.clock()
    history.record({"type": "op", "op": "crash", "process": session.name, "topic": taken["topic"],
                    "value": taken["value"], "receipt": taken["receipt"], "invoke": round(now, 6),
                    "complete": round(now, 6), "outcome": "ok"})


class ConsumeWorker(threading.Thread):
    """One client of the consume workload (see the module text). The
    operation under way when stop is set is still carried to a definite
    answer (within its budget); a reservation in hand is then settled."""

    def __init__(self, number, session, history, rng, budget_s, stop):
        super().__init__(name=session.name, daemon=True)
        self.number = number              # client number, the prefix of its values
        self.session = session            # identity, sockets, leader guess
        self.history = history            # where operations are recorded
        self.rng = rng                    # this client's own random.Random
        self.budget_s = budget_s          # retry budget of one operation
        self.stop = stop                  # threading.Event: start no new operation
        self.published = 0                # values this client has tried to publish
        self.error = None                 # an exception that ended the thread

    def _publish(self):
        self.published += 1
        topic = self.rng.choice((POISON_TOPIC,) + PLAIN_TOPICS)
        publish(self.session, self.history, topic, "%d-%d" % (self.number, self.published),
                self.budget_s)

    def _consume(self):
        topic = self.rng.choice([name for name, _, _ in topics()])
        wait_ms = WAIT_MS if self.rng.random() < WAIT_CHANCE else 0
        taken = reserve(self.session, self.history, topic, self.rng.randint(*VISIBILITY_MS), wait_ms,
                        self.budget_s)
        if taken["outcome"] != "ok" or taken.get("result") != "OK":
            return
        crash_chance, nack_chance = FATES["poison" if topic == POISON_TOPIC else "plain"]
        fate = self.rng.random()
        if fate < crash_chance:
            crash(self.session, self.history, taken)
        elif fate < crash_chance + nack_chance:
            settle(self.session, self.history, taken, self.budget_s,
                   delay_ms=self.rng.choice((0, self.rng.randint(*NACK_DELAY_MS))))
        else:
            settle(self.session, self.history, taken, self.budget_s)

    def run(self):
        try:
            while not self.stop.is_set():
                if self.rng.random() < PUBLISH_CHANCE:
                    self._publish()
                else:
                    self._consume()
        except Exception as error:  # reported by the campaign; the run goes on
            self.error = "%s: %s" % (type(error).__name__, error)
        finally:
            self.session.close()


def _queued(client, leader_endpoint, admin_secret):
    """topic -> ready + reserved + delayed, as the leader reports them; None
    without an answer."""
    status = ask_status(client, leader_endpoint, STATUS_TIMEOUT_S, admin_secret, detail=True)
    if not status or status.get("role") != "Leader" or status.get("topics") is None:
        return None
    return {topic["name"]: topic["ready"] + topic["reserved"] + topic["delayed"]
            for topic in status["topics"]}


def drain(session, history, leader, client, admin_secret, budget_s, interrupted):
    """Reserves and acks every topic of the workload until the leader says
    none holds a message. leader() gives the leader's endpoint or None.
    Returns the topics still holding messages at the deadline (empty when
    drained)."""
    names = [name for name, _, _ in topics()]
    deadline = time.monotonic() + DRAIN_TIMEOUT_S
    left = {name: None for name in names}
    while time.monotonic() < deadline and not interrupted.is_set():
        for name in names:
            while time.monotonic() < deadline:
                taken = reserve(session, history, name, DRAIN_VISIBILITY_MS, 0, budget_s)
                if taken["outcome"] != "ok" or taken.get("result") != "OK":
                    break
                settle(session, history, taken, budget_s)
        endpoint = leader()
        counts = _queued(client, endpoint, admin_secret) if endpoint else None
        if counts is not None:
            left = {name: counts.get(name) for name in names if counts.get(name) != 0}
            if not left:
                return {}
        # reservations of crashed consumers end by their visibility time
        time.sleep(0.2)
    return left
