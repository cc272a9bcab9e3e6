"""User accounts and the failed logins counted against them and their clients, in PostgreSQL."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from airscope.services.platform_services.db import timed
from airscope.services.platform_services.models import LoginFailure, User


class EmailTaken(Exception):
    pass


async def by_email(session: AsyncSession, email: str) -> User | None:
    with timed("user_by_email"):
        return await session.scalar(select(User).where(User.email == email))


async def by_id(session: AsyncSession, user_id: uuid.UUID) -> User | None:
    with timed("user_by_id"):
        return await session.get(User, user_id)


async def insert_user(
    session: AsyncSession, email: str, password_hash: str, display_name: str | None
) -> User:
    """Adds the account and commits; raises EmailTaken when the address has one already."""
    user = User(email=email, password_hash=password_hash, display_name=display_name)
    session.add(user)
    try:
        with timed("insert_user"):
            await session.commit()
    except IntegrityError:
        await session.rollback()
        raise EmailTaken from None
    return user


async def update_password_hash(session: AsyncSession, user_id: uuid.UUID, password_hash: str) -> None:
    with timed("update_password_hash"):
        await session.execute(update(User).where(User.id == user_id).values(password_hash=password_hash))


@dataclass(frozen=True)
class Failures:
    """Failed logins within the window, and the seconds until the oldest of them leaves it."""

    count: int
    retry_after: float


async def recent_failures(
    session: AsyncSession, email: str, client: str, window: timedelta
) -> tuple[Failures, Failures]:
    """The failed logins of the account ``email`` and of the client ``client``, in one query."""
    of_account, of_client = LoginFailure.email == email, LoginFailure.client == client
    with timed("login_failures"):
        row = (
            await session.execute(
                select(
                    func.count().filter(of_account),
                    func.min(LoginFailure.failed_at).filter(of_account),
                    func.count().filter(of_client),
                    func.min(LoginFailure.failed_at).filter(of_client),
                    func.now(),
                ).where(or_(of_account, of_client), LoginFailure.failed_at > func.now() - window)
            )
        ).one()
    account_count, account_oldest, client_count, client_oldest, now = row
    return (
        Failures(account_count, _seconds_left(account_oldest, window, now)),
        Failures(client_count, _seconds_left(client_oldest, window, now)),
    )


def _seconds_left(oldest: datetime | None, window: timedelta, now: datetime) -> float:
    return 0.0 if oldest is None else max((oldest + window - now).total_seconds(), 0.0)


async def add_failure(session: AsyncSession, email: str, client: str, window: timedelta) -> None:
    """Records a failed login; the account's and the client's failures older than the window go
    at the same time."""
    with timed("insert_login_failure"):
        await session.execute(
            delete(LoginFailure).where(
                or_(LoginFailure.email == email, LoginFailure.client == client),
                LoginFailure.failed_at <= func.now() - window,
            )
        )
        await session.execute(insert(LoginFailure).values(email=email, client=client))


async def clear_failures(session: AsyncSession, email: str) -> None:
    with timed("clear_login_failures"):
        await session.execute(delete(LoginFailure).where(LoginFailure.email == email))
