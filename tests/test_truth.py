"""The views reproduce the generator's planted truth exactly, for several seeds and for data/samples."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from tests.conftest import SAMPLES


def load_truth(path: Path) -> dict[tuple[str, str, str, str], tuple[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return {(r["customer"], r["campaign"], r["run"], r["recipient"]): (r["outcome"], r["stuck_at"])
                for r in csv.DictReader(fh)}


def ingest_folder(ws, root: Path) -> None:
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        ws.ingest(folder.name, sorted(str(f) for f in folder.iterdir() if f.is_file()))


def computed(ws) -> dict[tuple[str, str, str, str], tuple[str, str]]:
    return {(r["customer"], r["campaign"], r["run"], r["recipient"]): (r["outcome"], r["stuck_at"])
            for r in ws.outcomes().rows(named=True)}


def diff(truth, got) -> list[str]:
    lines = []
    for key in sorted(set(truth) | set(got)):
        if truth.get(key) != got.get(key):
            lines.append(f"{key}: truth {truth.get(key)} computed {got.get(key)}")
    return lines


def check(ws, root: Path) -> dict:
    ingest_folder(ws, root)
    truth = load_truth(root / "truth.csv")
    got = computed(ws)
    problems = diff(truth, got)
    assert not problems, f"{len(problems)} of {len(truth)} differ:\n" + "\n".join(problems[:40])
    return truth


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_generated_truth_is_reproduced(ws, tmp_path, seed):
    from phishtrace.samples.generate import generate

    generate(tmp_path / "gen", seed=seed, recipients=160)
    truth = check(ws, tmp_path / "gen")
    outcomes = {o for o, _ in truth.values()}
    assert outcomes >= {"scheduling_stalled", "held_bounced_learner", "bounced", "filter_quarantined",
                        "filter_deferred", "server_quarantined", "server_junked", "server_failed",
                        "removed_after_delivery", "moved_by_rule", "interacted", "delivered", "unverified"}


def test_bundled_samples_reproduce_their_truth(ws):
    if not (SAMPLES / "truth.csv").exists():
        pytest.fail("data/samples/truth.csv is missing")
    truth = check(ws, SAMPLES)
    assert len({k[0] for k in truth}) >= 2


def test_customers_never_mix(ws, tmp_path):
    from phishtrace.samples.generate import generate

    generate(tmp_path / "gen", seed=5, recipients=80)
    ingest_folder(ws, tmp_path / "gen")
    truth = load_truth(tmp_path / "gen" / "truth.csv")
    for customer in {k[0] for k in truth}:
        rows = ws.outcomes(customer)
        assert set(rows["customer"]) == {customer}
        mine = {k[3] for k in truth if k[0] == customer}
        assert set(rows["recipient"]) == mine
