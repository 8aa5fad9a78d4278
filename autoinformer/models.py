"""Autoinformer tables (all named ai_*): scenarios, campaigns, their contacts, every call
attempt, every e-mail letter, opt-outs. The autoinformer owns them; its migration branch is
`autoinformer`."""

from __future__ import annotations

import json
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from contact_center.storage.base import Base, UtcDateTime, utcnow


class ScenarioRow(Base):
    """One version of a scenario; campaigns point at the exact version they play."""

    __tablename__ = "ai_scenarios"
    __table_args__ = (UniqueConstraint("name", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), index=True)
    version: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(Text, default="")
    # the validated scenario as JSON (autoinformer.scenarios.Scenario.body)
    body: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class Campaign(Base):
    __tablename__ = "ai_campaigns"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(16))
    scenario_id: Mapped[int] = mapped_column(ForeignKey("ai_scenarios.id"))
    channel: Mapped[str] = mapped_column(String(8), default="phone")
    # created -> running <-> paused -> finished | cancelled
    status: Mapped[str] = mapped_column(String(16), default="created", index=True)
    start_at: Mapped[datetime] = mapped_column(UtcDateTime)
    end_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    # scheduling.CallingWindows.to_data() as JSON
    windows: Mapped[str] = mapped_column(Text)
    timezone: Mapped[str] = mapped_column(String(64))
    concurrency: Mapped[int] = mapped_column(Integer, default=10)
    ring_timeout: Mapped[float] = mapped_column(Float, default=30.0)
    # scheduling.policy_to_data() as JSON
    retry: Mapped[str] = mapped_column(Text)
    caps: Mapped[str] = mapped_column(String(32), default="none")
    priority: Mapped[int] = mapped_column(Integer, default=0)
    outage_start: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    # the outage's end as read out (a campaign of a registered outage notices it moved)
    outage_end: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    # the list came from the customer base: debts are read again before each call
    from_base: Mapped[bool] = mapped_column(Boolean, default=False)
    # the registered outage (contact_center.hotline) it warns of: moved or removed there,
    # its remaining calls read the new times or are cancelled
    outage_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # what the registry did to that outage, in Russian (moved: the new times; removed)
    outage_note: Mapped[str | None] = mapped_column(Text, nullable=True)
    # the dialer's effective concurrency and why it is lower than asked, as JSON
    # (autoinformer.phone.pacing.Pace), written when it changes
    pace: Mapped[str | None] = mapped_column(Text, nullable=True)
    decision_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    source: Mapped[str] = mapped_column(Text, default="")
    # a follow-up campaign (letters to whom the phone did not reach): the original's id
    follow_up_of: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # when this campaign's not-reached contacts were followed up (None: not yet)
    follow_ups_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    rejected_rows: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    # why the e-mail side stopped by itself (the SMTP server refuses our settings: login,
    # TLS, sender); the phone side goes on; `campaign resume` or a restart clears it
    email_paused: Mapped[str | None] = mapped_column(Text, nullable=True)
    email_paused_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


