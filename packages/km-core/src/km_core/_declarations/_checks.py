"""The checks a declaration passes: names, patterns, prefixes, and models that fit patterns.

Each raises `ConfigurationError` or `GraphPatternError` naming the interaction and what to write
instead, when the interaction is declared, long before the KE sees it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from km_core._binding import BindingModel
from km_core._errors import ConfigurationError, GraphPatternError
from km_core.patterns import GraphPattern

__all__ = [
    "check_fits",
    "check_ki_name",
    "check_model",
    "check_prefixes",
    "optional_pattern",
    "required_pattern",
]

_NAME = re.compile(r"^[A-Za-z0-9-]+$")


def check_ki_name(name: object) -> str:
    """The KE's rule for interaction names: letters, digits and hyphens, at least one."""
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ConfigurationError(
            f"knowledge interaction name {name!r} is not valid: the Knowledge Engine accepts "
            "only letters, digits and hyphens (it becomes part of the interaction's IRI)"
        )
    return name


def required_pattern(ki_name: str, label: str, pattern: object) -> str:
    if isinstance(pattern, str) and not pattern.strip():
        raise GraphPatternError(f"{label} is empty", pattern=pattern, ki_name=ki_name)
    if not isinstance(pattern, str):
        raise ConfigurationError(
            f"knowledge interaction {ki_name!r}: {label} must be a non-empty graph pattern, "
            f"got {pattern!r}"
        )
    return pattern


def optional_pattern(ki_name: str, label: str, pattern: object) -> str | None:
    return None if pattern is None else required_pattern(ki_name, label, pattern)


def check_prefixes(ki_name: str, prefixes: object) -> dict[str, str]:
    if prefixes is None:
        return {}
    if not isinstance(prefixes, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in prefixes.items()
    ):
        raise ConfigurationError(
            f"knowledge interaction {ki_name!r}: prefixes must map prefix names to namespace "
            f"IRIs (str to str), got {prefixes!r}"
        )
    return dict(prefixes)


def check_fits(
    ki_name: str,
    model: type[BindingModel] | None,
    pattern: GraphPattern | None,
    label: str,
    *,
    complete: bool,
) -> None:
    """Check a binding model's variables against a pattern (all of them when ``complete``)."""
    if model is None:
        return
    if pattern is None:
        raise ConfigurationError(
            f"knowledge interaction {ki_name!r}: {model.__name__} is given for the {label}, "
            "but the interaction has no such pattern"
        )
    fields = model.model_variables()
    known = ", ".join(f"?{v}" for v in sorted(pattern.variables)) or "none"
    extra = sorted(fields - pattern.variables)
    if extra:
        raise GraphPatternError(
            f"{model.__name__} has fields for {', '.join(f'?{v}' for v in extra)}, which "
            f"{'is not a variable' if len(extra) == 1 else 'are not variables'} of the {label} "
            f"(its variables: {known})",
            pattern=pattern.text,
            ki_name=ki_name,
        )
    missing = sorted(pattern.variables - fields)
    if complete and missing:
        raise GraphPatternError(
            f"{model.__name__} has no field for {', '.join(f'?{v}' for v in missing)}, but "
            f"the bindings it describes must bind every variable of the {label}",
            pattern=pattern.text,
            ki_name=ki_name,
        )


def check_model(ki_name: str, label: str, model: object) -> type[BindingModel] | None:
    if model is None:
        return None
    if not (isinstance(model, type) and issubclass(model, BindingModel)):
        raise ConfigurationError(
            f"knowledge interaction {ki_name!r}: {label} must be a BindingModel subclass, "
            f"got {model!r}"
        )
    return model
