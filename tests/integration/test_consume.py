"""Acknowledged consumption on a real 3-node cluster (issue 14): a consumer
that reserves and never acks sees its message come back after the
visibility time to another consumer (deliveries 2) and its old receipt
refused; a Nack with a delay; a poison message dead-lettered whole after
max_deliveries; a leader killed with messages reserved: the new leader
honours the receipts and the deadlines; waiting consumers get messages
published after they asked, in FIFO order, each having sent one request,
an EMPTY at the end of a wait and NOT_LEADER at once when the leader hands
over; the JSON forms and the protobuf ones."""

import time

import zmq

import raftq_wire as wire

from harness import (FAILED, OK, check, check_equal, message_get, message_put, topic_put,
                     wait_until)

VISIBILITY_MS = 500
DETAIL = {"type": "status", "method": "GET", "detail": True, "hash": True}
RESERVED_KEYS = {"success", "message", "receipt", "deliveries"}
# Waits longer than the harness's 1 s request timeout would be capped
SETTINGS = {"request_timeout_ms": 4000}

# raftq.proto field numbers this test speaks in protobuf
REQUEST_SEQ, REQUEST_RESERVE, REQUEST_ACK = 2, 16, 17
REPLY_CODE, REPLY_SEQ, REPLY_RESERVED = 1, 6, 22


def _reserve(topic, visibility_ms=VISIBILITY_MS, wait_ms=None, **common):
    request = {"type": "message", "method": "RESERVE", "topic": topic,
               "visibility_ms": visibility_ms}
    if wait_ms is not None:
        request["wait_ms"] = wait_ms
    request.update(common)
    return request


def _ack(receipt, **common):
    return dict({"type": "message", "method": "ACK", "receipt": receipt}, **common)


def _nack(receipt, delay_ms=0):
    return {"type": "message", "method": "NACK", "receipt": receipt, "delay_ms": delay_ms}


def _reserved(reply, payload, deliveries, what):
    check(reply.get("success") is True and set(reply) == RESERVED_KEYS,
          "%s: not a plain reservation: %r", what, reply)
    check_equal((reply["message"], reply["deliveries"]), (payload, deliveries), what)
    check(isinstance(reply["receipt"], str) and len(reply["receipt"]) >= 32,
          "%s: receipt %r", what, reply["receipt"])
    return reply["receipt"]


def _code(reply, code, what):
    check(reply.get("success") is False and reply.get("code") == code,
          "%s: expected %s, got %r", what, code, reply)


def _topic_status(cluster, node_id, name):
    for topic in cluster.request(node_id, DETAIL).get("topics", []):
        if topic.get("name") == name:
            return topic
    raise AssertionError("node %d's status lists no topic %r" % (node_id, name))


def _same_state(cluster):
    def same():
        answers = [cluster.request(node_id, DETAIL) for node_id in cluster.alive()]
        keys = {(a.get("applied_index"), a.get("state_hash")) for a in answers}
        return answers[0] if len(keys) == 1 else None
    return wait_until(same, 5.0, "the same state on every node")


def _socket(cluster, node_id, kind=zmq.REQ):
    socket = zmq.Context.instance().socket(kind)
    socket.setsockopt(zmq.LINGER, 0)
    socket.connect(cluster.endpoint(node_id))
    return socket


def _receive_json(socket, timeout_s, what):
    check(socket.poll(int(timeout_s * 1000)), "%s: no reply within %.1f s", what, timeout_s)
    return socket.recv_json()


