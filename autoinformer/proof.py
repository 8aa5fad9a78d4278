"""Proof of notification: one customer's pack for one campaign, as a ZIP.

What a utility shows when a customer disputes a notice (a debt restriction, an outage):
- `recordings/`: each call's recording as Asterisk wrote it (MixMonitor);
- `message/`: the text of what was played on each call and the audio of each part,
  the very files Asterisk played;
- `attempts.csv` (Russian office CSV) and `attempts.json`: every attempt with its times,
  outcome, keys pressed, and the Asterisk channel id (the call's Uniqueid in Asterisk's
  logs and CDR);
- `manifest.json` and `SHA256SUMS` (`sha256sum -c SHA256SUMS`): the SHA-256 of every file.

Reading the rows is the only database work; the files are read, hashed and zipped by
`build_zip` in a worker thread (a pack of long calls is megabytes of audio).
"""

from __future__ import annotations

import asyncio
import csv
import hashlib
import io
import json
import logging
import zipfile
from dataclasses import asdict, dataclass, replace
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from autoinformer.exceptions import AutoinformerError, CampaignNotFound
from autoinformer.models import Attempt, Campaign, CampaignContact, ScenarioRow
from autoinformer.scenarios import records_calls
from autoinformer.scheduling import STATUS_RU
from contact_center.clock import Clock

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"
CHECKSUMS = "SHA256SUMS"
# the attempt log's columns, in order: key, Russian header
LOG_COLUMNS: tuple[tuple[str, str], ...] = (
    ("attempt_id", "Попытка"),
    ("phone", "Телефон"),
    ("started_at", "Начало"),
    ("answered_at", "Ответ"),
    ("ended_at", "Конец"),
    ("duration_s", "Длительность, с"),
    ("outcome_ru", "Итог звонка"),
    ("status_ru", "Итог для абонента"),
    ("parts_played", "Частей прослушано"),
    ("parts_total", "Частей всего"),
    ("played_to_end", "Прослушано до конца"),
    ("digits", "Нажатые клавиши"),
    ("confirmed", "Подтвердил (1)"),
    ("transferred", "Соединён с оператором"),
    ("operator", "Оператор"),
    ("opted_out", "Отказ от уведомлений (9)"),
    ("channel_id", "Канал Asterisk (Uniqueid)"),
    ("recording", "Запись"),
    ("recording_found", "Запись найдена"),
)


OUTCOME_RU = {
    "answered": "ответил",
    "busy": "занято",
    "no_answer": "не ответил",
    "congestion": "сеть перегружена",
    "failed": "ошибка вызова",
}


class ProofNotFound(AutoinformerError):
    """The campaign has no contact with this account, or nothing was ever dialled."""

    error_id = "proof-not-found"


@dataclass(frozen=True, slots=True)
class PartRecord:
    text: str
    # the file under sounds_dir Asterisk played (None: it is not there any more)
    sound: Path | None


@dataclass(frozen=True, slots=True)
class AttemptRecord:
    attempt_id: int
    phone: str
    started_at: str
    answered_at: str
    ended_at: str
    duration_s: float
    outcome: str
    outcome_ru: str
    status: str
    status_ru: str
    parts_played: int
    parts_total: int
    played_to_end: bool
    digits: str
    confirmed: bool
    transferred: bool
    operator: str
    opted_out: bool
    channel_id: str
    recording: str
    recording_found: bool


@dataclass(frozen=True, slots=True)
class ProofSource:
    """Everything the pack holds, read from the database; files are paths, not read yet."""

    campaign_id: int
    campaign_name: str
    campaign_kind: str
    account: str
    name: str
    created_at: str
    attempts: list[AttemptRecord]
    # the places each attempt's recording may be (recording_files)
    recordings: dict[int, list[Path]]
    messages: dict[int, list[PartRecord]]
    # False: the campaign's scenario said `record = false`; no call was recorded
    recorded: bool = True


@dataclass(frozen=True, slots=True)
class ProofPack:
    filename: str
    content: bytes
    files: int
    seconds: float


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _local(value: datetime | None, tz: ZoneInfo) -> str:
    return value.astimezone(tz).isoformat(timespec="seconds") if value else ""


def sound_file(name: str, sounds_dir: Path, prefix: str) -> Path | None:
    """The file behind an Asterisk playback name (`cc/cache/ab/abcdef` -> sounds_dir/...);
    None for a name outside the sounds directory."""
    if prefix.startswith("/"):
        relative = name[len(prefix) :].lstrip("/") if name.startswith(prefix) else None
    elif prefix:
        relative = name[len(prefix) + 1 :] if name.startswith(prefix + "/") else None
    else:
        relative = name
    if relative is None or ".." in Path(relative).parts:
        return None
    return sounds_dir / f"{relative}.wav"


