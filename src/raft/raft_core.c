/*  raft_core — the Raft protocol as a pure state machine (see raft_core.h).

    Creation from options, destruction, and the door every peer message
    comes in by: raft_core_receive checks what cannot be trusted, applies
    the term rules shared by every kind and hands the message to the
    concern that handles it. The rest of the core is split by concern
    (raft_private.h lists the files). It does no I/O and keeps no global
    state.
*/
#include "raft/raft_private.h"

#include <assert.h>
#include <stdlib.h>

raft_core_t *
raft_core_new (const raft_core_options_t *options)
{
    assert (options);
    if (options->self_id == 0 || options->heartbeat_ms == 0 ||
        options->election_timeout_min_ms == 0 ||
        options->election_timeout_min_ms > options->election_timeout_max_ms ||
        options->term > RAFT_TERM_MAX)
        return NULL;
    raft_core_t *self = (raft_core_t *)calloc (1, sizeof (raft_core_t));
    if (!self)
        return NULL;
    self->self_id = options->self_id;
    self->max_entries_per_message = options->max_entries_per_message
                                        ? options->max_entries_per_message
                                        : DEFAULT_MAX_ENTRIES_PER_MESSAGE;
    self->max_bytes_per_message = options->max_bytes_per_message ? options->max_bytes_per_message
                                                                 : DEFAULT_MAX_BYTES_PER_MESSAGE;
    self->max_inflight_messages = options->max_inflight_messages ? options->max_inflight_messages
                                                                 : DEFAULT_MAX_INFLIGHT_MESSAGES;
    self->max_snapshot_bytes =
        options->max_snapshot_bytes ? options->max_snapshot_bytes : RAFT_DEFAULT_MAX_SNAPSHOT_BYTES;
    self->max_pending_reads =
        options->max_pending_reads ? options->max_pending_reads : RAFT_DEFAULT_MAX_PENDING_READS;
    self->manual_promotion = options->manual_promotion;
    self->catch_up_entries =
        options->catch_up_entries ? options->catch_up_entries : self->max_entries_per_message;
    self->heartbeat_ms = options->heartbeat_ms;
    self->election_timeout_min_ms = options->election_timeout_min_ms;
    self->election_timeout_max_ms = options->election_timeout_max_ms;
    self->random_state = options->random_seed;
    self->now_ms = options->now_ms;
    self->term = options->term;
    self->voted_for = options->voted_for;
    self->role = RAFT_ROLE_FOLLOWER;
    self->unsaved_from = 1;
    self->base_members = raft_config_bootstrap (options, &self->base_member_count);
    if (!self->base_members ||
        raft_config_set (self, self->base_members, self->base_member_count, 0)) {
        raft_core_destroy (&self);
        return NULL;
    }
    self->config_changed = false; //  the caller knows its bootstrap configuration
    self->self_was_voter = false;
    raft_election_reset_timer (self);
    return self;
}

void
raft_core_destroy (raft_core_t **self_p)
{
    assert (self_p);
    if (!*self_p)
        return;
    raft_core_t *self = *self_p;
    raft_log_release (self);
    raft_config_release (self);
    raft_outbox_release (self);
    free (self);
    *self_p = NULL;
}

//  Whether a message is one to consider at all: from another node to us,
//  with a term we could ever adopt, of a kind we know, and well formed
//  (no entry, last entry or snapshot of a term above the sender's). What
//  comes from the network is never trusted: anything else is ignored.
static bool
s_message_acceptable (raft_core_t *self, const raft_message_t *message)
{
    if (message->to != self->self_id || message->from == 0 || message->from == self->self_id ||
        message->term == 0 || message->term > RAFT_TERM_MAX)
        return false;
    switch (message->type) {
    case RAFT_MESSAGE_APPEND_ENTRIES:
        return raft_replication_check_request (message) == 0;
    case RAFT_MESSAGE_INSTALL_SNAPSHOT:
        return raft_snapshot_check_chunk (message) == 0;
    case RAFT_MESSAGE_REQUEST_VOTE:
    case RAFT_MESSAGE_PRE_VOTE:
        return message->last_log_term <= message->term;
    case RAFT_MESSAGE_REQUEST_VOTE_REPLY:
    case RAFT_MESSAGE_APPEND_ENTRIES_REPLY:
    case RAFT_MESSAGE_TIMEOUT_NOW:
    case RAFT_MESSAGE_INSTALL_SNAPSHOT_REPLY:
    case RAFT_MESSAGE_PRE_VOTE_REPLY:
        return true;
    default:
        return false;
    }
}

