/*  worker_signals — how a worker thread (an actor) leaves process signals
    to the main thread. Shutdown is the main thread's call: SIGINT and
    SIGTERM must reach it, not whichever thread the kernel picks, so that it
    sends $TERM and the threads stop in a known order.
*/
#ifndef WORKER_SIGNALS_H_INCLUDED
#define WORKER_SIGNALS_H_INCLUDED

#ifdef __cplusplus
extern "C" {
#endif

//  Blocks SIGINT and SIGTERM in the calling thread; call it first thing in
//  an actor's thread function.
void worker_signals_block (void);

#ifdef __cplusplus
}
#endif

#endif
