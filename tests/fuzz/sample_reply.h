/*  sample_reply — a plausible successful Reply to a decoded request, for the
    codec targets to encode: it has the result the operation's reply carries,
    and every client-visible string or byte field in it holds the fuzz input,
    so the reply encoders meet arbitrary bytes (invalid UTF-8, NULs, huge
    counts) the way they could through a published payload or a user name.
*/
#ifndef SAMPLE_REPLY_H_INCLUDED
#define SAMPLE_REPLY_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

#include "raftq.pb-c.h"

//  Everything the reply points at, held in one place; reply borrows it.
typedef struct {
    Raftq__Reply reply;                //  the reply to encode
    char *text;                        //  the input as a C string (heap), cut at a NUL
    char *names[1];                    //  name lists: the text
    uint32_t members[3];               //  status members
    Raftq__TopicList topics;           //  ListTopics result
    Raftq__Published published;        //  Publish result
    Raftq__Popped popped;              //  Pop result
    Raftq__Reserved reserved;          //  Reserve result (a dead letter's)
    Raftq__TopicStatus topic;          //  the detail's one topic
    Raftq__TopicStatus *topic_list[1]; //  its list
    Raftq__NodeStatus status;          //  Status result
    Raftq__StatusDetail detail;        //  its detail, sent when asked for
    Raftq__MemberStatus peer[2];       //  the detail's members: a voter, a learner
    Raftq__MemberStatus *peers[2];     //  their list
    Raftq__Event event;                //  the one replayed event
    Raftq__Event *events[1];           //  its list
    Raftq__EventList event_list;       //  Replay result
    Raftq__UserExists user_exists;     //  CheckUser result
    Raftq__Session session;            //  Login result
    Raftq__AccountList accounts;       //  ListAccounts result
    Raftq__MessageSent sent;           //  SendMessage result
    Raftq__ChatMessage message;        //  the one message of a page
    Raftq__ChatMessage *messages[1];   //  its list
    Raftq__MessagePage page;           //  ReadMessages result
    Raftq__Deleted deleted;            //  DeleteMessages result
} sample_reply_t;

//  Fills sample with an OK reply to request carrying bytes. Returns 0, or -1
//  when out of memory. Call sample_reply_clear afterwards in both cases.
int sample_reply_fill (sample_reply_t *sample, const Raftq__Request *request, const uint8_t *bytes,
                       size_t size);

void sample_reply_clear (sample_reply_t *sample);

#endif
