"""The operator service: login, pause, the timed steps of a call, post-call work.

The database is the truth about what an operator does; Asterisk's queue follows it:
an operator is a queue member that is unpaused only while AVAILABLE. When a call connects the
member is paused at once (so nothing rings them after the call either), and unpaused when
post-call work ends: by `wrap_up_done`, or by the service when the limit (the 5-minute norm)
runs out. The same service runs inside `contact-center serve` (queue events, the limit) and in
the CLI (`contact-center operator ...`, with a short-lived AMI link).
"""

from __future__ import annotations

import dataclasses
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any, Protocol

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from contact_center.clock import Clock
from contact_center.operators.exceptions import (
    OperatorStateError,
    PhoneUnavailable,
    QueueControlError,
    UnknownOperator,
)
from contact_center.operators.models import NOT_RINGABLE, Operator, OperatorState
from contact_center.operators.phones import phone_refusal
from contact_center.telephony.ami import AmiLink
from contact_center.telephony.exceptions import AmiActionError, TelephonyError

log = logging.getLogger(__name__)

QUEUE = "operators"
# pause reasons this service sets for a call and its post-call work (not an operator's choice)
TRANSIENT_PAUSES = frozenset({"call", "wrap-up", "login"})
_INTERFACE = re.compile(r"^[A-Za-z0-9]+/[A-Za-z0-9_.@/+\-]{1,120}$")
_CODE = re.compile(r"^[A-Za-z0-9_.\-]{1,64}$")


# --------------------------------------------------------------------------- queue control
@dataclass(frozen=True, slots=True)
class QueueMember:
    interface: str
    name: str
    static: bool
    paused: bool
    in_call: bool
    reason: str = ""


class QueueControl:
    """Queue membership over AMI (needs the `agent` write class)."""

    def __init__(self, link: AmiLink, queue: str = QUEUE) -> None:
        self._link = link
        self.queue = queue

    async def add(self, interface: str, member_name: str, *, paused: bool) -> None:
        try:
            await self._link.action(
                "QueueAdd",
                Queue=self.queue,
                Interface=interface,
                MemberName=member_name,
                Paused="true" if paused else "false",
            )
        except AmiActionError as exc:
            if "already" not in exc.message.lower():
                raise QueueControlError(f"Asterisk не добавил {interface}: {exc.message}") from exc
            # already a member (static in queues.conf, or added before): set the pause only
            await self.set_paused(interface, paused, reason="login")

    async def remove(self, interface: str) -> bool:
        """Remove a dynamic member; False if it is static (queues.conf) and stays."""
        try:
            await self._link.action("QueueRemove", Queue=self.queue, Interface=interface)
        except AmiActionError as exc:
            text = exc.message.lower()
            if "not dynamic" in text:  # Asterisk 16 on a static member
                return False
            if "not there" in text or "not found" in text:
                # some versions answer "Not there" for a static member too: look
                members = await self.members()
                return not any(m.interface == interface for m in members)
            raise QueueControlError(f"Asterisk не удалил {interface}: {exc.message}") from exc
        return True

    async def set_paused(self, interface: str, paused: bool, *, reason: str = "") -> None:
        fields: dict[str, str] = {
            "Queue": self.queue,
            "Interface": interface,
            "Paused": "true" if paused else "false",
        }
        if reason:
            fields["Reason"] = reason
        try:
            # timeout given by name (the default) so the AMI fields cannot be taken for it
            await self._link.action("QueuePause", timeout=None, **fields)
        except AmiActionError as exc:
            raise QueueControlError(
                f"Asterisk не {'поставил на паузу' if paused else 'снял с паузы'} "
                f"{interface}: {exc.message}"
            ) from exc

    async def device_state(self, interface: str) -> str:
        """Asterisk's DEVICE_STATE of a phone (INVALID, UNAVAILABLE, NOT_INUSE, INUSE ...)."""
        reply = await self._link.action("Getvar", Variable=f"DEVICE_STATE({interface})")
        return str(reply.get("Value", "") or "").strip().upper()

    async def members(self) -> list[QueueMember]:
        events = await self._link.action_list("QueueStatus", Queue=self.queue)
        out = []
        for event in events:
            if str(event.get("Event", "")) != "QueueMember":
                continue
            out.append(
                QueueMember(
                    interface=str(event.get("Location", "") or event.get("StateInterface", "")),
                    name=str(event.get("Name", "")),
                    static=str(event.get("Membership", "")) == "static",
                    paused=str(event.get("Paused", "0")) == "1",
                    in_call=str(event.get("InCall", "0")) == "1",
                    reason=str(event.get("PausedReason", "")),
                )
            )
        return out


