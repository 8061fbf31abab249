/*  raft_pipe — owns the encoding and decoding of every message on the pipe
    between the broker and the Raft actor. See raft_pipe.h, and raft_actor.h
    for the messages.
*/
#include "replica/raft_pipe.h"

#include "util/little_endian.h"
#include "util/must.h"

//  Sizes of the fixed pipe frames (see raft_actor.h).
#define COMMITTED_HEADER_SIZE 16
#define ENTRY_HEADER_SIZE     21 //  [index u64][term u64][type u8][size u32]
#define PROPOSAL_HEADER_SIZE  12 //  [ticket u64][size u32]
#define STATE_SIZE            29
#define TICKET_SIZE           8
#define LEADER_SIZE           4
#define ADMIN_HEADER_SIZE     9
#define PROGRESS_HEADER_SIZE  32
#define PROGRESS_MATCH_SIZE   12
#define READ_SETTLED_SIZE     17

zframe_t *
raft_pipe_u64_frame (uint64_t value)
{
    uint8_t bytes[8];
    little_endian_put_u64 (bytes, value);
    return zframe_new (bytes, sizeof (bytes));
}

//  The u64 a frame holds; -1 if it is not 8 bytes.
static int
s_u64_of (zframe_t *frame, uint64_t *value)
{
    if (!frame || zframe_size (frame) != 8)
        return -1;
    *value = little_endian_get_u64 (zframe_data (frame));
    return 0;
}

struct _raft_pipe_batch_t {
    uint8_t *data;   //  the records, owned
    size_t size;     //  bytes used
    size_t capacity; //  bytes allocated
    size_t count;    //  records in it
};

raft_pipe_batch_t *
raft_pipe_batch_new (void)
{
    return (raft_pipe_batch_t *)must_zalloc (sizeof (raft_pipe_batch_t));
}

void
raft_pipe_batch_destroy (raft_pipe_batch_t **self_p)
{
    if (*self_p) {
        free ((*self_p)->data);
        free (*self_p);
        *self_p = NULL;
    }
}

size_t
raft_pipe_batch_count (raft_pipe_batch_t *self)
{
    return self->count;
}

//  Room for size more bytes at the end of the batch: where they go.
static uint8_t *
s_batch_extend (raft_pipe_batch_t *self, size_t size)
{
    if (self->size + size > self->capacity) {
        size_t capacity = self->capacity ? self->capacity : 4096;
        while (capacity < self->size + size)
            capacity *= 2;
        self->data = (uint8_t *)must_realloc (self->data, capacity);
        self->capacity = capacity;
    }
    uint8_t *target = self->data + self->size;
    self->size += size;
    self->count++;
    return target;
}

//  The record at *offset of a records frame, which it moves past: a
//  header_size-byte header ending in the payload's size (u32), then the
//  payload. Returns 1 with *record at its header and *payload_size set,
//  0 at the frame's end, -1 when it is cut short or claims more than the
//  frame holds.
static int
s_next_record (zframe_t *records, size_t *offset, size_t header_size, uint8_t **record,
               size_t *payload_size)
{
    size_t left = (records ? zframe_size (records) : 0) - *offset;
    if (left == 0)
        return 0;
    if (left < header_size)
        return -1;
    uint8_t *source = zframe_data (records) + *offset;
    uint32_t size = little_endian_get_u32 (source + header_size - 4);
    if (left - header_size < size)
        return -1;
    *record = source;
    *payload_size = size;
    *offset += header_size + size;
    return 1;
}

//  Appends the batch's records to message as one frame, and empties it
//  (its memory stays for the next message).
static void
s_batch_move_to (raft_pipe_batch_t *self, zmsg_t *message)
{
    zmsg_addmem (message, self->data, self->size);
    self->size = 0;
    self->count = 0;
}

//  A member as one pipe frame: the struct itself, as both ends are threads
//  of one process built from one source.
static zframe_t *
s_member_frame (const raft_member_t *member)
{
    return zframe_new (member, sizeof (raft_member_t));
}

