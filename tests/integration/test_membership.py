"""Membership changes and leadership transfer of real raftqd clusters (issue 4,
DESIGN 5.2 node PUT/DELETE and leader PUT, 7 "join": true), driven through
the JSON dialect."""

import json
import os
import subprocess
import sys
import time

import raftq_cluster
from harness import OK, REPO, check, check_equal, message_put, wait_until

ADMIN_TIMEOUT_S = 12.0  # the broker answers within its 10 s admin timeout
TOOL = os.path.join(REPO, "tools", "raftq-cluster")


def node_put(node):
    return raftq_cluster.node_put(node)


def node_delete(node_id):
    return {"type": "node", "method": "DELETE", "id": node_id}


def leader_put(node_id):
    return {"type": "leader", "method": "PUT", "id": node_id}


def mark_joining(cluster, node_ids):
    """Rewrites the cluster's config.json so node_ids start empty, to be added."""
    with open(cluster.config_path) as handle:
        document = json.load(handle)
    for node in document["nodes"]:
        if node["id"] in node_ids:
            node["join"] = True
    with open(cluster.config_path, "w") as handle:
        json.dump(document, handle, indent=2)


def admin(cluster, message):
    """Sends an admin request to the leader of the moment; returns the reply."""
    leader = cluster.wait_leader(3.0)
    return cluster.request(leader, message, timeout=ADMIN_TIMEOUT_S)


def wait_members(cluster, node_ids, members, timeout=5.0):
    def agreed():
        answers = cluster.statuses(node_ids)
        seen = {node_id: sorted(answer["members"]) if answer else None for node_id, answer in answers.items()}
        return True if all(value == sorted(members) for value in seen.values()) else seen or None
    wait_until(agreed, timeout, "nodes %s to list members %s" % (node_ids, sorted(members)))


def test_grow_three_to_five_then_lose_two_originals(ctx):
    cluster = ctx.cluster(5)
    mark_joining(cluster, {4, 5})
    spawned = cluster.start()
    leader = cluster.wait_leader(3.0, since=spawned, node_ids=[1, 2, 3])
    joining = cluster.status(4)
    check(joining is not None and joining["members"] == [] and joining["role"] == "Follower",
          "a joining node starts with no members and follows: %r" % (joining,))
    cluster.put_topic(leader, "before")
    cluster.publish(leader, "before", ["b%d" % number for number in range(20)])

    for node_id in (4, 5):
        check_equal(admin(cluster, node_put(cluster.config.nodes[node_id])), OK, "adding node %d" % node_id)
    wait_members(cluster, [1, 2, 3, 4, 5], [1, 2, 3, 4, 5])
    leader = cluster.wait_leader(3.0)
    cluster.publish(leader, "before", ["a%d" % number for number in range(5)])
    # adding a voter again is harmless
    check_equal(admin(cluster, node_put(cluster.config.nodes[4])), OK, "adding node 4 again")

    # two of the original three gone: 3, 4 and 5 are a majority of five
    cluster.kill(1)
    cluster.kill(2)
    leader = cluster.wait_leader(5.0, node_ids=[3, 4, 5])
    cluster.put_topic(leader, "after")
    check_equal(cluster.drain(leader, "before"),
                ["b%d" % number for number in range(20)] + ["a%d" % number for number in range(5)],
                "messages published before and after the growth, served by nodes 3-5")

    # the membership lives in the log: a restart of the survivors keeps it
    for node_id in (3, 4, 5):
        cluster.kill(node_id)
    respawned = cluster.start([3, 4, 5])
    leader = cluster.wait_leader(5.0, since=respawned, node_ids=[3, 4, 5])
    wait_members(cluster, [3, 4, 5], [1, 2, 3, 4, 5])
    check_equal(cluster.topics(leader), ["before", "after"], "topics after restarting nodes 3-5")


def test_shrink_five_to_three_removing_the_leader(ctx):
    cluster = ctx.cluster(5)
    spawned = cluster.start()
    leader = cluster.wait_leader(3.0, since=spawned)
    cluster.put_topic(leader, "kept")
    cluster.publish(leader, "kept", ["k%d" % number for number in range(10)])

    follower = next(node_id for node_id in cluster.ids if node_id != leader)
    check_equal(admin(cluster, node_delete(follower)), OK, "removing follower %d" % follower)
    # the leader removes itself: it hands over and steps down
    check_equal(cluster.request(leader, node_delete(leader), timeout=ADMIN_TIMEOUT_S), OK,
                "removing the leader %d" % leader)
    remaining = [node_id for node_id in cluster.ids if node_id not in (follower, leader)]
    new_leader = cluster.wait_leader(5.0, node_ids=remaining)
    check(new_leader in remaining, "a remaining node leads after the leader removed itself")
    wait_members(cluster, remaining, remaining)

    # the removed nodes are out: the three left commit alone
    cluster.kill(follower)
    cluster.kill(leader)
    new_leader = cluster.wait_leader(5.0, node_ids=remaining)
    cluster.put_topic(new_leader, "later")
    check_equal(cluster.drain(new_leader, "kept"), ["k%d" % number for number in range(10)],
                "messages kept through the shrink")
    # removing a node that is not a member any more is done already
    check_equal(admin(cluster, node_delete(follower)), OK, "removing a removed node again")


