"""selftest — the checkers (queue, chat, limits, consume) against synthetic histories
with one known flaw each (and clean ones), so a checker that stopped
catching its kind of bug cannot pass silently; the hand-written
protobuf decoder against replies built field by field; and raftq_wire's
field numbers against proto/raftq.proto (with altered copies of it, so
that the comparison is known to catch a change). `raftq-chaos
--self-test` runs it in well under a second; the closing line is
`N passed, N failed`.
"""

import raftq_wire as wire

from . import checker


class Builder:
    """Writes a synthetic history: operations with explicit times."""

    def __init__(self):
        self.ops = []                 # operation records, as workload writes them
        self.seqs = {}                # process -> its latest seq

    def op(self, process, kind, topic, value, invoke, complete, outcome="ok", result=None, position=None):
        self.seqs[process] = self.seqs.get(process, 0) + 1
        entry = {"type": "op", "process": process, "client_id": hash(process) & 0xFFFF,
                 "seq": self.seqs[process], "op": kind, "topic": topic, "value": value,
                 "invoke": invoke, "complete": complete, "outcome": outcome, "codes": []}
        if outcome == "ok":
            entry["result"] = result or ("OK" if value is not None or kind == "publish" else "EMPTY")
        if position is not None:
            entry["position"] = position
        self.ops.append(entry)
        return self

    def publish(self, process, value, invoke, complete, outcome="ok", topic="t", position=None):
        return self.op(process, "publish", topic, value, invoke, complete, outcome, position=position)

    def pop(self, process, value, invoke, complete, outcome="ok", topic="t", position=None):
        return self.op(process, "pop", topic, value if outcome == "ok" else None, invoke, complete,
                       outcome, position=position)

    def drain(self, values, start, topic="t"):
        """Sequential pops of values, then one EMPTY, from start on."""
        time = start
        for value in values:
            self.pop("drain-0", value, time, time + 0.5, topic=topic)
            time += 1
        self.pop("drain-0", None, time, time + 0.5, topic=topic)
        return self


def _clean():
    return (Builder()
            .publish("client-1", "1-1", 0, 1).publish("client-2", "2-1", 0.5, 1.5)
            .publish("client-1", "1-2", 2, 3)
            .pop("client-2", "2-1", 3.5, 4.5).pop("client-3", "1-1", 3.6, 4.6)
            .drain(["1-2"], 10))


CASES = [
    # name, history, expected non-zero counters (every other counter but acked
    # must be 0), and optionally the linearizability search budget
    ("clean history with concurrent publishes and pops", _clean(), {}),
    ("acked publish lost",
     Builder().publish("client-1", "1-1", 0, 1).publish("client-1", "1-2", 2, 3).drain(["1-1"], 10),
     {"lost": 1, "nonlinearizable": 1}),
    ("value delivered twice",
     Builder().publish("client-1", "1-1", 0, 1).pop("client-2", "1-1", 2, 3)
     .pop("client-3", "1-1", 4, 5).drain([], 10),
     {"duplicated": 1, "nonlinearizable": 1}),
    ("value nobody published",
     Builder().publish("client-1", "1-1", 0, 1).pop("client-2", "9-9", 2, 3).drain(["1-1"], 10),
     {"unexpected": 1, "nonlinearizable": 1}),
    ("value whose publish certainly failed",
     Builder().publish("client-1", "1-1", 0, 1, outcome="fail").pop("client-2", "1-1", 2, 3).drain([], 10),
     {"unexpected": 1, "nonlinearizable": 1}),
    ("one client's values popped out of publish order",
     Builder().publish("client-1", "1-1", 0, 1).publish("client-1", "1-2", 2, 3)
     .pop("client-2", "1-2", 4, 5).pop("client-2", "1-1", 6, 7).drain([], 10),
     {"reordered": 1, "nonlinearizable": 1}),
    ("pop position differs from publish position",
     Builder().publish("client-1", "1-1", 0, 1, position=1).pop("client-2", "1-1", 2, 3, position=2)
     .drain([], 10),
     {"reordered": 1}),
    ("EMPTY while an acked value is queued (not linearizable)",
     Builder().publish("client-1", "1-1", 0, 1).pop("client-2", None, 2, 3).pop("client-2", "1-1", 4, 5)
     .drain([], 10),
     {"nonlinearizable": 1}),
    ("FIFO across clients broken: later publish popped first (not linearizable)",
     Builder().publish("client-1", "1-1", 0, 1).publish("client-2", "2-1", 2, 3)
     .pop("client-3", "2-1", 4, 5).drain(["1-1"], 10),
     {"nonlinearizable": 1}),
    ("concurrent publishes may leave in either order",
     Builder().publish("client-1", "1-1", 0, 3).publish("client-2", "2-1", 1, 2)
     .pop("client-3", "1-1", 4, 5).drain(["2-1"], 10),
     {}),
    ("unknown pop explains a missing value",
     Builder().publish("client-1", "1-1", 0, 1).publish("client-1", "1-2", 2, 3)
     .pop("client-2", None, 3.5, 20, outcome="unknown").pop("client-3", "1-2", 4, 5).drain([], 10),
     {}),
    ("unknown publish that did apply",
     Builder().publish("client-1", "1-1", 0, 20, outcome="unknown").pop("client-2", "1-1", 2, 3)
     .drain([], 10),
     {}),
    ("unknown publish that never applied",
     Builder().publish("client-1", "1-1", 0, 20, outcome="unknown").publish("client-1", "1-2", 21, 22)
     .drain(["1-2"], 30),
     {}),
    ("pop before its publish was sent",
     Builder().pop("client-2", "1-1", 0, 1).publish("client-1", "1-1", 2, 3).drain([], 10),
     {"unexpected": 1, "nonlinearizable": 1}),
    ("FIFO broken, found by pattern alone (search budget 1)",
     Builder().publish("client-1", "1-1", 0, 1).publish("client-2", "2-1", 2, 3)
     .pop("client-3", "2-1", 4, 5).drain(["1-1"], 10),
     {"nonlinearizable": 1}, 1),
    ("EMPTY while queued, found by pattern alone (search budget 1)",
     Builder().publish("client-1", "1-1", 0, 1).pop("client-2", None, 2, 3).pop("client-2", "1-1", 4, 5)
     .drain([], 10),
     {"nonlinearizable": 1}, 1),
    ("topics are checked independently",
     Builder().publish("client-1", "1-1", 0, 1, topic="a").publish("client-1", "1-2", 0.5, 1.5, topic="b")
     .drain(["1-1"], 10, topic="a").drain(["1-2"], 10, topic="b"),
     {}),
]


