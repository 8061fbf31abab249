"""chaos — tools/raftq-chaos: a real raftqd cluster (each node on its own
loopback address) under concurrent clients and injected faults, a recorded
history, and the checks that nothing acknowledged was lost, delivered twice,
invented or reordered, that the queue stayed linearizable and that every
node converged to the same state.

Modules: wire (the protobuf messages, by hand), firewall (nftables rules
between node addresses), disk (torn and corrupt log tails), workload
(clients, sessions, history), nemesis (faults, healing, settling), checker
(the history checks and the linearizability search), campaign (one run and
its report), selftest (the checkers against synthetic flawed histories).
"""