def test_transfer_leadership_lands_on_the_named_node(ctx):
    cluster = ctx.cluster(3)
    spawned = cluster.start()
    leader = cluster.wait_leader(3.0, since=spawned)
    cluster.put_topic(leader, "before")
    target = next(node_id for node_id in cluster.ids if node_id != leader)
    other = next(node_id for node_id in cluster.ids if node_id not in (leader, target))
    # The write committed on a majority: the third node may not have heard
    # from the leader yet, and would answer NO_LEADER
    wait_until(lambda: (cluster.statuses([other]).get(other) or {}).get("leader") == leader, 3.0,
               "node %d to follow leader %d" % (other, leader))

    refused = cluster.request(other, leader_put(target))
    check(refused.get("success") is False and refused.get("code") == "NOT_LEADER"
          and refused.get("leader", {}).get("id") == leader,
          "a follower refuses an admin request and names the leader: %r" % (refused,))

    check_equal(cluster.request(leader, leader_put(target), timeout=ADMIN_TIMEOUT_S), OK,
                "transfer from %d to %d" % (leader, target))
    check_equal(cluster.current_leader(), target, "the leader after the transfer")
    cluster.put_topic(target, "after")
    check_equal(cluster.topics(target), ["before", "after"], "topics on the new leader")
    check_equal(cluster.request(target, leader_put(target), timeout=ADMIN_TIMEOUT_S), OK,
                "a transfer to the leader itself is done already")


def test_paused_minority_causes_no_election(ctx):
    cluster = ctx.cluster(5)
    spawned = cluster.start()
    leader = cluster.wait_leader(3.0, since=spawned)
    cluster.put_topic(leader, "steady")
    term = cluster.status(leader)["term"]
    paused = [node_id for node_id in cluster.ids if node_id != leader][:2]
    for node_id in paused:
        cluster.pause(node_id)
    time.sleep(1.5)  # several election timeouts pass on the paused nodes' clocks
    for node_id in paused:
        cluster.resume(node_id)

    def resumed_caught_up():
        answers = cluster.statuses(paused)
        return all(answer and answer.get("leader") == leader for answer in answers.values())
    wait_until(resumed_caught_up, 3.0, "resumed nodes to follow leader %d again" % leader)
    # what a disruptive node would do takes an election timeout: watch for it
    deadline = time.monotonic() + 1.0
    while time.monotonic() < deadline:
        answers = cluster.statuses()
        terms = {node_id: answer.get("term") for node_id, answer in answers.items() if answer}
        check(all(value == term for value in terms.values()),
              "terms moved from %d after a paused minority resumed: %r" % (term, terms))
        time.sleep(0.05)
    check_equal(cluster.current_leader(), leader, "the leader after the minority resumed")
    check_equal(cluster.request(leader, message_put("steady", "m")), OK, "a write after the resume")


def _run(argv, what):
    completed = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=40)
    out = completed.stdout.decode("utf-8", "replace")
    check(completed.returncode == 0, "%s exited %d: %s %s", what, completed.returncode, out.strip(),
          completed.stderr.decode("utf-8", "replace").strip())
    return out


def test_cluster_tool_and_cli_drive_membership(ctx):
    cluster = ctx.cluster(4)
    mark_joining(cluster, {4})
    # the tool's nodes are not our children: kill whatever its pid files name
    ctx.on_close(cluster.processes.kill_all)
    tool = [sys.executable, TOOL, "--config", cluster.config_path, "--bin", ctx.bin_dir]
    cli = [ctx.program("raftq"), "-c", cluster.config_path, "--json"]
    _run(tool + ["start", "1", "2", "3"], "raftq-cluster start 1 2 3")
    leader = cluster.wait_leader(3.0, node_ids=[1, 2, 3])
    cluster.put_topic(leader, "kept")

    out = _run(tool + ["add", "4"], "raftq-cluster add 4")
    check("node 4: added" in out, "raftq-cluster add 4 printed %r" % out)
    wait_members(cluster, [1, 2, 3, 4], [1, 2, 3, 4])

    check_equal(json.loads(_run(cli + ["admin", "transfer-leader", "4"], "raftq admin transfer-leader 4")),
                OK, "raftq admin transfer-leader 4")
    check_equal(cluster.current_leader(), 4, "the leader after raftq admin transfer-leader 4")
    check_equal(json.loads(_run(cli + ["admin", "remove-node", "1"], "raftq admin remove-node 1")),
                OK, "raftq admin remove-node 1")
    out = _run(tool + ["remove", "2"], "raftq-cluster remove 2")
    check("node 2: removed" in out, "raftq-cluster remove 2 printed %r" % out)
    wait_members(cluster, [3, 4], [3, 4])
    leader = cluster.wait_leader(3.0, node_ids=[3, 4])
    check_equal(cluster.topics(leader), ["kept"], "topics after shrinking to nodes 3 and 4")
    node = cluster.config.nodes[1]
    check_equal(json.loads(_run(cli + ["admin", "add-node", "1", node.host, str(node.client_port),
                                       str(node.peer_port), str(node.pub_port)],
                                "raftq admin add-node 1")), OK, "raftq admin add-node 1 (still running)")
    wait_members(cluster, [1, 3, 4], [1, 3, 4])
