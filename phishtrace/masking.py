"""Stable pseudonyms for e-mail addresses in reports (`phishtrace report --mask-recipients`).

An address becomes `user-<8 hex>@domain-<6 hex>.invalid`, both parts keyed HMAC-SHA256 digests of the
lower-cased address and domain. The key comes from `--mask-key` / $PHISHTRACE_MASK_KEY; without one a
random key is drawn for the report set, so pseudonyms agree within that set (every report, chart and
CSV of one run) and cannot be linked to another run's. Free text (bounce reasons, rule names, alert
details) is masked too: every address in it, and every recipient domain seen in the same report (also in
the dashed form of mail host names such as contoso-com.mail.protection.outlook.com).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets

import polars as pl

KEY_ENV = "PHISHTRACE_MASK_KEY"
ADDRESS = re.compile(
    r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@"
    r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+")
# personal columns a masked report leaves out entirely
DROPPED_COLUMNS = ("first_name", "last_name", "message_key")


class Masker:
    def __init__(self, key: bytes | str):
        self._key = key.encode("utf-8") if isinstance(key, str) else bytes(key)
        if not self._key:
            raise ValueError("an empty masking key")
        self._domains: dict[str, str] = {}
        self._domain_re: re.Pattern | None = None

    @classmethod
    def from_env(cls) -> "Masker":
        """The key in $PHISHTRACE_MASK_KEY, else a fresh random one."""
        return cls(os.environ.get(KEY_ENV) or secrets.token_hex(32))

    def _digest(self, kind: str, value: str, size: int) -> str:
        return hmac.new(self._key, f"{kind}:{value}".encode("utf-8"), hashlib.sha256).hexdigest()[:size]

    def domain(self, domain: str) -> str:
        return f"domain-{self._digest('domain', domain.strip().lower(), 6)}.invalid"

    def address(self, address: str) -> str:
        value = address.strip().strip("<>").lower()
        domain = value.rsplit("@", 1)[1] if "@" in value else ""
        return f"user-{self._digest('address', value, 8)}@{self.domain(domain)}"

    def learn_domains(self, addresses) -> None:
        """Remember recipient domains, so they are masked where they appear alone in free text."""
        for a in addresses:
            if a and "@" in a:
                d = a.rsplit("@", 1)[1].strip(" <>").lower()
                if d and d not in self._domains:
                    masked = self.domain(d)
                    self._domains[d] = masked
                    # the dashed form mail hosts use (contoso-com.mail.protection.outlook.com)
                    self._domains[d.replace(".", "-")] = masked.replace(".", "-")
        if self._domains:
            names = sorted(self._domains, key=len, reverse=True)
            self._domain_re = re.compile(r"(?<![\w.-])(" + "|".join(re.escape(n) for n in names) + r")(?![\w-])",
                                         re.IGNORECASE)

    def text(self, value: str | None) -> str | None:
        if not value:
            return value
        out = ADDRESS.sub(lambda m: self.address(m.group(0)), value)
        if self._domain_re is not None:
            out = self._domain_re.sub(lambda m: self._domains[m.group(1).lower()], out)
        return out

    def frame(self, df: pl.DataFrame) -> pl.DataFrame:
        """Mask every string column (each distinct value once) and drop personal columns."""
        df = df.drop([c for c in DROPPED_COLUMNS if c in df.columns])
        exprs = []
        for name, dtype in df.schema.items():
            if dtype != pl.Utf8:
                continue
            values = df.get_column(name).drop_nulls().unique().to_list()
            mapping = {v: m for v in values if (m := self.text(v)) != v}
            if mapping:
                exprs.append(pl.col(name).replace(mapping))
        return df.with_columns(exprs) if exprs else df


class NoMask:
    """The identity, so callers need not branch."""

    def learn_domains(self, addresses) -> None:
        pass

    def text(self, value: str | None) -> str | None:
        return value

    def frame(self, df: pl.DataFrame) -> pl.DataFrame:
        return df
