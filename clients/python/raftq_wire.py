"""raftq_wire — the raftq.Request and raftq.Reply messages the Python tools
send and read (proto/raftq.proto), encoded by hand: Debian's python3 has no
protobuf-c bindings and the tools must not need a protoc step. Shared by
tools/chaos (raftq-chaos) and tests/integration (harness.py and the tests).
Queue: CreateTopic (with a dead-letter topic), Publish, Pop (with a
wait), Reserve, Ack, Nack; chat: CreateAccount, Login, SendMessage,
ReadMessages (the session token in Request.token); admin: AddNode,
RemoveNode, TakeSnapshot; and Status.

Every field is named by its message and field name; MESSAGES holds the
number and type this module uses for each, and check_proto() proves them
against proto/raftq.proto (`raftq-chaos --self-test` runs it), so a field
renumbered in the .proto cannot make the tools send the wrong thing
silently.

Why protobuf and not the JSON dialect: a strict RRMQ reply to a failed
publish or pop is exactly {"success": false}, which cannot tell NOT_LEADER
(certainly not applied) from TIMEOUT (outcome unknown). The checker needs
that difference, and raftq.Reply carries it in its code.
"""

import os
import re

PROTO_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "proto",
                          "raftq.proto")

# The fields this module writes or reads: message -> field -> (number, type
# as the .proto writes it, "repeated " included).
MESSAGES = {
    "Request": {"client_id": (1, "uint64"), "seq": (2, "uint64"), "token": (3, "string"),
                "admin_secret": (4, "string"),
                "create_topic": (10, "CreateTopic"), "list_topics": (11, "ListTopics"),
                "publish": (12, "Publish"),
                "pop": (13, "Pop"), "status": (14, "Status"),
                "reserve": (16, "Reserve"), "ack": (17, "Ack"), "nack": (18, "Nack"),
                "create_account": (20, "CreateAccount"), "login": (22, "Login"),
                "send_message": (25, "SendMessage"), "read_messages": (26, "ReadMessages"),
                "add_node": (40, "AddNode"), "remove_node": (41, "RemoveNode"),
                "take_snapshot": (43, "TakeSnapshot")},
    "CreateTopic": {"name": (1, "string"), "max_deliveries": (2, "uint32"),
                    "dead_letter": (3, "string")},
    "ListTopics": {},
    "Publish": {"topic": (1, "string"), "payload": (2, "bytes")},
    "Pop": {"topic": (1, "string"), "wait_ms": (2, "uint32")},
    "Reserve": {"topic": (1, "string"), "visibility_ms": (2, "uint32"), "wait_ms": (3, "uint32")},
    "Ack": {"receipt": (1, "string")},
    "Nack": {"receipt": (1, "string"), "delay_ms": (2, "uint32")},
    "Status": {"with_hash": (1, "bool"), "detail": (2, "bool")},
    "CreateAccount": {"user": (1, "string"), "password": (2, "string")},
    "Login": {"user": (1, "string"), "password": (2, "string")},
    "SendMessage": {"to": (1, "string"), "text": (2, "string")},
    "ReadMessages": {"partner": (1, "string"), "page": (2, "uint32"), "page_size": (3, "uint32")},
    "AddNode": {"id": (1, "uint32"), "host": (2, "string"), "client_port": (3, "uint32"),
                "peer_port": (4, "uint32"), "pub_port": (5, "uint32"),
                "public_key": (6, "bytes")},
    "RemoveNode": {"id": (1, "uint32")},
    "TakeSnapshot": {},
    "Reply": {"code": (1, "Code"), "error": (2, "string"), "leader_id": (3, "uint32"),
              "index": (5, "uint64"), "topics": (10, "TopicList"), "published": (11, "Published"),
              "popped": (12, "Popped"),
              "status": (13, "NodeStatus"), "session": (16, "Session"),
              "sent": (18, "MessageSent"), "page": (19, "MessagePage"),
              "retry_after_ms": (21, "uint32"), "reserved": (22, "Reserved")},
    "TopicList": {"names": (1, "repeated string")},
    "Published": {"sequence": (2, "uint64")},
    "Popped": {"payload": (2, "bytes"), "sequence": (3, "uint64"),
               "original_topic": (4, "string"), "deliveries": (5, "uint32")},
    "Reserved": {"payload": (2, "bytes"), "sequence": (3, "uint64"), "receipt": (4, "string"),
                 "deliveries": (5, "uint32"), "visible_at_ms": (6, "int64"),
                 "original_topic": (7, "string"), "original_deliveries": (8, "uint32")},
    "NodeStatus": {"id": (1, "uint32"), "role": (2, "Role"), "term": (3, "uint64"),
                   "leader_id": (4, "uint32"), "commit_index": (5, "uint64"),
                   "applied_index": (6, "uint64"), "last_index": (7, "uint64"),
                   "members": (8, "repeated uint32"), "state_hash": (9, "uint64"),
                   "detail": (10, "StatusDetail")},
    "StatusDetail": {"topics": (13, "repeated TopicStatus")},
    "TopicStatus": {"name": (1, "string"), "ready": (2, "uint64"), "reserved": (3, "uint64"),
                    "dead_lettered": (4, "uint64"), "max_deliveries": (5, "uint32"),
                    "dead_letter": (6, "string"), "delayed": (7, "uint64")},
    "Session": {"token": (1, "string"), "unread": (2, "uint64")},
    "MessageSent": {"id": (1, "uint64")},
    "MessagePage": {"messages": (1, "repeated ChatMessage"), "total": (2, "uint64"),
                    "remaining": (3, "uint64")},
    "ChatMessage": {"id": (1, "uint64"), "from": (2, "string"), "to": (3, "string"),
                    "text": (4, "string"), "read": (6, "bool")},
}

