/*  hasher — crypto_pwhash on its own thread. See hasher.h. */

#include <pthread.h>
#include <sodium.h>

#include "broker/hasher.h"
#include "util/worker.h"
#include "util/little_endian.h"

//  What the actor thread needs, copied before it signals that it runs.
typedef struct {
    unsigned long long opslimit; //  crypto_pwhash operations limit
    size_t memlimit;             //  crypto_pwhash memory limit in bytes
} s_limits_t;

//  The actor thread's state.
typedef struct {
    s_limits_t limits;                  //  for new hashes
    char decoy[crypto_pwhash_STRBYTES]; //  what missing accounts are checked against
} s_worker_t;

struct _hasher_t {
    zactor_t *actor; //  the hashing thread
};

static bool
s_is_u64_frame (zframe_t *frame)
{
    return frame && zframe_size (frame) == 8;
}

//  --------------------------------------------------------------------------
//  The actor thread

//  An empty hash stands for a missing account: the decoy is checked, for
//  the time it takes, and whatever it says is a mismatch.
static hasher_status_t
s_verify (const s_worker_t *worker, zframe_t *password, zframe_t *hash)
{
    char stored[HASHER_HASH_MAX];
    if (zframe_size (hash) >= sizeof stored)
        return HASHER_MISMATCH;
    bool decoy = zframe_size (hash) == 0;
    if (decoy)
        memcpy (stored, worker->decoy, sizeof worker->decoy);
    else {
        memcpy (stored, zframe_data (hash), zframe_size (hash));
        stored[zframe_size (hash)] = 0;
    }
    int rc = crypto_pwhash_str_verify (stored, (const char *)zframe_data (password),
                                       zframe_size (password));
    return rc == 0 && !decoy ? HASHER_OK : HASHER_MISMATCH;
}

//  Runs one job and answers it; message holds the frames after the command.
static void
s_run_job (zsock_t *pipe, const s_worker_t *worker, bool verify, zmsg_t *message)
{
    zframe_t *job = zmsg_pop (message);
    zframe_t *deadline = zmsg_pop (message);
    zframe_t *password = zmsg_pop (message);
    zframe_t *hash = verify ? zmsg_pop (message) : NULL;
    //  Only our broker writes to this pipe: a malformed job is a bug there,
    //  dropped rather than answered with a made-up job id
    if (s_is_u64_frame (job) && s_is_u64_frame (deadline) && password && (!verify || hash)) {
        char computed[crypto_pwhash_STRBYTES] = "";
        hasher_status_t status;
        if ((int64_t)little_endian_get_u64 (zframe_data (deadline)) < zclock_mono ())
            status = HASHER_EXPIRED;
        else if (verify)
            status = s_verify (worker, password, hash);
        else
            status = crypto_pwhash_str (computed, (const char *)zframe_data (password),
                                        zframe_size (password), worker->limits.opslimit,
                                        worker->limits.memlimit) == 0
                         ? HASHER_OK
                         : HASHER_FAILED;
        zmsg_t *reply = zmsg_new ();
        zmsg_addstr (reply, "DONE");
        zmsg_append (reply, &job);
        uint8_t status_byte = (uint8_t)status;
        zmsg_addmem (reply, &status_byte, 1);
        zmsg_addstr (reply, computed);
        zmsg_send (&reply, pipe);
    }
    if (password)
        sodium_memzero (zframe_data (password), zframe_size (password));
    zframe_destroy (&job);
    zframe_destroy (&deadline);
    zframe_destroy (&password);
    zframe_destroy (&hash);
}

