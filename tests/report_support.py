"""Helpers shared by the report, notebook and chart tests: sample workspaces, two hand-written customers
sharing a domain, and a headless Chromium check of a report page."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "data" / "samples"
XSS = "<img src=x onerror=alert(1)>"
SENDER = "sim@phish-sim.example"
ALPHA_CAMPAIGN = f"Payroll {XSS}"
ALPHA_RUN = "=SUM(1+1)"
ALPHA = ["a1@shared.example", "a2@shared.example", "a3@shared.example", "a4@shared.example"]
BETA = ["b1@shared.example", "b2@shared.example"]


# -- data --------------------------------------------------------------------------------------
def sample_folders(tmp: Path) -> list[Path]:
    """data/samples/<customer>/ when present, else the project's generator's output (same layout)."""
    folders = sorted(p for p in SAMPLES.glob("*") if p.is_dir() and not p.name.startswith(".")
                     and any(f.is_file() for f in p.iterdir()))
    if folders:
        return folders
    from phishtrace.samples.generate import generate

    generate(tmp / "samples", seed=7, recipients=80)
    return sorted(p for p in (tmp / "samples").iterdir() if p.is_dir())


def ingest_folders(db: Path, folders: list[Path]) -> list[str]:
    """Ingest each folder as one customer (named after it) into the workspace file db."""
    from phishtrace import Workspace

    with Workspace(str(db)) as ws:
        for folder in folders:
            files = sorted(str(f) for f in folder.iterdir() if f.is_file() and not f.name.startswith("."))
            ws.ingest(folder.name, files)
        return ws.customers()


PHISHSIM_HEADER = ("Campaign,Campaign Run,Run Start,Run End,First Name,Last Name,Email,Status,Scheduled At,Sent At,"
                   "Delivered At,Opened At,Phished At,Replied At,Entered Data At,Reported At,Bounced At,Bounce Reason,"
                   "Sender,Subject,Message ID")
def delivered_trace(rows) -> str:
    """A message trace in the Graph / ISO-date CSV shape: one Delivered row per (received, sender,
    recipient, subject, n), with Message-ID <m{n}@sim.example>."""
    header = '"Received","SenderAddress","RecipientAddress","Subject","Status","MessageId","MessageTraceId"\n'
    return header + "".join(
        f'"{ts}","{sender}","{rcpt}","{subject}","Delivered","<m{n}@sim.example>",'
        f'"00000000-0000-0000-0000-{int(n):012d}"\n' for ts, sender, rcpt, subject, n in rows)


TRACE_HEADER = ('#TYPE Deserialized.Microsoft.Exchange.Management.FfoReporting.MessageTrace\n'
                '"PSComputerName","RunspaceId","PSShowComputerName","Organization","MessageId","Received",'
                '"SenderAddress","RecipientAddress","Subject","Status","ToIP","FromIP","Size","MessageTraceId",'
                '"StartDate","EndDate","Index"')


def _csv(*cells: str) -> str:
    return ",".join('"' + c.replace('"', '""') + '"' if any(ch in c for ch in ',"\n') else c for c in cells)


def _phishsim_row(campaign, first, email, status, sent, delivered="", bounced="", reason="", subject="", msgid="",
                  run="Run 1"):
    return _csv(campaign, run, "2025-06-02T09:00:00Z", "2025-06-04T09:00:00Z", first, "Tester", email, status,
                "2025-06-02T09:00:00Z", sent, delivered, "", "", "", "", "", bounced, reason, SENDER, subject, msgid)


def _trace_row(i, org, msgid, received, recipient, subject, status):
    return _csv("outlook.office365.com", "72dc8bb9-1a65-28ba-c02c-73f2b7cf5b73", "False", org, msgid, received,
                SENDER, recipient, subject, status, "", "148.163.153.113", "32770",
                f"83d3cd55-8e0c-b3aa-506e-b6039868651{i}", "6/1/2025 12:00:00 AM", "6/4/2025 12:00:00 AM", str(i))


def write_two_customers(folder: Path) -> dict[str, list[Path]]:
    """alpha and beta, both mailing @shared.example. alpha's campaign name and subject carry an HTML
    injection and its run name a spreadsheet formula; beta's message trace also logs one of alpha's
    addresses."""
    alpha, beta = folder / "alpha", folder / "beta"
    alpha.mkdir(parents=True)
    beta.mkdir(parents=True)
    camp, run = ALPHA_CAMPAIGN, ALPHA_RUN
    rows = [
        _phishsim_row(camp, "Ada", "a1@shared.example", "Delivered", "2025-06-02T09:05:00Z", "2025-06-02T09:05:05Z",
                      subject=XSS, msgid="<a1-msg@phish-sim.example>", run=run),
        _phishsim_row(camp, "Ben", "a2@shared.example", "Sent", "2025-06-02T09:06:00Z", subject=XSS,
                      msgid="<a2-msg@phish-sim.example>", run=run),
        _phishsim_row(camp, "Cleo", "a3@shared.example", "Bounced", "2025-06-02T09:07:00Z",
                      bounced="2025-06-02T09:07:09Z", reason="550 5.1.1 <a3@shared.example>: user unknown",
                      subject=XSS, msgid="<a3-msg@phish-sim.example>", run=run),
        _phishsim_row(camp, "Dev", "a4@shared.example", "Sent", "2025-06-02T09:08:00Z", subject=XSS,
                      msgid="<a4-msg@phish-sim.example>", run=run),
    ]
    (alpha / "phishsim_export.csv").write_text(PHISHSIM_HEADER + "\n" + "\n".join(rows) + "\n", encoding="utf-8")
    trace = [
        _trace_row(0, "alpha.onmicrosoft.com", "<a1-msg@phish-sim.example>", "6/2/2025 9:05:04 AM",
                   "a1@shared.example", XSS, "Delivered"),
        _trace_row(1, "alpha.onmicrosoft.com", "<a2-msg@phish-sim.example>", "6/2/2025 9:06:04 AM",
                   "a2@shared.example", XSS, "Quarantined"),
    ]
    (alpha / "message_trace.csv").write_text(TRACE_HEADER + "\n" + "\n".join(trace) + "\n", encoding="utf-8")
    rows = [
        _phishsim_row("Beta secret campaign", "Bo", "b1@shared.example", "Delivered", "2025-06-02T09:05:30Z",
                      "2025-06-02T09:05:36Z", subject="beta-only subject", msgid="<b1-msg@phish-sim.example>"),
        _phishsim_row("Beta secret campaign", "Bea", "b2@shared.example", "Sent", "2025-06-02T09:06:30Z",
                      subject="beta-only subject", msgid="<b2-msg@phish-sim.example>"),
    ]
    (beta / "phishsim_export.csv").write_text(PHISHSIM_HEADER + "\n" + "\n".join(rows) + "\n", encoding="utf-8")
    trace = [
        _trace_row(0, "beta.onmicrosoft.com", "<b1-msg@phish-sim.example>", "6/2/2025 9:05:34 AM",
                   "b1@shared.example", "beta-only subject", "Delivered"),
        _trace_row(1, "beta.onmicrosoft.com", "<b2-msg@phish-sim.example>", "6/2/2025 9:06:34 AM",
                   "b2@shared.example", "beta-only subject", "Delivered"),
        _trace_row(2, "beta.onmicrosoft.com", "<beta-stray@phish-sim.example>", "6/2/2025 9:05:20 AM",
                   "a1@shared.example", "beta-only subject", "Delivered"),
    ]
    (beta / "message_trace.csv").write_text(TRACE_HEADER + "\n" + "\n".join(trace) + "\n", encoding="utf-8")
    return {"alpha": [alpha / "phishsim_export.csv", alpha / "message_trace.csv"],
            "beta": [beta / "phishsim_export.csv", beta / "message_trace.csv"]}


# -- HTML checks -------------------------------------------------------------------------------
def tags(page: str) -> list[tuple[str, dict]]:
    """Every start tag of an HTML page with its attributes."""
    from html.parser import HTMLParser

    found: list[tuple[str, dict]] = []

    class P(HTMLParser):
        def handle_starttag(self, tag, attrs):
            found.append((tag, dict(attrs)))

        handle_startendtag = handle_starttag

    P(convert_charrefs=True).feed(page)
    return found


def external_references(page: str) -> list[str]:
    """src/href/xlink:href/url(...) values that would fetch something (anything but #fragments and data:)."""
    refs = []
    for _, attrs in tags(page):
        for name in ("src", "href", "xlink:href", "srcset", "data", "poster", "action"):
            value = (attrs.get(name) or "").strip()
            if value and not value.startswith(("#", "data:")):
                refs.append(f"{name}={value}")
    refs += re.findall(r"url\(\s*['\"]?(?!data:|#)[^)]+\)", page)
    refs += re.findall(r"@import", page)
    return refs


# -- headless Chromium -------------------------------------------------------------------------
def chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


def open_in_chromium(page: Path) -> dict:
    """Load a local page in headless Chromium with a network log. Returns the rendered DOM, the console
    messages and the network requests the page itself started (the browser's own background requests,
    which carry no page initiator, are left out)."""
    exe = chromium()
    assert exe, "chromium not found"
    with tempfile.TemporaryDirectory(prefix="pt-chromium-") as tmp:
        netlog = Path(tmp) / "netlog.json"
        cmd = [exe, "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync",
               "--disable-extensions", "--disable-default-apps", f"--user-data-dir={tmp}/profile",
               "--enable-logging=stderr", "--v=0", f"--log-net-log={netlog}", "--net-log-capture-mode=Default",
               "--virtual-time-budget=3000", "--dump-dom", page.resolve().as_uri()]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120,
                              env={**os.environ, "LANG": "C.UTF-8"})
        console = [line for line in proc.stderr.splitlines() if ":CONSOLE" in line]
        requests = []
        if netlog.exists():
            data = _load_netlog(netlog.read_text(encoding="utf-8", errors="replace"))
            names = {v: k for k, v in data["constants"]["logEventTypes"].items()}
            for ev in data["events"]:
                params = ev.get("params") or {}
                if names.get(ev["type"]) == "URL_REQUEST_START_JOB" and "url" in params:
                    initiator = params.get("initiator", "")
                    nik = params.get("network_isolation_key", "")
                    if initiator != "not an origin" or "file://" in nik:
                        requests.append(params["url"])
        return {"returncode": proc.returncode, "dom": proc.stdout, "console": console, "requests": requests,
                "netlog": netlog.exists()}


def _load_netlog(text: str) -> dict:
    """A net log cut short at exit lacks its closing brackets; add them."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return json.loads(text.rstrip().rstrip(",") + "]}")


# -- expensive fixtures, once per test run -----------------------------------------------------
def once(tmp_path_factory, name: str, build) -> tuple[Path, dict]:
    """Run build(folder) -> JSON-able dict once per test run, even when pytest-xdist spreads a module's
    tests over several workers (they share the base temp folder's parent and wait on a lock)."""
    import fcntl

    base = tmp_path_factory.getbasetemp()
    root = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    folder = root / f"shared-{name}"
    with open(root / f"shared-{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            done = folder / "result.json"
            if not done.exists():
                shutil.rmtree(folder, ignore_errors=True)
                folder.mkdir(parents=True)
                result = build(folder)
                done.write_text(json.dumps(result), encoding="utf-8")
            return folder, json.loads(done.read_text(encoding="utf-8"))
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