SMALL_LIMITS = {"max_topics": 3, "max_topic_messages": 2, "max_topic_bytes": 100}


class LimitsBuilder(Builder):
    """A limits history: topic creations, refusals (with the broker's text)
    and the final topic listing, on top of Builder's publishes and pops."""

    def refused(self, process, kind, name, invoke, complete, error, value=None, outcome="fail",
                result="RESOURCE_EXHAUSTED", codes=()):
        """A request refused: outcome fail (or unknown, after an attempt
        without a definite answer), its last answer result, saying error."""
        self.op(process, kind, name, value, invoke, complete, outcome)
        self.ops[-1].update(result=result, error=error, codes=list(codes) + ["%s@1" % result])
        return self

    def create(self, process, name, invoke, complete, outcome="ok"):
        self.op(process, "create", name, None, invoke, complete, outcome, result="OK")
        return self

    def topics(self, names, at=90):
        self.ops.append({"type": "op", "op": "topics", "process": "verify-topics", "names": list(names),
                         "invoke": at, "complete": at + 0.5, "outcome": "ok"})
        return self


FULL = "max_topic_messages reached: topic 't' holds 2, 1 more would pass the limit of 2"
NO_TOPIC = "max_topics reached: the cluster holds 3, 1 more would pass the limit of 3"


def _listing(builder, names, invoke, complete):
    builder.ops.append({"type": "op", "op": "list", "process": "reader-1", "names": list(names),
                        "invoke": invoke, "complete": complete, "outcome": "ok", "result": "OK"})
    return builder


READ_CASES = [
    ("reads: listings see every creation acked before them",
     _listing(_listing(LimitsBuilder().create("reader-1", "a", 0, 1), ["a"], 2, 3)
              .create("reader-1", "b", 4, 6), ["a"], 5, 5.5),
     {}),
    ("reads: a listing misses a creation acked before it was sent (stale read)",
     _listing(LimitsBuilder().create("reader-1", "a", 0, 1), [], 2, 3),
     {"stale_read": 1}),
    ("reads: a listing names a reader's topic not yet created",
     _listing(LimitsBuilder().create("reader-1", "a", 4, 5), ["a"], 2, 3),
     {"stale_read": 1}),
    ("reads: the setup's creations (another clock) are no phantoms",
     _listing(LimitsBuilder().create("admin", "s", 4, 5), ["s"], 2, 3),
     {}),
]


