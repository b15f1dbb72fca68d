"""What the store's parts need of the :class:`~secmsg_cli.store.store.Store`.

The Store owns the connection, its transactions and the audit log, and the
directory (account, domains, groups, folders, definitions). Policies and the
portal's records are kept by parts of their own
(:class:`~secmsg_cli.store.policies.PolicyRecords`,
:class:`~secmsg_cli.store.portal.PortalRecords`), each holding the Store it
belongs to and typed against this protocol: the few things a part may use of
it, and nothing else.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Mapping
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, Protocol

from secmsg_cli.model import Account, Definition, Domain, Group

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

__all__ = ["StoreCore"]


class StoreCore(Protocol):
    """The connection, its transactions and audit log, and the directory
    lookups a policy or a portal record refers to."""

    @property
    def conn(self) -> sqlite3.Connection: ...

    def _q(self, sql: str, params: Iterable[Any] = ()) -> list[sqlite3.Row]:
        """Rows of a read."""
        ...

    def _x(self, sql: str, params: Iterable[Any] = ()) -> sqlite3.Cursor:
        """A write; only inside :meth:`transaction`."""
        ...

    def transaction(self) -> AbstractContextManager[object]: ...

    def audit(
        self, action: str, kind: str, obj: object, before: Any = None, after: Any = None
    ) -> None: ...

    def account(self) -> Account: ...

    def account_tz(self) -> ZoneInfo: ...

    def domains(self) -> list[Domain]: ...

    def group(self, ref: str | int) -> Group: ...

    def definition(self, ref: str | int) -> Definition: ...

    def _folder_paths(self, rows: Mapping[int, sqlite3.Row] | None = None) -> dict[int, str]: ...
