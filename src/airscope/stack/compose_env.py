"""The variables deploy/docker-compose.yml reads from deploy/.env, and deploy/.env.example that
explains each of them.

No password has a default: compose refuses to start while a required variable is empty.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass

from airscope.catalog import Catalog, Service
from airscope.stack import _yaml

ENV_EXAMPLE_PATH = "deploy/.env.example"
MONITORING_ROLE = "monitoring"  # postgres-exporter's read-only role (pg_monitor)

# Base URLs of the outside SaaS a service reaches when the operator sets none (production APIs).
EXTERNAL_URLS = {"airtable": "https://api.airtable.com", "llm": "https://api.openai.com/v1"}


@dataclass(frozen=True)
class Variable:
    name: str
    comment: str
    default: str | None = None  # None: required; compose refuses to start while it is empty
    random: bool = False  # a secret of our own, made with `openssl rand -hex 32`

    def ref(self) -> str:
        if self.default is None:
            return f"${{{self.name}:?set {self.name} in deploy/.env}}"
        return f"${{{self.name}:-{self.default}}}"


VERSION = Variable(
    "AIRSCOPE_VERSION",
    "Tag of the airscope image compose builds from this checkout; a release tag keeps earlier images.",
    "latest",
)
COMMIT = Variable(
    "AIRSCOPE_COMMIT",
    "Reported as service_build_info{commit}, e.g. the output of `git rev-parse --short HEAD`.",
    "unknown",
)
BIND_ADDRESS = Variable(
    "AIRSCOPE_BIND_ADDRESS",
    "Host address the gateway (7000), the frontend (5173) and Grafana (3000) listen on; "
    "127.0.0.1 when a reverse proxy on this host serves them.",
    "0.0.0.0",
)
JWT_SECRET = Variable(
    "AIRSCOPE_JWT_SECRET",
    "Signs the login tokens platform-services issues; every service verifies them with it.",
    random=True,
)
API_KEYS = Variable(
    "AIRSCOPE_API_KEYS",
    "Comma-separated keys the gateway accepts in X-API-Key, for programmatic clients "
    "(`openssl rand -hex 32` each). Empty: only sign-in tokens are accepted.",
    "",
)
FRONTEND_ORIGIN = Variable(
    "AIRSCOPE_FRONTEND_ORIGIN",
    "The origin users' browsers load the frontend from, scheme://host[:port] as the address bar shows "
    "it (e.g. https://airscope.example.com or http://203.0.113.7:5173): the only origin whose pages "
    "the gateway answers cross-origin (CORS). Several: comma-separated. No wildcard.",
)
LOG_LEVEL = Variable("LOG_LEVEL", "Every service's log level: debug, info, warning or error.", "info")
SAMPLE_RATIO = Variable(
    "OTEL_TRACES_SAMPLER_ARG",
    "Share of new traces kept (parentbased_traceidratio): 0.1 keeps one in ten, 1 keeps all.",
    "0.1",
)
POSTGRES_PASSWORD = Variable(
    "POSTGRES_PASSWORD", "Password of PostgreSQL's superuser `postgres` (no service uses it).", random=True
)
MONITORING_PASSWORD = Variable(
    "POSTGRES_MONITORING_PASSWORD",
    f"Password of the read-only `{MONITORING_ROLE}` role postgres-exporter connects as.",
    random=True,
)
# The LLM provider's model and pricing: OpenAI's defaults fit the default LLM_BASE_URL; another
# provider needs its own model name.
LLM_TUNING = (
    Variable("LLM_MODEL", "Model llm-orchestrator asks the LLM provider for.", "gpt-4o-mini"),
    Variable(
        "LLM_PRICES",
        "JSON of USD prices per million tokens by model, for llm_cost_usd_total and the budget "
        '(e.g. {"gpt-4o-mini": {"input": 0.15, "output": 0.6}}); empty: the built-in prices.',
        "",
    ),
    Variable("LLM_DAILY_BUDGET_USD", "Daily LLM spend in USD after which chats are refused with 429.", "10"),
)
GRAFANA_ADMIN_USER = Variable("GRAFANA_ADMIN_USER", "Grafana's administrator login.", "admin")
GRAFANA_ADMIN_PASSWORD = Variable(
    "GRAFANA_ADMIN_PASSWORD", "Grafana's administrator password: Grafana is published.", random=True
)
GRAFANA_COOKIE_SECURE = Variable(
    "GRAFANA_COOKIE_SECURE",
    "true when users reach Grafana over https (a reverse proxy in front of it): its session cookie is "
    "then never sent over plain http. Over plain http it must stay false, or sign-in cannot keep a session.",
    "false",
)


@dataclass(frozen=True)
class Secret:
    """A compose secret read from a file the operator writes under deploy/secrets/ (ignored by git).

    A file, not an environment variable: compose bind-mounts a file secret read-only at
    /run/secrets/<name>, which works in a read-only container; an environment-sourced secret must be
    copied into the container, which a read-only root filesystem refuses (Compose 2.33.1 and later
    reject it outright: "'file' is the sole supported option")."""

    name: str
    comment: str
    example: str  # a placeholder for what the file holds, in the instructions

    def file(self) -> str:
        """Its path as the compose file names it (relative to deploy/)."""
        return f"./{RECEIVER_KEYS_DIR.removeprefix('deploy/')}/{self.name}"


# Where the files Alertmanager's receivers read their keys from live on the host (git ignores them).
RECEIVER_KEYS_DIR = "deploy/secrets"
SECRETS_README_PATH = f"{RECEIVER_KEYS_DIR}/README.md"
SECRETS_GITIGNORE_PATH = f"{RECEIVER_KEYS_DIR}/.gitignore"
SECRETS_MOUNT = "/run/secrets/"  # where compose mounts each file secret, by its name
SMTP_PASSWORD_SECRET = "smtp_auth_password"
DEADMANSSWITCH_SECRET = "deadmansswitch_url"


def pagerduty_secret(team: str) -> str:
    return f"pagerduty_routing_key_{team}"


def slack_secret(team: str) -> str:
    return f"slack_webhook_url_{team}"


def secrets(catalog: Catalog) -> dict[str, Secret]:
    """The files Alertmanager's receivers read (routing_key_file, api_url_file, smtp_auth_password_file,
    url_file), so no secret is ever written into a config file: a PagerDuty routing key and a Slack
    webhook per team of the catalog, the SMTP password when a team has an email address, the dead
    man's switch's URL. Empty, notifications to that receiver fail and
    alertmanager_notifications_failed_total counts them; the file must exist all the same."""
    found = []
    for team in catalog.teams.values():
        found += [
            Secret(
                pagerduty_secret(team.name),
                f"Routing key of the PagerDuty Events API v2 integration of {team.name}'s service (escalation "
                f"policy {team.escalation!r}): its critical alerts page there.",
                "<the integration key>",
            ),
            Secret(
                slack_secret(team.name),
                f"Slack incoming-webhook URL of {team.channel}, where {team.name}'s alerts are posted.",
                "https://hooks.slack.com/services/<your webhook>",
            ),
        ]
    if any(team.email for team in catalog.teams.values()):
        found.append(
            Secret(
                SMTP_PASSWORD_SECRET,
                "Password of the mail relay account the teams' emails are sent through "
                "(alertmanager.SMTP names the relay and the account).",
                "<the password>",
            )
        )
    found.append(
        Secret(
            DEADMANSSWITCH_SECRET,
            "URL of the dead man's switch the always-firing Watchdog alert is sent to (a heartbeat "
            "check of a service such as healthchecks.io or Dead Man's Snitch): it raises the alarm when "
            "the Watchdog stops arriving, i.e. when monitoring itself is broken.",
            "<the ping URL of the check>",
        )
    )
    return {secret.name: secret for secret in found}


def secrets_readme(catalog: Catalog) -> str:
    """deploy/secrets/README.md: which files to write, what each holds, and how."""
    lines = [f"<!-- {line} -->" for line in _yaml.header("compose_env.py").splitlines()]
    lines += [
        "",
        "# Alertmanager's secrets",
        "",
        "One file per secret, holding only the value (written with `printf`: no trailing newline). Git",
        "ignores everything here but this README and `.gitignore`. Compose mounts each file read-only",
        "at `/run/secrets/<name>` in the Alertmanager container, which runs as uid 65534 and must",
        "read it: keep this folder private (mode 700) and the files readable (mode 644).",
        "",
        "```sh",
        "cd deploy && chmod 700 secrets && umask 022",
    ]
    lines += [f"printf '%s' '{s.example}' > secrets/{s.name}" for s in secrets(catalog).values()]
    lines += [
        "```",
        "",
        "Every file must exist, or `docker compose up` refuses to start (`touch` one you do not use:",
        "empty, notifications to that receiver fail and `alertmanager_notifications_failed_total`",
        "counts them).",
        "",
        "| file | holds |",
        "| --- | --- |",
    ]
    lines += [f"| `{s.name}` | {s.comment} |" for s in secrets(catalog).values()]
    return "\n".join(lines) + "\n"


def secrets_gitignore() -> str:
    header = "".join(f"# {line}\n" for line in _yaml.header("compose_env.py").splitlines())
    why = "# The secret files never leave the host: only this file and the README are committed.\n"
    return header + why + "*\n!.gitignore\n!README.md\n"


def database(service: Service) -> str:
    """The service's own role and database, as the local runner names them."""
    return service.name.replace("-", "_")


