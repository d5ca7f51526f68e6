"""Campaign alerts against the generator's planted truth."""

from __future__ import annotations

import csv

import pytest

from report_support import PHISHSIM_HEADER


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


def _row(campaign, run, day, n, status, *, domain="corp.example", delivered=True, phished_after=None,
         bounced=False):
    """One export row: sent at 09:00 + n minutes on 2025-03-`day`, delivered 30 s later, phished
    `phished_after` seconds after delivery."""
    from datetime import datetime, timedelta, timezone

    sent = datetime(2025, 3, day, 9, 0, tzinfo=timezone.utc) + timedelta(minutes=n)
    fmt = lambda t: t.strftime("%Y-%m-%dT%H:%M:%SZ") if t else ""  # noqa: E731
    delivered_at = sent + timedelta(seconds=30) if delivered else None
    phished = delivered_at + timedelta(seconds=phished_after) if phished_after is not None else None
    bounce = sent + timedelta(seconds=5) if bounced else None
    start = datetime(2025, 3, day, 9, 0, tzinfo=timezone.utc)
    return ",".join([campaign, run, fmt(start), fmt(start + timedelta(days=2)), "A", f"User{n}",
                     f"{campaign.lower()}.{run[-1]}.{n}@{domain}", status, fmt(start), fmt(sent),
                     fmt(delivered_at), "", fmt(phished), "", "", "", fmt(bounce),
                     "550 5.1.1 user unknown" if bounced else "", "it@sim.example", "Notice", ""])


def test_rate_jumps_bounce_concentration_and_still_sent(ws, tmp_path):
    rows = []
    # Invoice: no automated interaction in run 1 (4 people click hours later); every click in run 2
    # lands 5 s after delivery (link scanners): the automated share jumps from 0 % to 100 %
    rows += [_row("Invoice", "Run 1", 3, n, "Phished" if n < 4 else "Delivered",
                  phished_after=7200 if n < 4 else None) for n in range(10)]
    rows += [_row("Invoice", "Run 2", 10, n, "Phished", phished_after=5) for n in range(10)]
    # Payroll: 1 of 10 people click in run 1, 6 of 10 in run 2 (rate 10 % -> 60 %)
    rows += [_row("Payroll", "Run 1", 3, n, "Phished" if n < 1 else "Delivered",
                  phished_after=7200 if n < 1 else None) for n in range(10)]
    rows += [_row("Payroll", "Run 2", 10, n, "Phished" if n < 6 else "Delivered",
                  phished_after=7200 if n < 6 else None) for n in range(10)]
    # Steady: automated share 50 % -> 60 % and human rate 50 % -> 40 %: neither doubles, no jump alert
    rows += [_row("Steady", "Run 1", 3, n, "Phished", phished_after=5 if n < 2 else 7200) for n in range(4)]
    rows += [_row("Steady", "Run 2", 10, n, "Phished", phished_after=5 if n < 3 else 7200) for n in range(5)]
    # Bounce: 4 of 5 recipients at bad.example bounce, 1 of 3 at corp.example
    rows += [_row("Bounce", "Run 1", 4, n, "Bounced" if n < 4 else "Delivered", domain="bad.example",
                  delivered=n >= 4, bounced=n < 4) for n in range(5)]
    rows += [_row("Bounce", "Run 1", 4, 10 + n, "Bounced" if n < 1 else "Delivered",
                  delivered=n >= 1, bounced=n < 1) for n in range(3)]
    # Held: 2 of 6 still Sent days later while 4 peers were delivered
    rows += [_row("Held", "Run 1", 1, n, "Sent" if n < 2 else "Delivered", delivered=n >= 2) for n in range(6)]
    export = tmp_path / "phishsim_export.csv"
    export.write_text(PHISHSIM_HEADER + "\n" + "\n".join(rows) + "\n", encoding="utf-8")
    ws.ingest("acme", [str(export)])

    alerts = ws.alerts("acme")
    got = {(r["campaign"], r["run"], r["alert"]): r for r in alerts.iter_rows(named=True)}
    jumps = {k: v["recipients"] for k, v in got.items() if k[2].endswith("_jump")}
    assert jumps == {("Invoice", "Run 2", "automated_share_jump"): 10,
                     ("Payroll", "Run 2", "phish_rate_jump"): 6}
    assert "100 % of interactions look automated against 0 %" in got[("Invoice", "Run 2", "automated_share_jump")]["detail"]
    assert "60 % against 10 %" in got[("Payroll", "Run 2", "phish_rate_jump")]["detail"]
    bounce = got[("Bounce", "Run 1", "bounce_concentration")]
    assert bounce["recipients"] == 4 and "bad.example" in bounce["detail"]
    assert [k for k in got if k[2] == "bounce_concentration"] == [("Bounce", "Run 1", "bounce_concentration")]
    assert got[("Held", "Run 1", "still_sent")]["recipients"] == 2
    assert {k for k in got if k[2] == "still_sent"} == {("Held", "Run 1", "still_sent")}


def test_funnel_puts_the_raw_rate_beside_the_bot_adjusted_one(ws, tmp_path):
    # 10 recipients: 3 click two hours after delivery (people), 5 click 5 s after it (scanners), 2 never
    rows = [_row("Invoice", "Run 1", 3, n, "Phished" if n < 8 else "Delivered",
                 phished_after=(7200 if n < 3 else 5) if n < 8 else None) for n in range(10)]
    export = tmp_path / "phishsim_export.csv"
    export.write_text(PHISHSIM_HEADER + "\n" + "\n".join(rows) + "\n", encoding="utf-8")
    ws.ingest("acme", [str(export)])
    (f,) = ws.funnel("acme").iter_rows(named=True)
    assert (f["targeted"], f["any_interaction"], f["automated_interaction"], f["human_interaction"]) == (10, 8, 5, 3)
    assert f["raw_interaction_rate"] == 0.8 and f["human_interaction_rate"] == 0.3
