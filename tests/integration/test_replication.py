"""Elections, failover, durability and replication of real raftqd clusters,
driven through the JSON dialect (DESIGN 5.2) and checked against the timing
contract (DESIGN 5.3)."""

import json
import os
import random
import struct
import threading
import time

import zmq

from raftq_cluster import Client

from harness import (FAILED, OK, check, check_equal, message_get, message_put, topic_get, topic_put,
                     wait_until)


def test_single_node_survives_kill9(ctx):
    cluster = ctx.cluster(1)
    spawned = cluster.start()
    leader = cluster.wait_leader(2.0, since=spawned)
    check_equal(leader, 1, "leader of a one-node cluster")

    cluster.put_topic(leader, "alpha")
    cluster.put_topic(leader, "beta")
    check_equal(cluster.request(leader, topic_put("alpha")), FAILED, "creating an existing topic")
    check_equal(cluster.topics(leader), ["alpha", "beta"], "topics in creation order")
    cluster.publish(leader, "alpha", ["a%d" % number for number in range(1, 6)])
    cluster.publish(leader, "beta", ["b1"])
    check_equal([cluster.pop(leader, "alpha") for _ in range(2)], ["a1", "a2"], "first two pops")

    # acknowledged means on disk: a power cut right after loses nothing
    cluster.kill(leader)
    respawned = cluster.start()
    leader = cluster.wait_leader(2.0, since=respawned)
    check_equal(cluster.topics(leader), ["alpha", "beta"], "topics after kill -9 and restart")
    check_equal(cluster.drain(leader, "alpha"), ["a3", "a4", "a5"],
                "un-popped messages after restart (popped ones must stay popped)")
    check_equal(cluster.drain(leader, "beta"), ["b1"], "the other topic after restart")

    # and the pops just made are durable too
    cluster.kill(leader)
    respawned = cluster.start()
    leader = cluster.wait_leader(2.0, since=respawned)
    check_equal(cluster.pop(leader, "alpha"), None, "pop after everything was consumed and a second restart")


def test_five_nodes_elect_one_leader(ctx):
    cluster = ctx.cluster(5)
    spawned = cluster.spawn()

    def exactly_one_leader():
        answers = cluster.statuses()
        leaders = [node_id for node_id, answer in answers.items() if answer and answer.get("role") == "Leader"]
        return leaders[0] if len(leaders) == 1 else None
    leader = wait_until(exactly_one_leader, max(0.05, spawned + 3.0 - time.monotonic()),
                        "exactly one leader within 3 s of spawning 5 nodes")

    def all_agree():
        answers = cluster.statuses()
        views = {(answer or {}).get("leader") for answer in answers.values()}
        terms = {(answer or {}).get("term") for answer in answers.values()}
        return views == {leader} and len(terms) == 1
    wait_until(all_agree, 2.0, "all 5 nodes to name node %d leader in one term" % leader)
    for node_id, answer in cluster.statuses().items():
        check_equal(sorted(answer["members"]), [1, 2, 3, 4, 5], "members in node %d's status" % node_id)
        check_equal(answer["role"], "Leader" if node_id == leader else "Follower", "role of node %d" % node_id)


def test_leader_kill9_failover_keeps_committed(ctx):
    cluster = ctx.cluster(5)
    cluster.start()
    leader = cluster.wait_leader(3.0)
    for name in ("t1", "t2", "t3"):
        cluster.put_topic(leader, name)
    first = ["first-%02d" % number for number in range(20)]
    second = ["second-%d" % number for number in range(5)]
    cluster.publish(leader, "t1", first)
    cluster.publish(leader, "t2", second)

    cluster.kill(leader)
    killed = time.monotonic()
    new_leader = cluster.wait_leader(3.0, since=killed, other_than=leader)
    check_equal(cluster.topics(new_leader), ["t1", "t2", "t3"], "topics on the new leader")
    check_equal(cluster.drain(new_leader, "t1"), first, "t1 on the new leader")
    check_equal(cluster.drain(new_leader, "t2"), second, "t2 on the new leader")
    check_equal(cluster.pop(new_leader, "t3"), None, "pop from the empty t3")


