"""The chat clients against a real cluster: the raftq CLI's one-shot chat
commands and `raftq tail`, the interactive `raftq chat`, the Python example
client, and the subscription helper following a stream while the node it
listens to is killed.

A broker without chat (or without Replay, for the stream tests) is not a
failure of these clients: such a test prints a SKIP line and returns.
"""

import json
import os
import select
import signal
import subprocess
import sys
import time

from harness import REPO, TestFailure, check, check_equal, message_put

PYTHON_EXAMPLE = os.path.join(REPO, "clients", "python", "example.py")
SUPPORTED_REFUSALS = {"UNAUTHENTICATED", "NOT_FOUND", "PERMISSION_DENIED"}


def _skip(ctx, why):
    print("SKIP %s: %s" % (ctx.name, why), flush=True)


def _missing_chat(cluster):
    """None when the broker serves chat requests, else why not."""
    reply = cluster.leader_request({"type": "login", "method": "PUT", "user": "no-such-user", "password": "x"})
    if reply.get("success") is True or reply.get("code") in SUPPORTED_REFUSALS:
        return None
    return "the broker does not serve chat yet (login answered %r)" % reply


def _missing_replay(cluster):
    """None when the broker serves Replay, else why not."""
    reply = cluster.leader_request({"type": "replay", "method": "GET", "stream": "topic/no-such-topic",
                                    "from": 1, "limit": 1})
    if reply.get("success") is True or reply.get("code") == "NOT_FOUND":
        return None
    return "the broker does not serve replay yet (it answered %r)" % reply


def _environment():
    """The environment for the CLI, without a session of the caller's."""
    environment = dict(os.environ)
    environment.pop("RAFTQ_TOKEN", None)
    return environment


class Cli:
    """Runs the raftq CLI against one cluster."""

    def __init__(self, ctx, cluster):
        self.program = ctx.program("raftq")
        self.config = ["-c", cluster.config_path]

    def run(self, *arguments, env=None, timeout=20):
        """(exit code, stdout, stderr)."""
        environment = _environment()
        environment.update(env or {})
        completed = subprocess.run([self.program] + self.config + [str(argument) for argument in arguments],
                                   stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                   env=environment, timeout=timeout)
        return completed.returncode, completed.stdout.decode("utf-8", "replace"), \
            completed.stderr.decode("utf-8", "replace")

    def ok(self, *arguments, env=None):
        """The --json output of a command that must succeed."""
        code, out, err = self.run("--json", *arguments, env=env)
        check(code == 0, "raftq %s exited %d: %s %s", " ".join(map(str, arguments)), code, out.strip(), err.strip())
        try:
            parsed = json.loads(out)
        except ValueError:
            raise TestFailure("raftq --json %s printed no JSON: %r" % (" ".join(map(str, arguments)), out))
        check(parsed.get("success") is True, "raftq --json %s: %r", " ".join(map(str, arguments)), parsed)
        return parsed

    def refused(self, expected_code, *arguments, env=None):
        code, out, err = self.run("--json", *arguments, env=env)
        check(code == 1, "raftq %s exited %d (expected 1): %s %s", " ".join(map(str, arguments)), code,
              out.strip(), err.strip())
        parsed = json.loads(out) if out.strip() else None
        check(isinstance(parsed, dict) and parsed.get("success") is False and parsed.get("code") == expected_code,
              "raftq --json %s: expected a %s failure, printed %r", " ".join(map(str, arguments)), expected_code, out)

    def spawn(self, *arguments):
        return subprocess.Popen([self.program] + self.config + [str(argument) for argument in arguments],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                env=_environment())


class Lines:
    """Lines a child process writes, read without blocking, with deadlines."""

    def __init__(self, stream, what):
        self.fd = stream.fileno()
        self.what = what            # "tail stdout", for messages
        self.buffer = b""           # bytes after the last newline
        self.lines = []             # every line read so far
        self.position = 0           # lines before it are consumed
        self.closed = False

    def _read(self, timeout):
        if self.closed:
            time.sleep(min(timeout, 0.05))
            return
        ready, _, _ = select.select([self.fd], [], [], max(0.0, timeout))
        if not ready:
            return
        data = os.read(self.fd, 65536)
        if not data:
            self.closed = True
            return
        self.buffer += data
        *complete, self.buffer = self.buffer.split(b"\n")
        self.lines.extend(line.decode("utf-8", "replace") for line in complete)

    def next_matching(self, predicate, timeout, description):
        """The first unconsumed line for which predicate holds; consumes the
        lines up to it. TestFailure after timeout seconds."""
        deadline = time.monotonic() + timeout
        while True:
            while self.position < len(self.lines):
                line = self.lines[self.position]
                self.position += 1
                if predicate(line):
                    return line
            left = deadline - time.monotonic()
            if left <= 0:
                raise TestFailure("%s: no line %s within %.1f s (last lines: %r)" % (
                    self.what, description, timeout, self.lines[-8:]))
            self._read(left)

    def contains(self, text, timeout):
        return self.next_matching(lambda line: text in line, timeout, "containing %r" % text)

    def json_objects(self, count, timeout):
        """The next count lines, each parsed as JSON."""
        objects = []
        for _ in range(count):
            line = self.next_matching(lambda line: line.strip() != "", timeout, "of JSON")
            try:
                objects.append(json.loads(line))
            except ValueError:
                raise TestFailure("%s: not JSON: %r" % (self.what, line))
        return objects


