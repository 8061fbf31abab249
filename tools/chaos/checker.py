"""checker — what a queue history must satisfy, counted; the chat records
of the same history go to chat_checker, into the same Report.

Input: the operation records of a run (workload.operation_record), including
the final drain that popped every topic until EMPTY after all faults healed.
Each record has op (publish | pop), topic, value (published, or popped;
None for an EMPTY pop), invoke and complete (seconds), outcome (ok | fail |
unknown), result (the reply code of an ok one) and position (the message's
place in its topic, from the broker's reply, when it gave one).

Counters (all but acked must be 0):
  acked            publishes answered OK.
  lost             acked values neither popped by anyone nor left at the
                   end, beyond what the pops of unknown outcome on the same
                   topic could have taken unseen.
  duplicated       deliveries of a value beyond its first.
  unexpected       deliveries of a value nobody published to that topic, or
                   whose publish certainly failed, or that came back before
                   its publish was even sent.
  reordered        values delivered out of their client's publish order on
                   a topic (FIFO: one client's acked publishes, made one
                   after the other, must leave the queue in that order),
                   judged by real time (the later value's pop finished
                   before the earlier value's pop began) and by the
                   positions the broker reported; and values whose pop
                   position differs from the position their publish got.
  nonlinearizable  topics whose history has no linearization against a FIFO
                   queue (Wing-Gong search with Lowe's memoization).
  stale_read       topic listings (op list: the ListTopics reads of the
                   reader client, answered by ReadIndex without a log entry)
                   that miss a topic whose creation was acknowledged before
                   the listing was sent: a read older than an acknowledged
                   write. Also a listing naming a reader's topic whose
                   creation had not even been sent when the listing's answer
                   came (the setup's creations run on another clock).
                   Two readers, so each is held to the other's writes too.

  unauthenticated  (chat only, see chat_checker) sessions lost over failover.
  unclear, refused_applied, impossible, over_limit
                   (limits runs only, see limits_checker) refusals without a
                   clear code, refused writes that applied, refusals no
                   reading of the history explains, quotas passed.
  after_ack, early_redelivery, bad_dead_letter
                   (consume runs only, see consume_checker, which also
                   counts lost, duplicated and unexpected there) deliveries
                   after an acknowledged ack, redeliveries before a
                   visibility time or nack allowed them, dead letters made
                   wrong.

Unknown outcomes are may-or-may-not: an unknown publish may have enqueued
its value at any time after its invocation, or never; an unknown pop may
have removed the head at any time after its invocation, or nothing.
"""

import collections

from . import chat_checker, consume_checker, limits_checker

INFINITY = float("inf")
DEFAULT_SEARCH_BUDGET = 300000   # search steps per topic before it counts as undecided


class Report:
    """Counters and the evidence behind each (a few examples per kind)."""

    EXAMPLES = 8   # examples kept per counter

    def __init__(self):
        self.counts = collections.OrderedDict(
            (name, 0) for name in ("acked", "lost", "duplicated", "unexpected", "reordered",
                                   "nonlinearizable", "stale_read", "unauthenticated", "unclear", "refused_applied",
                                   "impossible", "over_limit", "after_ack", "early_redelivery",
                                   "bad_dead_letter"))
        self.examples = {name: [] for name in self.counts}   # name -> text lines
        self.problems = []           # what could not be checked at all (text lines)
        self.undecided = []          # topics whose search ran out of budget
        self.topics_checked = 0      # topics the linearizability search finished
        self.refusals = collections.Counter()   # limit name -> refusals naming it (limits runs)
        self.consume = collections.Counter()    # consume runs: deliveries, nacks, crashes, ...

    def add(self, name, amount=1, example=None):
        self.counts[name] += amount
        if example is not None and len(self.examples[name]) < self.EXAMPLES:
            self.examples[name].append(example)


def _is_acked(op):
    return op["op"] == "publish" and op["outcome"] == "ok" and op.get("result") == "OK"


def _is_delivery(op):
    return op["op"] == "pop" and op["outcome"] == "ok" and op.get("result") == "OK"


QUEUE_OPS = ("publish", "pop")
READ_OPS = ("list",)


def check(operations, search_budget=DEFAULT_SEARCH_BUDGET, limits=None, consume=None):
    """Runs every check over the operation records (queue and chat, and
    with limits, the dict of quotas the cluster ran with, the limits
    checks; with consume, each topic's (max_deliveries, dead_letter), the
    consume checks instead of the queue checks); returns a Report."""
    report = Report()
    others = QUEUE_OPS + READ_OPS + limits_checker.OPS + consume_checker.OPS
    chat_checker.check([op for op in operations if op["op"] not in others], report)
    check_reads(operations, report)
    if limits is not None:
        limits_checker.check([op for op in operations
                              if op["op"] in QUEUE_OPS or op["op"] in limits_checker.OPS], limits, report)
    if consume is not None:
        consume_checker.check([op for op in operations
                               if op["op"] in QUEUE_OPS or op["op"] in consume_checker.OPS], consume,
                              report)
    else:
        check_queue([op for op in operations if op["op"] in QUEUE_OPS], report, search_budget)
    return report


