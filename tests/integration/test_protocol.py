"""The client protocol as a ZeroMQ client sees it: the exact JSON dialect of
DESIGN 5.2, the RRMQ config form, and malformed input of every kind answered
with a failure while the node keeps serving."""

import json

import zmq

from harness import (FAILED, OK, PROTOBUF_STATUS_REQUEST, STATUS, STATUS_KEYS, check, check_equal,
                     failure_reply, message_get, message_put, protobuf_fields, topic_get, topic_put,
                     wait_until)

MIB = 1024 * 1024


def _malformed_bodies():
    """(label, body) of requests that must each get a failure reply."""
    nested = b'{"a":' * 100000 + b"1" + b"}" * 100000
    return [
        ("not JSON", b"hello there"),
        ("truncated JSON object", b'{"type":"status","method":'),
        ("JSON array", b'[{"type":"status","method":"GET"}]'),
        ("JSON string", b'"status"'),
        ("JSON with trailing garbage", b'{"type":"topic","method":"GET"} trailing'),
        ("empty object", b"{}"),
        ("missing method", b'{"type":"topic"}'),
        ("missing type", b'{"method":"GET"}'),
        ("topic PUT without topic", b'{"type":"topic","method":"PUT"}'),
        ("message PUT without message", b'{"type":"message","method":"PUT","topic":"t"}'),
        ("message PUT without topic", b'{"type":"message","method":"PUT","message":"m"}'),
        ("message GET without topic", b'{"type":"message","method":"GET"}'),
        ("type is a number", b'{"type":1,"method":"GET"}'),
        ("method is null", b'{"type":"topic","method":null}'),
        ("topic is a number", b'{"type":"topic","method":"PUT","topic":5}'),
        ("message is an array", b'{"type":"message","method":"PUT","topic":"t","message":["m"]}'),
        ("message is an object", b'{"type":"message","method":"PUT","topic":"t","message":{"m":1}}'),
        ("topic is null", b'{"type":"message","method":"GET","topic":null}'),
        ("client_id is a string", b'{"type":"message","method":"PUT","topic":"t","message":"m","client_id":"abc","seq":1}'),
        ("seq is negative", b'{"type":"message","method":"PUT","topic":"t","message":"m","client_id":7,"seq":-1}'),
        ("unknown type", b'{"type":"bogus","method":"GET"}'),
        ("unknown method", b'{"type":"topic","method":"PATCH"}'),
        ("invalid UTF-8", b'{"type":"topic","method":"PUT","topic":"\xff\xfe"}'),
        ("NUL inside a string", b'{"type":"topic","method":"PUT","topic":"a\\u0000b"}'),
        ("deeply nested JSON", nested),
        ("garbage protobuf", b"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01"),
        ("protobuf cut inside a field", bytes([(12 << 3) | 2, 50, 10, 3]) + b"ab"),
        ("protobuf without an operation", bytes([(1 << 3) | 0, 42, (2 << 3) | 0, 1])),
        ("empty frame", b""),
        ("oversize publish (JSON, > 1 MiB)",
         json.dumps(message_put("t", "x" * (MIB + 4096))).encode("utf-8")),
        ("oversize garbage frame (2 MiB)", b"\x00" * (2 * MIB)),
    ]


def test_malformed_requests_get_failures(ctx):
    cluster = ctx.cluster(3)
    cluster.start()
    leader = cluster.wait_leader(3.0)
    cluster.put_topic(leader, "t")
    follower = cluster.followers(leader)[0]

    problems = []
    for node_id in (leader, follower):
        for label, body in _malformed_bodies():
            why = failure_reply(cluster.raw(node_id, body))
            if why is not None:
                problems.append("node %d, %s: %s" % (node_id, label, why))
            if cluster.status(node_id, timeout=1.0) is None:
                problems.append("node %d stopped answering status after: %s" % (node_id, label))
                break
    check(not problems, "%d malformed request(s) mishandled: %s", len(problems), "; ".join(problems))

    # frames a REQ client cannot send: several body frames, no empty delimiter
    dealer = zmq.Context.instance().socket(zmq.DEALER)
    dealer.setsockopt(zmq.LINGER, 0)
    try:
        dealer.connect(cluster.endpoint(leader))
        dealer.send_multipart([b"", json.dumps(STATUS).encode(), b"extra frame"])
        dealer.send_multipart([json.dumps(STATUS).encode()])
        dealer.send_multipart([b"", b"", b""])
    finally:
        dealer.close(0)

    leader = cluster.wait_leader(3.0)
    cluster.publish(leader, "t", ["still serving"])
    check_equal(cluster.drain(leader, "t"), ["still serving"], "the cluster after malformed requests")
    for node_id in cluster.ids:
        check(cluster.status(node_id) is not None, "node %d does not answer status at the end", node_id)


