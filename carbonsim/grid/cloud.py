"""Cloud regions on the grids they draw from: which bundled hourly series a region uses.

A cloud region is a set of datacenters in one place; the electricity it draws is that of
the grid there.  ``REGIONS`` maps each AWS, Google Cloud and Azure region to that grid and,
where the bundle has an hourly series of it, to the series:

- US regions: the balancing authority's EIA-930 series (``eia:<BA>``, 2022, lifecycle);
- elsewhere: the Electricity Maps zone's lifecycle series (``em:<zone>/lifecycle``, 2023),
  so that every cloud name is on one basis (lifecycle) whatever the country.

Sources: the grid of each region is the Green Software Foundation's Cloud Region Metadata
(github.com/Green-Software-Foundation/real-time-cloud, Cloud_Region_Metadata.csv, columns
``cfe-region`` and ``em-zone-id``; rows of 2024 for AWS and Google Cloud, 2023 for Azure),
which takes the grid regions from the providers' own sustainability reports (Google's CFE
regions, Microsoft's datacenter fact sheets); region locations are the providers' region
pages (AWS "Regions and Availability Zones", Google Cloud "Cloud locations", Azure
"Azure geographies").  Where those sources disagree, or give no grid, the region is listed
without a series and the note says why.  The table is documented in docs/grid-data.md.
"""
from __future__ import annotations

