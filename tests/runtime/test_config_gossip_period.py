"""The gossip period is a cluster configuration key whose default is the core's."""

from __future__ import annotations

from pathlib import Path

import pytest
from dynamokv.impl.core._gossip import GossipConfig
from dynamokv.impl.runtime import MemberAddress, NodeProcess, NodeProcessConfig
from dynamokv.impl.runtime._config import ConfigError, load_config

TOML = """
[node]
name = "node-1"
data_dir = "{data_dir}"
[cluster]
{extra}
members = [{{ name = "node-1", peer_port = 7201, http_port = 7101 }}]
"""


def test_gossip_period_default_is_the_cores(tmp_path: Path) -> None:
    config = load_config(text=TOML.format(data_dir=tmp_path, extra=""))
    assert config.gossip_period_ticks == GossipConfig().gossip_period_ticks


def test_gossip_period_key_reaches_the_nodes_gossip(tmp_path: Path) -> None:
    config = load_config(text=TOML.format(data_dir=tmp_path, extra="gossip_period_ticks = 7"))
    assert config.gossip_period_ticks == 7
    process = NodeProcess(config)
    try:
        assert process.node.gossip.config.gossip_period_ticks == 7
    finally:
        process.store.close()


@pytest.mark.parametrize("value", ["0", "true", '"10"'])
def test_gossip_period_bad_values_are_refused(tmp_path: Path, value: str) -> None:
    with pytest.raises(ConfigError, match="gossip_period_ticks"):
        load_config(text=TOML.format(data_dir=tmp_path, extra=f"gossip_period_ticks = {value}"))


def test_gossip_period_field_is_validated_without_toml() -> None:
    members = (MemberAddress(name="a", host="127.0.0.1", peer_port=7201, http_port=7101),)
    NodeProcessConfig(name="a", data_dir="/nonexistent", members=members, gossip_period_ticks=1)
    with pytest.raises(ConfigError, match="gossip_period_ticks"):
        NodeProcessConfig(name="a", data_dir="/nonexistent", members=members, gossip_period_ticks=0)
