"""Executable specifications of Dynamo: small, pure, obviously right.

Each module is a teaching unit that reads like the paper, and every public
function carries icontract contracts that CrossHair checks (``make crosshair``)
and that run during the Hypothesis tests. The implementation in
:mod:`dynamokv.impl` must agree with these functions.

* :mod:`~dynamokv.spec.ring` -- consistent hashing, preference lists (Dynamo §4.2, §4.3)
* :mod:`~dynamokv.spec.quorum` -- N, R, W, strict and sloppy quorums (§4.5, §4.6)
* :mod:`~dynamokv.spec.vclock` -- vector clocks and their order (§4.4)
* :mod:`~dynamokv.spec.lamport` -- Lamport clocks, the one-integer alternative (interview Q2)
* :mod:`~dynamokv.spec.merkle` -- Merkle trees and their diff (§4.7)
* :mod:`~dynamokv.spec.kv` -- versions, siblings, contexts: the contract (§4.4)

Beside them, :mod:`~dynamokv.spec.errors` holds the one root of every error the project
raises on purpose; it sits in this package, the bottom layer, so that every layer can
import it (the storage layer imports this module and nothing else of the spec).
"""

from __future__ import annotations

from . import kv, lamport, merkle, quorum, ring, vclock

__all__ = ["kv", "lamport", "merkle", "quorum", "ring", "vclock"]