def _limits_clean():
    # three topics exist, a fourth is refused; t is filled, a third value
    # refused, one popped, then another fits; "1-5" (95 bytes) would pass
    # max_topic_bytes next to "1-2" and "1-4" (3 bytes each)
    return (LimitsBuilder().create("admin", "t", 0, 0.5).create("admin", "u", 0.5, 1)
            .create("client-2", "v", 1, 2).refused("client-2", "create", "w", 3, 4, NO_TOPIC)
            .publish("client-1", "1-1", 1, 2).publish("client-1", "1-2", 2, 3)
            .refused("client-1", "publish", "t", 3, 4, FULL, value="1-3")
            .pop("client-3", "1-1", 4, 5).publish("client-1", "1-4", 6, 7)
            .refused("client-1", "publish", "t", 8, 9, "max_topic_bytes reached: topic 't' holds 6, "
                     "95 more would pass the limit of 100", value="1-5" + "x" * 92)
            .drain(["1-2", "1-4"], 10).topics(["t", "u", "v"]))


LIMITS_CASES = [
    # name, history, expected non-zero counters, search budget, limits
    ("limits: clean history (topics and a topic filled, refused, freed, filled)", _limits_clean(), {}),
    ("limits: a refusal an unknown publish explains",
     LimitsBuilder().create("admin", "t", 0, 0.5).publish("client-1", "1-1", 1, 2)
     .publish("client-2", "2-1", 1, 30, outcome="unknown")
     .refused("client-1", "publish", "t", 3, 4, FULL, value="1-2").drain(["1-1", "2-1"], 40).topics(["t"]),
     {}),
    ("limits: a refused publish's value popped later",
     LimitsBuilder().create("admin", "t", 0, 0.5).publish("client-1", "1-1", 1, 2)
     .publish("client-1", "1-2", 2, 3).refused("client-1", "publish", "t", 3, 4, FULL, value="1-3")
     .drain(["1-1", "1-2", "1-3"], 10).topics(["t"]),
     {"refused_applied": 1, "unexpected": 1, "nonlinearizable": 1}),
    ("limits: a refused create's topic listed at the end",
     _limits_clean().topics(["t", "u", "v", "w"], at=95),
     {"refused_applied": 1, "over_limit": 1}),
    ("limits: INTERNAL, and RESOURCE_EXHAUSTED naming no limit, are unclear",
     LimitsBuilder().create("admin", "t", 0, 0.5).publish("client-1", "1-1", 1, 2)
     .refused("client-1", "publish", "t", 3, 4, "out of memory", value="1-2", outcome="unknown",
              result="TIMEOUT", codes=["INTERNAL@2"])
     .refused("client-1", "publish", "t", 5, 6, "a limit is reached", value="1-3")
     .drain(["1-1"], 10).topics(["t"]),
     {"unclear": 2}),
    ("limits: publish refused at max_topic_messages while the topic had room",
     LimitsBuilder().create("admin", "t", 0, 0.5).publish("client-1", "1-1", 1, 2)
     .publish("client-1", "1-2", 2, 3).pop("client-2", "1-1", 3, 3.5)
     .refused("client-1", "publish", "t", 4, 5, FULL, value="1-3").drain(["1-2"], 10).topics(["t"]),
     {"impossible": 1}),
    ("limits: a pop refused, a publish refused at max_topics",
     LimitsBuilder().create("admin", "t", 0, 0.5).publish("client-1", "1-1", 1, 2)
     .refused("client-2", "pop", "t", 3, 4, FULL).refused("client-1", "publish", "t", 3, 4, NO_TOPIC,
                                                         value="1-2")
     .drain(["1-1"], 10).topics(["t"]),
     {"impossible": 2}),
    ("limits: create refused while the cluster had room",
     LimitsBuilder().create("admin", "t", 0, 0.5).refused("client-1", "create", "u", 1, 2, NO_TOPIC)
     .topics(["t"]),
     {"impossible": 1}),
    ("limits: a topic certainly over max_topic_messages",
     LimitsBuilder().create("admin", "t", 0, 0.5).publish("client-1", "1-1", 1, 2)
     .publish("client-1", "1-2", 2, 3).publish("client-1", "1-3", 3, 4)
     .drain(["1-1", "1-2", "1-3"], 10).topics(["t"]),
     {"over_limit": 1}),
    ("limits: acknowledged topic missing from the final listing",
     LimitsBuilder().create("admin", "t", 0, 0.5).create("client-1", "u", 1, 2).topics(["t"]),
     {"lost": 1}),
]


CONSUME_LIMITS = {"t": (0, None), "poison": (3, "dead"), "dead": (0, None)}


