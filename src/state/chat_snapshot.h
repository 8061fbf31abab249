/*  chat_snapshot — the chat state as a Raftq__State__ChatState, for the
    state machine's snapshot: accounts sorted by name with their session
    tokens in login order, messages in id order, and the id counter.
    Conversations and unread lists are not saved: they follow from the
    messages.
*/
#ifndef CHAT_SNAPSHOT_H_INCLUDED
#define CHAT_SNAPSHOT_H_INCLUDED

#include <stddef.h>

#include "state.pb-c.h"

typedef struct _chat_t chat_t;

//  Describes accounts, sessions and messages in state for a snapshot.
//  Strings are borrowed from the chat state: state is valid until it
//  changes. Free what was allocated with chat_snapshot_release.
void chat_snapshot_save (chat_t *self, Raftq__State__ChatState *state);

//  Frees what chat_snapshot_save allocated in state (not what it borrowed).
void chat_snapshot_release (Raftq__State__ChatState *state);

//  Restores a saved chat state into one that has applied nothing (strings
//  are copied). Returns 0, or -1 with error when state is inconsistent; the
//  chat state must then be destroyed.
int chat_snapshot_load (chat_t *self, const Raftq__State__ChatState *state, char *error,
                        size_t error_size);

#endif
