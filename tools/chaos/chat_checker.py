"""chat_checker — what a chat history must satisfy, counted into the same
checker.Report as the queue checks.

Input: the chat records of a run (chat.py: login, send, read, listing),
including the verification's listings of every conversation after all
faults healed. A text names its send ("<sender>:<counter>").

What is counted where (every counter but acked must be 0):
  acked            sends answered OK.
  lost             an acked send missing from the final listing of its
                   conversation; a message some read returned that the final
                   listing lacks; an acked message its recipient never saw
                   unread, beyond what the recipient's reads of unknown
                   outcome could have marked read unseen; a message still
                   unread after the recipient's unread listing came back empty.
  duplicated       a text twice in a final listing; a text under two ids, or
                   an id under two texts; a message shown unread to its
                   recipient by two reads, or shown in the unread listing
                   already read; two sends acknowledged at one log index.
  unexpected       a message nobody sent, whose send certainly failed, that a
                   read returned before its send was even invoked, or whose
                   sender, recipient or conversation is not the send's.
  reordered        a page or listing not in ascending id order, or one sender's
                   texts in it out of that sender's order; an acked send's id
                   not the one its message is listed under; message ids not
                   increasing in commit (log index) order.
  nonlinearizable  a conversation read whose total lacks a send acknowledged
                   before the read began (a stale read), or counts more sends
                   than had been invoked when it ended; a send acknowledged
                   before another began that got the larger id; a message
                   its sender still sees unread after the recipient's read of
                   it had ended.
  unauthenticated  an operation with the token of an acknowledged login, or a
                   login to an account created before the run, answered
                   UNAUTHENTICATED (sessions must survive failover); the
                   live subscription of a client (watch) revoked, or its
                   replay refused, while it used such a token.
The watch records (a client's live user/<name> stream) count too: an event
of a message the user neither sent nor received, or nobody sent, or whose
send certainly failed, or seen before its send began, is unexpected; one
message twice in a stream is duplicated; stream seqs not increasing are
reordered.
Operations of unknown outcome may or may not have taken effect.
"""

import bisect
import collections


def _is_acked(op):
    return op["outcome"] == "ok" and op.get("result") == "OK"


def _counter(text):
    """The sender's counter in a text "<sender>:<counter>", or None."""
    head, _, tail = text.rpartition(":")
    return int(tail) if head and tail.isdigit() else None


def _pair(a, b):
    return tuple(sorted((a, b)))


class _Flags:
    """Counts each (counter, key) once, however many reads show it."""

    def __init__(self, report):
        self.report = report          # checker.Report
        self.seen = set()             # (counter, key) already counted

    def __call__(self, counter, key, example, amount=1):
        if (counter, key) in self.seen:
            return
        self.seen.add((counter, key))
        self.report.add(counter, amount, "chat: " + example)


def check(operations, report):
    """Runs the chat checks over the chat records; adds to report."""
    flag = _Flags(report)
    sends = [op for op in operations if op["op"] == "send"]
    by_text = {op["text"]: op for op in sends}
    reads = [op for op in operations if op["op"] == "read" and _is_acked(op)]
    listings = {_pair(op["user"], op["partner"]): op for op in operations if op["op"] == "listing"}
    report.counts["acked"] += sum(1 for op in sends if _is_acked(op))

    _check_unauthenticated(operations, flag)
    seen_texts = set()
    for read in reads:
        _check_page(read, read["messages"], by_text, flag)
        seen_texts.update(message[3] for message in read["messages"])
    _check_identity(reads, flag)
    _check_final(sends, listings, seen_texts, flag, report)
    _check_unread(operations, reads, sends, listings, flag)
    _check_commit_order(sends, flag)
    _check_totals(sends, reads, flag)
    for watch in (op for op in operations if op["op"] == "watch"):
        _check_watch(watch, by_text, flag)


