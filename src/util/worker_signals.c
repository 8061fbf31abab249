/*  worker_signals — shutdown signals stay with the main thread; see worker_signals.h.  */
#include "util/worker_signals.h"

#include <pthread.h>
#include <signal.h>

void
worker_signals_block (void)
{
    sigset_t signals;
    sigemptyset (&signals);
    sigaddset (&signals, SIGINT);
    sigaddset (&signals, SIGTERM);
    pthread_sigmask (SIG_BLOCK, &signals, NULL);
}