def _stop(process, signum=signal.SIGINT, timeout=5.0):
    """Signals a child and waits; returns its exit code (None if it had to be killed)."""
    if process.poll() is None:
        process.send_signal(signum)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            return None
    return process.returncode


def _started(ctx, process):
    ctx.on_close(lambda: _stop(process, signal.SIGKILL))
    return process


def test_chat_cli_commands(ctx):
    cluster = ctx.cluster(3)
    cluster.start()
    leader = cluster.wait_leader(3.0)
    missing = _missing_chat(cluster)
    if missing:
        return _skip(ctx, missing)
    cli = Cli(ctx, cluster)

    check_equal(cli.ok("register", "alice", "pw-a"), {"success": True, "user": "alice"}, "raftq register alice")
    cli.ok("register", "bob", "pw-b")
    cli.refused("ALREADY_EXISTS", "register", "alice", "other")
    check_equal(cli.ok("check-user", "alice")["exists"], True, "check-user alice")
    check_equal(cli.ok("check-user", "nobody")["exists"], False, "check-user nobody")
    cli.refused("UNAUTHENTICATED", "login", "alice", "wrong")

    # text mode prints the token alone, for RAFTQ_TOKEN=$(raftq login ...)
    code, out, err = cli.run("login", "alice", "pw-a")
    check(code == 0 and len(out.splitlines()) == 1 and out.strip(), "raftq login (text): %d %r %r", code, out, err)
    token_alice = out.strip()
    session = cli.ok("login", "bob", "pw-b")
    check(session["token"] and session["unread"] == 0, "login bob: %r", session)
    token_bob = session["token"]

    # three ways to name the session
    first = cli.ok("send", "--token", token_alice, "bob", "hello bob")["id"]
    second = cli.ok("send", "bob", "second one", env={"RAFTQ_TOKEN": token_alice})["id"]
    third = cli.ok("send", "--user", "alice", "--password", "pw-a", "bob", "-starts with a dash")["id"]
    check(first < second < third, "message ids not increasing: %r", (first, second, third))
    cli.refused("UNAUTHENTICATED", "send", "bob", "no session")
    check_equal(cli.ok("login", "bob", "pw-b")["unread"], 3, "bob's unread count")

    unread = cli.ok("read", "--token", token_bob)
    check_equal([(message["id"], message["from"], message["to"], message["text"]) for message in unread["messages"]],
                [(first, "alice", "bob", "hello bob"), (second, "alice", "bob", "second one"),
                 (third, "alice", "bob", "-starts with a dash")], "bob's unread messages")
    check_equal((unread["total"], unread["remaining"]), (3, 0), "total and remaining of bob's unread")
    check_equal(cli.ok("read", "--token", token_bob)["messages"], [], "bob's unread after reading")

    # the conversation, in pages, from either side
    page = cli.ok("read", "--token", token_alice, "--with", "bob", "--page-size", "2")
    check_equal([message["id"] for message in page["messages"]], [first, second], "first page of the conversation")
    check_equal((page["total"], page["remaining"]), (3, 1), "total and remaining of page 1")
    page = cli.ok("read", "--token", token_bob, "--with", "alice", "--page", "2", "--page-size", "2")
    check_equal([message["id"] for message in page["messages"]], [third], "second page of the conversation")
    code, out, err = cli.run("read", "--token", token_bob, "--with", "alice")
    check(code == 0 and "alice -> bob: hello bob" in out, "raftq read (text): %d %r %r", code, out, err)

    check_equal(cli.ok("users"), {"success": True, "accounts": ["alice", "bob"], "total": 2}, "raftq users")
    check_equal(cli.ok("users", "a*"), {"success": True, "accounts": ["alice"], "total": 1}, "raftq users a*")
    check_equal(cli.ok("users", "--page-size", "1", "--page", "2")["accounts"], ["bob"], "users page 2 of 1")

    check_equal(cli.ok("delete", "--token", token_bob, "#%d" % first)["deleted"], 1, "bob deletes a message")
    page = cli.ok("read", "--token", token_alice, "--with", "bob")
    check_equal([message["id"] for message in page["messages"]], [second, third], "conversation after the delete")

    # the leader dies: the next commands find the new one
    cluster.kill(leader)
    fourth = cli.ok("send", "--token", token_bob, "alice", "after the kill")["id"]
    check(fourth > third, "message id after the leader kill: %r", fourth)
    unread = cli.ok("read", "--token", token_alice)
    check_equal([message["text"] for message in unread["messages"]], ["after the kill"], "alice's unread after the kill")

    check_equal(cli.ok("logout", "--token", token_alice), {"success": True}, "raftq logout")
    cli.refused("UNAUTHENTICATED", "send", "--token", token_alice, "bob", "logged out")
    cli.ok("delete-account", "--user", "bob", "--password", "pw-b")
    cli.refused("UNAUTHENTICATED", "login", "bob", "pw-b")
    check_equal(cli.ok("users")["accounts"], ["alice"], "accounts after bob left")


