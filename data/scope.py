"""The one scope rule, shared by the API and the dashboard: a regular user sees and
touches only their own runs (``flow_run.user_id``); a superuser sees every run."""

from __future__ import annotations

import uuid

from data.accounts import Principal
from data.filters import FlowRunFilter


def scope_user_id(principal: Principal | None) -> uuid.UUID | None:
    """The only user whose runs this caller may touch; ``None`` for a superuser (all).
    ``None`` as the principal: no sign-in configured (a local or proxy-guarded dashboard)."""
    if principal is None or principal.is_superuser:
        return None
    return principal.user_id


def scoped(flt: FlowRunFilter, principal: Principal | None) -> FlowRunFilter:
    """``flt`` narrowed to the caller's runs. A user id asked for in ``flt`` is replaced,
    never widened: another user's id yields the caller's own runs."""
    user_id = scope_user_id(principal)
    return flt if user_id is None else flt.replace(user_id=user_id)
