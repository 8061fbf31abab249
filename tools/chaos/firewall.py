"""firewall — network faults between node addresses through one nftables
table of our own (inet raftq_chaos by default). Every node listens on its own
loopback address and its peer connections leave from it, so a rule on an
(saddr, daddr) pair cuts or thins exactly one direction of one link, while
the chaos clients (from 127.0.0.1) still reach every node. For link delay
it also redirects new peer connections into delay.py's proxy (NAT).

The table is the only thing this module ever changes, and it is replaced as
a whole: installing a new set of rules and healing are each one atomic
`nft -f` transaction. Healing deletes the table, so a crashed run leaves
nothing that a later run (which heals at start) would not remove.
"""

import shutil
import subprocess

DEFAULT_TABLE = "raftq_chaos"


class FirewallError(Exception):
    """nft is missing or refused our rules."""


class Firewall:
    """Installs drop and loss rules between addresses; heal() removes them."""

    def __init__(self, table=DEFAULT_TABLE):
        self.table = table                          # our nft table, family inet
        self.program = shutil.which("nft")          # the nft binary, None if missing
        self.installed = False                      # do we believe rules are in?

    def available(self):
        return self.program is not None

    def _run(self, script):
        if self.program is None:
            raise FirewallError("nft not found (apt-get install nftables)")
        completed = subprocess.run([self.program, "-f", "-"], input=script.encode("utf-8"),
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        if completed.returncode != 0:
            raise FirewallError("nft refused the rules: %s" % completed.stderr.decode("utf-8", "replace").strip())

    def _drop_table_lines(self):
        # declaring the table first makes the delete succeed whether or not
        # it existed, in the same transaction
        return ["table inet %s {}" % self.table, "delete table inet %s" % self.table]

    def install(self, cut, lossy=(), loss_percent=0, redirect=(), proxy=None):
        """Replaces all our rules: drop every packet from a to b for (a, b)
        in cut, and loss_percent % of those for (a, b) in lossy. Pairs are
        directed; give both directions to cut a link both ways.
        redirect holds (a, b, port) triples: new TCP connections from a to
        b:port go to proxy (host, port) instead; open connections are
        left alone (NAT only ever applies to new ones)."""
        lines = self._drop_table_lines()
        lines.append("table inet %s {" % self.table)
        if redirect:
            lines.append("  chain nat_output {")
            # NAT runs before the filter chain, so it sees original addresses
            lines.append("    type nat hook output priority -100; policy accept;")
            for source, destination, port in redirect:
                lines.append("    ip saddr %s ip daddr %s tcp dport %d dnat ip to %s:%d"
                             % (source, destination, port, proxy[0], proxy[1]))
            lines.append("  }")
        lines.append("  chain output {")
        lines.append("    type filter hook output priority 0; policy accept;")
        for source, destination in cut:
            lines.append("    ip saddr %s ip daddr %s drop" % (source, destination))
        for source, destination in lossy:
            lines.append("    ip saddr %s ip daddr %s numgen random mod 100 < %d drop"
                         % (source, destination, loss_percent))
        lines.append("  }")
        lines.append("}")
        self.installed = True
        self._run("\n".join(lines) + "\n")

    def heal(self):
        """Removes the whole table (a no-op when it is not there)."""
        if self.program is None:
            return
        self._run("\n".join(self._drop_table_lines()) + "\n")
        self.installed = False

    def rules(self):
        """The table as nft lists it, or '' when it does not exist."""
        if self.program is None:
            return ""
        completed = subprocess.run([self.program, "list", "table", "inet", self.table],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        return completed.stdout.decode("utf-8", "replace") if completed.returncode == 0 else ""
