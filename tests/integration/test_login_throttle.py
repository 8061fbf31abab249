"""Login throttling and the fair password queue on a real 3-node cluster
(issue 11, "Throttled logins").

- A flood of wrong passwords for one account, pipelined on one DEALER
  connection, gets a few UNAUTHENTICATED, then RESOURCE_EXHAUSTED with
  retry_after_ms (no more hashing), while another connection's correct
  logins of another account keep succeeding; their latency is printed.
- While throttled even the right password is refused; after the
  retry-after it works, and a success gives back the free failures.
- A missing account throttles as a wrong password does (the protobuf
  reply carries retry_after_ms too); the times of both are printed.
- A flood of logins of ever new names (each one costs a full password
  check) from one connection does not starve another connection's logins.

Timings are printed, and only bounded by a generous 2 s (or four times
a login without a flood, when the shared machine is slower than that)."""

import json
import statistics
import threading
import time

import zmq

from harness import OK, check, check_equal, wire

LATENCY_BOUND_S = 2.0      # a correct login during a flood, at the worst (or 4 quiet
                           # logins, if more: other engineers' builds share the cores)
FLOOD_SECONDS = 2.5        # how long each flood runs
FLOOD_DEPTH = 12           # requests the flooder keeps in flight (more than the queue takes)
FLOOD_PACE_S = 0.001       # between two sends: ~1000 logins/s. The brokers, this
                           # script and the hasher share 2 cores here; an unpaced
                           # loop would measure CPU starvation, not the queue
FREE_FAILURES = 5          # the throttle's free failures (login_throttle_defaults)


def login(user, password):
    return {"type": "login", "method": "PUT", "user": user, "password": password}


def _code(reply):
    return "OK" if reply.get("success") is True else reply.get("code")


class Flood:
    """One DEALER connection that keeps FLOOD_DEPTH logins in flight for a
    while and counts the replies by code."""

    def __init__(self, context, endpoint, next_request):
        self.socket = context.socket(zmq.DEALER)
        self.socket.setsockopt(zmq.LINGER, 0)
        self.socket.connect(endpoint)
        self.next_request = next_request    # index -> a JSON request
        self.codes = {}                     # code -> count
        self.replies = []                   # (time since start, reply) of every reply

    def run(self, seconds, enough=lambda flood: True):
        """Floods for seconds, and on (up to 15 s in all) until enough(self)."""
        started = time.monotonic()
        sent = outstanding = 0

        def going():
            elapsed = time.monotonic() - started
            return elapsed < seconds or (elapsed < 15 and not enough(self))

        # Replies still on their way after the end are awaited, so none is
        # mistaken for a reply to a later request
        while outstanding or going():
            while outstanding < FLOOD_DEPTH and going():
                self.socket.send_multipart([b"", json.dumps(self.next_request(sent)).encode()])
                sent += 1
                outstanding += 1
                time.sleep(FLOOD_PACE_S)
            if not self.socket.poll(3000):
                check(False, "the flooder got no reply for 3 s (%d outstanding)", outstanding)
            reply = json.loads(self.socket.recv_multipart()[-1])
            outstanding -= 1
            code = _code(reply)
            self.codes[code] = self.codes.get(code, 0) + 1
            self.replies.append((time.monotonic() - started, reply))
        self.socket.close()
        return sent


