"""The tools' own validators: promtool for the Prometheus configs and rules, amtool for Alertmanager's.

Debian's Prometheus 2.42 and Alertmanager 0.25 run here; compose pins newer releases, so the configs
keep to keys both accept (see prometheus.py).
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

PROMETHEUS_CONFIGS = ("deploy/prometheus/prometheus.yml", "deploy/local/prometheus.yml")
RULES_DIR = "deploy/prometheus/rules"
ALERTMANAGER_CONFIGS = ("deploy/alertmanager/alertmanager.yml", "deploy/local/alertmanager.yml")
PACKAGES = {"promtool": "prometheus", "amtool": "prometheus-alertmanager"}


def _run(tool: str, *args: str, cwd: Path | None = None) -> str | None:
    """None when the tool accepts; else its complaint."""
    binary = shutil.which(tool)
    if binary is None:
        return f"{tool} is not installed (Debian package {PACKAGES[tool]}; `make bootstrap` installs it)"
    done = subprocess.run([binary, *args], cwd=cwd, capture_output=True, text=True, timeout=60)
    if done.returncode == 0:
        return None
    return (done.stdout + done.stderr).strip()


def check(root: Path) -> list[str]:
    problems = []
    rules = sorted((root / RULES_DIR).glob("*.yml"))
    if not rules:
        problems.append(f"{RULES_DIR}: no rule files")
    elif complaint := _run("promtool", "check", "rules", *map(str, rules)):
        problems.append(f"{RULES_DIR}: promtool check rules failed:\n{complaint}")
    for config in PROMETHEUS_CONFIGS:
        # Both profiles read rules/*.yml beside the config (local mode copies them there), so
        # promtool, which resolves rule files too, checks a copy laid out the same way.
        with tempfile.TemporaryDirectory() as scratch:
            shutil.copy(root / config, Path(scratch) / "prometheus.yml")
            shutil.copytree(root / RULES_DIR, Path(scratch) / "rules")
            complaint = _run("promtool", "check", "config", "prometheus.yml", cwd=Path(scratch))
        if complaint:
            problems.append(f"{config}: promtool check config failed:\n{complaint}")
    for config in ALERTMANAGER_CONFIGS:
        if complaint := _run("amtool", "check-config", str(root / config)):
            problems.append(f"{config}: amtool check-config failed:\n{complaint}")
    return problems
