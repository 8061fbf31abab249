/*  thread_priority — a thread's scheduling policy and nice value; see
    thread_priority.h.
*/
#include "util/thread_priority.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

const char *
thread_priority_name (thread_priority_t priority)
{
    switch (priority) {
    case THREAD_PRIORITY_REALTIME:
        return "realtime";
    case THREAD_PRIORITY_NICE:
        return "nice";
    default:
        return "normal";
    }
}

//  Raises thread tid as far as wanted and allowed. Either is reset on fork
//  and clone, so a snapshot child or a thread this one starts (the log's
//  syncer, a snapshot writer) begins normal; a failed step leaves the
//  thread as it was.
static thread_priority_t
s_raise (pid_t tid, thread_priority_t wanted)
{
    int failure = 0;
    if (wanted >= THREAD_PRIORITY_REALTIME) {
        struct sched_param param = {.sched_priority = sched_get_priority_min (SCHED_RR)};
        if (sched_setscheduler (tid, SCHED_RR | SCHED_RESET_ON_FORK, &param) == 0)
            return THREAD_PRIORITY_REALTIME;
        failure = errno;
    }
    if (wanted >= THREAD_PRIORITY_NICE) {
        //  Turning the reset on needs no privilege
        struct sched_param param = {.sched_priority = 0};
        if (sched_setscheduler (tid, SCHED_OTHER | SCHED_RESET_ON_FORK, &param) == 0 &&
            setpriority (PRIO_PROCESS, (id_t)tid, THREAD_PRIORITY_URGENT_NICE) == 0)
            return THREAD_PRIORITY_NICE;
        failure = errno;
    }
    errno = failure;
    return THREAD_PRIORITY_NORMAL;
}

thread_priority_t
thread_priority_raise_self (thread_priority_t wanted)
{
    return s_raise (gettid (), wanted);
}

int
thread_priority_nice_self (int nice)
{
    return setpriority (PRIO_PROCESS, (id_t)gettid (), nice);
}

//  Whether thread tid of this process is named name.
static bool
s_named (const char *tid, const char *name)
{
    char path[sizeof "/proc/self/task//comm" + NAME_MAX];
    snprintf (path, sizeof path, "/proc/self/task/%s/comm", tid);
    FILE *file = fopen (path, "r");
    if (!file)
        return false;
    char comm[32] = "";
    bool read = fgets (comm, sizeof comm, file) != NULL;
    fclose (file);
    comm[strcspn (comm, "\n")] = 0;
    return read && strcmp (comm, name) == 0;
}

int
thread_priority_raise_named (const char *name, thread_priority_t wanted)
{
    DIR *tasks = opendir ("/proc/self/task");
    if (!tasks)
        return -1;
    int least = -1;
    int failure = ENOENT;
    for (struct dirent *entry = readdir (tasks); entry; entry = readdir (tasks)) {
        if (entry->d_name[0] == '.' || !s_named (entry->d_name, name))
            continue;
        thread_priority_t got = s_raise ((pid_t)strtol (entry->d_name, NULL, 10), wanted);
        if (got < wanted)
            failure = errno;
        if (least == -1 || (int)got < least)
            least = (int)got;
    }
    closedir (tasks);
    errno = failure;
    return least;
}
