"""chaos — tools/raftq-chaos: a real raftqd cluster (each node on its own
loopback address, snapshots every few hundred KiB of log) under concurrent
queue, chat, quota-filling or consuming clients and injected faults, membership changes included; a
recorded history, and the checks that nothing acknowledged was lost,
delivered twice, invented or reordered, that the queue stayed linearizable,
conversation reads were not stale, chat sessions survived failover, and
that every node converged to the same state and membership.

The protobuf messages, encoded by hand, are raftq_wire, beside the Python
client (clients/python): tests/integration uses them too. Importing this
package puts that folder on sys.path; `chaos.wire` is the old name of the
same module. Modules: firewall (nftables rules
between node addresses), disk (torn and corrupt log tails), membership
(removing and re-adding nodes through the leader), workload (queue clients,
sessions, history), chat (chat clients and the final listing), limits
(clients that drive small quotas to their refusals), consume (clients that
reserve, ack, nack and crash, and the drain of their topics), nemesis (faults,
healing, settling), checker (the queue checks and the linearizability
search), chat_checker (the chat checks), limits_checker (the refusals
judged against the history), consume_checker (acknowledged consumption:
no loss, no double ack, no delivery after an ack, no early redelivery),
campaign (one run
and its report), selftest (the checkers against synthetic flawed
histories).
"""

import os
import sys

CLIENTS_PYTHON = os.path.join(
    os.path.dirname(os.path.dirname(os.path.dirname(os.path.realpath(__file__)))), "clients",
    "python")
if CLIENTS_PYTHON not in sys.path:
    sys.path.insert(0, CLIENTS_PYTHON)
