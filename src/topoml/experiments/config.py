"""Experiment configs: TOML profiles validated by pydantic (unknown keys rejected), with overrides."""

from __future__ import annotations

import copy
import json
import tomllib
from importlib import resources
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from topoml.errors import ConfigError

__all__ = ["StrictModel", "load_profile", "parse_overrides"]

M = TypeVar("M", bound=BaseModel)


class StrictModel(BaseModel):
    """Base of every config: unknown keys are errors, values are validated on assignment."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, frozen=True, strict=True)


def _first_error(e: ValidationError) -> str:
    err = e.errors()[0]
    loc = ".".join(str(x) for x in err["loc"]) or "config"
    if err["type"] == "extra_forbidden":
        return f"unknown config key '{loc}'"
    return f"config key '{loc}': {err['msg']}"


def parse_overrides(items: list[str] | None) -> dict:
    """``["key=value", ...]`` → dict; values parsed as JSON when possible (numbers, lists, bools)."""
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


def load_profile(
    model: type[M], experiment: str, profile: str, overrides: dict | None = None, config_file: str | Path | None = None
) -> M:
    """Validate profile ``profile`` of ``configs/<experiment>.toml`` (or of ``config_file``) plus overrides.

    Raises
    ------
    ConfigError
        Missing/unreadable file, unknown profile, unknown key or invalid value (one-line message).
    """
    try:
        if config_file is None:
            text = resources.files("topoml.experiments").joinpath(f"configs/{experiment}.toml").read_text()
        else:
            text = Path(config_file).read_text()
        profiles = tomllib.loads(text)
    except FileNotFoundError:
        raise ConfigError(f"config file {config_file} not found") from None
    except (OSError, tomllib.TOMLDecodeError) as e:
        raise ConfigError(f"cannot read config: {e}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"config file {config_file} is not UTF-8 text (a TOML file is)") from None
    if profile not in profiles:
        raise ConfigError(f"unknown profile '{profile}'; available: {', '.join(profiles)}")
    data = copy.deepcopy(profiles[profile])
    created: dict[tuple[str, ...], str] = {}  # tables that only an override brought into being
    for key, value in (overrides or {}).items():
        *path, last = key.split(".")
        node = data
        for i, part in enumerate(path):  # dotted keys reach into tables: "base.lr", "data.train4.n_samples"
            if part not in node:
                created.setdefault(tuple(path[: i + 1]), key)
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise ConfigError(f"override '{key}': '{part}' is not a table")
            node = child
        node[last] = value
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
        raise ConfigError(_first_error(e)) from None
