/*  bench_restart — raftq-bench's restart mode: the node's directory and
    place from the config, killing it (SIGKILL, pid from <node
    dir>/raftqd.pid as tools/raftq-cluster writes it), spawning raftqd
    again, and probing its status until it answers and until its applied
    index is back, with the CPU time it used until then.
*/
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <czmq.h>
#include <jansson.h>

#include "bench_queue.h"
#include "bench_cpu.h"
#include "bench_restart.h"
#include "raftq.h"

//  Wait of one status probe, which is also the resolution of the times
//  measured (a probe that finds no node listening gives up then, and the
//  next one connects afresh)
#define S_PROBE_MS 10
//  How long a node may take to die, and to be ready again
#define S_KILL_WAIT_MS  5000
#define S_READY_WAIT_MS 60000

//  Where the restarted node lives and how it is started.
typedef struct {
    char config_path[PATH_MAX]; //  the config, absolute: raftqd runs elsewhere
    char base_dir[PATH_MAX];    //  its directory: raftqd's working directory
    char node_dir[PATH_MAX];    //  <data_dir>/node-<id>
    char raftqd[PATH_MAX];      //  the broker executable
    size_t endpoint_index;      //  the node's place among the config's endpoints
    pid_t spawned;              //  the node's pid once we spawned it, else 0
} restart_plan_t;

//  One restart's times, in microseconds from the spawn.
typedef struct {
    int64_t answered_us; //  first status answer
    int64_t ready_us;    //  applied index back where it was
    int64_t cpu_us;      //  CPU time the node used until then, all threads:
                         //  less skewed than wall time on a busy machine
} restart_times_t;

//  Finds the node's directory and place in the config, and the broker.
//  Returns 0, or -1 after saying why.
static int
s_restart_plan (const bench_options_t *options, restart_plan_t *plan)
{
    memset (plan, 0, sizeof (*plan));
    if (!realpath (options->config_path, plan->config_path)) {
        fprintf (stderr, "raftq-bench: %s: %s\n", options->config_path, strerror (errno));
        return -1;
    }
    snprintf (plan->base_dir, sizeof (plan->base_dir), "%s", plan->config_path);
    *strrchr (plan->base_dir, '/') = 0;
    json_error_t error;
    json_t *root = json_load_file (plan->config_path, 0, &error);
    json_t *nodes = root ? json_object_get (root, "nodes") : NULL;
    json_t *data_dir = root ? json_object_get (root, "data_dir") : NULL;
    const char *data = json_is_string (data_dir) ? json_string_value (data_dir) : "data";
    bool found = false;
    for (size_t index = 0; index < json_array_size (nodes) && !found; index++) {
        json_t *id = json_object_get (json_array_get (nodes, index), "id");
        found = json_is_integer (id) && json_integer_value (id) == (json_int_t)options->node_id;
        if (found)
            plan->endpoint_index = index;
    }
    int length = snprintf (plan->node_dir, sizeof (plan->node_dir), "%s%s%s/node-%u",
                           data[0] == '/' ? "" : plan->base_dir, data[0] == '/' ? "" : "/", data,
                           options->node_id);
    json_decref (root);
    if (!found || length < 0 || (size_t)length >= sizeof (plan->node_dir)) {
        fprintf (stderr, "raftq-bench: %s has no node %u in \"nodes\"\n", plan->config_path,
                 options->node_id);
        return -1;
    }
    if (options->raftqd)
        snprintf (plan->raftqd, sizeof (plan->raftqd), "%s", options->raftqd);
    else {
        ssize_t length = readlink ("/proc/self/exe", plan->raftqd, sizeof (plan->raftqd) - 1);
        plan->raftqd[length > 0 ? length : 0] = 0;
        char *slash = strrchr (plan->raftqd, '/');
        if (slash && (size_t)(slash - plan->raftqd) + sizeof ("/raftqd") <= sizeof (plan->raftqd))
            strcpy (slash, "/raftqd");
    }
    if (access (plan->raftqd, X_OK)) {
        fprintf (stderr, "raftq-bench: %s: no raftqd executable (give --raftqd)\n", plan->raftqd);
        return -1;
    }
    return 0;
}