def test_consume_redelivery_nack_and_dead_letters(ctx):
    cluster = ctx.cluster(3, **SETTINGS)
    cluster.start()
    leader = cluster.wait_leader()

    # topic PUT stays an RRMQ request: exactly {"success": ...}
    cluster.put_topic(leader, "dead")
    check_equal(cluster.request(leader, dict(topic_put("jobs"), max_deliveries=2)), FAILED,
                "max_deliveries without dead_letter")
    check_equal(cluster.request(leader, dict(topic_put("jobs"), max_deliveries=2,
                                             dead_letter="nowhere")), FAILED,
                "an unknown dead_letter topic")
    check_equal(cluster.request(leader, dict(topic_put("jobs"), max_deliveries=2,
                                             dead_letter="dead")), OK, "create jobs")
    cluster.put_topic(leader, "plain")
    cluster.publish(leader, "jobs", ["poison", "fine"])

    # A consumer reserves on its own connection and dies without acking
    doomed = _socket(cluster, leader)
    doomed.send_json(_reserve("jobs"))
    lost = _reserved(_receive_json(doomed, 3.0, "the doomed consumer's reserve"), "poison", 1,
                     "first reserve")
    reserved_at = time.monotonic()
    doomed.close()
    # Another consumer gets the next one
    fine = _reserved(cluster.request(leader, _reserve("jobs")), "fine", 1, "second reserve")
    check_equal(cluster.request(leader, _ack(fine)), OK, "ack fine")
    _code(cluster.request(leader, _ack(fine)), "NOT_FOUND", "a second ack")
    _code(cluster.request(leader, _reserve("jobs")), "EMPTY", "nothing ready while reserved")
    check_equal(_topic_status(cluster, leader, "jobs")["reserved"], 1, "reserved count")

    # Another consumer, waiting, gets it back after the visibility time
    again = cluster.request(leader, _reserve("jobs", wait_ms=3000), timeout=5.0)
    waited = time.monotonic() - reserved_at
    second = _reserved(again, "poison", 2, "redelivery")
    check(waited >= VISIBILITY_MS / 1000.0 * 0.9, "redelivered after %.3f s only", waited)
    _code(cluster.request(leader, _ack(lost)), "NOT_FOUND", "the expired delivery's receipt")
    _code(cluster.request(leader, _nack(lost)), "NOT_FOUND", "nack of the expired receipt")

    # Its second delivery times out too: it is dead-lettered, whole
    def dead_lettered():
        status = _topic_status(cluster, leader, "jobs")
        return status if status["dead_lettered"] == 1 else None
    status = wait_until(dead_lettered, 3.0, "the poison message dead-lettered")
    check_equal((status["ready"], status["reserved"], status["max_deliveries"],
                 status["dead_letter"]), (0, 0, 2, "dead"), "jobs after dead-lettering")
    _code(cluster.request(leader, _ack(second)), "NOT_FOUND", "ack after dead-lettering")
    letter = cluster.request(leader, _reserve("dead"))
    check_equal((letter.get("message"), letter.get("deliveries"), letter.get("original_topic"),
                 letter.get("original_deliveries")), ("poison", 1, "jobs", 2), "the dead letter")
    check_equal(cluster.request(leader, _ack(letter["receipt"])), OK, "ack the dead letter")

    # Nack with a delay: not ready before it, ready after
    cluster.publish(leader, "plain", ["later"])
    receipt = _reserved(cluster.request(leader, _reserve("plain")), "later", 1, "plain reserve")
    check_equal(cluster.request(leader, _nack(receipt, delay_ms=400)), OK, "nack with delay")
    nacked_at = time.monotonic()
    _code(cluster.request(leader, _reserve("plain")), "EMPTY", "reserve during the delay")
    check_equal(_topic_status(cluster, leader, "plain")["delayed"], 1, "delayed count")
    receipt = _reserved(cluster.request(leader, _reserve("plain", wait_ms=3000), timeout=5.0),
                        "later", 2, "after the delay")
    check(time.monotonic() - nacked_at >= 0.35, "ready before the delay ended")
    check_equal(cluster.request(leader, _nack(receipt)), OK, "nack without delay")
    # Pop is reserve and ack in one step: the strict RRMQ form
    check_equal(cluster.request(leader, message_get("plain")), {"success": True, "message": "later"},
                "pop of a nacked message")

    # Protobuf: Reserve and Ack, the reply's seq echoed
    cluster.publish(leader, "plain", ["wire"])
    reserve = wire.field_varint(REQUEST_SEQ, 7) + wire.field_bytes(
        REQUEST_RESERVE, wire.field_bytes(1, "plain") + wire.field_varint(2, 2000))
    found = wire.fields(cluster.raw(leader, reserve))
    check(found.get(REPLY_CODE, [0])[-1] == 0 and found.get(REPLY_SEQ) == [7] and
          REPLY_RESERVED in found, "protobuf reserve: %r", found)
    reserved = wire.fields(found[REPLY_RESERVED][-1])
    check_equal((reserved[1][-1].decode(), reserved[2][-1].decode(), reserved[5][-1]),
                ("plain", "wire", 1),
                "protobuf Reserved topic, payload, deliveries")
    ack = wire.field_bytes(REQUEST_ACK, wire.field_bytes(1, reserved[4][-1]))
    check_equal(wire.fields(cluster.raw(leader, ack)).get(REPLY_CODE, [0])[-1], 0, "protobuf ack")

    detail = _same_state(cluster)
    names = [topic["name"] for topic in detail["topics"]]
    check_equal(names, ["dead", "jobs", "plain"], "status detail topics")


