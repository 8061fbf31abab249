"""wire — the few raftq.Request and raftq.Reply messages the chaos clients
send and read (proto/raftq.proto), encoded by hand: Debian's python3 has no
protobuf-c bindings and the chaos tool must not need a protoc step. Queue:
CreateTopic, Publish, Pop; chat: CreateAccount, Login, SendMessage,
ReadMessages (the session token in Request.token); admin: AddNode,
RemoveNode; and Status.

Why protobuf and not the JSON dialect: a strict RRMQ reply to a failed
publish or pop is exactly {"success": false}, which cannot tell NOT_LEADER
(certainly not applied) from TIMEOUT (outcome unknown). The checker needs
that difference, and raftq.Reply carries it in its code.
"""

# raftq.Code, by number (proto/raftq.proto)
CODE_NAMES = ["OK", "NOT_LEADER", "NO_LEADER", "NOT_FOUND", "ALREADY_EXISTS", "EMPTY",
              "INVALID_ARGUMENT", "UNAUTHENTICATED", "PERMISSION_DENIED", "TOO_LARGE",
              "TIMEOUT", "UNAVAILABLE", "INTERNAL"]
ROLE_NAMES = ["Follower", "Candidate", "Leader"]

# field numbers of raftq.Request
REQUEST_CLIENT_ID, REQUEST_SEQ, REQUEST_TOKEN = 1, 2, 3
REQUEST_CREATE_TOPIC, REQUEST_PUBLISH, REQUEST_POP, REQUEST_STATUS = 10, 12, 13, 14
REQUEST_CREATE_ACCOUNT, REQUEST_LOGIN, REQUEST_SEND_MESSAGE, REQUEST_READ_MESSAGES = 20, 22, 25, 26
REQUEST_ADD_NODE, REQUEST_REMOVE_NODE = 40, 41
# field numbers of raftq.Reply
REPLY_CODE, REPLY_ERROR, REPLY_LEADER_ID, REPLY_INDEX = 1, 2, 3, 5
REPLY_PUBLISHED, REPLY_POPPED, REPLY_STATUS = 11, 12, 13
REPLY_SESSION, REPLY_SENT, REPLY_PAGE = 16, 18, 19
# field numbers of raftq.NodeStatus
STATUS_MEMBERS, STATUS_HASH = 8, 9

WIRE_VARINT, WIRE_FIXED64, WIRE_BYTES, WIRE_FIXED32 = 0, 1, 2, 5


def code_name(code):
    return CODE_NAMES[code] if 0 <= code < len(CODE_NAMES) else "CODE_%d" % code


# --- encoding ---------------------------------------------------------------

def _varint(value):
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _field_varint(number, value):
    return _varint((number << 3) | WIRE_VARINT) + _varint(value)


def _field_bytes(number, data):
    if isinstance(data, str):
        data = data.encode("utf-8")
    return _varint((number << 3) | WIRE_BYTES) + _varint(len(data)) + data


def _request(client_id, seq, op_number, op_body, token=None):
    head = b""
    if client_id:
        head += _field_varint(REQUEST_CLIENT_ID, client_id)
    if seq:
        head += _field_varint(REQUEST_SEQ, seq)
    if token:
        head += _field_bytes(REQUEST_TOKEN, token)
    return head + _field_bytes(op_number, op_body)


def publish_request(client_id, seq, topic, payload):
    return _request(client_id, seq, REQUEST_PUBLISH, _field_bytes(1, topic) + _field_bytes(2, payload))


def pop_request(client_id, seq, topic):
    return _request(client_id, seq, REQUEST_POP, _field_bytes(1, topic))


def create_topic_request(client_id, seq, name):
    return _request(client_id, seq, REQUEST_CREATE_TOPIC, _field_bytes(1, name))


def status_request(with_hash=False):
    return _request(0, 0, REQUEST_STATUS, _field_varint(1, 1) if with_hash else b"")


def create_account_request(client_id, seq, user, password):
    return _request(client_id, seq, REQUEST_CREATE_ACCOUNT, _field_bytes(1, user) + _field_bytes(2, password))


def login_request(client_id, seq, user, password):
    return _request(client_id, seq, REQUEST_LOGIN, _field_bytes(1, user) + _field_bytes(2, password))


def send_message_request(client_id, seq, token, to, text):
    return _request(client_id, seq, REQUEST_SEND_MESSAGE, _field_bytes(1, to) + _field_bytes(2, text), token)


def read_messages_request(client_id, seq, token, partner, page, page_size):
    """partner "" lists the caller's unread messages (and marks them read)."""
    body = (_field_bytes(1, partner) if partner else b"") + _field_varint(2, page) + _field_varint(3, page_size)
    return _request(client_id, seq, REQUEST_READ_MESSAGES, body, token)


def add_node_request(client_id, seq, node_id, host, client_port, peer_port, pub_port):
    body = (_field_varint(1, node_id) + _field_bytes(2, host) + _field_varint(3, client_port)
            + _field_varint(4, peer_port) + (_field_varint(5, pub_port) if pub_port else b""))
    return _request(client_id, seq, REQUEST_ADD_NODE, body)


