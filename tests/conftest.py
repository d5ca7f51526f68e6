from __future__ import annotations

import shutil
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


@pytest.fixture(scope="session")
def _template_db(tmp_path_factory) -> Path:
    """An empty workspace file with every table, macro and model built once per test session."""
    from phishtrace import Workspace

    path = tmp_path_factory.mktemp("template") / "template.duckdb"
    Workspace(str(path)).close()
    return path


@pytest.fixture
def ws(_template_db, tmp_path):
    """A fresh, empty workspace (a copy of the session's template, so the models are not rebuilt)."""
    from phishtrace import Workspace

    path = tmp_path / "ws.duckdb"
    shutil.copyfile(_template_db, path)
    w = Workspace(str(path))
    yield w
    w.close()
