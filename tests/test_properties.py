"""Property tests: whatever the input, the parse step raises only ScenarioError.

Three sources of input: random documents, random mutations of the valid
Patterson et al. 2021 scenario, and random bytes written to a file.
"""
from __future__ import annotations

import copy
import datetime as dt
import math
import tomllib
from pathlib import Path

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import carbonsim

ROOT = Path(__file__).parent.parent
PATTERSON = tomllib.loads((ROOT / "scenarios" / "patterson2021.toml").read_text())

SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Keys worth hitting: the real ones, near misses and junk.
KEYS = st.sampled_from([
    "schema_version", "scenario", "name", "description", "seed", "start", "hardware", "datacenters",
    "workloads", "training", "chips", "chip", "pue", "pue_value", "grid_intensity_gco2e_per_kwh",
    "net_grid_intensity_gco2e_per_kwh", "cfe", "base", "tdp_w", "system_power_w", "peak_tflops",
    "duration_days", "duration_hours", "flops", "achieved_tflops_per_chip", "hardware_efficiency",
    "power_w_per_chip", "published", "embodied_boundary", "v100", "tpu-v3", "google-taiwan-2019",
]) | st.text(max_size=12)

SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.integers(4300, 4400).map(lambda n: 10**n),        # repr() refuses to print these
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([float("nan"), float("inf"), -float("inf"), 1e300, -0.0, 5e-324, 1e32, 1.0]),
    st.text(max_size=20),
    st.sampled_from(["v100", "tpu-v3", "2019-13-01", "2020-04-01T08:00:00Z", "1", "nan", "a\nb", "\u2028"]),
    st.dates(),
    st.datetimes(),
    st.datetimes(timezones=st.sampled_from([dt.timezone(dt.timedelta(hours=h)) for h in (-23, -5, 0, 5, 23)])),
    st.times(),
    st.binary(max_size=8),
)


def _containers(children):
    return st.lists(children, max_size=4) | st.dictionaries(KEYS, children, max_size=5)


VALUES = st.recursive(SCALARS, _containers, max_leaves=25)


def _documents():
    """Mostly tables of plausible top-level keys, sometimes anything at all."""
    top = st.fixed_dictionaries(
        {},
        optional={
            "schema_version": st.sampled_from([1, 2, "1", 1.0, True]) | VALUES,
            "scenario": st.fixed_dictionaries({}, optional={"name": SCALARS, "start": SCALARS, "seed": SCALARS}),
            "hardware": st.dictionaries(KEYS, VALUES, max_size=3),
            "datacenters": st.dictionaries(KEYS, VALUES, max_size=3),
            "workloads": st.fixed_dictionaries({}, optional={"training": st.lists(VALUES, max_size=3)}) | VALUES,
        },
    )
    return top | VALUES | st.dictionaries(KEYS, VALUES, max_size=6)


def _check(err: carbonsim.ScenarioError) -> None:
    """The documented shape of the error: problems, one line each, paths where there is a field."""
    assert isinstance(err, carbonsim.ScenarioError)
    assert err.problems, "a ScenarioError lists at least one problem"
    text = str(err)
    assert len(text.splitlines()) == len(err.problems), "one line per problem"
    for p in err.problems:
        assert isinstance(p, carbonsim.Problem)
        assert isinstance(p.path, str) and isinstance(p.rule, str) and p.rule
        line = p.format(err.source)
        assert len(line.splitlines()) == 1
        if p.path:
            assert p.path in text
    assert "Input should" not in text and "instance of" not in text


def _resolve(document, source=None):
    try:
        return carbonsim.resolve(document, source)
    except carbonsim.ScenarioError as err:
        _check(err)
        return err


# ---------------------------------------------------------------------------
# (1) Random documents.
# ---------------------------------------------------------------------------


@SETTINGS
@given(_documents())
def test_random_documents_raise_only_scenario_error(document):
    _resolve(document, "random.toml")


# ---------------------------------------------------------------------------
# (2) Mutations of the valid Patterson document.
# ---------------------------------------------------------------------------


