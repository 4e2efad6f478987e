"""The table of bad CLI invocations: (arguments, exit code, text the one stderr line holds).

``{tmp}`` in an argument is replaced by the test's own temporary folder.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from pathlib import Path

INPUT, DATABASE, NOT_FOUND, CONFLICT = 2, 3, 4, 5


@dataclass(frozen=True)
class Case:
    argv: tuple[str, ...]
    code: int
    needle: str
    env: dict[str, str] | None = field(default=None, hash=False)

    def args(self, tmp: Path) -> list[str]:
        return [a.replace("{tmp}", str(tmp)) for a in self.argv]

    def __str__(self) -> str:
        shown = " ".join(self.argv)[:70]
        prefix = " ".join(f"{k}={v}" for k, v in (self.env or {}).items())
        return f"{prefix} {shown}".strip()


def cases(rows: list[tuple[tuple[str, ...], int, str]]) -> list[Case]:
    return [Case(argv, code, needle) for argv, code, needle in rows]


MANY_FLOWS = tuple(a for i in range(201) for a in ("--flow", str(uuid.UUID(int=i))))

# Each filter option, wrong in each way that matters; every command that takes filters.
BAD_FILTERS: list[tuple[tuple[str, ...], int, str]] = [
    (("--flow", "not-a-uuid"), INPUT, "--flow"),
    (("--flow", "123"), INPUT, "--flow"),
    (("--flow", "' OR 1=1 --"), INPUT, "--flow"),
    (MANY_FLOWS, INPUT, "--flow"),
    (("--status", "bogus"), INPUT, "--status: unknown status 'bogus'"),
    (("--status", "sucess"), INPUT, "--status: unknown status"),
    (("--status", " "), INPUT, "--status: must not be empty"),
    (("--status", "s" * 101), INPUT, "--status: at most 100"),
    (("--status", "a\x01b"), INPUT, "--status: must not contain"),
    (("--status",), INPUT, "--status: expected one argument"),
    (("--trigger", "a\x00b"), INPUT, "--trigger"),
    (("--user-id", "nope"), INPUT, "--user-id"),
    (("--session", "a\x00b"), INPUT, "--session"),
    (("--session", "s" * 501), INPUT, "--session"),
    (("--since", "yesterday"), INPUT, "--since"),
    (("--since", "2024-13-45"), INPUT, "--since"),
    (("--since", "0001-01-01T00:00:00+14:00"), INPUT, "--since: out of range"),
    (("--until", "9999-12-31T23:59:59-14:00"), INPUT, "--until: out of range"),
    (("--since", "2026-01-02", "--until", "2026-01-01"), INPUT, "earlier than --until"),
    (("--days", "0"), INPUT, "--days: must be between 1 and"),
    (("--days", "-1"), INPUT, "--days: must be between 1 and"),
    (("--days", "99999999999999999999"), INPUT, "--days: must be between 1 and"),
    (("--days", "abc"), INPUT, "--days: 'abc' is not a whole number"),
    (("--days", "3", "--since", "2026-01-01"), INPUT, "--days: use either"),
    (("--error-contains", "e" * 501), INPUT, "--error-contains"),
    (("--error-contains", "a\x00"), INPUT, "--error-contains"),
    (("--error-type", "\x00"), INPUT, "--error-type"),
    (("--bogus-flag",), INPUT, "unrecognized arguments: --bogus-flag"),
    (("--status", "ok\udcff"), INPUT, "not valid UTF-8"),
]
FILTER_COMMANDS = (("stats",), ("stats", "--json"), ("export",), ("delete", "--dry-run"))
FILTER_CASES = [
    Case((*command, *args), code, needle)
    for command in FILTER_COMMANDS
    for args, code, needle in BAD_FILTERS
]

COMMAND_CASES = cases(
    [
        # demo
        (("demo", "--runs", "-5"), INPUT, "--runs: must be between 0 and"),
        (("demo", "--runs", "abc"), INPUT, "--runs: 'abc' is not a whole number"),
        (("demo", "--runs", "99999999999999999999"), INPUT, "--runs: must be between"),
        (("demo", "--days", "0"), INPUT, "--days: must be between 1 and 3,650"),
        (("demo", "--days", "3651"), INPUT, "--days: must be between 1 and 3,650"),
        (("demo", "--seed", "-1"), INPUT, "--seed: must be between 0"),
        (("demo", "--seed", "1e3"), INPUT, "--seed: '1e3' is not a whole number"),
        # prune: zero is refused, never read as "unset"
        (("prune",), INPUT, "retention policy is empty"),
        (("prune", "--max-age-days", "0"), INPUT, "--max-age-days: must be between 1 and"),
        (("prune", "--max-age-days", "-1"), INPUT, "--max-age-days: must be between 1"),
        (("prune", "--max-age-days", "abc"), INPUT, "--max-age-days: 'abc'"),
        (("prune", "--max-age-days", "36501"), INPUT, "--max-age-days: must be between 1"),
        (("prune", "--max-age-days", "99999999999999"), INPUT, "--max-age-days: must be"),
        (("prune", "--max-runs-per-flow", "0"), INPUT, "--max-runs-per-flow: must be between 1"),
        (("prune", "--max-runs-per-flow", "abc"), INPUT, "--max-runs-per-flow: 'abc'"),
        (("prune", "--max-runs-per-flow", str(2**31)), INPUT, "--max-runs-per-flow: must be"),
        (("prune", "--status-max-age", "failure"), INPUT, "expected STATUS=DAYS"),
        (("prune", "--status-max-age", "=5"), INPUT, "expected STATUS=DAYS"),
        (("prune", "--status-max-age", "failure=abc"), INPUT, "expected STATUS=DAYS"),
        (("prune", "--status-max-age", "failure=-1"), INPUT, "expected STATUS=DAYS"),
        (("prune", "--status-max-age", "failure=0"), INPUT, "days must be between 1 and"),
        (("prune", "--status-max-age", "failure=99999999"), INPUT, "days must be between"),
        (("prune", "--status-max-age", "bogus=5"), INPUT, "unknown status 'bogus'"),
        (("prune", "--status-max-age", "running=3"), INPUT, "running runs are never pruned"),
        (("prune", "--status-max-age", "RUNNING=3"), INPUT, "running runs are never pruned"),
        (("prune", "--status-max-age", "pending=3"), INPUT, "pending runs are never pruned"),
        (("prune", "--max-age-days", "5", "--batch-size", "0"), INPUT, "--batch-size: must be"),
        (("prune", "--max-age-days", "5", "--batch-size", "100001"), INPUT, "--batch-size"),
        (("prune", "--max-age-days", "5", "--batch-size", "x"), INPUT, "--batch-size: 'x'"),
        (("prune", "--dry-run", "--max-age-days"), INPUT, "expected one argument"),
        # delete
        (("delete",), INPUT, "refusing to delete every flow run"),
        (("delete", "--older-than-days", "-1"), INPUT, "--older-than-days: must be between 0"),
        (("delete", "--older-than-days", "36501"), INPUT, "--older-than-days: must be"),
        (("delete", "--older-than-days", "abc"), INPUT, "--older-than-days: 'abc'"),
        (("delete", "--all", "--batch-size", "0"), INPUT, "--batch-size: must be between 1"),
        (("delete", "--status", "running"), INPUT, "protected"),
        (("delete", "--status", "PENDING", "--dry-run"), INPUT, "protected"),
        # export
        (("export", "--columns", "id,nope"), INPUT, "nope"),
        (("export", "--columns", ","), INPUT, "columns"),
        (("export", "--format", "json"), INPUT, "--format: invalid choice"),
        (("export", "-o", "{tmp}"), INPUT, "is a folder, not a file"),
        (("export", "-o", "{tmp}/missing/out.csv"), INPUT, "does not exist"),
        (("export", "-o", "/dev/full"), INPUT, "No space left on device"),
        (("export", "-o", "/proc/version"), INPUT, "--output: cannot write /proc/version"),
        (("export", "-o", "/proc/version", "--status", "failure"), INPUT, "--output: cannot"),
        # sweep-stuck: zero is refused (it would fail every run that is running now)
        (("sweep-stuck", "--timeout-minutes", "0"), INPUT, "--timeout-minutes: must be between 1"),
        (("sweep-stuck", "--timeout-minutes", "-1"), INPUT, "--timeout-minutes: must be"),
        (("sweep-stuck", "--timeout-minutes", "abc"), INPUT, "--timeout-minutes: 'abc'"),
        (("sweep-stuck", "--timeout-minutes", "99999999999999"), INPUT, "--timeout-minutes"),
        (("sweep-stuck", "--dry-run", "extra"), INPUT, "unrecognized arguments: extra"),
        # abbreviations are refused (issue 18: `delete --a` was taken for `--all`)
        (("delete", "--a"), INPUT, "unrecognized arguments: --a"),
        (("delete", "--al", "--dry-run"), INPUT, "unrecognized arguments: --al"),
        (("delete", "--older-than", "30"), INPUT, "unrecognized arguments: --older-than 30"),
        (("delete", "--all", "--include-act"), INPUT, "unrecognized arguments: --include-act"),
        (("prune", "--max-age", "1"), INPUT, "unrecognized arguments: --max-age 1"),
        (("prune", "--max-age-days", "1", "--dry"), INPUT, "unrecognized arguments: --dry"),
        (("sweep-stuck", "--time", "1"), INPUT, "unrecognized arguments: --time 1"),
        (("export", "--col", "id"), INPUT, "unrecognized arguments: --col id"),
        (("stats", "--stat", "failure"), INPUT, "unrecognized arguments: --stat failure"),
        (("--database", "x", "stats"), INPUT, "invalid choice: 'x'"),
        # the command itself
        ((), INPUT, "the following arguments are required: command"),
        (("bogus-command",), INPUT, "invalid choice: 'bogus-command'"),
        (("init-db", "--force"), INPUT, "unrecognized arguments: --force"),
        (("stats", "--json=yes"), INPUT, "--json: ignored explicit argument"),
        (("stats", "--exact=1"), INPUT, "--exact: ignored explicit argument"),
        (("rollup",), INPUT, "required: rollup_command"),
        (("rollup", "drop"), INPUT, "invalid choice: 'drop'"),
        (("rollup", "check", "--fix"), INPUT, "unrecognized arguments: --fix"),
    ]
)

ACCOUNT_CASES = cases(
    [
        (("user",), INPUT, "required: user_command"),
        (("user", "create"), INPUT, "required: username"),
        (("user", "create", " "), INPUT, "username: must be 1 to 150 characters"),
        (("user", "create", "u" * 151), INPUT, "username: must be 1 to 150 characters"),
        (("user", "create", "alice"), CONFLICT, "user 'alice' already exists"),
        (("user", "delete", "alice"), INPUT, "invalid choice: 'delete'"),
        (("api-key",), INPUT, "required: key_command"),
        (("api-key", "create"), INPUT, "required: --user"),
        (("api-key", "create", "--user", "nobody"), NOT_FOUND, "user 'nobody' does not exist"),
        (("api-key", "revoke"), INPUT, "required: key_id"),
        (("api-key", "revoke", "123"), INPUT, "key id: '123' is not a UUID"),
        (("api-key", "revoke", str(uuid.UUID(int=7))), NOT_FOUND, "no active API key"),
        (("api-key", "list", "--all"), INPUT, "unrecognized arguments: --all"),
        (("api-key", "create", "--us", "alice"), INPUT, "required: --user"),
    ]
)

MISSING_SERVER = "postgresql+psycopg://nobody@127.0.0.1:1/none"
BAD_URLS: list[tuple[str, int, str]] = [
    ("bogus", INPUT, "--database-url: cannot be parsed"),
    ("://", INPUT, "--database-url: cannot be parsed"),
    ("mysql://u@h/db", INPUT, "--database-url: 'mysql' is not supported"),
    ("foo://x", INPUT, "--database-url: 'foo' is not supported"),
    ("postgresql+asyncpg://u@h/db", INPUT, "--database-url: unusable driver"),
    ("", INPUT, "--database-url: is empty"),
    ("sqlite:////etc/passwd/x.db", DATABASE, "cannot create the folder of the SQLite file"),
    ("sqlite:////proc/nope/x.db", DATABASE, "cannot create the folder of the SQLite file"),
    (MISSING_SERVER, DATABASE, "database error"),
    ("sqlite://", DATABASE, "run `flowruns init-db`"),
]
URL_COMMANDS = (
    ("stats",),
    ("export",),
    ("delete", "--all", "--dry-run"),
    ("prune", "--max-age-days", "1", "--dry-run"),
    ("sweep-stuck", "--dry-run"),
    ("api-key", "list"),
)
URL_CASES = [
    Case(("--database-url", url, *command), code, needle)
    for url, code, needle in BAD_URLS
    for command in URL_COMMANDS
    # An in-memory database is empty but reachable: only commands that read tables fail.
] + cases(
    [
        (("--database-url", "bogus", "init-db"), INPUT, "--database-url: cannot be parsed"),
        (("--database-url", "mysql://u@h/db", "init-db"), INPUT, "'mysql' is not supported"),
        (("--database-url", MISSING_SERVER, "init-db"), DATABASE, "database error"),
        (("--database-url",), INPUT, "--database-url: expected one argument"),
    ]
)

BAD_SETTINGS: list[tuple[str, str, str]] = [
    ("FLOWRUNS_DELETE_BATCH_SIZE", "abc", "FLOWRUNS_DELETE_BATCH_SIZE: Input should be a valid"),
    ("FLOWRUNS_DELETE_BATCH_SIZE", "0", "FLOWRUNS_DELETE_BATCH_SIZE: Input should be greater"),
    ("FLOWRUNS_DELETE_BATCH_SIZE", "100001", "FLOWRUNS_DELETE_BATCH_SIZE: Input should be less"),
    ("FLOWRUNS_READ_ONLY", "maybe", "FLOWRUNS_READ_ONLY: Input should be a valid boolean"),
    ("FLOWRUNS_STUCK_RUN_TIMEOUT_MINUTES", "0", "FLOWRUNS_STUCK_RUN_TIMEOUT_MINUTES"),
    ("FLOWRUNS_STUCK_RUN_TIMEOUT_MINUTES", "ten", "FLOWRUNS_STUCK_RUN_TIMEOUT_MINUTES"),
    ("FLOWRUNS_RETENTION_MAX_AGE_DAYS", "0", "FLOWRUNS_RETENTION_MAX_AGE_DAYS"),
    ("FLOWRUNS_RETENTION_MAX_RUNS_PER_FLOW", "-3", "FLOWRUNS_RETENTION_MAX_RUNS_PER_FLOW"),
    ("FLOWRUNS_RETENTION_FAILURE_MAX_AGE_DAYS", "x", "FLOWRUNS_RETENTION_FAILURE_MAX_AGE_DAYS"),
    ("FLOWRUNS_CACHE_TTL_SECONDS", "-1", "FLOWRUNS_CACHE_TTL_SECONDS"),
    ("FLOWRUNS_DEMO_RUNS", "many", "FLOWRUNS_DEMO_RUNS"),
    ("FLOWRUNS_RECORDER_TIMEOUT_SECONDS", "-1", "FLOWRUNS_RECORDER_TIMEOUT_SECONDS"),
    ("FLOWRUNS_RECORDER_TIMEOUT_SECONDS", "soon", "FLOWRUNS_RECORDER_TIMEOUT_SECONDS"),
    ("FLOWRUNS_RECORDER_RETRY_SECONDS", "1e9", "FLOWRUNS_RECORDER_RETRY_SECONDS"),
    ("FLOWRUNS_RETENTION_MAX_AGE_DAYS", "1000000000", "FLOWRUNS_RETENTION_MAX_AGE_DAYS: Input"),
    ("FLOWRUNS_RETENTION_FAILURE_MAX_AGE_DAYS", "36501", "FLOWRUNS_RETENTION_FAILURE_MAX"),
    ("FLOWRUNS_PUBLIC_URL", "evil.example", "FLOWRUNS_PUBLIC_URL: Value error, must be an abs"),
    ("FLOWRUNS_PUBLIC_URL", "ftp://x.example", "FLOWRUNS_PUBLIC_URL: Value error, must be an"),
    ("FLOWRUNS_PUBLIC_URL", "https://x.example/?a=1", "FLOWRUNS_PUBLIC_URL: Value error, must not"),
    ("FLOWRUNS_PUBLIC_URL", "https://x .example", "FLOWRUNS_PUBLIC_URL: Value error, must not"),
    ("FLOWRUNS_DRY_RUNS_PER_HOUR", "0", "FLOWRUNS_DRY_RUNS_PER_HOUR: Input should be greater"),
    ("FLOWRUNS_DRY_RUNS_PER_HOUR", "many", "FLOWRUNS_DRY_RUNS_PER_HOUR: Input should be a valid"),
]
ENV_COMMANDS = (("stats",), ("delete", "--all"), ("sweep-stuck",))
ENV_CASES = [
    Case(command, INPUT, needle, env={name: value})
    for name, value, needle in BAD_SETTINGS
    for command in ENV_COMMANDS
]

BAD_ENV_URLS: list[tuple[str, str]] = [
    ("bogus", "FLOWRUNS_DATABASE_URL: cannot be parsed"),
    ("mysql://u@h/db", "FLOWRUNS_DATABASE_URL: 'mysql' is not supported"),
    ("sqlite+pysqlcipher://x", "FLOWRUNS_DATABASE_URL: unusable driver"),
]
ENV_CASES += [
    Case(command, INPUT, needle, env={"FLOWRUNS_READ_DATABASE_URL": url})
    for url, needle in (
        ("bogus", "FLOWRUNS_READ_DATABASE_URL: cannot be parsed"),
        ("mysql://u@h/db", "FLOWRUNS_READ_DATABASE_URL: 'mysql' is not supported"),
    )
    for command in (("stats",), ("export",))
]
ENV_CASES += [
    Case(command, INPUT, needle, env={"FLOWRUNS_DATABASE_URL": url})
    for url, needle in BAD_ENV_URLS
    for command in ENV_COMMANDS
]
