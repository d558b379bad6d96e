"""Data access: the only modules that talk to DynamoDB."""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from alphapulse.accounts import AuthStores


@lru_cache(maxsize=4)
def auth_stores(table: str) -> AuthStores:
    """The repositories of the auth table, wired for the auth logic."""
    from alphapulse.accounts import AuthStores
    from alphapulse.repositories.login_attempts import LoginAttemptRepository
    from alphapulse.repositories.sessions import SessionRepository, TicketRepository
    from alphapulse.repositories.users import UserRepository

    return AuthStores(
        users=UserRepository(table),
        sessions=SessionRepository(table),
        tickets=TicketRepository(table),
        attempts=LoginAttemptRepository(table),
    )
