"""delay — a TCP proxy that holds every chunk it relays for a while, the
link delay fault. This kernel has no sch_netem (so no `tc netem delay`) and
no nft queue, but it has nft NAT: the firewall DNATs new peer connections
between node addresses to this proxy, which learns where each was headed
from SO_ORIGINAL_DST and connects there itself, from its own address so the
NAT rule (which matches node source addresses) lets it through.

The proxy runs an asyncio loop in one daemon thread; the nemesis only calls
start() and stop(). Each direction of each connection has one queue and one
sender, so chunks leave in the order they came, each no earlier than its
arrival plus the delay plus a random jitter.
"""

import asyncio
import random
import socket
import struct
import threading
import time

SO_ORIGINAL_DST = 80            # linux/netfilter_ipv4.h, level SOL_IP
CHUNK_BYTES = 65536             # most one read takes from a socket
START_TIMEOUT_S = 5.0           # the loop must be listening within this


def original_destination(sock):
    """(host, port) a DNATed connection was addressed to."""
    data = sock.getsockopt(socket.SOL_IP, SO_ORIGINAL_DST, 16)
    port, address = struct.unpack("!2xH4s8x", data)
    return socket.inet_ntoa(address), port


def _abort(writer):
    """Closes with a reset: the node at the other end must notice at once
    and reconnect, not wait for a FIN after our queued chunks."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
    writer.transport.abort()


class DelayProxy:
    """Listens on host; every connection NAT brings it is relayed to its
    original destination with delay_s (plus 0..jitter_s) added each way."""

    def __init__(self, host, delay_s, jitter_s, seed):
        self.host = host                  # our loopback address, listening and connecting
        self.port = None                  # our listening port, once started
        self.delay_s = delay_s            # fixed part of the hold time of a chunk
        self.jitter_s = jitter_s          # random extra hold time, up to this
        self.rng = random.Random(seed)    # jitter draws (only the loop thread uses it)
        self.loop = None                  # the asyncio loop, in self.thread
        self.thread = None                # daemon thread running the loop
        self.server = None                # asyncio server on (host, port)
        self.writers = set()              # every open stream writer, both sides
        self.connections = 0              # connections relayed so far
        self.failures = []                # text of connections we could not relay

    # --- caller's thread ----------------------------------------------------

    def start(self):
        """Starts listening; returns the port."""
        ready = threading.Event()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self._run, args=(ready,), name="delay-proxy", daemon=True)
        self.thread.start()
        if not ready.wait(START_TIMEOUT_S) or self.port is None:
            self.stop()
            raise OSError("delay proxy could not listen on %s" % self.host)
        return self.port

    def stop(self):
        """Resets every relayed connection and ends the thread."""
        if self.thread is None:
            return
        if self.loop.is_running():
            future = asyncio.run_coroutine_threadsafe(self._shutdown(), self.loop)
            try:
                future.result(START_TIMEOUT_S)
            except Exception:
                pass
            self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(START_TIMEOUT_S)
        self.thread = None

    # --- loop thread --------------------------------------------------------

    def _run(self, ready):
        asyncio.set_event_loop(self.loop)
        try:
            self.server = self.loop.run_until_complete(
                asyncio.start_server(self._accept, self.host, 0, reuse_address=True))
            self.port = self.server.sockets[0].getsockname()[1]
        except OSError:
            ready.set()
            return
        ready.set()
        try:
            self.loop.run_forever()
        finally:
            self.loop.close()

    async def _shutdown(self):
        self.server.close()
        for writer in list(self.writers):
            _abort(writer)
        self.writers.clear()
        tasks = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _accept(self, client_reader, client_writer):
        self.writers.add(client_writer)
        try:
            destination = original_destination(client_writer.get_extra_info("socket"))
            if destination[0] == self.host:
                raise OSError("connection was not redirected")
            server_reader, server_writer = await asyncio.open_connection(
                destination[0], destination[1], local_addr=(self.host, 0))
        except OSError as error:
            self.failures.append("%s: %s" % (client_writer.get_extra_info("peername"), error))
            _abort(client_writer)
            self.writers.discard(client_writer)
            return
        self.writers.add(server_writer)
        self.connections += 1
        pumps = [asyncio.ensure_future(self._pump(client_reader, server_writer)),
                 asyncio.ensure_future(self._pump(server_reader, client_writer))]
        # either side closing ends the relay: reset both, the nodes reconnect
        await asyncio.wait(pumps, return_when=asyncio.FIRST_COMPLETED)
        for pump in pumps:
            pump.cancel()
        for writer in (client_writer, server_writer):
            if writer in self.writers:
                _abort(writer)
                self.writers.discard(writer)

    async def _pump(self, reader, writer):
        """Relays one direction: a reader task stamps each chunk with its
        due time, this sender writes it then; an empty chunk is the end."""
        queue = asyncio.Queue()
        receiver = asyncio.ensure_future(self._receive(reader, queue))
        try:
            while True:
                due, chunk = await queue.get()
                wait = due - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
                if not chunk:
                    return
                writer.write(chunk)
                await writer.drain()
        except (OSError, ConnectionError):
            return
        finally:
            receiver.cancel()

    async def _receive(self, reader, queue):
        last_due = 0.0
        while True:
            try:
                chunk = await reader.read(CHUNK_BYTES)
            except (OSError, ConnectionError):
                chunk = b""
            due = time.monotonic() + self.delay_s + self.rng.uniform(0, self.jitter_s)
            # jitter never reorders: a chunk is due no earlier than the one before
            last_due = max(due, last_due)
            queue.put_nowait((last_due, chunk))
            if not chunk:
                return
