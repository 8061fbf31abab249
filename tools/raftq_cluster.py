"""raftq_cluster — start, stop, kill, pause and inspect the raftqd brokers of
one cluster config. The one implementation behind tools/raftq-cluster (the
command line) and tests/integration (which import it as a module).

Working directory: every raftqd runs with its cwd set to the directory of the
config file, because the broker resolves a relative data_dir against its cwd
and this tool resolves it against the config file: running the broker there
makes both agree, wherever the tool is invoked from.

Files per node, beside the broker's own state in <data_dir>/node-<id>/:
raftqd.log (stdout and stderr of a background node) and raftqd.pid.
"""

import argparse
import ctypes
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time

import zmq

STATUS_REQUEST = b'{"type":"status","method":"GET"}'
STATUS_DETAIL_REQUEST = b'{"type":"status","method":"GET","detail":true}'
START_DEADLINE_S = 5.0      # a node must answer status this long after spawn
STOP_GRACE_S = 5.0          # SIGTERM, then SIGKILL after this long
STATUS_TIMEOUT_S = 0.5      # how long `status` waits for each node
PROCESS_POLL_S = 0.02       # pause between looks at a process we wait for
ADMIN_TIMEOUT_S = 15.0      # add/remove: how long to keep asking the leader
ADMIN_REPLY_S = 12.0        # the broker answers an admin request within 10 s
ADMIN_RETRY_CODES = ("NOT_LEADER", "NO_LEADER", "UNAVAILABLE", "TIMEOUT")


class ConfigError(Exception):
    """The config file is missing, not JSON, or not a cluster config."""


class Node:
    """One broker of the config: where it listens and how it is started."""

    def __init__(self, node_id, host, client_port, peer_port, pub_port, node_dir, argv):
        self.id = node_id                # node id (RRMQ form: index + 1)
        self.host = host                 # address it listens on
        self.client_port = client_port   # client ROUTER
        self.peer_port = peer_port       # peer ROUTER
        self.pub_port = pub_port         # PUB, 0 when none
        self.dir = node_dir              # <data_dir>/node-<id>, absolute
        self.argv = argv                 # raftqd arguments after the program name

    @property
    def endpoint(self):
        return "tcp://%s:%d" % (self.host, self.client_port)

    @property
    def log_path(self):
        return os.path.join(self.dir, "raftqd.log")

    @property
    def pid_path(self):
        return os.path.join(self.dir, "raftqd.pid")


class ClusterConfig:
    """A parsed config file, in the raftq form or the RRMQ form."""

    def __init__(self, path):
        self.path = os.path.abspath(path)          # the file, absolute
        self.base_dir = os.path.dirname(self.path)  # cwd of every raftqd
        try:
            with open(self.path, "rb") as handle:
                document = json.loads(handle.read().decode("utf-8"))
        except OSError as error:
            raise ConfigError("%s: %s" % (path, error.strerror))
        except ValueError as error:
            raise ConfigError("%s: not JSON: %s" % (path, error))
        if not isinstance(document, dict):
            raise ConfigError("%s: top level is not an object" % path)
        data_dir = document.get("data_dir", "data")
        if not isinstance(data_dir, str) or not data_dir:
            raise ConfigError("%s: data_dir: not a non-empty string" % path)
        self.data_dir = os.path.normpath(os.path.join(self.base_dir, data_dir))
        self.nodes = {}                             # id -> Node, in file order
        if "nodes" in document:
            self.form = "raftq"
            self._parse_raftq(document["nodes"])
        elif "addresses" in document:
            self.form = "rrmq"
            self._parse_rrmq(document["addresses"])
        else:
            raise ConfigError("%s: neither \"nodes\" nor \"addresses\"" % path)
        if not self.nodes:
            raise ConfigError("%s: no nodes" % path)

    def _node_dir(self, node_id):
        return os.path.join(self.data_dir, "node-%d" % node_id)

    def _parse_raftq(self, entries):
        if not isinstance(entries, list):
            raise ConfigError("%s: nodes: not an array" % self.path)
        for position, entry in enumerate(entries):
            where = "%s: nodes[%d]" % (self.path, position)
            if not isinstance(entry, dict):
                raise ConfigError("%s: not an object" % where)
            node_id = _integer(entry, "id", where)
            if node_id in self.nodes:
                raise ConfigError("%s: id %d appears twice" % (where, node_id))
            self.nodes[node_id] = Node(
                node_id, _string(entry, "host", where, "127.0.0.1"),
                _integer(entry, "client_port", where),
                _integer(entry, "peer_port", where),
                _integer(entry, "pub_port", where, 0),
                self._node_dir(node_id),
                ["--config", self.path, "--id", str(node_id)])

    def _parse_rrmq(self, entries):
        if not isinstance(entries, list):
            raise ConfigError("%s: addresses: not an array" % self.path)
        for position, entry in enumerate(entries):
            where = "%s: addresses[%d]" % (self.path, position)
            if not isinstance(entry, dict):
                raise ConfigError("%s: not an object" % where)
            host = _string(entry, "ip", where)
            for scheme in ("http://", "https://", "tcp://"):
                if host.startswith(scheme):
                    host = host[len(scheme):]
            node_id = position + 1
            self.nodes[node_id] = Node(
                node_id, host.rstrip("/"),
                _integer(entry, "port", where),
                _integer(entry, "internal_port", where),
                _integer(entry, "pub_port", where, 0),
                self._node_dir(node_id),
                [self.path, str(position)])

    def select(self, ids):
        """The nodes named by ids (all when empty); unknown ids are an error."""
        if not ids:
            return list(self.nodes.values())
        unknown = [node_id for node_id in ids if node_id not in self.nodes]
        if unknown:
            raise ConfigError("%s: no node %s" % (self.path, ", ".join(map(str, unknown))))
        return [self.nodes[node_id] for node_id in ids]