def check_reads(operations, report):
    """The stale-read check of topic listings against topic creations (see
    stale_read above); adds to report."""
    acked = sorted((op for op in operations if op["op"] == "create" and op["outcome"] == "ok"
                    and op.get("result") in ("OK", "ALREADY_EXISTS")), key=lambda op: op["complete"])
    first_sent = {}   # a reader's topic -> when its creation was first sent
    for op in operations:
        if op["op"] == "create" and op["process"].startswith("reader"):
            first_sent[op["topic"]] = min(op["invoke"], first_sent.get(op["topic"], INFINITY))
    listings = sorted((op for op in operations if op["op"] == "list" and op["outcome"] == "ok"
                       and op.get("result") == "OK"), key=lambda op: op["invoke"])
    before = 0   # acked[:before] completed before the current listing was sent
    for listing in listings:
        while before < len(acked) and acked[before]["complete"] < listing["invoke"]:
            before += 1
        names = set(listing["names"])
        missing = sorted(set(op["topic"] for op in acked[:before]) - names)
        phantom = sorted(name for name in names
                         if first_sent.get(name, -INFINITY) > listing["complete"])
        if missing or phantom:
            report.add("stale_read", 1, "%s's listing [%.3f, %.3f] at index %s %s" % (
                listing["process"], listing["invoke"], listing["complete"], listing.get("index"),
                "lacks %s, created and acknowledged before it was sent" % ", ".join(missing[:3])
                if missing else "names %s, never created by then" % ", ".join(phantom[:3])))


def check_queue(operations, report, search_budget=DEFAULT_SEARCH_BUDGET):
    """The queue checks over publish and pop records; adds to report."""
    by_topic = collections.defaultdict(list)
    for op in operations:
        by_topic[op["topic"]].append(op)
    publishes = {}
    for op in operations:
        if op["op"] == "publish":
            publishes[op["value"]] = op
    deliveries = collections.defaultdict(list)      # value -> its ok pops, in completion order
    for op in sorted((op for op in operations if _is_delivery(op)), key=lambda op: op["complete"]):
        deliveries[op["value"]].append(op)

    report.counts["acked"] += sum(1 for op in operations if _is_acked(op))
    _check_lost(by_topic, deliveries, report)
    _check_deliveries(publishes, deliveries, report)
    _check_order(operations, deliveries, report)
    for topic in sorted(by_topic):
        patterns = order_violations(by_topic[topic])
        verdict = linearizable(by_topic[topic], search_budget)
        if verdict is not None:
            report.topics_checked += 1
        elif not patterns:
            report.undecided.append(topic)
        if patterns or verdict is False:
            report.add("nonlinearizable", 1, "topic %s (%d operations): %s" % (
                topic, len(by_topic[topic]), patterns[0] if patterns else "no linearization exists"))
    return report


def _check_lost(by_topic, deliveries, report):
    for topic, ops in sorted(by_topic.items()):
        missing = [op["value"] for op in ops if _is_acked(op) and op["value"] not in deliveries]
        unseen_pops = sum(1 for op in ops if op["op"] == "pop" and op["outcome"] == "unknown")
        lost = max(0, len(missing) - unseen_pops)
        if lost:
            report.add("lost", lost, "topic %s: %d acked value(s) never seen (%s), %d pop(s) of unknown outcome"
                       % (topic, len(missing), ", ".join(missing[:5]), unseen_pops))


def _check_deliveries(publishes, deliveries, report):
    for value, pops in sorted(deliveries.items()):
        if len(pops) > 1:
            report.add("duplicated", len(pops) - 1, "value %s delivered %d times (to %s)"
                       % (value, len(pops), ", ".join(pop["process"] for pop in pops)))
        publish = publishes.get(value)
        for pop in pops:
            why = None
            if publish is None:
                why = "never published"
            elif publish["topic"] != pop["topic"]:
                why = "published to %s" % publish["topic"]
            elif publish["outcome"] == "fail":
                why = "its publish certainly failed (%s)" % ", ".join(publish.get("codes", []))
            elif publish["outcome"] == "ok" and publish.get("result") != "OK":
                why = "its publish was answered %s" % publish.get("result")
            elif pop["complete"] < publish["invoke"]:
                why = "popped before it was published"
            if why:
                report.add("unexpected", 1, "value %s popped from %s by %s: %s"
                           % (value, pop["topic"], pop["process"], why))


