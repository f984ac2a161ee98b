"""Scenarios of KB leases: renewing one, errors of renewing, and a lease that expires."""

from __future__ import annotations

from differential.recorder import Recorder
from differential.scenario import scenario
from differential.scenarios.common import ANSWER

EXPIRY_TIMEOUT = 120.0
"""Seconds the expiry scenario may take: a 30 s lease, checked every 10 s by the KE."""


@scenario()
async def lease_renew(rec: Recorder) -> None:
    """Renew a lease; renew without a lease, for an unknown KB, without the header."""
    kb = await rec.register_kb("lease", "POST /sc lease 60", leaseRenewalTime=60)
    await rec.request("GET /sc lease", "GET", "/sc", kb=kb)
    reply = await rec.request(None, "PUT", "/sc/lease/renew", kb=kb)
    rec.note("PUT /sc/lease/renew status", reply.status)
    rec.note("PUT /sc/lease/renew body keys", sorted(reply.body) if reply.status == 200 else None)
    no_lease = await rec.register_kb("nolease")
    await rec.request("renew without lease", "PUT", "/sc/lease/renew", kb=no_lease)
    await rec.request("renew unknown", "PUT", "/sc/lease/renew", kb=rec.kb_id("nobody"))
    await rec.request("renew no header", "PUT", "/sc/lease/renew")


@scenario(slow=True, timeout=EXPIRY_TIMEOUT)
async def lease_expiry(rec: Recorder) -> None:
    """A KB with a 30 s lease polls and never renews: how its poll ends, what remains after."""
    start = rec.now()  # the lease runs from the registration
    kb = await rec.register_kb("leased", "POST /sc lease 30", leaseRenewalTime=30)
    await rec.register_ki(
        kb,
        None,
        knowledgeInteractionType=ANSWER,
        knowledgeInteractionName="a",
        graphPattern=f"?t {rec.iri('h')} ?h .",
    )
    first = await rec.poll(kb)
    rec.note("first poll", first.record())
    reply = first
    while reply.status == 202:
        reply = await rec.poll(kb)
    took = rec.elapsed_since(start)
    rec.note("poll ended by the expiry", reply.record())
    await rec.request("GET /sc right after", "GET", "/sc", kb=kb)
    await rec.request("renew right after", "PUT", "/sc/lease/renew", kb=kb)
    rec.note("expired 30 to 45 s after the registration", 30 <= took <= 45)
    rec.info("expired after (s)", round(took, 2))
