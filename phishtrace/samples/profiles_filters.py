"""Customers behind Mimecast, Cisco ESA and Proofpoint TAP, and customers whose simulation platform is GoPhish,
KnowBe4 or attack simulation training (profiles registered by name in profiles.NAMED). All deliver to
Exchange Online (message trace and Defender, as acme / globex).

| customer | platform | filter | server export |
|---|---|---|---|
| initech | PhishSim, no Message ID | Mimecast SIEM v1 key=value (receipt, process, delivery, TTP URL) | Export-Csv |
| umbrella | PhishSim with Message ID | Cisco ESA mail_logs + bounce log, file form (America/Chicago) | JSON |
| hooli | GoPhish results + events CSV | Proofpoint on Demand + TAP (its landing URL threat-classified) | JSON |
| soylent | KnowBe4 recipients JSON | Cisco ESA syslog form, two appliances (Europe/Berlin, --year) | Export-Csv |
| wayne | attack simulation training CSV | none | JSON, ends before run 2's last sends |

What each platform cannot express (writers/_platforms.py): GoPhish has no Scheduling state, no
delivered state and no replies, and its relay hides filter/server bounces; KnowBe4 and attack simulation
training have no Scheduling state; attack simulation training shows an unsent user like one with an
unknown delivery result. None of the three keeps a bounced-learner list. So scheduling_stalled occurs for
initech and umbrella only, held_bounced_learner for all but wayne (a Sending / scheduled row stuck for more
than 24 hours; for initech and umbrella also the learner flag).
"""

from __future__ import annotations

from phishtrace.samples.profiles import NAMED, Profile

EXO = ("m365_message_trace", ("defender_email_events", "defender_post_delivery"))
NO_FLAGS = ("flags_bounced_learners", False)  # the platform keeps no bounced-learner list


def initech_like(name: str) -> Profile:
    """PhishSim (no Message IDs) behind Mimecast (SIEM v1 key=value logs), Exchange Online."""
    return Profile(name=name, domain=f"{name}.example", campaign="Parcel Delivery Notice",
                   sender="noreply@parcel-tracking.example",
                   subject="Your parcel could not be delivered: confirm your address",
                   platform=("phishsim_csv", "phishsim_learners_csv"), filter="mimecast_siem", server=EXO[0],
                   mailbox=EXO[1], export_message_id=False, trace_shape="export_csv", trace_ends_early=False,
                   scenarios=("filter_released", "interacted_click_blocked"),
                   options=(("mimecast_shape", "kv"),))


def umbrella_like(name: str) -> Profile:
    """PhishSim (with Message IDs) behind Cisco ESA (text mail logs and bounce logs, file form)."""
    return Profile(name=name, domain=f"{name}-corp.example", campaign="MFA Re-registration",
                   sender="security@mfa-reset.example",
                   subject="Your multi-factor authentication must be re-registered",
                   platform=("phishsim_csv", "phishsim_learners_csv"), filter="cisco_esa_text", server=EXO[0],
                   mailbox=EXO[1], export_message_id=True, trace_shape="json", trace_ends_early=False,
                   scenarios=("filter_released",), options=(("cisco_form", "file"),))


def hooli_like(name: str) -> Profile:
    """GoPhish (results and events CSV) behind Proofpoint on Demand with TAP."""
    return Profile(name=name, domain=f"{name}.example", campaign="Payroll Portal Update",
                   sender="payroll@payroll-update.example",
                   subject="Payroll: confirm your bank details before Friday",
                   platform=("gophish_results_csv", "gophish_events_csv"), filter="proofpoint_pod_json",
                   server=EXO[0], mailbox=EXO[1], export_message_id=False, trace_shape="json",
                   trace_ends_early=False,
                   scenarios=("delivered_late_scanner", "delivered_late_scanner_ua", "interacted_click_blocked"),
                   options=(("filter_logs", ("proofpoint_tap_json",)), NO_FLAGS))


def soylent_like(name: str) -> Profile:
    """KnowBe4 (recipients JSON) behind Cisco ESA (syslog-pushed logs of two appliances)."""
    return Profile(name=name, domain=f"{name}.example", campaign="Shared Document",
                   sender="docs@share-notify.example", subject="A document has been shared with you",
                   platform=("knowbe4_recipients_json",), filter="cisco_esa_text", server=EXO[0], mailbox=EXO[1],
                   export_message_id=False, trace_shape="export_csv", trace_ends_early=False,
                   scenarios=("filter_released", "delivered_late_scanner"),
                   options=(("cisco_form", "syslog"), NO_FLAGS))


def wayne_like(name: str) -> Profile:
    """Attack simulation training (user export per simulation) straight into Exchange Online."""
    return Profile(name=name, domain=f"{name}-enterprises.example", campaign="Benefits Election",
                   sender="benefits@hr-benefits.example", subject="Confirm your benefits election",
                   platform=("ms_ast_csv",), filter=None, server=EXO[0], mailbox=EXO[1], export_message_id=False,
                   trace_shape="json", trace_ends_early=True, scenarios=("delivered_late_scanner",),
                   skip=("held_run_ended",), options=(NO_FLAGS,))


PROFILES = {"initech": initech_like, "umbrella": umbrella_like, "hooli": hooli_like, "soylent": soylent_like,
            "wayne": wayne_like}
NAMED.update(PROFILES)
