/*  raft_sim — deterministic simulation of raft_core clusters (see sim_cluster.h).

    raft_sim --runs N [--seed S] [--nodes 3|5] [--steps K] [--verbose]

    Run i uses a seed derived from i (or S + i with --seed), and 3 or 5 nodes
    alternately (or --nodes): the same command line always plays the same
    runs, and a failed run is replayed alone with the seed and size it prints.
    Prints totals over all runs so a reviewer sees what was exercised, then
    one summary line; exits 0 only when every run passed.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim_cluster.h"
#include "sim_random.h"

#define DEFAULT_STEPS 15000

//  Command line.
typedef struct {
    uint64_t runs;     //  how many runs
    bool seeded;       //  --seed given
    uint64_t seed;     //  first seed
    size_t node_count; //  0: alternate 3 and 5
    size_t steps;      //  events per run before the liveness phase
    bool verbose;      //  trace events
} arguments_t;

static int
s_parse_number (const char *text, uint64_t *value)
{
    char *end = NULL;
    if (!text || !*text)
        return -1;
    *value = strtoull (text, &end, 0);
    return *end ? -1 : 0;
}

static int
s_parse_arguments (int argc, char *argv[], arguments_t *arguments)
{
    memset (arguments, 0, sizeof (arguments_t));
    arguments->runs = 1;
    arguments->steps = DEFAULT_STEPS;
    for (int position = 1; position < argc; position++) {
        const char *name = argv[position];
        const char *value = position + 1 < argc ? argv[position + 1] : NULL;
        uint64_t number = 0;
        if (strcmp (name, "--verbose") == 0) {
            arguments->verbose = true;
            continue;
        }
        if (s_parse_number (value, &number)) {
            fprintf (stderr, "raft_sim: %s needs a number\n", name);
            return -1;
        }
        position++;
        if (strcmp (name, "--runs") == 0)
            arguments->runs = number;
        else if (strcmp (name, "--seed") == 0) {
            arguments->seeded = true;
            arguments->seed = number;
        } else if (strcmp (name, "--nodes") == 0 && number >= 1 && number <= 9)
            arguments->node_count = (size_t)number;
        else if (strcmp (name, "--steps") == 0 && number > 0)
            arguments->steps = (size_t)number;
        else {
            fprintf (stderr, "raft_sim: bad option %s %s\n", name, value);
            return -1;
        }
    }
    return 0;
}

int
main (int argc, char *argv[])
{
    arguments_t arguments;
    if (s_parse_arguments (argc, argv, &arguments)) {
        fprintf (stderr,
                 "usage: raft_sim --runs N [--seed S] [--nodes 3|5] [--steps K] [--verbose]\n");
        return 2;
    }
    sim_totals_t totals;
    memset (&totals, 0, sizeof (totals));
    uint64_t passed = 0;
    uint64_t failed = 0;
    for (uint64_t run = 0; run < arguments.runs; run++) {
        sim_cluster_options_t options = {
            .seed = arguments.seeded ? arguments.seed + run : sim_random_mix (run),
            .node_count = arguments.node_count ? arguments.node_count : (run % 2 ? 5 : 3),
            .steps = arguments.steps,
            .verbose = arguments.verbose,
        };
        sim_cluster_t *cluster = sim_cluster_new (&options);
        if (!cluster) {
            fprintf (stderr, "raft_sim: cannot create a cluster\n");
            return 2;
        }
        if (sim_cluster_run (cluster) == 0)
            passed++;
        else {
            failed++;
            printf ("raft_sim: FAILED seed=%llu nodes=%zu: %s at step %llu (replay: raft_sim "
                    "--seed %llu --nodes %zu --runs 1 --verbose)\n",
                    (unsigned long long)options.seed, options.node_count,
                    sim_cluster_error (cluster),
                    (unsigned long long)sim_cluster_failed_step (cluster),
                    (unsigned long long)options.seed, options.node_count);
            fflush (stdout);
        }
        sim_cluster_add_totals (cluster, &totals);
        sim_cluster_destroy (&cluster);
    }
    printf (
        "totals: steps=%llu elections=%llu commits=%llu proposals=%llu crashes=%llu "
        "(torn %llu, lost suffix %llu) partitions=%llu pauses=%llu truncations=%llu messages=%llu "
        "dropped=%llu forged=%llu\n",
        (unsigned long long)totals.steps, (unsigned long long)totals.elections,
        (unsigned long long)totals.commits, (unsigned long long)totals.proposals,
        (unsigned long long)totals.crashes, (unsigned long long)totals.torn,
        (unsigned long long)totals.lost, (unsigned long long)totals.partitions,
        (unsigned long long)totals.pauses, (unsigned long long)totals.truncations,
        (unsigned long long)totals.messages, (unsigned long long)totals.dropped,
        (unsigned long long)totals.forged);
    printf ("features: transfers asked=%llu (target took over %llu), cut-off leaders stepped "
            "down=%llu\n",
            (unsigned long long)totals.transfers, (unsigned long long)totals.transfers_done,
            (unsigned long long)totals.quorum_step_downs);
    printf ("membership: learners added=%llu, members removed=%llu (leaders themselves %llu), "
            "voters demoted=%llu, spares made voters=%llu\n",
            (unsigned long long)totals.adds, (unsigned long long)totals.removes,
            (unsigned long long)totals.self_removals, (unsigned long long)totals.demotes,
            (unsigned long long)totals.spares_promoted);
    printf ("snapshots: taken=%llu, streamed=%llu, installed=%llu\n",
            (unsigned long long)totals.compactions, (unsigned long long)totals.snapshots_sent,
            (unsigned long long)totals.snapshots_installed);
    printf ("reads: issued=%llu, answered=%llu (each checked fresh), failed on a step down=%llu\n",
            (unsigned long long)totals.reads, (unsigned long long)totals.reads_answered,
            (unsigned long long)totals.reads_failed);
    printf ("end scenarios: rejoins without a term change=%llu, calm transfers=%llu, leader "
            "removed and re-added=%llu\n",
            (unsigned long long)totals.rejoins, (unsigned long long)totals.transfer_scenarios,
            (unsigned long long)totals.membership_scenarios);
    printf ("%llu passed, %llu failed\n", (unsigned long long)passed, (unsigned long long)failed);
    return failed == 0 ? 0 : 1;
}
