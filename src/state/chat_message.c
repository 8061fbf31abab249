/*  chat_message — messages and conversations with their events; see
    chat_message.h. Deletions tell the actor's stream, each partner's and
    each conversation's, in conversation key order, so the events come out
    the same on every node whatever a hash table's order.
*/

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "state/chat_account.h"
#include "state/chat_message.h"
#include "state/quota.h"
#include "state/chat_validation.h"
#include "state/reply.h"
#include "util/must.h"
#include "util/u64_table.h"

void
chat_conversation_free (void **item_p)
{
    conversation_t *conversation = (conversation_t *)*item_p;
    if (conversation) {
        free (conversation->key);
        free (conversation->stream);
        free (conversation);
        *item_p = NULL;
    }
}

void
chat_message_free (message_t *message)
{
    free (message->text);
    free (message);
}

Raftq__Event *
chat_event_new (const char *stream, const char *kind, uint64_t index)
{
    Raftq__Event *event = (Raftq__Event *)must_alloc (sizeof (Raftq__Event));
    raftq__event__init (event);
    event->stream = must_strdup (stream);
    event->kind = must_strdup (kind);
    event->index = index;
    return event;
}

static void
s_emit_message (chat_t *self, const char *stream, const message_t *message, uint64_t index)
{
    Raftq__Event *event = chat_event_new (stream, "message", index);
    event->id = message->id;
    event->from = must_strdup (message->sender->name);
    event->to = must_strdup (message->recipient->name);
    event->text = must_strdup (message->text);
    event->ts = message->timestamp_ms;
    event_log_emit (self->events, event);
}

static void
s_emit_deletion (chat_t *self, const char *stream, const uint64_t *ids, size_t count,
                 uint64_t index)
{
    Raftq__Event *event = chat_event_new (stream, "delete", index);
    event->ids = (uint64_t *)must_memdup (ids, count * sizeof (uint64_t));
    event->n_ids = count;
    event_log_emit (self->events, event);
}

//  Key of the conversation between two names: "<a>/<b>", a <= b.
static char *
s_conversation_key (const char *first, const char *second)
{
    if (strcmp (first, second) > 0) {
        const char *swap = first;
        first = second;
        second = swap;
    }
    return must_format ("%s/%s", first, second);
}

conversation_t *
chat_conversation_lookup (chat_t *self, const account_t *first, const account_t *second)
{
    char *key = s_conversation_key (first->name, second->name);
    conversation_t *conversation = (conversation_t *)zhashx_lookup (self->conversations, key);
    free (key);
    return conversation;
}

static conversation_t *
s_conversation_require (chat_t *self, const account_t *first, const account_t *second)
{
    conversation_t *conversation = chat_conversation_lookup (self, first, second);
    if (!conversation) {
        conversation = (conversation_t *)must_zalloc (sizeof (conversation_t));
        conversation->key = s_conversation_key (first->name, second->name);
        conversation->stream = must_format ("conv/%s", conversation->key);
        zhashx_insert (self->conversations, conversation->key, conversation);
    }
    return conversation;
}

void
chat_message_mark_read (message_t *message)
{
    account_t *recipient = message->recipient;
    if (message->unread_older)
        message->unread_older->unread_newer = message->unread_newer;
    else
        recipient->unread_oldest = message->unread_newer;
    if (message->unread_newer)
        message->unread_newer->unread_older = message->unread_older;
    else
        recipient->unread_newest = message->unread_older;
    message->unread_older = message->unread_newer = NULL;
    recipient->unread_count--;
    message->read = true;
}

