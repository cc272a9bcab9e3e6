"""Activity events (login, chat, upload, saga), the per-day analytics, and the active-users gauge.

Active users are counted in PostgreSQL, not in memory, so every replica reports the same number
and a restart forgets nothing: a background task runs one COUNT(DISTINCT) over the last 15 minutes
every PLATFORM_ACTIVE_USERS_REFRESH_SECONDS (15 s by default), an index-only scan of
``activity_events_occurred_at``. Requests never pay for it.
"""

from __future__ import annotations

import asyncio
from datetime import date, timedelta

from sqlalchemy import func, insert, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from airscope.services.platform_services import metrics
from airscope.services.platform_services.db import Database, is_outage, timed
from airscope.services.platform_services.models import ActivityEvent
from airscope.telemetry import get_logger, untraced

log = get_logger(__name__)

EVENT_TYPES = metrics.ACTIVITY_TYPES
ACTIVE_WINDOW = timedelta(minutes=15)

# Every UTC day of the window (the session's time zone is UTC), with each type's count; days
# without events come back once with a NULL type.
ACTIVITY_BY_DAY = text(
    """
    SELECT day::date AS day, e.type, count(e.id) AS events
    FROM generate_series(
        (current_date - CAST(:back AS integer))::timestamptz, current_date::timestamptz, interval '1 day'
    ) AS day
    LEFT JOIN activity_events AS e ON e.occurred_at >= day AND e.occurred_at < day + interval '1 day'
    GROUP BY day, e.type
    ORDER BY day
    """
)


async def record(session: AsyncSession, event_type: str, actor: str) -> None:
    """Adds the event to the session's transaction."""
    with timed("insert_event"):
        await session.execute(insert(ActivityEvent).values(type=event_type, actor=actor))
    metrics.ACTIVITY_EVENTS.labels(event_type).inc()


async def by_day(session: AsyncSession, days: int) -> list[dict]:
    """``[{"date": "YYYY-MM-DD", "counts": {type: n}}]`` for the last ``days`` UTC days, today included."""
    with timed("activity_by_day"):
        rows = (await session.execute(ACTIVITY_BY_DAY, {"back": days - 1})).all()
    counts: dict[date, dict[str, int]] = {}
    for day, event_type, events in rows:
        per_type = counts.setdefault(day, dict.fromkeys(EVENT_TYPES, 0))
        if event_type in per_type:
            per_type[event_type] = events
    return [{"date": day.isoformat(), "counts": per_type} for day, per_type in counts.items()]


async def active_users(session: AsyncSession) -> int:
    with timed("active_users"):
        return await session.scalar(
            select(func.count(ActivityEvent.actor.distinct())).where(
                ActivityEvent.occurred_at > func.now() - ACTIVE_WINDOW
            )
        )


async def keep_active_users_current(db: Database, interval_seconds: float) -> None:
    await db.migrated.wait()
    while True:
        try:
            with untraced():  # a timer, not anyone's request: no trace
                async with db.sessions() as session:
                    metrics.ACTIVE_USERS.set(await active_users(session))
        except Exception as error:
            if not is_outage(error):
                log.exception("active users not counted")
            # An outage shows in the postgres check; the gauge keeps its last value meanwhile.
        await asyncio.sleep(interval_seconds)
