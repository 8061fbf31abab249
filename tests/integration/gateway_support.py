"""gateway_support — what the gateway tests share: a raftq-gateway process
beside a test cluster (its URL read from its first line), plain HTTP
requests that keep cookies, and headless Chromium sessions (Debian's
chromium and chromedriver through python3-selenium) that save a screenshot
of every open page when the test fails.
"""

import concurrent.futures
import http.client
import json
import os
import re
import select
import socket
import subprocess
import time

from harness import check

URL_WAIT_S = 5.0     # the gateway prints its URL once it listens
# The clusters' request timeout: a registration or login waits for an
# Argon2 hash on the leader, which takes seconds on a machine as loaded as a
# shared test box; at 1 s it would time out and be retried into the login
# throttle.
CLUSTER_REQUEST_TIMEOUT_MS = 5000
# A gateway call keeps trying for 10 s (two of them for a history page)
HTTP_WAIT_S = 30.0
EVENT_WAIT_S = 10.0  # an event reaches a stream within this
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"


class Gateway:
    """A raftq-gateway for cluster, on a free port, killed when the test ends."""

    def __init__(self, ctx, cluster, name="gateway", extra=()):
        self.log_path = os.path.join(ctx.dir, name + ".log")
        log = open(self.log_path, "wb")
        self.process = subprocess.Popen(
            [ctx.program("raftq-gateway"), "--config", cluster.config_path, "--host", "127.0.0.1",
             "--port", "0"] + list(extra),
            stdout=subprocess.PIPE, stderr=log, cwd=cluster.directory)
        log.close()
        ctx.on_close(self.close)
        line = self._first_line()
        match = re.search(r"serving (http://127\.0\.0\.1:(\d+))/", line)
        check(match, "raftq-gateway did not say where it serves: %r (log %s)", line, self.log_path)
        self.url = match.group(1)
        self.port = int(match.group(2))

    def _first_line(self):
        deadline = time.monotonic() + URL_WAIT_S
        data = b""
        while b"\n" not in data and time.monotonic() < deadline:
            ready, _, _ = select.select([self.process.stdout], [], [], deadline - time.monotonic())
            if not ready:
                break
            chunk = os.read(self.process.stdout.fileno(), 4096)
            if not chunk:
                break
            data += chunk
        return data.decode("utf-8", "replace")

    def close(self):
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        self.process.stdout.close()


class EventStream:
    """A raw SSE reader: GET /api/events with a cookie, events parsed as
    (event name, JSON data); comments (keep-alives) skipped. With
    refused_ok, a refusal is kept in status and refusal (its JSON) rather
    than failing the test."""

    def __init__(self, gateway, cookie, refused_ok=False):
        self.socket = socket.create_connection(("127.0.0.1", gateway.port), timeout=EVENT_WAIT_S)
        self.socket.sendall(("GET /api/events HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nCookie: %s\r\n"
                             "Accept: text/event-stream\r\n\r\n" % (gateway.port, cookie)).encode())
        self.buffer = b""
        head = self._until(b"\r\n\r\n")
        self.status = int(head.split(b" ", 2)[1])
        self.refusal = None
        if self.status != 200 and refused_ok:
            length = re.search(rb"(?i)\r\ncontent-length: *(\d+)", head)
            check(length, "a refused stream's answer has a length: %r", head)
            while len(self.buffer) < int(length.group(1)):
                chunk = self.socket.recv(65536)
                check(chunk, "the refused stream's answer ended early")
                self.buffer += chunk
            self.refusal = json.loads(self.buffer)
            self.close()
            return
        check(self.status == 200 and b"text/event-stream" in head,
              "the event stream's answer: %r", head)

    def _until(self, separator):
        while separator not in self.buffer:
            chunk = self.socket.recv(65536)
            check(chunk, "the event stream ended")
            self.buffer += chunk
        part, self.buffer = self.buffer.split(separator, 1)
        return part

    def next_event(self):
        while True:
            # Chunked transfer: the chunk size lines are dropped; an SSE
            # message never spans two of the gateway's chunks here.
            lines = [line for line in self._until(b"\n\n").split(b"\n")
                     if line and not line.endswith(b"\r")]
            fields = dict(line.decode().split(": ", 1) for line in lines if b": " in line
                          and not line.startswith(b":"))
            if "event" in fields:
                return fields["event"], json.loads(fields["data"])

    def close(self):
        self.socket.close()


