"""The gateway's business, one module per API module; importing this registers every service."""

from . import account, authorization, payins, payouts, profit_sharing, refunds  # noqa: F401
from .base import SERVICES, Call, Refusal, Settings, service

__all__ = ["SERVICES", "Call", "Refusal", "Settings", "service"]
