"""The audit log's collaborators (core.wiring explains the pattern)."""

from __future__ import annotations

from functools import cached_property

from alphapulse.audit.logic import AuditTrail
from alphapulse.audit.repositories import AuditRepository
from alphapulse.core.config import get_settings
from alphapulse.core.wiring import Dependencies, Provider


class AuditDependencies(Dependencies):
    @cached_property
    def entries(self) -> AuditRepository:
        """The tenants' audit entries (DATA_TABLE)."""
        return AuditRepository(get_settings().require_data_table())


dependencies = Provider(AuditDependencies)


def trail(*, source_ip: str | None, request_id: str | None) -> AuditTrail:
    """The trail of one request or command run."""
    return AuditTrail(lambda: dependencies().entries, source_ip=source_ip, request_id=request_id)