class ConsumeBuilder(Builder):
    """A consume history: reserves with their deliveries and receipts, acks,
    nacks and crashes, on top of Builder's publishes."""

    def reserve(self, process, value, invoke, complete, deliveries, topic="t", visibility_ms=1000,
                outcome="ok", original=None):
        """original: (topic, deliveries) of a dead letter."""
        self.op(process, "reserve", topic, value if outcome == "ok" else None, invoke, complete,
                outcome)
        entry = self.ops[-1]
        entry.update(visibility_ms=visibility_ms, wait_ms=0)
        if outcome == "ok":
            entry.update(receipt="%s.%d.%s" % (value, deliveries, topic), deliveries=deliveries)
        if original:
            entry.update(original_topic=original[0], original_deliveries=original[1])
        return self

    def settle(self, kind, process, value, deliveries, invoke, complete, topic="t", outcome="ok",
               result="OK", delay_ms=None):
        """An ack or nack of delivery deliveries of value (from topic)."""
        self.op(process, kind, topic, value, invoke, complete, outcome, result=result)
        self.ops[-1]["receipt"] = "%s.%d.%s" % (value, deliveries, topic)
        if delay_ms is not None:
            self.ops[-1]["delay_ms"] = delay_ms
        return self

    def ack(self, process, value, deliveries, invoke, complete, **options):
        return self.settle("ack", process, value, deliveries, invoke, complete, **options)

    def nack(self, process, value, deliveries, invoke, complete, delay_ms=0, **options):
        return self.settle("nack", process, value, deliveries, invoke, complete, delay_ms=delay_ms,
                           **options)

    def crash(self, process, value, deliveries, at, topic="t"):
        self.ops.append({"type": "op", "op": "crash", "process": process, "topic": topic,
                         "value": value, "receipt": "%s.%d.%s" % (value, deliveries, topic),
                         "invoke": at, "complete": at, "outcome": "ok"})
        return self


def _consume_clean():
    # 1-1: crashed on, back after its visibility time, acked; 1-2: nacked
    # with a delay, back after it, acked; 1-3: crashed on three times on
    # the poison topic, then a dead letter, acked there; 1-4: its ack's
    # outcome unknown (it may have applied: not lost); 1-5: its last
    # delivery on the poison topic nacked with a delay, and a dead letter
    # at once (the delay is for redelivery on the same topic)
    return (ConsumeBuilder()
            .publish("client-1", "1-1", 0, 0.1).reserve("client-2", "1-1", 0.2, 0.3, 1)
            .crash("client-2", "1-1", 1, 0.3).reserve("client-3", "1-1", 1.25, 1.3, 2)
            .ack("client-3", "1-1", 2, 1.4, 1.5)
            .publish("client-1", "1-2", 2, 2.1).reserve("client-2", "1-2", 2.2, 2.3, 1)
            .nack("client-2", "1-2", 1, 2.4, 2.5, delay_ms=200).reserve("client-3", "1-2", 2.55, 2.65, 2)
            .ack("client-3", "1-2", 2, 2.7, 2.8)
            .publish("client-1", "1-3", 3, 3.1, topic="poison")
            .reserve("client-2", "1-3", 3.2, 3.3, 1, topic="poison").crash("client-2", "1-3", 1, 3.3, "poison")
            .reserve("client-3", "1-3", 4.2, 4.3, 2, topic="poison").crash("client-3", "1-3", 2, 4.3, "poison")
            .reserve("client-2", "1-3", 5.2, 5.3, 3, topic="poison").crash("client-2", "1-3", 3, 5.3, "poison")
            .reserve("client-3", "1-3", 6.2, 6.3, 1, topic="dead", original=("poison", 3))
            .ack("client-3", "1-3", 1, 6.4, 6.5, topic="dead")
            .publish("client-1", "1-4", 7, 7.1).reserve("client-2", "1-4", 7.2, 7.3, 1)
            .ack("client-2", "1-4", 1, 7.4, 30, outcome="unknown")
            .publish("client-1", "1-5", 8, 8.1, topic="poison")
            .reserve("client-2", "1-5", 8.2, 8.3, 1, topic="poison")
            .nack("client-2", "1-5", 1, 8.4, 8.5, topic="poison")
            .reserve("client-3", "1-5", 8.6, 8.7, 2, topic="poison")
            .nack("client-3", "1-5", 2, 8.8, 8.9, topic="poison")
            .reserve("client-2", "1-5", 9.0, 9.1, 3, topic="poison")
            .nack("client-2", "1-5", 3, 9.2, 9.3, topic="poison", delay_ms=800)
            .reserve("client-3", "1-5", 9.4, 9.5, 1, topic="dead", original=("poison", 3))
            .ack("client-3", "1-5", 1, 9.6, 9.7, topic="dead"))


