"""Bounds a node keeps whatever its clients do: connections past
limits.max_connections are refused at the handshake while the first ones
are served.

The configs set "peer_curve": false: harness.py writes no node
certificates yet, and the peer port needs keys otherwise."""

import zmq
from zmq.utils.monitor import recv_monitor_message

from harness import check, check_equal, wait_until

PLAIN_PEERS = {"peer_curve": False}
STATUS = {"type": "status", "method": "GET"}
HANDSHAKE_EVENTS = (zmq.EVENT_HANDSHAKE_SUCCEEDED | zmq.EVENT_HANDSHAKE_FAILED_AUTH
                    | zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL | zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL)


class _Client:
    """A DEALER to a node's client port with a monitor of its handshake."""

    def __init__(self, context, endpoint):
        self.socket = context.socket(zmq.DEALER)
        self.socket.linger = 0
        self.monitor = self.socket.get_monitor_socket(HANDSHAKE_EVENTS)
        self.socket.connect(endpoint)

    def handshake(self, timeout=5.0):
        """The first handshake event, e.g. zmq.EVENT_HANDSHAKE_SUCCEEDED."""
        if not self.monitor.poll(int(timeout * 1000)):
            return None
        return recv_monitor_message(self.monitor)["event"]

    def status(self, timeout=1.0):
        """One status round trip (JSON, the DEALER sends the delimiter)."""
        try:
            self.socket.send_multipart([b"", zmq.utils.jsonapi.dumps(STATUS)], zmq.NOBLOCK)
        except zmq.Again:  # no connection to send on: refused
            return None
        if not self.socket.poll(int(timeout * 1000)):
            return None
        return zmq.utils.jsonapi.loads(self.socket.recv_multipart()[-1])

    def close(self):
        self.socket.disable_monitor()
        self.monitor.close()
        self.socket.close()


def test_connections_past_the_cap_refused(ctx):
    cap = 4
    cluster = ctx.cluster(1, limits={"max_connections": cap}, **PLAIN_PEERS)
    cluster.start()
    cluster.wait_leader()
    endpoint = cluster.endpoint(1)
    context = zmq.Context.instance()
    # The harness's own REQ socket may hold one connection: clients get in
    # until the cap, then the next is refused
    first = []
    refused = None
    try:
        while refused is None:
            check(len(first) <= cap, "%d clients let in past a cap of %d", len(first), cap)
            client = _Client(context, endpoint)
            event = client.handshake()
            if event == zmq.EVENT_HANDSHAKE_SUCCEEDED:
                first.append(client)
            else:
                check_equal(event, zmq.EVENT_HANDSHAKE_FAILED_AUTH, "handshake past the cap")
                refused = client
        check(len(first) >= cap - 1, "refused with only %d clients in", len(first))
        refused.close()
        refused = None
        for attempt in range(3):
            refused = _Client(context, endpoint)
            check_equal(refused.handshake(), zmq.EVENT_HANDSHAKE_FAILED_AUTH,
                        "handshake %d past the cap" % (attempt + 1))
            check(refused.status(timeout=0.3) is None, "a refused client was answered")
            refused.close()
            refused = None
        for client in first:
            reply = client.status()
            check(reply is not None and reply.get("leader") == 1,
                  "a first client is not served past the cap: %r", reply)
        # One leaves: a newcomer gets in (once the node saw it go)
        first.pop().close()

        def newcomer():
            client = _Client(context, endpoint)
            if client.handshake() == zmq.EVENT_HANDSHAKE_SUCCEEDED:
                return client
            client.close()
            return None
        client = wait_until(newcomer, 5.0, "a client let in after one left")
        first.append(client)
        check(client.status() is not None, "the newcomer is not served")
    finally:
        for client in first:
            client.close()
        if refused:
            refused.close()