def remove_node_request(client_id, seq, node_id):
    return _request(client_id, seq, REQUEST_REMOVE_NODE, _field_varint(1, node_id))


# --- decoding ---------------------------------------------------------------

def fields(data):
    """One protobuf message as {field number: [values]}: ints for varint and
    fixed fields, bytes for length-delimited ones. ValueError if malformed."""
    found = {}
    position = 0

    def varint():
        nonlocal position
        value, shift = 0, 0
        while True:
            if position >= len(data) or shift > 63:
                raise ValueError("truncated varint")
            byte = data[position]
            position += 1
            value |= (byte & 0x7F) << shift
            shift += 7
            if not byte & 0x80:
                return value

    while position < len(data):
        key = varint()
        number, wire = key >> 3, key & 7
        if number == 0:
            raise ValueError("field number 0")
        if wire == WIRE_VARINT:
            value = varint()
        elif wire in (WIRE_FIXED64, WIRE_FIXED32):
            width = 8 if wire == WIRE_FIXED64 else 4
            if position + width > len(data):
                raise ValueError("truncated fixed field")
            value = int.from_bytes(data[position:position + width], "little")
            position += width
        elif wire == WIRE_BYTES:
            length = varint()
            if position + length > len(data):
                raise ValueError("truncated bytes field")
            value = data[position:position + length]
            position += length
        else:
            raise ValueError("wire type %d" % wire)
        found.setdefault(number, []).append(value)
    return found


def _last(found, number, default):
    values = found.get(number)
    return values[-1] if values else default


def _text(found, number):
    return _last(found, number, b"").decode("utf-8", "replace")


def _repeated_varints(found, number):
    """A repeated integer field, packed (proto3's default) or not."""
    out = []
    for value in found.get(number, []):
        if isinstance(value, int):
            out.append(value)
            continue
        position = 0
        while position < len(value):
            item, shift = 0, 0
            while True:
                if position >= len(value) or shift > 63:
                    raise ValueError("malformed packed varint")
                byte = value[position]
                position += 1
                item |= (byte & 0x7F) << shift
                shift += 7
                if not byte & 0x80:
                    break
            out.append(item)
    return out


def _chat_message(data):
    message = fields(data)
    return {"id": _last(message, 1, 0), "from": _text(message, 2), "to": _text(message, 3),
            "text": _text(message, 4), "read": bool(_last(message, 6, 0))}


def decode_reply(body):
    """A raftq.Reply as a dict: code (name), error, leader_id, index, and
    per result: sequence and payload (published/popped), status, token and
    unread (session), message_id (sent), or messages, total and remaining
    (page). ValueError if body is not a protobuf Reply."""
    if body[:1] == b"{":
        raise ValueError("a JSON reply to a protobuf request: %r" % body[:120])
    found = fields(body)
    reply = {"code": code_name(_last(found, REPLY_CODE, 0)),
             "error": _last(found, REPLY_ERROR, b"").decode("utf-8", "replace"),
             "leader_id": _last(found, REPLY_LEADER_ID, 0),
             "index": _last(found, REPLY_INDEX, 0)}
    if REPLY_PUBLISHED in found:
        published = fields(found[REPLY_PUBLISHED][-1])
        reply["sequence"] = _last(published, 2, 0)
    if REPLY_POPPED in found:
        popped = fields(found[REPLY_POPPED][-1])
        reply["payload"] = _last(popped, 2, b"")
        reply["sequence"] = _last(popped, 3, 0)
    if REPLY_STATUS in found:
        status = fields(found[REPLY_STATUS][-1])
        role = _last(status, 2, 0)
        reply["status"] = {
            "id": _last(status, 1, 0),
            "role": ROLE_NAMES[role] if role < len(ROLE_NAMES) else "Role%d" % role,
            "term": _last(status, 3, 0),
            "leader": _last(status, 4, 0) or None,
            "commit_index": _last(status, 5, 0),
            "applied_index": _last(status, 6, 0),
            "last_index": _last(status, 7, 0),
            "members": _repeated_varints(status, STATUS_MEMBERS),
            # absent when the broker does not compute hashes (yet)
            "state_hash": _last(status, STATUS_HASH, None),
        }
    if REPLY_SESSION in found:
        session = fields(found[REPLY_SESSION][-1])
        reply["token"] = _text(session, 1)
        reply["unread"] = _last(session, 2, 0)
    if REPLY_SENT in found:
        reply["message_id"] = _last(fields(found[REPLY_SENT][-1]), 1, 0)
    if REPLY_PAGE in found:
        page = fields(found[REPLY_PAGE][-1])
        reply["messages"] = [_chat_message(data) for data in page.get(1, [])]
        reply["total"] = _last(page, 2, 0)
        reply["remaining"] = _last(page, 3, 0)
    return reply
