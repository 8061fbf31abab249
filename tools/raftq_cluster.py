"""raftq_cluster — start, stop, kill, pause and inspect the raftqd brokers of
one cluster config. The one implementation behind tools/raftq-cluster (its
command line is raftq_cluster_cli.py) and tests/integration (which import
it as a module).

Working directory: every raftqd runs with its cwd set to the directory of the
config file, because the broker resolves a relative data_dir against its cwd
and this tool resolves it against the config file: running the broker there
makes both agree, wherever the tool is invoked from.

Files per node, beside the broker's own state in <data_dir>/node-<id>/:
raftqd.log (stdout and stderr of a background node) and raftqd.pid.

Keys: before it spawns a node, the tool creates every CurveZMQ certificate
the config names and lacks (each node's "certificate" and the
"client_certificate"), with `raftq keygen` from the same bin directory as
raftqd; a node needs every member's public key to start. When the config
turns client_curve on, the tool's own status and admin requests talk
CurveZMQ with the client_certificate (or $RAFTQ_CLIENT_CERTIFICATE).
"""

import ctypes
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import zmq

# The socket pool is the Python client's (clients/python).
CLIENTS_PYTHON = os.path.join(os.path.dirname(os.path.dirname(os.path.realpath(__file__))),
                              "clients", "python")
if CLIENTS_PYTHON not in sys.path:
    sys.path.insert(0, CLIENTS_PYTHON)

from raftq_client import CurveKeys, SocketPool, certificate_keys  # noqa: E402