//  Decodes s_member_frame's frame; -1 if it is malformed.
static int
s_member_decode (zframe_t *frame, raft_member_t *member)
{
    memset (member, 0, sizeof (*member));
    if (!frame || zframe_size (frame) != sizeof (raft_member_t))
        return -1;
    memcpy (member, zframe_data (frame), sizeof (raft_member_t));
    return memchr (member->host, 0, sizeof (member->host)) &&
                   memchr (member->peer_host, 0, sizeof (member->peer_host))
               ? 0
               : -1;
}

//  Sends command then one frame of body.
static int
s_send_body (zsock_t *pipe, const char *command, const void *body, size_t size)
{
    zmsg_t *message = zmsg_new ();
    zmsg_addstr (message, command);
    zmsg_addmem (message, body, size);
    return zmsg_send (&message, pipe);
}

//  --------------------------------------------------------------------------
//  broker -> actor

void
raft_pipe_add_proposal (raft_pipe_batch_t *batch, uint64_t ticket, zframe_t **payload_p)
{
    size_t size = zframe_size (*payload_p);
    uint8_t *target = s_batch_extend (batch, PROPOSAL_HEADER_SIZE + size);
    little_endian_put_u64 (target, ticket);
    little_endian_put_u32 (target + 8, (uint32_t)size);
    if (size)
        memcpy (target + PROPOSAL_HEADER_SIZE, zframe_data (*payload_p), size);
    zframe_destroy (payload_p);
}

int
raft_pipe_send_proposals (zsock_t *pipe, raft_pipe_batch_t *batch)
{
    if (batch->count == 0)
        return 0;
    zmsg_t *message = zmsg_new ();
    zmsg_addstr (message, "PROPOSE");
    s_batch_move_to (batch, message);
    return zmsg_send (&message, pipe);
}

int
raft_pipe_next_proposal (zframe_t *records, size_t *offset, uint64_t *ticket, const uint8_t **data,
                         size_t *size)
{
    uint8_t *record;
    int found = s_next_record (records, offset, PROPOSAL_HEADER_SIZE, &record, size);
    if (found == 1) {
        *ticket = little_endian_get_u64 (record);
        *data = record + PROPOSAL_HEADER_SIZE;
    }
    return found;
}

void
raft_pipe_add_read (zmsg_t **batch_p, uint64_t ticket)
{
    if (!*batch_p) {
        *batch_p = zmsg_new ();
        zmsg_addstr (*batch_p, "READ");
    }
    zframe_t *ticket_frame = raft_pipe_u64_frame (ticket);
    zmsg_append (*batch_p, &ticket_frame);
}

int
raft_pipe_next_read (zmsg_t *message, uint64_t *ticket)
{
    zframe_t *frame = zmsg_next (message);
    if (!frame)
        return 0;
    return s_u64_of (frame, ticket) ? -1 : 1;
}

int
raft_pipe_send_compact (zsock_t *pipe, uint64_t index, uint64_t term)
{
    uint8_t body[16];
    little_endian_put_u64 (body, index);
    little_endian_put_u64 (body + 8, term);
    zmsg_t *message = zmsg_new ();
    zmsg_addstr (message, "COMPACT");
    zmsg_addmem (message, body, 8);
    zmsg_addmem (message, body + 8, 8);
    return zmsg_send (&message, pipe);
}

int
raft_pipe_decode_compact (zmsg_t *message, uint64_t *index, uint64_t *term)
{
    return s_u64_of (zmsg_first (message), index) || s_u64_of (zmsg_next (message), term) ? -1 : 0;
}

int
raft_pipe_send_admin (zsock_t *pipe, uint64_t ticket, raft_actor_admin_kind_t kind,
                      const raft_member_t *member)
{
    uint8_t header[ADMIN_HEADER_SIZE];
    little_endian_put_u64 (header, ticket);
    header[8] = (uint8_t)kind;
    zmsg_t *message = zmsg_new ();
    zmsg_addstr (message, "ADMIN");
    zmsg_addmem (message, header, sizeof (header));
    zframe_t *frame = s_member_frame (member);
    zmsg_append (message, &frame);
    return zmsg_send (&message, pipe);
}