def _check_status_shape(status, node_id, leader, members):
    check(status is not None, "node %d gave no status", node_id)
    check_equal(set(status), STATUS_KEYS, "keys of node %d's status" % node_id)
    check_equal(status["id"], node_id, "id in node %d's status" % node_id)
    check_equal(status["role"], "Leader" if node_id == leader else "Follower", "role in node %d's status" % node_id)
    check_equal(status["leader"], leader, "leader in node %d's status" % node_id)
    for key in ("term", "commit_index", "applied_index", "last_index"):
        check(type(status[key]) is int and status[key] >= 0, "%s in node %d's status: %r", key, node_id, status[key])
    check(status["term"] >= 1, "term of an elected cluster is %r", status["term"])
    check(status["applied_index"] <= status["commit_index"] <= status["last_index"],
          "node %d: applied %d <= commit %d <= last %d does not hold", node_id,
          status["applied_index"], status["commit_index"], status["last_index"])
    check(isinstance(status["members"], list) and all(type(member) is int for member in status["members"]),
          "members in node %d's status: %r", node_id, status["members"])
    check_equal(sorted(status["members"]), members, "members in node %d's status" % node_id)


def test_json_contract_exact_keys(ctx):
    cluster = ctx.cluster(3)
    cluster.start()
    leader = cluster.wait_leader(3.0)

    # status: exact keys and types on every node once they agree on the leader
    def agreed():
        answers = cluster.statuses()
        return answers if all(answer and answer.get("leader") == leader for answer in answers.values()) else None
    answers = wait_until(agreed, 2.0, "every node to name node %d leader" % leader)
    for node_id, status in answers.items():
        _check_status_shape(status, node_id, leader, cluster.ids)

    # the four RRMQ operations, success and failure, exact replies
    check_equal(cluster.request(leader, topic_put("news")), OK, "topic PUT")
    check_equal(cluster.request(leader, topic_put("news")), FAILED, "topic PUT of an existing topic")
    check_equal(cluster.request(leader, topic_put("sport")), OK, "second topic PUT")
    check_equal(cluster.request(leader, topic_get()), {"success": True, "topics": ["news", "sport"]}, "topic GET")
    check_equal(cluster.request(leader, message_put("nowhere", "m")), FAILED, "message PUT to a missing topic")
    check_equal(cluster.request(leader, message_get("nowhere")), FAILED, "message GET from a missing topic")
    check_equal(cluster.request(leader, message_get("news")), FAILED, "message GET from an empty topic")

    # payloads come back byte for byte, whatever JSON escaping they need
    payloads = ["plain", "", "quotes \" and \\ backslashes / slash", "line\nbreak\ttab",
                "unicode h\u00e9llo \u2713 \U0001F600", "{\"looks\": [\"like json\"]}", "k" * 100000]
    for payload in payloads:
        check_equal(cluster.request(leader, message_put("news", payload)), OK, "message PUT of %r" % payload[:30])
    for payload in payloads:
        check_equal(cluster.request(leader, message_get("news")), {"success": True, "message": payload},
                    "message GET (expecting %r)" % payload[:30])
    check_equal(cluster.request(leader, message_get("news")), FAILED, "message GET after draining")

    # followers serve none of the four: exactly {"success": false}, at once
    cluster.publish(leader, "sport", ["goal"])
    for node_id in cluster.followers(leader):
        for request in (topic_put("other"), topic_get(), message_put("sport", "m"), message_get("sport")):
            check_equal(cluster.request(node_id, request, timeout=1.0), FAILED,
                        "follower %d's answer to %s %s" % (node_id, request["type"], request["method"]))
    check_equal(cluster.drain(leader, "sport"), ["goal"], "the queue the followers were asked to pop")

    # the same status through the protobuf dialect: Reply.code OK, Reply.status.id
    for node_id in cluster.ids:
        body = cluster.raw(node_id, PROTOBUF_STATUS_REQUEST)
        check(body is not None, "node %d gave no reply to a protobuf Status", node_id)
        reply = protobuf_fields(body)
        check_equal(reply.get(1, [0])[-1], 0, "code of node %d's protobuf Status reply" % node_id)
        check(13 in reply, "node %d's protobuf Status reply has no status field: %r", node_id, body[:80])
        check_equal(protobuf_fields(reply[13][-1]).get(1, [0])[-1], node_id, "id in node %d's protobuf status" % node_id)


