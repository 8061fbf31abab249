"""raftq_cluster_cli — the command line of tools/raftq-cluster over
raftq_cluster: the commands, the status table, membership changes through
the leader, and `run` (every node in the foreground, output prefixed by its
id).
"""

import argparse
import json
import os
import signal
import subprocess
import sys
import threading
import time

from raftq_cluster import (START_DEADLINE_S, STOP_GRACE_S, Cluster, ClusterConfig, ConfigError,
                           admin_request, node_put)

# --- foreground run ---------------------------------------------------------

def _spawn_gateway(cluster, program):
    """`run --gateway`: raftq-gateway (beside raftqd) for the same config,
    in the config's directory, its output piped like a node's."""
    if not os.access(program, os.X_OK):
        raise ConfigError("%s is not built (make builds it)" % program)
    return subprocess.Popen([program, "--config", cluster.config.path], cwd=cluster.config.base_dir,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def run_foreground(cluster, out, gateway=None):
    """`run`: every node as a child with its output piped to ours, line by
    line, prefixed with its id, and with gateway (the raftq-gateway
    program) that too once the nodes answer: it prints its URL. SIGINT or
    SIGTERM stops them all cleanly (exit 0); if every node ends by itself
    the exit code is 1."""
    stop_requested = threading.Event()
    print_lock = threading.Lock()

    def say(line):
        with print_lock:
            out.write(line + "\n")
            out.flush()

    def pump(label, process):
        for raw in iter(process.stdout.readline, b""):
            say("[%s] %s" % (label, raw.decode("utf-8", "replace").rstrip("\n")))
        code = process.wait()
        if not stop_requested.is_set():
            say("[raftq-cluster] %s exited with code %d" % (label, code))

    def on_signal(signum, frame):
        stop_requested.set()

    previous = {signum: signal.signal(signum, on_signal) for signum in (signal.SIGINT, signal.SIGTERM)}
    pumps = []
    gateway_process = None
    try:
        for node in cluster.config.nodes.values():
            if cluster.pid(node.id) is not None:
                say("[raftq-cluster] node %d is already running (pid %d): stop it first"
                    % (node.id, cluster.pid(node.id)))
                return 1
        for node in cluster.config.nodes.values():
            process = cluster.spawn(node.id, output=subprocess.PIPE)
            thread = threading.Thread(target=pump, args=("node %d" % node.id, process), daemon=True)
            thread.start()
            pumps.append(thread)
        answered = cluster.wait_answering(list(cluster.config.nodes),
                                          time.monotonic() + START_DEADLINE_S, stop_requested)
        if not stop_requested.is_set():
            for node in cluster.config.nodes.values():
                if answered[node.id] is None:
                    say("[raftq-cluster] node %d did not answer status on %s" % (node.id, node.endpoint))
                else:
                    say("[raftq-cluster] node %d answering on %s" % (node.id, node.describe_endpoints()))
            if gateway:
                gateway_process = _spawn_gateway(cluster, gateway)
                thread = threading.Thread(target=pump, args=("gateway", gateway_process), daemon=True)
                thread.start()
                pumps.append(thread)
            say("[raftq-cluster] %d nodes running; Ctrl-C stops them" % len(cluster.config.nodes))
        while not stop_requested.wait(0.2):
            if all(cluster.exit_code(node_id) is not None for node_id in cluster.config.nodes):
                say("[raftq-cluster] every node has exited")
                return 1
        say("[raftq-cluster] stopping")
        if gateway_process and gateway_process.poll() is None:
            gateway_process.terminate()
        for node_id in cluster.config.nodes:
            cluster.signal(node_id, signal.SIGTERM)
            cluster.signal(node_id, signal.SIGCONT)
        for node_id in cluster.config.nodes:
            outcome = cluster.stop(node_id)
            if outcome == "killed":
                say("[raftq-cluster] node %d ignored SIGTERM for %.0f s: killed" % (node_id, STOP_GRACE_S))
        for thread in pumps:
            thread.join(2.0)
        return 0
    finally:
        if gateway_process and gateway_process.poll() is None:
            gateway_process.kill()
        cluster.kill_all()
        for signum, handler in previous.items():
            signal.signal(signum, handler)


# --- command line -------------------------------------------------------------

USAGE_COMMANDS = """commands:
  start [N...]     start nodes in the background, wait until they answer status
  stop [N...]      SIGTERM, SIGKILL after 5 s
  kill N...        SIGKILL
  restart N...     stop (with --hard: kill), then start
  pause N...       SIGSTOP
  resume N...      SIGCONT
  status [N...]    one row per node (--json: one JSON object per line, with
                   the status detail keys): role, term, leader, indexes,
                   membership (voter/learner), the leader's match index
                   and lag for the node, newest snapshot, log size
  wipe [N...]      remove the data dirs of stopped nodes
  add N...         start node N if it is not running (mark it "join": true
                   in the config), then have the leader add it; done once
                   it votes
  remove N...      have the leader remove node N (the leader too: it hands
                   over), then stop it
  run              all nodes in the foreground, output prefixed by node id;
                   Ctrl-C stops them; with --gateway also raftq-gateway
                   (the chat and cluster pages), which prints its URL

Every raftqd runs with the config file's directory as its working directory,
so a relative data_dir means the same to the broker and to this tool.
start, restart, add and run first make, with `raftq keygen` (beside raftqd),
every certificate the config names that does not exist (the nodes' and
client_certificate). With client_curve on, this tool talks CurveZMQ to the
client ports as client_certificate (or $RAFTQ_CLIENT_CERTIFICATE)."""


def _default_bin():
    if os.environ.get("RAFTQ_BUILD"):
        return os.environ["RAFTQ_BUILD"]
    return os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "build")