def database_password(service: Service) -> Variable:
    return Variable(
        f"POSTGRES_PASSWORD_{database(service).upper()}",
        f"Password of {service.name}'s own PostgreSQL role and database `{database(service)}`.",
        random=True,
    )


def external_variables(catalog: Catalog, name: str) -> tuple[Variable, Variable]:
    saas = catalog.external[name]
    url = Variable(saas.url_env, f"Base URL of the {name} API.", EXTERNAL_URLS.get(name))
    key = Variable(saas.key_env, f"Credential for the {name} API, as its provider issues it.")
    return url, key


def variables(catalog: Catalog) -> list[Variable]:
    """Every variable the compose file may read, in the order .env.example explains them."""
    found = [VERSION, COMMIT, BIND_ADDRESS, JWT_SECRET, API_KEYS, FRONTEND_ORIGIN, LOG_LEVEL, SAMPLE_RATIO]
    found.append(POSTGRES_PASSWORD)
    found += [database_password(s) for s in catalog.services.values() if "postgres" in s.requires]
    found.append(MONITORING_PASSWORD)
    for name in catalog.external:
        found += external_variables(catalog, name)
    grafana = (GRAFANA_ADMIN_USER, GRAFANA_ADMIN_PASSWORD, GRAFANA_COOKIE_SECURE)
    return [*found, *LLM_TUNING, *grafana]


