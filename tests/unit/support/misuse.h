/*  misuse — checks that a module aborts on API misuse, and only then. A
    scenario runs in a forked child with the default SIGABRT action (cmocka
    catches it to report a failure), stderr silenced; the parent reads how
    the child ended. Each scenario runs twice, used correctly and misused,
    so the check fails both for a missing precondition and for one that
    fires on correct use.
*/
#ifndef MISUSE_H_INCLUDED
#define MISUSE_H_INCLUDED

#include <stdbool.h>

//  One scenario: misuse says whether to break the API's rule at its end.
typedef void (misuse_scenario_fn) (void *argument, bool misuse);

//  Runs scenario in a child. Returns true if it died of SIGABRT, false if
//  it exited normally; anything else fails the calling test.
bool misuse_aborts (misuse_scenario_fn *scenario, void *argument, bool misuse);

//  Asserts that scenario exits normally when used correctly and aborts when
//  misused.
void misuse_check (misuse_scenario_fn *scenario, void *argument);

#endif
