"""Every shipped scenario runs, and its summary matches the checked-in expected output.

Regenerate after an intended change with ``pytest tests/test_scenarios.py --regen-expected``
and review the diff.
"""
import json
from pathlib import Path

import pytest

import carbonsim

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = sorted((ROOT / "scenarios").glob("*.toml"))
EXPECTED = Path(__file__).resolve().parent / "expected"


def summary(result) -> dict:
    d = result.to_dict()
    return {
        "scenario": {"name": d["scenario"]["name"], "sha256": d["scenario"]["sha256"]},
        "totals": d["totals"],
        "workloads": [{k: w[k] for k in ("name", "kind", "datacenter", "hardware", "chips", "start", "end",
                                         "it_energy_kwh", "energy_kwh", "co2e_kg", "embodied_co2e_kg")}
                      for w in d["workloads"]],
    }


def close(a, b, path="") -> list[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        if set(a) != set(b):
            return [f"{path}: keys {sorted(set(a) ^ set(b))} differ"]
        return [m for k in a for m in close(a[k], b[k], f"{path}.{k}")]
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return [f"{path}: length {len(a)} != {len(b)}"]
        return [m for i, (x, y) in enumerate(zip(a, b)) for m in close(x, y, f"{path}[{i}]")]
    if isinstance(a, float) or isinstance(b, float):
        return [] if a == pytest.approx(b, rel=1e-9, abs=1e-12) else [f"{path}: {a!r} != expected {b!r}"]
    return [] if a == b else [f"{path}: {a!r} != expected {b!r}"]


def test_there_are_shipped_scenarios():
    assert {p.name for p in SHIPPED} >= {"patterson2021.toml", "patterson2021-from-compute.toml"}


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_shipped_scenario_matches_expected_output(path, regen):
    got = summary(carbonsim.load(path).run())
    expected_file = EXPECTED / f"{path.stem}.json"
    if regen:
        expected_file.write_text(json.dumps(got, indent=1, sort_keys=True) + "\n")
    assert expected_file.exists(), f"no expected output for {path.name}; run pytest --regen-expected"
    problems = close(got, json.loads(expected_file.read_text()))
    assert not problems, "\n".join(problems[:20])