# raftq.Code and raftq.Role, by number
CODE_NAMES = ["OK", "NOT_LEADER", "NO_LEADER", "NOT_FOUND", "ALREADY_EXISTS", "EMPTY",
              "INVALID_ARGUMENT", "UNAUTHENTICATED", "PERMISSION_DENIED", "TOO_LARGE",
              "TIMEOUT", "UNAVAILABLE", "INTERNAL", "RESOURCE_EXHAUSTED"]
ROLE_NAMES = ["Follower", "Candidate", "Leader"]   # as the JSON status spells them
ENUMS = {"Code": CODE_NAMES, "Role": [name.upper() for name in ROLE_NAMES]}

WIRE_VARINT, WIRE_FIXED64, WIRE_BYTES, WIRE_FIXED32 = 0, 1, 2, 5


def number(message, field):
    """The field number of message.field, as MESSAGES holds it."""
    return MESSAGES[message][field][0]


def code_name(code):
    return CODE_NAMES[code] if 0 <= code < len(CODE_NAMES) else "CODE_%d" % code


# --- encoding ---------------------------------------------------------------

def varint(value):
    """value (an int >= 0) as a protobuf varint."""
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def field_varint(field_number, value):
    return varint((field_number << 3) | WIRE_VARINT) + varint(value)


def field_bytes(field_number, data):
    if isinstance(data, str):
        data = data.encode("utf-8")
    return varint((field_number << 3) | WIRE_BYTES) + varint(len(data)) + data


def encode(message, **values):
    """message with the named fields, in the order given; a value of None
    is left out. Integers and booleans go as varints, text, bytes and
    encoded submessages length-delimited."""
    out = b""
    for field, value in values.items():
        if value is None:
            continue
        field_number = number(message, field)
        if isinstance(value, (bool, int)):
            out += field_varint(field_number, int(value))
        else:
            out += field_bytes(field_number, value)
    return out


def _request(client_id, seq, op, op_body, token=None, admin_secret=None):
    """A Request carrying op (a field of its oneof) with op_body; client_id,
    seq, token and admin_secret only when set, as protobuf-c leaves defaults
    out."""
    return encode("Request", client_id=client_id or None, seq=seq or None, token=token or None,
                  admin_secret=admin_secret or None, **{op: op_body})


def publish_request(client_id, seq, topic, payload):
    return _request(client_id, seq, "publish", encode("Publish", topic=topic, payload=payload))


def pop_request(client_id, seq, topic, wait_ms=0):
    return _request(client_id, seq, "pop", encode("Pop", topic=topic, wait_ms=wait_ms or None))


def list_topics_request(client_id=0, seq=0):
    return _request(client_id, seq, "list_topics", b"")


