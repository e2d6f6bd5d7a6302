"""Compose healthcheck: exit 0 when this container's /readyz answers 200 within 5 seconds.

Asks with the first name in ALLOWED_HOSTS so that Django's host check lets it through; the
image has no curl, Python is there anyway.
"""

import os
import sys
import urllib.request

port = os.environ.get("HEALTHCHECK_PORT", "8000")
hosts = [h.strip() for h in os.environ.get("ALLOWED_HOSTS", "localhost").split(",") if h.strip()]
host = next((h for h in hosts if h != "*"), "localhost").lstrip(".")
request = urllib.request.Request(f"http://127.0.0.1:{port}/readyz", headers={"Host": host})
try:
    with urllib.request.urlopen(request, timeout=5) as response:
        sys.exit(0 if response.status == 200 else 1)
except Exception as error:  # 503 (HTTPError), refused, timed out: not ready
    print(f"not ready: {error}", file=sys.stderr)
    sys.exit(1)
