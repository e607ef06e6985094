"""A real headless Chromium (Debian's chromium + chromedriver) driven by selenium, for report tests.

The browser is started the way this machine needs (no sandbox as root, no GPU, no background
networking, a fresh profile); selenium is given the system chromedriver so it never tries to
download one. :class:`Browser` opens a file at a given viewport (phone widths emulated as a
mobile device, so a missing viewport meta tag shows), and reads back what the tests check:
console messages, every request the page made, computed font sizes, overflow, screenshots; and
taps with real touch events (:meth:`Browser.tap`). Screenshots the tests add to :data:`SHOTS` are
listed at the end of the pytest run.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import tempfile
from pathlib import Path

#: Screenshots of this run, listed by the plot tests' ``pytest_terminal_summary``.
SHOTS: list[Path] = []
CHROMIUM = os.environ.get("SPEX_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("SPEX_CHROMEDRIVER", "/usr/bin/chromedriver")
FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--hide-scrollbars",
    "--force-device-scale-factor=1",
)


def missing_parts() -> list[str]:
    """What of the browser set-up is missing here (empty when the tests can run)."""
    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if shutil.which(p) is None]
    try:
        import selenium  # noqa: F401
    except ImportError:
        missing.append("selenium (pip)")
    return missing


class Browser:
    """One headless Chromium session (close it with :meth:`quit`)."""

    def __init__(self) -> None:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service

        self.profile = tempfile.mkdtemp(prefix="spex-chromium-")
        options = webdriver.ChromeOptions()
        options.binary_location = CHROMIUM
        for flag in (*FLAGS, f"--user-data-dir={self.profile}"):
            options.add_argument(flag)
        options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
        self.driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
        self.driver.set_page_load_timeout(30)

    def quit(self) -> None:
        """End the browser and delete its profile."""
        try:
            self.driver.quit()
        finally:
            shutil.rmtree(self.profile, ignore_errors=True)

    def open(self, path: Path, width: int, height: int = 900) -> None:
        """Load ``path`` at a ``width`` CSS px viewport (below 700 px: as a mobile device)."""
        self.driver.execute_cdp_cmd(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 700},
        )
        self.driver.execute_cdp_cmd("Emulation.setTouchEmulationEnabled", {"enabled": width < 700})
        # a headless window never has the OS focus: without this, focus events do not fire
        self.driver.execute_cdp_cmd("Emulation.setFocusEmulationEnabled", {"enabled": True})
        self.driver.get_log("browser")  # drop what earlier pages logged
        self.driver.get_log("performance")
        self.driver.get(Path(path).resolve().as_uri())

    def console(self) -> list[dict]:
        """Console messages and page errors since the last call."""
        return self.driver.get_log("browser")

    def requests(self) -> list[dict]:
        """Every request started since the last call: ``{"url", "document"}`` (the page that
        made it)."""
        out = []
        for entry in self.driver.get_log("performance"):
            message = json.loads(entry["message"])["message"]
            if message.get("method") == "Network.requestWillBeSent":
                params = message["params"]
                out.append({"url": params["request"]["url"], "document": params.get("documentURL")})
        return out

    def tap(self, element, block: str = "center") -> None:
        """A finger's tap on the centre of ``element`` (touch events, as on a phone), after
        scrolling it to ``block`` (``"center"``, ``"end"``: the bottom of the screen, ...)."""
        self.js(f"arguments[0].scrollIntoView({{block: '{block}'}})", element)
        x, y = self.js(
            "var r = arguments[0].getClientRects()[0];"
            "return [r.left + r.width / 2, r.top + r.height / 2];",
            element,
        )
        point = {"x": x, "y": y}
        self.driver.execute_cdp_cmd(
            "Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": [point]}
        )
        self.driver.execute_cdp_cmd(
            "Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []}
        )

    def js(self, script: str, *args):
        """Run ``script`` (a function body; ``arguments`` holds ``args``) and return its result."""
        return self.driver.execute_script(script, *args)

    def screenshot(self, path: Path) -> Path:
        """A PNG of the whole page (beyond the viewport), at the current width."""
        size = self.js(
            "return [document.documentElement.scrollWidth, document.documentElement.scrollHeight]"
        )
        shot = self.driver.execute_cdp_cmd(
            "Page.captureScreenshot",
            {
                "format": "png",
                "captureBeyondViewport": True,
                "clip": {"x": 0, "y": 0, "width": size[0], "height": size[1], "scale": 1},
            },
        )
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(shot["data"]))
        return path
