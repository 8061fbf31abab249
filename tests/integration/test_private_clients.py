"""The clients of private chat streams (issue 11) against a real cluster:
`raftq tail` of user/<name> with a session token gets that user's events
and nothing else, stops when the session is logged out, and a token of
another user gets nothing; the Python Subscription likewise, across the
kill of the node it listens to.

A broker that does not authorize Replay of private streams yet has not got
the broker side of issue 11: such a test prints a SKIP line and returns.
"""

import os
import signal
import sys
import time

from harness import REPO, check, check_equal
from test_chat_client import Cli, Lines, _missing_chat, _skip, _started, _stop

sys.path.insert(0, os.path.join(REPO, "clients", "python"))

import raftq_client  # noqa: E402


def _missing_private(cluster):
    """None when the broker refuses a Replay of a private stream without a
    token (it has the broker side of issue 11), else why not."""
    missing = _missing_chat(cluster)
    if missing:
        return missing
    reply = cluster.leader_request({"type": "replay", "method": "GET", "stream": "user/nobody",
                                    "from": 1, "limit": 1})
    if reply.get("code") == "UNAUTHENTICATED":
        return None
    return "the broker serves user/ streams without a token (replay answered %r)" % reply


def _private_cluster(ctx):
    """A started 3-node cluster with a leader, or None (SKIP said) when its
    broker lacks private streams."""
    cluster = ctx.cluster(3)
    cluster.start()
    cluster.wait_leader(3.0)
    missing = _missing_private(cluster)
    if missing:
        _skip(ctx, missing)
        return None
    return cluster


def _people(cli):
    """alice, bob and carol registered; the session token of each."""
    tokens = {}
    for name in ("alice", "bob", "carol"):
        cli.ok("register", name, "pw-" + name)
        tokens[name] = cli.ok("login", name, "pw-" + name)["token"]
    return tokens


def test_private_cli_tail(ctx):
    cluster = _private_cluster(ctx)
    if cluster is None:
        return
    cli = Cli(ctx, cluster)
    tokens = _people(cli)
    before = cli.ok("send", "--token", tokens["alice"], "bob", "before the tail")["id"]

    # bob's own session: bob's events only, the past by replay
    tail = _started(ctx, cli.spawn("--json", "tail", "--from", "1", "--token", tokens["bob"], "user/bob"))
    lines = Lines(tail.stdout, "tail stdout")
    # carol's session on bob's stream: nothing, and refused replays
    spy = _started(ctx, cli.spawn("--json", "tail", "--from", "1", "--token", tokens["carol"], "user/bob"))
    spy_lines = Lines(spy.stdout, "spy stdout")
    spy_notes = Lines(spy.stderr, "spy stderr")

    cli.ok("send", "--token", tokens["alice"], "carol", "for carol only")
    to_bob = cli.ok("send", "--token", tokens["carol"], "bob", "carol to bob")["id"]
    from_bob = cli.ok("send", "--token", tokens["bob"], "alice", "bob to alice")["id"]
    events = lines.json_objects(3, 15.0)
    check_equal([event["seq"] for event in events], [1, 2, 3], "seqs of user/bob")
    check_equal([event["id"] for event in events], [before, to_bob, from_bob], "message ids in user/bob")
    for event in events:
        check(event["stream"] == "user/bob" and "bob" in (event["from"], event["to"]), "not bob's: %r", event)

    spy_notes.contains("PERMISSION_DENIED", 10.0)
    check_equal(spy_lines.lines, [], "what carol's token read of user/bob")
    _stop(spy, signal.SIGINT)

    # logout ends the tail: no more events, a revoked line, exit status 1
    cli.ok("logout", "--token", tokens["bob"])
    line = lines.next_matching(lambda text: '"revoked"' in text, 10.0, "saying revoked")
    check('"user/bob"' in line, "revoked line: %r", line)
    check_equal(tail.wait(10), 1, "exit code of tail after logout")
    cli.ok("send", "--token", tokens["alice"], "bob", "after the logout")
    check(not any("after the logout" in text for text in lines.lines), "tail printed after the logout")

    # no session at all: refused at once
    code, _, err = cli.run("tail", "user/bob")
    check(code == 1 and "no session" in err, "tail user/bob without a session: %d %r", code, err)


def test_private_python_subscription(ctx):
    cluster = _private_cluster(ctx)
    if cluster is None:
        return
    alice = raftq_client.RaftqClient.from_config(cluster.config_path)
    bob = raftq_client.RaftqClient.from_config(cluster.config_path)
    carol = raftq_client.RaftqClient.from_config(cluster.config_path)
    ctx.on_close(alice.close)
    ctx.on_close(bob.close)
    ctx.on_close(carol.close)
    for client, name in ((alice, "alice"), (bob, "bob"), (carol, "carol")):
        client.create_account(name, "pw-" + name)
        client.login(name, "pw-" + name)
    pubs = raftq_client.config_pub_endpoints(cluster.config_path)
    subscription = bob.subscribe("user/bob", pubs, from_seq=1)
    ctx.on_close(subscription.close)
    spy = carol.subscribe("user/bob", pubs, from_seq=1)
    ctx.on_close(spy.close)

    def collect(count, timeout=15.0):
        events = []
        for _ in range(count):
            kind, value = subscription.next(timeout)
            check(kind == "event", "user/bob: %r instead of an event (%s)", (kind, value), subscription.error)
            events.append(value)
        return events

    sent = [alice.send_message("bob", "first"), carol.send_message("bob", "second")]
    alice.send_message("carol", "for carol only")
    events = collect(2)
    check_equal([(event["seq"], event["id"]) for event in events], [(1, sent[0]), (2, sent[1])],
                "user/bob through Python")
    check(subscription.confirmed, "no subscribed confirmation from %s", subscription.endpoint())
    kind, value = spy.next(3.0)
    check_equal(kind, "error", "carol's first look at user/bob (%r)" % (value,))
    check("PERMISSION_DENIED" in value, "carol's refusal: %r", value)
    kind, value = spy.next(1.0)
    check(kind in (None, "error"), "carol's subscription to user/bob delivered %r", (kind, value))

    # the node it listens to dies: the next node, with the token, the gap replayed
    followed = [node_id for node_id in cluster.ids
                if subscription.endpoint().endswith(":%d" % cluster.config.nodes[node_id].pub_port)][0]
    cluster.kill(followed)
    cluster.wait_leader(5.0, node_ids=[node_id for node_id in cluster.ids if node_id != followed])
    sent += [alice.send_message("bob", "after the kill %d" % number) for number in range(3)]
    events = collect(3, 20.0)
    check_equal([(event["seq"], event["id"]) for event in events], list(zip([3, 4, 5], sent[2:])),
                "user/bob after the kill of node %d" % followed)
    # the events may come by replay before the silence shows the node dead:
    # wait for the move and the new node's confirmation
    killed_pub = ":%d" % cluster.config.nodes[followed].pub_port
    deadline = time.monotonic() + 10.0
    while subscription.endpoint().endswith(killed_pub) or not subscription.confirmed:
        check(time.monotonic() < deadline, "still on the killed node %d or unconfirmed: %s (%s)", followed,
              subscription.endpoint(), subscription.error)
        kind, value = subscription.next(0.2)
        check(kind is None, "user/bob after the kill: %r", (kind, value))

    # logout: revoked, and nothing more
    bob.logout()
    kind, value = subscription.next(10.0)
    check_equal(kind, "revoked", "after bob's logout (%r)" % (value,))
    alice.send_message("bob", "after the logout")
    check_equal(subscription.next(1.0)[0], "revoked", "after the revocation")
