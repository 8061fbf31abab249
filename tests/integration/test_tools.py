"""Processes as an operator sees them: the timing contract of raftqd (DESIGN
5.3), tools/raftq-cluster driven as a subprocess, and the raftq CLI."""

import json
import os
import signal
import subprocess
import sys
import time

from harness import (OK, REPO, TestFailure, check, check_equal, message_put, topic_put, wait_until)

TOOL = os.path.join(REPO, "tools", "raftq-cluster")


def test_process_timing_contract(ctx):
    cluster = ctx.cluster(3)
    spawned = cluster.spawn()
    answered = cluster.processes.wait_answering(cluster.ids, spawned + 1.0)
    late = [node_id for node_id, seconds in answered.items() if seconds is None]
    check(not late, "node(s) %s did not answer status within 1 s of spawn", late)
    leader = cluster.wait_leader(3.0, since=spawned)
    cluster.put_topic(leader, "kept")
    cluster.publish(leader, "kept", ["k1", "k2"])

    # SIGTERM: a clean exit (code 0) within 5 s, follower and leader alike
    follower = cluster.followers(leader)[0]
    for node_id in (follower, leader):
        signalled = time.monotonic()
        code = cluster.terminate(node_id, 5.0)
        check(code is not None, "node %d still running 5 s after SIGTERM", node_id)
        check_equal(code, 0, "exit code of node %d after SIGTERM (%.2f s)" % (node_id, time.monotonic() - signalled))

    # at once on the same ports: answering within 1 s, state intact
    respawned = cluster.spawn([follower, leader])
    answered = cluster.processes.wait_answering([follower, leader], respawned + 1.0)
    late = [node_id for node_id, seconds in answered.items() if seconds is None]
    check(not late, "restarted node(s) %s did not answer status within 1 s", late)
    leader = cluster.wait_leader(3.0)
    check_equal(cluster.drain(leader, "kept"), ["k1", "k2"], "messages after both nodes were restarted")


def _tool(ctx, config_path, *arguments, timeout=30):
    """Runs tools/raftq-cluster; returns (exit code, stdout, stderr)."""
    completed = subprocess.run([sys.executable, TOOL, "--config", config_path, "--bin", ctx.bin_dir]
                               + [str(argument) for argument in arguments],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)
    return completed.returncode, completed.stdout.decode(), completed.stderr.decode()


def _tool_ok(ctx, config_path, *arguments):
    code, out, err = _tool(ctx, config_path, *arguments)
    check(code == 0, "raftq-cluster %s exited %d: %s %s", " ".join(map(str, arguments)), code, out, err)
    return out


def _tool_rows(ctx, config_path):
    """raftq-cluster status --json: id -> row."""
    rows = {}
    for line in _tool_ok(ctx, config_path, "status", "--json").splitlines():
        row = json.loads(line)
        rows[row["id"]] = row
    return rows


def _pid_alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except OSError:
        return False


def test_cluster_tool_commands(ctx):
    cluster = ctx.cluster(3)
    config = cluster.config_path
    # the tool's nodes are not our children: kill whatever its pid files name
    ctx.on_close(cluster.processes.kill_all)

    out = _tool_ok(ctx, config, "start")
    for node_id in cluster.ids:
        check("node %d:" % node_id in out, "start printed no line for node %d: %r", node_id, out)
    rows = _tool_rows(ctx, config)
    check_equal(sorted(rows), cluster.ids, "status rows")
    pids = {node_id: row["pid"] for node_id, row in rows.items()}
    for node_id, row in rows.items():
        check(row["state"] == "running" and _pid_alive(row["pid"]), "node %d after start: %r", node_id, row)
        check(os.path.exists(os.path.join(cluster.config.nodes[node_id].dir, "raftqd.log")),
              "node %d has no raftqd.log", node_id)
    leader = cluster.wait_leader(3.0)

    def leader_row():
        rows = _tool_rows(ctx, config)
        return [node_id for node_id, row in rows.items() if (row["status"] or {}).get("role") == "Leader"]
    check_equal(wait_until(leader_row, 3.0, "a Leader row in raftq-cluster status"), [leader], "leader by the tool")
    text = _tool_ok(ctx, config, "status")
    check_equal(len(text.strip().splitlines()), 1 + len(cluster.ids), "lines of the status table")

    # kill and restart a follower
    follower = cluster.followers(leader)[0]
    _tool_ok(ctx, config, "kill", follower)
    check(not _pid_alive(pids[follower]), "node %d survived raftq-cluster kill", follower)
    check_equal(_tool_rows(ctx, config)[follower]["state"], "dead", "state of a killed node")
    _tool_ok(ctx, config, "restart", follower)
    row = _tool_rows(ctx, config)[follower]
    check(row["state"] == "running" and row["status"] is not None, "node %d after restart: %r", follower, row)
    _tool_ok(ctx, config, "restart", "--hard", follower)
    check(cluster.status(follower, 1.0) is not None, "node %d silent after restart --hard", follower)

    # a paused leader is replaced; resumed, it rejoins as a follower
    check_equal(cluster.request(leader, topic_put("before-pause")), OK, "create topic")
    _tool_ok(ctx, config, "pause", leader)
    check_equal(_tool_rows(ctx, config)[leader]["state"], "paused", "state of a paused node")
    paused_at = time.monotonic()
    replacement = cluster.wait_leader(3.0, since=paused_at, node_ids=cluster.followers(leader), other_than=leader)
    check_equal(cluster.request(replacement, message_put("before-pause", "while paused")), OK, "publish while paused")
    _tool_ok(ctx, config, "resume", leader)

    def converged():
        answers = cluster.statuses()
        if not all(answers.values()):
            return None
        views = {(answer["leader"], answer["term"]) for answer in answers.values()}
        applied = {answer["applied_index"] for answer in answers.values()}
        return len(views) == 1 and len(applied) == 1 and None not in {view[0] for view in views}
    wait_until(converged, 5.0, "the 3 nodes to agree on leader, term and applied index after resume")
    now_leader = cluster.current_leader()
    check_equal(cluster.drain(now_leader, "before-pause"), ["while paused"], "the queue after resume")

    # stop: every process gone, pid files removed; wipe removes the data
    _tool_ok(ctx, config, "stop")
    for node_id, pid in _tool_rows(ctx, config).items():
        check_equal(pid["state"], "dead", "state of node %d after stop" % node_id)
    for node_id in cluster.ids:
        check(not os.path.exists(cluster.config.nodes[node_id].pid_path), "pid file of node %d after stop", node_id)
    _tool_ok(ctx, config, "wipe")
    check(not os.path.exists(cluster.config.data_dir), "data dir left after wipe")


