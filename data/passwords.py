"""Password hashes for local accounts: bcrypt, the format Langflow stores in ``user.password``
(passlib's bcrypt, ``$2b$12$...``), so a Langflow user signs in with their Langflow password
when FLOWRUNS_DATABASE_URL points at Langflow's database."""

from __future__ import annotations

import functools

import bcrypt

from data.errors import InvalidQuery

# Langflow's cost too: checking one of our hashes costs what checking one of theirs does.
ROUNDS = 12
MIN_LENGTH = 8
# bcrypt reads 72 bytes at most; passlib (Langflow) cut longer passwords silently.
MAX_BYTES = 72
BCRYPT_PREFIXES = ("$2a$", "$2b$", "$2y$")


def check_new_password(plain: str) -> None:
    """Refuse a password we would store badly: too short, cut by bcrypt, or unhashable."""
    if len(plain) < MIN_LENGTH:
        raise InvalidQuery(f"password: must be at least {MIN_LENGTH} characters")
    if "\x00" in plain:
        raise InvalidQuery("password: must not contain NUL characters")
    try:
        encoded = plain.encode()
    except UnicodeEncodeError:  # lone surrogates from undecodable input
        raise InvalidQuery("password: is not valid text") from None
    if len(encoded) > MAX_BYTES:
        # Refused rather than cut: bcrypt would ignore everything after byte 72.
        raise InvalidQuery(f"password: must be at most {MAX_BYTES} bytes (UTF-8)")


def hash_password(plain: str) -> str:
    check_new_password(plain)
    return bcrypt.hashpw(plain.encode(), bcrypt.gensalt(ROUNDS)).decode()


@functools.cache
def _dummy_hash(rounds: int) -> bytes:
    return bcrypt.hashpw(b"not anyone's password", bcrypt.gensalt(rounds))


def burn_time() -> None:
    """Cost what checking a real hash costs: a missing user answers as slowly as a wrong
    password, so the timing does not tell whether a username exists."""
    bcrypt.checkpw(b"still not anyone's password", _dummy_hash(ROUNDS))


def verify_password(plain: str, stored: str | None) -> bool:
    """True when ``plain`` matches the stored bcrypt hash. An empty, foreign or malformed
    hash never matches, and costs the same time as a check."""
    candidate = plain.encode("utf-8", "replace")[:MAX_BYTES]
    if not stored or not stored.startswith(BCRYPT_PREFIXES):
        burn_time()
        return False
    # bcrypt (the C library) knows $2a$ and $2b$; $2y$ (PHP's name) is the same algorithm.
    hashed = ("$2b$" + stored[4:]) if stored.startswith("$2y$") else stored
    try:
        return bcrypt.checkpw(candidate, hashed.encode())
    except ValueError:  # a corrupt hash with a bcrypt prefix
        burn_time()
        return False
