"""The peer: what an analyst would write in pandas to get each recipient's outcome from two files.

Inputs: the PhishSim campaign export (CSV) and the Exchange Online message trace
(`Get-MessageTrace | Export-Csv`). Output: a CSV with campaign, run, recipient, outcome.

The rules follow docs/outcomes.md as far as these two inputs allow:
bounced (export) > server_quarantined > server_junked > server_failed > interacted (a click / open /
reply / data entry more than 60 s after delivery) > delivered > unverified (sent, nothing in the
trace). A trace row belongs to a campaign row by Message-ID (and recipient); export rows without a
Message-ID take the trace rows of the same recipient from the campaign sender within 72 hours of
Sent.

    python benchmarks/pandas_peer.py phishsim_export.csv message_trace.csv outcomes.csv
"""

from __future__ import annotations

import sys

import pandas as pd

SEVERITY = {"Delivered": 1, "FilteredAsSpam": 3, "Failed": 2, "Quarantined": 4}
TRACE_OUTCOME = {"Quarantined": "server_quarantined", "FilteredAsSpam": "server_junked", "Failed": "server_failed"}


def clean_msgid(s: pd.Series) -> pd.Series:
    return s.str.strip().str.strip("<>").str.lower()


def main(export_path: str, trace_path: str, out_path: str) -> None:
    export = pd.read_csv(export_path, dtype=str)
    trace = pd.read_csv(trace_path, skiprows=1, dtype=str)  # first line is '#TYPE ...'

    export["recipient"] = export["Email"].str.strip().str.lower()
    export["msgid"] = clean_msgid(export["Message ID"])
    export["sender"] = export["Sender"].str.strip().str.lower()
    for col in ["Sent At", "Delivered At", "Opened At", "Phished At", "Replied At", "Entered Data At", "Bounced At"]:
        export[col] = pd.to_datetime(export[col], utc=True, format="ISO8601")

    trace["recipient"] = trace["RecipientAddress"].str.strip().str.lower()
    trace["sender"] = trace["SenderAddress"].str.strip().str.lower()
    trace["msgid"] = clean_msgid(trace["MessageId"])
    trace["received"] = pd.to_datetime(trace["Received"], format="%m/%d/%Y %I:%M:%S %p", utc=True)
    trace = trace.rename(columns={"Status": "trace_status"})[["recipient", "sender", "msgid", "received", "trace_status"]]

    # trace rows of each campaign row: by Message-ID, else recipient + sender + time window
    key = ["Campaign", "Campaign Run", "recipient"]
    with_id = export[export["msgid"].notna()]
    by_id = with_id[key + ["msgid"]].merge(trace, on=["msgid", "recipient"])
    no_id = export[export["msgid"].isna()]
    by_window = no_id[key + ["sender", "Sent At"]].merge(trace, on=["recipient", "sender"])
    by_window = by_window[(by_window["received"] >= by_window["Sent At"] - pd.Timedelta(minutes=5))
                          & (by_window["received"] <= by_window["Sent At"] + pd.Timedelta(hours=72))]
    matched = pd.concat([by_id[key + ["received", "trace_status"]], by_window[key + ["received", "trace_status"]]])

    # the most severe trace status per campaign row, and when it was first delivered
    matched["severity"] = matched["trace_status"].map(SEVERITY).fillna(0)
    worst = matched.sort_values("severity").groupby(key).tail(1)[key + ["trace_status"]]
    delivered = matched[matched["trace_status"] == "Delivered"].groupby(key)["received"].min().rename("delivered_at")
    rows = export.merge(worst, on=key, how="left").merge(delivered.reset_index(), on=key, how="left")

    def outcome(r) -> str:
        if r["Status"] == "Bounced" or pd.notna(r["Bounced At"]):
            return "bounced"
        if r["trace_status"] in TRACE_OUTCOME:
            return TRACE_OUTCOME[r["trace_status"]]
        clicks = [r[c] for c in ("Opened At", "Phished At", "Replied At", "Entered Data At") if pd.notna(r[c])]
        ref = r["delivered_at"] if pd.notna(r["delivered_at"]) else r["Delivered At"]
        if clicks and (pd.isna(ref) or min(clicks) > ref + pd.Timedelta(seconds=60)):
            return "interacted"
        if r["trace_status"] == "Delivered":
            return "delivered"
        return "unverified"

    rows["outcome"] = rows.apply(outcome, axis=1)
    rows.rename(columns={"Campaign": "campaign", "Campaign Run": "run"})[
        ["campaign", "run", "recipient", "outcome"]].to_csv(out_path, index=False)


if __name__ == "__main__":
    main(*sys.argv[1:4])
