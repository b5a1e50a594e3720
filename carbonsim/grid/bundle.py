"""The bundled real grid data (carbonsim/grid/data, licences in NOTICE.md): names, catalog and loading."""
from __future__ import annotations

import dataclasses
import difflib
import functools
import hashlib
import io
import json
import warnings
from datetime import datetime
from importlib import resources

import numpy as np

from .cloud import MAPPING_SOURCE, cloud_entries
from .signal import (
    DEFAULT_MAX_GAP_HOURS,
    UTC,
    GridDataWarning,
    GridSignal,
    eia_cfe,
    finish_signal,
    grid_error,
)

# ---------------------------------------------------------------- bundled data

def _resource(name: str):
    return resources.files("carbonsim.grid").joinpath("data", name)


@functools.cache
def _hourly_arrays() -> dict[str, np.ndarray]:
    with np.load(io.BytesIO(_resource("grid_hourly.npz").read_bytes()), allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


@functools.cache
def _index() -> dict:
    return json.loads(_resource("grid_index.json").read_text(encoding="utf-8"))


@functools.cache
def _annual() -> dict:
    return json.loads(_resource("grid_annual.json").read_text(encoding="utf-8"))


@functools.cache
def data_version() -> str:
    """The version of the bundled data: ``sha256:`` and the first 16 hex digits of a hash over
    the data files' names and bytes (changes whenever any of them does)."""
    h = hashlib.sha256()
    for name in ("grid_annual.json", "grid_hourly.npz", "grid_index.json"):
        h.update(name.encode() + b"\0" + _resource(name).read_bytes() + b"\0")
    return "sha256:" + h.hexdigest()[:16]


def clear_cache() -> None:
    """Forget the bundled data read so far (the next load reads the package files again)."""
    for f in (_hourly_arrays, _index, _annual, _catalog, data_version):
        f.cache_clear()


@functools.cache
def _catalog() -> dict[str, dict]:
    """Every loadable name -> its metadata (public keys) plus '_load' instructions."""
    cat = {}

    def add(name, region, source, year, basis, value, licence, resolution="annual", **extra):
        cat[name] = {"name": name, "region": region, "source": source, "year": year, "basis": basis,
                     "kind": "average", "resolution": resolution, "mean": value, "min": value, "max": value,
                     "licence": licence, **extra}

    for s in _index()["series"]:
        add(s["name"], s["region"], s["source"], s["year"], s["basis"], s["mean"], s["licence"], "hourly",
            n_hours=s["n_hours"], _load=("hourly", s))
        cat[s["name"]].update(min=s["min"], max=s["max"])
    ann = _annual()
    gcp = ann["gcp"]
    for year, table in sorted(gcp["years"].items()):
        for region, row in table["regions"].items():
            load = ("const", row["intensity"], row["cfe"], f"{row['location']}; Google CFE includes Google's "
                    f"own clean-energy purchases; file header: {table['header']!r}")
            for name in (f"gcp:{region}@{year}", f"gcp:{region}"):  # later years overwrite the plain name
                add(name, region, gcp["source"], int(year), table["basis"], row["intensity"], gcp["licence"],
                    _load=load)
    ml = ann["mlco2"]
    for r in ml["regions"]:
        note = f"{r['region_name'] or r['city']}, {r['country']}; source: {r['source']}"
        add(f"mlco2:{r['provider']}:{r['region']}", r["region"], ml["source"], None, ml["basis"],
            r["intensity"], ml["licence"],
            _load=("const", r["intensity"], None, note + (f"; {r['comment']}" if r["comment"] else "")))
    for prefix, tables in (("country", ("owid", "ember")), ("owid", ("owid",))):
        for table in tables:  # for country:, Ember overwrites OWID where it has the country
            t = ann[table]
            for iso, c in t["countries"].items():
                add(f"{prefix}:{iso}", iso, t["source"], c["year"], t["basis"], c["intensity"], t["licence"],
                    _load=("const", c["intensity"], c.get("cfe"), f"{c['name']}; production-based annual average"))
    cat.update(cloud_entries(cat))   # cloud regions on the hourly series of their grid (cloud.py)
    return cat


def list_signals(prefix: str | None = None) -> list[dict]:
    """Metadata of every name :func:`load_signal` accepts (optionally those starting with ``prefix``).

    Keys: name, region, source, year, basis, kind, resolution ("hourly" or
    "annual"), mean, min, max (gCO2e/kWh), licence; hourly ones add n_hours.
    """
    return [{k: v for k, v in e.items() if not k.startswith("_")}
            for name, e in _catalog().items() if prefix is None or name.startswith(prefix)]


def _lookup(name: str) -> dict:
    cat = _catalog()
    if not isinstance(name, str):
        raise grid_error("grid signal name", "must be a string like 'eia:CISO'", name)
    if name in cat:
        return cat[name]
    folded = {k.casefold(): k for k in cat}
    if name.strip().casefold() in folded:
        return cat[folded[name.strip().casefold()]]
    close = difflib.get_close_matches(name, list(cat), n=3, cutoff=0.6)
    if not close:  # try within the prefix, ignoring case
        close = [folded[k] for k in difflib.get_close_matches(name.casefold(), list(folded), n=3, cutoff=0.5)]
    hint = f"did you mean {' or '.join(repr(c) for c in close)}? " if close else ""
    raise grid_error("grid signal", "unknown name", name,
               f"{hint}carbonsim.grid.list_signals() lists all {len(cat)} names; syntax in docs/grid-data.md")


def load_signal(name: str, *, gap_policy: str = "interpolate", max_gap_hours: int = DEFAULT_MAX_GAP_HOURS,
                glitch_policy: str = "warn") -> GridSignal:
    """Load a bundled signal by name, e.g. ``eia:CISO``, ``em:DE-LU/lifecycle``, ``gcp:us-central1@2022``.

    ``gap_policy``: ``"interpolate"`` (fill NaN runs up to ``max_gap_hours``
    with a warning, longer runs raise), ``"error"`` (any NaN raises) or
    ``"keep"`` (NaN stay).  ``glitch_policy`` (EIA only): ``"warn"`` (report
    glitch hours, keep them), ``"fill"`` (treat them as gaps) or ``"ignore"``.
    """
    entry = _lookup(name)
    load = entry["_load"]
    if load[0] == "cloud":
        return _cloud_signal(entry, gap_policy=gap_policy, max_gap_hours=max_gap_hours, glitch_policy=glitch_policy)
    if load[0] == "cloud-annual":
        warnings.warn(load[2], GridDataWarning, stacklevel=2)
        sig = load_signal(load[1])
        return dataclasses.replace(sig, name=entry["name"], notes=f"{sig.notes}; {load[2]}")
    if load[0] == "const":
        _, value, cfe, notes = load
        year = entry["year"]
        return GridSignal(name=entry["name"], region=entry["region"], source=entry["source"], year=year,
                          basis=entry["basis"], start=datetime(year or 1970, 1, 1, tzinfo=UTC), values=[value],
                          cfe=None if cfe is None else [cfe], constant=True, licence=entry["licence"], notes=notes)
    s = load[1]
    arr = _hourly_arrays()
    keys = s["arrays"]
    notes = f"{s['region_name']}; {s['accounting']} basis"
    if s.get("zone_id", s["region"]) != s["region"]:
        notes += f"; Electricity Maps zone id {s['zone_id']}"
    fields = dict(name=s["name"], region=s["region"], source=s["source"], year=s["year"], basis=s["basis"],
                  kind=s["kind"], start=datetime.fromisoformat(s["start"]), values=arr[keys["values"]],
                  licence=s["licence"], estimated_fraction=s["estimated_fraction"], notes=notes)
    if "generation" in keys:
        gen = {f: arr[k].astype(np.float64) for f, k in keys["generation"].items()}
        fields.update(generation=gen, cfe=eia_cfe(gen))
    if "cfe_pct" in keys:
        fields.update(cfe=arr[keys["cfe_pct"]] / 100.0, estimated=arr[keys["estimated"]].astype(bool))
    return finish_signal(fields, gap_policy=gap_policy, max_gap_hours=max_gap_hours, glitch_policy=glitch_policy)


def _cloud_signal(entry: dict, **policies) -> GridSignal:
    """The hourly series a cloud region draws from, under the region's name."""
    _, series, where, grid, note, annual = entry["_load"]
    sig = load_signal(series, **policies)
    text = (f"{where} draws from {grid}: hourly series {series}" + (f" ({note})" if note else "")
            + (f"; the annual figure is {annual}" if annual else "") + f"; {MAPPING_SOURCE}")
    return dataclasses.replace(sig, name=entry["name"], series=series, notes=f"{text}; {sig.notes}")