def _nodes(doc, path=()):
    """Every (path, value) in the document, containers included."""
    yield path, doc
    if isinstance(doc, dict):
        for k, v in doc.items():
            yield from _nodes(v, path + (k,))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            yield from _nodes(v, path + (i,))


NODES = list(_nodes(PATTERSON))
LEAVES = [p for p, v in NODES if p and not isinstance(v, (dict, list))]
KEYED = [p for p, v in NODES if p and isinstance(p[-1], str)]
TABLES = [p for p, v in NODES if isinstance(v, dict)]


def _get(doc, path):
    for part in path:
        doc = doc[part]
    return doc


@st.composite
def _mutation(draw):
    doc = copy.deepcopy(PATTERSON)
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["replace", "delete", "add", "replace-table"]))
        try:
            if kind == "replace":
                path = draw(st.sampled_from(LEAVES))
                _get(doc, path[:-1])[path[-1]] = draw(VALUES)
            elif kind == "delete":
                path = draw(st.sampled_from(KEYED))
                del _get(doc, path[:-1])[path[-1]]
            elif kind == "add":
                path = draw(st.sampled_from(TABLES))
                _get(doc, path)[draw(KEYS)] = draw(VALUES)
            else:
                path = draw(st.sampled_from(KEYED))
                _get(doc, path[:-1])[path[-1]] = draw(VALUES)
        except (KeyError, IndexError, TypeError):
            pass  # an earlier mutation removed or replaced the parent: keep going
    return doc


def test_patterson_document_is_valid():
    resolved = carbonsim.resolve(PATTERSON)
    assert len(resolved.training) == 6


@SETTINGS
@given(_mutation())
def test_mutated_patterson_raises_only_scenario_error(document):
    result = _resolve(document, "patterson2021.toml")
    if isinstance(result, carbonsim.ScenarioError):
        for p in result.problems:
            # A problem either points at a field or is about the whole document.
            assert p.path or p.rule.startswith(("a scenario", "the scenario", "keys must be strings"))
            assert str(result).count("patterson2021.toml: ") == len(result.problems)
    else:
        assert isinstance(result, carbonsim.ResolvedScenario)
        for run in result.training:
            assert math.isfinite(run.duration_s) and run.duration_s >= 0
            assert run.chips >= 1 and math.isfinite(run.power_w_per_chip)


@SETTINGS
@given(st.sampled_from(LEAVES), VALUES)
def test_one_bad_leaf_is_located(path, value):
    """Replacing one leaf with a wrong value is reported at (or above) that leaf."""
    doc = copy.deepcopy(PATTERSON)
    _get(doc, path[:-1])[path[-1]] = value
    result = _resolve(doc, "p.toml")
    if isinstance(result, carbonsim.ScenarioError):
        prefix = "".join(f"[{p}]" if isinstance(p, int) else ("." if i else "") + p for i, p in enumerate(path[:2]))
        assert any(p.path.startswith(prefix) for p in result.problems), (prefix, str(result))


# ---------------------------------------------------------------------------
# (3) Random bytes on disk.
# ---------------------------------------------------------------------------

VALID_TEXT = (ROOT / "scenarios" / "patterson2021.toml").read_bytes()


@SETTINGS
@given(st.binary(max_size=400) | st.text(max_size=300).map(str.encode))
def test_random_bytes_raise_only_scenario_error(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("bytes") / "random.toml"
    path.write_bytes(data)
    try:
        carbonsim.load(path)
    except carbonsim.ScenarioError as err:
        _check(err)
        assert str(path) in str(err)


@SETTINGS
@given(st.integers(0, len(VALID_TEXT) - 1), st.integers(1, 40), st.binary(max_size=20))
def test_corrupted_valid_file_raises_only_scenario_error(tmp_path_factory, at, cut, junk):
    """The valid file with a slice replaced by random bytes."""
    data = VALID_TEXT[:at] + junk + VALID_TEXT[at + cut:]
    assume(data != VALID_TEXT)
    path = tmp_path_factory.mktemp("corrupt") / "patterson2021.toml"
    path.write_bytes(data)
    try:
        carbonsim.load(path)
    except carbonsim.ScenarioError as err:
        _check(err)
