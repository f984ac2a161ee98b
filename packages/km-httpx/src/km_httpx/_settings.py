"""The settings of the ``km`` command: flags, ``KM_*`` environment variables, a config file."""

from __future__ import annotations

import json
import logging
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import httpx
from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    InitSettingsSource,
    JsonConfigSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
    TomlConfigSettingsSource,
    YamlConfigSettingsSource,
)

from ._diagnosis import display_url

__all__ = ["DEFAULT_KE_URL", "KmSettings", "SettingsLoadError", "display_url", "load_settings"]

DEFAULT_KE_URL = "http://localhost:8280/rest"
"""The REST base URL of a Knowledge Engine on this machine, on its usual port."""

LOG_LEVELS = ("CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG")

# RFC 9110: a header name is a token.
_HEADER_NAME = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
# A header value: visible ASCII, spaces and tabs; nothing that could end the header.
_HEADER_VALUE = re.compile(r"^[\t\x20-\x7e]*$")

# Settings whose wrong values may be repeated in an error message (not the URL or the headers).
_SHOWN_INPUTS = (
    "max_concurrent_handlers",
    "grace_period",
    "connect_wait",
    "log_level",
    "access_log",
    "insecure",
    "metrics_port",
    "metrics_host",
)

_FILE_SOURCES = {
    ".toml": "toml",
    ".yaml": "yaml",
    ".yml": "yaml",
    ".json": "json",
}


class SettingsLoadError(Exception):
    """The settings could not be read or are invalid; the message is one line, without secrets."""