CONSUME_CASES = [
    ("consume: clean history (crash, nack with delay, dead letter, unknown ack)", _consume_clean(), {}),
    ("consume: a message crashed on and never acked is lost",
     ConsumeBuilder().publish("client-1", "1-1", 0, 0.1).reserve("client-2", "1-1", 0.2, 0.3, 1)
     .crash("client-2", "1-1", 1, 0.3),
     {"lost": 1}),
    ("consume: a message acked twice",
     ConsumeBuilder().publish("client-1", "1-1", 0, 0.1).reserve("client-2", "1-1", 0.2, 0.3, 1)
     .ack("client-2", "1-1", 1, 0.4, 1.6).reserve("client-3", "1-1", 1.3, 1.4, 2)
     .ack("client-3", "1-1", 2, 1.45, 1.5),
     {"duplicated": 1}),
    ("consume: redelivered before its visibility time or a nack",
     ConsumeBuilder().publish("client-1", "1-1", 0, 0.1).reserve("client-2", "1-1", 0.2, 0.3, 1)
     .reserve("client-3", "1-1", 0.5, 0.6, 2).ack("client-3", "1-1", 2, 0.7, 0.8),
     {"early_redelivery": 1}),
    ("consume: redelivered before a nack's delay ended",
     ConsumeBuilder().publish("client-1", "1-1", 0, 0.1).reserve("client-2", "1-1", 0.2, 0.3, 1)
     .nack("client-2", "1-1", 1, 0.4, 0.5, delay_ms=500).reserve("client-3", "1-1", 0.6, 0.7, 2)
     .ack("client-3", "1-1", 2, 0.8, 0.9),
     {"early_redelivery": 1}),
    ("consume: one delivery handed out twice",
     ConsumeBuilder().publish("client-1", "1-1", 0, 0.1).reserve("client-2", "1-1", 0.2, 0.3, 1)
     .reserve("client-3", "1-1", 0.2, 0.35, 1).ack("client-3", "1-1", 1, 0.4, 0.5),
     {"early_redelivery": 1}),
    ("consume: delivered after its ack was answered",
     ConsumeBuilder().publish("client-1", "1-1", 0, 0.1).reserve("client-2", "1-1", 0.2, 0.3, 1)
     .ack("client-2", "1-1", 1, 0.4, 0.5).reserve("client-3", "1-1", 1.5, 1.6, 2)
     .crash("client-3", "1-1", 2, 1.6),
     {"after_ack": 1}),
    ("consume: a reserve of unknown outcome hides the delivery before (not judged)",
     ConsumeBuilder().publish("client-1", "1-1", 0, 0.1).reserve("client-2", "1-1", 0.2, 0.3, 1)
     .crash("client-2", "1-1", 1, 0.3).reserve("client-3", None, 1.0, 9, 2, outcome="unknown")
     .reserve("client-2", "1-1", 1.5, 1.6, 3).ack("client-2", "1-1", 3, 1.7, 1.8),
     {}),
    ("consume: a dead letter after too few deliveries, a delivery past max_deliveries",
     ConsumeBuilder().publish("client-1", "1-1", 0, 0.1, topic="poison")
     .reserve("client-2", "1-1", 0.2, 0.3, 4, topic="poison").crash("client-2", "1-1", 4, 0.3, "poison")
     .reserve("client-3", "1-1", 1.5, 1.6, 1, topic="dead", original=("poison", 2))
     .ack("client-3", "1-1", 1, 1.7, 1.8, topic="dead"),
     {"bad_dead_letter": 2}),
    ("consume: a delivery nobody published, one of a failed publish",
     ConsumeBuilder().publish("client-1", "1-1", 0, 0.1, outcome="fail")
     .reserve("client-2", "1-1", 0.2, 0.3, 1).ack("client-2", "1-1", 1, 0.4, 0.5)
     .reserve("client-2", "9-9", 0.6, 0.7, 1).ack("client-2", "9-9", 1, 0.8, 0.9),
     {"unexpected": 2}),
]


