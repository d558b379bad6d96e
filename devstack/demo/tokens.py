"""Fill the `{{access_token}}`, `{{refresh_token}}` and `{{ticket}}` of `events/*.json` for a demo user.

    python -m devstack events [--user admin] [--out .devstack/events]

logs in to the running local stack (HTTP_PORT) and writes the filled copies, ready for
`sam local invoke -e .devstack/events/<name>.json` or `python -m devstack invoke`. Each event that needs
a ticket gets its own, as tickets are single-use.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

PLACEHOLDER = re.compile(r"\{\{(access_token|refresh_token|ticket)\}\}")
DEFAULT_USER = "admin"  # every permission, so that every event gets its 200
EVENTS = Path("events")
OUT = Path(".devstack", "events")


class LoginError(RuntimeError):
    """The demo user could not log in (wrong user, or no stack on that port)."""


def _post(url: str, **request: Any) -> dict[str, str]:
    try:
        reply = httpx.post(url, timeout=30, **request)
    except httpx.TransportError as exc:
        raise LoginError(f"no local stack answers at {url} ({exc}); start it with `make run`") from exc
    if reply.status_code != 200:
        raise LoginError(f"{url} answered {reply.status_code}: {reply.text[:200]}")
    answer: dict[str, str] = reply.json()
    return answer


def tokens_of(base_url: str, username: str = DEFAULT_USER) -> tuple[dict[str, str], Callable[[], str]]:
    """A demo user's access and refresh tokens, and a function that asks for a fresh WebSocket ticket."""
    from devstack.run import DEMO_USERS

    passwords = {user: password for user, _, _, password in DEMO_USERS}
    if username not in passwords:
        raise LoginError(f"unknown demo user {username}; known: {', '.join(passwords)}")
    login = _post(f"{base_url}/api/v1/auth/token", data={"username": username, "password": passwords[username]})
    bearer = {"Authorization": f"Bearer {login['access_token']}"}

    def ticket() -> str:
        return _post(f"{base_url}/api/v1/auth/ws-ticket", headers=bearer)["ticket"]

    return {"access_token": login["access_token"], "refresh_token": login["refresh_token"]}, ticket


def fill(text: str, tokens: dict[str, str], ticket: Callable[[], str]) -> str:
    """`text` with its placeholders replaced (one ticket for the whole text)."""
    values = {**tokens, "ticket": ticket()} if "{{ticket}}" in text else tokens
    return PLACEHOLDER.sub(lambda found: values[found[1]], text)


def write_filled(base_url: str, username: str, *, source: Path = EVENTS, out: Path = OUT) -> int:
    """Fill every event of `source` into `out`; returns how many needed a token."""
    tokens, ticket = tokens_of(base_url, username)
    out.mkdir(parents=True, exist_ok=True)
    filled = 0
    for path in sorted(source.glob("*.json")):
        text = path.read_text()
        filled += bool(PLACEHOLDER.search(text))
        (out / path.name).write_text(fill(text, tokens, ticket))
    return filled


def main(username: str, out: Path) -> int:
    base_url = f"http://127.0.0.1:{os.environ.get('HTTP_PORT') or 3000}"
    try:
        filled = write_filled(base_url, username, out=out)
    except LoginError as exc:
        print(f"error: {exc}")
        return 1
    print(f"{out}/: {len(list(out.glob('*.json')))} events, {filled} with {username}'s token")
    return 0
