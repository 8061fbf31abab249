/*  raft_configuration — the cluster configuration.

    Member lists (checking them, counting voters), the configuration in
    effect and what is tracked of each member as it changes, the base
    configuration the log starts from, configuration entries (taking effect,
    being reverted when truncated) and their payload, a raft.proto
    Configuration (encode and decode).
*/
#include "raft/raft_private.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "raft.pb-c.h"

//  Checks a member list: ids nonzero and distinct, hosts terminated, ports
//  in range. Returns 0 or -1.
int
raft_config_check (const raft_member_t *members, size_t count)
{
    if (count > 0 && !members)
        return -1;
    for (size_t position = 0; position < count; position++) {
        const raft_member_t *member = &members[position];
        if (member->id == 0 || !memchr (member->host, 0, sizeof (member->host)) ||
            !memchr (member->peer_host, 0, sizeof (member->peer_host)) ||
            member->client_port > MAX_PORT || member->peer_port > MAX_PORT ||
            member->pub_port > MAX_PORT)
            return -1;
        for (size_t other = 0; other < position; other++)
            if (members[other].id == member->id)
                return -1;
    }
    return 0;
}

bool
raft_member_has_key (const raft_member_t *member)
{
    uint8_t any = 0;
    for (size_t position = 0; position < RAFT_PUBLIC_KEY_SIZE; position++)
        any |= member->public_key[position];
    return any != 0;
}

size_t
raft_config_voters_in (const raft_member_t *members, size_t count)
{
    size_t voters = 0;
    for (size_t position = 0; position < count; position++)
        voters += members[position].voter;
    return voters;
}

//  Frees the configuration in effect and what is tracked of its members.
static void
s_free_tracked (raft_core_t *self)
{
    for (size_t position = 0; position < self->member_count; position++)
        free (self->peers[position].progress.inflight);
    free (self->members);
    free (self->peers);
    free (self->voter_ids);
    free (self->match_scratch);
}

//  Makes members the configuration in effect (set by the entry at index),
//  keeping what we track of members that stay. Returns 0, or -1 when out
//  of memory (then nothing changed).
int
raft_config_set (raft_core_t *self, const raft_member_t *members, size_t count, uint64_t index)
{
    size_t slots = count > 0 ? count : 1;
    raft_member_t *new_members = (raft_member_t *)malloc (slots * sizeof (raft_member_t));
    peer_t *new_peers = (peer_t *)calloc (slots, sizeof (peer_t));
    uint32_t *voter_ids = (uint32_t *)calloc (slots, sizeof (uint32_t));
    uint64_t *match_scratch = (uint64_t *)calloc (slots, sizeof (uint64_t));
    bool allocated = new_members && new_peers && voter_ids && match_scratch;
    for (size_t position = 0; allocated && position < count; position++)
        if (raft_config_position (self, members[position].id) == self->member_count) {
            new_peers[position].progress.inflight =
                (uint64_t *)calloc (self->max_inflight_messages, sizeof (uint64_t));
            allocated = new_peers[position].progress.inflight != NULL;
        }
    if (!allocated) {
        for (size_t position = 0; new_peers && position < count; position++)
            if (raft_config_position (self, members[position].id) == self->member_count)
                free (new_peers[position].progress.inflight);
        free (new_members);
        free (new_peers);
        free (voter_ids);
        free (match_scratch);
        return -1;
    }
    size_t voter_count = 0;
    for (size_t position = 0; position < count; position++) {
        new_members[position] = members[position];
        size_t old = raft_config_position (self, members[position].id);
        if (old < self->member_count) {
            //  The ring moves with it
            new_peers[position] = self->peers[old];
            self->peers[old].progress.inflight = NULL;
        } else
            raft_progress_start (self, &new_peers[position].progress, members[position].id);
        if (members[position].voter)
            voter_ids[voter_count++] = members[position].id;
    }
    s_free_tracked (self);
    self->members = new_members;
    self->peers = new_peers;
    self->member_count = count;
    self->voter_ids = voter_ids;
    self->voter_count = voter_count;
    self->match_scratch = match_scratch;
    self->self_was_voter = self->self_is_voter;
    self->self_is_voter = raft_config_is_voter (self, raft_config_position (self, self->self_id));
    self->config_index = index;
    self->config_changed = true;
    return 0;
}

