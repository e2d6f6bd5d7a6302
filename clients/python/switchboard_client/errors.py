"""The two ways a call to Switchboard can fail, so a router can tell them apart."""

import httpx


class SwitchboardError(Exception):
    """Switchboard refused the request (a 4xx): a bad key, an unknown agent, bad input.

    The message is the server's own sentence. Retrying will not help; fix the request.
    """

    def __init__(self, message: str, status: int | None = None, details: dict | None = None):
        super().__init__(message)
        self.message, self.status, self.details = message, status, details

    @classmethod
    def from_response(cls, response: httpx.Response) -> "SwitchboardError":
        try:
            data = response.json()
        except ValueError:
            data = {}
        if not isinstance(data, dict):
            data = {}
        message = data.get("error") or f"Switchboard answered HTTP {response.status_code}."
        return cls(message, response.status_code, data.get("details"))


class SwitchboardUnavailable(Exception):
    """Switchboard did not answer, and this client remembers nothing to fall back on."""