def create_topic_request(client_id, seq, name, max_deliveries=0, dead_letter=None):
    """With max_deliveries and dead_letter: a message reserved that many
    times without an ack moves to the topic dead_letter."""
    return _request(client_id, seq, "create_topic",
                    encode("CreateTopic", name=name, max_deliveries=max_deliveries or None,
                           dead_letter=dead_letter or None))


def reserve_request(client_id, seq, topic, visibility_ms=0, wait_ms=0):
    """visibility_ms 0: the cluster's default (30 s)."""
    return _request(client_id, seq, "reserve",
                    encode("Reserve", topic=topic, visibility_ms=visibility_ms or None,
                           wait_ms=wait_ms or None))


def ack_request(client_id, seq, receipt):
    return _request(client_id, seq, "ack", encode("Ack", receipt=receipt))


def nack_request(client_id, seq, receipt, delay_ms=0):
    return _request(client_id, seq, "nack", encode("Nack", receipt=receipt, delay_ms=delay_ms or None))


def status_request(with_hash=False, admin_secret=None, detail=False):
    """The state hash and the detail (with every topic's queue) are for
    admins: they need admin_secret."""
    return _request(0, 0, "status", encode("Status", with_hash=True if with_hash else None,
                                           detail=True if detail else None),
                    admin_secret=admin_secret)


def take_snapshot_request(client_id=0, seq=0, admin_secret=None):
    return _request(client_id, seq, "take_snapshot", b"", admin_secret=admin_secret)


def create_account_request(client_id, seq, user, password):
    return _request(client_id, seq, "create_account",
                    encode("CreateAccount", user=user, password=password))


def login_request(client_id, seq, user, password):
    return _request(client_id, seq, "login", encode("Login", user=user, password=password))


def send_message_request(client_id, seq, token, to, text):
    return _request(client_id, seq, "send_message", encode("SendMessage", to=to, text=text), token)


def read_messages_request(client_id, seq, token, partner, page, page_size):
    """partner "" lists the caller's unread messages (and marks them read)."""
    body = encode("ReadMessages", partner=partner or None, page=page, page_size=page_size)
    return _request(client_id, seq, "read_messages", body, token)


def add_node_request(client_id, seq, node_id, host, client_port, peer_port, pub_port,
                     admin_secret=None, public_key=None):
    """public_key: the node's CurveZMQ key in Z85 (40 characters), which a
    cluster with CURVE on its peer port requires; sent as its 32 bytes."""
    raw_key = None
    if public_key:
        from zmq.utils import z85  # only the callers that add keyed nodes need pyzmq
        raw_key = z85.decode(public_key)
    body = encode("AddNode", id=node_id, host=host, client_port=client_port, peer_port=peer_port,
                  pub_port=pub_port or None, public_key=raw_key)
    return _request(client_id, seq, "add_node", body, admin_secret=admin_secret)


def remove_node_request(client_id, seq, node_id, admin_secret=None):
    return _request(client_id, seq, "remove_node", encode("RemoveNode", id=node_id),
                    admin_secret=admin_secret)


# --- decoding ---------------------------------------------------------------

def _read_varint(data, position):
    """The varint at data[position:]; returns (value, position after it).
    ValueError if it is truncated or longer than 64 bits."""
    value, shift = 0, 0
    while True:
        if position >= len(data) or shift > 63:
            raise ValueError("truncated varint")
        byte = data[position]
        position += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, position


def _read_value(data, position, wire):
    """The value of wire type wire at data[position:]; returns (value,
    position after it)."""
    if wire == WIRE_VARINT:
        return _read_varint(data, position)
    if wire in (WIRE_FIXED64, WIRE_FIXED32):
        width = 8 if wire == WIRE_FIXED64 else 4
        if position + width > len(data):
            raise ValueError("truncated fixed field")
        return int.from_bytes(data[position:position + width], "little"), position + width
    if wire == WIRE_BYTES:
        length, position = _read_varint(data, position)
        if position + length > len(data):
            raise ValueError("truncated bytes field")
        return data[position:position + length], position + length
    raise ValueError("wire type %d" % wire)


def fields(data):
    """One protobuf message as {field number: [values]}: ints for varint and
    fixed fields, bytes for length-delimited ones. ValueError if malformed."""
    found = {}
    position = 0
    while position < len(data):
        key, position = _read_varint(data, position)
        if key >> 3 == 0:
            raise ValueError("field number 0")
        value, position = _read_value(data, position, key & 7)
        found.setdefault(key >> 3, []).append(value)
    return found


