"""Screenshots of a results folder's HTML report, as docs/ shows them: the whole page at 1400
and 800 px wide, in the system's headless Chromium (pip install playwright; apt-get install
chromium). Taken from a real `benchbench run quickstart`:

    benchbench run quickstart -o /tmp/quickstart
    python docs/screenshots/take_screenshots.py /tmp/quickstart/report.html docs/screenshots
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from playwright.sync_api import sync_playwright


def main(report: Path, folder: Path) -> None:
    chromium = shutil.which("chromium") or shutil.which("google-chrome")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        for width in (1400, 800):
            page = browser.new_page(viewport={"width": width, "height": 1000})
            page.goto(report.resolve().as_uri())
            target = folder / f"report-quickstart-{width}.png"
            page.screenshot(path=str(target), full_page=True)
            print(f"wrote {target}")
        browser.close()


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
