"""raftq-gateway at the HTTP level, without a browser: the security
headers, refusals (no cookie, forged cookie, missing CSRF token (also on
the GETs that mark messages read), foreign Origin, wrong content type,
bad JSON, oversize body, unknown API, bytes that are not UTF-8), each a
JSON error, the gateway serving on after every one; and statelessness: a
second gateway sharing the key file serves the first one's session (with
more connections from one address than the default cap, as behind a
proxy).
"""

import http.client as http_client
import signal
import socket
import time

from gateway_support import EventStream, Gateway, Http, cluster_and_gateway
from harness import check, check_equal, wait_until

CROWD = 70            # idle connections from one address, above the default cap
STOP_S = 5.0          # the gateway exits within this of SIGTERM


def _refused(http, method, path, status, code, **options):
    answer_status, headers, answer = http.request(method, path, **options)
    check(answer_status == status and isinstance(answer, dict) and answer.get("code") == code
          and answer.get("error"),
          "%s %s: expected %d %s with an error text, got %d %r", method, path, status, code,
          answer_status, answer)
    check(headers.get("content-type", "").startswith("application/json"),
          "%s %s: an error is JSON, got %r", method, path, headers.get("content-type"))
    return answer


def test_gateway_http_refusals(ctx):
    cluster, gateway = cluster_and_gateway(ctx)
    http = Http(gateway)

    status, headers, page = http.request("GET", "/")
    check(status == 200 and "<title>raftq chat</title>" in page, "GET /: %d", status)
    csp = headers.get("content-security-policy", "")
    check("script-src 'self'" in csp and "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp,
          "the page's CSP forbids inline script and framing: %r", csp)
    check_equal(headers.get("x-content-type-options"), "nosniff", "X-Content-Type-Options")
    check_equal(headers.get("referrer-policy"), "no-referrer", "Referrer-Policy")

    _refused(http, "GET", "/api/users", 401, "UNAUTHENTICATED")
    _refused(http, "GET", "/api/users", 401, "UNAUTHENTICATED",
             headers={"Cookie": "raftq_session=AAAAforgedAAAA"})
    _refused(http, "GET", "/api/nothing", 404, "NOT_FOUND")
    # Bytes that are not UTF-8 (any path or query may carry them) still get
    # their clear answer, not a 500
    _refused(http, "GET", "/api/nothing%FF", 404, "NOT_FOUND")
    status, _, answer = http.request("GET", "/api/available?user=a%FFb")
    check(status == 200 and answer.get("available") is False and answer.get("user") == "a?b",
          "a name that is not UTF-8 is not available: %d %r", status, answer)
    _refused(http, "PUT", "/api/login", 405, "BAD_REQUEST")
    _refused(http, "POST", "/api/login", 415, "BAD_REQUEST", raw=b'{"user":"a","password":"b"}',
             headers={"Content-Type": "text/plain"})
    answer = _refused(http, "POST", "/api/login", 400, "BAD_REQUEST", raw=b'{"user": "a",',
                      headers={"Content-Type": "application/json"})
    check("bad JSON" in answer["error"], "bad JSON is named: %r", answer)
    _refused(http, "POST", "/api/login", 400, "BAD_REQUEST", raw=b'[1, 2]',
             headers={"Content-Type": "application/json"})
    _refused(http, "POST", "/api/login", 400, "INVALID_ARGUMENT", body={"user": 7})
    _refused(http, "POST", "/api/login", 413, "TOO_LARGE",
             body={"user": "a", "password": "x" * 100000})
    _refused(http, "POST", "/api/login", 401, "UNAUTHENTICATED",
             body={"user": "nobody", "password": "wrong"})

    headers = http.register("alice", "pw-alice")
    cookie = headers["set-cookie"]
    for attribute in ("HttpOnly", "SameSite=Strict", "Path=/"):
        check(attribute in cookie, "the session cookie has %s: %r", attribute, cookie)
    check(len(http.cookie) > 60 and "pw-alice" not in cookie,
          "the cookie is a sealed box: %r", cookie)
    bob = Http(gateway)
    bob.register("bob", "pw-bob")

    # The users list: search, paging, and refusals of glob characters
    status, _, page = http.request("GET", "/api/users?page=2&page_size=1")
    check(status == 200 and page["users"] == ["bob"] and page["total"] == 2,
          "users page 2 of size 1: %d %r", status, page)
    status, _, page = http.request("GET", "/api/users?q=lic")
    check(status == 200 and page["users"] == ["alice"], "users containing 'lic': %r", page)
    _refused(http, "GET", "/api/users?q=a%2A", 400, "INVALID_ARGUMENT")
    _refused(http, "GET", "/api/users?page=x", 400, "INVALID_ARGUMENT")
    _refused(http, "GET", "/api/users?page_size=100000", 400, "INVALID_ARGUMENT")

    message = {"to": "bob", "text": "hi"}
    _refused(http, "POST", "/api/messages", 403, "CSRF", body=message)
    _refused(http, "POST", "/api/messages", 403, "CSRF", body=message,
             headers={"X-CSRF-Token": "not-the-token"})
    _refused(http, "POST", "/api/messages", 403, "CROSS_ORIGIN", body=message,
             headers={"X-CSRF-Token": http.csrf, "Origin": "http://evil.example"})
    _refused(http, "DELETE", "/api/account", 403, "CSRF")
    status, _, sent = http.request("POST", "/api/messages", message,
                                   headers={"X-CSRF-Token": http.csrf,
                                            "Origin": "http://127.0.0.1:%d" % gateway.port})
    check(status == 200 and sent.get("id"), "a send with the token and our Origin: %d %r",
          status, sent)
    _refused(http, "POST", "/api/messages", 404, "NOT_FOUND",
             body={"to": "nobody", "text": "hi"}, headers={"X-CSRF-Token": http.csrf})

    # Stateless: another gateway with the same key file knows the session.
    # Behind a proxy every browser comes from the proxy's address: the cap
    # per address is a setting (the default 64 would refuse the last call).
    other = Http(Gateway(ctx, cluster, name="gateway-2",
                         extra=["--max-connections-per-address", str(CROWD + 8)]))
    crowd = [socket.create_connection(("127.0.0.1", other.gateway.port)) for _ in range(CROWD)]
    other.cookie = http.cookie
    try:
        status, _, session = other.request("GET", "/api/session")
    except (ConnectionError, http_client.HTTPException) as error:
        status, session = 0, error
    for connection in crowd:
        connection.close()
    check(status == 200 and session.get("user") == "alice" and session.get("csrf") == http.csrf,
          "a second gateway serves the first one's session beside %d idle connections: %d %r",
          CROWD, status, session)
    status, _, page = other.request("GET", "/api/conversations/bob?page=0",
                                    headers={"X-CSRF-Token": http.csrf})
    check(status == 200 and [m["text"] for m in page["messages"]] == ["hi"],
          "the conversation through the second gateway: %d %r", status, page)

    # The event stream: bob's replays what came before and goes on live.
    stream = EventStream(gateway, bob.cookie)
    check_equal(stream.next_event()[0], "hello", "the stream's first event")
    event, data = stream.next_event()
    check(event == "chat" and data.get("text") == "hi" and data.get("from") == "alice",
          "bob's stream replays alice's message: %r %r", event, data)
    status, _, sent = http.request("POST", "/api/messages", {"to": "bob", "text": "live"},
                                   headers={"X-CSRF-Token": http.csrf})
    check(status == 200, "alice's second message: %d %r", status, sent)
    event, data = stream.next_event()
    check(event == "chat" and data.get("text") == "live", "then goes on live: %r %r", event, data)

    # Reading marks messages read on the cluster: the token is asked even
    # of these GETs (SameSite does not stop a sibling subdomain)
    _refused(bob, "GET", "/api/conversations/alice", 403, "CSRF")
    _refused(bob, "GET", "/api/unread", 403, "CSRF")
    # History pages: page 0 is the newest
    for number, expected in ((0, (2, ["live"])), (1, (1, ["hi"]))):
        status, _, page = bob.request("GET", "/api/conversations/alice?page_size=1&page=%d" % number,
                                      headers={"X-CSRF-Token": bob.csrf})
        check(status == 200 and (page["page"], [m["text"] for m in page["messages"]]) == expected,
              "bob's history page %d of size 1: %d %r", number, status, page)
    _refused(bob, "GET", "/api/conversations/al%2Fice", 400, "INVALID_ARGUMENT",
             headers={"X-CSRF-Token": bob.csrf})
    _refused(bob, "DELETE", "/api/messages/x1", 403, "CSRF")
    _refused(bob, "DELETE", "/api/messages/x1", 400, "INVALID_ARGUMENT",
             headers={"X-CSRF-Token": bob.csrf})

    status, _, _ = http.request("POST", "/api/logout", {}, headers={"X-CSRF-Token": http.csrf})
    check(status == 200 and http.cookie is None, "logout clears the cookie: %d", status)
    # The copy of the cookie still opens, but the cluster has revoked its
    # token: the first call that needs the session says so and clears it.
    _refused(other, "GET", "/api/unread", 401, "UNAUTHENTICATED",
             headers={"X-CSRF-Token": http.csrf})
    check(other.cookie is None, "a revoked session's cookie is cleared")
    # Deleting an account ends its stream: the cluster revokes the token.
    _refused(bob, "DELETE", "/api/account", 403, "CSRF")
    status, _, answer = bob.request("DELETE", "/api/account", headers={"X-CSRF-Token": bob.csrf})
    check(status == 200 and bob.cookie is None, "bob's account deleted: %d %r", status, answer)
    event, data = stream.next_event()
    check_equal(event, "revoked", "bob's stream after his account's deletion")
    stream.close()
    _refused(Http(gateway), "POST", "/api/login", 401, "UNAUTHENTICATED",
             body={"user": "bob", "password": "pw-bob"})
    check(gateway.process.poll() is None, "the gateway still runs")

    # SIGTERM ends it promptly, even with an event stream open.
    carol = Http(gateway)
    carol.register("carol", "pw-carol")
    stream = EventStream(gateway, carol.cookie)
    check_equal(stream.next_event()[0], "hello", "carol's stream's first event")
    started = time.monotonic()
    gateway.process.send_signal(signal.SIGTERM)
    code = wait_until(lambda: gateway.process.poll() is not None and [gateway.process.returncode],
                      STOP_S, "the gateway's exit after SIGTERM")[0]
    check(code == 0, "the gateway's exit code after SIGTERM: %d", code)
    print("    gateway stopped %.2f s after SIGTERM with a stream open" % (time.monotonic() - started))
    stream.close()