def test_pops_stay_consumed_across_leaders(ctx):
    cluster = ctx.cluster(5)
    cluster.start()
    leader = cluster.wait_leader(3.0)
    cluster.put_topic(leader, "queue")
    messages = ["m%02d" % number for number in range(15)]
    cluster.publish(leader, "queue", messages)
    popped = [cluster.pop(leader, "queue") for _ in range(5)]
    check_equal(popped, messages[:5], "pops under the first leader")

    cluster.kill(leader)
    second = cluster.wait_leader(3.0, other_than=leader)
    popped += [cluster.pop(second, "queue") for _ in range(4)]
    check_equal(popped, messages[:9], "pops under the second leader")

    # 3 of 5 remain: still a majority
    cluster.kill(second)
    third = cluster.wait_leader(3.0, other_than=second)
    popped += cluster.drain(third, "queue")
    check_equal(popped, messages, "every message popped exactly once, in FIFO order, across 3 leaders")


def test_two_of_five_dead_still_commit(ctx):
    cluster = ctx.cluster(5)
    cluster.start()
    leader = cluster.wait_leader(3.0)
    cluster.put_topic(leader, "before")
    victim = random.choice(cluster.followers(leader))
    cluster.kill(leader)
    cluster.kill(victim)

    leader = cluster.wait_leader(3.0)
    cluster.put_topic(leader, "after")
    messages = ["x%d" % number for number in range(10)]
    cluster.publish(leader, "after", messages)
    check_equal(cluster.topics(leader), ["before", "after"], "topics with 3 of 5 nodes")
    commit = cluster.status(leader)["commit_index"]
    cluster.wait_applied(cluster.alive(), commit, 2.0)
    check_equal(cluster.drain(leader, "after"), messages, "messages committed by 3 of 5 nodes")


def test_no_quorum_refuses_then_recovers(ctx):
    cluster = ctx.cluster(5)
    cluster.start()
    leader = cluster.wait_leader(3.0)
    cluster.put_topic(leader, "q")
    cluster.publish(leader, "q", ["before-1", "before-2"])
    dead = cluster.followers(leader)[:3]
    for node_id in dead:
        cluster.kill(node_id)

    # the leader (or what is left of it) must answer, and answer no, in time
    for request in (message_put("q", "during"), topic_put("during")):
        sent = time.monotonic()
        reply = cluster.request(leader, request, timeout=3.0)
        elapsed = time.monotonic() - sent
        check_equal(reply, FAILED, "write with 3 of 5 nodes dead")
        check(elapsed <= 1.6, "write with 3 of 5 nodes dead was refused after %.2f s, not within ~1.5 s", elapsed)
    check(cluster.status(leader) is not None, "node %d stopped answering status without a quorum", leader)

    for node_id in dead[:2]:
        cluster.start([node_id])
    leader = cluster.wait_leader(3.0)
    topics = cluster.leader_request(topic_get())
    check(topics.get("success") is True, "list topics after quorum came back: %r", topics)
    # the refused writes may still commit (outcome unknown), nothing else may appear
    check(topics["topics"] in (["q"], ["q", "during"]), "topics after quorum came back: %r", topics["topics"])
    leader = cluster.wait_leader(3.0)
    remaining = cluster.drain(leader, "q")
    check(remaining in (["before-1", "before-2"], ["before-1", "before-2", "during"]),
          "messages after quorum came back: %r", remaining)
    cluster.publish(leader, "q", ["after"])
    check_equal(cluster.drain(leader, "q"), ["after"], "write after quorum came back")


def test_restarted_follower_catches_up(ctx):
    cluster = ctx.cluster(3)
    cluster.start()
    leader = cluster.wait_leader(3.0)
    cluster.put_topic(leader, "log")
    follower = cluster.followers(leader)[0]
    cluster.kill(follower)

    messages = ["entry-%03d" % number for number in range(150)]
    cluster.publish(leader, "log", messages)
    commit = cluster.status(leader)["commit_index"]
    check(commit >= len(messages) + 1, "leader commit index %d after %d writes", commit, len(messages) + 1)

    cluster.start([follower])
    cluster.wait_applied([follower], commit, 5.0)
    status = cluster.status(follower)
    check_equal(status["role"], "Follower", "role of the restarted node")
    check_equal(status["leader"], leader, "leader named by the restarted node")
    for request in (topic_put("nope"), topic_get(), message_put("log", "nope"), {"type": "message", "method": "GET", "topic": "log"}):
        check_equal(cluster.request(follower, request), FAILED, "follower's answer to %s %s" % (request["type"], request["method"]))

    # its copy is complete: with the old leader gone it may be elected and must serve it all
    cluster.kill(leader)
    leader = cluster.wait_leader(3.0, other_than=leader)
    check_equal(cluster.drain(leader, "log"), messages, "messages after the caught-up node's cluster lost its leader")


