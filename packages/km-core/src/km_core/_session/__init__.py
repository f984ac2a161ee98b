"""A knowledge base's session with the KE: reaching it, registering, leases, unregistering.

- ``_connect``: `wait_for_engine`, the KE's version asked for until it answers;
- ``_registration``: `Session`, registration and registration again;
- ``_lease``: `LeaseRenewal`, the task that renews a lease;
- ``_host``: `SessionHost`, what the session reads from its knowledge base.
"""

from ._connect import describe_attempts, wait_for_engine
from ._host import SessionHost
from ._lease import LeaseRenewal
from ._registration import REGISTRATION_ATTEMPTS, Session

__all__ = [
    "REGISTRATION_ATTEMPTS",
    "LeaseRenewal",
    "Session",
    "SessionHost",
    "describe_attempts",
    "wait_for_engine",
]