int
raft_pipe_decode_admin (zmsg_t *message, uint64_t *ticket, uint8_t *kind, raft_member_t *member)
{
    zframe_t *header = zmsg_first (message);
    if (!header || zframe_size (header) != ADMIN_HEADER_SIZE ||
        s_member_decode (zmsg_next (message), member))
        return -1;
    *ticket = little_endian_get_u64 (zframe_data (header));
    *kind = zframe_data (header)[8];
    return 0;
}

//  --------------------------------------------------------------------------
//  actor -> broker: encoding

int
raft_pipe_send_ready (zsock_t *pipe)
{
    return zstr_send (pipe, "READY");
}

int
raft_pipe_recv_ready (zsock_t *pipe)
{
    //  "READY" or "FAILED", alone
    zmsg_t *reply = zmsg_recv (pipe);
    char *status = reply ? zmsg_popstr (reply) : NULL;
    bool ready = status && streq (status, "READY") && zmsg_size (reply) == 0;
    zstr_free (&status);
    zmsg_destroy (&reply);
    return ready ? 0 : -1;
}

void
raft_pipe_add_committed (raft_pipe_batch_t *batch, const raft_entry_t *entries, size_t count)
{
    for (size_t position = 0; position < count; position++) {
        const raft_entry_t *entry = &entries[position];
        uint8_t *target = s_batch_extend (batch, ENTRY_HEADER_SIZE + entry->size);
        little_endian_put_u64 (target, entry->index);
        little_endian_put_u64 (target + 8, entry->term);
        target[16] = entry->type;
        little_endian_put_u32 (target + 17, (uint32_t)entry->size);
        if (entry->size)
            memcpy (target + ENTRY_HEADER_SIZE, entry->data, entry->size);
    }
}

void
raft_pipe_send_committed (zsock_t *pipe, raft_pipe_batch_t *batch, uint64_t commit, uint64_t last)
{
    if (batch->count == 0)
        return;
    uint8_t header[COMMITTED_HEADER_SIZE];
    little_endian_put_u64 (header, commit);
    little_endian_put_u64 (header + 8, last);
    zmsg_t *message = zmsg_new ();
    zmsg_addstr (message, "COMMITTED");
    zmsg_addmem (message, header, sizeof (header));
    s_batch_move_to (batch, message);
    zmsg_send (&message, pipe);
}

void
raft_pipe_send_rejected (zsock_t *pipe, zmsg_t **tickets_p, uint32_t leader)
{
    if (!*tickets_p)
        return;
    uint8_t leader_bytes[LEADER_SIZE];
    little_endian_put_u32 (leader_bytes, leader);
    zmsg_pushmem (*tickets_p, leader_bytes, sizeof (leader_bytes));
    zmsg_pushstr (*tickets_p, "REJECTED");
    zmsg_send (tickets_p, pipe);
}

void
raft_pipe_add_read_settled (zmsg_t **message_p, const raft_read_t *read)
{
    if (!*message_p) {
        *message_p = zmsg_new ();
        zmsg_addstr (*message_p, "READS");
    }
    uint8_t body[READ_SETTLED_SIZE];
    little_endian_put_u64 (body, read->id);
    little_endian_put_u64 (body + 8, read->index);
    body[16] = (uint8_t)read->outcome;
    zmsg_addmem (*message_p, body, sizeof (body));
}

void
raft_pipe_send_reads (zsock_t *pipe, zmsg_t **message_p)
{
    if (*message_p)
        zmsg_send (message_p, pipe);
}

void
raft_pipe_send_admined (zsock_t *pipe, uint64_t ticket, bool accepted, uint32_t leader)
{
    uint8_t body[ADMIN_HEADER_SIZE + LEADER_SIZE];
    little_endian_put_u64 (body, ticket);
    body[8] = accepted ? 1 : 0;
    little_endian_put_u32 (body + 9, leader);
    s_send_body (pipe, "ADMINED", body, sizeof (body));
}