def _integer(entry, key, where, default=None):
    value = entry.get(key, default)
    if value is None or isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError("%s: %s: not an integer" % (where, key))
    return value


def _string(entry, key, where, default=None):
    value = entry.get(key, default)
    if not isinstance(value, str) or not value:
        raise ConfigError("%s: %s: not a non-empty string" % (where, key))
    return value


# --- talking to nodes -------------------------------------------------------

class Client:
    """Requests to nodes' client ports over REQ sockets, one per endpoint,
    each with a timeout. A REQ socket that timed out is stuck waiting for its
    reply, so it is closed and a fresh one made for the next request."""

    def __init__(self, context=None):
        self.context = context or zmq.Context.instance()   # shared zmq context
        self.sockets = {}                                   # endpoint -> REQ socket

    def _socket(self, endpoint):
        socket = self.sockets.get(endpoint)
        if socket is None:
            socket = self.context.socket(zmq.REQ)
            socket.setsockopt(zmq.LINGER, 0)
            socket.connect(endpoint)
            self.sockets[endpoint] = socket
        return socket

    def _drop(self, endpoint):
        socket = self.sockets.pop(endpoint, None)
        if socket is not None:
            socket.close(0)

    def send(self, endpoint, body):
        """Sends body (bytes, or a list of frames) without waiting; collect
        the reply with receive. False if the socket refused it."""
        socket = self._socket(endpoint)
        try:
            if isinstance(body, (list, tuple)):
                socket.send_multipart(body)
            else:
                socket.send(body)
            return True
        except zmq.ZMQError:
            self._drop(endpoint)
            return False

    def receive(self, endpoint, timeout):
        """The reply body to the request sent to endpoint, or None when none
        came within timeout seconds (the socket is then replaced)."""
        socket = self.sockets.get(endpoint)
        try:
            if socket is not None and socket.poll(int(timeout * 1000), zmq.POLLIN):
                return socket.recv()
        except zmq.ZMQError:
            pass
        self._drop(endpoint)
        return None

    def request_raw(self, endpoint, body, timeout):
        """Sends body; returns the reply body, or None when no reply came
        within timeout seconds."""
        if not self.send(endpoint, body):
            return None
        return self.receive(endpoint, timeout)

    def request(self, endpoint, message, timeout):
        """Sends a JSON object; returns the decoded reply, None on timeout.
        A reply that is not a JSON object raises ValueError."""
        body = self.request_raw(endpoint, json.dumps(message).encode("utf-8"), timeout)
        if body is None:
            return None
        reply = json.loads(body.decode("utf-8"))
        if not isinstance(reply, dict):
            raise ValueError("reply is not a JSON object: %r" % body[:200])
        return reply

    def close(self):
        for endpoint in list(self.sockets):
            self._drop(endpoint)


