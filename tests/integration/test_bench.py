"""raftq-bench in the JSON dialect (--json, issue 12) against a real 3-node
cluster: every publish it counts committed is in the topic, with the
payload it sent, and a refusal counts as an error, not as a commit (the
cluster's max_topic_messages makes the last publishes fail); its ListTopics
reads are answered OK."""

import re
import subprocess

from harness import check, check_equal

TOPIC_LIMIT = 200       # max_topic_messages of the cluster
SENT = 240              # publishes the bench sends: the last 40 are refused
PAYLOAD_BYTES = 256
BENCH_TIMEOUT_S = 30    # the runs take a second or two


def _bench(ctx, cluster, *arguments):
    """Runs raftq-bench --json on one connection with 16 in flight and no
    warm-up; returns its report."""
    command = [ctx.program("raftq-bench"), "-c", cluster.config_path, "-n", "1", "-m", "16",
               "-w", "0", "-s", str(PAYLOAD_BYTES), "--json"] + list(arguments)
    finished = subprocess.run(command, capture_output=True, text=True, timeout=BENCH_TIMEOUT_S)
    check(finished.returncode == 0, "%s exited %d: %s", " ".join(command), finished.returncode,
          finished.stderr.strip())
    return finished.stdout


def _row(report, name):
    """The first word after a row's name in the report."""
    found = re.search(r"^  %s +(\S+)" % re.escape(name), report, re.MULTILINE)
    check(found, "no %r row in the report:\n%s", name, report)
    return found.group(1)


def test_bench_json_publish_and_read(ctx):
    cluster = ctx.cluster(3, limits={"max_topic_messages": TOPIC_LIMIT})
    cluster.start()
    leader = cluster.wait_leader(3.0)

    report = _bench(ctx, cluster, "--count", str(SENT), "-d", "20")
    check_equal(int(_row(report, "ops committed")), TOPIC_LIMIT, "publishes committed")
    # the RRMQ publish fails with exactly {"success":false}: no code to tell
    check_equal(_row(report, "errors"), "UNAVAILABLE=%d" % (SENT - TOPIC_LIMIT), "errors")

    messages = cluster.drain(leader, "bench", limit=SENT)
    check_equal(len(messages), TOPIC_LIMIT, "messages in the topic")
    check(len(set(messages)) == 1 and re.fullmatch("[A-Za-z0-9]{%d}" % PAYLOAD_BYTES, messages[0]),
          "the topic holds other payloads than the bench's one text: %r", messages[:2])

    report = _bench(ctx, cluster, "--mode", "read", "-d", "0.5")
    check(int(_row(report, "ops committed")) > 0, "no ListTopics answered:\n%s", report)
    check_equal(_row(report, "errors"), "none", "errors of the reads")
