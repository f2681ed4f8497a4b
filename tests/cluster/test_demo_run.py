"""``make run`` end to end: ``dynamokv demo`` on five real node processes, every step's
evidence checked in what it prints (slow tier: about a minute of real cluster)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from dynamokv.impl.cli import main


@pytest.mark.slow
def test_the_demo_tells_each_step_from_a_real_cluster(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    directory = str(tmp_path / "cluster")
    try:
        status = main(["demo", "--dir", directory])
        captured = capsys.readouterr()
    finally:
        main(["cluster", "down", "--dir", directory, "--wipe"])
    assert status == 0, captured.err
    # The panels wrap lines and draw borders: read the words in order.
    text = " ".join(captured.out.replace("│", " ").split())
    assert "preference list (N=3):" in text
    assert "24 of 24 puts acknowledged with W=2" in text
    # The traced put waits until its coordinator stops counting the killed replica as
    # healthy, so it always shows the substitute keeping a hint (Dynamo §4.6).
    assert re.search(r"sent to [^;]*\(hint for node-\d+\)", text), text
    drained = re.search(r"Hints pending: (\d+)(?: → \d+)* → 0 \(drained", text)
    assert drained is not None and int(drained[1]) > 0, text
    assert "find 24 of 24 keys written while it was down" in text
    assert "A get now returns 2 siblings" in text
    assert "After the write-back a get returns 1 sibling: bread, eggs, milk" in text
    assert re.search(r"http://127\.0\.0\.1:\d+/ui", text)
