"""consume_checker — what the history of a consume run must satisfy,
counted into the same checker.Report as the other checks (a consume run
has no pops: the queue checks do not apply to it).

Input: the records of the consume workload (consume.py): publish,
reserve, ack, nack, crash, the drain's reserves and acks included; and
each topic's (max_deliveries, dead_letter).

Counters (all must be 0):
  lost              acknowledged publishes whose value no ack settled: no
                    ack of any of its deliveries answered OK or stayed of
                    unknown outcome (the drain reserves and acks every topic
                    until the leader holds no message, so every message
                    still there at the end was acked then).
  duplicated        acks answered OK beyond the first for one value: a
                    message consumed twice.
  unexpected        deliveries of a value nobody published (to that topic,
                    or, for a dead letter, to its original topic), whose
                    publish certainly failed, or that came back before its
                    publish was even sent.
  after_ack         deliveries of a value asked for after an ack of it had
                    been answered OK.
  early_redelivery  a delivery that came too soon after the one before it
                    (the delivery count one less; for the first dead letter,
                    the original topic's last delivery): before that
                    delivery's visibility time could have ended (counted
                    from the invocation of its reserve, the earliest it can
                    have been applied) and before a nack of it (OK or of
                    unknown outcome) plus its delay (a nack of the last
                    delivery a topic allows moves the message to the
                    dead-letter topic at once: the delay is for redelivery
                    on the same topic); or two deliveries with the same
                    count, which hand one message out twice. A
                    delivery whose predecessor was never seen (a reserve of
                    unknown outcome took it) is not judged.
  bad_dead_letter   a dead letter from a topic that makes none, or after a
                    number of deliveries other than that topic's
                    max_deliveries; or a delivery counted past
                    max_deliveries where the message should have gone.

Report.consume tallies (not failures): deliveries, redeliveries, nacks,
crashes, dead_lettered values, acks_refused (NOT_FOUND: the visibility
time had ended), waits (reserves that asked the leader to wait).
"""

import collections

OPS = ("reserve", "ack", "nack", "crash")     # the records only this checker reads
SLACK_S = 0.05                               # clock granularity between client and nodes


def _answered(op, result="OK"):
    return op["outcome"] == "ok" and op.get("result") == result


def _may_apply(op):
    return op["outcome"] == "unknown" or _answered(op)


def _position(delivery):
    """Where a delivery stands in its message's history: (0, count) on its
    topic, (1, count) as a dead letter."""
    return (1 if delivery.get("original_topic") else 0, delivery["deliveries"])


def _predecessor(delivery):
    phase, count = _position(delivery)
    if count > 1:
        return phase, count - 1
    if phase == 1:
        return 0, delivery.get("original_deliveries", 0)
    return None


def check(operations, limits, report):
    """Runs the consume checks on the records; limits: topic ->
    (max_deliveries, dead_letter or None). Adds to report."""
    publishes = {op["value"]: op for op in operations if op["op"] == "publish"}
    deliveries = collections.defaultdict(list)       # value -> its OK reserves
    acks = collections.defaultdict(list)             # value -> acks OK or of unknown outcome
    nacks = collections.defaultdict(list)            # receipt -> nacks that may have applied
    for op in operations:
        if op["op"] == "reserve" and _answered(op):
            deliveries[op["value"]].append(op)
        elif op["op"] == "ack" and _may_apply(op):
            acks[op["value"]].append(op)
        elif op["op"] == "nack" and _may_apply(op):
            nacks[op["receipt"]].append(op)
    _tally(operations, deliveries, report)
    acked = [value for value, op in publishes.items() if _answered(op)]
    report.add("acked", len(acked))
    for value in acked:
        if not acks.get(value):
            report.add("lost", 1, "%s (published to %s by %s) was never acked" % (
                value, publishes[value]["topic"], publishes[value]["process"]))
    for value, settled in acks.items():
        confirmed = sorted((op for op in settled if _answered(op)), key=lambda op: op["complete"])
        if len(confirmed) > 1:
            report.add("duplicated", len(confirmed) - 1, "%s acked %d times (receipts %s)" % (
                value, len(confirmed), ", ".join(op["receipt"] for op in confirmed)))
    for value, taken in deliveries.items():
        _check_deliveries(value, taken, publishes.get(value), acks.get(value, []), nacks, limits,
                          report)
    return report


