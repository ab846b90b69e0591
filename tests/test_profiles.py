"""The study profiles stay in step with params.yaml."""

from __future__ import annotations

import pytest
import yaml

from conftest import REPO

PROFILES = sorted((REPO / "profiles").glob("*.yaml"))


def key_paths(mapping: dict, prefix: str = "") -> set[str]:
    """Dotted paths of every key, descending into mappings (method_args-like empty maps included)."""
    paths = set()
    for key, value in mapping.items():
        path = f"{prefix}{key}"
        paths.add(path)
        if isinstance(value, dict):
            paths |= key_paths(value, f"{path}.")
    return paths


@pytest.mark.parametrize("profile", PROFILES, ids=lambda p: p.name)
def test_profile_has_every_param(profile):
    params = key_paths(yaml.safe_load((REPO / "params.yaml").read_text()))

    keys = key_paths(yaml.safe_load(profile.read_text()))

    assert sorted(params - keys) == []
    assert sorted(keys - params) == []


def test_profiles_name_hub_models():
    names = {yaml.safe_load(p.read_text())["model"]["name"] for p in PROFILES}

    assert names == {"togethercomputer/RedPajama-INCITE-Chat-3B-v1", "tiiuae/falcon-7b-instruct"}