class Victim(threading.Thread):
    """Another connection, logging in an account with its right password
    over and over, timing each login."""

    def __init__(self, context, endpoint, user, password):
        super().__init__(daemon=True)
        self.context, self.endpoint = context, endpoint
        self.request = json.dumps(login(user, password)).encode()
        self.latencies = []
        self.failures = []
        self.stop = threading.Event()

    def run(self):
        socket = self.context.socket(zmq.REQ)
        socket.setsockopt(zmq.LINGER, 0)
        socket.connect(self.endpoint)
        try:
            while not self.stop.is_set():
                started = time.monotonic()
                socket.send(self.request)
                if not socket.poll(int(LATENCY_BOUND_S * 2000)):
                    self.failures.append("no reply within %.1f s" % (LATENCY_BOUND_S * 2))
                    return
                reply = json.loads(socket.recv())
                self.latencies.append(time.monotonic() - started)
                if reply.get("success") is not True:
                    self.failures.append(reply)
                time.sleep(0.02)
        finally:
            socket.close()

    def report(self, what, bound):
        check(not self.failures, "%s: the other connection's logins failed: %r", what, self.failures[:3])
        check(len(self.latencies) >= 3, "%s: only %d logins of the other connection", what, len(self.latencies))
        worst = max(self.latencies)
        print("    %s: %d correct logins on another connection, latency median %.0f ms, max %.0f ms"
              % (what, len(self.latencies), statistics.median(self.latencies) * 1000, worst * 1000))
        check(worst < bound, "%s: a correct login took %.2f s (bound %.2f s)", what, worst, bound)


def _throttled(flood):
    return [reply for _, reply in flood.replies
            if reply.get("code") == "RESOURCE_EXHAUSTED" and "retry_after_ms" in reply]


def _during_flood(context, endpoint, next_request, victim_user, victim_password, what, bound,
                  enough=lambda flood: True):
    """Runs a flood (see Flood.run) and a victim at once; returns the flood."""
    victim = Victim(context, endpoint, victim_user, victim_password)
    flood = Flood(context, endpoint, next_request)
    victim.start()
    try:
        sent = flood.run(FLOOD_SECONDS, enough)
    finally:
        victim.stop.set()
        victim.join(LATENCY_BOUND_S * 3)
    print("    %s: flood sent %d, replies %s" % (what, sent, flood.codes))
    victim.report(what, bound)
    return flood


def _timed(cluster, leader, request):
    started = time.monotonic()
    reply = cluster.request(leader, request)
    return reply, time.monotonic() - started


