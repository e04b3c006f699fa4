"""A rendered HTML file as a reader's browser shows it: Debian's headless Chromium driven by Selenium 4, with
networking off, for tests/test_report_browser.py.

``browser()`` starts one Chrome (Debian's ``/usr/bin/chromium`` through Debian's ``/usr/bin/chromedriver``,
both given explicitly, so Selenium Manager never looks for or downloads a driver or a browser). Networking is
off three ways: launch flags send every connection to a dead proxy (127.0.0.1:9, loopback included) and map
every host name to NOTFOUND, and DevTools emulates an offline network. Whatever the page still *tried* is
recorded from the performance log (``Network.requestWillBeSent``), so a test can fail on any request that is
not ``file:`` or ``data:``.

``Browser.inspect(path)`` loads one file and returns its facts as a dict:

- ``requests``: every URL the page requested; ``external``: those not ``file:``/``data:``;
- ``title``, ``lang``: the document's title and language; ``main_text_length``: the length of ``<main>``'s
  text (None without a ``<main>``);
- ``text_length``, ``cjk_chars``: the length of the visible text (``innerText``) and its count of CJK characters;
- ``fonts``: for a few text nodes (h1, first th, first td, ...), the node's text and the platform fonts Chromium
  drew its glyphs with (``CSS.getPlatformFontsForNode``: family name and glyph count);
- ``layout``: per viewport width (A4-ish 1240 px, a narrow 800 px, a phone's 390 px), the document's scroll and client widths,
  the tables that overflow (beyond their container or the page; a table inside a horizontally scrolling
  wrapper, report.css's ``.table-wrap``, may be wider than it: the wrapper must fit), and the tables that
  scroll inside their wrapper (for information);
- ``screenshot``: the PNG taken at the first width (at most ``SHOT_MAX_HEIGHT`` px of the page), ``shot_size``
  its (width, height) from the PNG header.
"""

from __future__ import annotations

import base64
import json
import re
import struct
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
# A4 at 150 dpi, a narrow window, a phone (report.css: "readable on a phone"; its phone layout is below 640 px)
WIDTHS = (1240, 800, 390)
HEIGHT = 1754
SHOT_MAX_HEIGHT = 6000
LOCAL_SCHEMES = ("file:", "data:")
CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u3000-\u303f\uff00-\uffef]")
CJK_FAMILY = re.compile(r"^Noto (Sans|Serif)( Mono)? CJK")
FONT_NODES = ("h1", "h2", "th", "td", "dd", "li")
OFFLINE = {"offline": True, "latency": 0, "downloadThroughput": 0, "uploadThroughput": 0}

# For every table: does it overflow its container or the page? A table whose nearest horizontally scrolling
# ancestor (report.css: .table-wrap { overflow-x: auto } on screens) holds it may be wider than that ancestor
# (it scrolls, as the stylesheet intends); then the ancestor is what must fit. The label names the table for a
# reader: its caption, else the nearest heading before it, with its index among the page's tables.
LAYOUT_JS = r"""
const de = document.documentElement, page = de.clientWidth;
function label(t, i) {
  const cap = t.querySelector('caption');
  if (cap && cap.innerText.trim()) return `table ${i} "${cap.innerText.trim()}"`;
  for (let el = t; el && el !== document.body; el = el.parentElement) {
    for (let p = el.previousElementSibling; p; p = p.previousElementSibling) {
      const hs = /^H[1-4]$/.test(p.tagName) ? [p] : [...p.querySelectorAll('h1,h2,h3,h4')];
      if (hs.length) return `table ${i} after "${hs[hs.length - 1].innerText.trim()}"`;
    }
  }
  return `table ${i}`;
}
function contentRight(el) {
  const r = el.getBoundingClientRect(), s = getComputedStyle(el);
  return r.right - parseFloat(s.borderRightWidth) - parseFloat(s.paddingRight);
}
const overflowing = [], scrolling = [];
document.querySelectorAll('table').forEach((t, i) => {
  const r = t.getBoundingClientRect();
  if (!r.width) return;
  let wrap = null;
  for (let el = t.parentElement; el && el !== document.body; el = el.parentElement) {
    const o = getComputedStyle(el).overflowX;
    if (o === 'auto' || o === 'scroll') { wrap = el; break; }
  }
  const name = label(t, i);
  if (wrap) {
    const w = wrap.getBoundingClientRect();
    if (w.right > page + 1 || w.right > contentRight(wrap.parentElement) + 1)
      overflowing.push(`${name}: its scrolling wrapper ends at ${Math.round(w.right)} px, page ${page} px`);
    if (wrap.scrollWidth > wrap.clientWidth + 1)
      scrolling.push(`${name}: ${wrap.scrollWidth} px in ${wrap.clientWidth} px`);
  } else {
    const limit = Math.min(page, contentRight(t.parentElement));
    if (r.right > limit + 1)
      overflowing.push(`${name}: ends at ${Math.round(r.right)} px, its container at ${Math.round(limit)} px`);
  }
});
return {scroll_width: de.scrollWidth, client_width: page, overflowing, scrolling,
        tables: document.querySelectorAll('table').length};
"""


class BrowserMissing(RuntimeError):
    pass


