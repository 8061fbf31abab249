"""Private chat at rest, on real raftqd clusters (issue 11, the state-side
parts): no session token and no password in any file of any node's data
directory after logins, messages and snapshots (the log and snapshots keep
only a hash of each token); an idle session expires, alike on every
node; a deleted message's text is replayable from no
stream of any node, nor in a snapshot file taken after; the exactly-once table answers a retry only
when it is the request the cached reply answered, so a client id reused by
someone else gets no token and no cached reply."""

import json
import os
import random
import time

from harness import check, check_equal, wait_until

from test_chat import (Writer, _code, _ok, _session, account_put, chat_get, chat_put, login_put,
                       replay_get)

PASSWORDS = {"alice": "alice-pw-7Qx!unique", "bob": "bob-pw-3Zr?unique"}


def _files(directory):
    for root, _, names in os.walk(directory):
        for name in names:
            yield os.path.join(root, name)


def _secrets_found(cluster, secrets):
    """(file, secret) for every secret that appears in a file of a node's
    data directory (config.json holds no secret and is skipped)."""
    found = []
    for path in _files(cluster.directory):
        if os.path.basename(path) == "config.json":
            continue
        with open(path, "rb") as handle:
            data = handle.read()
        for secret in secrets:
            if secret in data:
                found.append((os.path.relpath(path, cluster.directory), repr(secret)))
    return found


def _snapshot_everywhere(cluster):
    leader = cluster.wait_leader(3.0)
    commit = cluster.status(leader)["commit_index"]
    cluster.wait_applied(cluster.ids, commit, 5.0)
    for node_id in cluster.ids:
        reply = cluster.take_snapshot(node_id)
        check_equal(reply["code"], "OK", "TakeSnapshot on node %d: %r" % (node_id, reply))


def test_no_token_or_password_in_data_files(ctx):
    cluster = ctx.cluster(3)
    cluster.start()
    writer = Writer(cluster)
    for user, password in PASSWORDS.items():
        check_equal(writer.send(account_put(user, password)), {"success": True}, "create %s" % user)
    alice = _session(writer, "alice", PASSWORDS["alice"])
    bob = _session(writer, "bob", PASSWORDS["bob"])
    _ok(writer.send(chat_put(alice, "bob", "hello bob")), "alice sends")
    _ok(writer.send(chat_get(bob, partner="alice")), "bob reads")
    _snapshot_everywhere(cluster)
    _ok(writer.send(chat_put(bob, "alice", "after the snapshot")), "bob sends")
    leader = cluster.wait_leader(3.0)
    cluster.wait_applied(cluster.ids, cluster.status(leader)["commit_index"], 5.0)

    secrets = [alice.encode(), bob.encode(), bytes.fromhex(alice), bytes.fromhex(bob)]
    secrets += [password.encode() for password in PASSWORDS.values()]
    check_equal(_secrets_found(cluster, secrets), [], "secrets in data files")
    # the check can see: the message text is stored (not a secret)
    check(any(b"hello bob" in open(path, "rb").read() for path in _files(cluster.directory)),
          "the message text is in no data file: the search sees nothing")

    # sessions still work after a restart from snapshot and log
    for node_id in cluster.ids:
        cluster.kill(node_id)
    cluster.start()
    _ok(writer.send(chat_get(alice, partner="bob")), "alice reads after a full restart")


def test_client_id_reuse_gets_no_token(ctx):
    cluster = ctx.cluster(3)
    cluster.start()
    leader = cluster.wait_leader(3.0)
    writer = Writer(cluster)
    for user, password in PASSWORDS.items():
        check_equal(writer.send(account_put(user, password)), {"success": True}, "create %s" % user)

    # alice logs in and sends with her client id; the id leaks
    client_id = random.getrandbits(62) + 1
    login = dict(login_put("alice", PASSWORDS["alice"]), client_id=client_id, seq=1)
    token = _ok(cluster.request(leader, login), "alice's login")["token"]
    send = dict(chat_put(token, "bob", "private"), client_id=client_id, seq=2)
    sent = _ok(cluster.request(leader, send), "alice's send")

    # the attacker replays her (client_id, seq) with a guessed password
    guess = dict(login_put("alice", "guess"), client_id=client_id, seq=1)
    reply = cluster.request(leader, guess)
    check("token" not in reply and _code(reply) == "UNAUTHENTICATED",
          "a login with a leaked client id and a wrong password: %r", reply)
    # ... with the seq of her cached send: refused, not her reply
    guess = dict(login_put("alice", "guess"), client_id=client_id, seq=2)
    reply = cluster.request(leader, guess)
    check("token" not in reply and _code(reply) == "INVALID_ARGUMENT"
          and "client id reused" in reply.get("error", ""),
          "a login reusing the seq of a cached send: %r", reply)
    # ... or another send under that seq
    other = dict(chat_put("", "bob", "forged"), client_id=client_id, seq=2)
    reply = cluster.request(leader, other)
    check(_code(reply) == "INVALID_ARGUMENT" and "client id reused" in reply.get("error", ""),
          "another send reusing a cached seq: %r", reply)
    # ... with the seq of her latest login, the one a table could cache
    login = dict(login_put("alice", PASSWORDS["alice"]), client_id=client_id, seq=3)
    second = _ok(cluster.request(leader, login), "alice's second login")["token"]
    guess = dict(login_put("alice", "guess"), client_id=client_id, seq=3)
    reply = cluster.request(leader, guess)
    check("token" not in reply and _code(reply) == "UNAUTHENTICATED",
          "a login reusing the seq of her latest login: %r", reply)
    _ok(cluster.request(leader, chat_get(second, partner="bob")), "alice's second session")
    # her own retry still gets her reply, also from a new leader
    send = dict(send, seq=4)
    sent = _ok(cluster.request(leader, send), "alice's send with seq 4")
    check_equal(cluster.request(leader, send), sent, "alice's retry")
    cluster.kill(leader)
    leader = cluster.wait_leader(3.0, other_than=leader)
    check_equal(cluster.request(leader, send), sent, "alice's retry on the new leader")
    reply = cluster.request(leader, dict(login_put("alice", "guess"), client_id=client_id, seq=4))
    check("token" not in reply, "the reuse on the new leader: %r", reply)