class ChatBuilder:
    """Writes a synthetic chat history as chat.py records it: sends, reads
    (pages as [id, from, to, text, read]) and the final listings."""

    def __init__(self):
        self.ops = []                 # operation records
        self.seqs = {}                # process -> its latest seq

    def _op(self, process, kind, user, invoke, complete, outcome, result, **fields):
        self.seqs[process] = self.seqs.get(process, 0) + 1
        entry = {"type": "op", "process": process, "client_id": 1, "seq": self.seqs[process],
                 "op": kind, "user": user, "invoke": invoke, "complete": complete, "outcome": outcome}
        if result is not None:
            entry["result"] = result
        entry.update(fields)
        self.ops.append(entry)
        return entry

    def login(self, user, invoke, complete, result="OK"):
        self._op("chat-" + user, "login", user, invoke, complete, "ok" if result == "OK" else "fail", result)
        return self

    def send(self, user, to, text, invoke, complete, message_id=None, index=None, outcome="ok", result="OK"):
        fields = {"to": to, "text": text, "login": 1}
        if message_id is not None:
            fields["message_id"] = message_id
        if index is not None:
            fields["index"] = index
        self._op("chat-" + user, "send", user, invoke, complete, outcome,
                 result if outcome == "ok" or result != "OK" else None, **fields)
        return self

    def read(self, user, partner, messages, invoke, complete, total=None, outcome="ok", process=None,
             page_size=10):
        fields = {"partner": partner, "page": 1, "page_size": page_size, "login": 1}
        if outcome == "ok":
            fields.update(messages=[list(message) for message in messages],
                          total=len(messages) if total is None else total, remaining=0)
        self._op(process or "chat-" + user, "read", user, invoke, complete, outcome,
                 "OK" if outcome == "ok" else None, **fields)
        return self

    def watch(self, user, events, revoked=(), refused=()):
        """A client's live user/<user> stream: events (seq, id, from, to,
        text, received), all of kind message."""
        self.ops.append({"type": "op", "op": "watch", "process": "watch-" + user, "client_id": 0, "seq": 0,
                         "user": user, "invoke": 0, "complete": 90, "outcome": "ok",
                         "events": [[seq, message_id, sender, recipient, text, "message", at]
                                    for seq, message_id, sender, recipient, text, at in events],
                         "gaps": [], "revoked": [list(entry) for entry in revoked],
                         "refused": [list(entry) for entry in refused]})
        return self

    def final(self, pairs, start=100):
        """The verification: each user's unread listing drained (empty) and
        each pair's conversation listed, messages given per pair."""
        users = sorted({user for pair in pairs for user in pair})
        for user in users:
            self.read(user, "", [], start, start + 0.5, process="verify-" + user)
        for (a, b), messages in sorted(pairs.items()):
            self.read(a, b, messages, start + 1, start + 1.5, process="verify-" + a)
            self.ops.append({"type": "op", "op": "listing", "process": "verify-" + a, "user": a,
                             "partner": b, "invoke": start + 1, "complete": start + 1.5, "outcome": "ok",
                             "messages": [list(message) for message in messages]})
        return self


def _chat_clean():
    # u1 sends two, u2 one; u2 reads its unread, u1 reads the conversation
    return (ChatBuilder().login("u1", 0, 1).login("u2", 0, 1)
            .send("u1", "u2", "u1:1", 1, 2, 1, 10).send("u2", "u1", "u2:1", 1.5, 2.5, 2, 11)
            .send("u1", "u2", "u1:2", 3, 4, 3, 12)
            .read("u2", "", [(1, "u1", "u2", "u1:1", False), (3, "u1", "u2", "u1:2", False)], 5, 6)
            .read("u1", "u2", [(1, "u1", "u2", "u1:1", True), (2, "u2", "u1", "u2:1", False),
                               (3, "u1", "u2", "u1:2", True)], 7, 8)
            .final({("u1", "u2"): [(1, "u1", "u2", "u1:1", True), (2, "u2", "u1", "u2:1", True),
                                   (3, "u1", "u2", "u1:2", True)]}))


def _chat_one(final_messages, *steps):
    """u1 sends u1:1 (id 1, acked), then steps (ChatBuilder methods and
    arguments), then the final listing of u1 and u2."""
    builder = ChatBuilder().login("u1", 0, 1).send("u1", "u2", "u1:1", 1, 2, 1, 10)
    for name, args, keywords in steps:
        getattr(builder, name)(*args, **keywords)
    return builder.final({("u1", "u2"): final_messages})


SEEN = (1, "u1", "u2", "u1:1", False)      # u1:1 as its recipient first sees it
LISTED = (1, "u1", "u2", "u1:1", True)     # u1:1 in a later listing

