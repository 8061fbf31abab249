"""Status with detail (issue 4) through real raftqd processes: members with
their role (voter/learner), each member's match index and lag as the leader
sees it, the newest snapshot, the log and snapshot sizes on disk; in the JSON
dialect ("detail": true), in protobuf (Status.detail), through the CLI table
(`raftq status`) and `raftq admin snapshot`, and TakeSnapshot
({"type":"snapshot","method":"POST"}) moving the reported snapshot index."""

import json
import subprocess

from harness import STATUS_KEYS, check, check_equal, protobuf_fields, raftq_cluster, wait_until
from test_membership import mark_joining, node_put

STATUS_DETAIL = {"type": "status", "method": "GET", "detail": True}
TAKE_SNAPSHOT = {"type": "snapshot", "method": "POST"}
DETAIL_KEYS = STATUS_KEYS | {"config_index", "snapshot_index", "snapshot_term", "first_index",
                             "log_bytes", "snapshot_bytes", "state_bytes", "max_state_bytes",
                             "free_disk_bytes", "min_free_disk_bytes", "disk_low", "topics",
                             "member_detail"}
MEMBER_KEYS = {"id", "role", "host", "client_port", "peer_port", "pub_port", "match_index", "lag"}
SNAPSHOT_TIMEOUT_S = 12.0  # a node answers TakeSnapshot once it is durable


def protobuf_status_detail_request(cluster):
    """raftq.Request { admin_secret = 4, status = 14: Status { detail = 2: true } }"""
    secret = cluster.config.admin_secret().encode("utf-8")
    return bytes([(4 << 3) | 2, len(secret)]) + secret + bytes([(14 << 3) | 2, 2, (2 << 3) | 0, 1])


def detail(cluster, node_id):
    """The node's JSON status with detail, its keys checked."""
    answer = cluster.request(node_id, STATUS_DETAIL)
    check_equal(set(answer), DETAIL_KEYS, "keys of node %d's detailed status" % node_id)
    for member in answer["member_detail"]:
        check_equal(set(member), MEMBER_KEYS, "keys of a member in node %d's detail" % node_id)
    check_equal([member["id"] for member in answer["member_detail"]], sorted(answer["members"]),
                "member_detail of node %d: one per member, by id" % node_id)
    return answer


def members_by_id(answer):
    return {member["id"]: member for member in answer["member_detail"]}


def replicated(cluster, leader, node_ids):
    """The leader's detail once it sees every node in node_ids at its last
    index (lag 0), else None."""
    answer = detail(cluster, leader)
    members = members_by_id(answer)
    caught_up = all(node_id in members and members[node_id]["lag"] == 0
                    and members[node_id]["match_index"] == answer["last_index"] for node_id in node_ids)
    return answer if caught_up else None


def _cli(ctx, cluster, *arguments):
    """Runs the raftq CLI on the cluster; returns (exit code, stdout, stderr)."""
    command = [ctx.program("raftq"), "-c", cluster.config_path] + [str(argument) for argument in arguments]
    completed = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
    return (completed.returncode, completed.stdout.decode("utf-8", "replace"),
            completed.stderr.decode("utf-8", "replace"))