class CampaignContact(Base):
    """One phone of a campaign. `state` drives the dialer (waiting, calling, done);
    `status` is the last result while waiting and the final status once done."""

    __tablename__ = "ai_contacts"
    __table_args__ = (
        UniqueConstraint("campaign_id", "phone"),
        Index("ix_ai_contacts_due", "campaign_id", "state", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("ai_campaigns.id", ondelete="CASCADE"))
    line: Mapped[int] = mapped_column(Integer, default=0)
    # digits only (E.164 without '+'): the one form that may reach a dial string; the
    # number being dialled (each attempt keeps the one it used)
    phone: Mapped[str] = mapped_column(String(16), index=True)
    # the customer's further numbers not dialled yet, digits separated by ';': after a
    # failed or unanswered call the next one becomes `phone`
    phones: Mapped[str] = mapped_column(Text, default="")
    account: Mapped[str] = mapped_column(String(32), default="")
    name: Mapped[str] = mapped_column(Text, default="")
    timezone: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # the list's other columns as JSON text values (debt, outage_start, address...)
    values: Mapped[str] = mapped_column(Text, default="{}")
    state: Mapped[str] = mapped_column(String(8), default="waiting")
    status: Mapped[str | None] = mapped_column(String(24), nullable=True)
    notified: Mapped[bool] = mapped_column(Boolean, default=False)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    answered: Mapped[int] = mapped_column(Integer, default=0)
    callback: Mapped[bool] = mapped_column(Boolean, default=False)
    # not reached: the other way it was followed up, `email` (a letter of the follow-up
    # campaign) or `callback` (an operator's call-back task); None not followed up
    follow_up: Mapped[str | None] = mapped_column(String(16), nullable=True)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    # why a waiting contact waits: window, retry, cap_day, cap_week, cap_month, line_busy
    wait_reason: Mapped[str | None] = mapped_column(String(24), nullable=True)
    last_attempt_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


class Attempt(Base):
    """One call. Its ChannelId is stored (and committed) before the Originate goes out, so
    after a crash the call can be found among Asterisk's channels; `outcome` is NULL while
    the call may still be live.

    What happens on the call (parts played, keys, confirmation, the queue, the operator,
    the opt-out) is written here as it happens, not only at the end: a service killed
    mid-call loses none of it, and whoever closes the attempt later (the next start)
    takes its outcome from these columns."""

    __tablename__ = "ai_attempts"
    __table_args__ = (
        Index("ix_ai_attempts_phone_kind", "phone", "kind"),
        # open attempts of a campaign: a campaign is finished only when none is left
        Index("ix_ai_attempts_campaign_open", "campaign_id", "ended_at"),
        # a worker's open calls: what it adopts at a start
        Index("ix_ai_attempts_node_open", "node", "ended_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("ai_campaigns.id", ondelete="CASCADE"))
    contact_id: Mapped[int] = mapped_column(
        ForeignKey("ai_contacts.id", ondelete="CASCADE"), index=True
    )
    phone: Mapped[str] = mapped_column(String(16))
    # the campaign's kind, here for the frequency caps across campaigns
    kind: Mapped[str] = mapped_column(String(16))
    channel_id: Mapped[str] = mapped_column(String(64), unique=True)
    started_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    answered_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    outcome: Mapped[str | None] = mapped_column(String(16), nullable=True, index=True)
    status: Mapped[str | None] = mapped_column(String(24), nullable=True)
    duration: Mapped[float] = mapped_column(Float, default=0.0)
    parts_played: Mapped[int] = mapped_column(Integer, default=0)
    parts_total: Mapped[int] = mapped_column(Integer, default=0)
    played_to_end: Mapped[bool] = mapped_column(Boolean, default=False)
    digits: Mapped[str] = mapped_column(String(32), default="")
    transferred: Mapped[bool] = mapped_column(Boolean, default=False)
    operator: Mapped[str] = mapped_column(String(128), default="")
    callback: Mapped[bool] = mapped_column(Boolean, default=False)
    opted_out: Mapped[bool] = mapped_column(Boolean, default=False)
    error: Mapped[str] = mapped_column(Text, default="")
    # 1 pressed (confirm): with played_to_end the other half of a положительный звонок
    confirmed: Mapped[bool] = mapped_column(Boolean, default=False)
    # when the customer was sent to the operators' queue (0 pressed, an operator free);
    # `transferred` and `operator` are set once an operator answers
    queued_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    # False: the Originate never reached Asterisk (link down, refused, shutting down), the
    # call vanished unanswered while nobody could see it, or our side cut it off
    # mid-message (a restart): the contact's attempts, the retries and the reports leave
    # it out; an answer it had still counts for the frequency caps
    counted: Mapped[bool] = mapped_column(Boolean, default=True)
    # a previous run's call found live that nobody can drive is hung up at this instant;
    # set the first time a run sees it and kept across later starts (never pushed back)
    orphan_deadline: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    # the run of Asterisk the Originate went to (AmiLink.asterisk_boot), "" unknown: a call
    # whose end nobody saw ended by the customer's doing if that Asterisk is still up, and
    # may have died with it if not
    asterisk_boot: Mapped[str] = mapped_column(String(32), default="")
    # proof of notification: the call's recording (MixMonitor's MIXMONITOR_FILENAME, an
    # absolute path on the Asterisk host) and what was played, as JSON
    # [{"text": ..., "sound": Asterisk name}, ...] in order (autoinformer.proof reads both)
    recording_path: Mapped[str] = mapped_column(Text, default="")
    message: Mapped[str] = mapped_column(Text, default="")

    @property
    def said(self) -> str:
        """The message's text as this attempt read it out (the data as they stood at
        dial time), one line."""
        if not self.message:
            return ""
        return " ".join(str(part.get("text", "")) for part in json.loads(self.message))

    # the Asterisk node the call was placed on (Settings.node_name) and the `serve` process
    # that placed it (service_state.instance): several workers share campaigns; each
    # adopts the open calls of its own node, and those of a dead worker's node only once
    # they must have ended there ("": placed before there were several, any node's)
    node: Mapped[str] = mapped_column(String(128), default="")
    instance: Mapped[str] = mapped_column(String(128), default="")
    # claimed ahead of a free slot (PostgreSQL, several workers): not counted against the
    # campaign's concurrency until a call of the same worker that ends hands it its slot,
    # in the transaction that closes that call (CallBook.hand_over); False for every other
    ahead: Mapped[bool] = mapped_column(Boolean, default=False, server_default=sa.false())


class Letter(Base):
    """One e-mail notice of a campaign to one address (with consent).

    `state` drives the mailer: queued -> sending -> done. `sending` is stored, with the
    Message-ID, right before DATA (SmtpSender's before_data) and committed: a letter found
    `sending` after a restart may have been taken by the server, so it becomes `unknown`
    and is never sent again. `status` is the result once done: accepted, deferred, failed,
    unknown, opted_out, cancelled, not_sent, not_reached_in_time; while a deferred letter
    waits for its next round it is queued with status `deferred`.
    """

    __tablename__ = "ai_letters"
    __table_args__ = (
        Index("ix_ai_letters_due", "campaign_id", "state", "next_attempt_at"),
        Index("ix_ai_letters_address", "address"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("ai_campaigns.id", ondelete="CASCADE"))
    # the same customer's phone contact in this campaign (channel both), for one report row
    contact_id: Mapped[int | None] = mapped_column(
        ForeignKey("ai_contacts.id", ondelete="SET NULL"), nullable=True, index=True
    )
    line: Mapped[int] = mapped_column(Integer, default=0)
    # lower-case as given (a .рф domain stays Cyrillic here; the letter carries IDNA)
    address: Mapped[str] = mapped_column(String(254))
    account: Mapped[str] = mapped_column(String(32), default="")
    name: Mapped[str] = mapped_column(Text, default="")
    # the template's fields as JSON text values (debt, outage_start, address...)
    values: Mapped[str] = mapped_column(Text, default="{}")
    state: Mapped[str] = mapped_column(String(8), default="queued")
    status: Mapped[str | None] = mapped_column(String(24), nullable=True)
    # set when the mailer takes the letter, compared on every later write: a letter is
    # sent by whoever holds its current Message-ID, and by nobody else
    message_id: Mapped[str | None] = mapped_column(String(255), nullable=True, unique=True)
    # SMTP transactions tried, 4xx/lost-link deferrals met, send() rounds that ended deferred
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    deferrals: Mapped[int] = mapped_column(Integer, default=0)
    rounds: Mapped[int] = mapped_column(Integer, default=0)
    # the server's final reply (accepted: its queue id; failed: why) and the last deferral
    code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    reply: Mapped[str] = mapped_column(Text, default="")
    phase: Mapped[str | None] = mapped_column(String(8), nullable=True)
    last_deferral: Mapped[str] = mapped_column(Text, default="")
    next_attempt_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    sending_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    # the customer followed this letter's unsubscribe link
    unsubscribed_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


class OptOut(Base):
    """No more notices of this kind, from any campaign: a phone that pressed 9, or an
    e-mail address whose unsubscribe link was used (each channel opts out on its own)."""

    __tablename__ = "ai_opt_outs"
    __table_args__ = (
        UniqueConstraint("phone", "kind"),
        UniqueConstraint("address", "kind"),
        CheckConstraint("(phone IS NULL) <> (address IS NULL)", name="phone_or_address"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    phone: Mapped[str | None] = mapped_column(String(16), nullable=True)
    address: Mapped[str | None] = mapped_column(String(254), nullable=True)
    kind: Mapped[str] = mapped_column(String(16))
    campaign_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
