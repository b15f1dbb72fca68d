"""``secmsg portal serve`` in a real browser: the command runs as a process
on a free loopback port, headless Chromium (Debian's ``chromium`` and
``chromium-driver``, driven by Selenium) opens the link of a notification
delivered to the outbox, reads, replies, and reloads after the copy has
expired. Each page is saved as a screenshot into the test's folder; the
assertions are on what the page shows and which actions are disabled."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import FIXTURES
from tests.helpers import ok
from tests.web.conftest import links_in, outbox_kinds

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
AT = "2026-11-28T09:00:00Z"  # the server's clock: a day after sending

pytestmark = [
    pytest.mark.slow,
    pytest.mark.browser,
    pytest.mark.skipif(
        not (CHROMIUM.exists() and CHROMEDRIVER.exists()),
        reason="needs Debian's chromium and chromium-driver (/usr/bin/chromium, "
        "/usr/bin/chromedriver); .ci/run installs them",
    ),
]


@pytest.fixture
def server(demo, tmp_path, _isolated_store):
    """``secmsg portal serve --port 0`` on the demo store; yields its URL."""
    outbox = tmp_path / "outbox"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "secmsg_cli",
            "portal",
            "serve",
            "--port",
            "0",
            "--at",
            AT,
            "--outbox",
            str(outbox),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "SECMSG_DB": str(_isolated_store)},
    )
    try:
        line = proc.stdout.readline()
        assert line.startswith("Serving the Secure Messaging Portal at http://127.0.0.1:"), (
            line + proc.stderr.read()
        )
        url = line.split(" at ", 1)[1].split()[0]
        yield url, outbox, demo
    finally:
        proc.send_signal(signal.SIGINT)  # Ctrl-C
        try:
            _, err = proc.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
    assert proc.returncode == 130, err
    assert "Traceback" not in err


@pytest.fixture
def browser(tmp_path):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        f"--user-data-dir={tmp_path / 'chromium-profile'}",
        "--window-size=1024,900",
    ):
        options.add_argument(flag)
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    options.add_experimental_option(
        "prefs",
        {"download.default_directory": str(downloads), "download.prompt_for_download": False},
    )
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.execute_cdp_cmd(
        "Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)}
    )
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


def shot(driver, tmp_path: Path, name: str) -> None:
    path = tmp_path / f"{name}.png"
    assert driver.save_screenshot(str(path)) and path.stat().st_size > 0


def element(driver, css: str):
    from selenium.webdriver.common.by import By

    return driver.find_element(By.CSS_SELECTOR, css)


def page_kind(driver) -> str:
    return element(driver, "main").get_attribute("data-page")


def wait_for_page(driver, kind: str) -> None:
    """Until the page that a click led to is there (the old one goes stale first)."""
    from selenium.common.exceptions import (
        NoSuchElementException,
        StaleElementReferenceException,
        TimeoutException,
    )
    from selenium.webdriver.support.ui import WebDriverWait

    def arrived(d) -> bool:
        try:
            return page_kind(d) == kind
        except (NoSuchElementException, StaleElementReferenceException):
            return False

    try:
        WebDriverWait(driver, 15).until(arrived)
    except TimeoutException:
        text = driver.execute_script("return document.body ? document.body.innerText : ''")
        pytest.fail(f"no {kind} page at {driver.current_url}: {text[:500]!r}")


def delivered(server, message: Path) -> dict[int, str]:
    """Point the account's portal_url at the running portal, deliver
    ``message`` a day before the server's clock, and give each portal copy's
    notification link (copy id -> link)."""
    url, outbox, cli = server
    ok(cli("account", "set", "--portal-url", url.rstrip("/")))
    ok(cli("-q", "deliver", message, "--outbox", outbox, "--at", "2026-11-27T10:00:00Z"))
    return links_in(outbox)


def open_link(driver, link: str) -> None:
    """Follow a notification's link and press the page's button."""
    driver.get(link)
    wait_for_page(driver, "open")
    element(driver, "#open").click()
    wait_for_page(driver, "message")


def test_open_read_reply_and_reload_after_expiry(server, browser, tmp_path):
    url, outbox, cli = server
    link = delivered(server, FIXTURES / "messages" / "01-confidential-subject-to-counsel.eml")[1]
    assert link.startswith(url.rstrip("/") + "?token=")

    browser.get(link)
    wait_for_page(browser, "open")
    assert "The sender will be told when you open it." in element(browser, "main").text
    shot(browser, tmp_path, "0-open")
    assert [k for k, _ in outbox_kinds(outbox)] == ["notification"]  # not read yet
    element(browser, "#open").click()
    wait_for_page(browser, "message")
    assert "token=" not in browser.current_url  # exchanged for a session
    assert "Project Heron" in element(browser, "h1").text
    assert "Available until 2026-12-04 10:00 GMT" in element(browser, "#status").text
    assert element(browser, "#reply").is_enabled()
    assert not element(browser, "#reply-all").is_enabled()
    assert not element(browser, "#print").is_enabled()
    shot(browser, tmp_path, "1-message")
    assert ("read-receipt", "Alice Morgan <alice.morgan@harborfinch.com>") in outbox_kinds(outbox)

    element(browser, "#reply-body").send_keys("Thank you, received.")
    element(browser, "#reply").click()
    wait_for_page(browser, "sent")
    assert "Your reply was sent to alice.morgan@harborfinch.com." in element(browser, "main").text
    shot(browser, tmp_path, "2-reply-sent")
    replies = [to for kind, to in outbox_kinds(outbox) if kind == "reply"]
    assert replies == ["Alice Morgan <alice.morgan@harborfinch.com>"]

    ok(cli("portal", "expire", "1", "--at", "2026-11-28T08:00:00Z"))
    browser.get(url)  # the message again: reloaded after expiry
    wait_for_page(browser, "expired")
    assert "This secure message has expired" in element(browser, "h1").text
    assert "Project Heron" not in browser.page_source
    shot(browser, tmp_path, "3-expired")


def test_phone_width_print_and_a_wrong_link(server, browser, tmp_path):
    link = next(
        iter(delivered(server, FIXTURES / "messages" / "03-mixed-internal-external.eml").values())
    )
    browser.set_window_size(390, 844)
    open_link(browser, link)
    assert all(element(browser, f"#{b}").is_enabled() for b in ("reply", "reply-all", "print"))
    overflow = browser.execute_script(
        "return document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0, "the page scrolls sideways at phone width"
    shot(browser, tmp_path, "4-phone")

    element(browser, "#print").click()
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(browser, 15).until(lambda d: "/print" in d.current_url)
    assert "Printed from the Secure Messaging Portal" in browser.page_source
    shot(browser, tmp_path, "5-print")

    browser.get(link[:-3] + "xyz")
    wait_for_page(browser, "refused")
    assert "This link does not open a secure message" in element(browser, "h1").text
    shot(browser, tmp_path, "6-refused")


def test_an_attachment_downloads_into_the_browsers_downloads(server, browser, tmp_path):
    message = FIXTURES / "messages" / "04-finance-card-number-attachment.eml"
    link = next(iter(delivered(server, message).values()))
    import email
    import email.policy

    (attachment,) = email.message_from_bytes(
        message.read_bytes(), policy=email.policy.default
    ).iter_attachments()
    open_link(browser, link)
    link = element(browser, "#attachment-1")
    assert link.text == "card_reconciliation_2026-11.csv"
    link.click()
    saved = tmp_path / "downloads" / "card_reconciliation_2026-11.csv"
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(browser, 15).until(lambda d: saved.exists(), "nothing was downloaded")
    assert saved.read_bytes() == attachment.get_payload(decode=True)
    assert page_kind(browser) == "message"  # a download: the page stays
    shot(browser, tmp_path, "7-downloaded")


HOSTILE = """\
From: Alice Morgan <alice.morgan@harborfinch.com>
To: m.okonkwo@lexpartners.com
Subject: Confidential: pages as attachments
Message-ID: <hostile-browser-1@harborfinch.com>
Date: Thu, 26 Nov 2026 09:14:05 +0000
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="b"

