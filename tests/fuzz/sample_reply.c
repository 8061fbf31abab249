/*  sample_reply — successful replies carrying the fuzz input; see sample_reply.h.  */
#include "sample_reply.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

//  Large values, so that counters past what JSON integers hold are met too.
#define SAMPLE_BIG_COUNT (UINT64_MAX - 1)

static void
s_fill_lists (sample_reply_t *sample, const uint8_t *bytes, size_t size)
{
    sample->names[0] = sample->text;
    raftq__topic_list__init (&sample->topics);
    sample->topics.names = sample->names;
    sample->topics.n_names = 1;

    raftq__published__init (&sample->published);
    sample->published.topic = sample->text;
    sample->published.sequence = SAMPLE_BIG_COUNT;

    raftq__popped__init (&sample->popped);
    sample->popped.topic = sample->text;
    sample->popped.payload.data = (uint8_t *)bytes;
    sample->popped.payload.len = size;
    sample->popped.sequence = 1;
    raftq__reserved__init (&sample->reserved);
    sample->reserved.topic = sample->text;
    sample->reserved.payload.data = (uint8_t *)bytes;
    sample->reserved.payload.len = size;
    sample->reserved.receipt = sample->text;
    sample->reserved.deliveries = UINT32_MAX;
    sample->reserved.original_topic = sample->text;
    sample->reserved.original_deliveries = UINT32_MAX;

    raftq__event__init (&sample->event);
    sample->event.stream = sample->text;
    sample->event.seq = SAMPLE_BIG_COUNT;
    sample->event.index = 1;
    sample->event.kind = (char *)"publish";
    sample->event.topic = sample->text;
    sample->event.message.data = (uint8_t *)bytes;
    sample->event.message.len = size;
    sample->events[0] = &sample->event;
    raftq__event_list__init (&sample->event_list);
    sample->event_list.events = sample->events;
    sample->event_list.n_events = 1;
}

static void
s_fill_status (sample_reply_t *sample)
{
    raftq__node_status__init (&sample->status);
    sample->members[0] = 1;
    sample->members[1] = 2;
    sample->members[2] = UINT32_MAX;
    sample->status.id = 1;
    sample->status.role = RAFTQ__ROLE__LEADER;
    sample->status.term = SAMPLE_BIG_COUNT;
    sample->status.leader_id = 1;
    sample->status.commit_index = 7;
    sample->status.applied_index = 7;
    sample->status.last_index = 8;
    sample->status.members = sample->members;
    sample->status.n_members = 3;

    //  A voter the leader knows the replication of, and a learner it does not.
    for (size_t index = 0; index < 2; index++) {
        Raftq__MemberStatus *member = &sample->peer[index];
        raftq__member_status__init (member);
        member->id = sample->members[index];
        member->voter = index == 0;
        member->host = sample->text;
        member->client_port = 65535;
        member->peer_port = 1;
        member->replication_known = index == 0;
        member->match_index = SAMPLE_BIG_COUNT;
        member->lag = SAMPLE_BIG_COUNT;
        sample->peers[index] = member;
    }
    raftq__status_detail__init (&sample->detail);
    sample->detail.members = sample->peers;
    sample->detail.n_members = 2;
    sample->detail.config_index = 3;
    sample->detail.snapshot_index = SAMPLE_BIG_COUNT;
    sample->detail.snapshot_term = 2;
    sample->detail.first_index = 1;
    sample->detail.log_bytes = SAMPLE_BIG_COUNT;
    sample->detail.snapshot_bytes = 0;
    raftq__topic_status__init (&sample->topic);
    sample->topic.name = sample->text;
    sample->topic.ready = SAMPLE_BIG_COUNT;
    sample->topic.dead_letter = sample->text;
    sample->topic_list[0] = &sample->topic;
    sample->detail.topics = sample->topic_list;
    sample->detail.n_topics = 1;
    sample->status.detail = &sample->detail;
}

