"""Security properties that can be checked without running anything."""

import re
from pathlib import Path

import yaml

from common import config as configs
from tests.helpers import ROOT

FORBIDDEN = {
    r"\bimport pickle\b|\bpickle\.(load|dump)": "pickle",
    r"(?<![\w.])eval\(": "eval()",
    r"(?<![\w.])exec\(": "exec()",
    r"yaml\.load\(": "yaml.load (use yaml.safe_load)",
    r"shell\s*=\s*True": "subprocess with shell=True",
}


def project_sources() -> list[Path]:
    skip = {".venv", "outputs", ".git", "test-artifacts"}
    return [p for p in ROOT.rglob("*.py") if not skip & set(p.relative_to(ROOT).parts) and p.name != "test_security.py"]


def test_no_pickle_eval_exec_or_unsafe_yaml_in_the_code():
    found = [f"{path.relative_to(ROOT)}: {what}" for path in project_sources()
             for pattern, what in FORBIDDEN.items() if re.search(pattern, path.read_text())]
    assert project_sources() and not found, found


def test_servers_bind_to_localhost_by_default():
    config = configs.load(ROOT / "config.json", environ={})
    assert config.serving.host == "127.0.0.1" and config.app.host == "127.0.0.1"
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    for service in compose["services"].values():
        assert all(port.startswith("127.0.0.1:") for port in service.get("ports", []))


def test_no_secrets_in_config():
    text = (ROOT / "config.json").read_text().lower()
    assert not re.search(r"(password|secret|token|api_key)", text)
