/*  misuse — fork, run, read how the child ended; see misuse.h.  */
#include "misuse.h"

#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

bool
misuse_aborts (misuse_scenario_fn *scenario, void *argument, bool misuse)
{
    pid_t child = fork ();
    assert_true (child >= 0);
    if (child == 0) {
        signal (SIGABRT, SIG_DFL);
        int null_fd = open ("/dev/null", O_WRONLY);
        if (null_fd >= 0)
            dup2 (null_fd, STDERR_FILENO);
        scenario (argument, misuse);
        _exit (0);
    }
    int status = 0;
    assert_int_equal (waitpid (child, &status, 0), child);
    if (WIFSIGNALED (status)) {
        assert_int_equal (WTERMSIG (status), SIGABRT);
        return true;
    }
    assert_true (WIFEXITED (status));
    assert_int_equal (WEXITSTATUS (status), 0);
    return false;
}

void
misuse_check (misuse_scenario_fn *scenario, void *argument)
{
    assert_false (misuse_aborts (scenario, argument, false));
    assert_true (misuse_aborts (scenario, argument, true));
}
