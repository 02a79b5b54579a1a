"""The app's rollout section in a real browser (Debian's Chromium via Playwright): stable and canary side by
side for one question, and promote after a confirmation, against a model server with two labelled versions."""

from __future__ import annotations

from pathlib import Path

from common import config as configs
from deploy import rollout
from serving.server import ModelServer
from tests.helpers import ARTIFACTS, BROWSER_ARGS, CHROMIUM, free_port, running_app, wait_for, write_config
from tests.test_rollout import NAME, export, publish  # noqa: F401 - export is a fixture

CANARY = {"keep": 2, "rollout": "canary", "stable_label": "stable", "canary_label": "canary", "previous_label": "previous"}


def test_browser_shows_stable_and_canary_side_by_side_and_promotes_after_confirmation(tmp_path, export):  # noqa: F811
    from playwright.sync_api import sync_playwright
    assert Path(CHROMIUM).exists(), "run ./run.sh test: it installs Debian's chromium"
    base_config = configs.load(write_config(tmp_path, {"serving": {"model_name": NAME, "versions": CANARY}}), environ={})
    serving = base_config.serving
    for version in (1, 2):
        publish(serving.model_base_path, version, export)
        rollout.after_push(serving, version)
    server = ModelServer(NAME, serving.model_base_path, "127.0.0.1", 0, 0, poll_seconds=0.2, batching=None,
                         model_config_file=serving.model_config_path)
    server.start()
    port = free_port()
    config_path = write_config(tmp_path, {"serving": {"model_name": NAME, "versions": CANARY,
                                                      "grpc_port": server.grpc_port, "rest_port": server.rest_port},
                                          "app": {"host": "127.0.0.1", "port": port}})
    try:
        with running_app(config_path, port) as url, sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=BROWSER_ARGS)
            page = browser.new_page(viewport={"width": 1200, "height": 1400})
            page.set_default_timeout(120_000)
            page.goto(url, timeout=60_000)
            page.get_by_text("Labels: stable = version 1, canary = version 2").wait_for()
            page.get_by_label("Question for every labelled version").fill("does the lid fit the older model?")
            page.get_by_role("button", name="Compare versions").click()
            table = page.locator("table").filter(has_text="requests/s")
            table.wait_for()
            rows = [row.inner_text().split("\t") for row in table.locator("tbody tr").all()]
            promote = page.get_by_role("button", name="Promote canary")
            assert promote.is_disabled()  # nothing happens without the confirmation
            page.get_by_text("Yes, make version 2 (canary) the stable version").click()
            promote.click()
            page.get_by_text("Promoted:").wait_for()
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "app_rollout.png"), full_page=True)
            browser.close()
        assert [(row[0].strip(), row[1].strip()) for row in rows] == [("stable", "1"), ("canary", "2")], rows
        assert rollout.current_labels(serving) == {"stable": 2, "previous": 1}
        wait_for(lambda: server.manager.labels == {"stable": 2, "previous": 1}, "the server to apply the promoted labels")
    finally:
        server.stop(grace=1)
