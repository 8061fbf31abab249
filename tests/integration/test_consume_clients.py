"""Acknowledged consumption as a client sees it: the raftq CLI (reserve,
ack, nack, pop --wait, create-topic with a dead-letter topic, topics
--detail) and the Python client (reserve, ack, nack over JSON) against a
real cluster."""

import os
import subprocess
import sys
import time

from harness import REPO, check, check_equal, message_put, wait_until
from test_tools import _cli

sys.path.insert(0, os.path.join(REPO, "clients", "python"))
import raftq_client  # noqa: E402


class _Cli:
    """The raftq CLI with --json against one cluster."""

    def __init__(self, ctx, cluster):
        self.ctx = ctx
        self.prefix = ["-c", cluster.config_path, "--json"]

    def run(self, *arguments):
        return _cli(self.ctx, *(self.prefix + [str(argument) for argument in arguments]))

    def ok(self, *arguments):
        code, parsed, out, err = self.run(*arguments)
        check(code == 0 and isinstance(parsed, dict) and parsed.get("success") is True,
              "raftq %s exited %d: %s %s", " ".join(map(str, arguments)), code, out.strip(), err.strip())
        return parsed

    def refused(self, expected_code, *arguments):
        code, parsed, out, err = self.run(*arguments)
        check(code == 1 and isinstance(parsed, dict) and parsed.get("code") == expected_code,
              "raftq %s: expected %s (exit 1), got exit %d: %s %s", " ".join(map(str, arguments)),
              expected_code, code, out.strip(), err.strip())
        return parsed

    def taken(self, what, *arguments):
        """Runs a waiting reserve or pop until it takes a message (what
        comes back after a visibility time or a delay is applied through
        the log: give it a few waits); returns the reply."""
        def take():
            code, parsed, _, _ = self.run(*arguments)
            return parsed if code == 0 else None

        return wait_until(take, 5.0, what)

    def topics(self):
        """topics --detail: name -> row."""
        return {row["name"]: row for row in self.ok("topics", "--detail")["topics"]}


