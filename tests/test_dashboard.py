"""The dashboard at /__emulator/ui: its page and assets, and the page itself clicked through in headless
Chromium (Selenium with Debian's chromium-driver), each control's effect checked through the control API.

Screenshots are written to tmp/test-artifacts/dashboard/ for review.
"""

import secrets
import shutil
from pathlib import Path

import pytest
import requests

from emulator.app import create_app
from emulator.client import AppTransport, EmulatorClient
from emulator.config import EmulatorConfig
from emulator.serving.server import BackgroundServer

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
ARTIFACTS = Path(__file__).resolve().parents[1] / "tmp" / "test-artifacts" / "dashboard"
CONTROL_TOKEN = "ctl-" + secrets.token_hex(8)
WAIT_SECONDS = 15


def test_the_page_is_a_shell_without_state_and_runs_only_its_own_assets(emulator, lp_account):
    lp_account.issue_ext_jwt()
    reply = emulator.transport.send("GET", "/__emulator/ui", params={"namespace": emulator.namespace})
    assert reply.status == 200 and reply.headers["Content-Type"].startswith("text/html")
    assert lp_account.id not in reply.text  # the page asks the control API for everything it shows
    assert 'src="/__emulator/ui/assets/dashboard.js"' in reply.text and "<script>" not in reply.text
    policy = reply.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "connect-src 'self'" in policy and "frame-ancestors 'none'" in policy
    for name, kind in [("dashboard.js", "javascript"), ("dashboard.css", "text/css")]:
        asset = emulator.transport.send("GET", f"/__emulator/ui/assets/{name}")
        assert asset.status == 200 and kind in asset.headers["Content-Type"]
    assert "cdn" not in emulator.transport.send("GET", "/__emulator/ui/assets/dashboard.js").text.lower()


def test_an_unknown_asset_is_a_control_404(emulator):
    for name in ["nope.js", "..%2Fcontrol%2Fbase.py"]:
        reply = emulator.transport.send("GET", f"/__emulator/ui/assets/{name}")
        assert reply.status == 404 and "error" in reply.json()


def test_with_a_control_token_the_page_loads_but_its_data_needs_the_token():
    transport = AppTransport(create_app(EmulatorConfig(control_token="s3cret")))
    assert transport.send("GET", "/__emulator/ui").status == 200
    assert transport.send("GET", "/__emulator/ui/assets/dashboard.js").status == 200
    for path in ["/__emulator/requests", "/__emulator/timeline", "/__emulator/conversations", "/__emulator/namespaces"]:
        assert transport.send("GET", path).status == 401
        assert transport.send("GET", path, params={"token": "s3cret"}).status == 401  # never in a URL
        assert transport.send("GET", path, headers={"X-Emulator-Token": "s3cret"}).status == 200


# --- in a real browser --------------------------------------------------------------------------------

needs_chromium = pytest.mark.skipif(
    CHROMIUM is None or CHROMEDRIVER is None,
    reason="Debian's chromium and chromium-driver are not installed (.ci/run installs them)",
)