def test_chat_cli_tail(ctx):
    cluster = ctx.cluster(3)
    cluster.start()
    cluster.wait_leader(3.0)
    missing = _missing_chat(cluster) or _missing_replay(cluster)
    if missing:
        return _skip(ctx, missing)
    cli = Cli(ctx, cluster)
    cli.ok("register", "alice", "pw-a")
    cli.ok("register", "bob", "pw-b")
    token = cli.ok("login", "alice", "pw-a")["token"]
    token_bob = cli.ok("login", "bob", "pw-b")["token"]
    sent = [cli.ok("send", "--token", token, "bob", "before %d" % number)["id"] for number in range(3)]

    # from seq 1: the past comes by replay, then live messages; user/bob is
    # private: bob's session reads it
    tail = _started(ctx, cli.spawn("--json", "tail", "--from", "1", "--count", "5", "--token", token_bob,
                                   "user/bob"))
    lines = Lines(tail.stdout, "tail stdout")
    events = lines.json_objects(3, 10.0)
    sent += [cli.ok("send", "--token", token, "bob", "after %d" % number)["id"] for number in range(2)]
    events += lines.json_objects(2, 10.0)
    check_equal([event["seq"] for event in events], [1, 2, 3, 4, 5], "seqs of user/bob")
    check_equal([event["id"] for event in events], sent, "message ids in user/bob")
    check_equal([event["text"] for event in events], ["before 0", "before 1", "before 2", "after 0", "after 1"],
                "texts in user/bob")
    for event in events:
        check(event["stream"] == "user/bob" and event["kind"] == "message" and event["from"] == "alice"
              and event["to"] == "bob" and isinstance(event["ts"], int) and event["index"] > 0,
              "tail event: %r", event)
    check_equal(tail.wait(10), 0, "exit code of tail --count 5")

    # the conversation stream, as text, with either party's session, stopped by Ctrl-C
    tail = _started(ctx, cli.spawn("tail", "--from", "2", "--token", token, "conv/alice/bob"))
    lines = Lines(tail.stdout, "tail stdout")
    line = lines.contains("before 1", 10.0)
    check(line.startswith("conv/alice/bob 2 message #%d" % sent[1]) and "alice -> bob: before 1" in line,
          "text line of tail: %r", line)
    lines.contains("after 1", 10.0)
    check_equal(_stop(tail, signal.SIGINT), 0, "exit code of tail after Ctrl-C")


def test_chat_interactive(ctx):
    cluster = ctx.cluster(3)
    cluster.start()
    cluster.wait_leader(3.0)
    missing = _missing_chat(cluster)
    if missing:
        return _skip(ctx, missing)
    cli = Cli(ctx, cluster)
    cli.ok("register", "bob", "pw-b")
    token_bob = cli.ok("login", "bob", "pw-b")["token"]

    chat = _started(ctx, cli.spawn("chat"))
    lines = Lines(chat.stdout, "chat stdout")

    def say(line):
        chat.stdin.write((line + "\n").encode("utf-8"))
        chat.stdin.flush()

    lines.contains("/help", 5.0)
    say("/register alice pw-a")
    lines.contains("registered alice", 10.0)
    say("/login alice pw-a")
    lines.contains("logged in as alice; 0 unread", 10.0)
    say("/to bob hello from the chat")
    line = lines.contains("sent #", 10.0)
    check(line.endswith("to bob"), "send line: %r", line)
    say("a plain line goes to bob too")
    lines.contains("sent #", 10.0)
    say("/users")
    lines.contains("alice bob", 10.0)

    # bob answers from elsewhere: it shows while alice's chat waits for input
    answer = cli.ok("send", "--token", token_bob, "alice", "hi alice, bob here")["id"]
    line = lines.contains("bob: hi alice, bob here", 10.0)
    check("(#%d)" % answer in line, "live line names no message id: %r", line)
    say("/read")
    lines.contains("bob -> alice: hi alice, bob here", 10.0)
    say("/conv bob")
    lines.contains("alice -> bob: hello from the chat", 10.0)
    say("/delete %d" % answer)
    lines.contains("deleted 1 message(s)", 10.0)
    say("/nonsense")
    lines.contains("unknown command /nonsense", 10.0)
    say("/quit")
    check_equal(chat.wait(10), 0, "exit code of raftq chat after /quit")
    unread = cli.ok("read", "--token", token_bob)
    check_equal([message["text"] for message in unread["messages"]],
                ["hello from the chat", "a plain line goes to bob too"], "bob's unread from the chat")