def _png_size(data: bytes) -> tuple[int, int]:
    if data[:8] != b"\x89PNG\r\n\x1a\n" or data[12:16] != b"IHDR":
        return (0, 0)
    return struct.unpack(">II", data[16:24])


class Browser:
    def __init__(self, driver, shots: Path):
        self.driver = driver
        self.shots = shots

    def cdp(self, cmd: str, params: dict | None = None) -> dict:
        return self.driver.execute_cdp_cmd(cmd, params or {})

    def _requests(self) -> list[str]:
        urls = []
        for entry in self.driver.get_log("performance"):
            message = json.loads(entry["message"])["message"]
            if message.get("method") == "Network.requestWillBeSent":
                urls.append(message["params"]["request"]["url"])
        return urls

    def _viewport(self, width: int) -> None:
        self.cdp(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": HEIGHT, "deviceScaleFactor": 1, "mobile": False},
        )

    def _fonts(self) -> dict[str, dict]:
        self.cdp("DOM.enable")
        self.cdp("CSS.enable")
        root = self.cdp("DOM.getDocument", {"depth": 0})["root"]["nodeId"]
        fonts = {}
        for selector in FONT_NODES:
            node = self.cdp("DOM.querySelector", {"nodeId": root, "selector": selector})["nodeId"]
            if not node:
                continue
            text = self.driver.execute_script(
                "const e = document.querySelector(arguments[0]); return e ? e.innerText : '';", selector
            )
            used = self.cdp("CSS.getPlatformFontsForNode", {"nodeId": node})["fonts"]
            fonts[selector] = {"text": text.strip()[:80], "fonts": {f["familyName"]: f["glyphCount"] for f in used}}
        self.cdp("CSS.disable")
        self.cdp("DOM.disable")
        return fonts

    def inspect(self, path: Path, name: str | None = None) -> dict:
        """The facts of one HTML file as Chromium renders it offline (see the module's docstring)."""
        self._requests()  # drain what earlier pages left
        self._viewport(WIDTHS[0])
        self.driver.get(Path(path).resolve().as_uri())
        self.driver.execute_script("return document.fonts.ready.then(() => true)")
        requests = self._requests()
        text = self.driver.execute_script("return document.body ? document.body.innerText : ''")
        facts = {
            "path": str(path),
            "title": self.driver.title.strip(),
            "lang": self.driver.execute_script("return document.documentElement.lang"),
            "main_text_length": self.driver.execute_script(
                "const m = document.querySelector('main'); return m ? m.innerText.trim().length : null"
            ),
            "requests": requests,
            "external": [u for u in requests if not u.startswith(LOCAL_SCHEMES)],
            "text_length": len(text),
            "cjk_chars": len(CJK.findall(text)),
            "fonts": self._fonts(),
            "layout": {},
        }
        for i, width in enumerate(WIDTHS):
            if i:
                self._viewport(width)
            facts["layout"][width] = self.driver.execute_script(LAYOUT_JS)
            if not i:
                facts.update(self._screenshot(path, name))
        facts["external"] += [u for u in self._requests() if not u.startswith(LOCAL_SCHEMES)]
        return facts

    def count(self, selector: str) -> int:
        """How many elements of the page loaded last match ``selector``."""
        return self.driver.execute_script("return document.querySelectorAll(arguments[0]).length", selector)

    def _screenshot(self, path: Path, name: str | None) -> dict:
        height = self.driver.execute_script("return document.documentElement.scrollHeight")
        clip = {"x": 0, "y": 0, "width": WIDTHS[0], "height": min(height, SHOT_MAX_HEIGHT), "scale": 1}
        shot = self.cdp("Page.captureScreenshot", {"format": "png", "clip": clip, "captureBeyondViewport": True})
        data = base64.b64decode(shot["data"])
        target = self.shots / f"{name or Path(path).stem}.png"
        target.write_bytes(data)
        return {"screenshot": target, "shot_size": _png_size(data), "shot_bytes": len(data)}


def missing() -> str | None:
    """What to do when Debian's chromium or chromedriver is not installed, else None."""
    absent = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.exists()]
    if not absent:
        return None
    return f"{' and '.join(absent)} not found: run scripts/setup.sh (it installs Debian's chromium and chromium-driver)"


@contextmanager
def browser(shots: Path) -> Iterator[Browser]:
    """One headless Chromium, networking off, screenshots written to ``shots``. Raises BrowserMissing (with
    what to do) when Debian's chromium or chromedriver is not installed."""
    if problem := missing():
        raise BrowserMissing(problem)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        f"--window-size={WIDTHS[0]},{HEIGHT}",
        "--proxy-server=127.0.0.1:9",
        "--proxy-bypass-list=<-loopback>",
        "--host-resolver-rules=MAP * ~NOTFOUND",
        "--no-first-run",
        "--no-default-browser-check",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-extensions",
        "--hide-scrollbars",
        "--lang=zh-CN",
    ):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL"})
    shots.mkdir(parents=True, exist_ok=True)
    driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
    try:
        driver.set_page_load_timeout(30)
        driver.execute_cdp_cmd("Network.enable", {})
        driver.execute_cdp_cmd("Network.emulateNetworkConditions", OFFLINE)
        yield Browser(driver, shots)
    finally:
        driver.quit()