//  The node's pid from the pid file raftq-cluster writes, 0 if none.
static pid_t
s_node_pid (const restart_plan_t *plan)
{
    if (plan->spawned)
        return plan->spawned;
    char path[PATH_MAX + 16];
    snprintf (path, sizeof (path), "%s/raftqd.pid", plan->node_dir);
    FILE *file = fopen (path, "r");
    long pid = 0;
    if (file) {
        if (fscanf (file, "%ld", &pid) != 1)
            pid = 0;
        fclose (file);
    }
    return (pid_t)pid;
}

//  True once pid is gone: no such process, or a zombie nobody reaped yet
//  whose other threads have all exited (the main thread of a killed
//  process turns zombie while the others still close its sockets).
static bool
s_process_gone (pid_t pid)
{
    if (kill (pid, 0) == -1 && errno == ESRCH)
        return true;
    char path[64], stat[512] = "";
    snprintf (path, sizeof (path), "/proc/%ld/stat", (long)pid);
    FILE *file = fopen (path, "r");
    if (!file)
        return true;
    size_t got = fread (stat, 1, sizeof (stat) - 1, file);
    fclose (file);
    stat[got] = 0;
    char *end = strrchr (stat, ')');
    if (!end || end[1] != ' ' || (end[2] != 'Z' && end[2] != 'X'))
        return false;
    snprintf (path, sizeof (path), "/proc/%ld/task", (long)pid);
    DIR *tasks = opendir (path);
    size_t threads = 0;
    for (struct dirent *task = tasks ? readdir (tasks) : NULL; task; task = readdir (tasks))
        threads += task->d_name[0] != '.';
    if (tasks)
        closedir (tasks);
    return threads <= 1;
}

//  SIGKILLs the node and waits until it is gone. Returns 0 or -1.
static int
s_kill_node (restart_plan_t *plan)
{
    pid_t pid = s_node_pid (plan);
    if (pid <= 0 || kill (pid, SIGKILL)) {
        fprintf (stderr, "raftq-bench: cannot kill the node (pid %ld): %s\n", (long)pid,
                 pid <= 0 ? "no pid file" : strerror (errno));
        return -1;
    }
    if (plan->spawned) {
        waitpid (plan->spawned, NULL, 0);
        plan->spawned = 0;
        return 0;
    }
    int64_t deadline = zclock_mono () + S_KILL_WAIT_MS;
    while (!s_process_gone (pid) && zclock_mono () < deadline)
        zclock_sleep (1);
    return s_process_gone (pid) ? 0 : -1;
}

//  Spawns raftqd for the node in its own process group (not a session of
//  its own: raftq_cluster.py says why), output appended to its log as
//  raftq-cluster does, and writes the pid file. Returns 0 or -1.
static int
s_spawn_node (restart_plan_t *plan, const bench_options_t *options)
{
    char log_path[PATH_MAX + 16], pid_path[PATH_MAX + 16], id[16];
    snprintf (log_path, sizeof (log_path), "%s/raftqd.log", plan->node_dir);
    snprintf (pid_path, sizeof (pid_path), "%s/raftqd.pid", plan->node_dir);
    snprintf (id, sizeof (id), "%u", options->node_id);
    pid_t pid = fork ();
    if (pid == 0) {
        //  Only async-signal-safe calls until exec: the parent has threads
        setpgid (0, 0);
        int log = open (log_path, O_WRONLY | O_CREAT | O_APPEND, 0644);
        int nothing = open ("/dev/null", O_RDONLY);
        if (log >= 0 && nothing >= 0 && dup2 (log, 1) >= 0 && dup2 (log, 2) >= 0 &&
            dup2 (nothing, 0) >= 0 && chdir (plan->base_dir) == 0)
            execl (plan->raftqd, "raftqd", "--config", plan->config_path, "--id", id, (char *)NULL);
        _exit (127);
    }
    if (pid < 0) {
        fprintf (stderr, "raftq-bench: fork: %s\n", strerror (errno));
        return -1;
    }
    plan->spawned = pid;
    FILE *file = fopen (pid_path, "w");
    if (file) {
        fprintf (file, "%ld\n", (long)pid);
        fclose (file);
    }
    return 0;
}