CHAT_CASES = [
    ("chat: clean history (sends both ways, unread and conversation reads)", _chat_clean(), {}),
    ("chat: acked send missing at the end",
     _chat_one([], ("read", ("u2", "", [SEEN], 3, 4), {})), {"lost": 1, "nonlinearizable": 1}),
    ("chat: acked send never shown unread",
     _chat_one([LISTED]), {"lost": 1}),
    ("chat: an unknown read may have shown it unseen",
     _chat_one([LISTED], ("read", ("u2", "", [], 3, 20), {"outcome": "unknown", "page_size": 1})), {}),
    ("chat: message twice in the final listing",
     _chat_one([LISTED, (2, "u1", "u2", "u1:1", True)], ("read", ("u2", "", [SEEN], 3, 4), {})),
     {"duplicated": 2, "reordered": 1, "nonlinearizable": 1}),
    ("chat: message shown unread twice",
     _chat_one([LISTED], ("read", ("u2", "", [SEEN], 3, 4), {}), ("read", ("u2", "", [SEEN], 5, 6), {})),
     {"duplicated": 1}),
    ("chat: message nobody sent",
     _chat_one([LISTED], ("read", ("u2", "", [SEEN, (2, "u3", "u2", "u3:1", False)], 3, 4), {})),
     {"unexpected": 1}),
    ("chat: message whose send certainly failed",
     _chat_one([LISTED], ("send", ("u1", "u2", "u1:2", 3, 4), {"outcome": "fail", "result": "UNAUTHENTICATED"}),
               ("read", ("u2", "", [SEEN, (2, "u1", "u2", "u1:2", False)], 5, 6), {})),
     {"unexpected": 1, "unauthenticated": 1}),
    ("chat: unknown send that applied, and one that did not",
     _chat_one([LISTED, (2, "u1", "u2", "u1:2", True)],
               ("send", ("u1", "u2", "u1:2", 3, 30), {"outcome": "unknown"}),
               ("send", ("u1", "u2", "u1:3", 31, 60), {"outcome": "unknown"}),
               ("read", ("u2", "", [SEEN, (2, "u1", "u2", "u1:2", False)], 5, 6), {})), {}),
    ("chat: page out of id order",
     _chat_one([LISTED, (2, "u1", "u2", "u1:2", True)],
               ("send", ("u1", "u2", "u1:2", 3, 4, 2, 11), {}),
               ("read", ("u2", "", [(2, "u1", "u2", "u1:2", False), SEEN], 5, 6), {})),
     {"reordered": 2}),
    ("chat: ids not increasing in commit order",
     _chat_one([(1, "u1", "u2", "u1:1", True), (2, "u1", "u2", "u1:2", True)],
               ("send", ("u1", "u2", "u1:2", 3, 4, 2, 9), {}),
               ("read", ("u2", "", [SEEN, (2, "u1", "u2", "u1:2", False)], 5, 6), {})),
     {"reordered": 1}),
    ("chat: stale conversation read misses an acked send",
     _chat_one([LISTED], ("read", ("u2", "u1", [], 3, 4), {}), ("read", ("u2", "", [SEEN], 5, 6), {})),
     {"nonlinearizable": 1}),
    ("chat: sender sees a message unread after its recipient read it",
     _chat_one([LISTED], ("read", ("u2", "", [SEEN], 3, 4), {}), ("read", ("u1", "u2", [SEEN], 5, 6), {})),
     {"nonlinearizable": 1}),
    ("chat: sender saw it unread while the recipient's read was under way",
     _chat_one([LISTED], ("read", ("u2", "", [SEEN], 3, 6), {}), ("read", ("u1", "u2", [SEEN], 5, 7), {})),
     {}),
    ("chat: live streams see their own messages, in order",
     _chat_one([LISTED], ("read", ("u2", "", [SEEN], 3, 4), {}),
               ("watch", ("u2", [(1, 1, "u1", "u2", "u1:1", 2.5)]), {}),
               ("watch", ("u1", [(1, 1, "u1", "u2", "u1:1", 2.5)]), {})), {}),
    ("chat: live stream shows another pair's message, twice, out of order",
     _chat_one([LISTED], ("read", ("u2", "", [SEEN], 3, 4), {}),
               ("watch", ("u3", [(2, 1, "u1", "u2", "u1:1", 2.5), (1, 1, "u1", "u2", "u1:1", 2.6)]), {})),
     {"unexpected": 1, "duplicated": 1, "reordered": 1}),
    ("chat: live stream of a message before its send",
     _chat_one([LISTED], ("read", ("u2", "", [SEEN], 3, 4), {}),
               ("watch", ("u2", [(1, 1, "u1", "u2", "u1:1", 0.5)]), {})),
     {"unexpected": 1}),
    ("chat: live stream's token revoked, its replay refused",
     _chat_one([LISTED], ("read", ("u2", "", [SEEN], 3, 4), {}),
               ("watch", ("u2", [], [(5, 1)], [(6, "replay of user/u2 from 1: UNAUTHENTICATED: x"),
                                               (7, "replay of user/u2 from 1: NO_LEADER: x")]), {})),
     {"unauthenticated": 2}),
    ("chat: token of an acked login refused",
     _chat_one([LISTED], ("read", ("u2", "", [SEEN], 3, 4), {}),
               ("send", ("u1", "u2", "u1:2", 5, 6), {"outcome": "fail", "result": "UNAUTHENTICATED"})),
     {"unauthenticated": 1}),
]


