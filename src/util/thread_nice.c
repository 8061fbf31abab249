/*  thread_nice — per-thread nice values; see thread_nice.h.
 */
#include "util/thread_nice.h"

#include <dirent.h>
#include <stdbool.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

int
thread_nice_self (int nice)
{
    return setpriority (PRIO_PROCESS, (id_t)gettid (), nice);
}

//  Whether thread tid of this process is named name.
static int
s_named (const char *tid, const char *name)
{
    char path[sizeof "/proc/self/task//comm" + NAME_MAX];
    snprintf (path, sizeof path, "/proc/self/task/%s/comm", tid);
    FILE *file = fopen (path, "r");
    if (!file)
        return 0;
    char comm[32] = "";
    bool read = fgets (comm, sizeof comm, file) != NULL;
    fclose (file);
    comm[strcspn (comm, "\n")] = 0;
    return read && strcmp (comm, name) == 0;
}

int
thread_nice_named (const char *name, int nice)
{
    DIR *tasks = opendir ("/proc/self/task");
    if (!tasks)
        return -1;
    int set = 0;
    int failure = ENOENT;
    for (struct dirent *entry = readdir (tasks); entry; entry = readdir (tasks)) {
        if (entry->d_name[0] == '.' || !s_named (entry->d_name, name))
            continue;
        if (setpriority (PRIO_PROCESS, (id_t)strtoul (entry->d_name, NULL, 10), nice) == 0)
            set++;
        else
            failure = errno;
    }
    closedir (tasks);
    if (set)
        return 0;
    errno = failure;
    return -1;
}
