"""Who the operator is: a password or a one-time sign-in link, sessions that end on every
instance, and one limiter for every guess (the form, a bearer token, a link).

Nothing is decided by a connection's address: a browser on 127.0.0.1 signs in as any other.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import logging
import re
import secrets
import time
from collections import OrderedDict, deque
from collections.abc import Mapping
from dataclasses import dataclass
from threading import Lock

from starlette.datastructures import Headers
from starlette.types import Scope

from services.storage import StorageError, StorageInterface

from .settings import DemoSettings

SESSION_COOKIE = "oppdemo_session"
SESSION_SECONDS = 12 * 3600
SIGN_IN_TRIES = 5
SIGN_IN_WINDOW = 60.0
# The most clients the limiter keeps counts for (the least recent are forgotten first).
LIMITER_CLIENTS = 10_000
# Sessions signed out and sign-in links used, as empty objects in the storage every instance
# shares: the gallery never lists this prefix, and no request can name a key in it (deletes
# take uploads/ keys only, confirmations incoming/ ones).
ENDED_PREFIX = "sessions-ended/"
_IDENT = re.compile(r"[0-9a-f]{32}")
_LINK_TOKEN = re.compile(r"([?&]token=)[^&\s\"]*")

log = logging.getLogger("demo_app.signin")


class Limited(Exception):
    """This client made too many wrong tries: nothing it sends is compared until it waits."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"too many wrong sign-in tries: wait {retry_after} s")
        self.retry_after = retry_after


@dataclass(frozen=True)
class Session:
    expires: int
    ident: str


@dataclass(frozen=True)
class Verdict:
    """Whether a request comes from an operator; `retry_after` > 0: its client is limited and
    the request is answered 429 (its credentials were not even compared)."""

    operator: bool
    retry_after: int = 0

    def __bool__(self) -> bool:
        return self.operator


class Sessions:
    """Signed, expiring operator sessions, `<expiry>.<id>.<hmac>`: any instance with the same
    key and password accepts them; the id lets a sign-out end one of them everywhere."""

    def __init__(self, secret_key: str, password: str | None = None) -> None:
        # The password is part of the key (as Django's session hash holds the password's):
        # changing a leaked DEMO_PASSWORD ends every session, even with DEMO_SECRET_KEY set.
        key = hashlib.sha256(secret_key.encode()).digest()
        bound = b"password:" + (password or "").encode("utf-8", "surrogatepass")
        self._key = hmac.new(key, bound, hashlib.sha256).digest()

    def issue(self, now: float | None = None) -> str:
        expires = int((now or time.time()) + SESSION_SECONDS)
        ident = secrets.token_hex(16)
        return f"{expires}.{ident}.{self._sign(expires, ident)}"

    def read(self, token: str | None, now: float | None = None) -> Session | None:
        """The session `token` names, if it is signed by this key and not expired."""
        if not token or token.count(".") != 2:
            return None
        expires, ident, signature = token.split(".")
        # compare_digest takes ASCII strings only; isdigit() alone takes '²' and 5,000-digit
        # numbers, which int() refuses.
        if not (signature.isascii() and _IDENT.fullmatch(ident)):
            return None
        if not (expires.isascii() and expires.isdigit() and len(expires) <= 12):
            return None
        if int(expires) < (now or time.time()):
            return None
        if not hmac.compare_digest(signature, self._sign(int(expires), ident)):
            return None
        return Session(int(expires), ident)

    def valid(self, token: str | None, now: float | None = None) -> bool:
        return self.read(token, now) is not None

    def _sign(self, expires: int, ident: str) -> str:
        message = f"operator:{expires}:{ident}".encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()


class EndedSessions:
    """Signed-out sessions and used sign-in links, recorded in the shared storage (until the
    session would have expired; a used link for good): every instance refuses them."""

    def __init__(self, storage: StorageInterface) -> None:
        self.storage = storage
        # Ended is for ever: once seen, never asked of the storage again.
        self._known: set[str] = set()
        self._lock = Lock()

    def ended(self, ident: str, until: int | None) -> bool:
        key = _ended_key(ident, until)
        if key in self._known:
            return True
        if self.storage.file_exists(key):
            self._known.add(key)
            return True
        return False

    def end(self, ident: str, until: int | None) -> None:
        key = _ended_key(ident, until)
        self.storage.save_file(b"", key, "text/plain")
        self._known.add(key)

    def use_once(self, ident: str) -> bool:
        """Record a one-time link as used; False if it was used before. Atomic in this process;
        two workers given the same link at the same instant could both accept it."""
        with self._lock:
            if self.ended(ident, None):
                return False
            self.end(ident, None)
            return True

    def prune(self, now: float | None = None) -> None:
        """Forget the records of sessions that have expired anyway (best effort)."""
        now = time.time() if now is None else now
        try:
            for key in self.storage.list_files(ENDED_PREFIX):
                until = key.removeprefix(ENDED_PREFIX).partition("-")[0]
                if until.isdigit() and int(until) < now:
                    self.storage.delete_file(key)
        except StorageError:
            pass  # the next sign-out tries again; a record left over refuses nothing valid