//  Probes the node's status every S_PROBE_MS until its applied index
//  reaches target (0: until it answers). Returns 0 with the times since
//  started_us, or -1 after saying why (the node died or stayed behind).
static int
s_wait_ready (raftq_client_t *client, restart_plan_t *plan, uint64_t target, int64_t started_us,
              restart_times_t *times)
{
    memset (times, 0, sizeof (*times));
    int64_t deadline = zclock_mono () + S_READY_WAIT_MS;
    raftq_status_t status;
    while (zclock_mono () < deadline && !zsys_interrupted) {
        if (plan->spawned && waitpid (plan->spawned, NULL, WNOHANG) == plan->spawned) {
            plan->spawned = 0;
            fprintf (stderr, "raftq-bench: the node exited; see %s/raftqd.log\n", plan->node_dir);
            return -1;
        }
        if (raftq_status (client, plan->endpoint_index, &status) != RAFTQ_OK)
            continue; //  the probe waited S_PROBE_MS
        int64_t now = zclock_usecs ();
        if (times->answered_us == 0)
            times->answered_us = now - started_us;
        if (status.applied_index >= target) {
            times->ready_us = now - started_us;
            times->cpu_us = plan->spawned ? bench_cpu_process_us (plan->spawned) : 0;
            return 0;
        }
        zclock_sleep (S_PROBE_MS / 2);
    }
    fprintf (stderr, "raftq-bench: the node did not reach applied index %" PRIu64 " in %d ms\n",
             target, S_READY_WAIT_MS);
    return -1;
}

//  Index of the newest snapshot file of the node, 0 if none.
static uint64_t
s_newest_snapshot (const restart_plan_t *plan)
{
    char path[PATH_MAX + 16];
    snprintf (path, sizeof (path), "%s/snap", plan->node_dir);
    uint64_t newest = 0;
    zdir_t *dir = zdir_new (path, "-");
    zfile_t **files = dir ? zdir_flatten (dir) : NULL;
    for (size_t index = 0; files && files[index]; index++) {
        unsigned long long found;
        char suffix[8] = "";
        const char *name = strrchr (zfile_filename (files[index], NULL), '/');
        if (name && sscanf (name, "/snapshot-%20llu.%7s", &found, suffix) == 2 &&
            streq (suffix, "snap") && found > newest)
            newest = found;
    }
    zdir_flatten_free (&files);
    zdir_destroy (&dir);
    return newest;
}

//  Waits until the node applied what the cluster committed. Returns the
//  node's applied index, 0 after saying why.
static uint64_t
s_wait_caught_up (raftq_client_t *client, restart_plan_t *plan, size_t endpoint_count)
{
    uint64_t committed = 0;
    raftq_status_t status;
    for (size_t index = 0; index < endpoint_count; index++)
        if (raftq_status (client, index, &status) == RAFTQ_OK && status.commit_index > committed)
            committed = status.commit_index;
    restart_times_t times;
    if (committed == 0 || s_wait_ready (client, plan, committed, zclock_usecs (), &times))
        return 0;
    return raftq_status (client, plan->endpoint_index, &status) == RAFTQ_OK ? status.applied_index
                                                                            : 0;
}

static int
s_compare_i64 (const void *first, const void *second)
{
    int64_t a = *(const int64_t *)first, b = *(const int64_t *)second;
    return a < b ? -1 : a > b;
}

static double
s_median_ms (int64_t *values, int count)
{
    qsort (values, (size_t)count, sizeof (int64_t), s_compare_i64);
    return (double)values[count / 2] / 1000.0;
}