STATUS_HEADER = "%-4s %-8s %-8s %-9s %6s %6s %8s %8s %8s %-7s %8s %6s %8s %8s" % (
    "id", "pid", "process", "role", "term", "leader", "commit", "applied", "last",
    "member", "match", "lag", "snapshot", "log")


def _leader_members(rows):
    """id -> member_detail entry as the leader of the newest term answered,
    or {} when no leader answered: replication is the leader's view."""
    leaders = sorted((row["status"].get("term", 0), row["id"]) for row in rows
                     if row["status"] and row["status"].get("role") == "Leader")
    if not leaders:
        return {}
    leader = next(row for row in rows if row["id"] == leaders[-1][1])
    return {member.get("id"): member for member in leader["status"].get("member_detail") or []}


def _human_bytes(count):
    """count in powers of 1024 with one decimal: 512B, 1.5K, 20.0M."""
    if not isinstance(count, int):
        return "-"
    value, unit = float(count), 0
    while value >= 1024 and unit < 6:
        value, unit = value / 1024, unit + 1
    return "%dB" % count if unit == 0 else "%.1f%s" % (value, "BKMGTPE"[unit])


def _format_status(row, leader_members=None):
    pid = "-" if row["pid"] is None else str(row["pid"])
    head = "%-4d %-8s %-8s" % (row["id"], pid, row["state"])
    status = row["status"]
    if row["state"] in ("dead", "paused"):
        return head + " -"
    if status is None:
        return head + " unreachable"
    leader = status.get("leader")
    line = head + " %-9s %6s %6s %8s %8s %8s" % (
        status.get("role", "?"), status.get("term", "?"),
        "-" if leader is None else leader, status.get("commit_index", "?"),
        status.get("applied_index", "?"), status.get("last_index", "?"))
    if leader_members is None:
        return line
    # membership and replication as the leader sees them, else the node itself
    member = leader_members.get(row["id"])
    if member is None and not leader_members:
        member = next((entry for entry in status.get("member_detail") or []
                       if entry.get("id") == row["id"]), None)
    def known(value):
        return "-" if value is None else value
    return line + " %-7s %8s %6s %8s %8s" % (
        member.get("role", "-") if member else "-", known((member or {}).get("match_index")),
        known((member or {}).get("lag")), known(status.get("snapshot_index")),
        _human_bytes(status.get("log_bytes")))