#: provider -> region -> (bundled hourly series or None, location, the grid it draws from[, note]).
REGIONS: dict[str, dict[str, tuple]] = {
    "aws": {
        "us-east-1": ("eia:PJM", "US East (N. Virginia)", "PJM"),
        "us-east-2": ("eia:PJM", "US East (Ohio)", "PJM"),
        "us-west-1": ("eia:CISO", "US West (N. California)", "CAISO"),
        "us-west-2": ("eia:BPAT", "US West (Oregon)", "Bonneville Power Administration (BPA)"),
        "us-gov-east-1": ("eia:PJM", "GovCloud (US-East)", "PJM"),
        "us-gov-west-1": ("eia:BPAT", "GovCloud (US-West)", "Bonneville Power Administration (BPA)"),
        "ca-central-1": (None, "Canada (Central), Montreal", "Quebec (Electricity Maps CA-QC)"),
        "ca-west-1": (None, "Canada West (Calgary)", "Alberta"),
        "eu-central-1": ("em:DE-LU/lifecycle", "Europe (Frankfurt)", "Germany (DE)"),
        "eu-central-2": (None, "Europe (Zurich)", "Switzerland (CH)"),
        "eu-west-1": (None, "Europe (Ireland)", "Ireland (IE)"),
        "eu-west-2": ("em:GB/lifecycle", "Europe (London)", "Great Britain (GB)"),
        "eu-west-3": (None, "Europe (Paris)", "France (FR)"),
        "eu-north-1": (None, "Europe (Stockholm)", "Sweden (SE)"),
        "eu-south-1": (None, "Europe (Milan)", "North Italy (IT-NO)"),
        "eu-south-2": (None, "Europe (Spain)", "Spain (ES)"),
        "ap-northeast-1": ("em:JP-TK/lifecycle", "Asia Pacific (Tokyo)", "Tokyo (JP-TK)"),
        "ap-northeast-2": ("em:KR/lifecycle", "Asia Pacific (Seoul)", "South Korea (KR)"),
        "ap-northeast-3": (None, "Asia Pacific (Osaka)", "Kansai (JP-KN)"),
        "ap-south-1": ("em:IN-WE/lifecycle", "Asia Pacific (Mumbai)", "Western India (IN-WE)"),
        "ap-south-2": (None, "Asia Pacific (Hyderabad)", "Southern India (IN-SO)"),
        "ap-southeast-1": ("em:SG/lifecycle", "Asia Pacific (Singapore)", "Singapore (SG)"),
        "ap-southeast-2": ("em:AU-NSW/lifecycle", "Asia Pacific (Sydney)", "New South Wales (AU-NSW)"),
        "ap-southeast-3": (None, "Asia Pacific (Jakarta)", "Indonesia (ID)"),
        "ap-southeast-4": ("em:AU-VIC/lifecycle", "Asia Pacific (Melbourne)", "Victoria (AU-VIC)"),
        "ap-east-1": (None, "Asia Pacific (Hong Kong)", "Hong Kong (HK)"),
        "sa-east-1": ("em:BR-SP/lifecycle", "South America (Sao Paulo)", "Central Brazil (BR-CS)"),
        "af-south-1": ("em:ZA/lifecycle", "Africa (Cape Town)", "South Africa (ZA)"),
        "me-central-1": (None, "Middle East (UAE)", "United Arab Emirates (AE)"),
        "me-south-1": (None, "Middle East (Bahrain)", "Bahrain (BH)"),
        "il-central-1": (None, "Israel (Tel Aviv)", "Israel (IL)"),
        "cn-north-1": (None, "China (Beijing)", "China"),
        "cn-northwest-1": (None, "China (Ningxia)", "China"),
    },
    "gcp": {
        "us-central1": ("eia:MISO", "Council Bluffs, Iowa", "MISO"),
        "us-east1": (None, "Moncks Corner, South Carolina", "South Carolina Public Service Authority (SC)"),
        "us-east4": ("eia:PJM", "Ashburn, Northern Virginia", "PJM"),
        "us-east5": ("eia:PJM", "Columbus, Ohio", "PJM"),
        "us-south1": ("eia:ERCO", "Dallas, Texas", "ERCOT"),
        "us-west1": ("eia:BPAT", "The Dalles, Oregon", "Bonneville Power Administration (BPA)"),
        "us-west2": ("eia:CISO", "Los Angeles, California", "CAISO",
                     "Google's CFE region and Electricity Maps' zone are CAISO; WattTime places it in LADWP"),
        "us-west3": (None, "Salt Lake City, Utah", "PacifiCorp East (PACE)"),
        "us-west4": (None, "Las Vegas, Nevada", "NV Energy (NEVP)"),
        "northamerica-northeast1": (None, "Montreal", "Quebec (CA-QC)"),
        "northamerica-northeast2": ("em:CA-ON/lifecycle", "Toronto", "Ontario (CA-ON)"),
        "southamerica-east1": ("em:BR-SP/lifecycle", "Osasco, Sao Paulo", "Central Brazil (BR-CS)"),
        "southamerica-west1": ("em:CL-SIC/lifecycle", "Santiago", "Chile (CL-SEN)"),
        "europe-west1": (None, "St. Ghislain, Belgium", "Belgium (BE)"),
        "europe-west2": ("em:GB/lifecycle", "London", "Great Britain (GB)"),
        "europe-west3": ("em:DE-LU/lifecycle", "Frankfurt", "Germany (DE)"),
        "europe-west4": (None, "Eemshaven, Netherlands", "Netherlands (NL)"),
        "europe-west6": (None, "Zurich", "Switzerland (CH)"),
        "europe-west8": (None, "Milan", "North Italy (IT-NO)"),
        "europe-west9": (None, "Paris", "France (FR)"),
        "europe-west10": ("em:DE-LU/lifecycle", "Berlin", "Germany (DE)",
                          "no grid in the GSF table; Berlin is in the German zone"),
        "europe-west12": (None, "Turin", "North Italy (IT-NO)"),
        "europe-central2": (None, "Warsaw", "Poland (PL)"),
        "europe-north1": (None, "Hamina, Finland", "Finland (FI)"),
        "europe-southwest1": (None, "Madrid", "Spain (ES)"),
        "asia-east1": (None, "Changhua County, Taiwan", "Taiwan (TW)"),
        "asia-east2": (None, "Hong Kong", "Hong Kong (HK)"),
        "asia-northeast1": ("em:JP-TK/lifecycle", "Tokyo", "Tokyo (JP-TK)"),
        "asia-northeast2": (None, "Osaka", "Kansai (JP-KN)"),
        "asia-northeast3": ("em:KR/lifecycle", "Seoul", "South Korea (KR)"),
        "asia-south1": ("em:IN-WE/lifecycle", "Mumbai", "Western India (IN-WE)"),
        "asia-south2": (None, "Delhi", "Northern India (IN-NO)"),
        "asia-southeast1": ("em:SG/lifecycle", "Jurong West, Singapore", "Singapore (SG)"),
        "asia-southeast2": (None, "Jakarta", "Indonesia (ID)"),
        "australia-southeast1": ("em:AU-NSW/lifecycle", "Sydney", "New South Wales (AU-NSW)"),
        "australia-southeast2": ("em:AU-VIC/lifecycle", "Melbourne", "Victoria (AU-VIC)"),
        "africa-south1": ("em:ZA/lifecycle", "Johannesburg", "South Africa (ZA)"),
        "me-west1": (None, "Tel Aviv", "Israel (IL)"),
        "me-central2": (None, "Dammam, Saudi Arabia", "Saudi Arabia (SA)"),
    },
    "azure": {
        "eastus": ("eia:PJM", "Virginia (East US)", "PJM"),
        "eastus2": ("eia:PJM", "Virginia (East US 2)", "PJM"),
        "eastus3": ("eia:SOCO", "Georgia (East US 3)", "Southern Company (SOCO)"),
        "centralus": ("eia:MISO", "Iowa (Central US)", "MISO"),
        "northcentralus": (None, "Illinois (North Central US)", "MISO or PJM",
                           "the GSF table gives MISO, but the Chicago area is PJM's ComEd zone"),
        "southcentralus": ("eia:ERCO", "Texas (South Central US)", "ERCOT"),
        "westus": ("eia:CISO", "California (West US)", "CAISO",
                   "Microsoft's West US is in California; the GSF row named westus describes Washington"),
        "westus2": (None, "Washington (West US 2)", "Grant County PUD (GCPD) or BPA",
                    "Quincy, Washington is served by Grant County PUD, its own balancing authority"),
        "westus3": ("eia:AZPS", "Arizona (West US 3)", "Arizona Public Service (AZPS)"),
        "westcentralus": (None, "Wyoming (West Central US)", "WAPA Rocky Mountain (WACM)"),
        "canadacentral": ("em:CA-ON/lifecycle", "Toronto (Canada Central)", "Ontario (CA-ON)"),
        "canadaeast": (None, "Quebec City (Canada East)", "Quebec (CA-QC)"),
        "brazilsouth": ("em:BR-SP/lifecycle", "Sao Paulo State (Brazil South)", "Central Brazil (BR-CS)"),
        "northeurope": (None, "Ireland (North Europe)", "Ireland (IE)"),
        "westeurope": (None, "Netherlands (West Europe)", "Netherlands (NL)"),
        "uksouth": ("em:GB/lifecycle", "London (UK South)", "Great Britain (GB)"),
        "ukwest": ("em:GB/lifecycle", "Cardiff (UK West)", "Great Britain (GB)"),
        "francecentral": (None, "Paris (France Central)", "France (FR)"),
        "francesouth": (None, "Marseille (France South)", "France (FR)"),
        "germanywestcentral": ("em:DE-LU/lifecycle", "Frankfurt (Germany West Central)", "Germany (DE)"),
        "germanynorth": ("em:DE-LU/lifecycle", "Berlin (Germany North)", "Germany (DE)"),
        "swedencentral": (None, "Gavle and Sandviken (Sweden Central)", "Sweden (SE)"),
        "italynorth": (None, "Milan (Italy North)", "North Italy (IT-NO)"),
        "polandcentral": (None, "Warsaw (Poland Central)", "Poland (PL)"),
        "spaincentral": (None, "Madrid (Spain Central)", "Spain (ES)"),
        "japaneast": ("em:JP-TK/lifecycle", "Tokyo, Saitama (Japan East)", "Tokyo (JP-TK)"),
        "japanwest": (None, "Osaka (Japan West)", "Kansai (JP-KN)"),
        "koreacentral": ("em:KR/lifecycle", "Seoul (Korea Central)", "South Korea (KR)"),
        "koreasouth": ("em:KR/lifecycle", "Busan (Korea South)", "South Korea (KR)"),
        "southeastasia": ("em:SG/lifecycle", "Singapore (Southeast Asia)", "Singapore (SG)"),
        "eastasia": (None, "Hong Kong (East Asia)", "Hong Kong (HK)"),
        "australiaeast": ("em:AU-NSW/lifecycle", "New South Wales (Australia East)", "New South Wales (AU-NSW)"),
        "australiasoutheast": ("em:AU-VIC/lifecycle", "Victoria (Australia Southeast)", "Victoria (AU-VIC)"),
        "australiacentral": ("em:AU-NSW/lifecycle", "Canberra (Australia Central)", "New South Wales (AU-NSW)",
                             "the ACT is part of the NEM's New South Wales region"),
        "australiacentral2": ("em:AU-NSW/lifecycle", "Canberra (Australia Central 2)", "New South Wales (AU-NSW)",
                              "the ACT is part of the NEM's New South Wales region"),
        "centralindia": ("em:IN-WE/lifecycle", "Pune (Central India)", "Western India (IN-WE)"),
        "westindia": ("em:IN-WE/lifecycle", "Mumbai (West India)", "Western India (IN-WE)"),
        "southindia": (None, "Chennai (South India)", "Southern India (IN-SO)"),
        "southafricanorth": ("em:ZA/lifecycle", "Johannesburg (South Africa North)", "South Africa (ZA)"),
        "southafricawest": ("em:ZA/lifecycle", "Cape Town (South Africa West)", "South Africa (ZA)"),
    },
}

