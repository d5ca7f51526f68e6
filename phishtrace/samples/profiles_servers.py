"""Customers whose server hop is Google Workspace, Exchange on-premises or Postfix, or whose mailbox hop is
unified-audit-log inbox rules, TIMailData and Abnormal. They are generated only when named
(`generate(..., customers=["piedpiper", ...])`); the default customers are untouched.

| customer | filter | server (file) | mailbox (files) |
|---|---|---|---|
| `piedpiper` | none | Google Workspace: Gmail logs in BigQuery (`gmail_logs.json`; REST `f`/`v` rows with their schema for an even seed, NDJSON export records for an odd one) | Abnormal threats API (`abnormal_threats.json`): post-delivery remediation |
| `cyberdyne` | none | Exchange Server 2019 message tracking log (`MSGTRK<date>-1.LOG`, 30-field `#Fields:` header, BOM, CRLF); the log ends before the last messages of run 2 were sent | none (on-premises mailboxes have no unified audit log) |
| `tyrell` | none | Postfix + Dovecot LMTP, rsyslog RFC 3339 stamps with offset (`maillog`, host zone Europe/Berlin), amavis content-filter hop; the log ends before the last messages of run 2 | none (Sieve filing shows in Dovecot's delivery lines) |
| `vandelay` | Proofpoint on Demand (`proofpoint_pod.json`) | Postfix relay + Dovecot, classic RFC 3164 syslog (`maillog`, no year, no zone: load it with `--tz America/Chicago --year <year of its first line>`) | none |
| `oscorp` | none | Exchange Online message trace (`message_trace.csv`) | TIMailData (`timaildata.json`, Management Activity content blob), UAL inbox rules (`inbox_rules_audit.csv`, audit search export with AuditData), Abnormal (`abnormal_threats.json`) |

What each source cannot express (so the outcome is not planted for that customer):

* no filter in front (`piedpiper`, `cyberdyne`, `tyrell`, `oscorp`): `filter_quarantined`, `filter_deferred`;
* Gmail logs have no drop / silent discard: `server_failed` for `piedpiper`; no deferral either (the
  unverified-at-server case is a hand-off to another server instead);
* MSGTRK does not log inbox-rule moves and on-premises Exchange has no post-delivery source:
  `moved_by_rule`, `removed_after_delivery` for `cyberdyne`;
* Postfix / Dovecot logs have no post-delivery removal: `removed_after_delivery` for `tyrell`, `vandelay`;
* the message trace has no refusal status of its own (`Failed` is a drop, TIMailData has no bounce): `bounced`
  occurs for `oscorp` only as the platform's bounce (stuck_at platform), never at the server.

Every other outcome of docs/outcomes.md §3 is planted for every one of them.
"""

from __future__ import annotations

from dataclasses import dataclass

from phishtrace.samples.profiles import NAMED, Profile

PLATFORM = ("phishsim_csv", "phishsim_learners_csv")


@dataclass(frozen=True)
class OwnMxProfile(Profile):
    """A customer whose MX is its own host (option 'mx'), not Exchange Online Protection."""

    @property
    def mx(self) -> str:
        return str(self.option("mx"))


def google_like(name: str) -> Profile:
    """Google Workspace: Gmail logs in BigQuery for delivery and Gmail's own post-delivery moves; Abnormal."""
    return Profile(
        name=name, domain=f"{name}.example", campaign="Shared Drive Access Request",
        sender="drive-share@docs-notify.example", subject="A document has been shared with you: Q3 budget review",
        platform=PLATFORM, filter=None, server="gmail_bigquery_json", mailbox=("abnormal_threats_json",),
        export_message_id=True, trace_shape="json", trace_ends_early=False,
        scenarios=("bounced_at_server", "server_relayed", "quarantine_released", "junk_then_inbox",
                   "moved_by_user_rule"),
        skip=("server_failed", "unverified_pending"),
    )


def exchange_onprem_like(name: str) -> Profile:
    """Exchange Server 2019 on-premises; its tracking log ends before run 2's last messages were sent."""
    return OwnMxProfile(
        name=name, domain=f"{name}-corp.example", campaign="Parcel Delivery Failed",
        sender="tracking@parcel-status.example", subject="Delivery attempt failed: reschedule your parcel",
        platform=PLATFORM, filter=None, server="exchange_msgtrk", mailbox=(),
        export_message_id=False, trace_shape="json", trace_ends_early=True,
        scenarios=("bounced_at_server", "server_relayed", "delivered_after_retry"),
        skip=("moved_by_rule", "removed_after_delivery"),
        options=(("mx", f"mail.{name}-corp.example"), ("msgtrk_version", "15.02.1544.004")),
    )


def postfix_like(name: str) -> Profile:
    """Postfix + Dovecot without a filter in front; RFC 3339 syslog; the log ends early."""
    return OwnMxProfile(
        name=name, domain=f"{name}.example", campaign="Mailbox Quota Warning",
        sender="postmaster@mail-quota-alert.example", subject="Your mailbox is almost full: upgrade storage",
        platform=PLATFORM, filter=None, server="postfix_log", mailbox=(),
        export_message_id=True, trace_shape="json", trace_ends_early=True,
        scenarios=("bounced_at_server", "server_relayed", "delivered_after_retry", "moved_by_user_rule"),
        skip=("removed_after_delivery",),
        options=(("mx", f"mx1.{name}.example"), ("syslog", "rfc3339"), ("tz", "Europe/Berlin")),
    )


def pod_postfix_like(name: str) -> Profile:
    """Proofpoint on Demand in front of a Postfix relay that delivers locally; RFC 3164 syslog."""
    return OwnMxProfile(
        name=name, domain=f"{name}-industries.example", campaign="Invoice Overdue",
        sender="billing@invoice-portal.example", subject="Overdue invoice #48213: payment required",
        platform=PLATFORM, filter="proofpoint_pod_json", server="postfix_log", mailbox=(),
        export_message_id=False, trace_shape="json", trace_ends_early=False,
        scenarios=("server_relayed", "delivered_after_retry", "filter_released_unlogged", "moved_by_user_rule"),
        skip=("removed_after_delivery",),
        options=(("mx", f"mail.{name}-industries.example"), ("syslog", "rfc3164"), ("tz", SYSLOG_TZ)),
    )


def exo_audit_like(name: str) -> Profile:
    """Exchange Online without Defender advanced hunting: TIMailData, inbox-rule audit records, Abnormal."""
    return Profile(
        name=name, domain=f"{name}-enterprises.example", campaign="Payroll Portal Migration",
        sender="payroll@hr-benefits-update.example", subject="Payroll portal migration: confirm your bank details",
        platform=PLATFORM, filter=None, server="m365_message_trace",
        mailbox=("m365_timaildata_json", "m365_inbox_rules_json", "abnormal_threats_json"),
        export_message_id=False, trace_shape="export_csv", trace_ends_early=False,
        scenarios=("quarantine_released", "junk_then_inbox", "moved_by_user_rule"),
    )


# the RFC 3164 customer's host zone: its maillog must be loaded with this --tz (and --year)
SYSLOG_TZ = "America/Chicago"
PROFILES = {
    "piedpiper": google_like,
    "cyberdyne": exchange_onprem_like,
    "tyrell": postfix_like,
    "vandelay": pod_postfix_like,
    "oscorp": exo_audit_like,
}
for _name, _make in PROFILES.items():
    NAMED.setdefault(_name, _make)
