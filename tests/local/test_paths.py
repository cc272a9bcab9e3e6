from __future__ import annotations

from pathlib import Path

from airscope.local import paths


def test_home_is_airscope_home_when_set(monkeypatch, tmp_path):
    monkeypatch.setenv("AIRSCOPE_HOME", str(tmp_path))
    assert paths.home() == tmp_path
    assert paths.data_dir() == tmp_path / "data"
    assert paths.log_dir().parent == paths.run_dir().parent == tmp_path


def test_home_defaults_to_var_in_the_checkout(monkeypatch):
    monkeypatch.delenv("AIRSCOPE_HOME", raising=False)
    assert paths.home() == Path(__file__).resolve().parents[2] / "var"