def query_statuses(context, nodes, timeout, request=STATUS_REQUEST):
    """Asks every node for its status at once. Returns id -> status dict, or
    None for a node that gave no (or no JSON object) answer in time.
    request=STATUS_DETAIL_REQUEST asks for the detail keys too."""
    pending = {}
    poller = zmq.Poller()
    for node in nodes:
        socket = context.socket(zmq.REQ)
        socket.setsockopt(zmq.LINGER, 0)
        socket.connect(node.endpoint)
        socket.send(request)
        poller.register(socket, zmq.POLLIN)
        pending[socket] = node.id
    answers = {node.id: None for node in nodes}
    deadline = time.monotonic() + timeout
    try:
        while pending:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            for socket, _ in poller.poll(int(left * 1000) + 1):
                node_id = pending.pop(socket)
                poller.unregister(socket)
                try:
                    answer = json.loads(socket.recv().decode("utf-8"))
                    answers[node_id] = answer if isinstance(answer, dict) else None
                except ValueError:
                    answers[node_id] = None
    finally:
        for socket in list(poller.sockets):
            socket[0].close(0)
        for socket in pending:
            socket.close(0)
    return answers


def admin_request(config, message, timeout=ADMIN_TIMEOUT_S):
    """Sends an admin request (node PUT/DELETE, leader PUT) to the leader of
    the moment, again while no leader answers it for good. Returns the last
    reply, or None if none came."""
    client = Client()
    deadline = time.monotonic() + timeout
    reply = None
    try:
        while time.monotonic() < deadline:
            answers = query_statuses(client.context, list(config.nodes.values()), STATUS_TIMEOUT_S)
            leaders = sorted((answer.get("term", 0), node_id) for node_id, answer in answers.items()
                             if answer and answer.get("role") == "Leader")
            if leaders:
                node = config.nodes[leaders[-1][1]]
                reply = client.request(node.endpoint, message, ADMIN_REPLY_S)
                if reply and (reply.get("success") or reply.get("code") not in ADMIN_RETRY_CODES):
                    return reply
            time.sleep(0.1)
        return reply
    finally:
        client.close()


# --- processes ------------------------------------------------------------

def _parent_death_signal():
    """Runs in the child before exec: the kernel SIGKILLs it when the process
    that spawned it dies, so a crashed tool or test runner leaves no brokers."""
    PR_SET_PDEATHSIG = 1
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def _process_state(pid):
    """'running', 'paused' or 'dead' for a raftqd pid; a pid that now belongs
    to another program counts as dead."""
    try:
        with open("/proc/%d/stat" % pid, "rb") as handle:
            stat = handle.read().decode("utf-8", "replace")
        with open("/proc/%d/cmdline" % pid, "rb") as handle:
            words = handle.read().split(b"\0")
    except OSError:
        return "dead"
    state = stat[stat.rfind(")") + 2:][:1]
    if state in ("Z", "X", "x"):
        return "dead"
    # raftqd itself, or run through an interpreter or valgrind
    if not any(os.path.basename(word).startswith(b"raftqd") for word in words[:4]):
        return "dead"
    return "paused" if state in ("T", "t") else "running"


