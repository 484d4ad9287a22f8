"""Configs: one strict pydantic base model, TOML files and profiles, dotted overrides, one-line errors.

Every configuration of topoml (experiment profiles, dataset definitions, sampling specs) is a
:class:`StrictModel`: unknown keys are errors, values are not silently converted (``"4"`` or ``200.0``
for an integer, ``1`` for a bool are refused), NaN/inf are refused, defaults are validated, and a
validated config is frozen. A validation error becomes a :class:`~topoml.errors.ConfigError` with a
one-line message naming the key (:func:`validation_message`).

A TOML file either holds one config (:func:`read_toml`, e.g. a dataset definition for ``topoml
generate``) or one table per profile (:func:`load_profile`, ``configs/<experiment>.toml`` with
``[default]`` and ``[quick]``). Overrides (``--set key=value``, :func:`parse_overrides`) reach into
tables with dotted keys (``base.lr``, ``data.train4.n_samples``).
"""

from __future__ import annotations

import copy
import json
import tomllib
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from topoml.errors import ConfigError

__all__ = ["StrictModel", "load_profile", "parse_overrides", "read_toml", "validation_message"]

M = TypeVar("M", bound="StrictModel")


def validation_message(err: ValidationError, prefix: str = "", source: str | None = None) -> str:
    """One-line summary of a pydantic ``ValidationError``, naming the offending key(s).

    Parameters
    ----------
    err : pydantic.ValidationError
    prefix : str
        Prefix of the key path (e.g. ``"sampling."`` when validating a sub-table).
    source : str, optional
        Where the keys came from (a file name), put in front of the message.

    Returns
    -------
    str
        ``"cfg.toml: unknown config key 'sampling.alpah' (...)"``, ``"config key 'sampling.alpha': Input
        should be greater than 0"``, ``"missing required config key 'seed'"``, ... with
        ``" (and k more problems)"`` appended when there are several. Unknown keys come first: a
        misspelled key usually also explains a "missing" or default-value complaint.
    """
    parts = []
    for e in sorted(err.errors(), key=lambda e: e["type"] != "extra_forbidden"):
        loc = prefix + ".".join(str(p) for p in e["loc"])
        if e["type"] == "extra_forbidden":
            parts.append(f"unknown config key '{loc}' (misspelled? remove it or see the documented keys)")
        elif e["type"] == "missing":
            parts.append(f"missing required config key '{loc}'")
        else:
            parts.append(f"config key '{loc}': {e['msg']}" if loc else e["msg"])
    if not parts:  # pragma: no cover - pydantic always reports at least one error
        return str(err).splitlines()[0]
    more = f" (and {len(parts) - 1} more problem{'s' if len(parts) > 2 else ''})" if len(parts) > 1 else ""
    return (f"{source}: " if source else "") + parts[0] + more


class StrictModel(BaseModel):
    """Base of every config: unknown keys, lossy conversions, NaN/inf are errors; validated configs are frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False, validate_default=True)

    @classmethod
    def from_dict(cls: type[M], data: Any, prefix: str = "", source: str | None = None) -> M:
        """Validate a plain mapping (e.g. a TOML table).

        Parameters
        ----------
        data : mapping
        prefix : str
            Key-path prefix for the error message (e.g. ``"sampling."`` for a sub-table).
        source : str, optional
            Where it came from (a file name), for the error message.

        Raises
        ------
        ConfigError
            ``data`` is not a mapping, or a key is unknown, missing or invalid (one line naming it).
        """
        if not isinstance(data, Mapping):
            raise ConfigError(f"config must be a table/mapping, got {type(data).__name__}")
        try:
            return cls.model_validate(dict(data))
        except ValidationError as err:
            raise ConfigError(validation_message(err, prefix, source)) from None


def read_toml(path: str | Path) -> dict:
    """Read a TOML file.

    Raises
    ------
    ConfigError
        The file is missing, unreadable, not UTF-8 or not valid TOML (one line naming the file).
    """
    p = Path(path)
    try:
        with open(p, "rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"config file {p} not found") from None
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{p}: invalid TOML ({err})") from None
    except UnicodeDecodeError:
        raise ConfigError(f"config file {p} is not UTF-8 text (a TOML file is)") from None
    except OSError as err:
        raise ConfigError(f"cannot read config {p}: {err.strerror or err}") from None


def parse_overrides(items: list[str] | None) -> dict:
    """``["key=value", ...]`` → dict; values parsed as JSON when possible (numbers, lists, bools).

    Raises
    ------
    ConfigError
        An item is not of the form ``key=value``.
    """
    out: dict = {}
    for item in items or []:
        if "=" not in item:
            raise ConfigError(f"override '{item}' is not of the form key=value")
        k, v = item.split("=", 1)
        try:
            out[k.strip()] = json.loads(v)
        except json.JSONDecodeError:
            out[k.strip()] = v
    return out


def _apply_overrides(data: dict, overrides: Mapping[str, Any] | None) -> tuple[dict, dict[tuple[str, ...], str]]:
    """A copy of ``data`` with ``overrides`` set; dotted keys reach into tables (``"base.lr"``).

    Returns
    -------
    (dict, dict)
        The new data, and the tables that only an override brought into being (path → the override), so
        that a misspelled table can be named in the error message.

    Raises
    ------
    ConfigError
        An override reaches into a value that is not a table.
    """
    data = copy.deepcopy(data)
    created: dict[tuple[str, ...], str] = {}
    for key, value in (overrides or {}).items():
        *path, last = key.split(".")
        node = data
        for i, part in enumerate(path):
            if part not in node:
                created.setdefault(tuple(path[: i + 1]), key)
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise ConfigError(f"override '{key}': '{part}' is not a table")
            node = child
        node[last] = value
    return data, created


def load_profile(
    model: type[M], experiment: str, profile: str, overrides: dict | None = None, config_file: str | Path | None = None
) -> M:
    """Validate profile ``profile`` of the packaged ``configs/<experiment>.toml`` (or of ``config_file``) plus
    ``overrides``; the result's ``profile`` field is set to ``profile``.

    Raises
    ------
    ConfigError
        Missing/unreadable file, unknown profile, unknown key or invalid value (one-line message).
    """
    if config_file is None:
        with resources.as_file(resources.files("topoml.experiments").joinpath(f"configs/{experiment}.toml")) as p:
            profiles = read_toml(p)
    else:
        profiles = read_toml(config_file)
    if profile not in profiles:
        raise ConfigError(f"unknown profile '{profile}'; available: {', '.join(profiles)}")
    data, created = _apply_overrides(profiles[profile], overrides)
    data["profile"] = profile
    try:
        return model.model_validate(data)
    except ValidationError as e:
        for err in e.errors():
            loc = tuple(str(x) for x in err["loc"])
            for table, key in created.items():
                if loc[: len(table)] == table:
                    raise ConfigError(f"override '{key}': profile '{profile}' has no table "
                                      f"'{'.'.join(table)}' (misspelled key?)") from None
        raise ConfigError(validation_message(e)) from None
