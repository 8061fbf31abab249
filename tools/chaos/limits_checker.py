"""limits_checker — what the history of a limits run must satisfy beyond
the queue checks (checker.py runs those on the same publish and pop
records), counted into the same checker.Report.

Input: the records of the limits workload (limits.py): publish, pop,
create, and the final topic listing; and the limits the cluster ran with.

Counters (all must be 0):
  unclear           operations answered something no fault explains and no
                    quota either: any code but OK, EMPTY, RESOURCE_EXHAUSTED
                    and the retried ones (NOT_LEADER, NO_LEADER, TIMEOUT,
                    UNAVAILABLE, no reply) -- INTERNAL, INVALID_ARGUMENT,
                    NOT_FOUND on a topic that exists, a garbled reply -- or a
                    RESOURCE_EXHAUSTED whose text does not begin with the
                    name of a limit ("<limit> reached: ...").
  refused_applied   a write refused at a limit that took effect anyway: a
                    refused publish whose value was popped, a refused create
                    whose topic is in the final listing.
  impossible        refusals no reading of the history explains: a pop
                    refused (pops must keep working), a refusal naming a
                    limit that does not bound that operation or that the run
                    left at its unreachable default (max_state_bytes), or
                    one at a limit the topic (or the cluster) could not have
                    reached while the refused request was under way.
  over_limit        a limit certainly passed: more topics created than
                    max_topics, or a topic that certainly held more messages
                    or bytes than its quota.
  lost              (shared with the queue checks) a topic whose creation
                    was acknowledged missing from the final listing.

"Could have reached" is judged generously, because operations of unknown
outcome make the state a range: when a refused request was under way
(invocation to completion), the most a topic can have held at a time t is
every publish not certainly refused that was invoked by t, less every
delivering pop completed before t; the refusal is impossible only when
that never reaches the limit in the request's interval (for bytes: when
that many bytes plus the refused value still fit). over_limit uses the
opposite bound: acknowledged publishes completed by t, less every pop
(delivering or of unknown outcome) invoked by t.
"""

import bisect
import collections
import re

INFINITY = float("inf")
# answers that need no explanation: success, a quota, or a fault (retried)
CLEAR_CODES = ("OK", "EMPTY", "RESOURCE_EXHAUSTED", "NOT_LEADER", "NO_LEADER", "TIMEOUT",
               "UNAVAILABLE", "no-reply")
LIMIT_TEXT = re.compile(r"^(max_[a-z_]+|min_[a-z_]+) reached: ")
# the limits each operation can be refused at, judged against the history
BOUNDS = {"publish": ("max_topic_messages", "max_topic_bytes"), "create": ("max_topics",)}
# node-local: free disk space is not in the history, so such a refusal is
# clear but cannot be judged
NODE_LOCAL = ("min_free_disk_bytes",)
OPS = ("create", "topics")      # the records only this checker reads


def refused_limit(op):
    """The limit a RESOURCE_EXHAUSTED answer names, or None."""
    match = LIMIT_TEXT.match(op.get("error") or "")
    return match.group(1) if match else None


def _size(value):
    return len(value.encode("utf-8"))


class _Levels:
    """The level at a time t of the sum of the ups (time, amount, op) at or
    before t less the downs at or before t; when an up and a down share a
    time, ups_first says which counts first (the reading that favours a
    higher level puts ups first). Built once per topic, asked once per
    refusal: a prefix sum finds the level at the start of a request, and
    only the events inside the request's own interval are walked."""

    def __init__(self, ups, downs, ups_first):
        up_order, down_order = (0, 1) if ups_first else (1, 0)
        self.events = sorted([(time, up_order, amount, id(op)) for time, amount, op in ups]
                             + [(time, down_order, -amount, id(op)) for time, amount, op in downs])
        self.keys = [event[:2] for event in self.events]
        self.before = [0]                 # before[i]: the level after the first i events
        for event in self.events:
            self.before.append(self.before[-1] + event[2])
        self.own = {id(op): (time, up_order, amount) for time, amount, op in ups}   # op -> its up

    def highest(self, start=-INFINITY, end=INFINITY, skip=None):
        """The highest level over t in [start, end], leaving out skip's own up."""
        first = bisect.bisect_left(self.keys, (start, 1))
        level = self.before[first]
        own = self.own.get(id(skip))
        if own is not None and own[:2] < (start, 1):
            level -= own[2]
        best = level
        for time, _, amount, op_id in self.events[first:]:
            if time > end:
                break
            if op_id == id(skip):
                continue
            level += amount
            best = max(best, level)
        return best


def _may_apply(op):
    # not a definite refusal: acknowledged, or of unknown outcome
    return op["outcome"] == "unknown" or (op["outcome"] == "ok" and op.get("result") == "OK")


def _delivers(op):
    return op["op"] == "pop" and op["outcome"] == "ok" and op.get("result") == "OK"


