"""Password hashing with argon2id (argon2-cffi's recommended parameters), and API key hashing.

Passwords are low-entropy, so they get a slow, salted, memory-hard hash. API keys are 256-bit random strings, so a
plain SHA-256 is enough and lets a request's key be looked up by its hash in one indexed query.
"""

from __future__ import annotations

import hashlib
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

_hasher = PasswordHasher()
MIN_PASSWORD_LENGTH = 8
API_KEY_PREFIX = "rk_"


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValueError(f"password too short: use at least {MIN_PASSWORD_LENGTH} characters")
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """True when the hash was made with weaker parameters than today's; rehash at the next successful login."""
    return _hasher.check_needs_rehash(password_hash)


def new_api_key() -> str:
    return API_KEY_PREFIX + secrets.token_urlsafe(32)


def hash_api_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def random_password() -> str:
    return secrets.token_urlsafe(12)
