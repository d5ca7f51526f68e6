"""The built wheel holds everything an installed phishtrace needs: the SQL models, the scanner list and
the report notebooks (copied in by setup.py), and works without the checkout."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from conftest import ROOT, SAMPLES

SHIPPED = ("pyproject.toml", "setup.py", "MANIFEST.in", "README.md", "phishtrace", "notebooks")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """A wheel built from a copy of the project (the build writes build/ and egg-info beside the sources)."""
    src = tmp_path_factory.mktemp("src")
    for name in SHIPPED:
        path = ROOT / name
        if path.is_dir():
            shutil.copytree(path, src / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copyfile(path, src / name)
    out = tmp_path_factory.mktemp("dist")
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out), str(src)],
        capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    (found,) = out.glob("phishtrace-*.whl")
    return found


def test_wheel_holds_the_sql_the_scanner_list_and_the_notebooks(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    sql = {p.relative_to(ROOT).as_posix() for p in (ROOT / "phishtrace" / "sql").rglob("*.sql")}
    assert sql and sql <= names, sorted(sql - names)[:5]
    assert "phishtrace/data/scanners.csv" in names
    notebooks = sorted((ROOT / "notebooks").glob("*.ipynb"))
    assert {nb.name for nb in notebooks} == {"delivery_report.ipynb", "incident_explorer.ipynb"}
    with zipfile.ZipFile(wheel) as zf:
        for nb in notebooks:
            assert zf.read(f"phishtrace/_notebooks/{nb.name}") == nb.read_bytes()


def test_installed_wheel_finds_its_notebooks_and_builds_its_models(wheel, tmp_path):
    target = tmp_path / "site"
    done = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target), str(wheel)],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    # -S: no site-packages processing, so the checkout's editable-install finder is not loaded; the
    # dependencies come from the environment's library folder, phishtrace from the installed wheel only
    probe = f"""
import json, sys
sys.path[:0] = [{str(target)!r}]
sys.path.append({sysconfig.get_paths()['purelib']!r})
import phishtrace, phishtrace.report as report
from phishtrace import Workspace
with Workspace(":memory:") as ws:
    loaded = ws.ingest("acme", [{str(SAMPLES / 'acme' / 'phishsim_export.csv')!r},
                                {str(SAMPLES / 'acme' / 'message_trace.csv')!r}])
    outcomes = ws.outcomes("acme").height
print(json.dumps({{"package": phishtrace.__file__, "report": str(report.NOTEBOOK),
                  "explorer": str(report.notebook_path("incident_explorer.ipynb")),
                  "rows": [r.rows for r in loaded], "outcomes": outcomes}}))
"""
    run = subprocess.run([sys.executable, "-S", "-c", probe], capture_output=True, text=True, cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    got = json.loads(run.stdout.strip().splitlines()[-1])
    assert Path(got["package"]).is_relative_to(target)
    for key, name in (("report", "delivery_report.ipynb"), ("explorer", "incident_explorer.ipynb")):
        path = Path(got[key])
        assert path == target / "phishtrace" / "_notebooks" / name
        assert path.read_bytes() == (ROOT / "notebooks" / name).read_bytes()
    export_rows = sum(1 for _ in (SAMPLES / "acme" / "phishsim_export.csv").open(encoding="utf-8")) - 1
    assert got["rows"][0] == export_rows and got["rows"][1] > 0
    assert got["outcomes"] > 0


def test_checkout_reads_the_notebooks_folder():
    from phishtrace import report

    assert report.notebook_path("delivery_report.ipynb") == ROOT / "notebooks" / "delivery_report.ipynb"
    assert report.NOTEBOOK.is_file()
