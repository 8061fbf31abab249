/*  chat_listing — paged listings of accounts and messages; see
    chat_listing.h. "read" in a page is the mark before the call: new
    messages stand out, and for messages the reader sent it says whether
    the partner has read them.
*/

#include <string.h>

#include "state/chat_account.h"
#include "state/chat_listing.h"
#include "state/chat_message.h"
#include "state/reply.h"
#include "util/glob.h"
#include "util/must.h"

//  The slice [*first, *first + *count) of a listing of total items for
//  page (from 1; 0 means 1) of page_size (0: the default).
static void
s_page_slice (uint64_t total, uint32_t page, uint32_t page_size, uint64_t *first, uint64_t *count)
{
    uint64_t size = page_size ? page_size : CHAT_DEFAULT_PAGE_SIZE;
    uint64_t skip = (uint64_t)(page ? page - 1 : 0) * size;
    *first = skip < total ? skip : total;
    *count = total - *first < size ? total - *first : size;
}

static Raftq__ChatMessage *
s_chat_message_new (const message_t *message)
{
    Raftq__ChatMessage *item = (Raftq__ChatMessage *)must_alloc (sizeof (Raftq__ChatMessage));
    raftq__chat_message__init (item);
    item->id = message->id;
    item->from = must_strdup (message->sender->name);
    item->to = must_strdup (message->recipient->name);
    item->text = must_strdup (message->text);
    item->ts = message->timestamp_ms;
    item->read = message->read;
    return item;
}

//  A page result with room for count messages.
static Raftq__MessagePage *
s_page_new (Raftq__Reply *reply, uint64_t total, uint64_t first, uint64_t count)
{
    Raftq__MessagePage *page = (Raftq__MessagePage *)must_alloc (sizeof (Raftq__MessagePage));
    raftq__message_page__init (page);
    page->total = total;
    page->remaining = total - first - count;
    if (count)
        page->messages = (Raftq__ChatMessage **)must_alloc (count * sizeof (Raftq__ChatMessage *));
    reply->result_case = RAFTQ__REPLY__RESULT_PAGE;
    reply->page = page;
    return page;
}

void
chat_listing_accounts (chat_t *self, const Raftq__ListAccounts *list, Raftq__Reply *reply)
{
    const char *pattern = list->pattern && *list->pattern ? list->pattern : "*";
    size_t prefix = glob_literal_prefix (pattern);
    char *start = must_strndup (pattern, prefix);
    bool found;
    size_t position = chat_account_position (self, start, &found);
    free (start);

    //  Matches of the whole listing, as positions in sorted_accounts
    size_t *matches = NULL;
    size_t match_count = 0;
    for (; position < self->account_count; position++) {
        const char *name = self->sorted_accounts[position]->name;
        if (strncmp (name, pattern, prefix) != 0)
            break;
        if (glob_match (pattern, name)) {
            matches = (size_t *)must_realloc (matches, (match_count + 1) * sizeof (size_t));
            matches[match_count++] = position;
        }
    }
    uint64_t first, count;
    s_page_slice (match_count, list->page, list->page_size, &first, &count);
    Raftq__AccountList *accounts = (Raftq__AccountList *)must_alloc (sizeof (Raftq__AccountList));
    raftq__account_list__init (accounts);
    accounts->total = match_count;
    if (count)
        accounts->names = (char **)must_alloc (count * sizeof (char *));
    for (uint64_t item = 0; item < count; item++)
        accounts->names[item] = must_strdup (self->sorted_accounts[matches[first + item]]->name);
    accounts->n_names = count;
    free (matches);
    reply->result_case = RAFTQ__REPLY__RESULT_ACCOUNTS;
    reply->accounts = accounts;
}

void
chat_listing_unread (account_t *reader, const Raftq__ReadMessages *read, Raftq__Reply *reply)
{
    uint64_t first, count;
    s_page_slice (reader->unread_count, read->page, read->page_size, &first, &count);
    Raftq__MessagePage *page = s_page_new (reply, reader->unread_count, first, count);
    message_t *message = reader->unread_oldest;
    for (uint64_t skipped = 0; skipped < first; skipped++)
        message = message->unread_newer;
    for (uint64_t item = 0; item < count; item++) {
        message_t *newer = message->unread_newer;
        page->messages[page->n_messages++] = s_chat_message_new (message);
        chat_message_mark_read (message);
        message = newer;
    }
}

void
chat_listing_conversation (chat_t *self, account_t *reader, const Raftq__ReadMessages *read,
                           Raftq__Reply *reply)
{
    account_t *partner = chat_account_lookup (self, read->partner);
    if (!partner) {
        reply_fail (reply, RAFTQ__CODE__NOT_FOUND, "no account named '%s'", read->partner);
        return;
    }
    conversation_t *conversation = chat_conversation_lookup (self, reader, partner);
    uint64_t total = conversation ? conversation->count : 0;
    uint64_t first, count;
    s_page_slice (total, read->page, read->page_size, &first, &count);
    Raftq__MessagePage *page = s_page_new (reply, total, first, count);
    message_t *message = conversation ? conversation->oldest : NULL;
    for (uint64_t skipped = 0; skipped < first; skipped++)
        message = message->conversation_newer;
    for (uint64_t item = 0; item < count; item++) {
        page->messages[page->n_messages++] = s_chat_message_new (message);
        if (message->recipient == reader && !message->read)
            chat_message_mark_read (message);
        message = message->conversation_newer;
    }
}
