"""limits — the limits workload: a cluster with small quotas (LIMITS, written
into the chaos config's "limits") whose clients drive topics into them
while the nemesis runs, so that refusals happen under leader changes,
retries and partitions, not only on a quiet cluster.

A client works in phases on one topic at a time: it publishes until a
publish is refused (or FILL_MAX publishes went through), then pops a few
values to free room, then picks another topic; now and then it tries to
create a new topic, which after the first few is refused at max_topics.
Values are "<client>-<counter>:" padded with "x" to a random size, so the
byte quota and the message quota are each sometimes the one reached first.
Clients publish and pop only on topics whose creation was acknowledged,
so NOT_FOUND is never a right answer.

max_state_bytes is left at its default (1 GiB): eight topics of 4 KiB
cannot come near it, so a refusal naming it is wrong (limits_checker).

History records: publish and pop as workload writes them (a refusal keeps
the broker's error text), and
  create   topic (the name asked for; every name is asked for once)
  topics   names: the final listing of every topic, after the drain
"""

import threading

from .workload import create_topic, pop, publish

LIMITS = {"max_topics": 8, "max_topic_messages": 50, "max_topic_bytes": 4096}
INITIAL_TOPICS = 4          # created before the faults start; the clients create the rest
VALUE_SIZES = (16, 148)     # payload bytes: 50 of the mean size just fill max_topic_bytes, so
                            # either quota may be the one a topic reaches first
FILL_MAX = 60               # publishes in one phase when none is refused
FREE_MAX = 12               # pops in one phase at most
CREATE_CHANCE = 0.2         # share of phases that begin with a create


def initial_topics():
    return ["limits-%d" % number for number in range(INITIAL_TOPICS)]


class Topics:
    """The topics whose creation was acknowledged, shared by the clients
    (they use no other) and handed to the drain. Thread safe."""

    def __init__(self, names):
        self.lock = threading.Lock()      # guards names
        self.names = list(names)          # acknowledged, in creation order

    def add(self, name):
        with self.lock:
            self.names.append(name)

    def pick(self, rng):
        with self.lock:
            return rng.choice(self.names)

    def all(self):
        with self.lock:
            return list(self.names)


class LimitsWorker(threading.Thread):
    """One client of the limits workload (see the module text). The
    operation under way when stop is set is still carried to a definite
    answer (within its budget)."""

    def __init__(self, number, session, history, topics, rng, budget_s, stop):
        super().__init__(name=session.name, daemon=True)
        self.number = number              # client number, the prefix of its values and topics
        self.session = session            # identity, sockets, leader guess
        self.history = history            # where operations are recorded
        self.topics = topics              # Topics: where it may publish and pop
        self.rng = rng                    # this client's own random.Random
        self.budget_s = budget_s          # retry budget of one operation
        self.stop = stop                  # threading.Event: start no new operation
        self.published = 0                # values this client has tried to publish
        self.creates = 0                  # topics this client has tried to create
        self.error = None                 # an exception that ended the thread

    def _value(self):
        self.published += 1
        head = "%d-%d:" % (self.number, self.published)
        return head + "x" * max(0, self.rng.randint(*VALUE_SIZES) - len(head))

    def _create(self):
        self.creates += 1
        name = "limits-c%d-%d" % (self.number, self.creates)
        entry = create_topic(self.session, self.history, name, self.budget_s)
        if entry["outcome"] == "ok" and entry.get("result") == "OK":
            self.topics.add(name)

    def _phase(self):
        topic = self.topics.pick(self.rng)
        for _ in range(FILL_MAX):
            if self.stop.is_set():
                return
            entry = publish(self.session, self.history, topic, self._value(), self.budget_s)
            if entry.get("result") == "RESOURCE_EXHAUSTED":
                break
        for _ in range(self.rng.randint(1, FREE_MAX)):
            if self.stop.is_set():
                return
            if pop(self.session, self.history, topic, self.budget_s).get("result") == "EMPTY":
                break

    def run(self):
        try:
            while not self.stop.is_set():
                if self.rng.random() < CREATE_CHANCE:
                    self._create()
                self._phase()
        except Exception as error:  # reported by the campaign; the run goes on
            self.error = "%s: %s" % (type(error).__name__, error)
        finally:
            self.session.close()