def check(operations, limits, report):
    """Runs the limits checks; adds to report, and tallies the refusals by
    the limit they name in report.refusals."""
    listings = [op for op in operations if op["op"] == "topics"]
    ops = [op for op in operations if op["op"] != "topics"]
    by_topic = collections.defaultdict(list)
    for op in ops:
        if op["op"] != "create":
            by_topic[op["topic"]].append(op)
    creates = [op for op in ops if op["op"] == "create"]
    popped = {op["value"] for op in ops if _delivers(op)}
    listed = set(listings[-1]["names"]) if listings else None
    levels = {}                       # topic -> its _topic_levels, made at its first refusal
    for op in ops:
        limit = _clarity(op, report)
        if limit is None:
            continue
        report.refusals[limit] += 1
        if op["op"] != "create" and op["topic"] not in levels:
            levels[op["topic"]] = _topic_levels(by_topic[op["topic"]])
        why = _impossible(op, limit, limits, levels.get(op.get("topic")), creates)
        if why:
            report.add("impossible", 1, "%s %s by %s at %.3f-%.3f: %s (%s)" % (
                op["op"], op.get("value") or op["topic"], op["process"], op["invoke"], op["complete"],
                why, op.get("error")))
        if op["outcome"] == "fail":
            applied = op["value"] in popped if op["op"] == "publish" else \
                listed is not None and op["op"] == "create" and op["topic"] in listed
            if applied:
                report.add("refused_applied", 1, "%s %s was refused (%s), yet it took effect" % (
                    op["op"], op.get("value") or op["topic"], op.get("error")))
    _check_topics(creates, listed, limits, report)
    for topic, topic_ops in sorted(by_topic.items()):
        _check_overfull(topic, topic_ops, limits, report)
    return report


def _clarity(op, report):
    """Counts an unclear answer of op; returns the limit op was refused at,
    or None when it was not refused (or not clearly)."""
    answers = {code.split("@")[0] for code in op.get("codes", [])}
    if op.get("result"):
        answers.add(op["result"])
    odd = sorted(answers - set(CLEAR_CODES))
    limit = refused_limit(op) if op.get("result") == "RESOURCE_EXHAUSTED" else None
    if odd or (op.get("result") == "RESOURCE_EXHAUSTED" and limit is None):
        report.add("unclear", 1, "%s %s by %s answered %s: %s" % (
            op["op"], op.get("value") or op["topic"], op["process"], ", ".join(odd) or op["result"],
            op.get("error") or "no text"))
        return None
    return limit


def _impossible(op, limit, limits, levels, creates):
    """Why a refusal at limit cannot be right, or None. levels: the
    topic's _Levels by limit (_topic_levels)."""
    if limit in NODE_LOCAL:
        return None
    if limit not in BOUNDS.get(op["op"], ()):
        return "%s does not bound a %s" % (limit, op["op"])
    if limit not in limits:
        return "%s was left at its default, which this workload cannot reach" % limit
    if limit == "max_topics":
        # topics are never deleted: the most there can be grows with time
        most = sum(1 for other in creates if other is not op and _may_apply(other)
                   and other["invoke"] <= op["complete"])
        return None if most >= limits[limit] else "at most %d topic(s) existed" % most
    most = levels[limit].highest(op["invoke"], op["complete"], op)
    if limit == "max_topic_messages":
        return None if most >= limits[limit] else "the topic held at most %d message(s)" % most
    if most + _size(op["value"]) > limits[limit]:
        return None
    return "the topic held at most %d byte(s), and %d more fit" % (most, _size(op["value"]))


def _topic_levels(ops):
    """The most a topic can have held, in messages and in bytes: every
    publish not certainly refused counts from its invocation, a delivering
    pop only from its completion."""
    ups = [op for op in ops if op["op"] == "publish" and _may_apply(op)]
    downs = [op for op in ops if _delivers(op)]
    return {limit: _Levels([(op["invoke"], weight(op), op) for op in ups],
                           [(op["complete"], weight(op), op) for op in downs], True)
            for limit, weight in WEIGHTS}


def _check_topics(creates, listed, limits, report):
    acked = [op["topic"] for op in creates if op["outcome"] == "ok" and op.get("result") == "OK"]
    if "max_topics" in limits and len(acked) > limits["max_topics"]:
        report.add("over_limit", 1, "%d topic creations acknowledged, max_topics %d"
                   % (len(acked), limits["max_topics"]))
    if listed is None:
        return
    if "max_topics" in limits and len(listed) > limits["max_topics"]:
        report.add("over_limit", 1, "%d topics listed at the end, max_topics %d"
                   % (len(listed), limits["max_topics"]))
    missing = [name for name in acked if name not in listed]
    if missing:
        report.add("lost", len(missing), "acknowledged topic(s) missing from the final listing: %s"
                   % ", ".join(missing[:5]))


def _check_overfull(topic, ops, limits, report):
    acked = [op for op in ops if op["op"] == "publish" and op["outcome"] == "ok" and op.get("result") == "OK"]
    taking = [op for op in ops if _delivers(op) or (op["op"] == "pop" and op["outcome"] == "unknown")]
    # a pop of unknown outcome has no value: it may have taken the largest
    largest = {"op": "publish", "value": max((op["value"] for op in acked), key=_size, default="")}
    for limit, weight in WEIGHTS:
        if limit not in limits:
            continue
        downs = [(op["invoke"], weight(op if op["value"] is not None else largest), op) for op in taking]
        least = _Levels([(op["complete"], weight(op), op) for op in acked], downs, False).highest()
        if least > limits[limit]:
            report.add("over_limit", 1, "topic %s certainly held %d (%s %d)"
                       % (topic, least, limit, limits[limit]))


# what one message weighs against each per-topic quota
WEIGHTS = (("max_topic_messages", lambda op: 1), ("max_topic_bytes", lambda op: _size(op["value"])))
