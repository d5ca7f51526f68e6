"""Campaign alerts against the generator's planted truth."""

from __future__ import annotations

import csv

import pytest


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    from phishtrace.samples.generate import generate

    root = tmp_path_factory.mktemp("alerts")
    generate(root, seed=4, recipients=240, customers=["acme", "hooli"])
    return root


def test_stalled_runs_and_tap_threat_alerts(ws, generated):
    for customer in ("acme", "hooli"):
        ws.ingest(customer, sorted(str(p) for p in (generated / customer).iterdir()))
    with (generated / "truth.csv").open(encoding="utf-8", newline="") as fh:
        truth = list(csv.DictReader(fh))
    alerts = ws.alerts()
    stalled = alerts.filter((alerts["customer"] == "acme") & (alerts["alert"] == "scheduling_stalled"))
    expected = sum(1 for r in truth if r["customer"] == "acme" and r["outcome"] == "scheduling_stalled")
    assert expected > 0 and stalled["recipients"].sum() == expected
    tap = alerts.filter(alerts["alert"] == "url_threat_classified")
    assert set(tap["customer"]) == {"hooli"}  # acme has no TAP logs, so no threat call-out
    assert tap["recipients"].sum() > 0 and all("URL Defense" in d for d in tap["detail"])
