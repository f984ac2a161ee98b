"""km-httpx: the Smart Connector transport of the Knowledge Mapper SDK, on httpx.AsyncClient.

This release only reserves the package; the transport itself arrives in the next release.
"""

from .__about__ import __version__

__all__ = ["__version__"]
