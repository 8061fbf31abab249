"""chat — the chat workload: accounts made before the faults start, one
client per account that logs in and then sends, reads its unread messages
and reads conversation pages while the nemesis runs, and the verification
after every fault is healed that lists every conversation in full.

Every operation goes through workload.Session, so it carries the client's
client_id and the next seq, and a retry after a timeout or a leader change
is answered from the broker's exactly-once table. Texts are unique in the
run, "<sender>:<counter>", so a text read names the send it came from and
the counter gives the sender's order.

A client logs in once and keeps its token through every failover: a
session whose login was acknowledged must keep working (the broker
replicates sessions), so an UNAUTHENTICATED answer to it is an anomaly.
The broker keeps at most 16 sessions per account and a newer login ends
the oldest, so a client tries at most MAX_LOGINS logins in a run, and an
occasional fresh login (the old token then still works) is all the
re-logging there is.

History records (besides workload.base_record's fields):
  login    user, token (when answered)
  send     user, to, text, login (seq of the login whose token it used),
           message_id (when answered OK)
  read     user, partner ("" for the unread listing), page, page_size,
           login, and when answered: messages ([id, from, to, text, read]
           with read as it was before this call), total, remaining
  listing  the verification's whole conversation of a pair: user, partner,
           messages, complete (false when some page could not be read)
  watch    one per chat client, at the end: its live subscription to
           user/<name>, made with the token of its acknowledged login (the
           stream is private: issue 11): events ([seq, id, from, to, text,
           kind, received]), gaps ([first, last]), revoked ([time, login]
           for each revocation of the token then in use), refused ([time,
           text] for each refused replay)

The watcher of a client follows the client's latest acknowledged token:
when the client logs in again it moves to the new token (the old session
may expire while idle), so a revocation of the token in use is a session
lost, like an UNAUTHENTICATED answer.
"""

import collections
import threading

import raftq_subscription
import raftq_wire as wire
from .workload import base_record

MAX_LOGINS = 10            # logins a client may try in a run (the broker keeps 16 sessions per account)
VERIFY_LOGIN_TRIES = 3     # logins the verification may try per account
RELOGIN_RATIO = 0.01       # share of a client's operations that are a fresh login
MAX_PAGE_SIZE = 12         # page size of a read during the run: 1..this
VERIFY_PAGE_SIZE = 1000    # the broker's largest page: the verification lists in few pages
VERIFY_READ_TRIES = 5      # a verification read without a definite answer is retried this often
EXTRA_ACCOUNTS = 2         # accounts nobody logs in to during the run: they only receive
WATCH_SILENCE_S = 1.0      # a watcher's quiet time before it probes its node
WATCH_POLL_S = 0.2         # longest wait of a watcher for its stream before it looks at its token


def account_names(count):
    return ["u%d" % number for number in range(1, count + 1)]


def _page_record(entry, reply):
    """Adds a page reply's contents to a read record."""
    entry["messages"] = [[message["id"], message["from"], message["to"], message["text"], message["read"]]
                         for message in reply.get("messages", [])]
    entry["total"] = reply.get("total", 0)
    entry["remaining"] = reply.get("remaining", 0)


class ChatClient:
    """One account's operations over one workload.Session, each recorded
    in the history. Not thread safe: one per thread."""

    def __init__(self, session, history, user, password, budget_s, abort=None):
        self.session = session            # identity, sockets, leader guess
        self.history = history            # where operations are recorded
        self.user = user                  # the account this client acts as
        self.password = password          # its password
        self.budget_s = budget_s          # retry budget of one operation
        self.abort = abort                # threading.Event that cuts a retry loop short, or None
        self.token = None                 # token of the latest acknowledged login
        self.login_seq = None             # seq of that login
        self.logins = 0                   # login operations tried

    def _run(self, kind, make_body, fields):
        invoked = self.session.clock()
        outcome, reply, attempts, codes = self.session.call(make_body, self.budget_s, self.abort)
        entry = base_record(self.session, kind, invoked, outcome, reply, attempts, codes)
        entry["user"] = self.user
        entry.update(fields)
        return entry, outcome, reply

    def login(self):
        self.logins += 1
        entry, outcome, reply = self._run(
            "login", lambda client_id, seq: wire.login_request(client_id, seq, self.user, self.password), {})
        if outcome == "ok" and reply["code"] == "OK" and reply.get("token"):
            self.token = reply["token"]
            self.login_seq = entry["seq"]
            entry["token"] = self.token
        self.history.record(entry)
        return entry

    def _lost_session(self, entry):
        """An UNAUTHENTICATED answer ends the use of this token (the checker
        counts it): the client logs in again to go on."""
        if entry.get("result") == "UNAUTHENTICATED":
            self.token = None

    def send(self, to, text):
        token = self.token
        entry, outcome, reply = self._run(
            "send", lambda client_id, seq: wire.send_message_request(client_id, seq, token, to, text),
            {"to": to, "text": text, "login": self.login_seq})
        if reply is not None and reply.get("message_id"):
            entry["message_id"] = reply["message_id"]
        self.history.record(entry)
        self._lost_session(entry)
        return entry

    def read(self, partner, page, page_size):
        token = self.token
        entry, outcome, reply = self._run(
            "read", lambda client_id, seq: wire.read_messages_request(client_id, seq, token, partner,
                                                                      page, page_size),
            {"partner": partner, "page": page, "page_size": page_size, "login": self.login_seq})
        if reply is not None and reply["code"] == "OK":
            _page_record(entry, reply)
        self.history.record(entry)
        self._lost_session(entry)
        return entry

    def close(self):
        self.session.close()