//  Decodes a configuration payload. Returns 0 and a malloc'd array, -1 if
//  the payload is malformed, -2 when out of memory.
static int
s_config_decode (const uint8_t *data, size_t size, raft_member_t **members_p, size_t *count_p)
{
    *members_p = NULL;
    *count_p = 0;
    Raftq__Peer__Configuration *packed = raftq__peer__configuration__unpack (NULL, size, data);
    if (!packed)
        return -1;
    int rc = 0;
    raft_member_t *members =
        (raft_member_t *)calloc (packed->n_members ? packed->n_members : 1, sizeof (raft_member_t));
    if (!members)
        rc = -2;
    for (size_t position = 0; rc == 0 && position < packed->n_members; position++) {
        const Raftq__Peer__Member *source = packed->members[position];
        raft_member_t *member = &members[position];
        const char *host = source->host ? source->host : "";
        const char *peer_host = source->peer_host ? source->peer_host : "";
        if (strlen (host) >= sizeof (member->host) ||
            strlen (peer_host) >= sizeof (member->peer_host) ||
            (source->public_key.len != 0 && source->public_key.len != RAFT_PUBLIC_KEY_SIZE)) {
            rc = -1;
            break;
        }
        member->id = source->id;
        member->voter = source->voter;
        strcpy (member->host, host);
        strcpy (member->peer_host, peer_host);
        if (source->public_key.len)
            memcpy (member->public_key, source->public_key.data, RAFT_PUBLIC_KEY_SIZE);
        member->client_port = source->client_port;
        member->peer_port = source->peer_port;
        member->pub_port = source->pub_port;
    }
    if (rc == 0 && (raft_config_check (members, packed->n_members) ||
                    raft_config_voters_in (members, packed->n_members) == 0))
        rc = -1;
    if (rc == 0) {
        *members_p = members;
        *count_p = packed->n_members;
    } else
        free (members);
    raftq__peer__configuration__free_unpacked (packed, NULL);
    return rc;
}

//  A configuration takes effect as soon as its entry is in the log; a
//  malformed one is ignored, by every node alike. Returns 0, or -1 when
//  out of memory.
int
raft_config_adopt_entry (raft_core_t *self, const raft_entry_t *entry)
{
    raft_member_t *members;
    size_t count;
    int rc = s_config_decode (entry->data, entry->size, &members, &count);
    if (rc == -1)
        return 0;
    if (rc == 0)
        rc = raft_config_set (self, members, count, entry->index);
    free (members);
    return rc;
}

//  The latest configuration in the log up to index (else the base one) into
//  a malloc'd array (free it), and the index of its entry. Returns NULL when
//  out of memory.
raft_member_t *
raft_config_up_to (raft_core_t *self, uint64_t index, size_t *count, uint64_t *config_index)
{
    for (; index > self->log_offset; index--) {
        raft_entry_t *entry = raft_log_entry (self, index);
        raft_member_t *members;
        int rc = entry->type == RAFT_ENTRY_CONFIG
                     ? s_config_decode (entry->data, entry->size, &members, count)
                     : -1;
        if (rc == -2)
            return NULL;
        if (rc == 0) {
            *config_index = index;
            return members;
        }
    }
    *count = self->base_member_count;
    *config_index = self->log_offset;
    size_t bytes = (*count ? *count : 1) * sizeof (raft_member_t);
    raft_member_t *members = (raft_member_t *)malloc (bytes);
    if (members && *count)
        memcpy (members, self->base_members, bytes);
    return members;
}

//  The entry that set the configuration was truncated: the latest
//  configuration left in the log rules, else the base one.
void
raft_config_revert (raft_core_t *self)
{
    size_t count;
    uint64_t index;
    raft_member_t *members = raft_config_up_to (self, raft_log_last_index (self), &count, &index);
    if (!members || raft_config_set (self, members, count, index)) {
        free (members);
        return;
    }
    free (members);
    //  Whether we were a voter before it, for raft_election_may_campaign
    uint64_t previous_index;
    members = index > self->log_offset
                  ? raft_config_up_to (self, index - 1, &count, &previous_index)
                  : NULL;
    self->self_was_voter = false;
    for (size_t position = 0; members && position < count; position++)
        if (members[position].id == self->self_id)
            self->self_was_voter = members[position].voter;
    free (members);
}

//  Replaces the base configuration (as of the log's start) by a copy of
//  members and makes it the one in effect, set at index. Returns 0 or -1
//  (nothing changed) when invalid or out of memory.
int
raft_config_set_base (raft_core_t *self, const raft_member_t *members, size_t count, uint64_t index)
{
    if (raft_config_check (members, count) ||
        (count > 0 && raft_config_voters_in (members, count) == 0))
        return -1;
    raft_member_t *base = (raft_member_t *)malloc ((count ? count : 1) * sizeof (raft_member_t));
    if (!base)
        return -1;
    if (count > 0)
        memcpy (base, members, count * sizeof (raft_member_t));
    if (raft_config_set (self, base, count, index)) {
        free (base);
        return -1;
    }
    raft_config_replace_base (self, base, count);
    return 0;
}

