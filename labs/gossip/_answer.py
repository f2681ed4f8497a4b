"""The answer key of lab gossip: the project's own core functions, by the learner's names."""

from __future__ import annotations

ANSWER_KEY = {
    "merge_entries": "dynamokv.impl.core._gossip.merge_entries",
    "choose_gossip_peer": "dynamokv.impl.core._gossip.choose_gossip_peer",
    "phi_of_silence": "dynamokv.impl.core._phi.phi_of_silence",
}

SEAMS = {
    "merge_entries": "dynamokv.impl.core.Seams.merge_entries",
    "choose_gossip_peer": "dynamokv.impl.core.Seams.choose_gossip_peer",
    "phi_of_silence": "dynamokv.impl.core.Seams.phi_of_silence",
}
"""The learner's functions that run inside every simulated view, and the seam of each."""
