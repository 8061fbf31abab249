/*  bench_cpu — the brokers' CPU time for raftq-bench; see bench_cpu.h.  */
#include "bench_cpu.h"

#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

//  Whether process pid is a raftqd with an argument naming config (a real
//  path), resolved against the process's working directory.
static bool
s_runs_config (pid_t pid, const char *config)
{
    char path[64];
    snprintf (path, sizeof (path), "/proc/%ld/comm", (long)pid);
    FILE *file = fopen (path, "r");
    char comm[32] = "";
    if (!file)
        return false;
    bool named = fgets (comm, sizeof (comm), file) && strcmp (comm, "raftqd\n") == 0;
    fclose (file);
    if (!named)
        return false;
    char cwd[PATH_MAX];
    snprintf (path, sizeof (path), "/proc/%ld/cwd", (long)pid);
    ssize_t length = readlink (path, cwd, sizeof (cwd) - 1);
    if (length <= 0)
        return false;
    cwd[length] = 0;
    snprintf (path, sizeof (path), "/proc/%ld/cmdline", (long)pid);
    file = fopen (path, "r");
    if (!file)
        return false;
    char arguments[4096];
    size_t size = fread (arguments, 1, sizeof (arguments) - 1, file);
    fclose (file);
    arguments[size] = 0;
    bool found = false;
    for (size_t offset = 0; offset < size && !found; offset += strlen (arguments + offset) + 1) {
        const char *argument = arguments + offset;
        char joined[2 * PATH_MAX + 2];
        char resolved[PATH_MAX];
        snprintf (joined, sizeof (joined), "%s%s%s", argument[0] == '/' ? "" : cwd,
                  argument[0] == '/' ? "" : "/", argument);
        found = realpath (joined, resolved) && strcmp (resolved, config) == 0;
    }
    return found;
}

void
bench_cpu_find (bench_cpu_t *self, const char *config_path)
{
    memset (self, 0, sizeof (*self));
    char config[PATH_MAX];
    if (!config_path || !realpath (config_path, config))
        return;
    DIR *processes = opendir ("/proc");
    if (!processes)
        return;
    struct dirent *entry;
    while ((entry = readdir (processes)) && self->count < BENCH_CPU_MAX_BROKERS) {
        char *end;
        long pid = strtol (entry->d_name, &end, 10);
        if (*end == 0 && pid > 0 && s_runs_config ((pid_t)pid, config))
            self->pids[self->count++] = (pid_t)pid;
    }
    closedir (processes);
}

int64_t
bench_cpu_process_us (pid_t pid)
{
    char path[64];
    snprintf (path, sizeof (path), "/proc/%ld/stat", (long)pid);
    FILE *file = fopen (path, "r");
    if (!file)
        return 0;
    char line[1024];
    size_t size = fread (line, 1, sizeof (line) - 1, file);
    fclose (file);
    line[size] = 0;
    //  utime and stime are fields 14 and 15; the name before may hold spaces
    char *after_name = strrchr (line, ')');
    unsigned long long user = 0, system = 0;
    if (!after_name ||
        sscanf (after_name + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &user,
                &system) != 2)
        return 0;
    return (int64_t)((user + system) * 1000000ULL / (unsigned long long)sysconf (_SC_CLK_TCK));
}

static double
s_total_seconds (const bench_cpu_t *self)
{
    double total = 0;
    for (size_t position = 0; position < self->count; position++)
        total += (double)bench_cpu_process_us (self->pids[position]) / 1e6;
    return total;
}

void
bench_cpu_start (bench_cpu_t *self)
{
    self->start_s = s_total_seconds (self);
    self->started = true;
}

void
bench_cpu_report (const bench_cpu_t *self, uint64_t operations, const char *unit)
{
    if (self->count == 0 || !self->started) {
        printf ("  %-16s unknown (no raftqd of the config found)\n", "broker CPU");
        return;
    }
    double used = s_total_seconds (self) - self->start_s;
    printf ("  %-16s %12.2f s in %zu raftqd = %.1f us per %s\n", "broker CPU", used, self->count,
            operations ? used * 1e6 / (double)operations : 0.0, unit);
}