def test_cluster_tool_run_foreground(ctx):
    cluster = ctx.cluster(3)
    config = cluster.config_path
    ctx.on_close(cluster.processes.kill_all)

    for stop_signal in (signal.SIGINT, signal.SIGKILL):
        tool = subprocess.Popen([sys.executable, TOOL, "--config", config, "--bin", ctx.bin_dir, "run"],
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        ctx.on_close(tool.kill)
        lines = []
        try:
            # read until the tool says every node answers (bounded by the alarm of the runner)
            for raw in iter(tool.stdout.readline, b""):
                lines.append(raw.decode("utf-8", "replace").rstrip("\n"))
                if "nodes running" in lines[-1]:
                    break
            check(any("nodes running" in line for line in lines), "run never reported its nodes: %r", lines[-10:])
            pids = {node_id: cluster.processes.pid(node_id) for node_id in cluster.ids}
            check(all(pids.values()), "run wrote no pid file for some node: %r", pids)
            cluster.wait_leader(3.0)
            tool.send_signal(stop_signal)
            rest = tool.communicate(timeout=15)[0].decode("utf-8", "replace").splitlines()
            lines.extend(rest)
            if stop_signal == signal.SIGINT:
                check_equal(tool.returncode, 0, "exit code of run after SIGINT")
                foreign = [line for line in lines if not line.startswith(("[node ", "[raftq-cluster] "))]
                check(not foreign, "run printed lines without a node prefix: %r", foreign[:5])
            # SIGINT stops them cleanly; SIGKILL of the tool takes them down by parent-death signal
            gone = wait_until(lambda: not any(_pid_alive(pid) for pid in pids.values()), 6.0,
                              "the nodes of run to exit after %s" % signal.Signals(stop_signal).name)
            check(gone, "orphans")
        finally:
            if tool.poll() is None:
                tool.kill()
                tool.wait()
            tool.stdout.close()


def _cli(ctx, *arguments, timeout=20):
    """Runs the raftq CLI; returns (exit code, parsed --json stdout or None, stdout, stderr)."""
    completed = subprocess.run([ctx.program("raftq")] + [str(argument) for argument in arguments],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)
    out = completed.stdout.decode("utf-8", "replace")
    try:
        parsed = json.loads(out) if out.strip() else None
    except ValueError:
        parsed = None
    return completed.returncode, parsed, out, completed.stderr.decode("utf-8", "replace")


def test_cli_protobuf_path(ctx):
    cluster = ctx.cluster(3)
    cluster.start()
    leader = cluster.wait_leader(3.0)
    config = ["-c", cluster.config_path, "--json"]

    def ok(*arguments):
        code, parsed, out, err = _cli(ctx, *(config + list(arguments)))
        check(code == 0, "raftq %s exited %d: %s %s", " ".join(arguments), code, out.strip(), err.strip())
        check(parsed is not None, "raftq --json %s printed no JSON: %r", " ".join(arguments), out)
        return parsed

    def refused(expected_code, *arguments):
        code, parsed, out, err = _cli(ctx, *(config + list(arguments)))
        check(code == 1, "raftq %s exited %d (expected 1): %s %s", " ".join(arguments), code, out.strip(), err.strip())
        check(isinstance(parsed, dict) and parsed.get("success") is False and parsed.get("code") == expected_code,
              "raftq --json %s: expected a %s failure, printed %r", " ".join(arguments), expected_code, out)

    nodes = ok("status")
    check(isinstance(nodes, list) and len(nodes) == 3, "raftq --json status: %r", nodes)
    for node in nodes:
        check(node.get("reachable") is True, "node unreachable in raftq status: %r", node)
        mine = cluster.status(node["id"])
        check_equal((node["role"], node["term"]), (mine["role"], mine["term"]),
                    "role and term of node %d by the CLI and by JSON" % node["id"])
        check_equal(sorted(node["members"]), cluster.ids, "members of node %d by the CLI" % node["id"])
    check_equal(sorted(node["id"] for node in nodes), cluster.ids, "ids in raftq status")
    check_equal([node["id"] for node in nodes if node["role"] == "Leader"], [leader], "leaders in raftq status")

    check_equal(ok("create-topic", "jobs"), {"success": True, "topic": "jobs"}, "raftq create-topic")
    refused("ALREADY_EXISTS", "create-topic", "jobs")
    check_equal(ok("publish", "jobs", "hello")["sequence"], 1, "sequence of the first publish")
    check_equal(ok("publish", "jobs", "-starts with a dash")["sequence"], 2, "sequence of the second publish")
    check_equal(cluster.request(leader, message_put("jobs", "from json")), OK, "JSON publish between CLI ones")
    check_equal(ok("topics"), {"success": True, "topics": ["jobs"]}, "raftq topics")
    check_equal(ok("pop", "jobs"), {"success": True, "topic": "jobs", "message": "hello"}, "raftq pop")
    check_equal(cluster.pop(leader, "jobs"), "-starts with a dash", "JSON pop of a CLI publish")
    check_equal(ok("pop", "jobs")["message"], "from json", "raftq pop of a JSON publish")
    refused("EMPTY", "pop", "jobs")
    refused("NOT_FOUND", "pop", "missing")

    # a client that knows one follower finds the leader; after a kill, the new one
    follower = cluster.followers(leader)[0]
    code, parsed, out, err = _cli(ctx, "-e", cluster.endpoint(follower), "--json", "publish", "jobs", "via follower")
    check(code == 0, "raftq -e <follower> publish exited %d: %s %s", code, out.strip(), err.strip())
    cluster.kill(leader)
    check_equal(ok("pop", "jobs")["message"], "via follower", "raftq pop right after the leader was killed")

    code, parsed, out, err = _cli(ctx, *(config + ["no-such-command"]))
    check_equal(code, 2, "exit code of an unknown CLI command")
    silent_port = cluster.config.nodes[cluster.ids[-1]].client_port + 15  # a spare port of this block
    code, parsed, out, err = _cli(ctx, "-e", "tcp://127.0.0.1:%d" % silent_port, "--timeout", "500", "topics")
    check_equal(code, 1, "exit code of raftq topics when no node answers")


def test_bad_config_exits_2(ctx):
    cluster = ctx.cluster(1)
    raftqd = ctx.program("raftqd")
    broken = os.path.join(cluster.directory, "broken.json")
    cases = [
        ("a JSON syntax error", '{"nodes": [ {"id": 1, } ]}', ["--config", broken, "--id", "1"]),
        ("a port of the wrong type", json.dumps({"nodes": [{"id": 1, "host": "127.0.0.1", "client_port": "x",
                                                            "peer_port": 2, "pub_port": 3}]}),
         ["--config", broken, "--id", "1"]),
        ("an id not in the config", None, ["--config", cluster.config_path, "--id", "9"]),
        ("a missing config file", None, ["--config", os.path.join(cluster.directory, "absent.json"), "--id", "1"]),
    ]
    for label, text, arguments in cases:
        if text is not None:
            with open(broken, "w") as handle:
                handle.write(text)
        try:
            completed = subprocess.run([raftqd] + arguments, cwd=cluster.directory, stdin=subprocess.DEVNULL,
                                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=5)
        except subprocess.TimeoutExpired:
            raise TestFailure("raftqd with %s still running after 5 s" % label)
        errors = completed.stderr.decode("utf-8", "replace").strip().splitlines()
        check_equal(completed.returncode, 2, "exit code of raftqd with %s (stderr %r)" % (label, errors))
        check(len(errors) == 1, "raftqd with %s: expected one line on stderr, got %r", label, errors)
        if text is not None:
            check("broken.json" in errors[0], "first error line for %s does not name the file: %r", label, errors[0])
