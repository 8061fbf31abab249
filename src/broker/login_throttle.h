/*  login_throttle — failed logins per account name, on the node that
    checks passwords (the leader), so that guessing one account's password
    slows down instead of running at the hasher's full speed.

    The first free_failures failures in a row cost nothing; each failure
    from then on makes the account wait first_delay_ms, doubling with every
    further failure up to max_delay_ms, before its password is checked
    again. A correct password forgets the account's failures; so does a
    quiet spell of forget_ms after the last failure (waiting that long
    gives a guesser fewer tries than waiting out the capped delay, so it
    is no way around the throttle).

    Names are counted whether or not an account has them, so a missing
    account throttles exactly as a wrong password does. The table holds
    at most max_accounts names, each as a keyed 64-bit digest (no name is
    kept, and a guesser who does not know the key cannot pick names that
    collide in the hash table); when it is full, the name whose last
    failure is oldest is forgotten. Resetting one throttled account that
    way takes max_accounts fresh failures, each a full password check.

    Node-local and in memory: not in the log, gone on restart, and a new
    leader starts with an empty table (at most one fresh budget of
    free_failures per account per leader change). Time is given by the
    caller (zclock_mono milliseconds), so tests drive a clock of their own.
*/
#ifndef LOGIN_THROTTLE_H_INCLUDED
#define LOGIN_THROTTLE_H_INCLUDED

#include <czmq.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct _login_throttle_t login_throttle_t;

//  How hard the throttle is.
typedef struct {
    uint32_t free_failures;  //  failures in a row before any wait
    uint32_t first_delay_ms; //  the wait after the first failure past them
    uint32_t max_delay_ms;   //  the longest wait (the doubling stops there)
    uint32_t forget_ms;      //  a name without a failure this long starts over
    size_t max_accounts;     //  names tracked at once (at least 1)
} login_throttle_options_t;

//  The defaults: 5 free failures, then 1 s, 2 s, 4 s ... up to 60 s,
//  forgotten after 15 minutes, 10000 names (about 1 MiB).
login_throttle_options_t login_throttle_defaults (void);

//  An empty throttle; NULL when out of memory or without libsodium.
login_throttle_t *login_throttle_new (const login_throttle_options_t *options);

void login_throttle_destroy (login_throttle_t **self_p);

//  Milliseconds before a password of user may be checked (0: now).
uint32_t login_throttle_wait (login_throttle_t *self, const char *user, int64_t now);

//  A password of user was checked and was wrong (or user has no account).
void login_throttle_failed (login_throttle_t *self, const char *user, int64_t now);

//  A password of user was checked and was right: its failures are forgotten.
void login_throttle_succeeded (login_throttle_t *self, const char *user);

//  How many names are tracked.
size_t login_throttle_size (login_throttle_t *self);

#ifdef __cplusplus
}
#endif

#endif