class OnDemandQueueControl(QueueControl):
    """Queue control for one CLI command: connects the (not yet started) AMI link on first
    use, so commands that only read the database need no Asterisk."""

    def __init__(self, link: AmiLink, queue: str = QUEUE, *, connect_timeout: float = 5.0):
        super().__init__(link, queue)
        self._connect_timeout = connect_timeout
        self._connected = False

    async def _ensure(self) -> None:
        if not self._connected:
            await self._link.connect(timeout=self._connect_timeout)
            self._connected = True

    async def add(self, interface: str, member_name: str, *, paused: bool) -> None:
        await self._ensure()
        await super().add(interface, member_name, paused=paused)

    async def remove(self, interface: str) -> bool:
        await self._ensure()
        return await super().remove(interface)

    async def set_paused(self, interface: str, paused: bool, *, reason: str = "") -> None:
        await self._ensure()
        await super().set_paused(interface, paused, reason=reason)

    async def device_state(self, interface: str) -> str:
        await self._ensure()
        return await super().device_state(interface)

    async def members(self) -> list[QueueMember]:
        await self._ensure()
        return await super().members()

    async def aclose(self) -> None:
        if self._connected:
            await self._link.close()


# --------------------------------------------------------------------------- appeals port
class AppealLog(Protocol):
    """What the operator service records on the call's appeal (the hotline implements it)."""

    async def lookup_done(self, appeal_id: int, at: datetime) -> None: ...

    async def info_done(self, appeal_id: int, at: datetime) -> None: ...

    async def wrapup_done(
        self,
        appeal_id: int,
        at: datetime,
        *,
        timed_out: bool,
        classification: str | None,
        summary: str | None,
    ) -> None: ...

    async def classify(
        self, appeal_id: int, classification: str | None, summary: str | None
    ) -> None: ...

    async def book(
        self,
        appeal_id: int,
        operator_id: int,
        day: date,
        at: time,
        office: str,
        note: str,
    ) -> int: ...

    async def describe(self, appeal_id: int) -> dict[str, Any]: ...


@dataclass(frozen=True, slots=True)
class OperatorView:
    id: int
    code: str
    name: str
    interface: str
    state: str
    state_since: datetime
    current_appeal_id: int | None
    wrapup_deadline: datetime | None
    calls_taken: int
    pause_after_call: bool

    @classmethod
    def of(cls, op: Operator) -> OperatorView:
        return cls(
            op.id,
            op.code,
            op.name,
            op.interface,
            op.state,
            op.state_since,
            op.current_appeal_id,
            op.wrapup_deadline,
            op.calls_taken,
            op.pause_after_call,
        )