static void
s_hasher_actor (zsock_t *pipe, void *args)
{
    s_worker_t worker = {.limits = *(const s_limits_t *)args};
    //  Shutdown is the broker's call ($TERM): SIGINT and SIGTERM go to it
    worker_begin ("raftq-hasher");
    zsock_signal (pipe, 0);
    //  After the signal: the broker does not wait for it; the first jobs do.
    //  A random password nobody knows, hashed as real ones are, so checking
    //  against it costs what checking a real hash costs. Without memory for
    //  it the decoy stays empty: a quick mismatch, still never a match
    uint8_t secret[16];
    randombytes_buf (secret, sizeof secret);
    if (crypto_pwhash_str (worker.decoy, (const char *)secret, sizeof secret,
                           worker.limits.opslimit, worker.limits.memlimit))
        worker.decoy[0] = 0;
    sodium_memzero (secret, sizeof secret);
    zmsg_t *message;
    char *command;
    while ((command = worker_next_command (pipe, &message))) {
        if (streq (command, "HASH") || streq (command, "VERIFY"))
            s_run_job (pipe, &worker, streq (command, "VERIFY"), message);
        free (command);
        zmsg_destroy (&message);
    }
}

//  --------------------------------------------------------------------------
//  The broker's side

hasher_t *
hasher_new (unsigned long long opslimit, size_t memlimit)
{
    if (sodium_init () < 0)
        return NULL;
    s_limits_t limits = {opslimit ? opslimit : crypto_pwhash_OPSLIMIT_INTERACTIVE,
                         memlimit ? memlimit : crypto_pwhash_MEMLIMIT_INTERACTIVE};
    hasher_t *self = (hasher_t *)zmalloc (sizeof (hasher_t));
    //  zactor_new returns once the thread has copied limits and signalled
    self->actor = zactor_new (s_hasher_actor, &limits);
    if (!self->actor) {
        free (self);
        return NULL;
    }
    return self;
}

void
hasher_destroy (hasher_t **self_p)
{
    if (*self_p) {
        hasher_t *self = *self_p;
        zactor_destroy (&self->actor);
        free (self);
        *self_p = NULL;
    }
}

zsock_t *
hasher_sock (hasher_t *self)
{
    assert (self);
    return zactor_sock (self->actor);
}

static int
s_send_job (hasher_t *self, const char *command, uint64_t job, int64_t deadline,
            const char *password, const char *hash)
{
    assert (self);
    uint8_t job_bytes[8], deadline_bytes[8];
    little_endian_put_u64 (job_bytes, job);
    little_endian_put_u64 (deadline_bytes, (uint64_t)deadline);
    zmsg_t *message = zmsg_new ();
    zmsg_addstr (message, command);
    zmsg_addmem (message, job_bytes, sizeof job_bytes);
    zmsg_addmem (message, deadline_bytes, sizeof deadline_bytes);
    zmsg_addmem (message, password, strlen (password));
    if (streq (command, "VERIFY"))
        zmsg_addstr (message, hash ? hash : "");
    return zmsg_send (&message, zactor_sock (self->actor));
}

int
hasher_hash (hasher_t *self, uint64_t job, int64_t deadline, const char *password)
{
    return s_send_job (self, "HASH", job, deadline, password, NULL);
}

int
hasher_verify (hasher_t *self, uint64_t job, int64_t deadline, const char *password,
               const char *hash)
{
    return s_send_job (self, "VERIFY", job, deadline, password, hash);
}

int
hasher_recv (hasher_t *self, hasher_result_t *result)
{
    assert (self);
    assert (result);
    memset (result, 0, sizeof *result);
    zmsg_t *message = zmsg_recv (zactor_sock (self->actor));
    if (!message)
        return -1;
    int rc = -1;
    zframe_t *command = zmsg_first (message);
    zframe_t *job = zmsg_next (message);
    zframe_t *status = zmsg_next (message);
    zframe_t *hash = zmsg_next (message);
    if (command && zframe_streq (command, "DONE") && s_is_u64_frame (job) && status &&
        zframe_size (status) == 1 && zframe_data (status)[0] <= HASHER_FAILED && hash &&
        zframe_size (hash) < sizeof result->hash) {
        result->job = little_endian_get_u64 (zframe_data (job));
        result->status = (hasher_status_t)zframe_data (status)[0];
        memcpy (result->hash, zframe_data (hash), zframe_size (hash));
        result->hash[zframe_size (hash)] = 0;
        rc = 0;
    }
    zmsg_destroy (&message);
    return rc;
}
