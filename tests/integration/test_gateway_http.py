"""raftq-gateway at the HTTP level, without a browser: the security
headers, refusals (no cookie, forged cookie, missing CSRF token, foreign
Origin, wrong content type, bad JSON, oversize body, unknown API), each a
JSON error, the gateway serving on after every one; and statelessness: a
second gateway sharing the key file serves the first one's session.
"""

from gateway_support import CLUSTER_REQUEST_TIMEOUT_MS, Gateway, Http
from harness import check, check_equal


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
    cluster = ctx.cluster(3, request_timeout_ms=CLUSTER_REQUEST_TIMEOUT_MS)
    cluster.start()
    cluster.wait_leader(3.0)
    gateway = Gateway(ctx, cluster)
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
    Http(gateway).register("bob", "pw-bob")

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
    other = Http(Gateway(ctx, cluster, name="gateway-2"))
    other.cookie = http.cookie
    status, _, session = other.request("GET", "/api/session")
    check(status == 200 and session.get("user") == "alice" and session.get("csrf") == http.csrf,
          "a second gateway serves the first one's session: %d %r", status, session)
    status, _, page = other.request("GET", "/api/conversations/bob?page=0")
    check(status == 200 and [m["text"] for m in page["messages"]] == ["hi"],
          "the conversation through the second gateway: %d %r", status, page)

    status, _, _ = http.request("POST", "/api/logout", {}, headers={"X-CSRF-Token": http.csrf})
    check(status == 200 and http.cookie is None, "logout clears the cookie: %d", status)
    # The copy of the cookie still opens, but the cluster has revoked its
    # token: the first call that needs the session says so and clears it.
    _refused(other, "GET", "/api/unread", 401, "UNAUTHENTICATED")
    check(other.cookie is None, "a revoked session's cookie is cleared")
    check(gateway.process.poll() is None, "the gateway still runs")
