"""PhishSim export and learner list (phishtrace's documented schema, DESIGN §2.1)."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from phishtrace import InputError

HEADER = ("Campaign,Campaign Run,Run Start,Run End,First Name,Last Name,Email,Status,Scheduled At,Sent At,"
          "Delivered At,Opened At,Phished At,Replied At,Entered Data At,Reported At,Bounced At,Bounce Reason,"
          "Sender,Subject,Message ID\n")


def row(email, status, sent="", delivered="", phished="", msgid="", run="Run 1", start="2026-11-02T09:00:00+02:00",
        bounced="", reason="", sender="it@phish.example", subject="Password expiry"):
    return (f"Q4 phish,{run},{start},2026-11-03T09:00:00+02:00,Ann,Lee,{email},{status},{start},{sent},{delivered},"
            f",{phished},,,,{bounced},{reason},{sender},{subject},{msgid}\n")


def write(tmp_path, name, text, encoding="utf-8"):
    p = tmp_path / name
    p.write_text(text, encoding=encoding)
    return p


def test_export_rows_statuses_and_offsets(ws, tmp_path):
    p = write(tmp_path, "export.csv", HEADER
              + row("Ann.Lee@Example.COM", "DELIVERED", "2026-11-02T09:01:00+02:00", "2026-11-02T09:01:30-05:00",
                    msgid="<ABC@Mail.Example.COM>")
              + row("bo@example.com", "Phished", "2026-11-02T07:02:00Z", "", "2026-11-02T07:40:00Z")
              + row("cy@example.com", "entered data", "2026-11-02T07:03:00.123456Z"))
    [res] = ws.ingest("acme", [p])
    assert (res.format, res.rows, res.status) == ("phishsim_csv", 3, "loaded")
    df = ws.sql("SELECT recipient, status, sent_at, delivered_at, message_id FROM stg_phishsim_csv ORDER BY recipient")
    rows = df.rows(named=True)
    assert rows[0]["recipient"] == "ann.lee@example.com"
    assert rows[0]["status"] == "delivered"
    assert rows[0]["sent_at"] == datetime(2026, 11, 2, 7, 1, tzinfo=timezone.utc)
    assert rows[0]["delivered_at"] == datetime(2026, 11, 2, 14, 1, 30, tzinfo=timezone.utc)
    assert rows[0]["message_id"] == "ABC@mail.example.com"
    assert rows[1]["status"] == "clicked"
    assert rows[2]["status"] == "entered_data"
    assert rows[2]["sent_at"] == datetime(2026, 11, 2, 7, 3, 0, 123456, tzinfo=timezone.utc)
    inter = ws.sql("SELECT recipient, kind, event_ts FROM stg_phishsim_csv__interactions")
    assert inter.rows() == [("bo@example.com", "clicked", datetime(2026, 11, 2, 7, 40, tzinfo=timezone.utc))]


def test_learners_flag(ws, tmp_path):
    p = write(tmp_path, "learners.csv", "Email,First Name,Last Name,Bounced,Bounced At,Bounce Reason\n"
              "Dee@Example.com,Dee,Ray,true,2026-10-01T10:00:00+01:00,550 5.1.1 mailbox unavailable\n"
              "eve@example.com,Eve,Ray,false,,\n")
    [res] = ws.ingest("acme", [p])
    assert res.format == "phishsim_learners_csv"
    df = ws.sql("SELECT recipient, learner_bounced, bounced_at FROM stg_phishsim_learners_csv ORDER BY recipient")
    assert df.rows() == [("dee@example.com", True, datetime(2026, 10, 1, 9, 0, tzinfo=timezone.utc)),
                         ("eve@example.com", False, None)]


@pytest.mark.parametrize("text, line, fragment", [
    (HEADER.replace("Email,", "Mail,"), 1, "header lacks Email"),
    (HEADER + row("a@example.com", "Sent", "2026-11-02 09:01:00"), 2, "no time zone"),
    (HEADER + row("a@example.com", "Sent", "yesterday"), 2, "ISO 8601"),
    (HEADER + row("a@example.com", "Lost"), 2, "unknown Status"),
    (HEADER + row("a@example.com", "Sent").replace(",Password", ",Pass,word"), 2, "expected 21 fields"),
])
def test_bad_export_is_refused_whole(ws, tmp_path, text, line, fragment):
    good = row("z@example.com", "Sent", "2026-11-02T09:01:00Z")
    p = write(tmp_path, "bad.csv", text + good)
    with pytest.raises(InputError) as err:
        ws.ingest("acme", [f"{p}:phishsim_csv"])
    assert err.value.line == line
    assert fragment in str(err.value)
    assert str(p) in str(err.value)
    assert ws.sql("SELECT count(*) AS n FROM raw_phishsim_csv")["n"][0] == 0
    assert ws.sql("SELECT count(*) AS n FROM load_manifest")["n"][0] == 0
