"""Access tokens of the data service, kept hashed in the store (``tables/tokens.json``).

A token is ``sfng_<key>_<secret>``: ``key`` (8 hex digits) names the record, ``secret`` (32
random bytes, base64url) is shown once, when it is made, and never stored: the record keeps a
random salt and ``sha256(salt + secret)``.  A token is checked with
:func:`hmac.compare_digest` (constant time), so a wrong secret takes as long as a right one.
Secrets are random, not chosen by people, so a fast hash is enough: there is nothing to guess.

Scopes: ``read`` (queries, spectra, previews, DataLink/SODA), ``download`` (whole files) and
``admin`` (``/admin/*``).  ``admin`` implies the others.

The file is written atomically through :mod:`sfng.fsutil` under the store's lock
(:class:`sfng.journal.Lock`); readers need no lock.  The server re-reads it when it changes, so
``sfng token revoke`` takes effect at once (one ``stat`` per request).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import secrets
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..errors import SfngError

TOKENS_FILE = "tables/tokens.json"
SCOPES = ("read", "download", "admin")
_TOKEN_RE = re.compile(r"^sfng_([0-9a-f]{8})_([A-Za-z0-9_-]{20,100})$")
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._@-]{0,63}$")


@dataclass
class TokenRecord:
    key: str
    name: str
    scopes: list
    salt: str
    hash: str
    created: str
    revoked: str | None = None
    note: str = ""

    @property
    def active(self) -> bool:
        return self.revoked is None

    def allows(self, scope: str) -> bool:
        return self.active and (scope in self.scopes or "admin" in self.scopes)

    def public(self) -> dict:
        """What ``sfng token list`` shows (never the hash or salt)."""
        return {"key": self.key, "name": self.name, "scopes": list(self.scopes),
                "created": self.created, "revoked": self.revoked, "note": self.note}


@dataclass
class TokenTable:
    records: list = field(default_factory=list)

    def by_key(self, key: str) -> TokenRecord | None:
        return next((r for r in self.records if r.key == key), None)


def tokens_path(root) -> Path:
    return Path(root) / TOKENS_FILE


def _digest(salt: str, secret: str) -> str:
    return hashlib.sha256(bytes.fromhex(salt) + secret.encode("ascii")).hexdigest()


def read_tokens(root) -> TokenTable:
    """The token table of the store at ``root`` (empty when there is none)."""
    path = tokens_path(root)
    if not path.is_file():
        return TokenTable([])
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        recs = [TokenRecord(**{k: r[k] for k in TokenRecord.__dataclass_fields__ if k in r})
                for r in raw.get("tokens", [])]
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise SfngError(f"{path}: cannot read the token table: {exc}") from exc
    return TokenTable(recs)


def _write(root, table: TokenTable) -> None:
    from ..fsutil import atomic_write_text

    text = json.dumps({"version": 1, "tokens": [asdict(r) for r in table.records]}, indent=1)
    path = tokens_path(root)
    atomic_write_text(path, text + "\n", overwrite=True)
    try:
        os.chmod(path, 0o600)   # the hashes are not secrets, but nobody else needs them
    except OSError:
        pass


def _locked(root):
    from ..journal import Lock, state_dir

    return Lock(state_dir(Path(root), "locks") / "tokens.lock", "the token table", wait=30)


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def add_token(root, name: str, scopes=("read",), note: str = "") -> tuple[str, TokenRecord]:
    """Make a token; returns ``(token, record)``.  The token is in no file: show it once."""
    if not _NAME_RE.match(name or ""):
        raise SfngError(f"token name {name!r}: use 1-64 letters, digits, spaces or ._@- ")
    scopes = sorted(set(scopes or ("read",)))
    bad = [s for s in scopes if s not in SCOPES]
    if bad:
        raise SfngError(f"unknown scope {bad[0]!r}; scopes are {', '.join(SCOPES)}")
    with _locked(root):
        table = read_tokens(root)
        if any(r.name == name and r.active for r in table.records):
            raise SfngError(f"a token named {name!r} exists; revoke it first or choose another name")
        key = secrets.token_hex(4)
        while table.by_key(key):
            key = secrets.token_hex(4)
        secret = secrets.token_urlsafe(32)
        salt = secrets.token_hex(16)
        rec = TokenRecord(key, name, scopes, salt, _digest(salt, secret), _now(), None, note)
        table.records.append(rec)
        _write(root, table)
    return f"sfng_{key}_{secret}", rec


def revoke_token(root, which: str) -> TokenRecord:
    """Revoke the active token named ``which`` (or with key ``which``)."""
    with _locked(root):
        table = read_tokens(root)
        hits = [r for r in table.records if r.active and which in (r.name, r.key)]
        if not hits:
            raise SfngError(f"no active token named {which!r}; `sfng token list` shows them")
        for r in hits:
            r.revoked = _now()
        _write(root, table)
    return hits[0]


class TokenChecker:
    """Checks presented tokens against the table, re-read whenever the file changes."""

    def __init__(self, root):
        self.root = Path(root)
        self._stamp = None
        self._table = TokenTable([])
        self.refresh(force=True)

    def refresh(self, force: bool = False) -> None:
        path = tokens_path(self.root)
        try:
            st = path.stat()
            stamp = (st.st_mtime_ns, st.st_size, st.st_ino)
        except OSError:
            stamp = None
        if force or stamp != self._stamp:
            self._table = read_tokens(self.root) if stamp else TokenTable([])
            self._stamp = stamp

    def check(self, token: str | None) -> TokenRecord | None:
        """The active record the token belongs to, or None (unknown, malformed or revoked)."""
        if not token:
            return None
        self.refresh()
        m = _TOKEN_RE.match(token.strip())
        # Compare against a dummy record when the key is unknown: the same work either way.
        key, secret = (m.group(1), m.group(2)) if m else ("", "x" * 43)
        rec = self._table.by_key(key)
        salt = rec.salt if rec else "00" * 16
        want = rec.hash if rec else "0" * 64
        ok = hmac.compare_digest(_digest(salt, secret), want)
        if not (m and rec and ok and rec.active):
            return None
        return rec

    @property
    def empty(self) -> bool:
        self.refresh()
        return not any(r.active for r in self._table.records)
