"""Authorization: who may use an ANSWER or REACT interaction, decided before its handler runs.

- ``_access``: what a decision is about and what it says (`AccessRequest`, `AccessDecision`);
- ``_control``: `AccessControl`, a knowledge base's rules (its default ``permitted``, its
  policy, its audit hook) applied to one request.

Deny unless permitted (the ``permitted`` argument is checked in ``_declarations``): the
interaction's ``permitted`` list (or the KB's) is checked first, then
the KB's policy, if it has one. A policy that raises, times out or answers something other than
a bool denies.
"""

from ._access import AccessDecision, AccessRequest
from ._control import AccessControl, AuditHook, Policy

__all__ = ["AccessControl", "AccessDecision", "AccessRequest", "AuditHook", "Policy"]