void
raft_pipe_send_members (zsock_t *pipe, uint64_t config_index, const raft_member_t *members,
                        size_t count)
{
    zmsg_t *message = zmsg_new ();
    zmsg_addstr (message, "MEMBERS");
    zframe_t *index = raft_pipe_u64_frame (config_index);
    zmsg_append (message, &index);
    for (size_t position = 0; position < count; position++) {
        zframe_t *frame = s_member_frame (&members[position]);
        zmsg_append (message, &frame);
    }
    zmsg_send (&message, pipe);
}

void
raft_pipe_send_installed (zsock_t *pipe, uint64_t index)
{
    zmsg_t *message = zmsg_new ();
    zmsg_addstr (message, "INSTALLED");
    zframe_t *frame = raft_pipe_u64_frame (index);
    zmsg_append (message, &frame);
    zmsg_send (&message, pipe);
}

void
raft_pipe_send_state (zsock_t *pipe, raft_role_t role, uint64_t term, uint32_t leader,
                      uint64_t commit, uint64_t last)
{
    uint8_t body[STATE_SIZE];
    body[0] = (uint8_t)role;
    little_endian_put_u64 (body + 1, term);
    little_endian_put_u32 (body + 9, leader);
    little_endian_put_u64 (body + 13, commit);
    little_endian_put_u64 (body + 21, last);
    s_send_body (pipe, "STATE", body, sizeof (body));
}

zframe_t *
raft_pipe_progress_frame (const raft_actor_progress_t *progress)
{
    zframe_t *frame =
        zframe_new (NULL, PROGRESS_HEADER_SIZE + progress->match_count * PROGRESS_MATCH_SIZE);
    if (!frame)
        return NULL;
    uint8_t *target = zframe_data (frame);
    little_endian_put_u64 (target, progress->snapshot_index);
    little_endian_put_u64 (target + 8, progress->snapshot_term);
    little_endian_put_u64 (target + 16, progress->first_index);
    little_endian_put_u64 (target + 24, progress->log_bytes);
    for (size_t position = 0; position < progress->match_count; position++) {
        uint8_t *match = target + PROGRESS_HEADER_SIZE + position * PROGRESS_MATCH_SIZE;
        little_endian_put_u32 (match, progress->matches[position].id);
        little_endian_put_u64 (match + 4, progress->matches[position].match_index);
    }
    return frame;
}

void
raft_pipe_send_progress (zsock_t *pipe, zframe_t **body_p)
{
    zmsg_t *message = zmsg_new ();
    zmsg_addstr (message, "PROGRESS");
    zmsg_append (message, body_p);
    zmsg_send (&message, pipe);
}

//  --------------------------------------------------------------------------
//  actor -> broker: decoding

//  ADMINED: [ticket][accepted][leader] in one frame.
static int
s_decode_admined (zmsg_t *message, raft_actor_event_t *event)
{
    zframe_t *body = zmsg_first (message);
    if (!body || zframe_size (body) != ADMIN_HEADER_SIZE + LEADER_SIZE)
        return -1;
    const uint8_t *source = zframe_data (body);
    event->ticket = little_endian_get_u64 (source);
    event->accepted = source[8] != 0;
    event->leader_id = little_endian_get_u32 (source + 9);
    return 0;
}

//  MEMBERS: [config index] then one [member] frame per member.
static int
s_decode_members (zmsg_t *message, raft_actor_event_t *event)
{
    if (s_u64_of (zmsg_first (message), &event->config_index))
        return -1;
    size_t count = zmsg_size (message) - 1;
    if (count == 0)
        return 0;
    event->members = calloc (count, sizeof (raft_member_t));
    if (!event->members)
        return -1;
    for (zframe_t *frame = zmsg_next (message); frame; frame = zmsg_next (message))
        if (s_member_decode (frame, &event->members[event->member_count++]))
            return -1;
    return 0;
}

