"""selftest — the checkers against synthetic histories with one known flaw
each (and clean ones), so a checker that stopped catching its kind of bug
cannot pass silently. `raftq-chaos --self-test` runs it; the closing line is
`N passed, N failed`.
"""

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
    for case in CASES:
        name, builder, expected = case[:3]
        budget = case[3] if len(case) > 3 else checker.DEFAULT_SEARCH_BUDGET
        report = checker.check(builder.ops, budget)
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
    if _search_budget_case():
        passed += 1
        out.write("PASS an exhausted search budget gives no verdict\n")
    else:
        failed += 1
        out.write("FAIL an exhausted search budget gives no verdict\n")
    out.write("%d passed, %d failed\n" % (passed, failed))
    out.flush()
    return 1 if failed else 0