def _change_membership(cluster, config, command, node_id, report):
    """add: starts node_id if needed, then asks the leader to add it;
    remove: asks the leader to remove it, then stops it. True on success."""
    node = config.nodes[node_id]
    if command == "add":
        if not cluster.running(node_id) and cluster.start([node_id], report=report):
            return False
        message = node_put(node)
    else:
        message = {"type": "node", "method": "DELETE", "id": node.id}
    reply = admin_request(config, message)
    if not reply or not reply.get("success"):
        report("node %d: not %s: %s" % (node_id, "added" if command == "add" else "removed",
                                         (reply or {}).get("error", "no leader answered")))
        return False
    if command == "add":
        report("node %d: added, votes" % node_id)
    else:
        report("node %d: removed, %s" % (node_id, cluster.stop(node_id)))
    return True


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="raftq-cluster", description="Manage the raftqd brokers of a cluster config.",
        epilog=USAGE_COMMANDS, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default="config.json", help="cluster config (default config.json)")
    parser.add_argument("--bin", default=None,
                        help="directory holding raftqd (default $RAFTQ_BUILD, else <repo>/build)")
    parser.add_argument("--hard", action="store_true", help="restart: SIGKILL instead of SIGTERM")
    parser.add_argument("--json", action="store_true", help="status: JSON lines")
    parser.add_argument("--gateway", action="store_true",
                        help="run: start raftq-gateway (beside raftqd) too")
    parser.add_argument("command", choices=["start", "stop", "kill", "restart", "pause", "resume",
                                            "status", "wipe", "run", "add", "remove"])
    parser.add_argument("ids", nargs="*", type=int, metavar="N")
    args = parser.parse_intermixed_args(argv)

    def report(line):
        print(line, flush=True)

    try:
        config = ClusterConfig(args.config)
        config.select(args.ids)
        if args.command in ("kill", "restart", "pause", "resume", "add", "remove") and not args.ids:
            parser.error("%s needs node ids" % args.command)
        if args.command == "run" and args.ids:
            parser.error("run starts every node of the config")
        cluster = Cluster(config, args.bin or _default_bin(), detach=args.command != "run")
        ids = [node.id for node in config.select(args.ids)]

        if args.command == "run":
            gateway = os.path.join(args.bin or _default_bin(), "raftq-gateway") if args.gateway else None
            return run_foreground(cluster, sys.stdout, gateway)
        if args.command == "start":
            return 1 if cluster.start(ids, report=report) else 0
        if args.command == "status":
            rows = cluster.status_rows(ids, detail=True)
            leader_members = _leader_members(rows)
            if not args.json:
                report(STATUS_HEADER)
            for row in rows:
                report(json.dumps(row, sort_keys=True) if args.json else _format_status(row, leader_members))
            return 0
        if args.command == "wipe":
            left = cluster.wipe(ids)
            for node_id in ids:
                report("node %d: %s" % (node_id, "running, not wiped" if node_id in left else "wiped"))
            return 1 if left else 0

        failed = False
        for node_id in ids:
            if args.command == "stop":
                report("node %d: %s" % (node_id, cluster.stop(node_id)))
            elif args.command == "kill":
                report("node %d: %s" % (node_id, "killed" if cluster.kill(node_id) else "not running"))
            elif args.command in ("pause", "resume"):
                done = (cluster.pause if args.command == "pause" else cluster.resume)(node_id)
                report("node %d: %s" % (node_id, (args.command + "d") if done else "not running"))
                failed = failed or not done
            elif args.command in ("add", "remove"):
                failed = not _change_membership(cluster, config, args.command, node_id, report) or failed
            elif args.command == "restart":
                if args.hard:
                    outcome = "killed" if cluster.kill(node_id) else "not running"
                else:
                    outcome = cluster.stop(node_id)
                report("node %d: %s" % (node_id, outcome))
                failed = bool(cluster.start([node_id], report=report)) or failed
        return 1 if failed else 0
    except ConfigError as error:
        print("raftq-cluster: %s" % error, file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
