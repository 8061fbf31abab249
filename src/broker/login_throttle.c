/*  login_throttle — failed logins per account name; see login_throttle.h. */
#include "broker/login_throttle.h"

#include <sodium.h>

#include "util/u64_table.h"

//  One name with failures.
typedef struct {
    uint64_t key;          //  keyed digest of the name (the table's key)
    uint32_t failures;     //  failures in a row
    int64_t last_failure;  //  when the latest came
    int64_t blocked_until; //  no check before this
    void *handle;          //  its place in the oldest-first list
} s_account_t;

struct _login_throttle_t {
    login_throttle_options_t options;       //  how hard
    uint8_t key[crypto_shorthash_KEYBYTES]; //  random: names -> table keys
    zhashx_t *accounts;                     //  key -> s_account_t, owns them
    zlistx_t *by_age;                       //  the same, oldest failure first
};

login_throttle_options_t
login_throttle_defaults (void)
{
    login_throttle_options_t options = {.free_failures = 5,
                                        .first_delay_ms = 1000,
                                        .max_delay_ms = 60000,
                                        .forget_ms = 15 * 60 * 1000,
                                        .max_accounts = 10000};
    return options;
}

static void
s_account_destroy (void **item)
{
    free (*item);
    *item = NULL;
}

login_throttle_t *
login_throttle_new (const login_throttle_options_t *options)
{
    assert (options);
    if (sodium_init () < 0)
        return NULL;
    login_throttle_t *self = calloc (1, sizeof (login_throttle_t));
    if (!self)
        return NULL;
    self->options = *options;
    if (self->options.max_accounts == 0)
        self->options.max_accounts = 1;
    crypto_shorthash_keygen (self->key);
    self->accounts = u64_table_new (s_account_destroy);
    self->by_age = zlistx_new ();
    if (!self->accounts || !self->by_age)
        login_throttle_destroy (&self);
    return self;
}

void
login_throttle_destroy (login_throttle_t **self_p)
{
    if (*self_p) {
        login_throttle_t *self = *self_p;
        zlistx_destroy (&self->by_age);
        zhashx_destroy (&self->accounts);
        sodium_memzero (self->key, sizeof self->key);
        free (self);
        *self_p = NULL;
    }
}

//  The table key of user: SipHash under the random key, so a guesser can
//  neither predict buckets nor learn names from the table.
static uint64_t
s_key (login_throttle_t *self, const char *user)
{
    uint8_t digest[crypto_shorthash_BYTES];
    crypto_shorthash (digest, (const unsigned char *)user, strlen (user), self->key);
    uint64_t key;
    memcpy (&key, digest, sizeof key);
    return key;
}

static void
s_forget (login_throttle_t *self, s_account_t *account)
{
    zlistx_delete (self->by_age, account->handle);
    uint64_t key = account->key;
    zhashx_delete (self->accounts, &key);
}

//  The entry of user, NULL if none or its failures are old enough to forget.
static s_account_t *
s_lookup (login_throttle_t *self, const char *user, int64_t now)
{
    uint64_t key = s_key (self, user);
    s_account_t *account = (s_account_t *)zhashx_lookup (self->accounts, &key);
    if (account && now - account->last_failure >= (int64_t)self->options.forget_ms) {
        s_forget (self, account);
        account = NULL;
    }
    return account;
}

uint32_t
login_throttle_wait (login_throttle_t *self, const char *user, int64_t now)
{
    assert (self);
    s_account_t *account = s_lookup (self, user, now);
    if (!account || account->blocked_until <= now)
        return 0;
    return (uint32_t)(account->blocked_until - now);
}

//  The wait after failures in a row: none within the free ones, then
//  first_delay_ms doubling up to max_delay_ms.
static uint32_t
s_delay (const login_throttle_options_t *options, uint32_t failures)
{
    if (failures < options->free_failures)
        return 0;
    uint64_t delay = options->first_delay_ms;
    for (uint32_t past = options->free_failures; past < failures && delay < options->max_delay_ms;
         past++)
        delay *= 2;
    return delay < options->max_delay_ms ? (uint32_t)delay : options->max_delay_ms;
}

//  A new entry for key, forgetting the oldest when the table is full;
//  NULL when out of memory.
static s_account_t *
s_track (login_throttle_t *self, uint64_t key)
{
    if (zhashx_size (self->accounts) >= self->options.max_accounts)
        s_forget (self, (s_account_t *)zlistx_first (self->by_age));
    s_account_t *account = calloc (1, sizeof (s_account_t));
    if (!account)
        return NULL;
    account->key = key;
    account->handle = zlistx_add_end (self->by_age, account);
    if (!account->handle || zhashx_insert (self->accounts, &account->key, account)) {
        if (account->handle)
            zlistx_delete (self->by_age, account->handle);
        free (account);
        return NULL;
    }
    return account;
}

void
login_throttle_failed (login_throttle_t *self, const char *user, int64_t now)
{
    assert (self);
    s_account_t *account = s_lookup (self, user, now);
    if (account)
        zlistx_move_end (self->by_age, account->handle);
    else if (!(account = s_track (self, s_key (self, user))))
        return; //  out of memory: this failure goes uncounted
    if (account->failures < UINT32_MAX)
        account->failures++;
    account->last_failure = now;
    account->blocked_until = now + s_delay (&self->options, account->failures);
}

void
login_throttle_succeeded (login_throttle_t *self, const char *user)
{
    assert (self);
    uint64_t key = s_key (self, user);
    s_account_t *account = (s_account_t *)zhashx_lookup (self->accounts, &key);
    if (account)
        s_forget (self, account);
}

size_t
login_throttle_size (login_throttle_t *self)
{
    assert (self);
    return zhashx_size (self->accounts);
}
