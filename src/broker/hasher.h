/*  hasher — password hashing off the broker's loop: a czmq actor that runs
    crypto_pwhash_str (salted Argon2id) and crypto_pwhash_str_verify one job
    at a time. At the interactive limits one job takes tens of milliseconds
    and 64 MiB; done on the broker's thread it would stall every other
    client for that long.

    Pipe messages (every number little-endian):
      broker -> hasher
        "HASH"   [job u64][deadline i64][password]
        "VERIFY" [job u64][deadline i64][password][hash]
        "$TERM"                                      stop (czmq convention)
      hasher -> broker
        "DONE"   [job u64][status u8][hash]          hash empty unless HASH OK

    A VERIFY with an empty hash checks the password against a decoy: a
    hash of random bytes the thread makes at start with the same limits.
    It answers MISMATCH after the same work as a real check, so a login of
    a missing account takes as long as a wrong password.

    A job whose deadline (zclock_mono milliseconds) has passed when its turn
    comes is answered EXPIRED without hashing: its client was told TIMEOUT
    already, and a burst of logins must not keep the thread busy with work
    nobody waits for. Password bytes are wiped after use on both sides
    (best effort: ZeroMQ may hold copies of short frames).
*/
#ifndef HASHER_H_INCLUDED
#define HASHER_H_INCLUDED

#include <czmq.h>

#ifdef __cplusplus
extern "C" {
#endif

//  Room for a crypto_pwhash_str hash and its NUL (crypto_pwhash_STRBYTES).
#define HASHER_HASH_MAX 128

typedef struct _hasher_t hasher_t;

typedef enum {
    HASHER_OK = 0,       //  HASH: hash computed; VERIFY: password matches
    HASHER_MISMATCH = 1, //  VERIFY: wrong password (or a hash that is not one)
    HASHER_EXPIRED = 2,  //  not attempted: the deadline had passed
    HASHER_FAILED = 3    //  HASH: out of memory in libsodium
} hasher_status_t;

//  What the hasher answered for one job.
typedef struct {
    uint64_t job;               //  the job id it was given
    hasher_status_t status;     //  outcome
    char hash[HASHER_HASH_MAX]; //  HASH with HASHER_OK: the new hash, else ""
} hasher_result_t;

//  Starts the hasher thread. opslimit and memlimit are crypto_pwhash's
//  (0: the interactive limits); tests pass the minimum ones.
hasher_t *hasher_new (unsigned long long opslimit, size_t memlimit);

//  Stops the thread (after the job in progress) and frees everything.
void hasher_destroy (hasher_t **self_p);

//  The pipe to poll for results.
zsock_t *hasher_sock (hasher_t *self);

//  Queues the hashing of password; the result comes back as job.
int hasher_hash (hasher_t *self, uint64_t job, int64_t deadline, const char *password);

//  Queues checking password against hash; NULL: against the decoy (a
//  missing account), which never matches.
int hasher_verify (hasher_t *self, uint64_t job, int64_t deadline, const char *password,
                   const char *hash);

//  Receives one result (blocks if none is waiting). Returns 0, or -1 when
//  interrupted or the message is malformed.
int hasher_recv (hasher_t *self, hasher_result_t *result);

#ifdef __cplusplus
}
#endif

#endif
