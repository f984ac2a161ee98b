"""Re-registration: how ``register_kb(reregister=True)`` replaces a KB whose id is taken.

The KE has no upsert: a second registration of an id answers 400, with a message saying the id
is already in use (`ALREADY_IN_USE`). With ``reregister=True`` the client then deletes the KB
and registers again, up to `REREGISTER_ATTEMPTS` times in all.
"""

from __future__ import annotations

__all__ = ["ALREADY_IN_USE", "REREGISTER_ATTEMPTS"]

REREGISTER_ATTEMPTS = 5
"""How often ``register_kb(reregister=True)`` posts the KB before it gives up."""

ALREADY_IN_USE = "already in use"
"""What the KE's message for a 400 to ``POST /sc`` says when the KB's id is taken."""