def _check_unauthenticated(operations, flag):
    for op in operations:
        if op.get("result") != "UNAUTHENTICATED":
            continue
        if op["op"] == "login":
            why = "login as %s refused, yet the account was created" % op["user"]
        else:
            why = "%s by %s with the token of its acknowledged login (seq %s) refused" % (
                op["op"], op["user"], op.get("login"))
        flag("unauthenticated", (op["process"], op["seq"]), "%s at %.3f s: %s" % (
            op["process"], op["complete"], why))
    for watch in (op for op in operations if op["op"] == "watch"):
        lost = [(at, "its token (login seq %s) was revoked" % login) for at, login in watch["revoked"]]
        lost += [(at, "a replay was refused: %s" % text) for at, text in watch["refused"]
                 if "UNAUTHENTICATED" in text or "PERMISSION_DENIED" in text]
        for at, why in lost:
            flag("unauthenticated", (watch["process"], at), "%s at %.3f s: live user/%s: %s" % (
                watch["process"], at, watch["user"], why))


def _send_problem(send, sender, recipient, seen_at):
    """Why a message seen at seen_at cannot come from send (None: it can)."""
    if send is None:
        return "never sent"
    if send["outcome"] == "fail" or (send["outcome"] == "ok" and send.get("result") != "OK"):
        return "its send certainly failed (%s)" % (send.get("result") or ", ".join(send.get("codes", [])))
    if (send["user"], send["to"]) != (sender, recipient):
        return "sent by %s to %s, listed from %s to %s" % (send["user"], send["to"], sender, recipient)
    if seen_at < send["invoke"]:
        return "read before it was sent"
    return None


def _check_watch(watch, by_text, flag):
    """One client's live stream: its own messages only, each once, in order."""
    user, where = watch["user"], "%s's live user/%s" % (watch["process"], watch["user"])
    previous_seq = 0
    seen_ids = set()
    for seq, message_id, sender, recipient, text, kind, received in watch["events"]:
        if seq <= previous_seq:
            flag("reordered", ("watch", watch["process"], seq), "%s: seq %d after %d" % (where, seq, previous_seq))
        previous_seq = seq
        if kind != "message":
            continue
        why = _send_problem(by_text.get(text), sender, recipient, received)
        if why is None and user not in (sender, recipient):
            why = "a message between %s and %s" % (sender, recipient)
        if why:
            flag("unexpected", ("watch", watch["process"], text), "message %r (id %d), %s: %s"
                 % (text, message_id, where, why))
        if message_id in seen_ids:
            flag("duplicated", ("watch", watch["process"], message_id), "message %r (id %d) twice in %s"
                 % (text, message_id, where))
        seen_ids.add(message_id)


def _check_page(read, messages, by_text, flag):
    """One read's (or listing's) messages against the sends."""
    reader, partner = read["user"], read.get("partner", "")
    previous_id = None
    last_counter = {}
    for message_id, sender, recipient, text, was_read in messages:
        where = "%s reading %s" % (reader, ("its conversation with " + partner) if partner else "unread")
        send = by_text.get(text)
        why = _send_problem(send, sender, recipient, read["complete"])
        if why is None and partner and _pair(sender, recipient) != _pair(reader, partner):
            why = "listed in the conversation of %s and %s" % (reader, partner)
        elif why is None and not partner and recipient != reader:
            why = "in the unread listing of %s" % reader
        if why:
            flag("unexpected", text, "message %r (id %d), %s: %s" % (text, message_id, where, why))
        if not partner and was_read:
            flag("duplicated", ("unread-read", text),
                 "message %r (id %d) in %s's unread listing though already read" % (text, message_id, reader))
        if send is not None and _is_acked(send) and send.get("message_id") \
                and send["message_id"] != message_id:
            flag("reordered", ("id", text), "message %r sent as id %d, listed as id %d (%s)"
                 % (text, send["message_id"], message_id, where))
        if previous_id is not None and message_id <= previous_id:
            flag("reordered", ("page", read["process"], read.get("seq"), message_id),
                 "%s: id %d listed after id %d" % (where, message_id, previous_id))
        previous_id = message_id
        counter = _counter(text)
        if counter is not None:
            if sender in last_counter and counter < last_counter[sender]:
                flag("reordered", ("sender", text), "%s: %s's %r listed after its later text %s:%d"
                     % (where, sender, text, sender, last_counter[sender]))
            last_counter[sender] = max(counter, last_counter.get(sender, counter))