class ChatWorker(threading.Thread):
    """One chat client during the run: logs in, then sends unique texts to
    random other accounts, reads unread pages and conversation pages, until
    told to stop. The operation under way when stop is set is still carried
    to a definite answer (within its budget)."""

    def __init__(self, client, partners, rng, send_ratio, stop):
        super().__init__(name=client.session.name, daemon=True)
        self.client = client              # the account's ChatClient
        self.partners = partners          # the other account names
        self.rng = rng                    # this client's own random.Random
        self.send_ratio = send_ratio      # share of operations that send
        self.stop = stop                  # threading.Event: start no new operation
        self.sent = 0                     # texts this client has tried to send
        self.totals = collections.Counter()  # partner -> conversation total last read
        self.error = None                 # an exception that ended the thread

    def _read_conversation(self):
        partner = self.rng.choice(self.partners)
        page_size = self.rng.randint(1, MAX_PAGE_SIZE)
        pages = max(1, -(-self.totals[partner] // page_size))
        # the last page (where new messages land) half the time
        page = pages if self.rng.random() < 0.5 else self.rng.randint(1, pages)
        entry = self.client.read(partner, page, page_size)
        if "total" in entry:
            self.totals[partner] = entry["total"]

    def _step(self):
        client = self.client
        if client.token is None:
            if client.logins < MAX_LOGINS:
                client.login()
            else:
                self.stop.wait(0.5)
            return
        choice = self.rng.random()
        if choice < RELOGIN_RATIO and client.logins < MAX_LOGINS - 1:
            client.login()
        elif choice < self.send_ratio:
            self.sent += 1
            client.send(self.rng.choice(self.partners), "%s:%d" % (client.user, self.sent))
        elif choice < (1 + self.send_ratio) / 2:
            client.read("", 1, self.rng.randint(1, MAX_PAGE_SIZE))
        else:
            self._read_conversation()

    def run(self):
        try:
            while not self.stop.is_set():
                self._step()
        except Exception as error:  # reported by the campaign; the run goes on
            self.error = "%s: %s" % (type(error).__name__, error)
        finally:
            self.client.close()


class ChatWatcher(threading.Thread):
    """Follows the user/<name> stream of one chat client with the token of
    its latest acknowledged login, from seq 1, until told to stop; records
    what it saw as one watch record."""

    def __init__(self, client, nodes, curve, stop):
        super().__init__(name="watch-" + client.user, daemon=True)
        self.client = client              # the ChatClient whose token it uses (read only)
        self.nodes = nodes                # [(client endpoint, pub endpoint)] of the cluster
        self.curve = curve                # raftq_client.CurveKeys or None
        self.stop = stop                  # threading.Event: stop watching
        self.error = None                 # an exception that ended the thread
        self.record = {"events": [], "gaps": [], "revoked": [], "refused": []}

    def _watch(self, subscription, token):
        """Follows the stream until stop, or a new token to use; returns
        that token (None at stop)."""
        clock = self.client.session.clock
        while not self.stop.is_set():
            if self.client.token not in (None, token):
                return self.client.token
            kind, value = subscription.next(WATCH_POLL_S)
            if kind == "event":
                self.record["events"].append([value["seq"], value.get("id", 0), value.get("from", ""),
                                              value.get("to", ""), value.get("text", ""), value["kind"],
                                              round(clock(), 6)])
            elif kind == "gap":
                self.record["gaps"].append(list(value))
            elif kind == "error":
                self.record["refused"].append([round(clock(), 6), value])
            elif kind == "revoked":
                self.record["revoked"].append([round(clock(), 6), self.client.login_seq])
                # a new login (if the client makes one) lets it go on
                while not self.stop.is_set() and self.client.token in (None, token):
                    self.stop.wait(WATCH_POLL_S)
                return None if self.stop.is_set() else self.client.token
        return None

    def run(self):
        invoked = self.client.session.clock()
        subscription = None
        try:
            while not self.stop.is_set() and self.client.token is None:
                self.stop.wait(WATCH_POLL_S)
            token = self.client.token
            if token is not None:
                subscription = raftq_subscription.Subscription(
                    [client for client, _ in self.nodes], [pub for _, pub in self.nodes],
                    "user/" + self.client.user, from_seq=1, token=token, silence=WATCH_SILENCE_S,
                    curve=self.curve, context=self.client.session.context)
            while token is not None:
                token = self._watch(subscription, token)
                if token is not None:
                    subscription.set_token(token)
        except Exception as error:  # reported by the campaign; the run goes on
            self.error = "%s: %s" % (type(error).__name__, error)
        finally:
            if subscription is not None:
                subscription.close()
        self.record.update({"type": "op", "op": "watch", "process": self.name,
                            "client_id": self.client.session.client_id, "seq": 0,
                            "user": self.client.user, "invoke": round(invoked, 6),
                            "complete": round(self.client.session.clock(), 6),
                            "outcome": "ok" if self.error is None else "fail"})
        self.client.history.record(self.record)


def create_accounts(session, names, password, budget_s):
    """Creates the accounts before the run; returns the names that could
    not be created (ALREADY_EXISTS after a retry counts as created)."""
    failed = []
    for name in names:
        outcome, reply, _, codes = session.call(
            lambda client_id, seq: wire.create_account_request(client_id, seq, name, password), budget_s)
        if outcome != "ok" and not (reply and reply["code"] == "ALREADY_EXISTS"):
            failed.append("%s (%s)" % (name, ", ".join(codes[-3:]) or outcome))
    return failed


def _read_all(client, partner, problems):
    """Every page of a listing (partner "" : the unread listing, which
    shrinks as it is read; else the conversation), or None when some page
    had no definite answer after VERIFY_READ_TRIES."""
    messages = []
    page = 1
    while True:
        for _ in range(VERIFY_READ_TRIES):
            entry = client.read(partner, 1 if not partner else page, VERIFY_PAGE_SIZE)
            if entry["outcome"] == "ok" and entry.get("result") == "OK":
                break
            if entry.get("result") == "UNAUTHENTICATED":
                client.login()
        else:
            problems.append("%s could not read %s" % (
                client.user, "its unread messages" if not partner else "its conversation with " + partner))
            return None
        messages.extend(entry["messages"])
        if not partner:
            if entry["total"] == 0:
                return messages
        elif entry["remaining"] == 0:
            return messages
        else:
            page += 1


def verify(make_session, history, names, password, budget_s):
    """After the run: every account logs in afresh and reads its unread
    messages until none are left; then every conversation is listed in
    full once (from the side of the lower name) and recorded as one listing.
    Returns the problems met (text lines)."""
    problems = []
    clients = {}
    try:
        for name in names:
            client = ChatClient(make_session("verify-" + name), history, name, password, budget_s)
            clients[name] = client
            for _ in range(VERIFY_LOGIN_TRIES):
                if client.login()["outcome"] == "ok" and client.token:
                    break
            if client.token is None:
                problems.append("verification could not log in as %s" % name)
                continue
            _read_all(client, "", problems)
        for position, name in enumerate(names):
            client = clients[name]
            if client.token is None:
                continue
            for partner in names[position + 1:]:
                invoked = client.session.clock()
                messages = _read_all(client, partner, problems)
                history.record({"type": "op", "op": "listing", "process": client.session.name,
                                "user": name, "partner": partner, "invoke": round(invoked, 6),
                                "complete": round(client.session.clock(), 6),
                                "outcome": "ok" if messages is not None else "fail",
                                "messages": messages or []})
    finally:
        for client in clients.values():
            client.close()
    return problems