def _check_order(operations, deliveries, report):
    flagged = set()

    def flag(value, why):
        if value not in flagged:
            flagged.add(value)
            report.add("reordered", 1, "value %s: %s" % (value, why))

    for publish in operations:
        if not _is_acked(publish) or publish["value"] not in deliveries:
            continue
        first = deliveries[publish["value"]][0]
        if publish.get("position") and first.get("position") \
                and publish["position"] != first["position"]:
            flag(publish["value"], "published at position %d, popped at position %d"
                 % (publish["position"], first["position"]))
    per_client = collections.defaultdict(list)
    for op in operations:
        if _is_acked(op):
            per_client[(op["process"], op["topic"])].append(op)
    for (process, topic), publishes in sorted(per_client.items()):
        publishes.sort(key=lambda op: op["seq"])
        seen = [op for op in publishes if op["value"] in deliveries]
        for earlier, later in zip(seen, seen[1:]):
            pop_earlier = deliveries[earlier["value"]][0]
            pop_later = deliveries[later["value"]][0]
            if pop_later["complete"] < pop_earlier["invoke"]:
                flag(later["value"], "%s published %s then %s to %s; %s was popped first"
                     % (process, earlier["value"], later["value"], topic, later["value"]))
            elif pop_earlier.get("position") and pop_later.get("position") \
                    and pop_later["position"] < pop_earlier["position"]:
                flag(later["value"], "%s published %s then %s to %s; positions %d and %d"
                     % (process, earlier["value"], later["value"], topic,
                        pop_earlier["position"], pop_later["position"]))


# --- linearizability ------------------------------------------------------------

def _queue_step(state, op):
    """The FIFO model: (legal, next state) for applying op to the queue
    state (a tuple, oldest first). Topics are created before the run and
    never deleted, so NOT_FOUND is never legal."""
    if op["op"] == "publish":
        if op["outcome"] == "ok" and op.get("result") != "OK":
            return False, state
        return True, state + (op["value"],)
    if op["outcome"] == "unknown":
        # it took the head unseen; taking nothing is the same as not happening
        return (True, state[1:]) if state else (False, state)
    if op.get("result") == "EMPTY":
        return (not state), state
    if op.get("result") == "OK":
        return (bool(state) and state[0] == op["value"]), state[1:]
    return False, state


def _hints(candidates):
    """The order the search tries concurrent operations in: the log index
    the broker says each committed at (for a correct broker that order IS a
    linearization, and the search walks it without backtracking). An unknown
    publish whose value was popped goes right after the publish holding the
    position before it; other unknown operations go last."""
    by_position = {op["position"]: op for op in candidates
                   if op["op"] == "publish" and op["outcome"] == "ok" and op.get("position")}
    first_pop = {}
    for op in candidates:
        if _is_delivery(op) and op["value"] not in first_pop:
            first_pop[op["value"]] = op
    hints = []
    for op in candidates:
        hint = INFINITY
        if op["outcome"] == "ok" and op.get("index"):
            hint = op["index"]
        elif op["op"] == "publish" and op["value"] in first_pop:
            previous = by_position.get((first_pop[op["value"]].get("position") or 0) - 1)
            if previous is not None and previous.get("index"):
                hint = previous["index"] + 0.5
        hints.append(hint)
    return hints


