"""Configs (topoml.runs.config): the one strict base model, TOML files and profiles, dotted overrides,
one-line errors."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from pydantic import Field

import topoml
from topoml.errors import ConfigError
from topoml.runs.config import StrictModel, load_profile, parse_overrides, read_toml


class Inner(StrictModel):
    width: int = Field(4, ge=1)
    rate: float = 0.5


class Outer(StrictModel):
    profile: str = "default"
    seed: int
    flag: bool = False
    inner: Inner = Inner()


@pytest.mark.parametrize("data, fragment", [
    ({"seed": 1, "colour": 2}, "unknown config key 'colour'"),
    ({"seed": 1, "inner": {"widht": 2}}, "unknown config key 'inner.widht'"),
    ({}, "missing required config key 'seed'"),
    ({"seed": "4"}, "config key 'seed'"),          # no silent conversion of a string
    ({"seed": 4.0}, "config key 'seed'"),          # nor of a float to an integer
    ({"seed": 1, "flag": 1}, "config key 'flag'"),  # nor of 1 to a bool
    ({"seed": 1, "inner": {"rate": float("nan")}}, "config key 'inner.rate'"),
    ({"seed": 1, "inner": {"rate": float("inf")}}, "config key 'inner.rate'"),
    ({"seed": 1, "inner": {"width": 0}}, "config key 'inner.width'"),
    ([1, 2], "mapping"),
])
def test_strict_model_refuses_with_one_line_naming_the_key(data, fragment):
    with pytest.raises(ConfigError, match=fragment) as e:
        Outer.from_dict(data, source="cfg.toml") if isinstance(data, dict) else Outer.from_dict(data)
    assert "\n" not in str(e.value)
    if isinstance(data, dict):
        assert str(e.value).startswith("cfg.toml: ")


def test_strict_model_unknown_key_first_and_more_problems_counted():
    with pytest.raises(ConfigError) as e:
        Outer.from_dict({"sed": 1, "flag": 2})
    assert str(e.value).startswith("unknown config key 'sed'") and "(and 2 more problems)" in str(e.value)


def test_strict_model_is_frozen_and_validates_defaults():
    cfg = Outer.from_dict({"seed": 3})
    assert cfg.inner.rate == 0.5 and Outer.from_dict({"seed": 3, "inner": {"rate": 1}}).inner.rate == 1.0
    with pytest.raises(Exception):
        cfg.seed = 4

    class BadDefault(StrictModel):
        n: int = "3"

    with pytest.raises(ConfigError, match="config key 'n'"):
        BadDefault.from_dict({})


def test_every_config_of_topoml_uses_the_one_base():
    from topoml.data.generate import GenerateConfig, RunOptions
    from topoml.data.sampling import DisorderSpec, SamplingSpec
    from topoml.experiments import margalit2022, oriekhov2025, zhang2018

    for model in (GenerateConfig, RunOptions, SamplingSpec, DisorderSpec, zhang2018.Zhang2018Config,
                  oriekhov2025.Oriekhov2025Config, margalit2022.Margalit2022Config, margalit2022.DataSpec):
        assert issubclass(model, StrictModel), model
    src = Path(topoml.__file__).parent
    own = [p.relative_to(src).as_posix() for p in src.rglob("*.py") if "ConfigDict(" in p.read_text()]
    assert own == ["runs/config.py"], own  # no second base class with its own settings


def _write(tmp_path, text: str, name: str = "p.toml") -> Path:
    p = tmp_path / name
    p.write_text(textwrap.dedent(text))
    return p


def test_read_toml_errors(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        read_toml(tmp_path / "nope.toml")
    with pytest.raises(ConfigError, match="invalid TOML"):
        read_toml(_write(tmp_path, "a = 1\na = 2\n"))
    (tmp_path / "bin.toml").write_bytes(b"\xff\xfe\x00a = 1")
    with pytest.raises(ConfigError, match="not UTF-8"):
        read_toml(tmp_path / "bin.toml")
    with pytest.raises(ConfigError, match="cannot read config"):
        read_toml(tmp_path)  # a folder


PROFILES = """
    [default]
    seed = 1
    [default.inner]
    width = 8

    [quick]
    seed = 2
"""


def test_load_profile_with_dotted_overrides(tmp_path):
    p = _write(tmp_path, PROFILES)
    cfg = load_profile(Outer, "x", "default", {"inner.rate": 0.25, "flag": True}, p)
    assert (cfg.profile, cfg.seed, cfg.flag, cfg.inner.width, cfg.inner.rate) == ("default", 1, True, 8, 0.25)
    assert load_profile(Outer, "x", "quick", None, p).inner == Inner()
    with pytest.raises(ConfigError, match="unknown profile 'huge'; available: default, quick"):
        load_profile(Outer, "x", "huge", None, p)
    with pytest.raises(ConfigError, match="override 'innr.width': profile 'default' has no table 'innr'"):
        load_profile(Outer, "x", "default", {"innr.width": 2}, p)
    with pytest.raises(ConfigError, match="override 'seed.x': 'seed' is not a table"):
        load_profile(Outer, "x", "default", {"seed.x": 2}, p)
    with pytest.raises(ConfigError, match="unknown config key 'colour'"):
        load_profile(Outer, "x", "default", {"colour": 2}, p)


def test_packaged_profiles_load():
    from topoml.experiments import zhang2018

    assert load_profile(zhang2018.Zhang2018Config, "zhang2018", "quick").profile == "quick"


def test_parse_overrides():
    assert parse_overrides(["a=1", "b.c=[1, 2]", "d=true", "e=text", "f= 0.5"]) == {
        "a": 1, "b.c": [1, 2], "d": True, "e": "text", "f": 0.5}
    with pytest.raises(ConfigError, match="key=value"):
        parse_overrides(["novalue"])