def _tally(operations, deliveries, report):
    report.consume["deliveries"] += sum(len(taken) for taken in deliveries.values())
    report.consume["redeliveries"] += sum(1 for taken in deliveries.values() for op in taken
                                          if _position(op) != (0, 1))
    report.consume["dead_lettered"] += sum(1 for taken in deliveries.values()
                                           if any(op.get("original_topic") for op in taken))
    for op in operations:
        if op["op"] == "nack" and _answered(op):
            report.consume["nacks"] += 1
        elif op["op"] == "crash":
            report.consume["crashes"] += 1
        elif op["op"] == "ack" and _answered(op, "NOT_FOUND"):
            report.consume["acks_refused"] += 1
        elif op["op"] == "reserve" and op.get("wait_ms"):
            report.consume["waits"] += 1


def _check_deliveries(value, taken, publish, acks, nacks, limits, report):
    for delivery in taken:
        _check_origin(value, delivery, publish, report)
        _check_dead_letter(value, delivery, limits, report)
        confirmed = [ack for ack in acks if _answered(ack) and ack["complete"] < delivery["invoke"]]
        if confirmed:
            report.add("after_ack", 1, "%s reserved by %s at %.3f after its ack by %s answered at %.3f"
                       % (value, delivery["process"], delivery["invoke"], confirmed[0]["process"],
                          confirmed[0]["complete"]))
    at = collections.defaultdict(list)
    for delivery in taken:
        at[_position(delivery)].append(delivery)
    for position, same in at.items():
        if len(same) > 1:
            report.add("early_redelivery", len(same) - 1, "%s handed out %d times as delivery %s"
                       % (value, len(same), position))
    for delivery in taken:
        position = _predecessor(delivery)
        if position is None or len(at.get(position, [])) != 1:
            continue
        why = _too_early(delivery, at[position][0], nacks.get(at[position][0]["receipt"], []),
                         position[0] != _position(delivery)[0])
        if why:
            report.add("early_redelivery", 1, "%s: %s" % (value, why))


def _check_origin(value, delivery, publish, report):
    home = delivery.get("original_topic") or delivery["topic"]
    why = None
    if publish is None:
        why = "nobody published it"
    elif publish["outcome"] == "fail":
        why = "its publish certainly failed"
    elif publish["topic"] != home:
        why = "it was published to %s" % publish["topic"]
    elif delivery["complete"] < publish["invoke"]:
        why = "it came back before its publish was sent"
    if why:
        report.add("unexpected", 1, "%s reserved from %s by %s: %s" % (
            value, delivery["topic"], delivery["process"], why))


def _check_dead_letter(value, delivery, limits, report):
    original = delivery.get("original_topic")
    if original:
        most, dead_letter = limits.get(original, (0, None))
        if dead_letter != delivery["topic"] or delivery.get("original_deliveries") != most:
            report.add("bad_dead_letter", 1, "%s arrived in %s from %s after %s deliveries "
                       "(that topic: %d deliveries, dead letters to %s)" % (
                           value, delivery["topic"], original, delivery.get("original_deliveries"),
                           most, dead_letter))
        return
    most = limits.get(delivery["topic"], (0, None))[0]
    if most and delivery["deliveries"] > most:
        report.add("bad_dead_letter", 1, "%s delivered from %s a %dth time (max_deliveries %d)"
                   % (value, delivery["topic"], delivery["deliveries"], most))


def _too_early(delivery, before, nacks, moved):
    """Why delivery came too soon after before (its predecessor), or None.
    moved: delivery is the first dead letter, before the last delivery on
    the original topic."""
    ready = before["invoke"] + before["visibility_ms"] / 1000.0
    for nack in nacks:
        ready = min(ready, nack["invoke"] + (0 if moved else nack.get("delay_ms", 0) / 1000.0))
    if delivery["complete"] >= ready - SLACK_S:
        return None
    return ("delivery %s by %s answered at %.3f, but delivery %s (reserved by %s from %.3f for "
            "%d ms, %d nack(s)) could not be ready again before %.3f" % (
                _position(delivery), delivery["process"], delivery["complete"], _position(before),
                before["process"], before["invoke"], before["visibility_ms"], len(nacks), ready))