_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)")


def _strings(node: object) -> Iterator[str]:
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for key, value in node.items():
            yield from _strings(key)
            yield from _strings(value)
    elif isinstance(node, list):
        for item in node:
            yield from _strings(item)


def referenced(document: dict) -> set[str]:
    """The variable names a compose document reads: ${NAME...} anywhere, and any secret's source."""
    names = {match for text in _strings(document) for match in _REFERENCE.findall(text)}
    return names | {s["environment"] for s in document.get("secrets", {}).values() if "environment" in s}


def env_example(catalog: Catalog, document: dict) -> str:
    used = referenced(document)
    known = variables(catalog)
    unknown = used - {v.name for v in known}
    if unknown:
        raise ValueError(f"the compose file reads variables .env.example does not explain: {sorted(unknown)}")
    lines = [f"# {line}" if line else "#" for line in _yaml.header("compose.py").splitlines()]
    lines += [
        "#",
        "# Copy to deploy/.env and fill in every empty value: `docker compose -f deploy/docker-compose.yml",
        "# up -d` refuses to start while a required one is empty. Commented lines show the default used",
        "# when the line stays commented. Passwords end up in URLs: keep to letters and digits (hex).",
        "#",
        "# Alertmanager's receivers (PagerDuty, Slack, the dead man's switch) are not set here: their",
        f"# secrets are files under {RECEIVER_KEYS_DIR}/ (see its README.md).",
    ]
    for variable in (v for v in known if v.name in used):
        lines.append("")
        lines += [f"# {line}" for line in textwrap.wrap(variable.comment, 100)]
        if variable.default is not None:
            lines.append(f"# {variable.name}={variable.default}")
            continue
        if variable.random:
            lines.append("# Required. Generate one with `openssl rand -hex 32`.")
        lines.append(f"{variable.name}=")
    return "\n".join(lines) + "\n"
