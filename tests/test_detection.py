"""Format detection: every real fixture, own sample and bundled sample is claimed by exactly one loader,
and by the right one."""

from __future__ import annotations

from pathlib import Path

import pytest

from phishtrace import registry, textio
from tests.conftest import REAL, ROOT, SAMPLES

# real fixture folder -> the formats its files may be claimed by
REAL_EXPECTED = {
    "cisco_esa": {"cisco_esa_text"},
    "defender": {"defender_email_events", "defender_post_delivery"},
    "exchange_msgtrk": {"exchange_msgtrk"},
    "gmail": {"gmail_bigquery_json"},
    "gophish": {"gophish_api_json"},
    "knowbe4": {"knowbe4_recipients_json"},
    "m365_audit": {"m365_timaildata_json"},
    "m365_message_trace": {"m365_message_trace"},
    "mimecast": {"mimecast_siem"},
    "postfix": {"postfix_log"},
    "proofpoint_pod": {"proofpoint_pod_json", "proofpoint_smart_search"},
    "proofpoint_tap": {"proofpoint_tap_json"},
}


def files_under(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.rglob("*") if p.is_file() and not p.name.lower().startswith("readme")
                  and p.suffix.lower() not in {".md", ".py"})


def claim(path: Path) -> list[str]:
    with path.open("rb") as fh:
        head = fh.read(textio.HEAD_BYTES)
    return [l.name for l in registry.claimants(head)]


@pytest.mark.parametrize("path", files_under(REAL), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_real_fixture_claimed_by_exactly_one_right_loader(path):
    if path.name == "PROVENANCE.md":
        pytest.skip("documentation")
    expected = REAL_EXPECTED.get(path.parent.name)
    if expected is None:
        pytest.fail(f"no expected format recorded for fixture folder {path.parent.name}")
    names = claim(path)
    if not names and not (expected & set(registry.loaders())):
        pytest.skip(f"no loader for {path.parent.name} yet")
    assert len(names) == 1, f"{path}: claimed by {names}"
    assert names[0] in expected


@pytest.mark.parametrize("path", files_under(ROOT / "tests" / "data") + files_under(SAMPLES),
                         ids=lambda p: str(p.relative_to(ROOT)))
def test_own_samples_claimed_by_exactly_one_loader(path):
    if path.name == "truth.csv":
        assert claim(path) == []
        return
    names = claim(path)
    assert len(names) <= 1, f"{path}: claimed by {names}"
