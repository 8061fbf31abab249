"""CurveZMQ on the client side (issue 10): `raftq keygen` as the CURVE
contract fixes it, and a cluster with CURVE on every port (peer, client and
PUB) serving the raftq CLI (libraftq underneath: clients, subscriptions)
and the Python client, while a plaintext client and, under an allow-list,
a client with an unknown key get nothing."""

import os
import stat
import subprocess
import sys

from harness import REPO, check, check_equal

sys.path.insert(0, os.path.join(REPO, "clients", "python"))

import raftq_client  # noqa: E402
import raftq_cluster  # noqa: E402

REFUSED_WAIT_S = 1.5   # how long a refused client may wait for an answer that never comes


def _raftq(ctx, *arguments, env=None, timeout=30):
    """Runs build/raftq; returns (exit code, stdout, stderr)."""
    completed = subprocess.run([ctx.program("raftq")] + [str(argument) for argument in arguments],
                               stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, timeout=timeout,
                               env=dict(os.environ, **(env or {})))
    return (completed.returncode, completed.stdout.decode("utf-8", "replace"),
            completed.stderr.decode("utf-8", "replace"))


def _raftq_ok(ctx, *arguments, env=None):
    code, out, err = _raftq(ctx, *arguments, env=env)
    check(code == 0, "raftq %s exited %d: %s %s", " ".join(map(str, arguments)), code, out, err)
    return out


def test_keygen_writes_a_certificate_pair(ctx):
    path = os.path.join(ctx.dir, "new", "deeper", "client.cert")
    code, out, err = _raftq(ctx, "keygen", path)
    check(code == 0, "keygen exited %d: %s", code, err)
    public = out.strip()
    check(len(public) == 40 and out.count("\n") == 1, "keygen printed %r, not one Z85 key", out)

    # both files, in czmq's format, holding the printed key and its secret
    check_equal(raftq_client.certificate_keys(path).get("secret-key"), None, "secret key in the public file")
    pair = raftq_client.load_key_pair(path)
    check_equal(pair[0].decode(), public, "public key in the certificate files")
    check_equal(stat.S_IMODE(os.stat(path + "_secret").st_mode), 0o600, "mode of the secret file")
    for directory in (os.path.dirname(path), os.path.dirname(os.path.dirname(path))):
        check_equal(stat.S_IMODE(os.stat(directory).st_mode), 0o700, "mode of %s" % directory)

    # never overwritten: either file existing is a refusal, exit 1, one line
    with open(path + "_secret", "rb") as handle:
        secret_before = handle.read()
    code, out, err = _raftq(ctx, "keygen", path)
    check(code == 1 and err.count("\n") == 1 and "refusing to overwrite" in err,
          "second keygen: exit %d, stderr %r", code, err)
    with open(path + "_secret", "rb") as handle:
        check(handle.read() == secret_before, "the second keygen changed the secret key")
    lone = os.path.join(ctx.dir, "lone.cert")
    with open(lone + "_secret", "w") as handle:
        handle.write("x\n")
    code, out, err = _raftq(ctx, "keygen", lone)
    check(code == 1 and "refusing to overwrite" in err and not os.path.exists(lone),
          "keygen over an existing secret file: exit %d, stderr %r", code, err)

    # --json names both files
    reply = _raftq_ok(ctx, "--json", "keygen", os.path.join(ctx.dir, "j.cert"))
    check('"public_key"' in reply and '"secret_certificate"' in reply, "keygen --json: %r", reply)


def _key_args(cluster):
    """-e and --server-key for every node of cluster, as an operator types them."""
    arguments = []
    for node in cluster.config.nodes.values():
        arguments += ["-e", node.endpoint, "--server-key", node.public_key(),
                      "-p", "tcp://%s:%d" % (node.host, node.pub_port)]
    return arguments


def _plaintext_is_refused(cluster):
    """A plain ZeroMQ client gets no answer from any client port."""
    for node_id in cluster.ids:
        plain = raftq_cluster.Client()
        try:
            reply = plain.request(cluster.endpoint(node_id), {"type": "status", "method": "GET"},
                                  REFUSED_WAIT_S / len(cluster.ids))
        finally:
            plain.close()
        check(reply is None, "node %d answered a plaintext client: %r", node_id, reply)


