"""Local accounts: bcrypt hashes (Langflow's too), sign-in that never says whether a name
exists, and throttling per account and per client, counted in the database."""

from __future__ import annotations

import statistics
import threading
import time
from collections.abc import Iterator
from datetime import timedelta

import bcrypt
import pytest
from sqlalchemy import Engine, select, text, update

from data import passwords, signin
from data.accounts import create_user
from data.errors import InvalidQuery, NotFound
from data.models import LoginFailure, User

LIMITS = signin.Limits(per_account=5, per_client=20, window=timedelta(minutes=15))
GOOD = "correct horse battery"


@pytest.fixture(autouse=True)
def _cheap_hashes(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Cost 4 instead of 12 (tests that measure timing set it back)."""
    monkeypatch.setattr(passwords, "ROUNDS", 4)
    yield


def age_failures(engine: Engine, by: timedelta) -> None:
    """Move every counted failure ``by`` into the past (row by row: portable SQL)."""
    with engine.begin() as conn:
        for row_id, at in conn.execute(select(LoginFailure.id, LoginFailure.at)).all():
            conn.execute(update(LoginFailure).where(LoginFailure.id == row_id).values(at=at - by))


def refused(engine: Engine, name: str, password: str, client: str = "c1") -> str:
    with pytest.raises(signin.SignInRefused) as caught:
        signin.sign_in(engine, name, password, client, LIMITS)
    return str(caught.value)


def test_sign_in_with_the_password_set(engine: Engine) -> None:
    user_id = create_user(engine, "alice", password=GOOD)
    with engine.connect() as conn:
        stored = conn.execute(select(User.password).where(User.id == user_id)).scalar_one()
    assert stored.startswith("$2b$04$") and GOOD not in stored
    who = signin.sign_in(engine, " alice ", GOOD, "c1", LIMITS)
    assert (who.user_id, who.username, who.is_superuser) == (user_id, "alice", False)
    with engine.connect() as conn:
        assert conn.execute(select(User.last_login_at).where(User.id == user_id)).scalar_one()


def test_wrong_password_and_unknown_name_get_the_same_message(engine: Engine) -> None:
    create_user(engine, "alice", password=GOOD)
    create_user(engine, "keys-only")  # API keys only: no password to match
    messages = {
        refused(engine, "alice", "wrong password"),
        refused(engine, "nobody", GOOD),
        refused(engine, "keys-only", ""),
        refused(engine, "keys-only", "anything at all"),
        refused(engine, "", GOOD),
    }
    assert messages == {signin.INVALID}


def test_a_disabled_account_cannot_sign_in_and_says_the_same(engine: Engine) -> None:
    user_id = create_user(engine, "alice", password=GOOD)
    with engine.begin() as conn:
        conn.execute(update(User).where(User.id == user_id).values(is_active=False))
    assert refused(engine, "alice", GOOD) == signin.INVALID


def test_an_unknown_name_costs_what_a_wrong_password_costs(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(passwords, "ROUNDS", 12)  # the real cost: the difference must not show
    create_user(engine, "alice", password=GOOD)
    roomy = signin.Limits(per_account=100, per_client=100, window=timedelta(minutes=15))

    def timed(name: str) -> float:
        start = time.perf_counter()
        with pytest.raises(signin.SignInRefused):
            signin.sign_in(engine, name, "not the password", "c1", roomy)
        return time.perf_counter() - start

    timed("warm-up")  # the dummy hash is made once per process
    known = statistics.median(timed("alice") for _ in range(5))
    unknown = statistics.median(timed(f"ghost{i}") for i in range(5))
    assert known > 0.05  # a real bcrypt check happened
    assert 0.6 < unknown / known < 1.6, (known, unknown)


def test_failures_throttle_the_account_even_with_the_right_password(engine: Engine) -> None:
    create_user(engine, "alice", password=GOOD)
    for attempt in range(LIMITS.per_account):
        assert refused(engine, "alice", f"guess {attempt}", client=f"c{attempt}") == signin.INVALID
    message = refused(engine, "ALICE", GOOD, client="fresh")  # any case, any client
    assert message.startswith("Too many failed sign-ins. Try again in 15 minute")
    # An unknown name is throttled alike: throttling tells nothing about existence.
    for attempt in range(LIMITS.per_account):
        refused(engine, "ghost", f"guess {attempt}", client=f"g{attempt}")
    assert refused(engine, "ghost", GOOD, client="fresh") == message
    # The window slides: once the failures are older than it, the right password works.
    age_failures(engine, timedelta(minutes=16))
    assert signin.sign_in(engine, "alice", GOOD, "fresh", LIMITS).username == "alice"


def test_refused_attempts_do_not_extend_the_wait(engine: Engine) -> None:
    create_user(engine, "alice", password=GOOD)
    for attempt in range(LIMITS.per_account):
        refused(engine, "alice", f"guess {attempt}")
    key = signin.account_key("alice")
    since = signin.utcnow() - LIMITS.window
    for _ in range(3):
        refused(engine, "alice", "still guessing")
    assert signin.failures_counted(engine, key, since) == LIMITS.per_account


def test_failures_throttle_the_client_across_accounts(engine: Engine) -> None:
    create_user(engine, "alice", password=GOOD)
    create_user(engine, "bob", password=GOOD)
    for attempt in range(LIMITS.per_client):  # a spray: one guess per name
        refused(engine, f"user{attempt}", GOOD, client="sprayer")
    assert refused(engine, "bob", GOOD, client="sprayer").startswith("Too many")
    assert signin.sign_in(engine, "bob", GOOD, "elsewhere", LIMITS).username == "bob"


def test_success_forgets_the_accounts_failures(engine: Engine) -> None:
    create_user(engine, "alice", password=GOOD)
    for attempt in range(LIMITS.per_account - 1):
        refused(engine, "alice", f"typo {attempt}")
    signin.sign_in(engine, "alice", GOOD, "c1", LIMITS)
    for attempt in range(LIMITS.per_account):  # a full allowance again
        assert refused(engine, "alice", f"typo {attempt}") == signin.INVALID


def test_parallel_guesses_cannot_exceed_the_limit(engine: Engine) -> None:
    """Each attempt is written (and committed) before the count: whichever attempt counts
    last among those let through sees all of them, so at most the limit get a password
    check. A burst may see itself whole and be refused entirely: safe, and only an
    attacker sends one."""
    create_user(engine, "alice", password=GOOD)
    outcomes: list[str] = []
    lock = threading.Lock()
    start = threading.Barrier(12)

    def guess(i: int) -> None:
        start.wait()
        try:
            signin.sign_in(engine, "alice", f"guess {i}", f"c{i}", LIMITS)
            result = "signed in"
        except signin.SignInRefused as exc:
            result = str(exc)
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=guess, args=(i,)) for i in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    checked = [o for o in outcomes if o == signin.INVALID]
    assert len(outcomes) == 12 and "signed in" not in outcomes
    assert len(checked) <= LIMITS.per_account, outcomes
    throttled = set(outcomes) - {signin.INVALID}
    assert throttled <= {"Too many failed sign-ins. Try again in 15 minute(s)."}, outcomes


def test_the_table_holds_no_names_and_forgets_old_rows(engine: Engine) -> None:
    create_user(engine, "alice", password=GOOD)
    refused(engine, "my-secret-typed-as-name", "x" * 10, client="10.0.0.7")
    with engine.connect() as conn:
        stored = [str(v) for v in conn.execute(select(LoginFailure.key_hash)).scalars()]
    age_failures(engine, timedelta(days=1))
    assert len(stored) == 2 and all(len(v) == 64 for v in stored)
    assert not any("secret" in v or "10.0.0.7" in v for v in stored)
    refused(engine, "alice", "wrong password")  # a new failure prunes the expired rows
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM flowrun_login_failure")).scalar() == 2


def test_set_password_replaces_the_old_one(engine: Engine) -> None:
    create_user(engine, "alice", password=GOOD)
    signin.set_password(engine, "alice", "a new passphrase")
    assert refused(engine, "alice", GOOD) == signin.INVALID
    assert signin.sign_in(engine, "alice", "a new passphrase", "c1", LIMITS).username == "alice"
    with pytest.raises(NotFound, match="user 'nobody' does not exist"):
        signin.set_password(engine, "nobody", "a new passphrase")


@pytest.mark.parametrize(
    ("password", "says"),
    [
        ("short", "at least 8 characters"),
        ("é" * 37, "at most 72 bytes"),  # 74 bytes: bcrypt would ignore the end
        ("abcdefgh\x00", "NUL"),
        ("abcdefgh\udc00", "not valid text"),
    ],
)
def test_passwords_we_would_store_badly_are_refused(password: str, says: str) -> None:
    with pytest.raises(InvalidQuery, match=says):
        passwords.hash_password(password)


def test_bcrypt_hashes_of_other_makers_are_accepted() -> None:
    """passlib (Langflow) writes $2b$; older tools $2a$, PHP $2y$: the same algorithm."""
    made = bcrypt.hashpw(GOOD.encode(), bcrypt.gensalt(4)).decode()
    for prefix in ("$2a$", "$2b$", "$2y$"):
        assert passwords.verify_password(GOOD, prefix + made[4:])
        assert not passwords.verify_password("wrong", prefix + made[4:])
    # passlib cut passwords at 72 bytes: the same cut on checking keeps them working.
    long = "x" * 80
    cut = bcrypt.hashpw(long.encode()[:72], bcrypt.gensalt(4)).decode()
    assert passwords.verify_password(long, cut)
    for stored in ("", "plain text", "$2b$04$corrupt", "$argon2id$v=19$..."):
        assert not passwords.verify_password(GOOD, stored)


@pytest.mark.parametrize("name", ["al\x00ice", "alice\udc00", "a" * 151])
def test_names_no_row_can_hold_are_answered_not_crashed_on(engine: Engine, name: str) -> None:
    create_user(engine, "alice", password=GOOD)
    assert refused(engine, name, GOOD) == signin.INVALID
