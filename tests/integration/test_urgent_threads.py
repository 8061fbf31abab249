"""Urgent threads (issue 12) in real raftqd processes: by default no thread
runs ahead; with "urgent_threads": "nice" the Raft thread and the peers' I/O
thread run at nice -10, and with "realtime" in real time, for a node whose
machine has other busy work; every other thread stays normal (the log's
syncer, started by the Raft thread, too). Where the test runs without
CAP_SYS_NICE, the node says in its log that it runs below what it asked
for."""

import os

from harness import check, check_equal, wait_until

RESET_ON_FORK = 0x40000000
PEERS_IO_THREAD = "ZMQbg/IO/1"
RAFT_THREAD = "raftq-raft"          # worker_begin names each actor thread


def _threads(cluster, node_id):
    """(name, policy, nice) of each thread of the node's process."""
    pid = cluster.processes.pid(node_id)
    check(pid is not None, "node %d is not running", node_id)
    found = []
    for tid in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/comm" % (pid, tid)) as handle:
                name = handle.read().strip()
            policy = os.sched_getscheduler(int(tid)) & ~RESET_ON_FORK
            nice = os.getpriority(os.PRIO_PROCESS, int(tid))
        except (FileNotFoundError, ProcessLookupError):
            continue  # a thread that ended meanwhile
        found.append((name, policy, nice))
    return found


def _urgent(threads, policy, nice):
    return sorted(name for name, their_policy, their_nice in threads
                  if their_policy == policy and their_nice == nice)


def _privileged():
    """Whether this process may make a thread real time (as raftqd would)."""
    try:
        previous = os.sched_getscheduler(0)
        os.sched_setscheduler(0, os.SCHED_RR, os.sched_param(1))
        os.sched_setscheduler(0, previous, os.sched_param(0))
        return True
    except PermissionError:
        return False


def _check_urgent(cluster, node_id, policy, nice, what):
    """The node's Raft and peer I/O threads, and only they, run at policy
    and nice; or, without the privilege, it says so in its log."""
    threads = _threads(cluster, node_id)
    if _privileged():
        check_equal(_urgent(threads, policy, nice), sorted([PEERS_IO_THREAD, RAFT_THREAD]),
                    "node %d threads at %s" % (node_id, what))
        others = [thread for thread in threads if thread[1:] != (policy, nice)]
        check(all(their_policy == os.SCHED_OTHER and their_nice == 0
                  for _, their_policy, their_nice in others),
              "node %d: other threads not normal: %r", node_id, others)
    else:
        check_equal(_urgent(threads, policy, nice), [], "node %d threads at %s without the privilege"
                    % (node_id, what))
        log = os.path.join(cluster.config.nodes[node_id].dir, "raftqd.log")
        wait_until(lambda: "priority, not" in open(log).read(), 5.0,
                   "node %d saying its Raft thread runs below %s" % (node_id, what))


def test_no_thread_runs_ahead_by_default(ctx):
    cluster = ctx.cluster(1)
    spawned = cluster.start()
    cluster.wait_leader(3.0, since=spawned)
    threads = _threads(cluster, 1)
    check(all(policy == os.SCHED_OTHER and nice == 0 for _, policy, nice in threads),
          "node 1: threads not normal: %r", threads)


def test_raft_and_peer_threads_run_ahead_when_the_config_says_nice(ctx):
    cluster = ctx.cluster(3, urgent_threads="nice")
    spawned = cluster.start()
    cluster.wait_leader(3.0, since=spawned)
    for node_id in cluster.ids:
        _check_urgent(cluster, node_id, os.SCHED_OTHER, -10, "nice -10")


def test_realtime_when_the_config_says_so(ctx):
    cluster = ctx.cluster(1, urgent_threads="realtime")
    spawned = cluster.start()
    cluster.wait_leader(3.0, since=spawned)
    _check_urgent(cluster, 1, os.SCHED_RR, 0, "real time")