def test_concurrent_creates_one_winner(ctx):
    cluster = ctx.cluster(5)
    cluster.start()
    cluster.wait_leader(3.0)
    clients = 10
    outcomes = [None] * clients
    barrier = threading.Barrier(clients)

    def create(position):
        client = Client()
        node_id = cluster.ids[position % len(cluster.ids)]
        try:
            barrier.wait(5.0)
            deadline = time.monotonic() + 10.0
            while time.monotonic() < deadline:
                reply = client.request(cluster.endpoint(node_id), topic_put("race"), 2.5)
                if reply is None:
                    outcomes[position] = "no reply from node %d" % node_id
                    return
                if reply.get("success") is True:
                    outcomes[position] = True
                    return
                # a follower's no is NOT_LEADER: go where it points; the leader's no is final
                status = client.request(cluster.endpoint(node_id), {"type": "status", "method": "GET"}, 1.0)
                if status and status.get("role") == "Leader":
                    outcomes[position] = False
                    return
                hint = (status or {}).get("leader")
                node_id = hint if hint in cluster.ids else cluster.ids[(cluster.ids.index(node_id) + 1) % len(cluster.ids)]
            outcomes[position] = "no final answer in 10 s"
        except Exception as error:
            outcomes[position] = "client failed: %r" % error
        finally:
            client.close()

    threads = [threading.Thread(target=create, args=(position,)) for position in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    problems = [outcome for outcome in outcomes if not isinstance(outcome, bool)]
    check(not problems, "concurrent creates: %s", problems)
    check_equal(outcomes.count(True), 1, "successful creates of one topic by 10 concurrent clients")
    check_equal(cluster.leader_request(topic_get()), {"success": True, "topics": ["race"]}, "topics after the race")


def test_concurrent_pops_deliver_each_once(ctx):
    cluster = ctx.cluster(3)
    cluster.start()
    leader = cluster.wait_leader(3.0)
    cluster.put_topic(leader, "work")
    messages = ["job-%03d" % number for number in range(120)]
    cluster.publish(leader, "work", messages)
    consumers = 6
    received = [[] for _ in range(consumers)]
    problems = []

    def consume(position):
        client = Client()
        try:
            while True:
                reply = client.request(cluster.endpoint(leader), message_get("work"), 2.5)
                if reply is None or reply.get("success") is not True:
                    if reply != FAILED:
                        problems.append("consumer %d: %r" % (position, reply))
                    return
                received[position].append(reply["message"])
        finally:
            client.close()

    threads = [threading.Thread(target=consume, args=(position,)) for position in range(consumers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    check(not problems, "consumers: %s", problems)
    everything = [message for mine in received for message in mine]
    check_equal(sorted(everything), messages, "messages popped by %d concurrent consumers (each once)" % consumers)
    for position, mine in enumerate(received):
        check_equal(mine, sorted(mine), "order seen by consumer %d (FIFO)" % position)


def test_exactly_once_across_leader_change(ctx):
    cluster = ctx.cluster(3)
    cluster.start()
    leader = cluster.wait_leader(3.0)
    cluster.put_topic(leader, "once")
    client_id = random.getrandbits(62) + 1

    def tagged(request, seq):
        return dict(request, client_id=client_id, seq=seq)

    first = tagged(message_put("once", "x"), 1)
    check_equal(cluster.request(leader, first), OK, "publish with client_id/seq")
    cluster.kill(leader)
    leader = cluster.wait_leader(3.0, other_than=leader)
    check_equal(cluster.request(leader, first), OK, "the same publish retried on the new leader")
    check_equal(cluster.request(leader, tagged(message_put("once", "y"), 2)), OK, "next publish of the client")
    retried = tagged(message_put("once", "z"), 3)
    check_equal(cluster.request(leader, retried), OK, "publish seq 3")
    check_equal(cluster.request(leader, retried), OK, "publish seq 3 again, same leader")

    pop = tagged({"type": "message", "method": "GET", "topic": "once"}, 4)
    check_equal(cluster.request(leader, pop), {"success": True, "message": "x"}, "pop with client_id/seq")
    check_equal(cluster.request(leader, pop), {"success": True, "message": "x"},
                "the same pop retried: the first reply again, not a second pop")
    late = tagged(message_put("once", "late"), 2)
    check_equal(cluster.request(leader, late), FAILED, "a new message under an old seq (stale)")
    check_equal(cluster.drain(leader, "once"), ["y", "z"], "the rest: each publish once")


def test_whole_cluster_kill9_restart(ctx):
    cluster = ctx.cluster(3)
    cluster.start()
    leader = cluster.wait_leader(3.0)
    cluster.put_topic(leader, "durable")
    messages = ["d%02d" % number for number in range(30)]
    cluster.publish(leader, "durable", messages)
    check_equal([cluster.pop(leader, "durable") for _ in range(10)], messages[:10], "pops before the crash")

    term = cluster.status(leader)["term"]
    for node_id in cluster.ids:
        cluster.kill(node_id)
    spawned = cluster.start()
    leader = cluster.wait_leader(3.0, since=spawned)
    new_term = cluster.status(leader)["term"]
    check(new_term > term, "term %d after a whole-cluster restart, was %d before: terms must be durable", new_term, term)
    check_equal(cluster.topics(leader), ["durable"], "topics after every node was killed and restarted")
    check_equal(cluster.drain(leader, "durable"), messages[10:], "messages after a whole-cluster kill -9")


def test_pipelined_publishes_keep_order(ctx):
    cluster = ctx.cluster(3)
    cluster.start()
    leader = cluster.wait_leader(3.0)
    cluster.put_topic(leader, "burst")
    count = 300
    messages = ["p%03d" % number for number in range(count)]
    dealer = zmq.Context.instance().socket(zmq.DEALER)
    dealer.setsockopt(zmq.LINGER, 0)
    try:
        dealer.connect(cluster.endpoint(leader))
        for message in messages:
            dealer.send_multipart([b"", json.dumps(message_put("burst", message)).encode()])
        replies = []
        deadline = time.monotonic() + 10.0
        while len(replies) < count and time.monotonic() < deadline:
            if dealer.poll(int(max(0.0, deadline - time.monotonic()) * 1000)):
                frames = dealer.recv_multipart()
                check(len(frames) == 2 and frames[0] == b"", "reply frames to a DEALER: %r", frames[:3])
                replies.append(json.loads(frames[1].decode()))
    finally:
        dealer.close(0)
    check_equal(len(replies), count, "replies to %d pipelined publishes within 10 s" % count)
    check_equal([reply for reply in replies if reply != OK], [], "failed pipelined publishes")
    check_equal(cluster.drain(leader, "burst"), messages, "queue after pipelined publishes (send order)")


def test_acknowledged_writes_survive_crash_under_load(ctx):
    cluster = ctx.cluster(5)
    cluster.start()
    leader = cluster.wait_leader(3.0)
    cluster.put_topic(leader, "load")
    writers, per_writer = 4, 40
    acked = [0] * writers
    problems = []
    lock = threading.Lock()

    def find_leader(client):
        for node_id in cluster.ids:
            status = client.request(cluster.endpoint(node_id), {"type": "status", "method": "GET"}, 0.3)
            if status and status.get("role") == "Leader":
                return node_id
        return None

    def write(position):
        client = Client()
        client_id = random.getrandbits(62) + 1
        node_id = leader
        try:
            deadline = time.monotonic() + 30.0
            for number in range(per_writer):
                request = dict(message_put("load", "w%d-%02d" % (position, number)), client_id=client_id, seq=number + 1)
                while True:
                    check(time.monotonic() < deadline, "writer %d stuck at message %d", position, number)
                    reply = client.request(cluster.endpoint(node_id), request, 2.0) if node_id else None
                    if reply == OK:
                        break
                    # refused, outcome unknown or silent: same request, same seq, maybe elsewhere
                    node_id = find_leader(client)
                with lock:
                    acked[position] += 1
        except Exception as error:
            with lock:
                problems.append("writer %d: %s" % (position, error))
        finally:
            client.close()

    threads = [threading.Thread(target=write, args=(position,)) for position in range(writers)]
    for thread in threads:
        thread.start()
    wait_until(lambda: sum(acked) >= writers * per_writer // 3 or problems, 20.0, "a third of the writes acknowledged")
    cluster.kill(leader)
    for thread in threads:
        thread.join()
    check(not problems, "writers failed: %s", problems)

    leader = cluster.wait_leader(3.0)
    popped = cluster.drain(leader, "load")
    duplicates = sorted({message for message in popped if popped.count(message) > 1})
    check(not duplicates, "messages stored twice after retries across the crash: %s", duplicates)
    expected = {"w%d-%02d" % (position, number) for position in range(writers) for number in range(per_writer)}
    check_equal(set(popped), expected, "every acknowledged message, once")
    for position in range(writers):
        mine = [message for message in popped if message.startswith("w%d-" % position)]
        check_equal(mine, sorted(mine), "FIFO order of writer %d's messages" % position)


def test_torn_log_tail_is_cut_and_refilled(ctx):
    cluster = ctx.cluster(3)
    cluster.start()
    leader = cluster.wait_leader(3.0)
    cluster.put_topic(leader, "torn")
    messages = ["t%02d" % number for number in range(20)]
    cluster.publish(leader, "torn", messages)
    commit = cluster.status(leader)["commit_index"]
    follower = cluster.followers(leader)[0]
    cluster.wait_applied([follower], commit, 2.0)
    cluster.kill(follower)

    # a crash in the middle of writing records it had not acknowledged yet: a
    # whole record with a wrong CRC, then half a record header
    log_dir = os.path.join(cluster.config.nodes[follower].dir, "log")
    segments = sorted(os.listdir(log_dir)) if os.path.isdir(log_dir) else []
    check(segments, "no log segment files in %s", log_dir)
    with open(os.path.join(log_dir, segments[-1]), "ab") as handle:
        payload = b"never acknowledged"
        header = struct.pack("<IIQQB", len(payload), 0xDEADBEEF, 1, 10 ** 6, 0)
        handle.write(header + payload + header[:6])

    spawned = cluster.start([follower])
    check(time.monotonic() - spawned < 2.0, "node with a torn log tail took %.1f s to answer", time.monotonic() - spawned)
    cluster.publish(leader, "torn", ["after"])
    leader_status = cluster.status(leader)
    cluster.wait_applied([follower], leader_status["commit_index"], 5.0)
    check_equal(cluster.status(follower)["last_index"], leader_status["last_index"],
                "last index of the repaired node (the torn record must not count)")
    # the repaired node's log must now carry the cluster: the leader goes away
    cluster.kill(leader)
    leader = cluster.wait_leader(3.0, other_than=leader)
    check_equal(cluster.drain(leader, "torn"), messages + ["after"], "queue after a follower's torn tail was refilled")


def test_deposed_leader_answers_nothing_stale(ctx):
    cluster = ctx.cluster(3)
    cluster.start()
    old = cluster.wait_leader(3.0)
    cluster.put_topic(old, "q")
    cluster.publish(old, "q", ["m1", "m2"])
    cluster.pause(old)
    # requests reach the old leader while it still believes it leads; they
    # wait in its socket buffers while the others elect a new leader
    pop_client, put_client = Client(), Client()
    endpoint = cluster.endpoint(old)
    try:
        check(pop_client.send(endpoint, json.dumps(message_get("q")).encode()), "cannot send to node %d", old)
        check(put_client.send(endpoint, json.dumps(topic_put("stale")).encode()), "cannot send to node %d", old)
        new = cluster.wait_leader(3.0, node_ids=cluster.followers(old), other_than=old)
        check_equal(cluster.pop(new, "q"), "m1", "pop on the new leader")
        cluster.resume(old)
        popped, created = pop_client.receive(endpoint, 2.5), put_client.receive(endpoint, 2.5)
    finally:
        pop_client.close()
        put_client.close()
    check(popped is not None and created is not None, "the resumed old leader left a request unanswered")
    popped, created = json.loads(popped.decode()), json.loads(created.decode())
    check(popped == FAILED or popped == {"success": True, "message": "m2"},
          "deposed leader answered a pop with %r (m1 was already popped by the new leader)", popped)

    leader = cluster.wait_leader(3.0)
    rest = cluster.drain(leader, "q")
    check_equal(rest, [] if popped != FAILED else ["m2"], "queue after the deposed leader's pop answer %r" % popped)
    topics = cluster.topics(leader)
    check_equal(topics, ["q", "stale"] if created == OK else ["q"],
                "topics after the deposed leader answered a create with %r" % created)