def cluster_and_gateway(ctx):
    """A started 3-node cluster with a leader, and a gateway for it."""
    cluster = ctx.cluster(3, request_timeout_ms=CLUSTER_REQUEST_TIMEOUT_MS)
    cluster.start()
    cluster.wait_leader(3.0)
    return cluster, Gateway(ctx, cluster)


class Http:
    """HTTP/1.1 requests to a gateway with a cookie jar of one cookie."""

    def __init__(self, gateway):
        self.gateway = gateway
        self.cookie = None       # "raftq_session=..." once set
        self.csrf = None         # the session's CSRF token

    def request(self, method, path, body=None, headers=None, raw=None):
        """(status, headers dict lower-cased, parsed JSON or text)."""
        connection = http.client.HTTPConnection("127.0.0.1", self.gateway.port, timeout=HTTP_WAIT_S)
        sent = dict(headers or {})
        if self.cookie and "Cookie" not in sent:
            sent["Cookie"] = self.cookie
        data = raw
        if body is not None:
            data = json.dumps(body).encode()
            sent.setdefault("Content-Type", "application/json")
        try:
            connection.request(method, path, body=data, headers=sent)
            response = connection.getresponse()
            payload = response.read()
            answer_headers = {key.lower(): value for key, value in response.getheaders()}
            cookie = answer_headers.get("set-cookie")
            if cookie:
                value = cookie.split(";", 1)[0]
                self.cookie = None if value == "raftq_session=" else value
            try:
                parsed = json.loads(payload)
            except ValueError:
                parsed = payload.decode("utf-8", "replace")
            return response.status, answer_headers, parsed
        finally:
            connection.close()

    def register(self, user, password):
        status, headers, answer = self.request("POST", "/api/register",
                                               {"user": user, "password": password})
        check(status == 200, "register %s: %s %r", user, status, answer)
        self.csrf = answer["csrf"]
        return headers


class Browsers:
    """Headless Chromium sessions of one test: `with Browsers(ctx) as b:`;
    on a failure inside, every open page is saved as a PNG in the test's
    directory and the paths are printed."""

    def __init__(self, ctx):
        self.ctx = ctx
        self.drivers = {}        # name -> WebDriver

    def __enter__(self):
        return self

    def open_all(self, names, url):
        """Starts a browser per name at once (each start costs seconds on a
        busy machine); returns the drivers in names' order."""
        with concurrent.futures.ThreadPoolExecutor(len(names)) as pool:
            return list(pool.map(lambda name: self.open(name, url), names))

    def open(self, name, url):
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
        options = webdriver.ChromeOptions()
        options.binary_location = CHROMIUM
        for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                         "--disable-gpu", "--disable-extensions", "--window-size=1200,860",
                         "--no-first-run", "--no-default-browser-check",
                         "--disable-background-networking", "--disable-component-update",
                         "--disable-sync",
                         "--user-data-dir=" + os.path.join(self.ctx.dir, "chromium-" + name)):
            options.add_argument(argument)
        driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
        self.drivers[name] = driver
        self.ctx.on_close(driver.quit)
        driver.get(url)
        return driver

    def __exit__(self, kind, value, trace):
        if kind is None:
            return False
        for name, driver in self.drivers.items():
            path = os.path.join(self.ctx.dir, "failure-%s.png" % name)
            try:
                driver.save_screenshot(path)
                print("    screenshot of %s's page: %s" % (name, path), flush=True)
            except Exception as error:  # the browser may be what failed
                print("    no screenshot of %s's page: %s" % (name, error), flush=True)
        return False


def screenshot_dir():
    """Where the tests save the README's pictures, when asked to
    (RAFTQ_GATEWAY_SCREENSHOTS=DIR), else None."""
    directory = os.environ.get("RAFTQ_GATEWAY_SCREENSHOTS")
    if directory:
        os.makedirs(directory, exist_ok=True)
    return directory
