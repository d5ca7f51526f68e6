"""Large seeded datasets for benchmarks: one PhishSim campaign plus a month of a tenant's mail logs.

`write_bulk(out_dir, events, recipients)` writes, for one customer:

    phishsim_export.csv         the campaign export (one run, one row per recipient)
    message_trace.csv           Get-MessageTrace | Export-Csv (formats.md §3.1.1: #TYPE line, every value
                                quoted, remoting columns, en-US dates in UTC)
    proofpoint_pod.json         Proofpoint on Demand JSON lines, message and maillog records (§2.1.1-2.1.2)
    defender_email_events.json  Defender EmailEvents storage-export envelopes, CRLF JSON lines (§3.2.1)
    expected.csv                recipient, scenario, expected outcome (all four files loaded)

`events` mail events are shared out between the three logs (40 / 30 / 30 %). The campaign's own
events (about 2.7 per recipient) are part of them; the rest is ordinary mail to the same tenant from
other senders over 30 days (noise). Every line is assembled column-wise with polars string
expressions from numpy draws, never a Python loop over rows; all generated values are plain ASCII
without quotes or backslashes, so they are JSON- and CSV-safe as written.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import polars as pl

from phishtrace.samples.writers.m365_message_trace import COLUMNS as TRACE_COLUMNS
from phishtrace.samples.writers.m365_message_trace import PS_COLUMNS, TYPE_LINE
from phishtrace.samples.writers.phishsim_csv import HEADER as EXPORT_HEADER

UTC = timezone.utc
CUSTOMER_DOMAIN = "bulkco-corp.example"
TENANT = "bulkco.onmicrosoft.com"
CAMPAIGN = "Q3 Payroll Update"
SENDER = "payroll-notice@hr-portal-update.example"
SUBJECT = "Action required: confirm your payroll details"
MONTH_START = datetime(2025, 6, 1, tzinfo=UTC)
MONTH_DAYS = 30
RUN_START = datetime(2025, 6, 16, 8, 0, tzinfo=UTC)
SEND_SPAN_S = 80 * 60
SHARES = {"m365_message_trace": 0.4, "proofpoint_pod_json": 0.3, "defender_email_events": 0.3}
FILES = {
    "phishsim_csv": "phishsim_export.csv",
    "m365_message_trace": "message_trace.csv",
    "proofpoint_pod_json": "proofpoint_pod.json",
    "defender_email_events": "defender_email_events.json",
}
# scenario: (share, expected outcome with all four files, export status)
SCENARIOS = {
    "delivered": (0.55, "delivered", "Delivered"),
    "interacted": (0.15, "interacted", "Phished"),
    "filter_quarantined": (0.10, "filter_quarantined", "Sent"),
    "server_junked": (0.08, "server_junked", "Sent"),
    "server_quarantined": (0.07, "server_quarantined", "Sent"),
    "bounced": (0.03, "bounced", "Bounced"),
    "unverified": (0.02, "unverified", "Sent"),
}
# per scenario: which logs have a row, and the status each writes
TRACE_STATUS = {"delivered": "Delivered", "interacted": "Delivered", "server_junked": "FilteredAsSpam",
                "server_quarantined": "Quarantined", "bounced": "Failed"}
DEFENDER = {"delivered": ("Delivered", "Inbox/folder"), "interacted": ("Delivered", "Inbox/folder"),
            "server_junked": ("Junked", "Junk"), "server_quarantined": ("Blocked", "Quarantine")}
FIRST = ("maria", "james", "aiko", "olu", "priya", "lars", "chen", "fatima", "diego", "hannah", "kofi", "ines")
LAST = ("lopez", "smith", "tanaka", "adeyemi", "sharma", "nielsen", "wang", "haddad", "garcia", "becker")
NOISE_SUBJECTS = ("Weekly status", "Invoice 2025-06", "Re: meeting notes", "Your order has shipped",
                  "Team lunch on Friday", "Quarterly report draft", "Newsletter: June", "Password reset done",
                  "Shared document: roadmap", "Re: Re: contract review", "Out of office", "Webinar invitation")
US_FMT = "%-m/%-d/%Y %-I:%M:%S %p"


@dataclass
class BulkResult:
    files: dict[str, Path]  # format -> path
    events: dict[str, int]  # format -> mail events (rows the loader yields)
    campaign_events: dict[str, int]
    recipients: int


def _np():
    import numpy as np  # a benchmark dependency only

    return np


def _ts(us, name: str) -> pl.Series:
    return pl.Series(name, us, dtype=pl.Int64).cast(pl.Datetime("us", "UTC"))


def _hex(rng, n: int, nbytes: int = 16) -> pl.Series:
    """n random lower-case hex strings of 2 * nbytes digits."""
    np = _np()
    raw = np.frombuffer(rng.bytes(nbytes * n), dtype=np.uint8).reshape(n, nbytes).copy()
    raw[:, -1] |= 1  # numpy's fixed-width bytes drop trailing zero bytes
    return pl.Series(raw.view(f"S{nbytes}").ravel()).bin.encode("hex")


def _guid(rng, n: int) -> pl.Series:
    """n random GUID-shaped strings (8-4-4-4-12 hex digits)."""
    h = pl.DataFrame({"h": _hex(rng, n)})
    parts = [pl.col("h").str.slice(a, b) for a, b in ((0, 8), (8, 4), (12, 4), (16, 4), (20, 12))]
    return h.select(pl.concat_str(parts, separator="-")).to_series()


def _q(expr: pl.Expr) -> pl.Expr:
    """A CSV value as Export-Csv writes it: quoted, null as nothing."""
    return pl.when(expr.is_null()).then(pl.lit("")).otherwise(pl.concat_str([pl.lit('"'), expr, pl.lit('"')]))


def _j(expr: pl.Expr) -> pl.Expr:
    """A JSON string value, or null."""
    return pl.when(expr.is_null()).then(pl.lit("null")).otherwise(pl.concat_str([pl.lit('"'), expr, pl.lit('"')]))


CHUNK_ROWS = 500_000  # lines are rendered and written this many at a time (bounded memory)


def _write_lines(path: Path, rows: pl.DataFrame, line: pl.Expr, head: list[str] | None = None,
                 eol: str = "\n") -> None:
    """Render `line` for every row and write the lines, chunk by chunk, after the optional head lines."""
    with path.open("wb") as fh:
        if head:
            fh.write((eol.join(head) + eol).encode())
        for start in range(0, rows.height, CHUNK_ROWS):
            rows.slice(start, CHUNK_ROWS).select(line.alias("l")).write_csv(
                fh, include_header=False, quote_style="never", line_terminator=eol)


def plan(recipients: int, seed: int) -> pl.DataFrame:
    """One row per campaign recipient: address, scenario and the times each hop logged it."""
    np = _np()
    rng = np.random.default_rng([seed, 1])
    n = recipients
    names = list(SCENARIOS)
    shares = np.array([SCENARIOS[s][0] for s in names])
    scen = pl.Series(names, dtype=pl.Utf8).gather(pl.Series(rng.choice(len(names), size=n, p=shares / shares.sum())))
    first = pl.Series(FIRST).gather(pl.Series(rng.integers(0, len(FIRST), n)))
    last = pl.Series(LAST).gather(pl.Series(rng.integers(0, len(LAST), n)))
    run0 = int(RUN_START.timestamp() * 1e6)
    sent = run0 + 45_000_000 + (np.arange(n) * (SEND_SPAN_S * 1e6 / max(n, 1))).astype(np.int64)
    sent = sent // 1_000_000 * 1_000_000
    pod = sent + rng.integers(2_000_000, 20_000_000, n)
    trace = pod + rng.integers(1_000_000, 5_000_000, n)
    trace = trace // 1_000_000 * 1_000_000  # Export-Csv writes whole seconds
    defender = trace + rng.integers(0, 2_000_000, n) // 1_000_000 * 1_000_000
    phished = defender + rng.integers(600, 7200, n) * 1_000_000
    df = pl.DataFrame({
        "i": np.arange(n), "scenario": scen, "first": first, "last": last,
        "sent": _ts(sent, "sent"), "pod_ts": _ts(pod, "pod_ts"), "trace_ts": _ts(trace, "trace_ts"),
        "defender_ts": _ts(defender, "defender_ts"), "phished_ts": _ts(phished, "phished_ts"),
        "msg_hex": _hex(rng, n, 8), "size": rng.integers(14000, 48000, n),
    })
    stamp = pl.col("sent").dt.strftime("%Y%m%d%H%M%S")
    return df.with_columns(
        recipient=pl.concat_str([pl.col("first"), pl.lit("."), pl.col("last"), pl.col("i").cast(pl.Utf8),
                                 pl.lit("@" + CUSTOMER_DOMAIN)]),
        message_id=pl.concat_str([stamp, pl.lit("."), pl.col("msg_hex"), pl.lit("@hr-portal-update.example")]),
        qid=pl.concat_str([pl.lit("5C"), pl.col("i").cast(pl.Utf8).str.zfill(8)]),
        guid=pl.concat_str([pl.lit("cg"), pl.col("i").cast(pl.Utf8).str.zfill(10), pl.col("msg_hex")]),
    )


def _export(camp: pl.DataFrame, path: Path) -> None:
    iso = "%Y-%m-%dT%H:%M:%SZ"
    s = pl.col("scenario")
    run_start = RUN_START.strftime(iso)
    run_end = datetime.fromtimestamp(RUN_START.timestamp() + 2 * 86400, UTC).strftime(iso)
    status = pl.col("scenario").replace_strict({k: v[2] for k, v in SCENARIOS.items()})
    delivered = pl.when(s.is_in(["delivered", "interacted"])).then(pl.col("defender_ts").dt.strftime(iso))
    opened = pl.when(s == "interacted").then((pl.col("phished_ts") - pl.duration(seconds=30)).dt.strftime(iso))
    phished = pl.when(s == "interacted").then(pl.col("phished_ts").dt.strftime(iso))
    bounced = pl.when(s == "bounced").then(pl.col("trace_ts").dt.strftime(iso))
    reason = pl.when(s == "bounced").then(pl.lit("550 5.1.1 mailbox unavailable"))
    values = [pl.lit(CAMPAIGN), pl.lit("Run 1"), pl.lit(run_start), pl.lit(run_end), pl.col("first").str.to_titlecase(),
              pl.col("last").str.to_titlecase(), pl.col("recipient"), status, pl.lit(run_start),
              pl.col("sent").dt.strftime(iso), delivered, opened, phished, pl.lit(None), pl.lit(None), pl.lit(None),
              bounced, reason, pl.lit(SENDER), pl.lit(SUBJECT), pl.concat_str([pl.lit("<"), pl.col("message_id"),
                                                                                pl.lit(">")])]
    out = camp.select([v.alias(h) for v, h in zip(values, EXPORT_HEADER)])
    out.write_csv(path, line_terminator="\r\n")


def _noise(rng, n: int, camp: pl.DataFrame) -> pl.DataFrame:
    """n ordinary messages to the tenant: recipient, sender, subject, time, ids."""
    np = _np()
    inside = rng.random(n) < 0.9
    pick = rng.integers(0, camp.height, n)
    base = pl.DataFrame({"inside": inside, "pick": pick, "other_n": rng.integers(0, 50_000, n)})
    recip = camp.get_column("recipient").gather(pl.Series(pick))
    sender_dom = rng.integers(0, 500, n)
    sender_user = rng.integers(0, 40, n)
    t0 = int(MONTH_START.timestamp() * 1e6)
    ts = t0 + rng.integers(0, MONTH_DAYS * 86400, n) * 1_000_000 + rng.integers(0, 1_000_000, n)
    df = base.with_columns(
        recip_in=recip,
        sender=pl.concat_str([pl.lit("sender"), pl.Series(sender_user).cast(pl.Utf8), pl.lit("@partner"),
                              pl.Series(sender_dom).cast(pl.Utf8), pl.lit(".example")]),
        subject=pl.Series(list(NOISE_SUBJECTS)).gather(pl.Series(rng.integers(0, len(NOISE_SUBJECTS), n))),
        ts=_ts(ts, "ts"), msg_hex=_hex(rng, n, 8), size=pl.Series(rng.integers(2000, 900_000, n)),
        k=pl.Series(rng.random(n)),
    )
    df = df.with_columns(recipient=pl.when(pl.col("inside")).then(pl.col("recip_in")).otherwise(
        pl.concat_str([pl.lit("user"), pl.col("other_n").cast(pl.Utf8), pl.lit("@" + CUSTOMER_DOMAIN)])))
    return df.with_columns(
        message_id=pl.concat_str([pl.col("msg_hex"), pl.lit("."), pl.col("ts").dt.strftime("%s"), pl.lit("@mail.partner"),
                                  pl.col("sender").str.extract(r"@partner(\d+)"), pl.lit(".example")]),
    ).drop("recip_in", "pick", "other_n", "inside")


def _trace(camp: pl.DataFrame, noise: pl.DataFrame, path: Path, rng) -> None:
    c = camp.filter(pl.col("scenario").is_in(list(TRACE_STATUS))).select(
        ts=pl.col("trace_ts"), sender=pl.lit(SENDER), recipient=pl.col("recipient"), subject=pl.lit(SUBJECT),
        message_id=pl.col("message_id"), status=pl.col("scenario").replace_strict(TRACE_STATUS),
        size=pl.col("size"))
    k = pl.col("k")
    n = noise.select(
        ts=pl.col("ts").dt.truncate("1s"), sender="sender", recipient="recipient", subject="subject",
        message_id="message_id",
        status=pl.when(k < 0.90).then(pl.lit("Delivered")).when(k < 0.95).then(pl.lit("FilteredAsSpam"))
        .when(k < 0.97).then(pl.lit("Quarantined")).when(k < 0.98).then(pl.lit("Failed"))
        .when(k < 0.99).then(pl.lit("Pending")).otherwise(pl.lit("Expanded")),
        size="size")
    rows = pl.concat([c, n]).sort("ts", descending=True)
    rows = rows.with_columns(trace_id=_guid(rng, rows.height))
    start = MONTH_START.strftime("%-m/%-d/%Y %-I:%M:%S %p")
    end = datetime.fromtimestamp(MONTH_START.timestamp() + MONTH_DAYS * 86400, UTC).strftime(
        "%-m/%-d/%Y %-I:%M:%S %p")
    runspace = "6f1c2a9e-3b7d-4c85-9a10-2d4e5f607182"
    values = [pl.lit("outlook.office365.com"), pl.lit(runspace), pl.lit("False"), pl.lit(TENANT),
              pl.concat_str([pl.lit("<"), pl.col("message_id"), pl.lit(">")]),
              pl.col("ts").dt.strftime(US_FMT), pl.col("sender"), pl.col("recipient"), pl.col("subject"),
              pl.col("status"), pl.lit(None, pl.Utf8), pl.lit("148.163.150.20"), pl.col("size").cast(pl.Utf8),
              pl.col("trace_id"), pl.lit(start), pl.lit(end), pl.col("index").cast(pl.Utf8)]
    rows = rows.with_row_index("index")
    header = ",".join(f'"{c}"' for c in PS_COLUMNS + TRACE_COLUMNS)
    _write_lines(path, rows, pl.concat_str([_q(v) for v in values], separator=","), [TYPE_LINE, header],
                 eol="\r\n")
    return rows.height, c.height


POD_TS = "%Y-%m-%dT%H:%M:%S%.6f-0700"
POD_DATA_TS = "%Y-%m-%dT%H:%M:%S%.6f-07:00"


def _pod(camp: pl.DataFrame, noise: pl.DataFrame, path: Path, rng) -> tuple[int, int]:
    c = camp.filter(pl.col("scenario") != "unverified").select(
        ts=pl.col("pod_ts"), sender=pl.lit(SENDER), recipient=pl.col("recipient"), subject=pl.lit(SUBJECT),
        message_id=pl.col("message_id"), qid=pl.col("qid"), guid=pl.col("guid"), size=pl.col("size"),
        verdict=pl.when(pl.col("scenario") == "filter_quarantined").then(pl.lit("quarantine"))
        .otherwise(pl.lit("continue")), kind=pl.lit("message"))
    k = pl.col("k")
    n = noise.with_row_index("r").select(
        ts="ts", sender="sender", recipient="recipient", subject="subject", message_id="message_id",
        qid=pl.concat_str([pl.lit("6N"), pl.col("r").cast(pl.Utf8).str.zfill(10)]),
        guid=pl.concat_str([pl.lit("ng"), pl.col("r").cast(pl.Utf8).str.zfill(10), pl.col("msg_hex")]),
        size="size",
        verdict=pl.when(k < 0.93).then(pl.lit("continue")).when(k < 0.97).then(pl.lit("quarantine"))
        .when(k < 0.99).then(pl.lit("discard")).otherwise(pl.lit("reject")),
        kind=pl.when(pl.col("size") % 10 < 3).then(pl.lit("maillog")).otherwise(pl.lit("message")))
    rows = pl.concat([c, n]).sort("ts")
    local = pl.col("ts") - pl.duration(hours=7)
    ts = local.dt.strftime(POD_TS)
    v = pl.col("verdict")
    quarantined = v == "quarantine"
    rule = pl.when(quarantined | (v == "discard") | (v == "reject")).then(pl.lit("phish")).otherwise(pl.lit("notspam"))
    final = pl.when(quarantined).then(pl.lit("discard")).otherwise(v)
    disposition = final
    quarantine = pl.when(quarantined).then(pl.concat_str([
        pl.lit(',"quarantine":{"module":"spam","folderId":"phish","type":"quarantine","folder":"Phish","rule":"phish"}')
    ])).otherwise(pl.lit(""))
    message = pl.concat_str([
        pl.lit('{"metadata":{"origin":{"data":{"cid":"bulkco_hosted","agent":"m0300001.ppops.net","version":"8.21.0.1358"}}},'
               '"ts":"'), ts,
        pl.lit('","envelope":{"from":"'), pl.col("sender"), pl.lit('","rcpts":["'), pl.col("recipient"),
        pl.lit('"]},"connection":{"host":"mx.sender.example","ip":"203.0.113.9","sid":"'), pl.col("qid").str.to_lowercase(),
        pl.lit('","country":"us","protocol":"smtp:smtp","helo":"mx.sender.example"},'
               '"msg":{"lang":"en","normalizedHeader":{"to":["<'), pl.col("recipient"), pl.lit('>"],"subject":["'),
        pl.col("subject"), pl.lit('"],"message-id":["'), pl.col("message_id"), pl.lit('"],"from":["<'),
        pl.col("sender"), pl.lit('>"]},"header":{"from":["<'), pl.col("sender"), pl.lit('>"],"message-id":["<'),
        pl.col("message_id"), pl.lit('>"],"subject":["'), pl.col("subject"), pl.lit('"]},"sizeBytes":'),
        pl.col("size").cast(pl.Utf8),
        pl.lit('},"filter":{"actions":[{"module":"av","rule":"clean","action":"continue"},{"module":"spam","rule":"'),
        rule, pl.lit('","action":"'), final, pl.lit('","isFinal":true}],"routeDirection":"inbound","disposition":"'),
        disposition, pl.lit('","qid":"'), pl.col("qid"), pl.lit('","msgSizeBytes":'), pl.col("size").cast(pl.Utf8),
        quarantine, pl.lit('},"guid":"'), pl.col("guid"), pl.lit('","type":"message"}'),
    ])
    data_ts = local.dt.strftime(POD_DATA_TS)
    maillog = pl.concat_str([
        pl.lit('{"data":"'), data_ts, pl.lit(' m0300001 sendmail[4242]: '), pl.col("qid"), pl.lit(': to=<'),
        pl.col("recipient"), pl.lit('>, delay=00:00:01, mailer=esmtp, relay=bulkco-corp-example.mail.protection.outlook.com.'
                                    ' [52.101.1.1], dsn=2.0.0, stat=Sent (Ok)","sm":{"delay":"00:00:01","dsn":"2.0.0",'
                                    '"mailer":"esmtp","qid":"'),
        pl.col("qid"), pl.lit('","relay":"bulkco-corp-example.mail.protection.outlook.com. [52.101.1.1]",'
                              '"stat":"Sent (Ok)","to":["<'), pl.col("recipient"),
        pl.lit('>"]},"pps":{"cid":"bulkco_hosted","agent":"m0300001.ppops.net"},"ts":"'), ts,
        pl.lit('","type":"maillog"}'),
    ])
    _write_lines(path, rows, pl.when(pl.col("kind") == "message").then(message).otherwise(maillog))
    return rows.height, c.height


def _defender(camp: pl.DataFrame, noise: pl.DataFrame, path: Path, rng) -> tuple[int, int]:
    c = camp.filter(pl.col("scenario").is_in(list(DEFENDER))).select(
        ts=pl.col("defender_ts"), sender=pl.lit(SENDER), recipient=pl.col("recipient"), subject=pl.lit(SUBJECT),
        message_id=pl.col("message_id"),
        da=pl.col("scenario").replace_strict({k: v[0] for k, v in DEFENDER.items()}),
        dl=pl.col("scenario").replace_strict({k: v[1] for k, v in DEFENDER.items()}))
    k = pl.col("k")
    n = noise.select(
        ts=pl.col("ts").dt.truncate("1s"), sender="sender", recipient="recipient", subject="subject",
        message_id="message_id",
        da=pl.when(k < 0.9).then(pl.lit("Delivered")).when(k < 0.95).then(pl.lit("Junked")).otherwise(pl.lit("Blocked")),
        dl=pl.when(k < 0.9).then(pl.lit("Inbox/folder")).when(k < 0.95).then(pl.lit("Junk"))
        .otherwise(pl.lit("Quarantine")))
    rows = pl.concat([c, n]).sort("ts")
    rows = rows.with_columns(nmid=_guid(rng, rows.height))
    blocked = pl.col("da") == "Blocked"
    junked = pl.col("da") == "Junked"
    threat = pl.when(blocked).then(pl.lit("Phish")).when(junked).then(pl.lit("Spam"))
    methods = pl.when(blocked).then(pl.lit('{\\"Phish\\":[\\"URL detonation reputation\\"]}')) \
        .when(junked).then(pl.lit('{\\"Spam\\":[\\"Advanced filter\\"]}'))
    action = pl.when(blocked).then(pl.lit("Send to quarantine")).when(junked).then(pl.lit("Move message to junk mail folder"))
    policy = pl.when(blocked).then(pl.lit("Antiphish")).when(junked).then(pl.lit("Antispam"))
    stamp = pl.col("ts").dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    sent = (pl.col("ts") + pl.duration(seconds=240)).dt.strftime("%Y-%m-%dT%H:%M:%S%.6f0Z")
    dom = pl.col("sender").str.split("@").list.last()
    line = pl.concat_str([
        pl.lit('{"time":"'), sent, pl.lit('","tenantId":"0d1e2f30-4a5b-4c6d-8e9f-a0b1c2d3e4f5","operationName":"Publish",'
                                          '"category":"AdvancedHunting-EmailEvents","_TimeReceivedBySvc":"'),
        pl.col("ts").dt.strftime("%Y-%m-%dT%H:%M:%S.0000000"),
        pl.lit('","properties":{"Timestamp":"'), stamp, pl.lit('","NetworkMessageId":"'), pl.col("nmid"),
        pl.lit('","InternetMessageId":"<'), pl.col("message_id"), pl.lit('>","SenderMailFromAddress":"'), pl.col("sender"),
        pl.lit('","SenderFromAddress":"'), pl.col("sender"), pl.lit('","SenderDisplayName":"Sender","SenderObjectId":null,'
                                                                   '"SenderMailFromDomain":"'), dom,
        pl.lit('","SenderFromDomain":"'), dom, pl.lit('","SenderIPv4":"203.0.113.9","SenderIPv6":null,'
                                                     '"RecipientEmailAddress":"'), pl.col("recipient"),
        pl.lit('","RecipientObjectId":null,"Subject":"'), pl.col("subject"),
        pl.lit('","EmailClusterId":1234567890,"EmailDirection":"Inbound","DeliveryAction":"'), pl.col("da"),
        pl.lit('","DeliveryLocation":"'), pl.col("dl"), pl.lit('","ThreatTypes":'), _j(threat),
        pl.lit(',"ThreatNames":null,"DetectionMethods":'), _j(methods),
        pl.lit(',"BulkComplaintLevel":null,"EmailAction":'), _j(action), pl.lit(',"EmailActionPolicy":'), _j(policy),
        pl.lit(',"AuthenticationDetails":"{\\"SPF\\":\\"pass\\",\\"DKIM\\":\\"pass\\",\\"DMARC\\":\\"pass\\"}",'
               '"AttachmentCount":0,"UrlCount":2,"EmailLanguage":"en","Connectors":null,"OrgLevelAction":null,'
               '"OrgLevelPolicy":null,"UserLevelAction":null,"UserLevelPolicy":null,"ReportId":"'),
        pl.col("nmid"), pl.lit('-1","AdditionalFields":null,"To":["'), pl.col("recipient"),
        pl.lit('"],"Cc":[],"RecipientDomain":"' + CUSTOMER_DOMAIN + '","EmailSize":20000,"IsFirstContact":false},'
               '"Tenant":"DefaultTenant"}'),
    ])
    _write_lines(path, rows, line, eol="\r\n")
    return rows.height, c.height


def campaign_counts(camp: pl.DataFrame) -> dict[str, int]:
    s = camp.get_column("scenario")
    return {"m365_message_trace": int(s.is_in(list(TRACE_STATUS)).sum()),
            "proofpoint_pod_json": int((s != "unverified").sum()),
            "defender_email_events": int(s.is_in(list(DEFENDER)).sum())}


def write_bulk(out_dir: Path, events: int, recipients: int = 200_000, seed: int = 1) -> BulkResult:
    """Write the campaign export and `events` mail events across the three logs under out_dir."""
    np = _np()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    camp = plan(recipients, seed)
    own = campaign_counts(camp)
    wanted = {fmt: round(events * share) for fmt, share in SHARES.items()}
    short = {fmt: own[fmt] - wanted[fmt] for fmt in SHARES if own[fmt] > wanted[fmt]}
    if short:
        raise ValueError(f"{events} events is too few for {recipients} recipients: the campaign alone logs "
                         f"{sum(own.values())}; give at least {int(sum(own.values()) / min(SHARES.values()))}")
    files = {fmt: out_dir / name for fmt, name in FILES.items()}
    _export(camp, files["phishsim_csv"])
    writers = {"m365_message_trace": _trace, "proofpoint_pod_json": _pod, "defender_email_events": _defender}
    counts, campaign = {}, {}
    for i, (fmt, write) in enumerate(writers.items()):
        rng = np.random.default_rng([seed, 10 + i])
        noise = _noise(rng, wanted[fmt] - own[fmt], camp)
        counts[fmt], campaign[fmt] = write(camp, noise, files[fmt], rng)
        del noise
    camp.select("recipient", "scenario", expected=pl.col("scenario").replace_strict(
        {k: v[1] for k, v in SCENARIOS.items()})).write_csv(out_dir / "expected.csv")
    return BulkResult(files=files, events=counts, campaign_events=campaign, recipients=recipients)