def _decoder_case():
    """A page reply and a status reply built field by field decode to what
    the checker reads."""
    message = wire.encode("ChatMessage", id=7, **{"from": "u1"}, to="u2", text="u1:3", read=True)
    page = wire.encode("MessagePage", messages=message, total=9, remaining=4)
    reply = wire.decode_reply(wire.encode("Reply", index=42, page=page))
    status = wire.encode("NodeStatus", role=2, members=bytes([1, 2, 200, 1]))
    members = wire.decode_reply(wire.encode("Reply", status=status))["status"]["members"]
    return (reply["index"] == 42 and reply["total"] == 9 and reply["remaining"] == 4
            and reply["messages"] == [{"id": 7, "from": "u1", "to": "u2", "text": "u1:3", "read": True}]
            and members == [1, 2, 200])


def _proto_case(out):
    """Every field number and enum value raftq_wire uses agrees with
    proto/raftq.proto; each mismatch is said."""
    problems = wire.check_proto()
    for problem in problems:
        out.write("    proto/raftq.proto: %s\n" % problem)
    return not problems


def _proto_mismatch_case(out):
    """The check itself catches a renumbered field, a retyped one, a missing
    message and a changed enum (on an altered copy of the .proto)."""
    with open(wire.PROTO_PATH, encoding="utf-8") as proto:
        text = proto.read()
    alterations = [("Publish publish = 12;", "Publish publish = 16;"),
                   ("uint64 state_hash = 9;", "uint64 state_hash = 10;"),
                   ("bytes payload = 2;\n}\n// Pop is", "string payload = 2;\n}\n// Pop is"),
                   ("message Session {", "message Sessions {"),
                   ("TIMEOUT = 10;", "TIMEOUT = 14;")]
    caught = 0
    for before, after in alterations:
        if before not in text:
            out.write("    the .proto no longer has %r to alter\n" % before)
        elif wire.check_proto(text=text.replace(before, after)):
            caught += 1
        else:
            out.write("    not caught: %r -> %r\n" % (before, after))
    return caught == len(alterations)


def _search_budget_case():
    """A history too concurrent for a tiny budget must come out undecided,
    never as a verdict."""
    builder = Builder()
    for number in range(12):
        builder.publish("client-%d" % number, "%d-1" % number, 0, 10)
    builder.drain(["%d-1" % number for number in range(12)], 20)
    return checker.linearizable(builder.ops, budget=5) is None


def run(out):
    passed = failed = 0
    cases = (CASES + CHAT_CASES + READ_CASES
             + [case + (checker.DEFAULT_SEARCH_BUDGET, SMALL_LIMITS) for case in LIMITS_CASES]
             + [case + (checker.DEFAULT_SEARCH_BUDGET, None, CONSUME_LIMITS) for case in CONSUME_CASES])
    for case in cases:
        name, builder, expected = case[:3]
        budget = case[3] if len(case) > 3 else checker.DEFAULT_SEARCH_BUDGET
        report = checker.check(builder.ops, budget, case[4] if len(case) > 4 else None,
                               case[5] if len(case) > 5 else None)
        seen = {counter: value for counter, value in report.counts.items() if counter != "acked" and value}
        if seen == expected:
            passed += 1
            out.write("PASS %s\n" % name)
        else:
            failed += 1
            out.write("FAIL %s: expected %s, got %s\n" % (name, expected or "no findings", seen or "no findings"))
            for counter, examples in report.examples.items():
                for example in examples:
                    out.write("    %s: %s\n" % (counter, example))
    for name, case in (("an exhausted search budget gives no verdict", lambda out: _search_budget_case()),
                       ("protobuf page and status replies decode", lambda out: _decoder_case()),
                       ("raftq_wire's field numbers match proto/raftq.proto", _proto_case),
                       ("a field renumbered in the .proto is caught", _proto_mismatch_case)):
        if case(out):
            passed += 1
            out.write("PASS %s\n" % name)
        else:
            failed += 1
            out.write("FAIL %s\n" % name)
    out.write("%d passed, %d failed\n" % (passed, failed))
    out.flush()
    return 1 if failed else 0