@pytest.fixture(scope="module")
def guarded_server():
    """An emulator over HTTP that needs a control token, as a team would run it in docker-compose."""
    with BackgroundServer(create_app(EmulatorConfig(control_token=CONTROL_TOKEN))) as server:
        yield server.url


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    downloads = tmp_path_factory.mktemp("downloads")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in [*CHROMIUM_FLAGS, f"--user-data-dir={tmp_path_factory.mktemp('profile')}", "--window-size=1366,768"]:
        options.add_argument(flag)
    options.add_experimental_option(
        "prefs", {"download.default_directory": str(downloads), "download.prompt_for_download": False}
    )
    driver = webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))
    driver.execute_cdp_cmd("Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)})
    driver.downloads = downloads
    yield driver
    driver.quit()


class Page:
    """The dashboard in the browser, with waits that poll the page (never sleep)."""

    def __init__(self, driver, base_url: str, namespace: str) -> None:
        from selenium.common.exceptions import StaleElementReferenceException
        from selenium.webdriver.common.by import By
        from selenium.webdriver.support.ui import WebDriverWait

        self.driver, self.by, self.stale = driver, By, StaleElementReferenceException
        self.wait = WebDriverWait(driver, WAIT_SECONDS, ignored_exceptions=(StaleElementReferenceException,))
        driver.get(f"{base_url}/__emulator/ui?namespace={namespace}")

    def find(self, css: str):
        return self.driver.find_element(self.by.CSS_SELECTOR, css)

    def all(self, css: str) -> list:
        return self.driver.find_elements(self.by.CSS_SELECTOR, css)

    def click(self, css: str) -> None:
        """Click the element, found again if the live page redrew it meanwhile."""
        self.until(lambda: self._clicked(css), f"could not click {css}")

    def _clicked(self, css: str) -> bool:
        try:
            self.find(css).click()
        except self.stale:
            return False
        return True

    def button(self, text: str):
        return self.driver.find_element(self.by.XPATH, f"//button[normalize-space()='{text}']")

    def fill(self, css: str, text: str) -> None:
        field = self.find(css)
        field.clear()
        field.send_keys(text)

    def until(self, condition, message: str):
        try:
            return self.wait.until(lambda _: condition(), message)
        except Exception:
            self.screenshot("failure")
            print(self.find("#status").text, self.driver.get_log("browser"))
            raise

    def status_says(self, text: str) -> None:
        self.until(
            lambda: text in self.find("#status").text, f"status never said {text!r}: {self.find('#status').text!r}"
        )

    def screenshot(self, name: str) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        assert self.driver.save_screenshot(str(path))
        return path


def seeded(base_url: str, namespace: str, receiver) -> tuple[EmulatorClient, dict]:
    """A namespace with a LivePerson account (and a client secret), a Sunshine app whose webhook posts to
    `receiver` (its first attempt answered 500), a conversation with a message, and three LivePerson
    requests: issue, refresh, and one refused."""
    client = EmulatorClient(base_url, namespace=namespace, token=CONTROL_TOKEN)
    account, app_id, key_id, secret = (
        "77" + str(secrets.randbelow(10**6)).zfill(6),
        secrets.token_hex(12),
        f"app_{secrets.token_hex(12)}",
        secrets.token_urlsafe(18),
    )
    client_secret = "cs-" + secrets.token_hex(10)
    client.seed(
        {
            "liveperson": {
                "accounts": [{"id": account, "apps": [{"client_id": "dash-app", "client_secret": client_secret}]}]
            },
            "sunshine": {"apps": [{"id": app_id, "keys": [{"id": key_id, "secret": secret}]}]},
        }
    )
    client.freeze("2026-03-01T12:00:00Z")
    first = requests.post(f"{base_url}/api/account/{account}/anonymous/authorize", timeout=10).json()["token"]
    requests.post(f"{base_url}/api/account/{account}/anonymous/authorize", json={"id_token": first}, timeout=10)
    requests.post(f"{base_url}/api/account/{account}/anonymous/authorize", json={"id_token": "not-a-token"}, timeout=10)
    sunshine = f"{base_url}/v2/apps/{app_id}"
    auth = (key_id, secret)
    receiver.respond(500, times=1)
    webhook = {"type": "custom", "webhooks": [{"target": receiver.url, "triggers": ["conversation:message"]}]}
    assert requests.post(f"{sunshine}/integrations", json=webhook, auth=auth, timeout=10).status_code == 201
    user = requests.post(f"{sunshine}/users", json={"externalId": "dash-user"}, auth=auth, timeout=10).json()["user"]
    conversation = requests.post(
        f"{sunshine}/conversations",
        json={"type": "personal", "participants": [{"userId": user["id"]}]},
        auth=auth,
        timeout=10,
    ).json()["conversation"]
    message = {"author": {"type": "business"}, "content": {"type": "text", "text": "hello from the business"}}
    assert (
        requests.post(
            f"{sunshine}/conversations/{conversation['id']}/messages", json=message, auth=auth, timeout=10
        ).status_code
        == 201
    )
    return client, {
        "account": account,
        "first_token": first,
        "secrets": [secret, client_secret, first],
        "conversation": conversation["id"],
    }


@needs_chromium
def test_the_dashboard_in_a_browser_shows_requests_tokens_conversations_and_drives_every_control(
    guarded_server, browser, emulator_webhook_receiver
):
    namespace = f"dash-{secrets.token_hex(4)}"
    client, facts = seeded(guarded_server, namespace, emulator_webhook_receiver)
    page = Page(browser, guarded_server, namespace)

    # without the token the page says so; with it, it is live
    page.status_says("needs its control token")
    page.fill("#token", CONTROL_TOKEN)
    page.click("#token-form button[type=submit]")
    page.until(lambda: len(page.all("#request-rows tr")) >= 5, "the journal never showed")
    assert page.find("#clock-now").text == "2026-03-01T12:00:00.000Z" and page.find("#clock-frozen").is_displayed()

    # live: a request made now appears without reload
    rows = len(page.all("#request-rows tr"))
    requests.post(f"{guarded_server}/api/account/{facts['account']}/anonymous/authorize", timeout=10)
    page.until(lambda: len(page.all("#request-rows tr")) == rows + 1, "a new request never appeared")

    # the inspector: the refused refresh, with its reason; the refresh links the token it used and issued
    page.fill("#filter-status", "4xx")
    page.fill("#filter-path", "anonymous/authorize")
    page.until(lambda: len(page.all("#request-rows tr")) == 1, "the filters did not narrow the journal")
    page.click("#request-rows button")
    detail = page.find("#request-detail").text
    assert "401" in detail and "refused:" in detail
    page.fill("#filter-status", "200")
    page.until(lambda: len(page.all("#request-rows tr")) == 3, "status 200 did not select the three good calls")
    page.click("#request-rows tr:nth-child(2) button")  # newest first: the refresh is the second
    page.until(lambda: "Tokens used" in page.find("#request-detail").text, "the refresh never showed its tokens")
    assert "Tokens issued" in page.find("#request-detail").text and "«token" in page.find("#request-detail").text
    page.screenshot("01-request-inspector")
    source = browser.page_source
    for secret in facts["secrets"]:
        assert secret not in source  # masked by the emulator: the page never received them

    # a token link opens the timeline and the token's claims; Expire ends it, through the control API
    used = page.find("#request-detail button.link")
    used_key_prefix = used.text.removeprefix("token ")
    used.click()
    page.until(lambda: "Claims" in page.find("#token-detail").text, "the token's claims never showed")
    assert '"aud": "acc:' in page.find("#token-detail").text
    page.until(
        lambda: len(page.all("#timeline .bar")) >= 2 and page.find("#timeline .now").is_displayed(),
        "no bars or no now line",
    )
    page.screenshot("02-token-timeline")
    page.click("#token-expire")
    page.status_says("Token expired.")
    timeline = client.timeline()
    (expired,) = [token for token in timeline["tokens"] if token["fingerprint"].startswith(used_key_prefix)]
    assert (
        expired["expires_at"] == timeline["now_epoch"] and expired["refresh_until"] > timeline["now_epoch"]
    )  # refreshable still
    live_before = len(client.timeline()["tokens"])
    page.click("#timeline button.bar")
    page.until(lambda: page.all("#token-revoke"), "no revoke button")
    page.click("#token-revoke")
    page.status_says("Token revoked.")
    assert len(client.timeline()["tokens"]) == live_before - 1

    # the clock: a preset, a duration, set, freeze and let run
    page.button("+10 min").click()
    page.status_says("Clock advanced by 10m.")
    assert client.clock() == {"now": "2026-03-01T12:10:00.000Z", "frozen": True}
    page.fill("#advance-by", "90s")
    page.click("#advance-form button")
    page.status_says("Clock advanced by 90s.")
    assert client.clock()["now"] == "2026-03-01T12:11:30.000Z"
    page.fill("#set-to", "2026-04-01T08:00:00Z")
    page.click("#set-form button")
    page.status_says("Clock set.")
    assert client.clock()["now"] == "2026-04-01T08:00:00.000Z"
    page.click("#unfreeze")
    page.status_says("Clock running.")
    assert client.clock()["frozen"] is False
    page.click("#freeze")
    page.status_says("Clock frozen.")
    assert client.clock()["frozen"] is True

    # a fault rule from the form, refused when invalid, then removed from the Faults tab
    page.fill("#fault-path", "/v2/apps/**")
    page.click("#fault-form button[type=submit]")
    page.status_says("Refused: a status fault needs a status")
    assert client.faults() == []
    page.fill("#fault-status", "503")
    page.fill("#fault-times", "2")
    page.click("#fault-form button[type=submit]")
    page.status_says("Fault rule fault-1 added.")
    (rule,) = client.faults()
    assert (
        rule["kind"] == "status"
        and rule["status"] == 503
        and rule["match"]["path"] == "/v2/apps/**"
        and rule["times"] == 2
    )
    page.click("#tab-faults")
    page.until(lambda: "fault-1" in page.find("#fault-rows").text, "the rule never showed")
    page.screenshot("03-faults")
    page.find("#fault-rows button").click()
    page.status_says("Removed fault-1.")
    assert client.faults() == []

    # conversations: the Sunshine conversation with its message
    page.click("#tab-conversations")
    page.until(lambda: "hello from the business" in page.find("#conversations").text, "the conversation never showed")
    assert facts["conversation"] in page.find("#conversations").text
    page.screenshot("04-conversations")

    # webhook deliveries: the message's delivery with its attempts (500, then 200 once the clock moved) and payload
    page.click("#tab-webhooks")
    page.until(
        lambda: "hello from the business" in page.find("#deliveries").get_attribute("textContent"),
        "the delivery never showed",
    )
    attempts = [cell.text for cell in page.all("#deliveries tbody td:nth-child(2)")]
    assert attempts == ["500", "200"] and "delivered" in page.find("#deliveries").text
    page.button("Hold").click()
    page.until(
        lambda: "held" in page.find("#deliveries-held").text and "Release" in page.find("#deliveries-held").text,
        "hold never showed",
    )
    assert client._call("GET", "/deliveries")["held"] is True
    page.button("Release").click()
    page.status_says("Deliveries: release done.")
    assert client._call("GET", "/deliveries")["held"] is False
    page.button("Flush").click()
    page.status_says("Deliveries: flush done.")
    page.screenshot("05-webhooks")

    # export the state and record a scenario: both downloaded
    page.click("#export")
    page.status_says("State exported.")
    page.click("#record")
    page.status_says("Scenario recorded.")
    exported, recorded = (
        browser.downloads / f"emulator-state-{namespace}.json",
        browser.downloads / f"scenario-{namespace}.yaml",
    )
    page.until(lambda: exported.exists() and recorded.exists(), "the downloads never arrived")
    assert namespace in exported.read_text() and recorded.read_text().startswith(
        f"name: recorded from namespace {namespace}"
    )

    # reset the namespace, confirmed in the browser's dialog
    page.click("#reset")
    page.wait.until(lambda driver: driver.switch_to.alert).accept()
    page.status_says(f"Namespace {namespace} reset.")
    assert (
        client.export_state()["namespaces"]
        .get(namespace, {})
        .get("providers", {})
        .get("liveperson", {})
        .get("accounts", {})
        == {}
    )
    page.screenshot("06-after-reset")


@needs_chromium
def test_the_namespace_picker_switches_what_the_page_shows(guarded_server, browser):
    from selenium.webdriver.support.ui import Select

    first, second = f"pick-a-{secrets.token_hex(3)}", f"pick-b-{secrets.token_hex(3)}"
    for name in (first, second):
        EmulatorClient(guarded_server, namespace=name, token=CONTROL_TOKEN).seed(
            {"liveperson": {"accounts": [{"id": "66" + str(secrets.randbelow(10**6)).zfill(6)}]}}
        )
    account = next(
        iter(
            EmulatorClient(guarded_server, namespace=second, token=CONTROL_TOKEN).export_state()["namespaces"][second][
                "providers"
            ]["liveperson"]["accounts"]
        )
    )
    requests.post(f"{guarded_server}/api/account/{account}/anonymous/authorize", timeout=10)
    page = Page(browser, guarded_server, first)  # the token is still in this tab's sessionStorage
    page.until(lambda: second in page.find("#namespace").text, "the other namespace was never offered")
    assert "authorize" not in page.find("#request-rows").text
    Select(page.find("#namespace")).select_by_value(second)
    page.until(
        lambda: f"/api/account/{account}/anonymous/authorize" in page.find("#request-rows").text,
        "the picker did not switch",
    )
    assert browser.current_url.endswith(f"?namespace={second}")
    page.screenshot("07-namespace-picker")