//  Takes base (malloc'd, count members) as the configuration the log
//  starts from.
void
raft_config_replace_base (raft_core_t *self, raft_member_t *base, size_t count)
{
    free (self->base_members);
    self->base_members = base;
    self->base_member_count = count;
}

void
raft_config_release (raft_core_t *self)
{
    s_free_tracked (self);
    self->members = NULL;
    self->peers = NULL;
    self->member_count = 0;
    free (self->base_members);
    self->base_members = NULL;
}

//  Copies the bootstrap configuration of options into members. Returns a
//  malloc'd array, or NULL if the options are invalid or out of memory.
raft_member_t *
raft_config_bootstrap (const raft_core_options_t *options, size_t *count)
{
    if (options->member_count > 0) {
        *count = options->member_count;
        if (raft_config_check (options->members, options->member_count))
            return NULL;
    } else {
        *count = options->voter_count;
        if (options->voter_count > 0 && !options->voters)
            return NULL;
    }
    raft_member_t *members = (raft_member_t *)calloc (*count ? *count : 1, sizeof (raft_member_t));
    if (!members)
        return NULL;
    if (options->member_count > 0)
        memcpy (members, options->members, *count * sizeof (raft_member_t));
    else
        for (size_t position = 0; position < *count; position++) {
            members[position].id = options->voters[position];
            members[position].voter = true;
        }
    if (raft_config_check (members, *count)) {
        free (members);
        return NULL;
    }
    return members;
}

uint8_t *
raft_core_config_encode (const raft_member_t *members, size_t count, size_t *size)
{
    assert (members || count == 0);
    assert (size);
    Raftq__Peer__Member *packed_members =
        (Raftq__Peer__Member *)calloc (count ? count : 1, sizeof (Raftq__Peer__Member));
    Raftq__Peer__Member **pointers =
        (Raftq__Peer__Member **)calloc (count ? count : 1, sizeof (Raftq__Peer__Member *));
    uint8_t *payload = NULL;
    if (packed_members && pointers) {
        for (size_t position = 0; position < count; position++) {
            Raftq__Peer__Member *member = &packed_members[position];
            raftq__peer__member__init (member);
            member->id = members[position].id;
            member->voter = members[position].voter;
            //  protobuf-c only reads the string, it never writes through it
            member->host = (char *)members[position].host;
            member->client_port = members[position].client_port;
            member->peer_port = members[position].peer_port;
            member->pub_port = members[position].pub_port;
            member->peer_host = (char *)members[position].peer_host;
            //  A member without a key packs as before: old logs decode alike
            if (raft_member_has_key (&members[position])) {
                member->public_key.data = (uint8_t *)members[position].public_key;
                member->public_key.len = RAFT_PUBLIC_KEY_SIZE;
            }
            pointers[position] = member;
        }
        Raftq__Peer__Configuration configuration = RAFTQ__PEER__CONFIGURATION__INIT;
        configuration.members = pointers;
        configuration.n_members = count;
        *size = raftq__peer__configuration__get_packed_size (&configuration);
        //  An empty message packs to no byte at all: keep a real buffer
        payload = (uint8_t *)malloc (*size ? *size : 1);
        if (payload)
            raftq__peer__configuration__pack (&configuration, payload);
    }
    free (packed_members);
    free (pointers);
    return payload;
}

raft_member_t *
raft_core_config_decode (const uint8_t *data, size_t size, size_t *count)
{
    assert (data || size == 0);
    raft_member_t *members;
    size_t decoded;
    if (s_config_decode (data, size, &members, &decoded))
        return NULL;
    if (count)
        *count = decoded;
    return members;
}

const raft_member_t *
raft_core_members (raft_core_t *self, size_t *count)
{
    assert (self);
    if (count)
        *count = self->member_count;
    return self->members;
}

const uint32_t *
raft_core_voters (raft_core_t *self, size_t *count)
{
    assert (self);
    if (count)
        *count = self->voter_count;
    return self->voter_ids;
}

uint64_t
raft_core_config_index (raft_core_t *self)
{
    assert (self);
    return self->config_index;
}

raft_member_t *
raft_core_config_as_of (raft_core_t *self, uint64_t index, size_t *count)
{
    assert (self);
    assert (count);
    if (index < self->log_offset || index > raft_log_last_index (self))
        return NULL;
    uint64_t config_index;
    return raft_config_up_to (self, index, count, &config_index);
}