def test_cli_reserve_ack_nack_and_dead_letters(ctx):
    cluster = ctx.cluster(3)
    cluster.start()
    leader = cluster.wait_leader(3.0)
    cli = _Cli(ctx, cluster)

    code, _, _, err = cli.run("create-topic", "jobs", "--max-deliveries", "2")
    check_equal(code, 2, "exit code of --max-deliveries without --dead-letter (%s)" % err.strip())
    cli.ok("create-topic", "jobs-dead")
    cli.ok("create-topic", "jobs", "--max-deliveries", "2", "--dead-letter", "jobs-dead")
    cli.refused("INVALID_ARGUMENT", "create-topic", "other", "--max-deliveries", "2", "--dead-letter", "nowhere")
    for value in ("a", "b", "c"):
        cli.ok("publish", "jobs", value)

    first = cli.ok("reserve", "jobs", "--visibility", "60000")
    check_equal((first["message"], first["deliveries"], first["sequence"]), ("a", 1, 1), "the first reservation")
    second = cli.ok("reserve", "jobs", "--visibility", "60000")
    check_equal(second["message"], "b", "the second reservation: a is reserved")
    check(first["receipt"] != second["receipt"], "two deliveries share the receipt %r", first["receipt"])
    rows = cli.topics()
    check_equal((rows["jobs"]["ready"], rows["jobs"]["reserved"], rows["jobs"]["max_deliveries"],
                 rows["jobs"]["dead_letter"]), (1, 2, 2, "jobs-dead"), "jobs in topics --detail")

    check_equal(cli.ok("ack", first["receipt"]), {"success": True}, "raftq ack")
    cli.refused("NOT_FOUND", "ack", first["receipt"])
    cli.refused("NOT_FOUND", "nack", "no-such-receipt")

    # nacked at once: b is ready again, its delivery count grown
    cli.ok("nack", second["receipt"])
    again = cli.ok("reserve", "jobs", "--visibility", "300")
    check_equal((again["message"], again["deliveries"]), ("b", 2), "b after its nack")
    # reserved max_deliveries times and let expire: a dead letter, whole
    dead = cli.taken("b in jobs-dead", "pop", "jobs-dead", "--wait", "900")
    check_equal((dead["message"], dead["original_topic"], dead["original_deliveries"]), ("b", "jobs", 2),
                "the dead letter (pop --wait)")
    rows = cli.topics()
    check_equal((rows["jobs"]["dead_lettered"], rows["jobs-dead"]["ready"]), (1, 0), "dead letters counted")

    # nacked with a delay: delayed until then, then delivered again
    third = cli.ok("reserve", "jobs")
    check_equal(third["message"], "c", "the third message")
    cli.ok("nack", third["receipt"], "--delay", "400")
    check_equal(cli.topics()["jobs"]["delayed"], 1, "c delayed in topics --detail")
    later = cli.taken("c after its delay", "reserve", "jobs", "--wait", "900")
    check_equal((later["message"], later["deliveries"]), ("c", 2), "c after its delay")
    cli.ok("ack", later["receipt"])

    # a wait longer than the client's own --timeout is not cut off: EMPTY after it
    started = time.monotonic()
    cli.refused("EMPTY", "--timeout", "200", "reserve", "jobs", "--wait", "600")
    took = time.monotonic() - started
    check(took >= 0.55, "reserve --wait 600 answered EMPTY after %.2f s", took)
    # a waiting reserve gets what is published while it waits
    waiting = subprocess.Popen([ctx.program("raftq")] + cli.prefix + ["reserve", "jobs", "--wait", "900"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    check_equal(cluster.request(leader, message_put("jobs", "late"))["success"], True, "publish while waiting")
    out, err = waiting.communicate(timeout=10)
    check(waiting.returncode == 0 and b'"message":"late"' in out, "the waiting reserve: exit %d %r %r",
          waiting.returncode, out, err)

    # for people: the message, then its receipt; the table has a header
    cli.ok("publish", "jobs", "human")
    code, _, out, err = _cli(ctx, "-c", cluster.config_path, "reserve", "jobs")
    lines = out.splitlines()
    check(code == 0 and lines[0] == "human" and lines[1].startswith("receipt "), "raftq reserve: %r %r", out, err)
    code, _, out, err = _cli(ctx, "-c", cluster.config_path, "topics", "--detail")
    check(code == 0 and out.split()[:3] == ["TOPIC", "READY", "RESERVED"] and "jobs-dead" in out,
          "raftq topics --detail: %r %r", out, err)


def test_python_client_reserve_ack_nack(ctx):
    cluster = ctx.cluster(3)
    cluster.start()
    cluster.wait_leader(3.0)
    client = raftq_client.RaftqClient.from_config(cluster.config_path)
    ctx.on_close(client.close)
    client.create_topic("py-dead")
    client.create_topic("py", max_deliveries=3, dead_letter="py-dead")
    client.publish("py", "one")
    taken = client.reserve("py", visibility_ms=60000)
    check_equal((taken["message"], taken["deliveries"]), ("one", 1), "reserved by the Python client")
    client.nack(taken["receipt"])
    again = client.reserve("py", wait_ms=500)
    check_equal((again["message"], again["deliveries"]), ("one", 2), "again after the nack")
    client.ack(again["receipt"])
    try:
        client.ack(again["receipt"])
        check(False, "a second ack of %r was accepted", again["receipt"])
    except raftq_client.RaftqError as error:
        check_equal(error.code, "NOT_FOUND", "code of a second ack")
    try:
        client.reserve("py", wait_ms=300)
        check(False, "reserve of an empty topic succeeded")
    except raftq_client.RaftqError as error:
        check_equal(error.code, "EMPTY", "code of a reserve of an empty topic")
    client.publish("py", "two")
    check_equal(client.pop("py", wait_ms=300), "two", "pop with a wait")