STATUS_REQUEST = b'{"type":"status","method":"GET"}'
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

    def __init__(self, node_id, host, client_port, peer_port, pub_port, node_dir, argv,
                 certificate=None, public_key=None, http_port=0):
        self.id = node_id                # node id (RRMQ form: index + 1)
        self.host = host                 # address it listens on
        self.client_port = client_port   # client ROUTER
        self.peer_port = peer_port       # peer ROUTER
        self.pub_port = pub_port         # PUB, 0 when none
        self.http_port = http_port       # metrics and health over HTTP, 0 when none
        self.dir = node_dir              # <data_dir>/node-<id>, absolute
        self.argv = argv                 # raftqd arguments after the program name
        self.certificate = certificate   # its public certificate file, absolute, or None
        self.given_key = public_key      # its "public_key" (Z85) when it names no certificate

    def public_key(self):
        """Its CurveZMQ public key (Z85 str), or None when it has none (yet)."""
        if self.certificate is None:
            return self.given_key
        try:
            return certificate_keys(self.certificate)["public-key"]
        except (OSError, ValueError):
            return None

    @property
    def endpoint(self):
        return "tcp://%s:%d" % (self.host, self.client_port)

    @property
    def metrics_url(self):
        """Its /metrics URL, or None without an http_port."""
        return "http://%s:%d/metrics" % (self.host, self.http_port) if self.http_port else None

    def describe_endpoints(self):
        """Where it answers, for the lines the tools print."""
        if self.metrics_url:
            return "%s (metrics %s)" % (self.endpoint, self.metrics_url)
        return self.endpoint

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
        # The admin secret, as raftqd finds it (the node creates it, 0600)
        secret_file = document.get("admin_secret_file", os.path.join(data_dir, "admin.secret"))
        if not isinstance(secret_file, str) or not secret_file:
            raise ConfigError("%s: admin_secret_file: not a non-empty string" % path)
        self.admin_secret_path = os.path.normpath(os.path.join(self.base_dir, secret_file))
        # CurveZMQ on the client ports: false, true or an allow-list
        self.client_curve = document.get("client_curve", False) is not False
        client_certificate = document.get("client_certificate")
        if client_certificate is not None and (not isinstance(client_certificate, str)
                                               or not client_certificate):
            raise ConfigError("%s: client_certificate: not a non-empty string" % path)
        self.client_certificate = self._file(client_certificate)  # absolute, or None
        self._curve = None                          # CurveKeys, once made
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

    def admin_secret(self):
        """$RAFTQ_ADMIN_SECRET, else the secret in the config's admin secret
        file; None while no node has created it."""
        given = os.environ.get("RAFTQ_ADMIN_SECRET")
        if given:
            return given
        try:
            with open(self.admin_secret_path, "r", encoding="utf-8") as handle:
                return handle.read().rstrip() or None
        except OSError:
            return None

    def _file(self, name):
        """A file name of the config as an absolute path (relative ones are
        the nodes' cwd's, the config's directory), None for None."""
        return None if name is None else os.path.normpath(os.path.join(self.base_dir, name))

    def certificates(self):
        """Every certificate file the config names: the nodes', then the
        client's."""
        files = [node.certificate for node in self.nodes.values() if node.certificate]
        return files + ([self.client_certificate] if self.client_certificate else [])

    def curve(self):
        """The CurveKeys this tool's requests use, or None while the config
        keeps client_curve off. Raises ConfigError when a key is missing."""
        if not self.client_curve:
            return None
        if self._curve is None:
            keys = {node.endpoint: node.public_key() for node in self.nodes.values()}
            missing = [endpoint for endpoint, key in keys.items() if key is None]
            if missing:
                raise ConfigError("%s: client_curve: no public key for %s" % (
                    self.path, ", ".join(missing)))
            certificate = os.environ.get("RAFTQ_CLIENT_CERTIFICATE") or self.client_certificate
            try:
                self._curve = CurveKeys(keys, certificate)
            except (OSError, ValueError) as error:
                raise ConfigError("%s: client_curve: %s" % (self.path, error))
        return self._curve

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
                ["--config", self.path, "--id", str(node_id)],
                self._file(_string(entry, "certificate", where, "")
                           if "certificate" in entry else None),
                entry.get("public_key"),
                _integer(entry, "http_port", where, 0))

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

    def __init__(self, context=None, admin_secret=None, curve=None):
        self.context = context or zmq.Context.instance()        # shared zmq context
        self.sockets = SocketPool(self.context, zmq.REQ, curve)  # a REQ socket per endpoint
        self.admin_secret = admin_secret    # () -> the admin secret or None; JSON admin requests carry it

    def send(self, endpoint, body):
        """Sends body (bytes, or a list of frames) without waiting; collect
        the reply with receive. False if the socket refused it."""
        socket = self.sockets.socket(endpoint)
        try:
            if isinstance(body, (list, tuple)):
                socket.send_multipart(body)
            else:
                socket.send(body)
            return True
        except zmq.ZMQError:
            self.sockets.drop(endpoint)
            return False

    def receive(self, endpoint, timeout):
        """The reply body to the request sent to endpoint, or None when none
        came within timeout seconds (the socket is then replaced)."""
        socket = self.sockets.existing(endpoint)
        try:
            if socket is not None and socket.poll(int(timeout * 1000), zmq.POLLIN):
                return socket.recv()
        except zmq.ZMQError:
            pass
        self.sockets.drop(endpoint)
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
        if self.admin_secret and needs_admin(message):
            message = dict(message, admin=self.admin_secret())
        body = self.request_raw(endpoint, json.dumps(message).encode("utf-8"), timeout)
        if body is None:
            return None
        reply = json.loads(body.decode("utf-8"))
        if not isinstance(reply, dict):
            raise ValueError("reply is not a JSON object: %r" % body[:200])
        return reply

    def close(self):
        self.sockets.close()


def needs_admin(message):
    """True for a JSON request the broker serves only with the admin secret:
    node PUT/DELETE, leader PUT, snapshot POST, status with hash or detail."""
    kind = message.get("type")
    if kind == "status":
        return bool(message.get("hash") or message.get("detail"))
    return kind in ("node", "leader", "snapshot")


def status_detail_request(config):
    """A status request with the detail keys and the config's admin secret."""
    return json.dumps({"type": "status", "method": "GET", "detail": True,
                       "admin": config.admin_secret() or ""}).encode("utf-8")


