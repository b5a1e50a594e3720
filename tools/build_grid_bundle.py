#!/usr/bin/env python3
"""Rebuild the grid carbon-intensity data shipped in ``carbonsim/grid/data/``.

Usage::

    python tools/build_grid_bundle.py RAW_GRID_DIR [--out carbonsim/grid/data]

RAW_GRID_DIR is the folder of raw public files (``hourly/eia930-2022/*.csv``,
``hourly/electricitymaps-2023/*.csv``, ``annual/...``).  Writes:

- ``grid_hourly.npz``: float32 hourly arrays (NaN kept as NaN; gaps are filled
  at load time by policy) plus uint8 "estimated" flags, zip-compressed.
- ``grid_index.json``: one entry per hourly series (metadata + array keys).
- ``grid_annual.json``: Google Cloud regions 2019-2024, mlco2 cloud regions,
  OWID and Ember country averages.

The output is deterministic: same input bytes give the same output bytes.
Needs numpy only.  Every input is checked (header, 8760 contiguous UTC hours);
a surprise stops the build with a message naming the file and line.
"""
from __future__ import annotations

import argparse
import csv
import io
import json
import math
import sys
import zipfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np

EIA_FUELS = ("WND", "SUN", "WAT", "OIL", "NG", "COL", "NUC", "OTH")
EIA_NAMES = {
    "AZPS": "Arizona Public Service", "BPAT": "Bonneville Power Administration (Pacific NW)",
    "CISO": "California ISO", "ERCO": "ERCOT (Texas)", "MISO": "Midcontinent ISO",
    "NYIS": "New York ISO", "PJM": "PJM Interconnection (Mid-Atlantic)",
    "SOCO": "Southern Company (Georgia, Alabama)",
}
EM_COLS = {
    "time": "Datetime (UTC)",
    "direct": "Carbon Intensity gCO₂eq/kWh (direct)",
    "lca": "Carbon Intensity gCO₂eq/kWh (LCA)",
    "low_carbon": "Low Carbon Percentage",
    "estimated": "Data Estimated",
}
SRC = {
    "eia": ("EIA-930 hourly net generation, HewlettPackard/dc-rl", "eia-public-domain"),
    "em": ("Electricity Maps data portal (2023), HewlettPackard/green-dcc mirror", "odbl-1.0"),
    "gcp": ("GoogleCloudPlatform/region-carbon-info", "apache-2.0"),
    "mlco2": ("mlco2/impact", "mit"),
    "owid": ("Our World in Data, codecarbon", "cc-by-4.0"),
    "ember": ("Ember, co2.js", "cc-by-sa-4.0"),
}
ZIP_DATE = (1980, 1, 1, 0, 0, 0)


def fail(path, line, msg):
    sys.exit(f"{path}:{line}: {msg}")


def num(text, path, line):
    text = text.strip()
    if text == "":
        return math.nan
    try:
        return float(text)
    except ValueError:
        fail(path, line, f"not a number: {text!r}")


def check_hours(stamps, path):
    """Stamps must be contiguous UTC hours; return the first one."""
    for i, ts in enumerate(stamps):
        if ts != stamps[0] + timedelta(hours=i):
            fail(path, i + 2, f"expected {stamps[0] + timedelta(hours=i)}, got {ts} (rows must be contiguous hours)")
    return stamps[0]


def stats(v):
    ok = v[~np.isnan(v)]
    return {"mean": round(float(ok.mean()), 3), "min": round(float(ok.min()), 3),
            "max": round(float(ok.max()), 3), "nan_hours": int(np.isnan(v).sum())}


def iso(ts):
    return ts.strftime("%Y-%m-%dT%H:%M:%SZ")


