from __future__ import annotations

from click.testing import CliRunner

from airscope import checkout, gen
from airscope.cli import main
from airscope.gen import metrics_reference


def test_the_committed_generated_files_are_current():
    assert gen.stale() == [], "run `.venv/bin/airscope gen` and commit the result"


def test_check_names_a_stale_file_and_the_fix(tmp_path, monkeypatch):
    monkeypatch.setattr(checkout, "root", lambda: tmp_path)
    result = CliRunner().invoke(main, ["gen", "--check"])
    assert result.exit_code != 0
    assert "docs/metrics.md" in result.output and "airscope gen" in result.output

    assert CliRunner().invoke(main, ["gen"]).exit_code == 0
    assert CliRunner().invoke(main, ["gen", "--check"]).exit_code == 0


def test_the_metrics_reference_lists_a_service_metric_with_its_type_labels_and_help(tmp_path, monkeypatch):
    package = tmp_path / "sample_service"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "metrics.py").write_text(
        "from prometheus_client import CollectorRegistry, Counter\n"
        "JOBS = Counter('sample_jobs', 'Jobs done, by outcome.', ['outcome'], registry=CollectorRegistry())\n"
    )
    (tmp_path / "catalog.yaml").write_text("services:\n  sample: {port: 7100, module: sample_service}\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("AIRSCOPE_CATALOG", str(tmp_path / "catalog.yaml"))

    text = metrics_reference.render()
    assert "## sample" in text
    assert "| `sample_jobs_total` | counter | `outcome` | Jobs done, by outcome. |" in text
