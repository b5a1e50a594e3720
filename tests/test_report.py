"""carbonsim report: one self-contained HTML file, checked as markup and in a real (headless) browser."""
import os
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

from carbonsim.cli import main

pytest.importorskip("matplotlib")

ROOT = Path(__file__).resolve().parent.parent
SMALL = ROOT / "tests" / "data" / "report-small.toml"
SECTIONS = {"summary", "workloads", "lifecycle", "hourly", "policies", "serving", "sweep", "uncertainty", "sources"}
EXTERNAL = re.compile(r"^\s*(https?:)?//", re.I)


class Markup(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags: dict[str, int] = {}
        self.ids: set[str] = set()
        self.links: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags[tag] = self.tags.get(tag, 0) + 1
        for k, v in attrs:
            if k == "id":
                self.ids.add(v)
            if k in ("src", "href", "xlink:href", "action", "poster", "data", "srcset") and v:
                self.links.append(v)

    def handle_data(self, data):
        self.text.append(data)


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    out = tmp_path_factory.mktemp("report") / "report.html"
    assert main(["report", str(SMALL), "-o", str(out), "--samples", "64", "--no-progress"]) == 0
    return out


def parse(html: str) -> Markup:
    m = Markup()
    m.feed(html)
    return m


def test_report_has_every_section_tables_and_figures(report):
    html = report.read_text()
    m = parse(html)
    assert SECTIONS <= m.ids
    assert m.tags.get("table", 0) >= 9          # datacenters, workloads, phases, policies, serving, sweep, 3 mc
    assert m.tags.get("svg", 0) >= 8            # lifecycle, 2 hourly, intensity, savings, sweep, histogram, tornado
    text = " ".join(m.text)
    for label in ("experiments", "model", "api", "eia:CISO", "gross CO2e (t)", "facility energy (MWh)",
                  "datacenter california: PUE", "net CO2e (kg per hour)", "latency", "p5 = ", "median = "):
        assert label in text, label
    assert "workloads.training[0]" not in text.split("uncertain inputs")[0]   # figures name fields in words


def test_report_is_self_contained(report):
    html = report.read_text()
    m = parse(html)
    assert "script" not in m.tags and "link" not in m.tags and "iframe" not in m.tags
    assert not [u for u in m.links if EXTERNAL.match(u)]
    assert all(u.startswith("#") for u in m.links)         # only links within the page
    assert not re.search(r"url\(\s*['\"]?(https?:)?//", html)
    assert "@import" not in html and "<!DOCTYPE svg" not in html


def test_report_default_output_name(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["report", str(ROOT / "scenarios" / "patterson2021.toml"), "--no-progress"]) == 0
    html = (tmp_path / "patterson2021.html").read_text()
    m = parse(html)
    assert {"summary", "workloads", "lifecycle", "hourly", "sources"} <= m.ids
    assert "policies" not in m.ids and "uncertainty" not in m.ids and "sweep" not in m.ids
    assert "wrote patterson2021.html" in capsys.readouterr().err


# ---------------------------------------------------------------------------
# In a browser
# ---------------------------------------------------------------------------


def _browser():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


def _open(browser, page: Path, profile: Path, *extra, timeout=60):
    cmd = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           f"--user-data-dir={profile}",
           # nothing leaves the machine: every request goes to a closed local port, no name resolves
           "--proxy-server=127.0.0.1:9", "--host-resolver-rules=MAP * ~NOTFOUND",
           "--enable-logging=stderr", "--v=0", *extra, page.as_uri()]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)


CHROMIUM_SERVICES = re.compile(r"^https?://([a-z0-9-]+\.)*(google\.com|googleapis\.com|gstatic\.com|gvt1\.com)/")


@pytest.mark.skipif(_browser() is None and not os.environ.get("CI"),
                    reason="no Chromium here (apt-get install chromium); CI installs it and runs this test")
def test_report_in_a_headless_browser(report, tmp_path):
    browser = _browser()
    assert browser is not None, "CI must have Chromium (.ci/run installs it)"
    netlog = tmp_path / "net.json"
    dom = _open(browser, report, tmp_path / "profile-dom", "--dump-dom", f"--log-net-log={netlog}")
    assert dom.returncode == 0, dom.stderr[-2000:]
    m = parse(dom.stdout)
    assert SECTIONS <= m.ids
    assert m.tags.get("table", 0) >= 9 and m.tags.get("svg", 0) >= 8 and m.tags.get("figure", 0) >= 8
    assert not [u for u in m.links if EXTERNAL.match(u)]
    console = [line for line in dom.stderr.splitlines() if "CONSOLE" in line or "Uncaught" in line]
    assert console == []
    # the page asked for nothing but itself (Chromium's own service requests aside, sent nowhere here)
    urls = set(re.findall(r'"url":"([^"]+)"', netlog.read_text())) if netlog.exists() else set()
    assert [u for u in urls if not u.startswith("file:") and not CHROMIUM_SERVICES.match(u)] == []

    shot = tmp_path / "report.png"
    run = _open(browser, report, tmp_path / "profile-shot", f"--screenshot={shot}", "--window-size=1200,2400",
                "--hide-scrollbars")
    assert run.returncode == 0 and shot.exists(), run.stderr[-2000:]
    from PIL import Image
    with Image.open(shot) as im:
        assert im.format == "PNG" and im.size == (1200, 2400)
        colours = im.convert("RGB").getcolors(maxcolors=1 << 16)
        assert colours is None or len(colours) > 50       # text, tables and figures, not a blank page
        # the header band (the report's accent colour) and white page both show
        rgb = im.convert("RGB")
        assert rgb.getpixel((5, 5)) != rgb.getpixel((5, 600))