def read_eia(path, arrays):
    ba = path.stem
    with path.open(newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    if rows[0] != ["timestamp", *EIA_FUELS, "avg_CI"]:
        fail(path, 1, f"unexpected header {rows[0]}")
    stamps = [datetime.fromisoformat(r[0]).astimezone(timezone.utc) for r in rows[1:]]
    start = check_hours(stamps, path)
    data = np.array([[num(x, path, i + 2) for x in r[1:]] for i, r in enumerate(rows[1:])])
    key = f"eia.{ba}"
    arrays[f"{key}.avg_CI"] = data[:, -1]
    for j, fuel in enumerate(EIA_FUELS):
        arrays[f"{key}.{fuel}"] = data[:, j]
    source, lic = SRC["eia"]
    return [{
        "name": f"eia:{ba}", "region": ba, "region_name": EIA_NAMES.get(ba, ba), "source": source,
        "year": start.year, "basis": "lifecycle", "kind": "average", "accounting": "production",
        "units": "gCO2e/kWh", "start": iso(start), "n_hours": len(stamps), "licence": lic,
        **stats(data[:, -1]), "estimated_fraction": None,
        "arrays": {"values": f"{key}.avg_CI", "generation": {fu: f"{key}.{fu}" for fu in EIA_FUELS}},
    }]


def read_em(path, arrays):
    zone = path.stem
    with path.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    missing = [c for c in EM_COLS.values() if c not in rows[0]]
    if missing:
        fail(path, 1, f"missing columns {missing}")
    stamps = [datetime.fromisoformat(r[EM_COLS["time"]]).replace(tzinfo=timezone.utc) for r in rows]
    start = check_hours(stamps, path)
    col = {k: np.array([num(r[c], path, i + 2) for i, r in enumerate(rows)])
           for k, c in EM_COLS.items() if k in ("direct", "lca", "low_carbon")}
    flags = {r[EM_COLS["estimated"]] for r in rows}
    if not flags <= {"true", "false"}:
        fail(path, 1, f"'Data Estimated' must be true/false, got {sorted(flags)}")
    est = np.array([r[EM_COLS["estimated"]] == "true" for r in rows], dtype=np.uint8)
    key = f"em.{zone}"
    arrays.update({f"{key}.direct": col["direct"], f"{key}.lca": col["lca"],
                   f"{key}.low_carbon_pct": col["low_carbon"], f"{key}.estimated": est})
    source, lic = SRC["em"]
    first = rows[0]
    out = []
    for basis, arr, suffix in (("direct", "direct", ""), ("lifecycle", "lca", "/lifecycle")):
        out.append({
            "name": f"em:{zone}{suffix}", "region": zone, "zone_id": first["Zone Id"],
            "region_name": first["Zone Name"] if first["Zone Name"] == first["Country"]
            else f"{first['Zone Name']} ({first['Country']})", "source": source,
            "year": start.year, "basis": basis, "kind": "average", "accounting": "consumption (flow-traced)",
            "units": "gCO2e/kWh", "start": iso(start), "n_hours": len(stamps), "licence": lic,
            **stats(col[arr]), "estimated_fraction": round(float(est.mean()), 4),
            "arrays": {"values": f"{key}.{arr}", "cfe_pct": f"{key}.low_carbon_pct", "estimated": f"{key}.estimated"},
        })
    return out


def opt_float(text):
    text = text.strip()
    return float(text) if text else None


def read_annual(raw):
    gcp = {}
    for path in sorted((raw / "annual/google-cloud-regions").glob("*.csv")):
        with path.open(newline="", encoding="utf-8") as f:
            rows = [r for r in csv.reader(f) if r]
        header = rows[0][3]
        if "carbon intensity" not in header.lower():
            fail(path, 1, f"unexpected header {rows[0]}")
        # The file header, not a summary elsewhere, decides the basis: 2019 and 2020
        # say "Lifecycle grid carbon intensity", 2021+ "Grid carbon intensity"
        # (Google: "average operational gross emissions", i.e. direct).
        basis = "lifecycle" if header.lower().startswith("lifecycle") else "direct"
        gcp[path.stem] = {"basis": basis, "header": header, "regions": {
            r[0].strip(): {"location": r[1].strip(), "cfe": opt_float(r[2]), "intensity": float(r[3])}
            for r in rows[1:]}}
    with (raw / "annual/mlco2-impact-cloud-regions.csv").open(newline="", encoding="utf-8") as f:
        mlco2 = [{
            "provider": r["provider"], "region": r["region"] or r["regionName"].lower().replace(" ", "-"),
            "region_name": r["regionName"], "country": r["country"], "state": r["state"], "city": r["city"],
            "intensity": float(r["impact"]), "pue": opt_float(r["PUE"]), "source": r["source"].strip(),
            "comment": r["comment"],
        } for r in csv.DictReader(f)]
    owid_raw = json.loads((raw / "annual/owid-country-energy-mix.json").read_text(encoding="utf-8"))
    owid = {k: {"name": v["country_name"], "year": v["year"], "intensity": v["carbon_intensity"],
                "cfe": round(v["low_carbon_TWh"] / v["total_TWh"], 4) if v["total_TWh"] else None}
            for k, v in sorted(owid_raw.items()) if v.get("carbon_intensity") is not None}
    ember_raw = json.loads((raw / "annual/ember-country-averages.json").read_text(encoding="utf-8"))
    ember = {v["country_code"]: {"name": v["country_or_region"], "year": v["year"],
                                 "intensity": v["emissions_intensity_gco2_per_kwh"]}
             for v in sorted(ember_raw.values(), key=lambda v: v["country_code"]) if len(v["country_code"]) == 3}
    return {
        "gcp": {"source": SRC["gcp"][0], "licence": SRC["gcp"][1], "units": "gCO2e/kWh", "years": gcp},
        "mlco2": {"source": SRC["mlco2"][0], "licence": SRC["mlco2"][1], "units": "gCO2e/kWh",
                  "basis": "unspecified", "regions": mlco2},
        "owid": {"source": SRC["owid"][0], "licence": SRC["owid"][1], "units": "gCO2e/kWh",
                 "basis": "lifecycle", "countries": owid},
        "ember": {"source": SRC["ember"][0], "licence": SRC["ember"][1], "units": "gCO2e/kWh",
                  "basis": "lifecycle", "countries": ember},
    }


def write_npz(path, arrays):
    """Like np.savez_compressed, but with fixed zip timestamps (byte-for-byte reproducible)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for key in sorted(arrays):
            a = arrays[key]
            a = a.astype(np.uint8 if a.dtype == np.uint8 else np.float32)
            info = zipfile.ZipInfo(f"{key}.npy", date_time=ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            data = io.BytesIO()
            np.lib.format.write_array(data, np.ascontiguousarray(a), allow_pickle=False)
            zf.writestr(info, data.getvalue())
    path.write_bytes(buf.getvalue())


def write_json(path, obj):
    path.write_text(json.dumps(obj, indent=1, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("raw", type=Path, help="raw grid data folder (contains hourly/ and annual/)")
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parent.parent / "carbonsim" / "grid" / "data")
    args = ap.parse_args(argv)
    arrays, index = {}, []
    for path in sorted((args.raw / "hourly/eia930-2022").glob("*.csv")):
        index += read_eia(path, arrays)
    for path in sorted((args.raw / "hourly/electricitymaps-2023").glob("*.csv")):
        index += read_em(path, arrays)
    if not index:
        sys.exit(f"{args.raw}: no hourly files found under hourly/eia930-2022 or hourly/electricitymaps-2023")
    args.out.mkdir(parents=True, exist_ok=True)
    write_npz(args.out / "grid_hourly.npz", arrays)
    write_json(args.out / "grid_index.json", {"format": 1, "series": index})
    write_json(args.out / "grid_annual.json", read_annual(args.raw))
    for name in ("grid_hourly.npz", "grid_index.json", "grid_annual.json"):
        print(f"{args.out / name}: {(args.out / name).stat().st_size / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