def recording_files(path: str, recordings_dir: Path) -> list[Path]:
    """Where a recording may be, in order. MIXMONITOR_FILENAME is absolute on the Asterisk
    host; an Asterisk in a container writes into a folder mounted elsewhere here, so the
    part from our own subfolder on (`autoinformer/2026/12/01/...`) is looked for under
    the recordings dir too. A relative name is under the recordings dir."""
    p = Path(path)
    if not p.is_absolute():
        return [recordings_dir / p]
    candidates = [p]
    parts = p.parts
    for top in ("autoinformer", "hotline", "operators"):
        if top in parts:
            candidates.append(recordings_dir.joinpath(*parts[parts.index(top) :]))
            break
    return candidates


def _csv_bytes(records: list[AttemptRecord]) -> bytes:
    # Excel in a Russian locale: UTF-8 with BOM, ';', formulas defused
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow([header for _, header in LOG_COLUMNS])
    for record in records:
        data = asdict(record)
        row: list[str] = []
        for key, _ in LOG_COLUMNS:
            value = data[key]
            if isinstance(value, bool):
                text = "да" if value else "нет"
            elif isinstance(value, float):
                text = f"{value:.1f}".replace(".", ",")
            else:
                text = str(value)
            if text[:1] in ("=", "+", "-", "@", "\t", "\r"):
                text = "'" + text
            row.append(text)
        writer.writerow(row)
    return ("\ufeff" + out.getvalue()).encode("utf-8")


README = """Доказательство уведомления абонента

Кампания: {campaign_id} «{campaign_name}» ({campaign_kind})
Лицевой счёт: {account}
Абонент: {name}
Пакет собран: {created_at}

{recordings_line}
message/         что было проиграно на каждом звонке: текст (.txt) и звук каждой части
attempts.csv     журнал попыток: время, итог, нажатые клавиши, канал Asterisk
attempts.json    то же в JSON
manifest.json    SHA-256 каждого файла пакета
SHA256SUMS       то же для проверки: sha256sum -c SHA256SUMS
"""
RECORDINGS_LINE = "recordings/      записи звонков (как их записал Asterisk, MixMonitor)"
NOT_RECORDED_LINE = (
    "recordings/      нет: звонки этой кампании не записывались (в сценарии record = false);\n"
    "                 что абонент услышал и нажал, показывают журнал попыток и message/"
)


def build_zip(source: ProofSource) -> tuple[bytes, int]:
    """The pack's bytes and its number of files (blocking: file reads, hashing, deflate)."""
    files: list[tuple[str, bytes]] = []
    missing: list[str] = []
    head = {
        "campaign_id": source.campaign_id,
        "campaign_name": source.campaign_name,
        "campaign_kind": source.campaign_kind,
        "account": source.account,
        "name": source.name,
        "created_at": source.created_at,
    }
    recordings_line = RECORDINGS_LINE if source.recorded else NOT_RECORDED_LINE
    files.append(
        ("README.txt", README.format(**head, recordings_line=recordings_line).encode("utf-8"))
    )
    records: list[AttemptRecord] = []
    for record in source.attempts:
        candidates = source.recordings.get(record.attempt_id)
        found = False
        if candidates:
            arcname = f"recordings/attempt-{record.attempt_id}.wav"
            for path in candidates:
                try:
                    files.append((arcname, path.read_bytes()))
                except OSError:
                    continue
                found = True
                break
            if not found:
                missing.append(arcname)
        records.append(replace(record, recording_found=found))
        parts = source.messages.get(record.attempt_id)
        if not parts:
            continue
        text = "\n".join(f"{i:02d}. {part.text}" for i, part in enumerate(parts, 1))
        files.append((f"message/attempt-{record.attempt_id}.txt", (text + "\n").encode("utf-8")))
        for i, part in enumerate(parts, 1):
            arcname = f"message/attempt-{record.attempt_id}/{i:02d}.wav"
            if part.sound is None:
                missing.append(arcname)
                continue
            try:
                files.append((arcname, part.sound.read_bytes()))
            except OSError:
                missing.append(arcname)
    log_rows = [asdict(r) for r in records]
    files.append(("attempts.csv", _csv_bytes(records)))
    files.append(
        (
            "attempts.json",
            json.dumps({**head, "attempts": log_rows}, ensure_ascii=False, indent=2).encode(),
        )
    )
    entries = [{"path": name, "size": len(data), "sha256": sha256_of(data)} for name, data in files]
    manifest = {**head, "algorithm": "SHA-256", "files": entries, "missing": missing}
    files.append((MANIFEST, json.dumps(manifest, ensure_ascii=False, indent=2).encode()))
    sums = "".join(f"{e['sha256']}  {e['path']}\n" for e in entries)
    files.append((CHECKSUMS, sums.encode()))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in files:
            # WAV hardly deflates; storing it saves the time
            kind = zipfile.ZIP_STORED if name.endswith(".wav") else zipfile.ZIP_DEFLATED
            zf.writestr(zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0)), data, kind)
    return buffer.getvalue(), len(files)