def test_login_throttle_and_fair_queue(ctx):
    # A password check took 150 to 450 ms in runs on this shared machine: a
    # login behind one flood job can pass the default 1 s deadline there
    # without any unfairness. The test bounds latency itself (2 s).
    cluster = ctx.cluster(3, request_timeout_ms=3000)
    cluster.start()
    leader = cluster.wait_leader(3.0)
    for user in ("ann", "bob"):
        check_equal(cluster.leader_request({"type": "account", "method": "PUT", "user": user,
                                            "password": "pw-" + user}), OK, "create " + user)
    leader = cluster.wait_leader(3.0)
    endpoint = cluster.endpoint(leader)
    context = zmq.Context()
    ctx.on_close(lambda: context.destroy(linger=0))
    quiet = []
    for _ in range(3):
        reply, took = _timed(cluster, leader, login("bob", "pw-bob"))
        check_equal(_code(reply), "OK", "bob's login without a flood")
        quiet.append(took)
    bound = max(LATENCY_BOUND_S, 4 * statistics.median(quiet))
    print("    without a flood: a correct login takes %.0f ms (median of 3); bound %.2f s"
          % (statistics.median(quiet) * 1000, bound))

    # 1. Wrong passwords for ann, flooded from one connection; bob logs in meanwhile
    flood = _during_flood(context, endpoint, lambda index: login("ann", "guess-%d" % index),
                          "bob", "pw-bob", "wrong passwords for ann", bound,
                          lambda flood: len(_throttled(flood)) >= 10)
    check("OK" not in flood.codes, "a wrong password was accepted: %r", flood.codes)
    hashed = flood.codes.get("UNAUTHENTICATED", 0)
    # 5 free failures, then one check per expired wait (1 s, 2 s, ...) at
    # most. (Fewer may be answered UNAUTHENTICATED: a check that ends past
    # its request's deadline is answered TIMEOUT, and still counts.)
    check(hashed <= FREE_FAILURES + 4, "%d wrong passwords were checked during the flood", hashed)
    throttled = _throttled(flood)
    check(len(throttled) >= 10, "only %d throttled replies: %r", len(throttled), flood.codes)
    for reply in throttled:
        check(0 < reply["retry_after_ms"] <= 60000 and "failed logins" in reply["error"],
              "a throttled reply: %r", reply)
    print("    wrong passwords for ann: %d checked, %d refused with retry_after_ms (last %d ms)"
          % (hashed, len(throttled), throttled[-1]["retry_after_ms"]))

    # 2. Throttled: even the right password is refused, without a check; after the wait it works.
    #    One more guess first: should the flood's last wait just have run
    #    out, it is checked and fails, and the wait starts again (longer)
    check(_code(cluster.request(leader, login("ann", "one more guess"))) in ("RESOURCE_EXHAUSTED", "UNAUTHENTICATED"),
          "one more guess for ann")
    refused, _ = _timed(cluster, leader, login("ann", "pw-ann"))
    check_equal(_code(refused), "RESOURCE_EXHAUSTED", "ann's right password while throttled")
    wait_ms = refused.get("retry_after_ms", 0)
    check(0 < wait_ms <= 60000, "no retry_after_ms in %r", refused)
    time.sleep(wait_ms / 1000.0 + 0.02)
    accepted, took = _timed(cluster, leader, login("ann", "pw-ann"))
    check(accepted.get("success") is True and accepted.get("token"),
          "ann's right password after retry_after_ms (%d ms): %r", wait_ms, accepted)
    print("    ann after waiting %d ms: logged in (%.0f ms)" % (wait_ms, took * 1000))
    # A success gives back the free failures
    for attempt in range(FREE_FAILURES):
        check_equal(_code(cluster.request(leader, login("ann", "still wrong"))), "UNAUTHENTICATED",
                    "wrong password %d after a success" % (attempt + 1))
    check_equal(_code(cluster.request(leader, login("ann", "pw-ann"))), "RESOURCE_EXHAUSTED",
                "ann after five more failures")

    # 3. A missing account: same answers, same throttle, about the same time
    wrong_times, missing_times = [], []
    for attempt in range(FREE_FAILURES):
        reply, took = _timed(cluster, leader, login("bob", "not bob's %d" % attempt))
        check_equal(_code(reply), "UNAUTHENTICATED", "bob's wrong password %d" % (attempt + 1))
        wrong_times.append(took)
        reply, took = _timed(cluster, leader, login("ghost", "pw %d" % attempt))
        check_equal(_code(reply), "UNAUTHENTICATED", "a missing account's login %d" % (attempt + 1))
        check_equal(reply.get("error"), "wrong user name or password", "the missing account's error text")
        missing_times.append(took)
    print("    wrong password median %.0f ms, missing account median %.0f ms"
          % (statistics.median(wrong_times) * 1000, statistics.median(missing_times) * 1000))
    body = cluster.raw(leader, wire.login_request(0, 0, "ghost", "pw"))
    check(body is not None, "no reply to a protobuf login")
    reply = wire.decode_reply(body)
    check(reply["code"] == "RESOURCE_EXHAUSTED" and 0 < reply["retry_after_ms"] <= 1000,
          "a protobuf login of the throttled missing account: %r", reply)
    reply = cluster.request(leader, login("bob", "pw-bob"))
    check_equal(_code(reply), "RESOURCE_EXHAUSTED", "bob's right password while bob is throttled")
    time.sleep(reply["retry_after_ms"] / 1000.0 + 0.02)
    check_equal(_code(cluster.request(leader, login("bob", "pw-bob"))), "OK", "bob after the wait")

    # 4. Every request a full password check (new names each time): the
    #    queue is shared round robin, so bob's logins still get through
    flood = _during_flood(context, endpoint, lambda index: login("nobody%d" % index, "pw"),
                          "bob", "pw-bob", "new names, all checked", bound)
    check("OK" not in flood.codes, "a missing account logged in: %r", flood.codes)
    check(flood.codes.get("UNAUTHENTICATED", 0) >= 2, "the flood's logins were not checked: %r", flood.codes)
    # More in flight than a connection may queue: the rest is refused at once
    check(flood.codes.get("RESOURCE_EXHAUSTED", 0) > 0, "the per-connection bound refused nothing: %r",
          flood.codes)
