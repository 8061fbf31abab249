"""State quotas of config.json "limits" on a real 3-node cluster: each quota
is reached and refused with RESOURCE_EXHAUSTED and a text naming it (in
protobuf and in the JSON dialect; exactly {"success": false} for the four
RRMQ requests) while reads, pops and deletions go on; writes succeed again
once space is freed; Status shows the state bytes against the limit and
every node counts the same; a cluster restarted at its limits replays the
log (the limits travel in the entries) into the same state and still
serves and refuses alike."""

import raftq_wire as wire

from harness import (FAILED, OK, check, check_equal, message_get, message_put, topic_get,
                     topic_put, wait_until)

LIMITS = {"max_topics": 2, "max_topic_messages": 3, "max_topic_bytes": 1500,
          "max_accounts": 3, "max_inbox_messages": 2, "max_state_bytes": 8192}
DETAIL = {"type": "status", "method": "GET", "detail": True, "hash": True}


def _proto(cluster, leader, body):
    reply = cluster.raw(leader, body)
    check(reply is not None, "node %d did not answer a protobuf request", leader)
    return wire.decode_reply(reply)


def _refused(reply, limit, what):
    """A protobuf reply or a JSON (non-RRMQ) reply refusing with limit."""
    code = reply.get("code")
    check(code == "RESOURCE_EXHAUSTED" and limit in (reply.get("error") or ""),
          "%s: expected RESOURCE_EXHAUSTED naming %s, got %r", what, limit, reply)
    if "success" in reply:
        check(reply["success"] is False and set(reply) == {"success", "code", "error"},
              "%s: JSON refusal keys: %r", what, reply)


def _ok(reply, what):
    check(reply.get("success") is True or reply.get("code") == "OK", "%s: %r", what, reply)
    return reply


def _login(cluster, leader, user):
    reply = _ok(cluster.request(leader, {"type": "login", "method": "PUT", "user": user,
                                         "password": "pw"}), "login of " + user)
    return reply["token"]


def _send(cluster, leader, token, to, text):
    return cluster.request(leader, {"type": "chat", "method": "PUT", "token": token, "to": to,
                                    "text": text})


def _same_state(cluster):
    """Every node applied the same index into the same hash and bytes;
    returns the leader's detail."""
    def same():
        answers = [cluster.request(node_id, DETAIL) for node_id in cluster.ids]
        keys = {(a.get("applied_index"), a.get("state_hash"), a.get("state_bytes"))
                for a in answers}
        return answers[0] if len(keys) == 1 else None
    return wait_until(same, 5.0, "the same state on every node")


def _queue_quotas(cluster, leader):
    # max_topics: RRMQ form exactly {"success": false}, protobuf names the limit
    cluster.put_topic(leader, "a")
    cluster.put_topic(leader, "b")
    check_equal(cluster.request(leader, topic_put("c")), FAILED, "topic c over max_topics")
    _refused(_proto(cluster, leader, wire.create_topic_request(0, 0, "c")), "max_topics",
             "protobuf create c")
    check_equal(cluster.topics(leader), ["a", "b"], "topics at the limit")

    # max_topic_messages: reads and pops go on, a pop frees room
    cluster.publish(leader, "a", ["m1", "m2", "m3"])
    check_equal(cluster.request(leader, message_put("a", "m4")), FAILED, "m4 over max_topic_messages")
    _refused(_proto(cluster, leader, wire.publish_request(0, 0, "a", b"m4")),
             "max_topic_messages", "protobuf publish m4")
    check_equal(cluster.pop(leader, "a"), "m1", "pop at the limit")
    cluster.publish(leader, "a", ["m4"])

    # max_topic_bytes
    cluster.publish(leader, "b", ["x" * 1000])
    check_equal(cluster.request(leader, message_put("b", "y" * 1000)), FAILED,
                "publish over max_topic_bytes")
    _refused(_proto(cluster, leader, wire.publish_request(0, 0, "b", b"y" * 1000)),
             "max_topic_bytes", "protobuf publish over max_topic_bytes")
    check_equal(cluster.pop(leader, "b"), "x" * 1000, "pop of b")
    cluster.publish(leader, "b", ["y" * 1000])


def _chat_quotas(cluster, leader):
    for user in ("u1", "u2", "u3"):
        _ok(cluster.request(leader, {"type": "account", "method": "PUT", "user": user,
                                     "password": "pw"}), "account " + user)
    _refused(cluster.request(leader, {"type": "account", "method": "PUT", "user": "u4",
                                      "password": "pw"}), "max_accounts", "account u4")
    _ok(cluster.request(leader, {"type": "account", "method": "GET", "pattern": "u*"}),
        "list accounts at the limit")
    tokens = {user: _login(cluster, leader, user) for user in ("u1", "u2", "u3")}

    # max_inbox_messages: reading frees the inbox
    _ok(_send(cluster, leader, tokens["u1"], "u2", "hi 1"), "first to u2")
    _ok(_send(cluster, leader, tokens["u1"], "u2", "hi 2"), "second to u2")
    _refused(_send(cluster, leader, tokens["u1"], "u2", "hi 3"), "max_inbox_messages", "third")
    _ok(cluster.request(leader, {"type": "chat", "method": "GET", "token": tokens["u2"]}),
        "u2 reads")
    _ok(_send(cluster, leader, tokens["u1"], "u2", "hi 3"), "third after reading")
    return tokens