//  COMMITTED: [commit][last] then one frame of [index][term][type][size]
//  [payload] records; the entries point into that frame.
static int
s_decode_committed (zmsg_t *message, raft_actor_event_t *event)
{
    zframe_t *header = zmsg_first (message);
    zframe_t *records = zmsg_next (message);
    if (!header || zframe_size (header) != COMMITTED_HEADER_SIZE || !records ||
        zmsg_size (message) != 2)
        return -1;
    event->commit_index = little_endian_get_u64 (zframe_data (header));
    event->last_index = little_endian_get_u64 (zframe_data (header) + 8);
    size_t offset = 0, capacity = 0, size;
    uint8_t *record;
    int found;
    while ((found = s_next_record (records, &offset, ENTRY_HEADER_SIZE, &record, &size)) == 1) {
        if (event->entry_count == capacity) {
            //  Most batches are small; the frame bounds the count anyway
            capacity = capacity ? capacity * 2 : 16;
            raft_entry_t *grown = realloc (event->entries, capacity * sizeof (raft_entry_t));
            if (!grown)
                return -1;
            event->entries = grown;
        }
        raft_entry_t *entry = &event->entries[event->entry_count++];
        entry->index = little_endian_get_u64 (record);
        entry->term = little_endian_get_u64 (record + 8);
        entry->type = record[16];
        entry->size = size;
        entry->data = record + ENTRY_HEADER_SIZE;
    }
    return found;
}

//  REJECTED: [leader] then [ticket] frames.
static int
s_decode_rejected (zmsg_t *message, raft_actor_event_t *event)
{
    zframe_t *leader = zmsg_first (message);
    if (!leader || zframe_size (leader) != LEADER_SIZE)
        return -1;
    event->leader_id = little_endian_get_u32 (zframe_data (leader));
    size_t count = zmsg_size (message) - 1;
    if (count == 0)
        return 0;
    event->tickets = calloc (count, sizeof (uint64_t));
    if (!event->tickets)
        return -1;
    for (zframe_t *frame = zmsg_next (message); frame; frame = zmsg_next (message)) {
        if (zframe_size (frame) != TICKET_SIZE)
            return -1;
        event->tickets[event->ticket_count++] = little_endian_get_u64 (zframe_data (frame));
    }
    return 0;
}

//  READS: one [ticket][index][outcome] frame per read settled.
static int
s_decode_reads (zmsg_t *message, raft_actor_event_t *event)
{
    size_t count = zmsg_size (message);
    if (count == 0)
        return -1;
    event->reads = calloc (count, sizeof (raft_read_t));
    if (!event->reads)
        return -1;
    for (zframe_t *frame = zmsg_first (message); frame; frame = zmsg_next (message)) {
        if (zframe_size (frame) != READ_SETTLED_SIZE ||
            zframe_data (frame)[16] > RAFT_READ_NOT_LEADER)
            return -1;
        raft_read_t *read = &event->reads[event->read_count++];
        read->id = little_endian_get_u64 (zframe_data (frame));
        read->index = little_endian_get_u64 (zframe_data (frame) + 8);
        read->outcome = (raft_read_outcome_t)zframe_data (frame)[16];
    }
    return 0;
}

//  STATE: [role][term][leader][commit][last] in one frame.
static int
s_decode_state (zmsg_t *message, raft_actor_event_t *event)
{
    zframe_t *body = zmsg_first (message);
    if (!body || zframe_size (body) != STATE_SIZE || zmsg_size (message) != 1)
        return -1;
    const uint8_t *source = zframe_data (body);
    if (source[0] > RAFT_ROLE_LEADER)
        return -1;
    event->role = (raft_role_t)source[0];
    event->term = little_endian_get_u64 (source + 1);
    event->leader_id = little_endian_get_u32 (source + 9);
    event->commit_index = little_endian_get_u64 (source + 13);
    event->last_index = little_endian_get_u64 (source + 21);
    return 0;
}

void
raft_pipe_send_metrics (zsock_t *pipe, uint64_t entries_written, uint64_t dropped_sends,
                        const metric_histogram_t *fsync_seconds)
{
    zmsg_t *message = zmsg_new ();
    zmsg_addstr (message, "METRICS");
    zframe_t *frame = raft_pipe_u64_frame (entries_written);
    zmsg_append (message, &frame);
    frame = raft_pipe_u64_frame (dropped_sends);
    zmsg_append (message, &frame);
    frame = zframe_new (NULL, metric_histogram_packed_size (fsync_seconds));
    metric_histogram_pack (fsync_seconds, zframe_data (frame));
    zmsg_append (message, &frame);
    zmsg_send (&message, pipe);
}