def _json_lines(text):
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_status_detail_roles_and_replication(ctx):
    cluster = ctx.cluster(4)
    mark_joining(cluster, {4})
    spawned = cluster.start([1, 2, 3])
    leader = cluster.wait_leader(3.0, since=spawned, node_ids=[1, 2, 3])
    cluster.put_topic(leader, "jobs")
    cluster.publish(leader, "jobs", ["m%d" % number for number in range(30)])

    # without "detail" the reply keeps exactly DESIGN 5.2's keys
    check_equal(set(cluster.status(leader)), STATUS_KEYS, "keys of a plain status")

    answer = wait_until(lambda: replicated(cluster, leader, [1, 2, 3]), 3.0,
                        "the leader to see every follower at lag 0")
    for member in answer["member_detail"]:
        check_equal(member["role"], "voter", "role of member %d" % member["id"])
        check_equal((member["host"], member["client_port"], member["peer_port"], member["pub_port"]),
                    (cluster.config.nodes[member["id"]].host, cluster.config.nodes[member["id"]].client_port,
                     cluster.config.nodes[member["id"]].peer_port, cluster.config.nodes[member["id"]].pub_port),
                    "address of member %d" % member["id"])
    for node_id in (1, 2, 3):
        mine = detail(cluster, node_id)
        check(mine["log_bytes"] > 0 and mine["first_index"] == 1,
              "node %d reports its log on disk: %r", node_id, mine)
        check_equal((mine["snapshot_index"], mine["snapshot_term"], mine["snapshot_bytes"]), (0, 0, 0),
                    "node %d before any snapshot" % node_id)
        if node_id != leader:
            # replication is the leader's view: a follower does not know it
            check(all(member["match_index"] is None and member["lag"] is None
                      for member in mine["member_detail"]),
                  "follower %d claims to know replication: %r", node_id, mine["member_detail"])

    # node 4 added while down: a learner the leader sees behind. The leader
    # answers the request only once node 4 votes: nobody waits for that reply
    adder = raftq_cluster.Client()
    ctx.on_close(adder.close)
    add = dict(node_put(cluster.config.nodes[4]), admin=cluster.config.admin_secret())
    adder.send(cluster.endpoint(leader), json.dumps(add).encode())

    def learner_seen():
        answer = detail(cluster, leader)
        member = members_by_id(answer).get(4)
        # the configuration shows at once, replication with the next report
        known = member and member["role"] == "learner" and member["match_index"] is not None
        return (answer, member) if known else None
    answer, learner = wait_until(learner_seen, 3.0, "node 4 to show as a learner on the leader")
    check(learner["match_index"] == 0 and learner["lag"] == answer["last_index"],
          "a learner that never answered is a whole log behind: %r (last index %d)",
          learner, answer["last_index"])
    check(answer["config_index"] > 0, "the learner's configuration entry is in the log: %r", answer)

    # started, it catches up and becomes a voter at lag 0
    cluster.start([4])

    def promoted():
        answer = replicated(cluster, leader, [1, 2, 3, 4])
        return answer if answer and members_by_id(answer)[4]["role"] == "voter" else None
    wait_until(promoted, 10.0, "node 4 to be promoted and caught up")


def test_status_detail_in_protobuf(ctx):
    cluster = ctx.cluster(3)
    spawned = cluster.start()
    leader = cluster.wait_leader(3.0, since=spawned)
    cluster.put_topic(leader, "jobs")

    def detail_of_leader():
        status = protobuf_fields(protobuf_fields(cluster.raw(leader, protobuf_status_detail_request(cluster)))[13][0])
        detail = protobuf_fields(status[10][0])
        members = [protobuf_fields(member) for member in detail.get(1, [])]
        caught_up = all(member.get(7) == [1] and member.get(9, [0]) == [0] for member in members)
        return (status, detail, members) if caught_up and len(members) == 3 else None
    status, detail_fields, members = wait_until(detail_of_leader, 3.0, "a protobuf detail at lag 0")
    check_equal([member[1][0] for member in members], [1, 2, 3], "member ids in protobuf")
    check(all(member.get(2) == [1] for member in members), "every member votes: %r", members)
    check(detail_fields.get(6, [0])[0] > 0, "log_bytes in protobuf: %r", detail_fields)
    # a plain protobuf status carries no detail
    plain = protobuf_fields(protobuf_fields(cluster.raw(leader, bytes([(14 << 3) | 2, 0])))[13][0])
    check(10 not in plain, "detail without asking: %r", plain)
    check_equal(status[1], [leader], "id in the protobuf status")


