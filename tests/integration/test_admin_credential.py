"""The admin credential and hardened nodes (issue 10) through real raftqd
processes: admin operations (node PUT/DELETE, leader PUT, snapshot POST, and
a status with the detail or the state hash) without the admin secret are
UNAUTHENTICATED, with a wrong one PERMISSION_DENIED, and change nothing; with
the secret the node creates in data/admin.secret (0600) they work, in JSON,
in protobuf and through the CLI, which finds the secret from the config on its
own or takes it from RAFTQ_ADMIN_SECRET. A node's files are 0600 and its
directories 0700, whatever the umask; its core dumps are off unless the
config says "core_dumps": true; chat passwords reach the CLI through
RAFTQ_PASSWORD."""

import json
import os
import resource
import stat
import subprocess

from harness import OK, check, check_equal, wait_until
import raftq_cluster
import raftq_wire as wire
from test_membership import leader_put, mark_joining, node_delete, node_put

STATUS_HASH = {"type": "status", "method": "GET", "hash": True}
STATUS_DETAIL = {"type": "status", "method": "GET", "detail": True}
TAKE_SNAPSHOT = {"type": "snapshot", "method": "POST"}


def _bare(cluster, node_id, message):
    """Sends message as it is, with no admin secret added."""
    reply = raftq_cluster.Client().request(cluster.endpoint(node_id), message, 2.5)
    check(reply is not None, "node %d did not answer %r", node_id, message)
    return reply


def _refused(cluster, node_id, message, secret, code):
    body = dict(message, admin=secret) if secret is not None else message
    reply = _bare(cluster, node_id, body)
    check(reply.get("success") is False and reply.get("code") == code,
          "%r with admin %r answered %r, expected code %s", message, secret, reply, code)
    check(not secret or secret not in json.dumps(reply), "the reply echoes the secret: %r", reply)


def _cli(ctx, cluster, arguments, env=None):
    command = [ctx.program("raftq"), "-c", cluster.config_path, "--json"] + [str(a) for a in arguments]
    environment = dict(os.environ)
    environment.pop("RAFTQ_ADMIN_SECRET", None)
    environment.update(env or {})
    completed = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30,
                               env=environment, stdin=subprocess.DEVNULL)
    return (completed.returncode, completed.stdout.decode("utf-8", "replace"),
            completed.stderr.decode("utf-8", "replace"))


def test_admin_operations_need_the_secret(ctx):
    cluster = ctx.cluster(4)
    mark_joining(cluster, {4})
    spawned = cluster.start([1, 2, 3])
    leader = cluster.wait_leader(3.0, since=spawned, node_ids=[1, 2, 3])
    follower = [node_id for node_id in (1, 2, 3) if node_id != leader][0]
    path = cluster.config.admin_secret_path
    check_equal(stat.S_IMODE(os.stat(path).st_mode), 0o600, "mode of %s" % path)
    secret = cluster.config.admin_secret()
    check(secret and len(secret) == 64, "a 256-bit random secret in hex: %r", secret)
    cluster.start([4])

    attempts = [node_put(cluster.config.nodes[4]), node_delete(follower), leader_put(follower),
                TAKE_SNAPSHOT, STATUS_HASH, STATUS_DETAIL]
    for message in attempts:
        _refused(cluster, leader, message, None, "UNAUTHENTICATED")
        _refused(cluster, leader, message, "", "UNAUTHENTICATED")
        _refused(cluster, leader, message, secret[:-1], "PERMISSION_DENIED")
        _refused(cluster, leader, message, secret + "0", "PERMISSION_DENIED")
    # protobuf: the same codes (UNAUTHENTICATED 7, PERMISSION_DENIED 8)
    for secret_given, code in ((None, "UNAUTHENTICATED"), ("wrong", "PERMISSION_DENIED")):
        for body in (wire.remove_node_request(0, 0, follower, admin_secret=secret_given),
                     wire.take_snapshot_request(admin_secret=secret_given),
                     wire.status_request(with_hash=True, admin_secret=secret_given)):
            reply = wire.decode_reply(cluster.raw(leader, body))
            check_equal(reply["code"], code, "protobuf admin request with %r" % secret_given)

    # nothing changed: same members, same leader, no snapshot taken
    status = _bare(cluster, leader, {"type": "status", "method": "GET"})
    check_equal(sorted(status["members"]), [1, 2, 3], "members after refused admin requests")
    check_equal(cluster.current_leader(), leader, "leader after refused admin requests")
    check_equal(cluster.request(leader, STATUS_DETAIL)["snapshot_index"], 0,
                "snapshot index after refused TakeSnapshots")
    check("state_hash" not in status and "member_detail" not in status,
          "plain status stays open and shows no detail: %r" % status)

    # with the secret (the harness's client adds it) they work
    check_equal(cluster.request(leader, node_put(cluster.config.nodes[4]), timeout=12.0), OK, "add 4")
    check(isinstance(cluster.request(leader, STATUS_HASH).get("state_hash"), str), "state_hash")
    wait_until(lambda: sorted(_bare(cluster, leader, {"type": "status", "method": "GET"})["members"])
               == [1, 2, 3, 4], 5.0, "node 4 to be a member")