def test_curve_everywhere_serves_cli_library_and_python(ctx):
    cluster = ctx.cluster(3, client_curve=True, client_certificate="keys/client.cert")
    cluster.start()
    cluster.wait_leader(3.0)
    config = ["-c", cluster.config_path]

    # the CLI (libraftq) from the config: client_curve, node certificates,
    # client_certificate, all found on its own
    _raftq_ok(ctx, *config, "create-topic", "secure")
    _raftq_ok(ctx, *config, "publish", "secure", "one")
    status = _raftq_ok(ctx, *config, "status")
    check(status.count("leader") == 1, "raftq status over CURVE: %s", status)

    # the same by hand: endpoints, server keys and a client certificate
    by_hand = _key_args(cluster) + ["--client-certificate",
                                    os.path.join(cluster.directory, "keys", "client.cert")]
    _raftq_ok(ctx, *by_hand, "publish", "secure", "two")

    # a subscription (SUB on a CURVE PUB, replays on the client ports)
    events = _raftq_ok(ctx, *config, "--json", "tail", "--from", "1", "--count", "2", "topic/secure")
    check(events.count('"kind":"publish"') == 2, "tail over CURVE: %r", events)
    events = _raftq_ok(ctx, *by_hand, "--json", "tail", "--from", "2", "--count", "1", "topic/secure")
    check('"message":"two"' in events, "tail with --server-key: %r", events)

    # the Python client from the config, and with keys given
    python = raftq_client.RaftqClient.from_config(cluster.config_path)
    try:
        python.publish("secure", "three")
        check_equal(python.pop("secure"), "one", "Python pop over CURVE")
    finally:
        python.close()
    keys = [node.public_key() for node in cluster.config.nodes.values()]
    python = raftq_client.RaftqClient([cluster.endpoint(node_id) for node_id in cluster.ids],
                                      server_keys=keys)
    try:
        check_equal(python.pop("secure"), "two", "Python pop with a fresh key pair")
    finally:
        python.close()

    # a wrong server key or plaintext gets nothing
    wrong = list(_key_args(cluster))
    wrong[wrong.index("--server-key") + 1] = keys[-1] if keys[0] != keys[-1] else keys[1]
    code, out, err = _raftq(ctx, *wrong[:6], "-t", "1500", "topics")
    check(code == 1 and "TIMEOUT" in err, "topics with the wrong server key: exit %d, %s", code, err)
    _plaintext_is_refused(cluster)


def test_curve_allow_list_refuses_unknown_keys(ctx):
    cluster = ctx.cluster(3, client_curve=["keys/client.cert"], client_certificate="keys/client.cert")
    cluster.start()
    cluster.wait_leader(3.0)
    config = ["-c", cluster.config_path]
    _raftq_ok(ctx, *config, "create-topic", "listed")

    # another key pair: refused at the handshake, so silence (TIMEOUT)
    stranger = os.path.join(ctx.dir, "stranger.cert")
    _raftq_ok(ctx, "keygen", stranger)
    code, out, err = _raftq(ctx, *config, "-t", "1500", "--client-certificate", stranger,
                            "create-topic", "other")
    check(code == 1 and "TIMEOUT" in err, "a client off the allow-list: exit %d, %s", code, err)
    code, out, err = _raftq(ctx, *config, "-t", "1500", "publish", "listed", "x",
                            env={"RAFTQ_CLIENT_CERTIFICATE": stranger})
    check(code == 1 and "TIMEOUT" in err, "$RAFTQ_CLIENT_CERTIFICATE off the list: exit %d, %s", code, err)
    python = raftq_client.RaftqClient.from_config(cluster.config_path, client_certificate=stranger,
                                                   timeout=REFUSED_WAIT_S)
    try:
        python.topics()
        check(False, "the Python client with an unknown key was served")
    except raftq_client.RaftqError as error:
        check_equal(error.code, "TIMEOUT", "Python client off the allow-list")
    finally:
        python.close()

    # the listed key still works, from Python too
    python = raftq_client.RaftqClient.from_config(cluster.config_path)
    try:
        check_equal(python.topics(), ["listed"], "topics for the listed key")
    finally:
        python.close()
    _plaintext_is_refused(cluster)