def _replayable(cluster, stream, text, token):
    """Nodes on which text is in a replayed event of stream (read with a
    party's token); checks the seqs run without a gap."""
    nodes = []
    for node_id in cluster.ids:
        reply = _ok(cluster.request(node_id, replay_get(stream, 0, token=token)), "replay of %s" % stream)
        seqs = [event["seq"] for event in reply["events"]]
        check_equal(seqs, list(range(seqs[0], seqs[0] + len(seqs))) if seqs else [],
                    "seqs of %s on node %d" % (stream, node_id))
        if any(text in json.dumps(event) for event in reply["events"]):
            nodes.append(node_id)
    return nodes


def _snapshot_files_with(cluster, text):
    return [path for path in _files(cluster.directory)
            if os.sep + "snap" + os.sep in path and text.encode() in open(path, "rb").read()]


def test_deleted_text_is_gone(ctx):
    cluster = ctx.cluster(3)
    cluster.start()
    writer = Writer(cluster)
    users = dict(PASSWORDS, carol="carol-pw")
    for user, password in users.items():
        check_equal(writer.send(account_put(user, password)), {"success": True}, "create %s" % user)
    alice, bob, carol = (_session(writer, user, users[user]) for user in ("alice", "bob", "carol"))
    secret = _ok(writer.send(chat_put(alice, "bob", "deleted-secret-1")), "alice sends")
    _ok(writer.send(chat_put(bob, "alice", "kept-text-1")), "bob sends")
    _ok(writer.send(chat_put(carol, "alice", "carol-secret-2")), "carol sends")
    leader = cluster.wait_leader(3.0)
    cluster.wait_applied(cluster.ids, cluster.status(leader)["commit_index"], 5.0)
    check_equal(_replayable(cluster, "user/bob", "deleted-secret-1", bob), cluster.ids, "before the deletion")

    _ok(writer.send({"type": "chat", "method": "DELETE", "token": bob, "ids": [secret["id"]]}), "bob deletes")
    _ok(writer.send({"type": "account", "method": "DELETE", "token": carol}), "carol deletes her account")
    _snapshot_everywhere(cluster)
    for stream, token in (("user/alice", alice), ("user/bob", bob), ("conv/alice/bob", alice)):
        check_equal(_replayable(cluster, stream, "deleted-secret-1", token), [], "nodes replaying the deleted text on " + stream)
    check_equal(_replayable(cluster, "user/alice", "carol-secret-2", alice), [], "nodes replaying a deleted account's text")
    check_equal(_replayable(cluster, "conv/alice/bob", "kept-text-1", bob), cluster.ids, "nodes replaying kept text")
    check_equal(_snapshot_files_with(cluster, "deleted-secret-1"), [], "snapshot files with the deleted text")
    check_equal(_snapshot_files_with(cluster, "carol-secret-2"), [], "snapshot files with the deleted account's text")
    check(_snapshot_files_with(cluster, "kept-text-1"), "no snapshot file holds the kept text: the search sees nothing")


def test_idle_session_expires_on_every_node(ctx):
    cluster = ctx.cluster(3, session_idle_s=1)
    cluster.start()
    writer = Writer(cluster)
    check_equal(writer.send(account_put("alice", PASSWORDS["alice"])), {"success": True}, "create alice")
    token = _session(writer, "alice", PASSWORDS["alice"])
    _ok(writer.send(chat_get(token)), "a read right after the login")

    # Unused for a second (by the leader's clock in the entries): expired;
    # polling would keep it alive, so one try after the deadline passes
    started = time.monotonic()
    wait_until(lambda: time.monotonic() - started > 1.2, 3.0, "the idle time to pass")
    reply = writer.send(chat_get(token))
    check(_code(reply) == "UNAUTHENTICATED" and "expired" in reply.get("error", ""),
          "a read after the idle time: %r", reply)
    check_equal(_code(writer.send(chat_get(token))), "UNAUTHENTICATED", "the expired token again")
    leader = cluster.wait_leader(3.0)
    cluster.wait_applied(cluster.ids, cluster.status(leader)["commit_index"], 5.0)
    hashes = {cluster.request(node_id, {"type": "status", "method": "GET", "hash": True})["state_hash"]
              for node_id in cluster.ids}
    check_equal(len(hashes), 1, "distinct state hashes after the expiry")