PROVIDER_NAMES = {"aws": "AWS", "gcp": "Google Cloud", "azure": "Azure"}
MAPPING_SOURCE = ("region -> grid: Green Software Foundation Cloud Region Metadata (real-time-cloud); "
                  "carbonsim/grid/cloud.py, docs/grid-data.md")


def region(provider: str, name: str) -> dict | None:
    """What is known of one cloud region: series (or None), location, grid, note."""
    row = REGIONS.get(provider, {}).get(name)
    if row is None:
        return None
    series, location, grid, *note = row
    return {"series": series, "location": location, "grid": grid, "note": note[0] if note else ""}


def cloud_entries(cat: dict) -> dict[str, dict]:
    """Catalog entries for cloud names, given the bundle's catalog of series and annual tables.

    ``aws:R``, ``azure:R``, ``gcp:R`` and ``mlco2:P:R`` load the hourly series of R's grid where
    the bundle has one, else the annual figure with a warning; ``NAME@annual`` is the annual
    figure (Google's table for gcp:, mlco2/impact's for the others).
    """
    out: dict[str, dict] = {}
    annual_of = {}
    for provider in ("aws", "gcp", "azure"):
        names = {r for r in REGIONS[provider]}
        names |= {e["region"] for k, e in cat.items() if k.startswith(f"mlco2:{provider}:")}
        if provider == "gcp":
            names |= {e["region"] for k, e in cat.items() if k.startswith("gcp:") and "@" not in k}
        for r in sorted(names):
            own = f"gcp:{r}" if provider == "gcp" else None
            ml = f"mlco2:{provider}:{r}"
            annual_of[f"{provider}:{r}"] = own if own in cat else (ml if ml in cat else None)
            if ml in cat:
                annual_of[ml] = ml
    for name, annual in annual_of.items():
        parts = name.split(":")
        provider, r = parts[-2], parts[-1]
        info = region(provider, r) or {"series": None, "location": "", "grid": "", "note": ""}
        base = dict(cat[annual]) if annual else None
        where = f"{PROVIDER_NAMES[provider]} {r}" + (f", {info['location']}," if info["location"] else "")
        extra = {"provider": provider, "location": info["location"], "grid": info["grid"],
                 "mapping_note": info["note"]}
        if annual:
            table = f"{base['source']}" + (f" {base['year']}" if base["year"] else "")
            out[f"{name}@annual"] = dict(base, name=f"{name}@annual", series=table, **extra)
        if info["series"] is not None:
            s = cat[info["series"]]
            out[name] = {**{k: v for k, v in s.items() if k != "_load"}, "name": name, "region": r,
                         "series": info["series"], **extra,
                         "_load": ("cloud", info["series"], where, info["grid"], info["note"],
                                   f"{name}@annual" if annual else None)}
        elif annual:
            grid = (f"the {info['grid']} grid, which has no bundled hourly series" if info["grid"]
                    else "a grid the bundle maps to no hourly series")
            warning = (f"{name}: {where} draws from {grid}; using the annual figure {name}@annual "
                       f"({base['mean']:g} gCO2e/kWh{', ' + str(base['year']) if base['year'] else ''}, "
                       f"{base['basis']}) at every hour (write grid = \"{name}@annual\" to choose it without "
                       "this warning)")
            out[name] = dict(base, name=name, series=f"{name}@annual", **extra,
                             _load=("cloud-annual", f"{name}@annual", warning))
    return out