class Cluster:
    """The processes of one config. A process this object spawned is tracked
    by its Popen (exit codes, reaping); one started earlier (by another
    invocation of the tool) is found through its pid file."""

    def __init__(self, config, bin_dir, detach=True):
        self.config = config                          # ClusterConfig
        self.program = os.path.join(bin_dir, "raftqd")  # broker executable
        self.detach = detach                          # spawned nodes outlive us
        self.processes = {}                           # id -> Popen we spawned
        self.context = zmq.Context.instance()         # for status queries

    # pids and states

    def pid(self, node_id):
        process = self.processes.get(node_id)
        if process is not None:
            return process.pid if process.poll() is None else None
        try:
            with open(self.config.nodes[node_id].pid_path) as handle:
                pid = int(handle.read().strip())
        except (OSError, ValueError):
            return None
        return pid if _process_state(pid) != "dead" else None

    def state(self, node_id):
        pid = self.pid(node_id)
        return "dead" if pid is None else _process_state(pid)

    def running(self, node_id):
        return self.state(node_id) != "dead"

    def exit_code(self, node_id):
        """Exit status of a node we spawned that has ended (negative: the
        signal), None while it runs or if we did not spawn it."""
        process = self.processes.get(node_id)
        return None if process is None else process.poll()

    # starting

    def spawn(self, node_id, output=None):
        """Starts one raftqd. Its stdout and stderr go to output (a file
        object or subprocess.PIPE), by default appended to its raftqd.log."""
        node = self.config.nodes[node_id]
        if not os.access(self.program, os.X_OK):
            raise ConfigError("%s: no raftqd executable (build it, or give --bin)" % self.program)
        os.makedirs(node.dir, exist_ok=True)
        log = None
        if output is None:
            log = open(node.log_path, "ab")
            output = log
        try:
            process = subprocess.Popen(
                [self.program] + node.argv, cwd=self.config.base_dir,
                stdin=subprocess.DEVNULL, stdout=output, stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=None if self.detach else _parent_death_signal)
        finally:
            if log is not None:
                log.close()
        self.processes[node_id] = process
        with open(node.pid_path, "w") as handle:
            handle.write("%d\n" % process.pid)
        return process

    def wait_answering(self, node_ids, deadline, interrupted=None):
        """Waits until each node answers status or the monotonic deadline
        passes. Returns id -> seconds it took, or None (dead or silent)."""
        waiting = {node_id: time.monotonic() for node_id in node_ids}
        answered = {node_id: None for node_id in node_ids}
        while waiting and time.monotonic() < deadline:
            if interrupted is not None and interrupted.is_set():
                break
            nodes = [self.config.nodes[node_id] for node_id in waiting]
            left = min(0.25, max(0.01, deadline - time.monotonic()))
            for node_id, answer in query_statuses(self.context, nodes, left).items():
                if answer is not None:
                    answered[node_id] = time.monotonic() - waiting.pop(node_id)
                elif not self.running(node_id):
                    waiting.pop(node_id)
        return answered

    def start(self, node_ids=None, deadline_s=START_DEADLINE_S, report=None):
        """Spawns the nodes not already running and waits until they answer
        status. Returns the ids of nodes that died or stayed silent (those
        are killed, their log tail reported)."""
        report = report or (lambda line: None)
        nodes = self.config.select(node_ids)
        spawned = []
        try:
            for node in nodes:
                pid = self.pid(node.id)
                if pid is not None:
                    report("node %d: already running (pid %d)" % (node.id, pid))
                    continue
                self.spawn(node.id)
                spawned.append(node.id)
            answered = self.wait_answering(spawned, time.monotonic() + deadline_s)
        except BaseException:
            for node_id in spawned:
                self.kill(node_id)
            raise
        failed = []
        for node_id in spawned:
            node = self.config.nodes[node_id]
            if answered[node_id] is not None:
                report("node %d: pid %d, answering on %s after %.2f s" % (
                    node_id, self.pid(node_id), node.endpoint, answered[node_id]))
                continue
            code = self.exit_code(node_id)
            self.kill(node_id)
            failed.append(node_id)
            if code is not None:
                report("node %d: FAILED: raftqd exited with code %d; log %s:" % (
                    node_id, code, node.log_path))
            else:
                report("node %d: FAILED: no status answer within %.1f s, killed; log %s:" % (
                    node_id, deadline_s, node.log_path))
            for line in tail(node.log_path, 10):
                report("    " + line)
        return failed

    # stopping and signals

    def signal(self, node_id, signum):
        pid = self.pid(node_id)
        if pid is None:
            return False
        try:
            os.kill(pid, signum)
        except ProcessLookupError:
            return False
        return True

    def wait_gone(self, node_id, timeout):
        """True once the node has exited (within timeout seconds)."""
        process = self.processes.get(node_id)
        if process is not None:
            try:
                process.wait(timeout)
                return True
            except subprocess.TimeoutExpired:
                return False
        deadline = time.monotonic() + timeout
        while self.pid(node_id) is not None:
            if time.monotonic() >= deadline:
                return False
            time.sleep(PROCESS_POLL_S)
        return True

    def _forget(self, node_id):
        try:
            os.unlink(self.config.nodes[node_id].pid_path)
        except OSError:
            pass

    def stop(self, node_id, grace_s=STOP_GRACE_S):
        """SIGTERM (and SIGCONT, so a paused node sees it), then SIGKILL after
        grace_s. Returns 'stopped', 'killed' or 'not running'."""
        if not self.signal(node_id, signal.SIGTERM):
            self._forget(node_id)
            return "not running"
        self.signal(node_id, signal.SIGCONT)
        outcome = "stopped"
        if not self.wait_gone(node_id, grace_s):
            self.signal(node_id, signal.SIGKILL)
            self.wait_gone(node_id, grace_s)
            outcome = "killed"
        self._forget(node_id)
        return outcome

    def kill(self, node_id):
        """SIGKILL, like a power cut; returns False if it was not running."""
        was_running = self.signal(node_id, signal.SIGKILL)
        self.wait_gone(node_id, STOP_GRACE_S)
        self._forget(node_id)
        return was_running

    def pause(self, node_id):
        return self.signal(node_id, signal.SIGSTOP)

    def resume(self, node_id):
        return self.signal(node_id, signal.SIGCONT)

    def kill_all(self):
        for node_id in self.config.nodes:
            if self.pid(node_id) is not None:
                self.kill(node_id)

    # inspection

    def status_rows(self, node_ids=None, timeout=STATUS_TIMEOUT_S, detail=False):
        """One dict per node (all, or node_ids): id, pid, state, and its
        status answer (with the detail keys if detail) or None. Paused nodes
        are not asked."""
        nodes = self.config.select(node_ids)
        states = {node.id: self.state(node.id) for node in nodes}
        asked = [node for node in nodes if states[node.id] == "running"]
        request = STATUS_DETAIL_REQUEST if detail else STATUS_REQUEST
        answers = query_statuses(self.context, asked, timeout, request) if asked else {}
        return [{"id": node.id, "pid": self.pid(node.id), "state": states[node.id],
                 "status": answers.get(node.id)} for node in nodes]

    def wipe(self, node_ids=None):
        """Removes the state of stopped nodes; returns the ids left alone
        because they run."""
        running = []
        for node in self.config.select(node_ids):
            if self.pid(node.id) is not None:
                running.append(node.id)
            else:
                shutil.rmtree(node.dir, ignore_errors=True)
        try:
            os.rmdir(self.config.data_dir)
        except OSError:
            pass
        return running


