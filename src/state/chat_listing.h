/*  chat_listing — the paged listings of the chat state: accounts by name
    pattern, a reader's unread messages and a conversation, each ascending.
    Pages count from 1 (0 means 1); page_size 0 means the default. Private
    to src/state/chat*.c.
*/
#ifndef CHAT_LISTING_H_INCLUDED
#define CHAT_LISTING_H_INCLUDED

#include "state/chat_private.h"

//  Names matching list's glob pattern (empty: all), one page of them.
void chat_listing_accounts (chat_t *self, const Raftq__ListAccounts *list, Raftq__Reply *reply);

//  One page of reader's unread messages, oldest first; they become read.
void chat_listing_unread (account_t *reader, const Raftq__ReadMessages *read, Raftq__Reply *reply);

//  One page of the conversation of reader with read->partner, oldest
//  first; the messages of the page that reader received become read.
void chat_listing_conversation (chat_t *self, account_t *reader, const Raftq__ReadMessages *read,
                                Raftq__Reply *reply);

#endif
