"""Every lab, by the short name the commands take, in the order ``lab list`` shows them."""

from __future__ import annotations

from ._model import Lab
from .gossip import LAB as GOSSIP
from .q1_ring import LAB as Q1
from .q2_clocks import LAB as Q2
from .q3_quorum import LAB as Q3
from .q4_recovery import LAB as Q4
from .q5_carts import LAB as Q5
from .wal import LAB as WAL

__all__ = ["LABS", "UnknownLabError", "get_lab"]

LABS: dict[str, Lab] = {lab.name: lab for lab in (Q1, Q2, Q3, Q4, Q5, GOSSIP, WAL)}


class UnknownLabError(KeyError):
    """No lab has that name; the message lists the ones that exist."""

    def __str__(self) -> str:
        return str(self.args[0])


def get_lab(name: str) -> Lab:
    """The lab called ``name``.

    Raises:
        UnknownLabError: no such lab.
    """
    lab = LABS.get(name)
    if lab is None:
        raise UnknownLabError(f"no lab {name!r}: the labs are {', '.join(LABS)}")
    return lab
