from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
REAL = ROOT.parent / "shared" / "fixtures" / "real"
SAMPLES = ROOT / "data" / "samples"


@pytest.fixture
def real():
    """Folder of real-format fixtures (../shared/fixtures/real); skips when it is absent."""
    if not REAL.is_dir():
        pytest.skip(f"real fixtures not found at {REAL}")
    return REAL


@pytest.fixture
def ws():
    """An in-memory workspace."""
    from phishtrace import Workspace

    w = Workspace(":memory:")
    yield w
    w.close()
