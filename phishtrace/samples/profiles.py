"""Customer profiles: which writers render a customer's plans, and the tenant facts they need."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from phishtrace.samples.model import Learner


@dataclass(frozen=True)
class Profile:
    name: str
    domain: str  # the customer's mail domain
    campaign: str
    sender: str  # the simulation's envelope and header sender (export `Sender`)
    subject: str
    platform: tuple[str, ...]  # platform writers (campaign export first)
    filter: str | None  # filter writer, None when mail goes straight to the server
    server: str
    mailbox: tuple[str, ...]
    export_message_id: bool  # the campaign export carries the Message ID
    trace_shape: str  # m365_message_trace rendering: 'export_csv' | 'json'
    trace_ends_early: bool  # the server export ends before the last run's last messages were sent
    scenarios: tuple[str, ...] = ()  # extra catalogue scenarios (needs='profile') only this profile plants
    skip: tuple[str, ...] = ()  # catalogue scenarios this profile's files cannot express
    options: tuple[tuple[str, object], ...] = ()  # writer settings, read with option()

    def option(self, key: str, default: object = None) -> object:
        return dict(self.options).get(key, default)

    @property
    def writers(self) -> tuple[str, ...]:
        extra = tuple(self.option("filter_logs", ()))  # type: ignore[arg-type]  # further filter writers (TAP)
        return (*self.platform, *((self.filter,) if self.filter else ()), *extra, self.server, *self.mailbox)

    @property
    def mx(self) -> str:
        return self.domain.replace(".", "-") + ".mail.protection.outlook.com"

    @property
    def tenant(self) -> str:
        return self.domain.split(".")[0].replace("-", "") + ".onmicrosoft.com"


def acme_like(name: str) -> Profile:
    """Proofpoint on Demand in front of Exchange Online; the export carries Message IDs."""
    return Profile(
        name=name,
        domain=f"{name}-corp.example",
        campaign="Q2 Password Expiry",
        sender="it-helpdesk@account-notice.example",
        subject="Action required: your password expires today",
        platform=("phishsim_csv", "phishsim_learners_csv"),
        filter="proofpoint_pod_json",
        server="m365_message_trace",
        mailbox=("defender_email_events", "defender_post_delivery"),
        export_message_id=True,
        trace_shape="export_csv",
        trace_ends_early=False,
    )


def globex_like(name: str) -> Profile:
    """Exchange Online directly; the export has no Message IDs; the trace export ends too early."""
    return Profile(
        name=name,
        domain=f"{name}.example",
        campaign="Benefits Enrollment 2025",
        sender="benefits@hr-portal.example",
        subject="Open enrollment closes Friday: confirm your selections",
        platform=("phishsim_csv", "phishsim_learners_csv"),
        filter=None,
        server="m365_message_trace",
        mailbox=("defender_email_events", "defender_post_delivery"),
        export_message_id=False,
        trace_shape="json",
        trace_ends_early=True,
    )


TEMPLATES = (acme_like, globex_like)
NAMED: dict[str, Callable[[str], Profile]] = {}  # profiles chosen by customer name (registered by extension modules)


def profile_for(name: str, index: int) -> Profile:
    """`acme` and `globex` get their own profile; other names take the templates in turn."""
    if name == "acme":
        return acme_like(name)
    if name == "globex":
        return globex_like(name)
    if name in NAMED:
        return NAMED[name](name)
    return TEMPLATES[index % len(TEMPLATES)](name)


@dataclass
class CustomerContext:
    """Everything a writer needs besides the plans."""

    profile: Profile
    seed: int
    learners: list[Learner]
    trace_start: datetime
    trace_end: datetime | None = None  # None: up to as_of
    as_of: datetime | None = None
    extra: dict = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.profile.name


from phishtrace.samples import profiles_servers  # noqa: E402,F401  (registers its profiles in NAMED)
from phishtrace.samples import profiles_filters  # noqa: E402,F401  (registers its profiles in NAMED)