def linearizable(ops, budget=DEFAULT_SEARCH_BUDGET, step=_queue_step):
    """True if the operations of one object (one topic) have a
    linearization, False if none exists, None if the search gave up after
    budget steps. Operations of outcome fail are left out; those of outcome
    unknown never return and need not take effect.

    The search is Wing and Gong's with Lowe's memoization: the history is a
    list of call and return entries in time order; any call before the first
    return may be linearized next; a (linearized set, queue state) pair seen
    before is not explored again. Concurrent candidates are tried in log
    index order (_hints), which only changes how fast an answer is found."""
    observed = {op["value"] for op in ops if _is_delivery(op)}
    candidates = []
    for op in ops:
        if op["outcome"] == "fail":
            continue
        # an unknown publish whose value nobody saw: if it took effect, only
        # unknown pops or the end could have held it, so leaving it out
        # loses no linearization and saves the search a branch
        if op["outcome"] == "unknown" and op["op"] == "publish" and op["value"] not in observed:
            continue
        candidates.append(op)
    count = len(candidates)
    optional = [op["outcome"] == "unknown" for op in candidates]
    hints = _hints(candidates)

    # the history as a doubly linked list of call and return entries,
    # calls before returns at equal times (the more permissive reading);
    # node 0 is the head, node 2 * count + 1 the tail
    events = []
    for number, op in enumerate(candidates):
        events.append((op["invoke"], 0, number))
        events.append((INFINITY if optional[number] else op["complete"], 1, number))
    events.sort()
    head, tail = 0, 2 * count + 1
    following = list(range(1, 2 * count + 2)) + [tail]
    preceding = [head] + list(range(0, 2 * count + 1))
    is_call = [False] * (2 * count + 2)
    op_of = [0] * (2 * count + 2)
    call_node = [0] * count
    return_node = [0] * count
    for position, (_, kind, number) in enumerate(events):
        node = position + 1
        op_of[node] = number
        if kind == 0:
            is_call[node] = True
            call_node[number] = node
        else:
            return_node[number] = node

    def lift(number):
        for node in (call_node[number], return_node[number]):
            following[preceding[node]] = following[node]
            preceding[following[node]] = preceding[node]

    def unlift(number):
        for node in (return_node[number], call_node[number]):
            following[preceding[node]] = node
            preceding[following[node]] = node

    def choices():
        """The operations that may be linearized next: every call entry
        before the first return entry, best hint first."""
        found = []
        entry = following[head]
        while entry != tail and is_call[entry]:
            found.append(op_of[entry])
            entry = following[entry]
        found.sort(key=hints.__getitem__)
        return found

    mandatory_left = optional.count(False)
    state = ()
    linearized = 0
    stack = []        # (choices, next to try, number linearized, state before it)
    seen = set()
    pending, tried = choices(), 0
    steps = 0
    while mandatory_left:
        advanced = False
        while tried < len(pending):
            steps += 1
            if steps > budget:
                return None
            number = pending[tried]
            tried += 1
            legal, next_state = step(state, candidates[number])
            if not legal:
                continue
            next_linearized = linearized | (1 << number)
            key = (next_linearized, next_state)
            if key in seen:
                continue
            seen.add(key)
            stack.append((pending, tried, number, state))
            linearized, state = next_linearized, next_state
            if not optional[number]:
                mandatory_left -= 1
            lift(number)
            pending, tried = choices(), 0
            advanced = True
            break
        if advanced:
            continue
        # no candidate fits here: undo the latest choice, try its next sibling
        if not stack:
            return False
        pending, tried, number, state = stack.pop()
        linearized &= ~(1 << number)
        if not optional[number]:
            mandatory_left += 1
        unlift(number)
    return True


def order_violations(ops):
    """Queue patterns that prove a topic's history not linearizable without
    any search, sound with unknown outcomes (Henzinger et al.'s VOrd and
    VWit for histories with unique values). Returns example texts.
      order: publish(a) finished before publish(b) began, yet b's pop
             finished before a's pop began;
      empty: a pop answered EMPTY while some value was certainly queued:
             its publish finished before the pop began, and its own pop
             began after the EMPTY one finished."""
    found = []
    pops = {}
    for op in sorted((op for op in ops if _is_delivery(op)), key=lambda op: op["complete"]):
        pops.setdefault(op["value"], op)
    delivered = sorted((op for op in ops if _is_acked(op) and op["value"] in pops),
                       key=lambda op: op["complete"])
    # prefix maxima over publishes ordered by completion: the latest pop
    # start among values whose publish finished before a given time
    latest_pop_start, holder = [], []
    best = None
    for op in delivered:
        pop = pops[op["value"]]
        if best is None or pop["invoke"] > best[0]:
            best = (pop["invoke"], op["value"])
        latest_pop_start.append(best[0])
        holder.append(best[1])
    completions = [op["complete"] for op in delivered]

    def latest_before(time):
        """(latest pop start, its value) over values published before time."""
        low, high = 0, len(completions)
        while low < high:
            middle = (low + high) // 2
            if completions[middle] < time:
                low = middle + 1
            else:
                high = middle
        return (latest_pop_start[low - 1], holder[low - 1]) if low else (None, None)

    for op in delivered:
        pop = pops[op["value"]]
        start, value = latest_before(op["invoke"])
        if start is not None and start > pop["complete"]:
            found.append("order: %s was published before %s, but popped after it"
                         % (value, op["value"]))
    for op in ops:
        if op["op"] == "pop" and op["outcome"] == "ok" and op.get("result") == "EMPTY":
            start, value = latest_before(op["invoke"])
            if start is not None and start > op["complete"]:
                found.append("empty: %s popped EMPTY at %.3f while %s was queued"
                             % (op["process"], op["invoke"], value))
    return found