//  Links a message with id, newer than every message held, into every list;
//  an unread one also into its recipient's unread list.
message_t *
chat_message_insert (chat_t *self, uint64_t id, account_t *sender, account_t *recipient,
                     const char *text, size_t length, int64_t timestamp_ms, bool read)
{
    message_t *message = (message_t *)must_zalloc (sizeof (message_t));
    message->id = id;
    message->read = read;
    message->sender = sender;
    message->recipient = recipient;
    message->text = (char *)must_alloc (length + 1);
    memcpy (message->text, text, length);
    message->text[length] = 0;
    message->timestamp_ms = timestamp_ms;
    self->bytes += QUOTA_CHAT_MESSAGE_COST + length;

    message->older = self->newest;
    if (self->newest)
        self->newest->newer = message;
    else
        self->oldest = message;
    self->newest = message;
    zhashx_insert (self->messages, &message->id, message);

    conversation_t *conversation = s_conversation_require (self, sender, recipient);
    message->conversation = conversation;
    message->conversation_older = conversation->newest;
    if (conversation->newest)
        conversation->newest->conversation_newer = message;
    else
        conversation->oldest = message;
    conversation->newest = message;
    conversation->count++;
    if (read)
        return message;

    message->unread_older = recipient->unread_newest;
    if (recipient->unread_newest)
        recipient->unread_newest->unread_newer = message;
    else
        recipient->unread_oldest = message;
    recipient->unread_newest = message;
    recipient->unread_count++;
    return message;
}

static message_t *
s_message_add (chat_t *self, account_t *sender, account_t *recipient, const char *text,
               size_t length, int64_t timestamp_ms)
{
    return chat_message_insert (self, ++self->last_message_id, sender, recipient, text, length,
                                timestamp_ms, false);
}

//  Unlinks and frees a message; an emptied conversation goes too.
static void
s_message_remove (chat_t *self, message_t *message)
{
    //  Its text goes from every retained event too (the partners' streams
    //  included, also when an account is deleted)
    event_log_redact (self->events, message->recipient->stream, message->id);
    if (message->sender != message->recipient)
        event_log_redact (self->events, message->sender->stream, message->id);
    event_log_redact (self->events, message->conversation->stream, message->id);
    if (!message->read)
        chat_message_mark_read (message);
    conversation_t *conversation = message->conversation;
    if (message->conversation_older)
        message->conversation_older->conversation_newer = message->conversation_newer;
    else
        conversation->oldest = message->conversation_newer;
    if (message->conversation_newer)
        message->conversation_newer->conversation_older = message->conversation_older;
    else
        conversation->newest = message->conversation_older;
    conversation->count--;
    if (conversation->count == 0)
        zhashx_delete (self->conversations, conversation->key);

    if (message->older)
        message->older->newer = message->newer;
    else
        self->oldest = message->newer;
    if (message->newer)
        message->newer->older = message->older;
    else
        self->newest = message->older;
    zhashx_delete (self->messages, &message->id);
    self->bytes -= QUOTA_CHAT_MESSAGE_COST + strlen (message->text);
    chat_message_free (message);
}

static account_t *
s_partner_of (const message_t *message, const account_t *account)
{
    return message->sender == account ? message->recipient : message->sender;
}

void
chat_message_send (chat_t *self, account_t *sender, const Raftq__SendMessage *send,
                   int64_t timestamp_ms, uint64_t index, Raftq__Reply *reply)
{
    account_t *recipient = chat_account_lookup (self, send->to);
    if (!recipient) {
        reply_fail (reply, RAFTQ__CODE__NOT_FOUND, "no account named '%s'", send->to);
        return;
    }
    const char *text;
    size_t length;
    chat_trim (send->text, &text, &length);
    message_t *message = s_message_add (self, sender, recipient, text, length, timestamp_ms);

    s_emit_message (self, recipient->stream, message, index);
    if (sender != recipient)
        s_emit_message (self, sender->stream, message, index);
    s_emit_message (self, message->conversation->stream, message, index);

    Raftq__MessageSent *sent = (Raftq__MessageSent *)must_alloc (sizeof (Raftq__MessageSent));
    raftq__message_sent__init (sent);
    sent->id = message->id;
    sent->ts = message->timestamp_ms;
    reply->result_case = RAFTQ__REPLY__RESULT_SENT;
    reply->sent = sent;
}

static int
s_conversation_order (const void *first, const void *second)
{
    return strcmp ((*(conversation_t *const *)first)->key, (*(conversation_t *const *)second)->key);
}

