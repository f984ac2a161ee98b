"""km-httpx: the Smart Connector transport of the Knowledge Mapper SDK, on httpx.AsyncClient.

`HttpxClient` implements `km_core.ClientProtocol` over the TNO Knowledge Engine's REST API;
`KmSettings` are the settings of the ``km run`` command, which serves a knowledge base with it,
and `ExitStatus` lists how that command ends.
"""

from .__about__ import __version__
from ._client import HttpxClient
from ._exit_status import ExitStatus
from ._long_poll import DEFAULT_POLL_TIMEOUT
from ._sending import DEFAULT_TIMEOUT
from ._settings import KmSettings

__all__ = [
    "DEFAULT_POLL_TIMEOUT",
    "DEFAULT_TIMEOUT",
    "ExitStatus",
    "HttpxClient",
    "KmSettings",
    "__version__",
]
