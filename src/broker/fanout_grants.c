/*  fanout_grants — private subscriptions and their liveness; see
    fanout_grants.h.
*/
#include "broker/fanout_grants.h"

#include <czmq.h>

#include "state/session_key.h"
#include "util/must.h"

//  One private subscription string.
typedef struct {
    char *subscription;         //  "<stream>#<token>", also its key in grants
    char *stream;               //  the stream key before '#'
    char key[SESSION_KEY_SIZE]; //  the token's session key (the state's name for it)
    size_t holders;             //  subscribes of it seen, minus cancels
    bool live;                  //  published on: applied, and its session live
    void *handle;               //  while live, its place in the stream's list
} grant_t;

struct _fanout_grants_t {
    zhashx_t *grants;   //  subscription -> grant_t, owns them
    zhashx_t *live;     //  stream -> zlistx_t of its live grants, in order of grant
    zhashx_t *sessions; //  session key -> its live grants (a count, as a pointer)
    size_t pending;     //  grants that are not live
    zlistx_t *cursor;   //  the list fanout_grants_next walks
};

static void
s_grant_free (void **item_p)
{
    grant_t *grant = (grant_t *)*item_p;
    if (grant) {
        free (grant->subscription);
        free (grant->stream);
        free (grant);
        *item_p = NULL;
    }
}

fanout_grants_t *
fanout_grants_new (void)
{
    fanout_grants_t *self = (fanout_grants_t *)must_zalloc (sizeof (fanout_grants_t));
    self->grants = zhashx_new ();
    self->live = zhashx_new ();
    self->sessions = zhashx_new ();
    if (!self->grants || !self->live || !self->sessions) {
        fanout_grants_destroy (&self);
        return NULL;
    }
    zhashx_set_key_duplicator (self->grants, NULL);
    zhashx_set_key_destructor (self->grants, NULL);
    zhashx_set_destructor (self->grants, s_grant_free);
    zhashx_set_destructor (self->live, (zhashx_destructor_fn *)zlistx_destroy);
    return self;
}

void
fanout_grants_destroy (fanout_grants_t **self_p)
{
    if (*self_p) {
        fanout_grants_t *self = *self_p;
        zhashx_destroy (&self->live);
        zhashx_destroy (&self->sessions);
        zhashx_destroy (&self->grants);
        free (self);
        *self_p = NULL;
    }
}

static size_t
s_session_grants (fanout_grants_t *self, const char *key)
{
    return (size_t)(uintptr_t)zhashx_lookup (self->sessions, key);
}

//  Starts or stops publishing on grant.
static void
s_set_live (fanout_grants_t *self, grant_t *grant, bool live)
{
    size_t count = s_session_grants (self, grant->key);
    zlistx_t *list = (zlistx_t *)zhashx_lookup (self->live, grant->stream);
    if (live) {
        if (!list) {
            list = zlistx_new ();
            if (!list || zhashx_insert (self->live, grant->stream, list)) {
                //  Without memory the grant is not published on: never a
                //  leak, at worst a subscriber who sees no confirmation
                zlistx_destroy (&list);
                return;
            }
        }
        grant->handle = zlistx_add_end (list, grant);
        if (!grant->handle)
            return;
        count++;
        self->pending--;
    } else {
        zlistx_delete (list, grant->handle);
        grant->handle = NULL;
        if (zlistx_size (list) == 0)
            zhashx_delete (self->live, grant->stream);
        count--;
        self->pending++;
    }
    grant->live = live;
    if (count)
        zhashx_update (self->sessions, grant->key, (void *)(uintptr_t)count);
    else
        zhashx_delete (self->sessions, grant->key);
}

static bool
s_granted (grant_t *grant, fsm_t *fsm, int64_t now_ms)
{
    return fsm && stream_access_check_key (fsm, grant->stream, strlen (grant->stream), grant->key,
                                           now_ms) == STREAM_ACCESS_GRANTED;
}