def test_python_example(ctx):
    cluster = ctx.cluster(3)
    cluster.start()
    leader = cluster.wait_leader(3.0)
    missing = _missing_chat(cluster)
    if missing:
        return _skip(ctx, missing)

    def run(*arguments):
        completed = subprocess.run([sys.executable, PYTHON_EXAMPLE] + list(arguments), stdin=subprocess.DEVNULL,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
        out = completed.stdout.decode("utf-8", "replace")
        check(completed.returncode == 0, "example.py %s exited %d: %s %s", " ".join(arguments),
              completed.returncode, out, completed.stderr.decode("utf-8", "replace"))
        return out.splitlines()

    lines = run("--config", cluster.config_path, "--alice", "ann", "--bob", "ben")
    check(len(lines) == 10, "example output: %r", lines)
    first = int(lines[3].rsplit("#", 1)[1])
    second = int(lines[6].rsplit("#", 1)[1])
    check_equal(lines, [
        "registered ann", "registered ben", "ann logged in (0 unread)", "ann -> ben: message #%d" % first,
        "ben logged in (1 unread)", "ben read #%d from ann: hello ben, this is ann" % first,
        "ben -> ann: message #%d" % second, "conversation of ann with ben (2 message(s)):",
        "  #%d ann -> ben: hello ben, this is ann" % first, "  #%d ben -> ann: hi ann, ben here" % second,
    ], "output of example.py")

    # endpoints instead of a config, the leader among them dead
    cluster.kill(leader)
    endpoints = []
    for node_id in cluster.ids:
        endpoints += ["-e", cluster.endpoint(node_id)]
    lines = run(*(endpoints + ["--alice", "ann", "--bob", "ben"]))
    check(lines[:2] == ["ann was registered already", "ben was registered already"],
          "example output after the kill: %r", lines)
    check(any(line.startswith("ben read #") for line in lines), "ben read nothing the second time: %r", lines)


def test_tail_follows_across_node_kill(ctx):
    cluster = ctx.cluster(3)
    cluster.start()
    leader = cluster.wait_leader(3.0)
    missing = _missing_replay(cluster)
    if missing:
        return _skip(ctx, missing)
    cluster.put_topic(leader, "jobs")
    cluster.publish(leader, "jobs", ["m%d" % number for number in range(1, 6)])

    # the leader's node first: the subscription listens there
    order = [leader] + cluster.followers(leader)
    arguments = []
    for node_id in order:
        node = cluster.config.nodes[node_id]
        arguments += ["-e", node.endpoint, "-p", "tcp://%s:%d" % (node.host, node.pub_port)]
    tail = _started(ctx, subprocess.Popen(
        [ctx.program("raftq")] + arguments + ["--json", "tail", "--from", "1", "topic/jobs"],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_environment()))
    lines = Lines(tail.stdout, "tail stdout")
    notes = Lines(tail.stderr, "tail stderr")
    events = lines.json_objects(5, 10.0)
    leader_pub = "tcp://127.0.0.1:%d" % cluster.config.nodes[leader].pub_port
    notes.contains("following topic/jobs on %s" % leader_pub, 5.0)

    cluster.kill(leader)
    killed_at = time.monotonic()
    new_leader = cluster.wait_leader(5.0, other_than=leader, node_ids=cluster.followers(leader))
    for number in range(6, 11):
        message = dict(message_put("jobs", "m%d" % number), client_id=4242, seq=number)
        reply = cluster.leader_request(message, timeout=10.0)
        check_equal(reply, {"success": True}, "publish m%d after the kill (leader %d)" % (number, new_leader))
    events += lines.json_objects(5, 15.0)
    check_equal([event["seq"] for event in events], list(range(1, 11)), "seqs delivered across the kill")
    check_equal([event["message"] for event in events], ["m%d" % number for number in range(1, 11)],
                "messages delivered across the kill")
    check(all(event["kind"] == "publish" and event["topic"] == "jobs" for event in events), "events: %r", events)
    note = notes.next_matching(lambda line: "following topic/jobs on" in line and leader_pub not in line,
                               5.0, "naming the node tail moved to")
    check(time.monotonic() - killed_at < 20, "tail took %.1f s to move: %r", time.monotonic() - killed_at, note)
    check_equal(_stop(tail, signal.SIGINT), 0, "exit code of tail after Ctrl-C")