def _ended_key(ident: str, until: int | None) -> str:
    # The id's digest, not the id: the storage may be public, and a key names no live cookie.
    digest = hashlib.sha256(ident.encode()).hexdigest()[:32]
    return f"{ENDED_PREFIX}{'used' if until is None else until}-{digest}"


class SignInLimiter:
    """At most `SIGN_IN_TRIES` wrong tries a minute per client address (IPv6: per /64, what
    one host is given), whatever was tried: a password, a bearer token or a sign-in link.
    Counted in this process; other clients are never held up by one client's tries.

    The table holds at most `LIMITER_CLIENTS` clients, the least recent dropped first, and
    each try costs the same however many there are: a flood of addresses (a /48's worth of
    /64s, or forged X-Forwarded-For) can neither fill the memory nor make every check slow.
    """

    def __init__(self) -> None:
        # Ordered by each client's latest try: the stale ones are always at the front.
        self._tries: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = Lock()

    def __len__(self) -> int:
        with self._lock:
            return len(self._tries)

    def waiting(self, client: str, now: float | None = None) -> int:
        """The seconds `client` must wait before its next try (0: none)."""
        now = time.monotonic() if now is None else now
        with self._lock:
            self._forget(now)
            tries = self._tries.get(client_key(client))
            if tries is None or sum(now - at < SIGN_IN_WINDOW for at in tries) < SIGN_IN_TRIES:
                return 0
            return max(1, int(SIGN_IN_WINDOW - (now - tries[0])) + 1)

    def failed(self, client: str, now: float | None = None) -> bool:
        """Count a wrong try of `client`; True when this one locks it out."""
        now = time.monotonic() if now is None else now
        key = client_key(client)
        with self._lock:
            self._forget(now)
            tries = self._tries.pop(key, None) or deque(maxlen=SIGN_IN_TRIES)
            while tries and now - tries[0] >= SIGN_IN_WINDOW:
                tries.popleft()
            tries.append(now)
            self._tries[key] = tries
            while len(self._tries) > LIMITER_CLIENTS:
                self._tries.popitem(last=False)
            return len(tries) == SIGN_IN_TRIES

    def _forget(self, now: float) -> None:
        """Drop the clients whose latest try is past the window (from the front only)."""
        while self._tries:
            oldest = next(iter(self._tries.values()))
            if oldest and now - oldest[-1] < SIGN_IN_WINDOW:
                break
            self._tries.popitem(last=False)


def client_key(address: str) -> str:
    """What the limiter counts by: the address, an IPv6 one by its /64."""
    try:
        parsed = ipaddress.ip_address(address.strip("[]"))
    except ValueError:
        return address
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:
            return str(parsed.ipv4_mapped)
        return str(ipaddress.IPv6Network(f"{parsed}/64", strict=False))
    return str(parsed)


def client_address(scope: Scope) -> str:
    """The client's address as the server reports it (the proxy's report under
    --proxy-headers), or '?' when there is none (a unix socket)."""
    client = scope.get("client") or ("?",)
    return str(client[0] or "?")