class OperatorService:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        queue: QueueControl | None,
        appeals: AppealLog,
        clock: Clock,
        *,
        wrapup_limit: float = 300.0,
    ) -> None:
        self._sessions = sessions
        self._queue = queue
        self._appeals = appeals
        self._clock = clock
        self.wrapup_limit = timedelta(seconds=wrapup_limit)

    @property
    def queue(self) -> QueueControl:
        if self._queue is None:
            raise QueueControlError("нет связи с Asterisk для управления очередью")
        return self._queue

    # ------------------------------------------------------------------ look-ups
    async def get(self, code: str) -> OperatorView:
        return OperatorView.of(await self._load(code))

    async def all(self) -> list[OperatorView]:
        async with self._sessions() as session:
            rows = (await session.scalars(select(Operator).order_by(Operator.code))).all()
        return [OperatorView.of(op) for op in rows]

    async def by_interface(self, interface: str) -> OperatorView | None:
        async with self._sessions() as session:
            op = await session.scalar(select(Operator).where(Operator.interface == interface))
        return OperatorView.of(op) if op else None

    async def _load(self, code: str) -> Operator:
        async with self._sessions() as session:
            op = await session.scalar(select(Operator).where(Operator.code == code))
        if op is None:
            raise UnknownOperator(f"оператор «{code}» не зарегистрирован (войдите: operator login)")
        return op

    async def _transition(
        self, op_id: int, expected: Sequence[OperatorState], **values: Any
    ) -> bool:
        """Change a row only if its state is still one of `expected` (CLI and service race)."""
        async with self._sessions() as session, session.begin():
            result = await session.execute(
                update(Operator)
                .where(Operator.id == op_id, Operator.state.in_([s.value for s in expected]))
                .values(**values)
            )
        return bool(getattr(result, "rowcount", 0))

    # ------------------------------------------------------------------ operator actions
    async def login(self, code: str, interface: str, name: str = "") -> OperatorView:
        """Join the queue (Asterisk first: a login Asterisk did not take is no login)."""
        if not _CODE.match(code):
            raise OperatorStateError("код оператора: латинские буквы, цифры, _ . -")
        if not _INTERFACE.match(interface):
            raise OperatorStateError(f"неверный интерфейс телефона: {interface!r}")
        now = self._clock.now()
        async with self._sessions() as session:
            op = await session.scalar(select(Operator).where(Operator.code == code))
            other = await session.scalar(select(Operator).where(Operator.interface == interface))
        if other is not None and (op is None or other.id != op.id):
            raise OperatorStateError(f"телефон {interface} уже закреплён за «{other.code}»")
        if op is not None and op.state in (OperatorState.ON_CALL, OperatorState.WRAP_UP):
            raise OperatorStateError(f"оператор «{code}» уже работает ({op.state})")
        await self.check_phone(interface)
        await self.queue.add(interface, code, paused=False)
        async with self._sessions() as session, session.begin():
            row = await session.scalar(select(Operator).where(Operator.code == code))
            if row is None:
                row = Operator(code=code, interface=interface)
                session.add(row)
            row.interface = interface
            row.name = name or row.name or ""
            row.state = OperatorState.AVAILABLE.value
            row.state_since = now
            row.pause_reason = ""
            row.pause_after_call = False
            row.wrapup_deadline = None
        log.info("operator %s logged in", code)
        return await self.get(code)

    async def check_phone(self, interface: str) -> str:
        """Raise PhoneUnavailable unless Asterisk knows the phone and can ring it now (a
        PJSIP endpoint with a registered contact, or a sim world Local extension); returns
        its device state. The CLI's login and the web desk's both come through here."""
        if not _INTERFACE.match(interface):
            raise OperatorStateError(f"неверный интерфейс телефона: {interface!r}")
        state = ""
        if phone_refusal(interface, "NOT_INUSE") is None:  # a technology worth asking about
            state = await self.queue.device_state(interface)
        refusal = phone_refusal(interface, state)
        if refusal is not None:
            log.info("operator phone %s refused: device state %s", interface, state or "-")
            raise PhoneUnavailable(refusal)
        return state

    async def logout(self, code: str) -> OperatorView:
        op = await self._load(code)
        if op.state in (OperatorState.ON_CALL, OperatorState.WRAP_UP):
            raise OperatorStateError("сначала завершите разговор и постобработку (wrap-up-done)")
        removed = await self.queue.remove(op.interface)
        if not removed:  # a static member stays in the queue: keep it paused instead
            await self.queue.set_paused(op.interface, True, reason="logged-out")
        await self._transition(
            op.id,
            list(OperatorState),
            state=OperatorState.LOGGED_OUT.value,
            state_since=self._clock.now(),
            pause_after_call=False,
        )
        return await self.get(code)

    async def pause(self, code: str, reason: str = "") -> OperatorView:
        op = await self._load(code)
        if op.state == OperatorState.LOGGED_OUT:
            raise OperatorStateError("оператор не в системе")
        if op.state in (OperatorState.ON_CALL, OperatorState.WRAP_UP):
            # the member is paused already; stay paused when the call's work is done
            await self._transition(
                op.id, [OperatorState(op.state)], pause_after_call=True, pause_reason=reason
            )
            return await self.get(code)
        await self.queue.set_paused(op.interface, True, reason=reason or "pause")
        await self._transition(
            op.id,
            [OperatorState.AVAILABLE, OperatorState.PAUSED],
            state=OperatorState.PAUSED.value,
            state_since=self._clock.now(),
            pause_reason=reason,
        )
        return await self.get(code)

    async def unpause(self, code: str) -> OperatorView:
        op = await self._load(code)
        if op.state in (OperatorState.ON_CALL, OperatorState.WRAP_UP):
            await self._transition(op.id, [OperatorState(op.state)], pause_after_call=False)
            return await self.get(code)
        if op.state != OperatorState.PAUSED:
            raise OperatorStateError(f"оператор не на паузе ({op.state})")
        if await self._transition(
            op.id,
            [OperatorState.PAUSED],
            state=OperatorState.AVAILABLE.value,
            state_since=self._clock.now(),
            pause_reason="",
        ):
            await self.queue.set_paused(op.interface, False)
        return await self.get(code)

    async def _current_call(self, code: str, states: Sequence[OperatorState]) -> Operator:
        op = await self._load(code)
        if op.state not in states or op.current_appeal_id is None:
            raise OperatorStateError(f"у оператора «{code}» нет текущего обращения ({op.state})")
        return op

    async def lookup_done(self, code: str) -> int:
        """The customer is found (norm 45 s from the answer). Returns the appeal id."""
        op = await self._current_call(code, [OperatorState.ON_CALL])
        assert op.current_appeal_id is not None
        await self._appeals.lookup_done(op.current_appeal_id, self._clock.now())
        return op.current_appeal_id

    async def info_done(self, code: str) -> int:
        """The information is given (norm 5 min)."""
        op = await self._current_call(code, [OperatorState.ON_CALL, OperatorState.WRAP_UP])
        assert op.current_appeal_id is not None
        await self._appeals.info_done(op.current_appeal_id, self._clock.now())
        return op.current_appeal_id

    async def classify(self, code: str, classification: str | None, summary: str | None) -> int:
        op = await self._current_call(
            code, [OperatorState.ON_CALL, OperatorState.WRAP_UP, OperatorState.AVAILABLE,
                   OperatorState.PAUSED]
        )  # fmt: skip
        assert op.current_appeal_id is not None
        await self._appeals.classify(op.current_appeal_id, classification, summary)
        return op.current_appeal_id

    async def wrap_up_done(
        self, code: str, classification: str | None = None, summary: str | None = None
    ) -> int | None:
        """Post-call work is finished: the operator may be rung again (unless they paused)."""
        op = await self._load(code)
        if op.state != OperatorState.WRAP_UP:
            raise OperatorStateError(f"у оператора «{code}» нет постобработки ({op.state})")
        # a call whose appeal could not be registered (a database hiccup) has none
        if op.current_appeal_id is not None and (classification or summary is not None):
            await self._appeals.classify(op.current_appeal_id, classification, summary)
        await self._end_wrapup(op, timed_out=False)
        return op.current_appeal_id

    async def book(self, code: str, day: date, at: time, office: str, note: str = "") -> int:
        """Book a prior appointment for in-person service for the current (or last) caller."""
        op = await self._load(code)
        if op.current_appeal_id is None:
            raise OperatorStateError("нет обращения, к которому привязать запись на приём")
        if not office.strip():
            raise OperatorStateError("не указан офис обслуживания")
        return await self._appeals.book(op.current_appeal_id, op.id, day, at, office, note)

    async def appeal_number(self, appeal_id: int | None) -> str:
        """The registration number to show the operator ("" when there is no appeal)."""
        if appeal_id is None:
            return ""
        return str((await self._appeals.describe(appeal_id))["number"])

    async def current_appeal(self, code: str) -> dict[str, Any] | None:
        op = await self._load(code)
        if op.current_appeal_id is None:
            return None
        return await self._appeals.describe(op.current_appeal_id)

    async def _end_wrapup(self, op: Operator, *, timed_out: bool) -> bool:
        now = self._clock.now()
        after = OperatorState.PAUSED if op.pause_after_call else OperatorState.AVAILABLE
        won = await self._transition(
            op.id,
            [OperatorState.WRAP_UP],
            state=after.value,
            state_since=now,
            wrapup_deadline=None,
            pause_after_call=False,
        )
        if not won:
            return False
        if op.current_appeal_id is not None:
            await self._appeals.wrapup_done(
                op.current_appeal_id, now, timed_out=timed_out, classification=None, summary=None
            )
        if after is OperatorState.AVAILABLE:
            try:
                await self.queue.set_paused(op.interface, False)
            except (QueueControlError, TelephonyError) as exc:
                # the reconcile after the reconnect unpauses every AVAILABLE operator
                log.warning("could not unpause operator %s after post-call work: %s", op.code, exc)
        log.info("operator %s finished post-call work%s", op.code, " (limit)" if timed_out else "")
        return True

    # ------------------------------------------------------------------ queue events
    async def call_connected(
        self, interface: str, appeal_id: int | None, at: datetime
    ) -> OperatorView | None:
        """AgentConnect: pause the member at once so nothing rings it until post-call work ends."""
        async with self._sessions() as session:
            op = await session.scalar(select(Operator).where(Operator.interface == interface))
        if op is None:
            return None
        try:
            await self.queue.set_paused(op.interface, True, reason="call")
        except (QueueControlError, TelephonyError) as exc:
            log.warning("could not pause operator %s for the call: %s", op.code, exc)
        async with self._sessions() as session, session.begin():
            row = await session.get(Operator, op.id)
            assert row is not None
            if row.state == OperatorState.PAUSED:
                row.pause_after_call = True
            row.state = OperatorState.ON_CALL.value
            row.state_since = at
            row.current_appeal_id = appeal_id
            row.wrapup_deadline = None
            row.calls_taken += 1
        return await self.by_interface(interface)

    async def call_completed(self, interface: str, at: datetime) -> OperatorView | None:
        """AgentComplete: post-call work starts; the member stays paused until it ends."""
        async with self._sessions() as session:
            op = await session.scalar(select(Operator).where(Operator.interface == interface))
        if op is None:
            return None
        await self._transition(
            op.id,
            [OperatorState.ON_CALL],
            state=OperatorState.WRAP_UP.value,
            state_since=at,
            wrapup_deadline=at + self.wrapup_limit,
        )
        return await self.by_interface(interface)

    async def expire_wrapups(
        self, *, auto_interfaces: re.Pattern[str] | None = None, auto_after: float = -1.0
    ) -> list[str]:
        """End post-call work whose limit ran out (and, for simulated operators matching
        `auto_interfaces`, after `auto_after` seconds, as if they pressed wrap-up-done)."""
        now = self._clock.now()
        async with self._sessions() as session:
            rows = (
                await session.scalars(
                    select(Operator).where(Operator.state == OperatorState.WRAP_UP.value)
                )
            ).all()
        ended = []
        for op in rows:
            timed_out = op.wrapup_deadline is not None and op.wrapup_deadline <= now
            auto = (
                auto_interfaces is not None
                and auto_after >= 0
                and auto_interfaces.search(op.interface) is not None
                and (now - op.state_since).total_seconds() >= auto_after
            )
            if (timed_out or auto) and await self._end_wrapup(op, timed_out=timed_out and not auto):
                ended.append(op.code)
        return ended

    async def reconcile(self) -> list[str]:
        """Make Asterisk's queue match the database (at start-up, after a reconnect).

        A member nobody registered (static in queues.conf, or added by hand) becomes an
        operator in the state Asterisk shows; an operator logged out here is removed (or
        paused, if static); one that should not be rung is paused; AVAILABLE ones unpaused.
        """
        members = {m.interface: m for m in await self.queue.members()}
        async with self._sessions() as session:
            operators = {op.interface: op for op in (await session.scalars(select(Operator)))}
        now = self._clock.now()
        notes: list[str] = []
        for interface, member in members.items():
            op = operators.get(interface)
            if op is None:
                code = member.name if _CODE.match(member.name) else interface
                if member.paused and member.reason in TRANSIENT_PAUSES:
                    # paused by a service whose records are gone (a new database)
                    await self.queue.set_paused(interface, False)
                    member = dataclasses.replace(member, paused=False)
                async with self._sessions() as session, session.begin():
                    session.add(
                        Operator(
                            code=code,
                            name=member.name,
                            interface=interface,
                            static_member=member.static,
                            state=(
                                OperatorState.PAUSED if member.paused else OperatorState.AVAILABLE
                            ).value,
                            state_since=now,
                        )
                    )
                notes.append(f"{code}: registered from the queue")
                continue
            state = OperatorState(op.state)
            if state == OperatorState.LOGGED_OUT:
                if not await self.queue.remove(interface):
                    if not member.paused:
                        await self.queue.set_paused(interface, True, reason="logged-out")
                notes.append(f"{op.code}: logged out, taken off the queue")
            elif state in (OperatorState.ON_CALL, OperatorState.WRAP_UP):
                if not member.in_call:
                    # the call ended while nobody watched: post-call work from now
                    await self._transition(
                        op.id,
                        [state],
                        state=OperatorState.WRAP_UP.value,
                        state_since=now if state == OperatorState.ON_CALL else op.state_since,
                        wrapup_deadline=op.wrapup_deadline or now + self.wrapup_limit,
                    )
                if not member.paused:
                    await self.queue.set_paused(interface, True, reason="wrap-up")
            elif state in NOT_RINGABLE and not member.paused:
                await self.queue.set_paused(interface, True, reason=op.pause_reason or "pause")
                notes.append(f"{op.code}: paused as recorded")
            elif state == OperatorState.AVAILABLE and member.paused:
                await self.queue.set_paused(interface, False)
                notes.append(f"{op.code}: unpaused as recorded")
        for interface, op in operators.items():
            if interface in members or op.state == OperatorState.LOGGED_OUT:
                continue
            # Asterisk restarted (members are not persistent): put the operator back
            await self.queue.add(interface, op.code, paused=OperatorState(op.state) in NOT_RINGABLE)
            notes.append(f"{op.code}: re-added to the queue")
        return notes