//  METRICS: [entries written][dropped sends][fsync histogram], the
//  histogram borrowed from the message (its receiver checks its size).
static int
s_decode_metrics (zmsg_t *message, raft_actor_event_t *event)
{
    if (zmsg_size (message) != 3 ||
        s_u64_of (zmsg_first (message), &event->metrics.entries_written) ||
        s_u64_of (zmsg_next (message), &event->metrics.dropped_sends))
        return -1;
    zframe_t *histogram = zmsg_next (message);
    event->metrics.fsync_histogram = zframe_data (histogram);
    event->metrics.fsync_histogram_size = zframe_size (histogram);
    return 0;
}

//  INSTALLED: [snapshot index].
static int
s_decode_installed (zmsg_t *message, raft_actor_event_t *event)
{
    if (zmsg_size (message) != 1)
        return -1;
    return s_u64_of (zmsg_first (message), &event->snapshot_index);
}

//  PROGRESS: [snapshot index][snapshot term][first index][log bytes] then
//  [id][match] per member, in one frame.
static int
s_decode_progress (zmsg_t *message, raft_actor_event_t *event, raft_actor_progress_t *progress)
{
    zframe_t *body = zmsg_first (message);
    if (!body || zmsg_size (message) != 1 || zframe_size (body) < PROGRESS_HEADER_SIZE ||
        (zframe_size (body) - PROGRESS_HEADER_SIZE) % PROGRESS_MATCH_SIZE)
        return -1;
    const uint8_t *source = zframe_data (body);
    size_t count = (zframe_size (body) - PROGRESS_HEADER_SIZE) / PROGRESS_MATCH_SIZE;
    raft_actor_match_t *matches = NULL;
    if (count && !(matches = calloc (count, sizeof (raft_actor_match_t))))
        return -1;
    for (size_t position = 0; position < count; position++) {
        const uint8_t *match = source + PROGRESS_HEADER_SIZE + position * PROGRESS_MATCH_SIZE;
        matches[position].id = little_endian_get_u32 (match);
        matches[position].match_index = little_endian_get_u64 (match + 4);
    }
    free (progress->matches);
    progress->snapshot_index = little_endian_get_u64 (source);
    progress->snapshot_term = little_endian_get_u64 (source + 8);
    progress->first_index = little_endian_get_u64 (source + 16);
    progress->log_bytes = little_endian_get_u64 (source + 24);
    progress->matches = matches;
    progress->match_count = count;
    event->progress = progress;
    return 0;
}

int
raft_pipe_decode_event (const char *command, zmsg_t *message, raft_actor_event_t *event,
                        raft_actor_progress_t *progress)
{
    if (!command)
        return -1;
    if (streq (command, "COMMITTED")) {
        event->kind = RAFT_ACTOR_COMMITTED;
        return s_decode_committed (message, event);
    }
    if (streq (command, "REJECTED")) {
        event->kind = RAFT_ACTOR_REJECTED;
        return s_decode_rejected (message, event);
    }
    if (streq (command, "READS")) {
        event->kind = RAFT_ACTOR_READS;
        return s_decode_reads (message, event);
    }
    if (streq (command, "INSTALLED")) {
        event->kind = RAFT_ACTOR_INSTALLED;
        return s_decode_installed (message, event);
    }
    if (streq (command, "STATE")) {
        event->kind = RAFT_ACTOR_STATE;
        return s_decode_state (message, event);
    }
    if (streq (command, "ADMINED")) {
        event->kind = RAFT_ACTOR_ADMINED;
        return s_decode_admined (message, event);
    }
    if (streq (command, "MEMBERS")) {
        event->kind = RAFT_ACTOR_MEMBERS;
        return s_decode_members (message, event);
    }
    if (streq (command, "PROGRESS")) {
        event->kind = RAFT_ACTOR_PROGRESS;
        return s_decode_progress (message, event, progress);
    }
    if (streq (command, "METRICS")) {
        event->kind = RAFT_ACTOR_METRICS;
        return s_decode_metrics (message, event);
    }
    return -1;
}