def query_statuses(context, nodes, timeout, request=STATUS_REQUEST, curve=None):
    """Asks every node for its status at once. Returns id -> status dict, or
    None for a node that gave no (or no JSON object) answer in time.
    request=status_detail_request(config) asks for the detail keys too;
    curve (CurveKeys, config.curve()) when the client ports want CURVE."""
    pending = {}
    poller = zmq.Poller()
    for node in nodes:
        socket = context.socket(zmq.REQ)
        socket.setsockopt(zmq.LINGER, 0)
        if curve is not None:
            curve.apply(socket, node.endpoint)
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
    client = Client(admin_secret=config.admin_secret, curve=config.curve())
    deadline = time.monotonic() + timeout
    reply = None
    try:
        while time.monotonic() < deadline:
            answers = query_statuses(client.context, list(config.nodes.values()), STATUS_TIMEOUT_S,
                                     curve=config.curve())
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

def node_put(node):
    """The JSON node PUT that adds node, with its public key when it has one
    (a cluster with CURVE on its peer port needs it)."""
    message = {"type": "node", "method": "PUT", "id": node.id, "host": node.host,
               "client_port": node.client_port, "peer_port": node.peer_port,
               "pub_port": node.pub_port}
    if node.public_key():
        message["public_key"] = node.public_key()
    return message


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
        self.keygen = os.path.join(bin_dir, "raftq")  # the CLI: `raftq keygen` makes keys
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

    def make_keys(self):
        """Creates, with `raftq keygen`, every certificate the config names
        that does not exist yet; returns their paths."""
        made = []
        for path in self.config.certificates():
            if os.path.exists(path):
                continue
            if not os.access(self.keygen, os.X_OK):
                raise ConfigError("%s: no raftq executable to make %s (build it, or give --bin)"
                                  % (self.keygen, path))
            result = subprocess.run([self.keygen, "keygen", path], stdin=subprocess.DEVNULL,
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            # another process may have made it meanwhile: then it exists
            if result.returncode != 0 and not os.path.exists(path):
                raise ConfigError("raftq keygen %s: %s" % (
                    path, result.stderr.decode("utf-8", "replace").strip()))
            made.append(path)
        return made

    def spawn(self, node_id, output=None):
        """Starts one raftqd, after making the keys the config lacks. Its
        stdout and stderr go to output (a file object or subprocess.PIPE),
        by default appended to its raftqd.log."""
        node = self.config.nodes[node_id]
        if not os.access(self.program, os.X_OK):
            raise ConfigError("%s: no raftqd executable (build it, or give --bin)" % self.program)
        self.make_keys()
        # The node's directory, its log and pid file are as private as what
        # raftqd writes there (0700 and 0600), whatever our umask
        umask = os.umask(0o077)
        try:
            os.makedirs(node.dir, exist_ok=True)
            log = open(node.log_path, "ab") if output is None else None
        finally:
            os.umask(umask)
        output = log if log is not None else output
        # A process group of its own keeps the terminal's Ctrl-C away from
        # the node (we stop it in order). Not a session of its own: with
        # autogroup each session is ranked as one, and nodes of one machine
        # in sessions apart got a share each, their Raft threads (nice -10)
        # waiting behind their own fan-out for up to 700 ms (elections
        # from load alone, README Decisions, "Urgent threads")
        try:
            process = subprocess.Popen(
                [self.program] + node.argv, cwd=self.config.base_dir,
                stdin=subprocess.DEVNULL, stdout=output, stderr=subprocess.STDOUT,
                process_group=0,
                preexec_fn=None if self.detach else _parent_death_signal)
        finally:
            if log is not None:
                log.close()
        self.processes[node_id] = process
        descriptor = os.open(node.pid_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as handle:
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
            for node_id, answer in query_statuses(self.context, nodes, left,
                                                  curve=self.config.curve()).items():
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
                    node_id, self.pid(node_id), node.describe_endpoints(), answered[node_id]))
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
        request = status_detail_request(self.config) if detail else STATUS_REQUEST
        answers = query_statuses(self.context, asked, timeout, request,
                                 self.config.curve()) if asked else {}
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
        # No node state left: the admin secret goes too (a fresh cluster
        # gets a fresh one) when it lives in the data directory
        nodes_left = [name for name in os.listdir(self.config.data_dir)
                      if name.startswith("node-")] if os.path.isdir(self.config.data_dir) else []
        if not nodes_left and os.path.dirname(self.config.admin_secret_path) == self.config.data_dir:
            try:
                os.unlink(self.config.admin_secret_path)
            except OSError:
                pass
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
