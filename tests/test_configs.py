import json
from pathlib import Path

import pytest

from common import config as configs
from tests.helpers import ROOT


def raw_config() -> dict:
    return json.loads((ROOT / "config.json").read_text())


def test_bundled_config_loads_with_typed_values():
    config = configs.load(ROOT / "config.json", environ={})
    assert config.data.total_sample_size == 25000
    assert config.serving.model_base_path == (ROOT / "outputs/serving/prepost").resolve()
    assert Path(config.data.source).is_file()


@pytest.mark.parametrize("mutate, key", [
    (lambda r: r["data"].update(extra_key=1), "extra_key"),
    (lambda r: r.update(unknown_section={}), "unknown_section"),
    (lambda r: r["model"].update(vocab_size="big"), "model.vocab_size"),
    (lambda r: r["model"].update(dropout=1.5), "model.dropout"),
    (lambda r: r["serving"].update(grpc_port=70000), "serving.grpc_port"),
    (lambda r: r["data"].update(total_sample_size=0), "data.total_sample_size"),
    (lambda r: r["data"]["split_fractions"].update(train=0.9), "data.split_fractions"),
    (lambda r: r["app"].update(port=r["serving"]["rest_port"]), "app.port"),
    (lambda r: r["data"].update(source="ftp://example.org/x.csv"), "data.source"),
    (lambda r: r["model"].pop("epochs"), "epochs"),
    (lambda r: r["batch_scoring"].update(batch_size=0), "batch_scoring.batch_size"),
])
def test_invalid_values_name_the_key(mutate, key):
    raw = raw_config()
    mutate(raw)
    with pytest.raises(configs.ConfigError, match=key.replace(".", r"\.")):
        configs.from_dict(raw, environ={})


def test_environment_overrides_a_key_and_parses_json():
    env = {"PPQ_DATA__TOTAL_SAMPLE_SIZE": "1000", "PPQ_PIPELINE__BEAM_ARGS": '["--direct_num_workers=2"]',
           "PPQ_SERVING__HOST": "0.0.0.0"}
    config = configs.from_dict(raw_config(), environ=env)
    assert config.data.total_sample_size == 1000
    assert config.pipeline.beam_args == ["--direct_num_workers=2"]
    assert config.serving.host == "0.0.0.0"


def test_environment_override_is_validated_too():
    with pytest.raises(configs.ConfigError, match="data.total_sample_size"):
        configs.from_dict(raw_config(), environ={"PPQ_DATA__TOTAL_SAMPLE_SIZE": "-5"})


def test_unknown_environment_key_is_an_error():
    with pytest.raises(configs.ConfigError, match="PPQ_DATA__NOPE"):
        configs.from_dict(raw_config(), environ={"PPQ_DATA__NOPE": "1"})


def test_broken_json_names_the_line(tmp_path):
    path = tmp_path / "config.json"
    path.write_text('{"data": \n  oops}')
    with pytest.raises(configs.ConfigError, match="line 2"):
        configs.load(path, environ={})


def test_missing_file_is_named(tmp_path):
    with pytest.raises(configs.ConfigError, match="not found"):
        configs.load(tmp_path / "nope.json", environ={})


def test_cli_reports_config_errors_in_one_line(tmp_path, capsys):
    from pipeline import cli
    raw = raw_config()
    raw["model"]["epochs"] = "many"
    path = tmp_path / "config.json"
    path.write_text(json.dumps(raw))
    assert cli.main(["--config", str(path), "prepare"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: invalid config: model.epochs") and "Traceback" not in err


def test_a_whole_float_for_an_integer_key_becomes_an_int():
    raw = raw_config()
    raw["model"]["epochs"] = 2.0
    config = configs.from_dict(raw, environ={})
    assert config.model.epochs == 2 and isinstance(config.model.epochs, int)