def test_cli_status_table(ctx):
    cluster = ctx.cluster(3)
    spawned = cluster.start()
    leader = cluster.wait_leader(3.0, since=spawned)
    cluster.put_topic(leader, "jobs")
    cluster.publish(leader, "jobs", ["m%d" % number for number in range(10)])
    wait_until(lambda: replicated(cluster, leader, cluster.ids), 3.0, "followers at lag 0")

    code, out, err = _cli(ctx, cluster, "--json", "status")
    check(code == 0, "raftq --json status exited %d: %s", code, err)
    (nodes,) = _json_lines(out)
    check_equal(sorted(node["id"] for node in nodes), cluster.ids, "ids in raftq status")
    for node in nodes:
        check_equal(node["member"], "voter", "membership of node %d by the CLI" % node["id"])
        check(node["log_bytes"] > 0 and node["snapshot_index"] == 0,
              "storage of node %d by the CLI: %r", node["id"], node)
        # the leader's view, whichever node's row it is
        check_equal((node["match_index"], node["lag"]), (node["last_index"], 0),
                    "match and lag of node %d by the CLI" % node["id"])

    code, out, err = _cli(ctx, cluster, "status")
    check(code == 0, "raftq status exited %d: %s", code, err)
    lines = out.strip().splitlines()
    check_equal(len(lines), 1 + len(cluster.ids), "lines of the status table")
    for word in ("ROLE", "MEMBER", "MATCH", "LAG", "SNAPSHOT", "LOG"):
        check(word in lines[0].split(), "column %s in the header %r", word, lines[0])
    rows = {int(line.split()[0]): line.split() for line in lines[1:]}
    check_equal(sorted(rows), cluster.ids, "rows of the status table")
    check_equal([node_id for node_id, row in rows.items() if row[2] == "leader"], [leader], "leader row")
    check(all(row[3] == "voter" and row[-3] == "0" for row in rows.values()),
          "every row a voter at lag 0: %r", rows)

    # a node down is a row too, and the rest still answer
    down = cluster.followers(leader)[0]
    cluster.kill(down)
    code, out, err = _cli(ctx, cluster, "status")
    check(code == 0, "raftq status with a node down exited %d: %s", code, err)
    check(any("unreachable" in line and cluster.endpoint(down) in line for line in out.splitlines()),
          "the killed node shows as unreachable: %r", out)


def test_take_snapshot_moves_the_snapshot_index(ctx):
    cluster = ctx.cluster(3)
    spawned = cluster.start()
    leader = cluster.wait_leader(3.0, since=spawned)
    cluster.put_topic(leader, "jobs")
    cluster.publish(leader, "jobs", ["m%d" % number for number in range(20)])
    follower = cluster.followers(leader)[0]
    cluster.wait_applied([follower], cluster.status(leader)["commit_index"], 3.0)

    # any node snapshots its own state when asked, a follower too
    reply = cluster.request(follower, TAKE_SNAPSHOT, timeout=SNAPSHOT_TIMEOUT_S)
    check(reply.get("success") is True and set(reply) == {"success", "index"} and reply["index"] > 0,
          "TakeSnapshot on follower %d: %r", follower, reply)
    index = reply["index"]

    def reported():
        mine = detail(cluster, follower)
        return mine if mine["snapshot_index"] == index else None
    mine = wait_until(reported, 3.0, "follower %d to report snapshot %d" % (follower, index))
    check(mine["snapshot_term"] >= 1 and mine["snapshot_bytes"] > 0,
          "the snapshot's term and size: %r", mine)

    # the CLI: the leader by default, one node, every node
    code, out, err = _cli(ctx, cluster, "--json", "admin", "snapshot")
    check(code == 0, "raftq admin snapshot exited %d: %s %s", code, out, err)
    (done,) = _json_lines(out)
    check(done.get("success") is True and done.get("id") == leader and done.get("index", 0) > 0,
          "raftq admin snapshot: %r", done)
    wait_until(lambda: detail(cluster, leader)["snapshot_index"] == done["index"], 3.0,
               "the leader to report snapshot %d" % done["index"])
    code, out, err = _cli(ctx, cluster, "--json", "admin", "snapshot", "--node", follower)
    check(code == 0 and [line.get("id") for line in _json_lines(out)] == [follower],
          "raftq admin snapshot --node %d exited %d: %s %s", follower, code, out, err)
    code, out, err = _cli(ctx, cluster, "--json", "admin", "snapshot", "--all")
    check(code == 0, "raftq admin snapshot --all exited %d: %s %s", code, out, err)
    check_equal(sorted(line["id"] for line in _json_lines(out)), cluster.ids, "nodes snapshotted by --all")
    code, out, err = _cli(ctx, cluster, "admin", "snapshot", "--node", 9)
    check(code == 1 and "node 9" in err, "a snapshot of an unknown node fails: %d %s", code, err)
