"""wire — the old import path (`from chaos import wire`) of raftq_wire,
which lives beside the Python client (clients/python/raftq_wire.py) so that
tools/ and tests/integration share one copy: this module is that very
module under its old name (the package put its folder on sys.path)."""

import sys

import raftq_wire

sys.modules[__name__] = raftq_wire