def named_fields(message, data):
    """data as message: {field name: [values]} for the fields MESSAGES
    names (others are skipped). ValueError if malformed."""
    found = fields(data)
    return {field: found[entry[0]] for field, entry in MESSAGES[message].items()
            if entry[0] in found}


def _last(found, field, default):
    values = found.get(field)
    return values[-1] if values else default


def _signed(value):
    """An int64 field's varint as the signed number it stands for."""
    return value - (1 << 64) if value >= (1 << 63) else value


def _text(found, field):
    return _last(found, field, b"").decode("utf-8", "replace")


def _repeated_varints(found, field):
    """A repeated integer field, packed (proto3's default) or not."""
    out = []
    for value in found.get(field, []):
        if isinstance(value, int):
            out.append(value)
            continue
        position = 0
        while position < len(value):
            item, position = _read_varint(value, position)
            out.append(item)
    return out


def _chat_message(data):
    message = named_fields("ChatMessage", data)
    return {"id": _last(message, "id", 0), "from": _text(message, "from"),
            "to": _text(message, "to"), "text": _text(message, "text"),
            "read": bool(_last(message, "read", 0))}


def _status(data):
    status = named_fields("NodeStatus", data)
    role = _last(status, "role", 0)
    return {
        "id": _last(status, "id", 0),
        "role": ROLE_NAMES[role] if role < len(ROLE_NAMES) else "Role%d" % role,
        "term": _last(status, "term", 0),
        "leader": _last(status, "leader_id", 0) or None,
        "commit_index": _last(status, "commit_index", 0),
        "applied_index": _last(status, "applied_index", 0),
        "last_index": _last(status, "last_index", 0),
        "members": _repeated_varints(status, "members"),
        # absent when the broker does not compute hashes (yet)
        "state_hash": _last(status, "state_hash", None),
        # with the detail: each topic's queue, in creation order
        "topics": [_topic_status(data) for data in
                   named_fields("StatusDetail", status["detail"][-1]).get("topics", [])]
        if "detail" in status else None,
    }


def _topic_status(data):
    topic = named_fields("TopicStatus", data)
    counts = {name: _last(topic, name, 0) for name in
              ("ready", "reserved", "delayed", "dead_lettered", "max_deliveries")}
    return dict(counts, name=_text(topic, "name"), dead_letter=_text(topic, "dead_letter"))


def _result(found, field, message):
    """The submessage in result field of a Reply, decoded as message; None
    when the reply does not carry it."""
    return named_fields(message, found[field][-1]) if field in found else None


def _add_results(found, reply):
    """Adds to reply what its result fields carry."""
    published = _result(found, "published", "Published")
    if published is not None:
        reply["sequence"] = _last(published, "sequence", 0)
    popped = _result(found, "popped", "Popped")
    if popped is not None:
        reply["payload"] = _last(popped, "payload", b"")
        reply["sequence"] = _last(popped, "sequence", 0)
        if "original_topic" in popped:
            reply["original_topic"] = _text(popped, "original_topic")
            reply["original_deliveries"] = _last(popped, "deliveries", 0)
    reserved = _result(found, "reserved", "Reserved")
    if reserved is not None:
        reply["payload"] = _last(reserved, "payload", b"")
        reply["sequence"] = _last(reserved, "sequence", 0)
        reply["receipt"] = _text(reserved, "receipt")
        reply["deliveries"] = _last(reserved, "deliveries", 0)
        reply["visible_at_ms"] = _signed(_last(reserved, "visible_at_ms", 0))
        if "original_topic" in reserved:
            reply["original_topic"] = _text(reserved, "original_topic")
            reply["original_deliveries"] = _last(reserved, "original_deliveries", 0)
    if "status" in found:
        reply["status"] = _status(found["status"][-1])
    session = _result(found, "session", "Session")
    if session is not None:
        reply["token"] = _text(session, "token")
        reply["unread"] = _last(session, "unread", 0)
    topics = _result(found, "topics", "TopicList")
    if topics is not None:
        reply["topics"] = [name.decode("utf-8", "replace") for name in topics.get("names", [])]
    sent = _result(found, "sent", "MessageSent")
    if sent is not None:
        reply["message_id"] = _last(sent, "id", 0)
    page = _result(found, "page", "MessagePage")
    if page is not None:
        reply["messages"] = [_chat_message(data) for data in page.get("messages", [])]
        reply["total"] = _last(page, "total", 0)
        reply["remaining"] = _last(page, "remaining", 0)


