"""User accounts and the failed logins counted against them, in PostgreSQL."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy import delete, func, insert, select, update
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


async def recent_failures(session: AsyncSession, email: str, window: timedelta) -> tuple[int, float]:
    """Failed logins for ``email`` within ``window``, and the seconds until the oldest leaves it."""
    since = func.now() - window
    with timed("login_failures"):
        count, oldest, now = (
            await session.execute(
                select(func.count(), func.min(LoginFailure.failed_at), func.now()).where(
                    LoginFailure.email == email, LoginFailure.failed_at > since
                )
            )
        ).one()
    return count, _seconds_until(oldest + window, now) if oldest is not None else 0.0


def _seconds_until(moment: datetime, now: datetime) -> float:
    return max((moment - now).total_seconds(), 0.0)


async def add_failure(session: AsyncSession, email: str, window: timedelta) -> None:
    """Records a failed login; the address's failures older than the window go at the same time."""
    with timed("insert_login_failure"):
        await session.execute(
            delete(LoginFailure).where(
                LoginFailure.email == email, LoginFailure.failed_at <= func.now() - window
            )
        )
        await session.execute(insert(LoginFailure).values(email=email))


async def clear_failures(session: AsyncSession, email: str) -> None:
    with timed("clear_login_failures"):
        await session.execute(delete(LoginFailure).where(LoginFailure.email == email))