//  Deletes messages (sorted by id, the caller's to delete) and tells every
//  stream concerned: the actor's, each partner's and each conversation's.
static void
s_delete_and_notify (chat_t *self, account_t *actor, message_t **messages, size_t count,
                     uint64_t index)
{
    uint64_t *ids = (uint64_t *)must_alloc (count * sizeof (uint64_t));
    uint64_t *subset = (uint64_t *)must_alloc (count * sizeof (uint64_t));
    conversation_t **conversations =
        (conversation_t **)must_alloc (count * sizeof (conversation_t *));
    size_t conversation_count = 0;
    for (size_t position = 0; position < count; position++) {
        ids[position] = messages[position]->id;
        conversation_t *conversation = messages[position]->conversation;
        bool known = false;
        for (size_t seen = 0; seen < conversation_count && !known; seen++)
            known = conversations[seen] == conversation;
        if (!known)
            conversations[conversation_count++] = conversation;
    }
    qsort (conversations, conversation_count, sizeof (conversation_t *), s_conversation_order);

    s_emit_deletion (self, actor->stream, ids, count, index);
    //  One conversation per partner: its ids go to the partner and to the
    //  conversation's stream
    for (size_t which = 0; which < conversation_count; which++) {
        size_t subset_count = 0;
        account_t *partner = NULL;
        for (size_t position = 0; position < count; position++)
            if (messages[position]->conversation == conversations[which]) {
                subset[subset_count++] = ids[position];
                partner = s_partner_of (messages[position], actor);
            }
        if (partner != actor)
            s_emit_deletion (self, partner->stream, subset, subset_count, index);
        s_emit_deletion (self, conversations[which]->stream, subset, subset_count, index);
    }
    //  Removing may free emptied conversations: last
    for (size_t position = 0; position < count; position++)
        s_message_remove (self, messages[position]);
    free (conversations);
    free (subset);
    free (ids);
}

void
chat_message_delete (chat_t *self, account_t *actor, const Raftq__DeleteMessages *delete_messages,
                     uint64_t index, Raftq__Reply *reply)
{
    uint64_t *ids =
        (uint64_t *)must_memdup (delete_messages->ids, delete_messages->n_ids * sizeof (uint64_t));
    qsort (ids, delete_messages->n_ids, sizeof (uint64_t), u64_table_compare);
    message_t **messages = (message_t **)must_alloc (delete_messages->n_ids * sizeof (message_t *));
    size_t count = 0;
    for (size_t position = 0; position < delete_messages->n_ids; position++) {
        if (position > 0 && ids[position] == ids[position - 1])
            continue;
        message_t *message = (message_t *)zhashx_lookup (self->messages, &ids[position]);
        if (!message)
            continue;
        if (message->sender != actor && message->recipient != actor) {
            reply_fail (reply, RAFTQ__CODE__PERMISSION_DENIED,
                        "message %" PRIu64 " is not yours: you neither sent nor received it",
                        ids[position]);
            free (messages);
            free (ids);
            return;
        }
        messages[count++] = message;
    }
    if (count)
        s_delete_and_notify (self, actor, messages, count, index);
    free (messages);
    free (ids);

    Raftq__Deleted *deleted = (Raftq__Deleted *)must_alloc (sizeof (Raftq__Deleted));
    raftq__deleted__init (deleted);
    deleted->count = count;
    reply->result_case = RAFTQ__REPLY__RESULT_DELETED;
    reply->deleted = deleted;
}

void
chat_message_delete_conversations (chat_t *self, account_t *account, uint64_t index)
{
    //  In key order so that events come out the same on every node
    //  whatever the table's order
    size_t conversation_count = 0;
    conversation_t **conversations = (conversation_t **)must_alloc (
        (zhashx_size (self->conversations) + 1) * sizeof (conversation_t *));
    for (conversation_t *conversation = (conversation_t *)zhashx_first (self->conversations);
         conversation; conversation = (conversation_t *)zhashx_next (self->conversations))
        if (conversation->oldest->sender == account || conversation->oldest->recipient == account)
            conversations[conversation_count++] = conversation;
    qsort (conversations, conversation_count, sizeof (conversation_t *), s_conversation_order);

    for (size_t which = 0; which < conversation_count; which++) {
        conversation_t *conversation = conversations[which];
        size_t count = conversation->count;
        message_t **messages = (message_t **)must_alloc (count * sizeof (message_t *));
        size_t position = 0;
        for (message_t *message = conversation->oldest; message;
             message = message->conversation_newer)
            messages[position++] = message;
        //  The text in the retained window goes before the deletion is told
        event_log_forget (self->events, conversation->stream);
        s_delete_and_notify (self, account, messages, count, index);
        free (messages);
    }
    free (conversations);
}