def decode_reply(body):
    """A raftq.Reply as a dict: code (name), error, leader_id, index,
    retry_after_ms (0 unless a throttle refused), and
    per result: sequence and payload (published/popped/reserved), receipt,
    deliveries and visible_at_ms (reserved), original_topic and
    original_deliveries (a dead letter), status, token and
    unread (session), topics (a topic list), message_id (sent), or messages, total and remaining
    (page). ValueError if body is not a protobuf Reply."""
    if body[:1] == b"{":
        raise ValueError("a JSON reply to a protobuf request: %r" % body[:120])
    found = named_fields("Reply", body)
    reply = {"code": code_name(_last(found, "code", 0)),
             "error": _text(found, "error"),
             "leader_id": _last(found, "leader_id", 0),
             "index": _last(found, "index", 0),
             "retry_after_ms": _last(found, "retry_after_ms", 0)}
    _add_results(found, reply)
    return reply


# --- checking the numbers against the .proto ---------------------------------

_TOKEN = re.compile(r"[A-Za-z_][\w.]*|\d+|[{}=;<>,\[\]()]|\"[^\"]*\"")


def parse_proto(text):
    """The messages and enums of a .proto file (proto3, as raftq writes it:
    messages with scalar, message, enum and repeated fields, oneofs; no
    nesting): ({message: {field: (number, type)}}, {enum: {name: number}})."""
    tokens = _TOKEN.findall(re.sub(r"//[^\n]*|/\*.*?\*/", " ", text, flags=re.S))
    messages, enums = {}, {}
    position = 0
    while position < len(tokens):
        kind = tokens[position]
        if kind in ("message", "enum"):
            name = tokens[position + 1]
            body, position = _block(tokens, position + 2)
            if kind == "message":
                messages[name] = _message_fields(body)
            else:
                enums[name] = {body[at]: int(body[at + 2]) for at in range(0, len(body), 4)}
        else:
            position += 1
    return messages, enums


def _block(tokens, position):
    """The tokens between the brace at position and its match, and the
    position after it."""
    if tokens[position] != "{":
        raise ValueError("expected '{' in the .proto, found %r" % tokens[position])
    depth, start = 0, position + 1
    while True:
        depth += {"{": 1, "}": -1}.get(tokens[position], 0)
        if depth == 0:
            return tokens[start:position], position + 1
        position += 1


def _message_fields(body):
    """{field: (number, type)} of a message body's tokens; a oneof's fields
    count as the message's own."""
    found = {}
    statement = []
    for token in body:
        if token in ("{", "}") or (token == "oneof" and not statement):
            statement = []
            continue
        statement.append(token)
        if token == ";":
            # [repeated] TYPE NAME = NUMBER [options] ;
            equals = statement.index("=")
            name, field_number = statement[equals - 1], int(statement[equals + 1])
            found[name] = (field_number, " ".join(statement[:equals - 1]))
            statement = []
    return found


def check_proto(path=PROTO_PATH, text=None):
    """Every field and enum value this module uses, against the .proto at
    path (or its text): a list of the mismatches, empty when all agree."""
    if text is None:
        with open(path, encoding="utf-8") as proto:
            text = proto.read()
    messages, enums = parse_proto(text)
    problems = []
    for message, used in MESSAGES.items():
        declared = messages.get(message)
        if declared is None:
            problems.append("message %s is not in the .proto" % message)
            continue
        for field, entry in used.items():
            if declared.get(field) != entry:
                problems.append("%s.%s: this module uses %s, the .proto says %s"
                                % (message, field, entry, declared.get(field, "nothing")))
    for enum, names in ENUMS.items():
        expected = {name: value for value, name in enumerate(names)}
        if enums.get(enum) != expected:
            problems.append("enum %s: this module uses %s, the .proto says %s"
                            % (enum, expected, enums.get(enum, "nothing")))
    return problems
