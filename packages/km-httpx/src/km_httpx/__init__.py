"""km-httpx: the Smart Connector transport of the Knowledge Mapper SDK, on httpx.AsyncClient.

`HttpxClient` implements `km_core.ClientProtocol` over the TNO Knowledge Engine's REST API.
"""

from .__about__ import __version__
from ._client import DEFAULT_POLL_TIMEOUT, DEFAULT_TIMEOUT, HttpxClient

__all__ = ["DEFAULT_POLL_TIMEOUT", "DEFAULT_TIMEOUT", "HttpxClient", "__version__"]