def _check_identity(reads, flag):
    """One id per text and one text per id over every read."""
    id_of, text_of = {}, {}
    for read in reads:
        for message_id, _, _, text, _ in read["messages"]:
            if id_of.setdefault(text, message_id) != message_id:
                flag("duplicated", ("ids", text), "message %r listed under ids %d and %d"
                     % (text, id_of[text], message_id))
            if text_of.setdefault(message_id, text) != text:
                flag("duplicated", ("texts", message_id), "id %d names both %r and %r"
                     % (message_id, text_of[message_id], text))


def _check_final(sends, listings, seen_texts, flag, report):
    """The verification's listings: every acked send exactly once, nothing
    that was seen during the run gone."""
    final_texts = set()
    for pair, listing in sorted(listings.items()):
        if listing["outcome"] != "ok":
            report.problems.append("chat: the conversation of %s and %s could not be listed at the end" % pair)
            continue
        counts = collections.Counter(message[3] for message in listing["messages"])
        for text, count in sorted(counts.items()):
            if count > 1:
                flag("duplicated", ("final", text), "message %r %d times in the final listing of %s and %s"
                     % (text, count, pair[0], pair[1]), count - 1)
        ids = [message[0] for message in listing["messages"]]
        for earlier, later in zip(ids, ids[1:]):
            if later <= earlier:
                flag("reordered", ("final", pair, later), "final listing of %s and %s: id %d after id %d"
                     % (pair[0], pair[1], later, earlier))
        final_texts.update(counts)
    for send in sends:
        pair = _pair(send["user"], send["to"])
        listing = listings.get(pair)
        if listing is None or listing["outcome"] != "ok":
            continue
        text = send["text"]
        if text in final_texts:
            continue
        if _is_acked(send):
            flag("lost", text, "acked message %r (%s to %s, id %s) missing from their final listing"
                 % (text, send["user"], send["to"], send.get("message_id")))
        elif text in seen_texts and send["outcome"] == "unknown":
            flag("lost", text, "message %r (%s to %s, send %s) was read during the run, missing at the end"
                 % (text, send["user"], send["to"], send["outcome"]))


def _check_unread(operations, reads, sends, listings, flag):
    """Each message must be shown unread to its recipient exactly once:
    by the unread listing or by a conversation page the recipient read."""
    first_seen = {}
    for read in sorted(reads, key=lambda op: op["complete"]):
        for message_id, _, recipient, text, was_read in read["messages"]:
            if was_read or recipient != read["user"]:
                continue
            if text in first_seen:
                flag("duplicated", ("unread", text), "message %r (id %d) shown unread to %s twice (%s, then %s)"
                     % (text, message_id, recipient, first_seen[text]["process"], read["process"]))
            else:
                first_seen[text] = read
    # the sender's view of the read mark: once the recipient's read that
    # marked a message had ended, a read begun later must not show it unread
    for read in reads:
        for message_id, _, recipient, text, was_read in read["messages"]:
            marked = first_seen.get(text)
            if not was_read and recipient != read["user"] and marked is not None \
                    and marked["complete"] < read["invoke"]:
                flag("nonlinearizable", ("mark", text, read["process"]), "message %r (id %d) shown unread "
                     "to its sender %s at %.3f s, after %s had read it at %.3f s"
                     % (text, message_id, read["user"], read["invoke"], recipient, marked["complete"]))
    # the verification drained each account's unread listing to empty
    # before it listed any conversation: nothing may be unread after that
    drained = {}
    for read in reads:
        if read["process"].startswith("verify-") and not read["partner"] and read["total"] == 0:
            drained[read["user"]] = min(drained.get(read["user"], read["complete"]), read["complete"])
    for text, read in first_seen.items():
        if read["partner"] and read["user"] in drained and read["invoke"] > drained[read["user"]]:
            flag("lost", ("unread", text), "message %r still unread to %s after its unread listing came back empty"
                 % (text, read["user"]))
    in_final = set()
    for listing in listings.values():
        if listing["outcome"] == "ok":
            in_final.update(message[3] for message in listing["messages"])
    # reads of unknown outcome may have marked up to page_size messages read unseen
    allowance = collections.Counter()
    for op in operations:
        if op["op"] == "read" and op["outcome"] == "unknown":
            allowance[op["user"]] += op["page_size"]
    missing = collections.defaultdict(list)
    for send in sends:
        if _is_acked(send) and send["text"] in in_final and send["text"] not in first_seen:
            missing[send["to"]].append(send["text"])
    for recipient, texts in sorted(missing.items()):
        if recipient not in drained:
            continue    # the verification could not read its unread messages: reported apart
        unseen = len(texts) - allowance[recipient]
        if unseen > 0:
            flag("lost", ("never-unread", recipient), "%d acked message(s) to %s never shown unread (%s), "
                 "reads of unknown outcome could hide %d" % (len(texts), recipient, ", ".join(texts[:5]),
                                                            allowance[recipient]), unseen)