class Access:
    """Decides whether a request comes from an operator, and signs operators in and out: one
    per app, so the middleware and the routes count wrong tries in one limiter."""

    def __init__(self, settings: DemoSettings, storage: StorageInterface) -> None:
        self.settings = settings
        self.sessions = Sessions(settings.secret_key, settings.password)
        self.ended = EndedSessions(storage)
        self.limiter = SignInLimiter()

    def check(self, scope: Scope, cookies: Mapping[str, str]) -> Verdict:
        """Operator by `--open`, a live session (never limited) or a right bearer token."""
        if self.settings.open_access or self.session(cookies) is not None:
            return Verdict(True)
        token = bearer(Headers(scope=scope))
        if token is None:
            return Verdict(False)
        try:
            return Verdict(self._compare(scope, token, self.settings.password, "bearer token"))
        except Limited as limited:
            return Verdict(False, limited.retry_after)

    def session(self, cookies: Mapping[str, str]) -> Session | None:
        """The request's session, if signed, unexpired and not signed out on any instance."""
        session = self.sessions.read(cookies.get(SESSION_COOKIE))
        if session is None:
            return None
        try:
            if self.ended.ended(session.ident, session.expires):
                return None
        except StorageError:
            # Whether it was signed out cannot be known: refused, erring on the safe side.
            return None
        return session

    def sign_in(self, scope: Scope, password: str) -> str | None:
        """A new session cookie for the right password; None for a wrong one (counted and
        logged); raises `Limited` while the client must wait."""
        if self._compare(scope, password, self.settings.password, "password"):
            return self.sessions.issue()
        return None

    def sign_in_with_link(self, scope: Scope, token: str, from_another_site: bool) -> str | None:
        """A new session cookie for the one-time link `serve` printed, on its first use; None
        for a wrong or used one. Raises `Limited`, or `StorageError` when the use cannot be
        recorded (the link would stay good on the other instances).

        Any page can make a visitor's browser open `/signin?token=x` (an image will do), from
        the visitor's address: such a wrong try is not counted, or another site's page would
        lock the operator out. With a password there is no link, so nothing to guess or count.
        The token is 256 bits: the count is no part of what makes it hard to guess."""
        expected = self.settings.signin_token
        if expected is None:
            return None
        if not self._compare(scope, token, expected, "sign-in link", count=not from_another_site):
            return None
        if not self.ended.use_once(token):
            self._wrong(client_address(scope), "a used sign-in link")
            return None
        return self.sessions.issue()

    def sign_out(self, cookies: Mapping[str, str]) -> None:
        """End the request's session on every instance sharing the storage (StorageError:
        it could not be recorded)."""
        session = self.sessions.read(cookies.get(SESSION_COOKIE))
        if session is None:
            return
        self.ended.end(session.ident, session.expires)
        self.ended.prune()

    def _compare(
        self, scope: Scope, given: str, expected: str | None, what: str, count: bool = True
    ) -> bool:
        client = client_address(scope)
        wait = self.limiter.waiting(client)
        if wait:
            # Nothing is compared while the client waits: a right guess then tells nothing.
            log.warning("sign-in refused: %s locked out for %d s more", client, wait)
            raise Limited(wait)
        if expected is not None and hmac.compare_digest(given.encode(), expected.encode()):
            return True
        if count:
            self._wrong(client, f"a wrong {what}")
        else:
            # Logged all the same, as not counted: many such lines name the page's victim.
            log.warning(
                "sign-in failed: a wrong %s from %s (another site's page: not counted)",
                what,
                client,
            )
        return False

    def _wrong(self, client: str, what: str) -> None:
        locked = self.limiter.failed(client)
        log.warning("sign-in failed: %s from %s", what, client)
        if locked:
            log.warning(
                "sign-in locked out: %s made %d wrong tries within %g s; refused for %g s",
                client,
                SIGN_IN_TRIES,
                SIGN_IN_WINDOW,
                SIGN_IN_WINDOW,
            )


def speculative(headers: Mapping[str, str]) -> bool:
    """A browser's prefetch or prerender (a link pasted in Chromium's address bar, before
    Enter): a page it may throw away, cookie and all, so a one-time link is not used on it."""
    purpose = f"{headers.get('sec-purpose', '')} {headers.get('purpose', '')}".lower()
    return "prefetch" in purpose or "prerender" in purpose


def bearer(headers: Mapping[str, str]) -> str | None:
    """The bearer token, as the client wrote it: Starlette reads header bytes as Latin-1,
    clients (curl, httpx, fetch) send a password beyond ASCII as UTF-8."""
    value = headers.get("authorization", "")
    scheme, _, token = value.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        return None
    try:
        return token.encode("latin-1").decode("utf-8")
    except UnicodeDecodeError:
        return token  # not UTF-8 (a Latin-1 client): the characters it sent


class HideSignInLinks(logging.Filter):
    """Access-log lines show `/signin?token=…` without the token."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                _LINK_TOKEN.sub(r"\1…", arg) if isinstance(arg, str) else arg for arg in record.args
            )
        if isinstance(record.msg, str):
            record.msg = _LINK_TOKEN.sub(r"\1…", record.msg)
        return True


def configure_logging() -> None:
    """Sign-in failures to stderr with the time (unless the host configured logging), and
    the one-time link's token kept out of the access log."""
    access_log = logging.getLogger("uvicorn.access")
    if not any(isinstance(item, HideSignInLinks) for item in access_log.filters):
        access_log.addFilter(HideSignInLinks())
    log.setLevel(logging.INFO)
    if not log.handlers and not logging.getLogger().handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        log.addHandler(handler)