def test_cli_finds_the_secret_or_takes_it_from_the_environment(ctx):
    cluster = ctx.cluster(3)
    spawned = cluster.start()
    leader = cluster.wait_leader(3.0, since=spawned)
    follower = [node_id for node_id in cluster.ids if node_id != leader][0]
    code, out, err = _cli(ctx, cluster, ["admin", "snapshot", "--node", leader])
    check(code == 0, "raftq admin snapshot with the config's secret exited %d: %s %s", code, out, err)
    code, out, err = _cli(ctx, cluster, ["admin", "transfer-leader", follower],
                          env={"RAFTQ_ADMIN_SECRET": "not the secret"})
    check(code != 0 and "PERMISSION_DENIED" in out + err,
          "raftq admin with a wrong RAFTQ_ADMIN_SECRET exited %d: %s %s", code, out, err)
    check_equal(cluster.current_leader(), leader, "leader after a refused transfer")
    os.rename(cluster.config.admin_secret_path, cluster.config.admin_secret_path + ".away")
    code, out, err = _cli(ctx, cluster, ["admin", "transfer-leader", follower])
    check(code != 0 and "UNAUTHENTICATED" in out + err,
          "raftq admin without any secret exited %d: %s %s", code, out, err)
    os.rename(cluster.config.admin_secret_path + ".away", cluster.config.admin_secret_path)
    secret = cluster.config.admin_secret()
    code, out, err = _cli(ctx, cluster, ["admin", "transfer-leader", follower],
                          env={"RAFTQ_ADMIN_SECRET": secret})
    check(code == 0, "raftq admin with RAFTQ_ADMIN_SECRET exited %d: %s %s", code, out, err)
    check_equal(cluster.current_leader(), follower, "leader after the transfer")


def test_node_files_are_private_whatever_the_umask(ctx):
    cluster = ctx.cluster(3, snapshot_log_bytes=4096)
    old_umask = os.umask(0o022)
    try:
        spawned = cluster.start()
    finally:
        os.umask(old_umask)
    leader = cluster.wait_leader(3.0, since=spawned)
    cluster.put_topic(leader, "jobs")
    cluster.publish(leader, "jobs", ["m%d" % number for number in range(50)])
    cluster.take_snapshot(leader)
    seen = []
    for top, directories, files in os.walk(cluster.config.data_dir):
        for name in directories:
            seen.append((os.path.join(top, name), 0o700))
        for name in files:
            seen.append((os.path.join(top, name), 0o600))
    check(len(seen) > 6, "files under the data directory: %r", seen)
    for path, mode in seen + [(cluster.config.data_dir, 0o700)]:
        check_equal(oct(stat.S_IMODE(os.stat(path).st_mode)), oct(mode), "mode of %s" % path)


def test_cli_password_from_the_environment(ctx):
    cluster = ctx.cluster(3)
    spawned = cluster.start()
    cluster.wait_leader(3.0, since=spawned)
    code, out, err = _cli(ctx, cluster, ["register", "alice"], env={"RAFTQ_PASSWORD": "pw-alice"})
    check(code == 0, "raftq register alice with RAFTQ_PASSWORD exited %d: %s %s", code, out, err)
    code, out, err = _cli(ctx, cluster, ["read", "--user", "alice"], env={"RAFTQ_PASSWORD": "pw-alice"})
    check(code == 0, "raftq read --user alice with RAFTQ_PASSWORD exited %d: %s %s", code, out, err)
    code, out, err = _cli(ctx, cluster, ["read", "--user", "alice"], env={"RAFTQ_PASSWORD": "wrong"})
    check(code != 0, "raftq read with a wrong RAFTQ_PASSWORD exited %d: %s %s", code, out, err)
    code, out, err = _cli(ctx, cluster, ["register", "bob"])
    check(code != 0 and "RAFTQ_PASSWORD" in err,
          "raftq register without a password and no terminal exited %d: %s %s", code, out, err)


def _core_limit(cluster, node_id):
    """The soft core file size limit of the node's process, as /proc says."""
    with open("/proc/%d/limits" % cluster.processes.pid(node_id)) as handle:
        return [text for text in handle if text.startswith("Max core file size")][0].split()[4]


def _start_allowing_cores(cluster):
    """Starts the cluster with the soft core limit raised to the hard one
    (inherited by raftqd): only the node itself can then lower it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_CORE)
    allowed = hard
    if hard == 0 and os.geteuid() == 0:  # root may raise the hard limit too
        allowed = resource.RLIM_INFINITY
    check(allowed != 0, "the hard core limit is 0 here: nothing to see")
    # AddressSanitizer sets its process's core limit to 0 unless told not to:
    # under `make asan` that would be the sanitizer's doing, not the node's
    asan_options = os.environ.get("ASAN_OPTIONS")
    os.environ["ASAN_OPTIONS"] = ((asan_options + ":") if asan_options else "") + "disable_coredump=0"
    resource.setrlimit(resource.RLIMIT_CORE, (allowed, allowed))
    try:
        cluster.start()
    finally:
        resource.setrlimit(resource.RLIMIT_CORE, (soft, hard))
        if asan_options is None:
            del os.environ["ASAN_OPTIONS"]
        else:
            os.environ["ASAN_OPTIONS"] = asan_options
    return "unlimited" if allowed == resource.RLIM_INFINITY else str(allowed)


def test_core_dumps_off_by_default(ctx):
    cluster = ctx.cluster(1)
    _start_allowing_cores(cluster)
    check_equal(_core_limit(cluster, 1), "0", "core limit of node 1")


def test_core_dumps_on_when_the_config_asks(ctx):
    cluster = ctx.cluster(1, core_dumps=True)
    allowed = _start_allowing_cores(cluster)
    check_equal(_core_limit(cluster, 1), allowed, "core limit of node 1 with core_dumps on")
