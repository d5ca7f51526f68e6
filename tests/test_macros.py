"""The SQL helper macros every staging view relies on."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize("raw, expected", [
    ("<Tomasz.Nowak@Example.COM>", "tomasz.nowak@example.com"),
    ("  ravi@x.example\t", "ravi@x.example"),
    ('"n.t@x.example"', "n.t@x.example"),
    ("<>", None),
    ("", None),
    (None, None),
])
def test_norm_addr(ws, raw, expected):
    assert ws.sql("SELECT pt_norm_addr(?) AS v", [raw])["v"][0] == expected


@pytest.mark.parametrize("raw, expected", [
    ("<tRn.ABC@Mail.Example.COM>", "tRn.ABC@mail.example.com"),
    ("\r\n<rid.t@X.EXAMPLE>\n", "rid.t@x.example"),
    ("no-at-sign", "no-at-sign"),
    ("< >", None),
])
def test_norm_msgid_keeps_local_part_case(ws, raw, expected):
    assert ws.sql("SELECT pt_norm_msgid(?) AS v", [raw])["v"][0] == expected


def test_exchange_action_from_custom_data(ws):
    rows = ws.sql("""
        SELECT pt_exchange_action(e, s, c) AS a FROM (VALUES
            ('AGENTINFO', 'AGENT', 'S:SFA=SUM|SFV=SPM|SCL=9|DI=SJ;'),
            ('AGENTINFO', 'AGENT', 'S:SFA=SUM|SFV=SPM|DI=SQ;'),
            ('AGENTINFO', 'AGENT', 'S:TRA=ETR|ruleId=1|mode=Audit|action=Quarantine;'),
            ('DELIVER', 'STOREDRIVER', ''),
            ('RECEIVE', 'MAILBOXRULE', 'S:SFA=SUM|DI=SQ'),
            ('FAIL', 'SMTP', NULL)) AS t(e, s, c)""")["a"].to_list()
    assert rows == ["junked", "quarantined", "received", "delivered", "received", "bounced"]


def test_var_default_and_override(ws):
    assert ws.sql("SELECT pt_var('pt_window_hours', 72) AS v")["v"][0] == 72
    ws.configure(window_hours=5)
    assert ws.sql("SELECT CAST(pt_var('pt_window_hours', 72) AS INT) AS v")["v"][0] == 5
