"""No secret is committed: detect-secrets (every plugin, default filters, no network) over every file
git tracks, against the audited baseline ``.secrets.baseline``.

A finding is the baseline's when file, type and hashed secret match: line numbers move with every
edit above them. Each baseline entry was audited as a false positive (``is_secret: false``) and says
why (``justification``). A new finding that is a false positive too: better change the fixture so
it no longer looks like a secret; else add it the same way (``detect-secrets scan <file>``, then the
entry with ``is_secret`` and ``justification``).
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path

from detect_secrets import SecretsCollection
from detect_secrets.settings import default_settings

ROOT = Path(__file__).resolve().parents[1]
BASELINE = ROOT / ".secrets.baseline"


@dataclass(frozen=True)
class Finding:
    filename: str
    line: int
    type: str
    hashed_secret: str

    @property
    def identity(self) -> tuple[str, str, str]:
        return (self.filename, self.type, self.hashed_secret)

    def __str__(self) -> str:
        return f"{self.filename}:{self.line}: {self.type}"


def tracked_files(repo: Path) -> list[str]:
    listed = subprocess.run(
        ["git", "-C", str(repo), "ls-files", "-z"], capture_output=True, text=True, check=True
    ).stdout
    # A file deleted but not yet staged is still listed: nothing to scan. The baseline holds the
    # hashes of what it allows, which look like secrets themselves.
    return [name for name in listed.split("\0") if name and name != BASELINE.name and (repo / name).is_file()]


def scan(repo: Path) -> list[Finding]:
    collection = SecretsCollection(root=str(repo))
    with default_settings():
        collection.scan_files(*tracked_files(repo))
    return sorted(
        (
            Finding(filename, secret.line_number, secret.type, secret.secret_hash)
            for filename, secret in collection
        ),
        key=lambda finding: (finding.filename, finding.line),
    )


def baseline_entries() -> list[dict]:
    return [entry for entries in json.loads(BASELINE.read_text())["results"].values() for entry in entries]


def unexpected(findings: list[Finding], baseline: list[dict]) -> list[str]:
    known = {(entry["filename"], entry["type"], entry["hashed_secret"]) for entry in baseline}
    return [str(finding) for finding in findings if finding.identity not in known]


def test_no_file_git_tracks_holds_a_secret_outside_the_audited_baseline() -> None:
    found = unexpected(scan(ROOT), baseline_entries())
    assert found == [], "possible secrets committed (see this test's docstring):\n" + "\n".join(found)


def test_every_baseline_entry_was_audited_and_justified() -> None:
    entries = baseline_entries()
    assert entries, "an empty baseline: was .secrets.baseline replaced?"
    for entry in entries:
        where = f"{entry['filename']}:{entry['line_number']}: {entry['type']}"
        assert entry.get("is_secret") is False, f"{where}: not audited as a false positive"
        assert entry.get("justification", "").strip(), f"{where}: no justification"


def test_a_planted_key_is_caught_with_its_file_line_and_type(tmp_path: Path) -> None:
    # Assembled at run time, so this file holds neither.
    aws_key = "AKIA" + "QYLPMN5HHHFPZAM2"
    private_key = (
        "-----BEGIN "
        + "RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA3Tz2mr7SZiAMfQyuvBjM\n-----END RSA PRIVATE KEY-----\n"
    )
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    (tmp_path / "settings.py").write_text(f'REGION = "eu-west-1"\nAWS_ACCESS_KEY_ID = "{aws_key}"\n')
    (tmp_path / "deploy.pem").write_text(private_key)
    (tmp_path / "untracked.py").write_text(f'KEY = "{aws_key}"\n')  # not git's: not scanned
    (tmp_path / BASELINE.name).write_text(BASELINE.read_text())  # its hashes are no finding
    subprocess.run(
        ["git", "-C", str(tmp_path), "add", "settings.py", "deploy.pem", BASELINE.name], check=True
    )

    found = unexpected(scan(tmp_path), baseline_entries())
    assert "settings.py:2: AWS Access Key" in found
    assert "deploy.pem:1: Private Key" in found
    assert len(found) == 2, found
