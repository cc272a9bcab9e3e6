"""automation-services' domain metrics: files imported, records created, workflow runs, the job queues."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

FILE_TYPES = ("csv", "json")
FILE_OUTCOMES = ("completed", "partial", "failed")
QUEUES = ("imports", "runs")
DEAD_LETTER_ACTIONS = ("replayed", "discarded")
BUILTIN_WORKFLOWS = ("csv-import", "record-count")
# User-created workflows share one label value: their names are user input.
CUSTOM_WORKFLOW = "custom"
RUN_STATUSES = ("succeeded", "failed")

# An import sends a batch of 10 rows per Airtable request at 5 requests/s per base: from a second
# for a few rows to many minutes for a 5 MiB file, retries' backoff included.
PROCESSING_BUCKETS = (0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0)

FILES_PROCESSED = Counter(
    "automation_files_processed_total",
    "Uploaded files whose import ended, by type (csv, json) and outcome (completed: every row "
    "imported, partial: some rows rejected, failed: nothing imported or the job gave up).",
    ["type", "outcome"],
)
FILE_PROCESSING_DURATION = Histogram(
    "automation_file_processing_duration_seconds",
    "Time from a file's first processing attempt to the end of its import, retries included, by type.",
    ["type"],
    buckets=PROCESSING_BUCKETS,
)
RECORDS_IMPORTED = Counter(
    "automation_records_imported_total",
    "Airtable records created from uploaded files.",
)
ROW_ERRORS = Counter(
    "automation_row_errors_total",
    "Rows of uploaded files that Airtable rejected (each reported in the file's errors), by file type.",
    ["type"],
)
WORKFLOW_RUNS = Counter(
    "automation_workflow_runs_total",
    "Workflow runs that ended, by workflow (csv-import, record-count, or custom for user-created "
    "workflows) and status (succeeded, failed).",
    ["workflow", "status"],
)
QUEUE_DEPTH = Gauge(
    "automation_queue_depth",
    "Jobs waiting in a Redis queue (imports, runs), retries waiting out their backoff included; read "
    "from Redis every 2 s (shared by all instances: read it with max()).",
    ["queue"],
)
QUEUE_OLDEST_JOB_AGE = Gauge(
    "automation_queue_oldest_job_age_seconds",
    "Seconds the next job of a queue has waited since it was first enqueued (0 when the queue is "
    "empty); read from Redis every 2 s.",
    ["queue"],
)
JOB_RETRIES = Counter(
    "automation_job_retries_total",
    "Jobs put back in their queue after a failed attempt (a gateway 5xx or timeout, or a worker that "
    "died while holding the job), by queue.",
    ["queue"],
)
JOBS_DEAD_LETTERED = Counter(
    "automation_jobs_dead_lettered_total",
    "Jobs given up after AUTOMATION_MAX_JOB_ATTEMPTS failed attempts and moved to the queue's dead "
    "letters, by queue.",
    ["queue"],
)

DEAD_LETTERS = Gauge(
    "automation_dead_letters",
    "Jobs held in a queue's dead letters (the newest 1000 are kept) until an operator replays or "
    "discards them (`airscope jobs`); read from Redis every 2 s (shared by all instances: read it "
    "with max()).",
    ["queue"],
)
DEAD_LETTERS_HANDLED = Counter(
    "automation_dead_letters_handled_total",
    "Dead-lettered jobs an operator handled, by queue and action (replayed: queued again with "
    "fresh attempts, its file or run reopened; discarded: dropped, its file or run stays failed).",
    ["queue", "action"],
)


def workflow_label(name: str, builtin: bool) -> str:
    return name if builtin and name in BUILTIN_WORKFLOWS else CUSTOM_WORKFLOW


# Every series exists from the start, so a rate() over them has a baseline before the first event.
for _type in FILE_TYPES:
    FILE_PROCESSING_DURATION.labels(_type)
    ROW_ERRORS.labels(_type)
    for _outcome in FILE_OUTCOMES:
        FILES_PROCESSED.labels(_type, _outcome)
for _workflow in (*BUILTIN_WORKFLOWS, CUSTOM_WORKFLOW):
    for _status in RUN_STATUSES:
        WORKFLOW_RUNS.labels(_workflow, _status)
for _queue in QUEUES:
    QUEUE_DEPTH.labels(_queue)
    QUEUE_OLDEST_JOB_AGE.labels(_queue)
    JOB_RETRIES.labels(_queue)
    JOBS_DEAD_LETTERED.labels(_queue)
    DEAD_LETTERS.labels(_queue)
    for _action in DEAD_LETTER_ACTIONS:
        DEAD_LETTERS_HANDLED.labels(_queue, _action)