def test_consume_leader_killed_with_reservations(ctx):
    cluster = ctx.cluster(3, **SETTINGS)
    cluster.start()
    leader = cluster.wait_leader()
    cluster.put_topic(leader, "work")
    cluster.publish(leader, "work", ["kept", "expires", "nacked"])
    kept = _reserved(cluster.request(leader, _reserve("work", visibility_ms=60000)), "kept", 1, "kept")
    expires = _reserved(cluster.request(leader, _reserve("work", visibility_ms=800)), "expires", 1,
                        "expires")
    nacked = _reserved(cluster.request(leader, _reserve("work", visibility_ms=60000)), "nacked", 1,
                       "nacked")
    # Every node has the reservations before the leader dies
    _same_state(cluster)
    cluster.kill(leader)
    successor = cluster.wait_leader(timeout=5.0, other_than=leader)

    def answered(message):
        # With client_id and seq: a retry after a lost reply is answered the same
        def reply():
            answer = cluster.request(successor, message)
            return None if answer.get("code") in ("NOT_LEADER", "NO_LEADER", "TIMEOUT") else answer
        return wait_until(reply, 5.0, "an answer to %r" % message)
    check_equal(answered(_ack(kept, client_id=4242, seq=1)), OK, "the new leader honours an ack")
    check_equal(answered(dict(_nack(nacked), client_id=4242, seq=2)), OK,
                "the new leader honours a nack")
    # The nacked one is ready at once; the expired one comes back at its deadline.
    # Reserved for long: with the default visibility the first redelivery's
    # deadline could fall before the Expire that brings the second back (a
    # fast election puts both about 800 ms after the reservations), which
    # would take it back too and leave its receipt NOT_FOUND
    back = [cluster.request(successor, _reserve("work", visibility_ms=60000, wait_ms=3000),
                            timeout=5.0)
            for _ in range(2)]
    check_equal(sorted((reply.get("message"), reply.get("deliveries")) for reply in back),
                [("expires", 2), ("nacked", 2)], "redeliveries at the new leader")
    _code(cluster.request(successor, _ack(expires)), "NOT_FOUND", "the expired receipt")
    for reply in back:
        check_equal(cluster.request(successor, _ack(reply["receipt"])), OK, "ack a redelivery")
    status = _topic_status(cluster, successor, "work")
    check_equal((status["ready"], status["reserved"], status["delayed"]), (0, 0, 0),
                "work drained")
    _same_state(cluster)


def _protobuf_reserve(seq, topic, wait_ms):
    """A protobuf Reserve with seq (no client_id: no exactly-once, echo only)."""
    return wire.field_varint(REQUEST_SEQ, seq) + wire.field_bytes(
        REQUEST_RESERVE, wire.field_bytes(1, topic) + wire.field_varint(2, 30000) +
        wire.field_varint(3, wait_ms))


def test_consume_waiting_consumers(ctx):
    cluster = ctx.cluster(3, **SETTINGS)
    cluster.start()
    leader = cluster.wait_leader()
    cluster.put_topic(leader, "line")
    cluster.put_topic(leader, "rrmq")

    # Four waiters on one DEALER connection, in this order; one request each
    waiters = _socket(cluster, leader, zmq.DEALER)
    for seq in range(1, 5):
        waiters.send_multipart([b"", _protobuf_reserve(seq, "line", 3500)])
    # A JSON pop waiting on another topic, on its own REQ socket
    popper = _socket(cluster, leader)
    popper.send_json(dict(message_get("rrmq"), wait_ms=3500))
    # Nothing is answered while nothing is published
    check(not waiters.poll(150) and not popper.poll(0), "a waiter answered before any publish")

    started = time.monotonic()
    for number in range(1, 5):
        cluster.publish(leader, "line", ["m%d" % number])
    cluster.publish(leader, "rrmq", ["r1"])
    got = {}
    while len(got) < 4:
        check(waiters.poll(3000), "waiters answered: %r", got)
        delimiter, body = waiters.recv_multipart()
        found = wire.fields(body)
        check(found.get(REPLY_CODE, [0])[-1] == 0 and REPLY_RESERVED in found,
              "a waiter's reply: %r", found)
        got[found[REPLY_SEQ][-1]] = wire.fields(found[REPLY_RESERVED][-1])[2][-1].decode()
    check_equal(got, {1: "m1", 2: "m2", 3: "m3", 4: "m4"}, "first asked, first served")
    check(time.monotonic() - started < 3.0, "the waiters were served at their wait's end only")
    check_equal(_receive_json(popper, 3.0, "waiting pop"), {"success": True, "message": "r1"},
                "a waiting RRMQ pop")

    # The end of a wait: EMPTY, not before it
    asked = time.monotonic()
    _code(cluster.request(leader, _reserve("line", wait_ms=400), timeout=3.0), "EMPTY",
          "a wait that ends")
    check(time.monotonic() - asked >= 0.38, "EMPTY before the wait ended")
    check_equal(cluster.request(leader, dict(message_get("line"), wait_ms=300), timeout=3.0),
                FAILED, "an RRMQ pop whose wait ends")

    # A leader that hands over answers its waiters NOT_LEADER at once
    waiter = _socket(cluster, leader)
    waiter.send_json(_reserve("line", wait_ms=3500))
    check(not waiter.poll(100), "the waiter was answered before the handover")
    successor = cluster.followers(leader)[0]
    handed = time.monotonic()
    check_equal(cluster.request(leader, {"type": "leader", "method": "PUT", "id": successor}), OK,
                "transfer leadership")
    reply = _receive_json(waiter, 3.0, "a waiter at a handover")
    # NO_LEADER when the node stepped down before it heard who leads next
    check(reply.get("code") in ("NOT_LEADER", "NO_LEADER"), "waiter at a handover: %r", reply)
    check(time.monotonic() - handed < 2.0, "NOT_LEADER came only after %.1f s",
          time.monotonic() - handed)
    for socket in (waiters, popper, waiter):
        socket.close()
