"""The report in a real headless browser: Debian's ``chromium`` opens it from ``file://`` with
networking features off; the DOM has every family, version and rollback marker, the
screenshot is not blank and the console shows no error. ``.ci/run`` installs chromium when it
is missing; without it (outside CI) these tests are skipped."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from vml_testkit.registry import run_cli
from vml_testkit.report import build_registry

CHROMIUM = shutil.which("chromium")
pytestmark = [pytest.mark.browser, pytest.mark.slow,
              pytest.mark.skipif(CHROMIUM is None and not os.environ.get("CI"),
                                 reason="no chromium on PATH (.ci/run installs Debian's package)")]
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--enable-logging=stderr", "--v=0"]


def chromium(tmp_path, url: str, *args: str) -> subprocess.CompletedProcess:
    assert CHROMIUM, "chromium is not installed: run .ci/run, which installs Debian's package"
    proc = subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={tmp_path / 'profile'}", *args, url],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc


def console_errors(stderr: str) -> list:
    return [line for line in stderr.splitlines() if "Uncaught" in line or "ERROR:CONSOLE" in line]


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    base = tmp_path_factory.mktemp("browser")
    built = build_registry(base / "repo")
    proc = run_cli(built["repo"], "report", "-o", str(base / "site"))
    assert proc.returncode == 0, proc.stderr
    return dict(built, index=base / "site" / "index.html")


def test_the_dom_has_every_family_version_and_rollback(site, tmp_path):
    index = chromium(tmp_path, site["index"].as_uri(), "--dump-dom")
    assert console_errors(index.stderr) == []
    for family, versions in site["families"].items():
        assert f">{family}</a>" in index.stdout and versions[-1] in index.stdout
        page = chromium(tmp_path, (site["index"].parent / "families" / f"{family}.html").as_uri(), "--dump-dom")
        assert console_errors(page.stderr) == []
        for version in versions:
            assert f'id="{version}"' in page.stdout
        assert ("data-event=\"rollback\"" in page.stdout) == (family == "intent")
        assert page.stdout.count("<svg") == 2


def test_the_screenshot_is_not_blank(site, tmp_path):
    image = pytest.importorskip("PIL.Image")  # Pillow comes with matplotlib (the report extra)
    png = tmp_path / "intent.png"
    proc = chromium(tmp_path, (site["index"].parent / "families" / "intent.html").as_uri(),
                    f"--screenshot={png}", "--window-size=1200,900")
    assert console_errors(proc.stderr) == []
    with image.open(png) as shot:
        assert shot.size == (1200, 900)
        colours = shot.convert("RGB").getcolors(maxcolors=1 << 20)
    white = sum(count for count, rgb in colours if rgb == (255, 255, 255))
    assert len(colours) > 50 and white < 0.95 * 1200 * 900
    assert any(r > 200 and g < 80 and b < 80 for _, (r, g, b) in colours)  # the red rollback marks


def test_the_console_check_sees_a_script_error(tmp_path):
    """The check above is worth something: a page that throws is caught by it."""
    page = tmp_path / "broken.html"
    page.write_text("<!DOCTYPE html><html><body><script>throw new Error('boom')</script></body></html>")
    proc = chromium(tmp_path, page.as_uri(), "--dump-dom")
    assert console_errors(proc.stderr), proc.stderr[-2000:]
