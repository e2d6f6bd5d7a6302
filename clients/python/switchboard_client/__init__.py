"""Switchboard's client for agent routers: assign a prompt at the start of a call, report the
call afterwards. See README.md beside this package."""

from switchboard_client.assignments import Assignment
from switchboard_client.client import Client
from switchboard_client.errors import SwitchboardError, SwitchboardUnavailable

__all__ = ["Assignment", "Client", "SwitchboardError", "SwitchboardUnavailable"]
__version__ = "0.1.0"