def _state_bytes_quota(cluster, leader, tokens):
    detail = _same_state(cluster)
    check_equal(detail.get("max_state_bytes"), LIMITS["max_state_bytes"], "max_state_bytes shown")
    room = LIMITS["max_state_bytes"] - detail["state_bytes"]
    check(300 < room < 4000, "room left for the test: %d (%r)", room, detail)
    # One message that fills the state to within 100 bytes (128: its charge)
    sent = _ok(_send(cluster, leader, tokens["u1"], "u3", "f" * (room - 128 - 100)), "filler")
    _refused(_send(cluster, leader, tokens["u1"], "u3", "g" * 200), "max_state_bytes",
             "message over max_state_bytes")
    check_equal(cluster.request(leader, message_put("a", "m" * 200)), FAILED,
                "publish over max_state_bytes")
    # Pops and logouts go on; deleting the filler frees its room
    check_equal(cluster.pop(leader, "a"), "m2", "pop at max_state_bytes")
    _ok(cluster.request(leader, {"type": "chat", "method": "DELETE", "token": tokens["u3"],
                                 "ids": [sent["id"]]}), "delete the filler")
    _ok(_send(cluster, leader, tokens["u1"], "u3", "g" * 200), "message after freeing")
    return sent


def test_limits_refuse_free_and_survive_restart(ctx):
    cluster = ctx.cluster(3, limits=LIMITS)
    cluster.start()
    leader = cluster.wait_leader()
    _queue_quotas(cluster, leader)
    tokens = _chat_quotas(cluster, leader)
    _state_bytes_quota(cluster, leader, tokens)
    before = _same_state(cluster)

    # Fill it again to the limit, then restart every node: each replays the
    # log (limits in the entries) into the same state and serves
    room = LIMITS["max_state_bytes"] - before["state_bytes"]
    _ok(_send(cluster, leader, tokens["u2"], "u3", "z" * (room - 128 - 50)), "refill")
    at_limit = _same_state(cluster)
    for node_id in cluster.ids:
        check_equal(cluster.terminate(node_id), 0, "exit code of node %d" % node_id)
    cluster.start()
    leader = cluster.wait_leader()
    # The hash covers the applied index, which the new leader's no-op moves
    after = _same_state(cluster)
    check_equal(after["state_bytes"], at_limit["state_bytes"], "state bytes after the restart")
    check_equal(cluster.request(leader, message_put("a", "m" * 200)), FAILED,
                "publish at the limit after the restart")
    check_equal(cluster.request(leader, topic_get()), {"success": True, "topics": ["a", "b"]},
                "topics after the restart")
    check_equal(cluster.request(leader, message_get("a")), {"success": True, "message": "m3"},
                "pop after the restart")
    # 50 bytes of room and the pop's 34 hold a 40-byte message (charged 72)
    check_equal(cluster.request(leader, message_put("a", "m" * 40)), OK,
                "publish once the pop freed room")
    _same_state(cluster)


def test_min_free_disk_refuses_writes_and_recovers(ctx):
    """A node whose data directory is an 8 MiB tmpfs fills it to the
    watermark, then refuses publishes with RESOURCE_EXHAUSTED naming
    min_free_disk_bytes instead of stopping on ENOSPC; it stays up and
    serves pops, and takes writes again once a snapshot compacted the log."""
    import os
    import subprocess
    mount = os.path.join(ctx.dir, "small")
    os.makedirs(mount)
    if subprocess.call(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", mount]) != 0:
        print("SKIP: cannot mount a tmpfs (needs root)")
        return
    ctx.on_close(lambda: subprocess.call(["umount", "-l", mount]))
    # The watermark must leave room for the snapshot that frees the log
    # (README, "Free disk"): retained events hold their payloads, and with
    # the default 1000 per stream the snapshot of about 4 MB of publishes
    # did or did not fit the 4 MiB left, by a few publishes either way
    cluster = ctx.cluster(1, data_dir=mount, segment_bytes=65536, snapshot_log_bytes=1 << 30,
                          snapshot_trailing_entries=5, event_retention=10,
                          limits={"min_free_disk_bytes": 4 * 1024 * 1024})
    cluster.start()
    leader = cluster.wait_leader()
    cluster.put_topic(leader, "fill")
    payload = b"d" * 30000
    published = 0
    while True:
        reply = _proto(cluster, leader, wire.publish_request(0, 0, "fill", payload))
        if reply["code"] != "OK":
            break
        published += 1
        check(published < 300, "8 MiB took %d publishes of 30 KB without a refusal", published)
    _refused(reply, "min_free_disk_bytes", "publish below the watermark")
    check(published > 50, "refused after only %d publishes", published)
    check_equal(cluster.request(leader, message_put("fill", "x")), FAILED, "RRMQ publish")
    # Up, serving reads and pops
    check_equal(cluster.topics(leader), ["fill"], "topics below the watermark")
    drained = cluster.drain(leader, "fill")
    check_equal(len(drained), published, "messages popped below the watermark")
    # A snapshot compacts the log: space comes back, writes resume
    check_equal(cluster.take_snapshot(leader)["code"], "OK", "TakeSnapshot below the watermark")
    wait_until(lambda: _proto(cluster, leader, wire.publish_request(0, 0, "fill", payload))["code"]
               == "OK", 5.0, "a publish accepted after compaction")
    check(cluster.alive, "the node stopped")