class KmSettings(BaseSettings):
    """How ``km run`` connects a knowledge base to the Knowledge Engine and serves it.

    Each setting comes from a flag of ``km run``, else an environment variable (``KM_`` and
    the setting's name in capitals, e.g. ``KM_KE_URL``), else the config file given with
    ``--config``, else its default. Header values are kept as `pydantic.SecretStr`, so they are
    never shown by ``repr`` or in a log.

    Attributes:
        ke_url: The Knowledge Engine's REST base URL.
        max_concurrent_handlers: How many requests the KB handles at once.
        grace_period: Seconds in-flight handlers get to finish when stopping; ``None``: as
            long as they take.
        connect_wait: Seconds to wait for a Knowledge Engine that is not up yet; ``None``:
            forever.
        log_level: The level of the root logger.
        access_log: Log one INFO line per handled request (the ``km_core.access`` logger).
        headers: Extra headers for every request to the KE, such as a reverse proxy's token.
            Headers from the different sources are merged by name.
        insecure: Do not verify the KE's TLS certificate.
        metrics_port: Serve ``/metrics``, ``/healthz`` and ``/readyz`` on this port (0: a free
            one); ``None``: do not.
        metrics_host: The address the metrics and health endpoint listens on.
    """

    model_config = SettingsConfigDict(
        env_prefix="KM_",
        extra="forbid",
        validate_default=True,
        hide_input_in_errors=True,
    )

    ke_url: str = DEFAULT_KE_URL
    max_concurrent_handlers: int = Field(default=10, ge=1)
    grace_period: float | None = Field(default=30.0, ge=0)
    connect_wait: float | None = Field(default=60.0, ge=0)
    log_level: str = "INFO"
    access_log: bool = True
    headers: dict[str, SecretStr] = Field(default_factory=dict)
    insecure: bool = False
    metrics_port: int | None = Field(default=None, ge=0, le=65535)
    metrics_host: str = Field(default="127.0.0.1", min_length=1)

    @field_validator("grace_period", "connect_wait", mode="before")
    @classmethod
    def _none_means_forever(cls, value: Any) -> Any:
        if isinstance(value, str) and value.strip().lower() in ("none", "null", "forever"):
            return None
        return value

    @field_validator("ke_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        try:
            url = httpx.URL(value)
        except httpx.InvalidURL:
            url = None
        if url is None or url.scheme not in ("http", "https") or not url.host:
            raise ValueError(
                f"{display_url(value)!r} is not an http:// or https:// URL with a host"
            )
        return value

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        level = value.strip().upper()
        if level not in LOG_LEVELS:
            raise ValueError(f"{value!r} is not one of {', '.join(LOG_LEVELS)}")
        return level

    @field_validator("headers")
    @classmethod
    def _sendable_headers(cls, value: dict[str, SecretStr]) -> dict[str, SecretStr]:
        for name, secret in value.items():
            if not _HEADER_NAME.fullmatch(name):
                raise ValueError("a header name is not a valid HTTP header name (not shown)")
            if not _HEADER_VALUE.fullmatch(secret.get_secret_value()):
                raise ValueError(
                    f"the value of header {name!r} has characters other than printable "
                    "ASCII (the value is not shown)"
                )
        return value

    @property
    def log_level_number(self) -> int:
        """The log level as the `logging` module's number."""
        return logging.getLevelNamesMapping()[self.log_level]

    def __repr_args__(self) -> Any:
        # The URL may hold a password: repr() and str() show it as ***.
        for name, value in super().__repr_args__():
            yield name, display_url(value) if name == "ke_url" and isinstance(value, str) else value

    def header_values(self) -> dict[str, str]:
        """The headers with their values revealed, to hand to the HTTP client; never log this.

        Returns:
            Header names to values.
        """
        return {name: secret.get_secret_value() for name, secret in self.headers.items()}


def _file_source(path: Path) -> PydanticBaseSettingsSource:
    """The pydantic-settings source of a TOML, YAML or JSON config file, read now.

    Raises:
        SettingsLoadError: the file is missing or unreadable, of an unknown kind, or does not
            hold a mapping of settings.
    """
    kind = _FILE_SOURCES.get(path.suffix.lower())
    if kind is None:
        raise SettingsLoadError(
            f"cannot read config file {path}: its name must end in .toml, .yaml, .yml or .json"
        )
    if not path.is_file():
        raise SettingsLoadError(f"cannot read config file {path}: no such file")
    try:
        if kind == "toml":
            return TomlConfigSettingsSource(KmSettings, toml_file=path)
        if kind == "json":
            return JsonConfigSettingsSource(KmSettings, json_file=path)
        return YamlConfigSettingsSource(KmSettings, yaml_file=path)
    except ImportError:
        raise SettingsLoadError(
            f"cannot read config file {path}: YAML needs PyYAML; install km-httpx[yaml]"
        ) from None
    except (OSError, json.JSONDecodeError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        # These messages give a position, never the text there.
        raise SettingsLoadError(f"cannot read config file {path}: {exc}") from None
    except Exception as exc:
        if type(exc).__module__.partition(".")[0] == "yaml":
            problem = _yaml_problem(exc)
        else:  # the file parsed, but into a list or a scalar
            problem = "it must hold a mapping of settings"
        raise SettingsLoadError(f"cannot read config file {path}: {problem}") from None


def _yaml_problem(exc: Exception) -> str:
    """Describe a YAML error by its problem and position only: its snippet may hold a secret."""
    problem = getattr(exc, "problem", None) or type(exc).__name__
    mark = getattr(exc, "problem_mark", None)
    if mark is not None:
        return f"{problem} (at line {mark.line + 1}, column {mark.column + 1})"
    return str(problem)


def _describe(error: ValidationError) -> str:
    """One line for a validation error; never the input (it may be a header value)."""
    problems = []
    for item in error.errors(include_url=False):
        loc = [str(part) for part in item["loc"]]
        if loc and loc[0] == "headers" and len(loc) > 1 and not _HEADER_NAME.fullmatch(loc[1]):
            loc = loc[:1]
        where = ".".join(loc[:2]) or "settings"
        message = item["msg"].removeprefix("Value error, ")
        if item["type"] == "extra_forbidden":
            message = "not a setting of km"
        elif loc and loc[0] in _SHOWN_INPUTS and item["type"] != "value_error":
            message += f" (got {item['input']!r})"
        problems.append(f"{where}: {message}")
    return "invalid setting " + "; ".join(problems)


def load_settings(
    flags: Mapping[str, Any],
    config_file: Path | None = None,
    defaults: Mapping[str, Any] | None = None,
) -> KmSettings:
    """The settings from flags, then ``KM_*`` environment variables, then a config file.

    Args:
        flags: The settings given as flags (only those given), by setting name.
        config_file: A TOML, YAML or JSON file of settings, by setting name.
        defaults: Settings below all of those: the ones a TARGET config file gives.

    Returns:
        The settings.

    Raises:
        SettingsLoadError: a setting is invalid or the config file cannot be read.
    """
    file_source = _file_source(config_file) if config_file is not None else None

    class _Loaded(KmSettings):
        @classmethod
        def settings_customise_sources(
            cls,
            settings_cls: type[BaseSettings],
            init_settings: PydanticBaseSettingsSource,
            env_settings: PydanticBaseSettingsSource,
            dotenv_settings: PydanticBaseSettingsSource,
            file_secret_settings: PydanticBaseSettingsSource,
        ) -> tuple[PydanticBaseSettingsSource, ...]:
            sources: tuple[PydanticBaseSettingsSource, ...] = (init_settings, env_settings)
            if file_source is not None:
                sources = (*sources, file_source)
            if defaults:
                sources = (*sources, InitSettingsSource(settings_cls, init_kwargs=dict(defaults)))
            return sources

    try:
        loaded = _Loaded(**flags)
    except ValidationError as exc:
        raise SettingsLoadError(_describe(exc)) from None
    except SettingsError as exc:  # e.g. KM_HEADERS is not JSON; the message names the field
        raise SettingsLoadError(f"invalid setting: {exc}") from None
    return loaded