--b
Content-Type: text/plain; charset=utf-8

See attached.
--b
Content-Type: text/html
Content-Disposition: inline; filename*=utf-8''r%C3%A9sum%C3%A9%3Bx%3D%2541%20%22q%22.html

<h1 id="pwned">rendered</h1>
--b
Content-Type: image/svg+xml
Content-Disposition: attachment; filename*=utf-8''%3D%3Futf-8%3Fb%3FZXZpbC5leGU%3D%3F%3D.svg

<svg xmlns="http://www.w3.org/2000/svg"><script>document.title='pwned'</script></svg>
--b--
"""


def test_html_and_svg_attachments_are_saved_under_their_plain_names(server, browser, tmp_path):
    """In Chromium: the file is saved, never shown in the portal's origin,
    under the name filename* gives (not a name the fallback could be read as:
    an encoded-word, a percent escape, a quote or a semicolon)."""
    message = tmp_path / "hostile.eml"
    message.write_text(HOSTILE)
    link = next(iter(delivered(server, message).values()))
    open_link(browser, link)
    from selenium.webdriver.support.ui import WebDriverWait

    expected = {1: "résumé;x=%41 _q_.html", 2: "=_utf-8_b_ZXZpbC5leGU=_=.svg"}
    for n, name in expected.items():
        element(browser, f"#attachment-{n}").click()
        saved = tmp_path / "downloads" / name
        WebDriverWait(browser, 15).until(
            lambda d, saved=saved: saved.exists(),
            f"not saved as {name!r}: {sorted(p.name for p in saved.parent.glob('*'))}",
        )
        assert page_kind(browser) == "message" and browser.title != "pwned"
    assert (tmp_path / "downloads" / expected[1]).read_bytes().startswith(b'<h1 id="pwned">')
