"""config.json claims: relative paths are taken relative to the config file (not the working directory),
PPQ_CONFIG picks the file, every path key is resolved, and errors name the key and the known keys."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from common import config as configs
from common import files, outputs
from tests.helpers import ROOT

PATH_KEYS = [("data", "prepared_dir"), ("pipeline", "root"), ("pipeline", "metadata_path"),
             ("pipeline", "output_dir"), ("serving", "model_dir"), ("kubeflow", "output_file")]


def raw_config() -> dict:
    return json.loads((ROOT / "config.json").read_text())


def write(folder: Path, raw: dict) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "settings.json"
    path.write_text(json.dumps(raw))
    return path


def test_relative_paths_are_resolved_against_the_config_file_not_the_working_directory(tmp_path, monkeypatch):
    raw = raw_config()
    raw["data"]["source"] = "raw/questions.csv"
    for section, key in PATH_KEYS:
        raw[section][key] = f"out/{section}-{key}.json"
    path = write(tmp_path / "project" / "conf", raw)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    config = configs.load(path, environ={})
    base = (tmp_path / "project" / "conf").resolve()
    assert config.data.source == str(base / "raw" / "questions.csv")
    for section, key in PATH_KEYS:
        assert getattr(getattr(config, section), key) == base / "out" / f"{section}-{key}.json", (section, key)
    assert config.path == path.resolve()
    assert config.serving.model_base_path == base / "out" / "serving-model_dir.json" / raw["serving"]["model_name"]
    assert config.pipeline.predictions_path == base / "out" / "pipeline-output_dir.json" / outputs.PREDICTIONS_FILE
    assert config.pipeline.summary_path == base / "out" / "pipeline-output_dir.json" / outputs.SUMMARY_FILE


def test_absolute_paths_and_urls_are_kept(tmp_path):
    raw = raw_config()
    raw["data"]["source"] = "https://example.org/data/questions.csv.gz"
    raw["pipeline"]["root"] = str(tmp_path / "abs_root")
    config = configs.load(write(tmp_path / "conf", raw), environ={})
    assert config.data.source == "https://example.org/data/questions.csv.gz"
    assert config.pipeline.root == tmp_path / "abs_root"
    assert config.kubeflow.pipeline_root == raw["kubeflow"]["pipeline_root"]  # cluster storage, not a local path


def test_ppq_config_names_the_file_and_an_explicit_path_wins(tmp_path):
    chosen = raw_config()
    chosen["data"]["total_sample_size"] = 123
    env_path = write(tmp_path / "a", chosen)
    assert configs.load(environ={configs.CONFIG_PATH_ENV: str(env_path)}).data.total_sample_size == 123
    other = raw_config()
    other["data"]["total_sample_size"] = 456
    explicit = write(tmp_path / "b", other)
    assert configs.load(explicit, environ={configs.CONFIG_PATH_ENV: str(env_path)}).data.total_sample_size == 456
    assert configs.load(environ={}).path == configs.DEFAULT_CONFIG_PATH


def test_load_reads_overrides_from_the_process_environment(tmp_path, monkeypatch):
    path = write(tmp_path, raw_config())
    monkeypatch.setenv("PPQ_MODEL__EPOCHS", "7")
    assert configs.load(path).model.epochs == 7
    assert configs.from_dict(raw_config()).model.epochs == 7


def test_overrides_do_not_touch_the_callers_dict_and_plain_strings_stay_strings():
    raw = raw_config()
    config = configs.from_dict(raw, environ={"PPQ_SERVING__MODEL_NAME": "other", "PPQ_CONFIG": "ignored.json",
                                             "PPQ_DEBUG": "1", "OTHER_VARIABLE": "x"})
    assert config.serving.model_name == "other" and raw["serving"]["model_name"] == "prepost"


@pytest.mark.parametrize("name", ["PPQ_DATA", "PPQ_NOPE__KEY", "PPQ_DATA__", "PPQ_KUBEFLOW__IMAGE__X"])
def test_malformed_override_names_are_errors(name):
    with pytest.raises(configs.ConfigError, match=f"environment variable {name} names no config key"):
        configs.from_dict(raw_config(), environ={name: "1"})


def test_unknown_key_lists_the_known_keys():
    raw = raw_config()
    raw["evaluator"]["min_aucc"] = 0.5
    with pytest.raises(configs.ConfigError) as info:
        configs.from_dict(raw, environ={})
    assert str(info.value).startswith("invalid config: evaluator: ")
    assert "min_aucc" in str(info.value) and "(known keys: max_auc_drop, min_auc, min_binary_accuracy)" in str(info.value)


def test_every_error_is_listed_in_key_order():
    raw = raw_config()
    raw["model"]["epochs"] = 0
    raw["data"]["chunk_rows"] = "x"
    message = str(pytest.raises(configs.ConfigError, configs.from_dict, raw, environ={}).value)
    assert message.index("data.chunk_rows") < message.index("model.epochs") and message.count(";") == 1
    assert "'integer'; model.epochs" in message


@pytest.mark.parametrize("mutate, message", [
    (lambda r: r["data"]["split_fractions"].update(train=0.7, eval=0.2, test=0.2),
     "data.split_fractions: must add up to 1, got 1.1"),
    (lambda r: r["serving"].update(rest_port=r["serving"]["grpc_port"]), "serving.rest_port: must differ"),
    (lambda r: r["app"].update(port=r["serving"]["grpc_port"]), "app.port: collides"),
])
def test_cross_key_rules_name_the_key(mutate, message):
    raw = raw_config()
    mutate(raw)
    with pytest.raises(configs.ConfigError, match="^" + message.replace(".", r"\.")):
        configs.from_dict(raw, environ={})


def test_fractions_that_add_up_within_rounding_are_accepted():
    raw = raw_config()
    raw["data"]["split_fractions"] = {"train": 0.6, "eval": 0.2, "test": 0.2}  # 1.0000000000000002 in floats
    assert configs.from_dict(raw, environ={}).data.split_fractions == raw["data"]["split_fractions"]


@pytest.mark.parametrize("text, message", [("[1, 2]", "the top level must be a JSON object"),
                                           ('{"data": \n\n  oops}', "line 3 column 3")])
def test_a_file_that_is_not_a_config_object_is_named(tmp_path, text, message):
    path = tmp_path / "config.json"
    path.write_text(text)
    with pytest.raises(configs.ConfigError, match=message) as info:
        configs.load(path, environ={})
    assert str(path) in str(info.value)


def test_is_url_knows_http_and_https_only():
    assert files.is_url("https://x/y.csv") and files.is_url("http://x/y.csv")
    assert not files.is_url("ftp://x/y.csv") and not files.is_url("data/https://x.csv")


def test_the_default_config_is_found_from_any_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(configs.CONFIG_PATH_ENV, raising=False)
    for name in [n for n in os.environ if n.startswith(configs.ENV_PREFIX)]:
        monkeypatch.delenv(name)
    config = configs.load()
    assert config.path == ROOT / "config.json" and config.data.prepared_dir == (ROOT / "outputs" / "data").resolve()


def test_a_missing_section_is_named_at_the_top_level():
    raw = raw_config()
    del raw["app"]
    with pytest.raises(configs.ConfigError, match=r"^invalid config: \(top level\): 'app' is a required property$"):
        configs.from_dict(raw, environ={})


def test_load_applies_the_given_environment_and_not_the_process_one(tmp_path, monkeypatch):
    path = write(tmp_path, raw_config())
    monkeypatch.setenv("PPQ_MODEL__EPOCHS", "7")
    assert configs.load(path, environ={"PPQ_MODEL__EPOCHS": "9"}).model.epochs == 9
    assert configs.load(path, environ={}).model.epochs == raw_config()["model"]["epochs"]


def test_a_config_from_a_mapping_names_config_json_beside_its_base_folder(tmp_path):
    assert configs.from_dict(raw_config(), environ={}).path == ROOT / "config.json"
    assert configs.from_dict(raw_config(), base_dir=tmp_path, environ={}).path == tmp_path / "config.json"