//  Publishes --count messages first, as --mode publish would. Returns 0
//  or -1.
static int
s_fill (char **endpoints, const bench_options_t *options)
{
    if (options->count == 0)
        return 0;
    bench_options_t fill = *options;
    fill.mode = BENCH_MODE_QUEUE;
    fill.warmup_s = 0;
    fill.duration_s = 86400;
    return bench_queue_main (endpoints, &fill) ? -1 : 0;
}

//  One run: waits until the node caught up, snapshots it if asked, kills
//  and respawns it, times it and prints the row. Returns 0, or -1 after
//  saying why.
static int
s_restart_once (raftq_client_t *client, restart_plan_t *plan, const bench_options_t *options,
                size_t endpoint_count, int run, restart_times_t *times)
{
    uint64_t applied = s_wait_caught_up (client, plan, endpoint_count);
    if (applied == 0) {
        fprintf (stderr, "raftq-bench: node %u does not answer or applies nothing\n",
                 options->node_id);
        return -1;
    }
    if (options->snapshot_first) {
        raftq_code_t code = raftq_admin_snapshot (client, plan->endpoint_index, NULL);
        if (code != RAFTQ_OK) {
            fprintf (stderr, "raftq-bench: TakeSnapshot: %s: %s\n", raftq_code_name (code),
                     raftq_client_error (client));
            return -1;
        }
    }
    uint64_t snapshot = s_newest_snapshot (plan);
    if (s_kill_node (plan))
        return -1;
    int64_t started = zclock_usecs ();
    if (s_spawn_node (plan, options) || s_wait_ready (client, plan, applied, started, times))
        return -1;
    printf ("  %4d %12" PRIu64 " %12" PRIu64 " %12" PRIu64 " %14.1f %14.1f %14.1f\n", run + 1,
            applied, snapshot, applied - snapshot, times->answered_us / 1000.0,
            times->ready_us / 1000.0, times->cpu_us / 1000.0);
    fflush (stdout);
    return 0;
}

//  The runs, a row each, then the medians. Returns the exit status.
static int
s_restart_runs (raftq_client_t *client, restart_plan_t *plan, char **endpoints,
                size_t endpoint_count, const bench_options_t *options)
{
    int64_t *answered = (int64_t *)calloc ((size_t)options->runs, sizeof (int64_t));
    int64_t *ready = (int64_t *)calloc ((size_t)options->runs, sizeof (int64_t));
    int64_t *cpu = (int64_t *)calloc ((size_t)options->runs, sizeof (int64_t));
    int status = 1;
    int run = 0;
    if (answered && ready && cpu) {
        printf ("raftq-bench: restart of node %u (%s), %d runs\n", options->node_id,
                endpoints[plan->endpoint_index], options->runs);
        printf ("  %4s %12s %12s %12s %14s %14s %14s\n", "run", "applied", "snapshot", "log after",
                "answers (ms)", "ready (ms)", "cpu (ms)");
    }
    for (; answered && ready && cpu && run < options->runs && !zsys_interrupted; run++) {
        restart_times_t times;
        if (s_restart_once (client, plan, options, endpoint_count, run, &times))
            break;
        answered[run] = times.answered_us;
        ready[run] = times.ready_us;
        cpu[run] = times.cpu_us;
    }
    if (run == options->runs) {
        printf ("  %-43s %14.1f %14.1f %14.1f\n", "median", s_median_ms (answered, run),
                s_median_ms (ready, run), s_median_ms (cpu, run));
        status = 0;
    }
    free (answered);
    free (ready);
    free (cpu);
    return status;
}

int
bench_restart_main (char **endpoints, const bench_options_t *options)
{
    restart_plan_t plan;
    if (s_restart_plan (options, &plan))
        return BENCH_EXIT_USAGE;
    if (s_fill (endpoints, options))
        return 1;
    size_t endpoint_count = 0;
    while (endpoints[endpoint_count])
        endpoint_count++;
    raftq_client_t *client = raftq_client_new ((const char **)endpoints, endpoint_count);
    if (!client)
        return 1;
    raftq_client_set_attempt_timeout (client, S_PROBE_MS);
    int status = s_restart_runs (client, &plan, endpoints, endpoint_count, options);
    raftq_client_destroy (&client);
    return status;
}
