"""The tools' own validators: promtool for the Prometheus configs and rules, amtool for Alertmanager's.

Debian's Prometheus 2.42 and Alertmanager 0.25 run here; compose pins newer releases, so the configs
keep to keys both accept (see prometheus.py), but for the dead man's switch's webhook url_file, which
amtool checks through a stand-in (URL_FILE_STANDIN).
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import yaml

RULES_DIR = "deploy/prometheus/rules"
# Each Prometheus config with the rule files it reads as rules/*.yml: local mode writes the shared
# recording rules beside its own alerts (which differ in their `for` only).
PROMETHEUS_CONFIGS = {
    "deploy/prometheus/prometheus.yml": (
        "deploy/prometheus/rules/recording.yml",
        "deploy/prometheus/rules/alerts.yml",
    ),
    "deploy/local/prometheus.yml": ("deploy/prometheus/rules/recording.yml", "deploy/local/rules/alerts.yml"),
}
ALERTMANAGER_CONFIGS = ("deploy/alertmanager/alertmanager.yml", "deploy/local/alertmanager.yml")
PACKAGES = {"promtool": "prometheus", "amtool": "prometheus-alertmanager"}
# Alertmanager 0.26 added webhook_configs' url_file (notify/webhook/config.go in 0.34: "one of url or
# url_file must be configured", never both), which Debian's amtool 0.25 does not know. amtool checks a
# copy with each url_file swapped for a url, the key it stands for; everything else as written.
URL_FILE_STANDIN = "https://url-file.invalid/"


def run(tool: str, *args: str, cwd: Path | None = None) -> tuple[bool, str]:
    """(whether the tool accepted, what it printed on stdout; else its complaint)."""
    binary = shutil.which(tool)
    if binary is None:
        return (
            False,
            f"{tool} is not installed (Debian package {PACKAGES[tool]}; `make bootstrap` installs it)",
        )
    done = subprocess.run([binary, *args], cwd=cwd, capture_output=True, text=True, timeout=60)
    if done.returncode == 0:
        return True, done.stdout
    return False, (done.stdout + done.stderr).strip()


def _run(tool: str, *args: str, cwd: Path | None = None) -> str | None:
    """None when the tool accepts; else its complaint."""
    accepted, said = run(tool, *args, cwd=cwd)
    return None if accepted else said


def check(root: Path) -> list[str]:
    problems = []
    rules = sorted({path for files in PROMETHEUS_CONFIGS.values() for path in files})
    if missing := [path for path in rules if not (root / path).is_file()]:
        problems.append(f"rule files missing: {', '.join(missing)}")
    elif complaint := _run("promtool", "check", "rules", *(str(root / path) for path in rules)):
        problems.append(f"{RULES_DIR}: promtool check rules failed:\n{complaint}")
    for config, rule_files in PROMETHEUS_CONFIGS.items():
        # promtool resolves rule files too: it checks a copy laid out as Prometheus reads it.
        with tempfile.TemporaryDirectory() as scratch:
            shutil.copy(root / config, Path(scratch) / "prometheus.yml")
            (Path(scratch) / "rules").mkdir()
            for path in rule_files:
                shutil.copy(root / path, Path(scratch) / "rules" / Path(path).name)
            complaint = _run("promtool", "check", "config", "prometheus.yml", cwd=Path(scratch))
        if complaint:
            problems.append(f"{config}: promtool check config failed:\n{complaint}")
    for config in ALERTMANAGER_CONFIGS:
        with tempfile.TemporaryDirectory() as scratch:
            copy = Path(scratch) / "alertmanager.yml"
            copy.write_text(for_amtool_025((root / config).read_text()))
            complaint = _run("amtool", "check-config", str(copy))
        if complaint:
            problems.append(f"{config}: amtool check-config failed:\n{complaint}")
    return problems


def for_amtool_025(text: str) -> str:
    """The config with each webhook url_file replaced by a url (see URL_FILE_STANDIN)."""
    config = yaml.safe_load(text)
    for receiver in (config or {}).get("receivers") or []:
        for webhook in receiver.get("webhook_configs") or []:
            if "url_file" in webhook and "url" not in webhook:  # both at once stays an error
                del webhook["url_file"]
                webhook["url"] = URL_FILE_STANDIN
    return yaml.safe_dump(config, sort_keys=False)