def verify_zip(content: bytes) -> list[str]:
    """The files whose SHA-256 differs from the manifest's (empty: the pack verifies)."""
    bad: list[str] = []
    with zipfile.ZipFile(io.BytesIO(content)) as zf:
        manifest = json.loads(zf.read(MANIFEST))
        listed = {e["path"] for e in manifest["files"]}
        for entry in manifest["files"]:
            if sha256_of(zf.read(entry["path"])) != entry["sha256"]:
                bad.append(entry["path"])
        for name in zf.namelist():
            if name not in listed and name not in (MANIFEST, CHECKSUMS):
                bad.append(name)
    return bad


class ProofService:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        clock: Clock,
        tz: ZoneInfo,
        sounds_dir: Path,
        asterisk_prefix: str,
        recordings_dir: Path,
    ) -> None:
        self._sessions = sessions
        self._clock = clock
        self._tz = tz
        self._sounds_dir = sounds_dir
        self._prefix = asterisk_prefix
        self._recordings_dir = recordings_dir

    async def source(self, campaign_id: int, account: str) -> ProofSource:
        account = account.strip()
        if not account:
            raise ProofNotFound("укажите лицевой счёт абонента (--account)")
        async with self._sessions() as session:
            campaign = await session.get(Campaign, campaign_id)
            if campaign is None:
                raise CampaignNotFound(f"кампания {campaign_id} не найдена")
            scenario = await session.get(ScenarioRow, campaign.scenario_id)
            contacts = list(
                await session.scalars(
                    select(CampaignContact)
                    .where(
                        CampaignContact.campaign_id == campaign_id,
                        CampaignContact.account == account,
                    )
                    .order_by(CampaignContact.id)
                )
            )
            if not contacts:
                raise ProofNotFound(
                    f"в кампании {campaign_id} нет абонента с лицевым счётом {account}"
                )
            attempts = list(
                await session.scalars(
                    select(Attempt)
                    .where(Attempt.contact_id.in_([c.id for c in contacts]))
                    .order_by(Attempt.started_at, Attempt.id)
                )
            )
        status_of = {c.id: c.status or "" for c in contacts}
        records: list[AttemptRecord] = []
        recordings: dict[int, list[Path]] = {}
        messages: dict[int, list[PartRecord]] = {}
        for a in attempts:
            if a.recording_path:
                recordings[a.id] = recording_files(a.recording_path, self._recordings_dir)
            if a.message:
                messages[a.id] = [
                    PartRecord(
                        str(part.get("text", "")),
                        sound_file(str(part.get("sound", "")), self._sounds_dir, self._prefix),
                    )
                    for part in json.loads(a.message)
                ]
            outcome = a.outcome or ""
            status = a.status or status_of.get(a.contact_id, "")
            records.append(
                AttemptRecord(
                    attempt_id=a.id,
                    phone="+" + a.phone,
                    started_at=_local(a.started_at, self._tz),
                    answered_at=_local(a.answered_at, self._tz),
                    ended_at=_local(a.ended_at, self._tz),
                    duration_s=round(a.duration, 1),
                    outcome=outcome,
                    outcome_ru=OUTCOME_RU.get(outcome, outcome),
                    status=status,
                    status_ru=STATUS_RU.get(status, status),
                    parts_played=a.parts_played,
                    parts_total=a.parts_total,
                    played_to_end=a.played_to_end,
                    digits=a.digits,
                    confirmed=a.confirmed,
                    transferred=a.transferred,
                    operator=a.operator,
                    opted_out=a.opted_out,
                    channel_id=a.channel_id,
                    recording=Path(a.recording_path).name if a.recording_path else "",
                    recording_found=False,  # build_zip looks (off the loop)
                )
            )
        first = contacts[0]
        return ProofSource(
            campaign_id=campaign.id,
            campaign_name=campaign.name,
            campaign_kind=campaign.kind,
            account=account,
            name=first.name,
            created_at=_local(self._clock.now(), self._tz),
            attempts=records,
            recordings=recordings,
            messages=messages,
            recorded=scenario is None or records_calls(scenario.body),
        )

    async def pack(self, campaign_id: int, account: str) -> ProofPack:
        source = await self.source(campaign_id, account)
        loop = asyncio.get_running_loop()
        started = loop.time()
        content, count = await asyncio.to_thread(build_zip, source)
        seconds = loop.time() - started
        log.info(
            "proof pack for campaign %d: %d attempts, %d files, %d bytes in %.3f s",
            campaign_id,
            len(source.attempts),
            count,
            len(content),
            seconds,
        )
        safe = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in account)
        return ProofPack(f"доказательство_{campaign_id}_{safe}.zip", content, count, seconds)