def _check_commit_order(sends, flag):
    """Message ids grow with the log index of the sends and with real time."""
    acked = [op for op in sends if _is_acked(op) and op.get("message_id") and op.get("index")]
    by_index = sorted(acked, key=lambda op: op["index"])
    for earlier, later in zip(by_index, by_index[1:]):
        if later["index"] == earlier["index"]:
            flag("duplicated", ("index", later["index"]), "sends %r and %r both acknowledged at index %d"
                 % (earlier["text"], later["text"], later["index"]))
        elif later["message_id"] <= earlier["message_id"]:
            flag("reordered", ("commit", later["text"]), "%r committed at index %d got id %d, after %r at "
                 "index %d with id %d" % (later["text"], later["index"], later["message_id"],
                                         earlier["text"], earlier["index"], earlier["message_id"]))
    # real time: the largest id among sends acked before each send began
    by_completion = sorted(acked, key=lambda op: op["complete"])
    completions = [op["complete"] for op in by_completion]
    largest, holder = [], []
    for op in by_completion:
        if not largest or op["message_id"] > largest[-1]:
            largest.append(op["message_id"])
            holder.append(op)
        else:
            largest.append(largest[-1])
            holder.append(holder[-1])
    for op in acked:
        before = bisect.bisect_left(completions, op["invoke"])
        if before and largest[before - 1] >= op["message_id"]:
            flag("nonlinearizable", ("realtime", op["text"]), "%r (id %d) was acked before %r began, "
                 "which got id %d" % (holder[before - 1]["text"], largest[before - 1], op["text"],
                                      op["message_id"]))


def _check_totals(sends, reads, flag):
    """A conversation read's total against the sends around it."""
    acked_done = collections.defaultdict(list)    # pair -> completion times of acked sends
    invoked = collections.defaultdict(list)       # pair -> invoke times of sends that may have applied
    for send in sends:
        pair = _pair(send["user"], send["to"])
        if _is_acked(send):
            acked_done[pair].append(send["complete"])
        if send["outcome"] != "fail" and not (send["outcome"] == "ok" and send.get("result") != "OK"):
            invoked[pair].append(send["invoke"])
    for times in list(acked_done.values()) + list(invoked.values()):
        times.sort()
    for read in reads:
        if not read["partner"]:
            continue
        pair = _pair(read["user"], read["partner"])
        at_least = bisect.bisect_left(acked_done[pair], read["invoke"])
        at_most = bisect.bisect_right(invoked[pair], read["complete"])
        if read["total"] < at_least:
            flag("nonlinearizable", ("stale", read["process"], read["seq"]),
                 "%s read its conversation with %s at %.3f s: total %d, but %d sends were acked before"
                 % (read["user"], read["partner"], read["invoke"], read["total"], at_least))
        elif read["total"] > at_most:
            flag("nonlinearizable", ("future", read["process"], read["seq"]),
                 "%s read its conversation with %s at %.3f s: total %d, but only %d sends had begun"
                 % (read["user"], read["partner"], read["invoke"], read["total"], at_most))