def tail(path, count):
    """The last count lines of a text file (empty if it cannot be read)."""
    try:
        with open(path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            handle.seek(max(0, handle.tell() - 64 * 1024))
            lines = handle.read().decode("utf-8", "replace").splitlines()
    except OSError:
        return []
    return lines[-count:]


# --- foreground run ---------------------------------------------------------

def run_foreground(cluster, out):
    """`run`: every node as a child with its output piped to ours, line by
    line, prefixed with its id. SIGINT or SIGTERM stops them all cleanly
    (exit 0); if every node ends by itself the exit code is 1."""
    stop_requested = threading.Event()
    print_lock = threading.Lock()

    def say(line):
        with print_lock:
            out.write(line + "\n")
            out.flush()

    def pump(node_id, process):
        for raw in iter(process.stdout.readline, b""):
            say("[node %d] %s" % (node_id, raw.decode("utf-8", "replace").rstrip("\n")))
        code = process.wait()
        if not stop_requested.is_set():
            say("[raftq-cluster] node %d exited with code %d" % (node_id, code))

    def on_signal(signum, frame):
        stop_requested.set()

    previous = {signum: signal.signal(signum, on_signal) for signum in (signal.SIGINT, signal.SIGTERM)}
    pumps = []
    try:
        for node in cluster.config.nodes.values():
            if cluster.pid(node.id) is not None:
                say("[raftq-cluster] node %d is already running (pid %d): stop it first"
                    % (node.id, cluster.pid(node.id)))
                return 1
        for node in cluster.config.nodes.values():
            process = cluster.spawn(node.id, output=subprocess.PIPE)
            thread = threading.Thread(target=pump, args=(node.id, process), daemon=True)
            thread.start()
            pumps.append(thread)
        answered = cluster.wait_answering(list(cluster.config.nodes),
                                          time.monotonic() + START_DEADLINE_S, stop_requested)
        if not stop_requested.is_set():
            for node in cluster.config.nodes.values():
                if answered[node.id] is None:
                    say("[raftq-cluster] node %d did not answer status on %s" % (node.id, node.endpoint))
                else:
                    say("[raftq-cluster] node %d answering on %s" % (node.id, node.endpoint))
            say("[raftq-cluster] %d nodes running; Ctrl-C stops them" % len(cluster.config.nodes))
        while not stop_requested.wait(0.2):
            if all(cluster.exit_code(node_id) is not None for node_id in cluster.config.nodes):
                say("[raftq-cluster] every node has exited")
                return 1
        say("[raftq-cluster] stopping")
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
                   Ctrl-C stops them

Every raftqd runs with the config file's directory as its working directory,
so a relative data_dir means the same to the broker and to this tool."""


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
        message = {"type": "node", "method": "PUT", "id": node.id, "host": node.host,
                   "client_port": node.client_port, "peer_port": node.peer_port,
                   "pub_port": node.pub_port}
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
            return run_foreground(cluster, sys.stdout)
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