//  The term rules every kind but the pre-votes shares. Returns true if the
//  message is of our (possibly just adopted) term and goes on.
static bool
s_term_current (raft_core_t *self, const raft_message_t *message, size_t position)
{
    //  While our leader is alive a higher term is ignored from a candidate
    //  (no vote, no new term): it is a node that was cut off or removed,
    //  not a sign that the leader is gone
    if (message->type == RAFT_MESSAGE_REQUEST_VOTE && message->term > self->term &&
        !message->transfer && raft_election_leader_alive (self))
        return false;
    if (message->term < self->term) {
        //  Tell a stale candidate or leader our term so it steps down;
        //  stale replies carry nothing we need
        if (message->type == RAFT_MESSAGE_REQUEST_VOTE)
            raft_outbox_vote_reply (self, RAFT_MESSAGE_REQUEST_VOTE_REPLY, message->from,
                                    self->term, false);
        else if (message->type == RAFT_MESSAGE_APPEND_ENTRIES ||
                 message->type == RAFT_MESSAGE_INSTALL_SNAPSHOT)
            raft_replication_reject (self, message->from, message->prev_log_index);
        return false;
    }
    if (message->term > self->term)
        raft_election_adopt_term (self, message->term);
    if (self->role == RAFT_ROLE_LEADER && position < self->member_count)
        self->peers[position].progress.heard_ms = self->now_ms;
    return true;
}

//  AppendEntries or InstallSnapshot of our term: its sender leads.
static void
s_receive_from_leader (raft_core_t *self, const raft_message_t *message)
{
    if (self->role == RAFT_ROLE_LEADER)
        return; //  two leaders in one term cannot be: not a message we trust
    raft_election_set_role (self, RAFT_ROLE_FOLLOWER, message->from);
    self->leader_contact_ms = self->now_ms;
    raft_election_reset_timer (self);
    if (message->type == RAFT_MESSAGE_APPEND_ENTRIES)
        raft_replication_handle_append (self, message);
    else
        raft_snapshot_handle_chunk (self, message);
}

void
raft_core_receive (raft_core_t *self, const raft_message_t *message)
{
    assert (self);
    assert (message);
    assert (!self->ready_outstanding);
    self->started = true;
    if (!s_message_acceptable (self, message))
        return;
    //  Anyone may speak: a leader not (yet) in our configuration is how a
    //  joining node hears of the cluster. Votes and replies count only from
    //  members, at this position
    size_t position = raft_config_position (self, message->from);
    bool from_member = position < self->member_count;
    //  Terms in pre-votes are hypothetical: nobody adopts them. Nor the term
    //  of a TimeoutNow, which only our leader of this term may send
    if (message->type == RAFT_MESSAGE_TIMEOUT_NOW)
        raft_election_handle_timeout_now (self, message);
    else if (message->type == RAFT_MESSAGE_PRE_VOTE)
        raft_election_handle_pre_vote_request (self, message);
    else if (message->type == RAFT_MESSAGE_PRE_VOTE_REPLY)
        raft_election_handle_pre_vote_reply (self, message, position);
    else if (!s_term_current (self, message, position))
        return;
    else if (message->type == RAFT_MESSAGE_REQUEST_VOTE)
        raft_election_handle_vote_request (self, message);
    else if (message->type == RAFT_MESSAGE_REQUEST_VOTE_REPLY)
        raft_election_handle_vote_reply (self, message, position);
    else if (message->type == RAFT_MESSAGE_APPEND_ENTRIES ||
             message->type == RAFT_MESSAGE_INSTALL_SNAPSHOT)
        s_receive_from_leader (self, message);
    else if (message->type == RAFT_MESSAGE_INSTALL_SNAPSHOT_REPLY) {
        if (self->role == RAFT_ROLE_LEADER && from_member)
            raft_snapshot_handle_reply (self, message, &self->peers[position].progress);
    } else if (message->type == RAFT_MESSAGE_APPEND_ENTRIES_REPLY) {
        if (self->role == RAFT_ROLE_LEADER && from_member) {
            raft_read_acknowledge (self, position, message->read_round);
            raft_replication_handle_reply (self, message, &self->peers[position].progress);
        }
    }
}