static grant_t *
s_lookup (fanout_grants_t *self, const stream_subscription_t *parsed)
{
    char *subscription = must_strndup (parsed->applied, parsed->applied_size);
    grant_t *grant = (grant_t *)zhashx_lookup (self->grants, subscription);
    free (subscription);
    return grant;
}

//  A new grant (not live) for parsed with the token's key, or NULL when a
//  bound refuses it.
static grant_t *
s_grant_new (fanout_grants_t *self, const stream_subscription_t *parsed, const char *key,
             bool granted)
{
    if (zhashx_size (self->grants) >= FANOUT_GRANTS_MAX ||
        (!granted && self->pending >= FANOUT_GRANTS_MAX_PENDING))
        return NULL;
    grant_t *grant = (grant_t *)must_zalloc (sizeof (grant_t));
    grant->subscription = must_strndup (parsed->applied, parsed->applied_size);
    grant->stream = must_strndup (parsed->applied, parsed->stream_length);
    memcpy (grant->key, key, SESSION_KEY_SIZE);
    zhashx_insert (self->grants, grant->subscription, grant);
    self->pending++;
    return grant;
}

bool
fanout_grants_subscribe (fanout_grants_t *self, const stream_subscription_t *parsed, fsm_t *fsm,
                         int64_t now_ms)
{
    assert (self);
    assert (parsed->kind == STREAM_SUBSCRIPTION_PRIVATE);
    grant_t *grant = s_lookup (self, parsed);
    bool granted;
    if (grant)
        granted = s_granted (grant, fsm, now_ms);
    else {
        //  A token is as long as a key: 32 hex digits
        char token[SESSION_KEY_SIZE];
        char key[SESSION_KEY_SIZE];
        memcpy (token, parsed->token, SESSION_KEY_LENGTH);
        token[SESSION_KEY_LENGTH] = 0;
        session_key (token, key);
        granted = fsm && stream_access_check_key (fsm, parsed->applied, parsed->stream_length, key,
                                                  now_ms) == STREAM_ACCESS_GRANTED;
        grant = s_grant_new (self, parsed, key, granted);
        if (!grant)
            return false;
    }
    grant->holders++;
    if (granted && !grant->live) {
        if (s_session_grants (self, grant->key) >= FANOUT_GRANTS_PER_SESSION)
            return false;
        s_set_live (self, grant, true);
    }
    return granted && grant->live;
}

void
fanout_grants_cancel (fanout_grants_t *self, const stream_subscription_t *parsed)
{
    assert (self);
    grant_t *grant = s_lookup (self, parsed);
    if (!grant)
        return;
    //  Duplicate subscribes of one connection leave a count above the
    //  truth: a grant kept too long costs publishing, never a leak
    if (grant->holders > 0)
        grant->holders--;
    if (grant->holders > 0)
        return;
    if (grant->live)
        s_set_live (self, grant, false);
    self->pending--;
    zhashx_delete (self->grants, grant->subscription);
}

void
fanout_grants_revalidate (fanout_grants_t *self, fsm_t *fsm, int64_t now_ms,
                          fanout_grants_revoked_fn *revoked, void *argument)
{
    assert (self);
    for (grant_t *grant = (grant_t *)zhashx_first (self->grants); grant;
         grant = (grant_t *)zhashx_next (self->grants))
        if (grant->live && !s_granted (grant, fsm, now_ms)) {
            revoked (argument, grant->subscription, grant->stream);
            s_set_live (self, grant, false);
        }
}

const char *
fanout_grants_first (fanout_grants_t *self, const char *stream)
{
    assert (self);
    self->cursor = (zlistx_t *)zhashx_lookup (self->live, stream);
    grant_t *grant = self->cursor ? (grant_t *)zlistx_first (self->cursor) : NULL;
    return grant ? grant->subscription : NULL;
}

const char *
fanout_grants_next (fanout_grants_t *self)
{
    assert (self);
    grant_t *grant = self->cursor ? (grant_t *)zlistx_next (self->cursor) : NULL;
    return grant ? grant->subscription : NULL;
}

size_t
fanout_grants_size (fanout_grants_t *self)
{
    assert (self);
    return zhashx_size (self->grants);
}
