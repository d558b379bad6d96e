"""The auth domain's collaborators: the repositories of the auth table (core.wiring explains the pattern)."""

from __future__ import annotations

from functools import cached_property

from alphapulse.auth.logic.accounts import AuthStores
from alphapulse.auth.repositories import LoginAttemptRepository, SessionRepository, TicketRepository, UserRepository
from alphapulse.core.config import get_settings
from alphapulse.core.wiring import Dependencies, Provider


def stores_of(table: str) -> AuthStores:
    """The repositories of the auth table `table`, as the auth logic takes them."""
    return AuthStores(
        users=UserRepository(table),
        sessions=SessionRepository(table),
        tickets=TicketRepository(table),
        attempts=LoginAttemptRepository(table),
    )


class AuthDependencies(Dependencies):
    @cached_property
    def stores(self) -> AuthStores:
        """The auth table's repositories (AUTH_TABLE)."""
        return stores_of(get_settings().require_auth_table())


dependencies = Provider(AuthDependencies)