def test_rrmq_config_form(ctx):
    cluster = ctx.cluster(3, rrmq=True)
    spawned = cluster.start()
    leader = cluster.wait_leader(3.0, since=spawned)
    for node_id in cluster.ids:
        status = cluster.status(node_id)
        check(status is not None, "node %d (INDEX %d) gave no status", node_id, node_id - 1)
        check_equal(status["id"], node_id, "id of the node started with INDEX %d" % (node_id - 1))
    check_equal(cluster.request(leader, topic_put("rrmq")), OK, "topic PUT")
    check_equal(cluster.request(leader, message_put("rrmq", "hello")), OK, "message PUT")
    check_equal(cluster.request(leader, message_put("rrmq", "world")), OK, "message PUT")
    check_equal(cluster.request(leader, message_get("rrmq")), {"success": True, "message": "hello"}, "message GET")
    follower = cluster.followers(leader)[0]
    check_equal(cluster.request(follower, message_get("rrmq")), FAILED, "message GET on a follower")
    check_equal(cluster.request(leader, message_get("rrmq")), {"success": True, "message": "world"}, "message GET")
    check_equal(cluster.request(leader, message_get("rrmq")), FAILED, "message GET from the empty topic")


def test_fanout_on_every_node(ctx):
    cluster = ctx.cluster(3)
    cluster.start()
    leader = cluster.wait_leader(3.0)
    subscribers = {}
    try:
        for node_id in cluster.ids:
            subscriber = zmq.Context.instance().socket(zmq.SUB)
            subscriber.setsockopt(zmq.LINGER, 0)
            subscriber.setsockopt(zmq.SUBSCRIBE, b"topic/")
            subscriber.connect("tcp://127.0.0.1:%d" % cluster.config.nodes[node_id].pub_port)
            subscribers[node_id] = subscriber

        # a SUB connects asynchronously: publish to a warm-up topic until every
        # subscriber has seen an event, so none of the real ones can be missed
        cluster.put_topic(leader, "warmup")
        warm = set()

        def all_warm():
            cluster.publish(leader, "warmup", ["ping"])
            for node_id, subscriber in subscribers.items():
                while subscriber.poll(50):
                    if subscriber.recv_multipart()[0] == b"topic/warmup":
                        warm.add(node_id)
            return warm == set(subscribers)
        wait_until(all_warm, 5.0, "every node's PUB to deliver a warm-up event")

        cluster.put_topic(leader, "news")
        messages = ["n%d" % number for number in range(10)]
        cluster.publish(leader, "news", messages)
        for node_id, subscriber in subscribers.items():
            events = []
            deadline = 3.0
            while len(events) < len(messages) and subscriber.poll(int(deadline * 1000)):
                frames = subscriber.recv_multipart()
                if frames[0] != b"topic/news":
                    continue
                check_equal(len(frames), 3, "frames of an event from node %d" % node_id)
                events.append(json.loads(frames[2].decode("utf-8")))
            check_equal([event.get("message") for event in events], messages,
                        "publish events from node %d" % node_id)
            check_equal([event.get("seq") for event in events], list(range(1, len(messages) + 1)),
                        "per-stream seq of node %d's events (from 1, no gaps)" % node_id)
            for event in events:
                check(event.get("stream") == "topic/news" and event.get("kind") == "publish"
                      and event.get("topic") == "news" and type(event.get("index")) is int,
                      "event from node %d: %r", node_id, event)
            indexes = [event["index"] for event in events]
            check_equal(indexes, sorted(set(indexes)), "log indexes of node %d's events (increasing)" % node_id)
    finally:
        for subscriber in subscribers.values():
            subscriber.close(0)