static void
s_fill_chat (sample_reply_t *sample)
{
    raftq__user_exists__init (&sample->user_exists);
    sample->user_exists.exists = true;

    raftq__session__init (&sample->session);
    sample->session.token = sample->text;
    sample->session.unread = SAMPLE_BIG_COUNT;

    raftq__account_list__init (&sample->accounts);
    sample->accounts.names = sample->names;
    sample->accounts.n_names = 1;
    sample->accounts.total = SAMPLE_BIG_COUNT;

    raftq__message_sent__init (&sample->sent);
    sample->sent.id = SAMPLE_BIG_COUNT;
    sample->sent.ts = INT64_MIN;

    raftq__chat_message__init (&sample->message);
    sample->message.id = 1;
    sample->message.from = sample->text;
    sample->message.to = sample->text;
    sample->message.text = sample->text;
    sample->message.ts = INT64_MAX;
    sample->messages[0] = &sample->message;
    raftq__message_page__init (&sample->page);
    sample->page.messages = sample->messages;
    sample->page.n_messages = 1;
    sample->page.total = SAMPLE_BIG_COUNT;

    raftq__deleted__init (&sample->deleted);
    sample->deleted.count = SAMPLE_BIG_COUNT;
}

//  Points the reply's result at the part that answers op.
static void
s_set_result (sample_reply_t *sample, Raftq__Request__OpCase op)
{
    Raftq__Reply *reply = &sample->reply;
    switch (op) {
    case RAFTQ__REQUEST__OP_LIST_TOPICS:
        reply->result_case = RAFTQ__REPLY__RESULT_TOPICS;
        reply->topics = &sample->topics;
        break;
    case RAFTQ__REQUEST__OP_PUBLISH:
        reply->result_case = RAFTQ__REPLY__RESULT_PUBLISHED;
        reply->published = &sample->published;
        break;
    case RAFTQ__REQUEST__OP_POP:
        reply->result_case = RAFTQ__REPLY__RESULT_POPPED;
        reply->popped = &sample->popped;
        break;
    case RAFTQ__REQUEST__OP_RESERVE:
        reply->result_case = RAFTQ__REPLY__RESULT_RESERVED;
        reply->reserved = &sample->reserved;
        break;
    case RAFTQ__REQUEST__OP_STATUS:
        reply->result_case = RAFTQ__REPLY__RESULT_STATUS;
        reply->status = &sample->status;
        break;
    case RAFTQ__REQUEST__OP_REPLAY:
        reply->result_case = RAFTQ__REPLY__RESULT_EVENTS;
        reply->events = &sample->event_list;
        break;
    case RAFTQ__REQUEST__OP_CHECK_USER:
        reply->result_case = RAFTQ__REPLY__RESULT_USER_EXISTS;
        reply->user_exists = &sample->user_exists;
        break;
    case RAFTQ__REQUEST__OP_LOGIN:
        reply->result_case = RAFTQ__REPLY__RESULT_SESSION;
        reply->session = &sample->session;
        break;
    case RAFTQ__REQUEST__OP_LIST_ACCOUNTS:
        reply->result_case = RAFTQ__REPLY__RESULT_ACCOUNTS;
        reply->accounts = &sample->accounts;
        break;
    case RAFTQ__REQUEST__OP_SEND_MESSAGE:
        reply->result_case = RAFTQ__REPLY__RESULT_SENT;
        reply->sent = &sample->sent;
        break;
    case RAFTQ__REQUEST__OP_READ_MESSAGES:
        reply->result_case = RAFTQ__REPLY__RESULT_PAGE;
        reply->page = &sample->page;
        break;
    case RAFTQ__REQUEST__OP_DELETE_MESSAGES:
        reply->result_case = RAFTQ__REPLY__RESULT_DELETED;
        reply->deleted = &sample->deleted;
        break;
    default:
        //  Creations, deletions, logout, admin (TakeSnapshot: the reply's
        //  index): an OK code says it all.
        break;
    }
}

int
sample_reply_fill (sample_reply_t *sample, const Raftq__Request *request, const uint8_t *bytes,
                   size_t size)
{
    memset (sample, 0, sizeof *sample);
    raftq__reply__init (&sample->reply);
    sample->text = malloc (size + 1);
    if (!sample->text)
        return -1;
    if (size)
        memcpy (sample->text, bytes, size);
    sample->text[size] = '\0';

    s_fill_lists (sample, bytes, size);
    s_fill_status (sample);
    s_fill_chat (sample);
    sample->reply.code = RAFTQ__CODE__OK;
    sample->reply.index = SAMPLE_BIG_COUNT;
    sample->reply.seq = request->seq;
    s_set_result (sample, request->op_case);
    return 0;
}

void
sample_reply_clear (sample_reply_t *sample)
{
    free (sample->text);
    memset (sample, 0, sizeof *sample);
}
