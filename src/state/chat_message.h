/*  chat_message — the direct messages of the chat state: one list of all in
    id order, one per conversation (the messages between two accounts) and
    one of each recipient's unread messages; the operations that add and
    delete them, with their events. Private to src/state/chat*.c.
*/
#ifndef CHAT_MESSAGE_H_INCLUDED
#define CHAT_MESSAGE_H_INCLUDED

#include "state/chat_private.h"

//  The conversations table's destructor.
void chat_conversation_free (void **item_p);

//  The conversation between two accounts, NULL before their first message.
conversation_t *chat_conversation_lookup (chat_t *self, const account_t *first,
                                          const account_t *second);

//  Links a message with id, newer than every message held, into every list;
//  an unread one also into its recipient's unread list. Copies length
//  bytes of text.
message_t *chat_message_insert (chat_t *self, uint64_t id, account_t *sender, account_t *recipient,
                                const char *text, size_t length, int64_t timestamp_ms, bool read);

//  Frees a message that is out of every list (chat_destroy).
void chat_message_free (message_t *message);

//  Marks a message read: takes it out of its recipient's unread list.
void chat_message_mark_read (message_t *message);

//  An event of kind on stream at index, allocated as unpack would.
Raftq__Event *chat_event_new (const char *stream, const char *kind, uint64_t index);

//  The operations: each sets reply's code, error and result.
void chat_message_send (chat_t *self, account_t *sender, const Raftq__SendMessage *send,
                        int64_t timestamp_ms, uint64_t index, Raftq__Reply *reply);
void chat_message_delete (chat_t *self, account_t *actor,
                          const Raftq__DeleteMessages *delete_messages, uint64_t index,
                          Raftq__Reply *reply);

//  Deletes every conversation of account, in key order, telling each
//  stream concerned; the retained events of those conversations go first.
void chat_message_delete_conversations (chat_t *self, account_t *account, uint64_t index);

#endif
