"""Each check is a pure function of the gathered `Facts` and the settings: findings, in
Russian, each with what to do when something is wrong."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum

from contact_center.settings import Settings

GIB = 1024**3
# below this a day of recordings may not fit (a 10-minute call is ~10 MB of 8 kHz WAV)
DISK_FAIL_BYTES = 1 * GIB
DISK_WARN_BYTES = 5 * GIB
# the modules the dialplan, AMI call control and SIP phones rest on (file name: what for)
REQUIRED_MODULES = {
    "res_agi.so": "AsyncAGI (управление звонками)",
    "app_queue.so": "очередь операторов",
    "pbx_config.so": "диалплан extensions.conf",
    "res_pjsip.so": "SIP (PJSIP)",
    "chan_pjsip.so": "SIP-каналы",
    "app_mixmonitor.so": "запись разговоров",
    "func_db.so": "отметка о прослушанном сообщении (AstDB)",
    "format_wav.so": "звуковые файлы WAV",
    "codec_alaw.so": "кодек G.711 A-law",
    "codec_ulaw.so": "кодек G.711 μ-law",
}
# AMI actions only present when their module is loaded: what `ListCommands` tells a remote
# doctor about modules it cannot list
ACTION_MODULES = {"AGI": "res_agi.so", "QueueAdd": "app_queue.so"}
# actions our AMI user must NOT be allowed (a shell or the config files through AMI)
FORBIDDEN_ACTIONS = ("Command", "GetConfig", "UpdateConfig")


class Level(Enum):
    OK = "ok"
    WARN = "warn"
    FAIL = "fail"


@dataclass(frozen=True, slots=True)
class Finding:
    check: str
    level: Level
    message: str
    fix: str = ""


@dataclass(frozen=True, slots=True)
class AmiFacts:
    reachable: bool
    error: str = ""
    banner: str = ""
    login_ok: bool = False
    login_message: str = ""
    # actions our user may run (ListCommands); None: could not be asked
    actions: frozenset[str] | None = None
    # forbidden actions Asterisk carried out for us instead of answering "Permission denied"
    forbidden_allowed: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class SmtpFacts:
    reachable: bool
    error: str = ""
    login_tried: bool = False
    login_ok: bool = False


@dataclass(frozen=True, slots=True)
class HttpFacts:
    # "free": nothing listens (serve will take it); "ours": our /healthz answers; "other"
    state: str
    detail: str = ""


@dataclass(frozen=True, slots=True)
class Facts:
    ami: AmiFacts | None = None
    # the Asterisk run from settings.asterisk_runtime_dir (this machine's, ours): its
    # pid, `module show like` per module, and `pjsip show transports`; None: not ours/not up
    local_pid: int | None = None
    local_modules: dict[str, bool] | None = None
    local_transports: str | None = None
    # something holds the SIP UDP port on this machine (None: not probed)
    sip_port_bound: bool | None = None
    prompts_total: int = 0
    prompts_missing: tuple[str, ...] = ()
    db_current: frozenset[str] | None = None
    db_heads: frozenset[str] = frozenset()
    db_error: str = ""
    smtp: SmtpFacts | None = None
    ntp_synchronized: bool | None = None
    system_timezone: str | None = None
    disk_free: dict[str, int] = field(default_factory=dict)
    http: HttpFacts | None = None


Check = Callable[[Facts, Settings], list[Finding]]


def check_ami(facts: Facts, s: Settings) -> list[Finding]:
    ami = facts.ami
    where = f"{s.ami_host}:{s.ami_port}"
    if ami is None:
        return []
    if not ami.reachable:
        return [
            Finding(
                "ami",
                Level.FAIL,
                f"Asterisk недоступен по AMI ({where}): {ami.error}",
                "запустите Asterisk (systemctl start contact-center-asterisk) или "
                "проверьте CC_AMI_HOST/CC_AMI_PORT",
            )
        ]
    if not ami.banner.startswith("Asterisk Call Manager"):
        return [
            Finding("ami", Level.FAIL, f"на {where} отвечает не Asterisk: {ami.banner!r}",
                    "проверьте CC_AMI_PORT")
        ]  # fmt: skip
    if not ami.login_ok:
        return [
            Finding(
                "ami",
                Level.FAIL,
                f"Asterisk отклонил вход AMI пользователя {s.ami_user}: {ami.login_message}",
                "CC_AMI_USER и CC_AMI_SECRET должны совпадать с manager.conf "
                "(contact-center asterisk reload перепишет его из настроек)",
            )
        ]
    out = [Finding("ami", Level.OK, f"AMI {where}: вход пользователя {s.ami_user} принят")]
    if ami.forbidden_allowed:
        out.append(
            Finding(
                "ami",
                Level.FAIL,
                "пользователю AMI разрешено лишнее: " + ", ".join(ami.forbidden_allowed),
                "уберите классы system, command и config из read/write в manager.conf "
                "(см. asterisk_conf/manager.conf)",
            )
        )
    else:
        out.append(Finding("ami", Level.OK, "права AMI минимальные (Command, GetConfig запрещены)"))
    return out


def check_modules(facts: Facts, s: Settings) -> list[Finding]:
    if facts.local_modules is not None:
        missing = [m for m, loaded in facts.local_modules.items() if not loaded]
        source = "локальный Asterisk"
    elif facts.ami is not None and facts.ami.actions is not None:
        missing = [m for a, m in ACTION_MODULES.items() if a not in facts.ami.actions]
        source = "по AMI (ListCommands)"
    else:
        return [
            Finding("modules", Level.WARN, "модули Asterisk не проверены: нет связи с ним",
                    "сначала исправьте связь с Asterisk")
        ]  # fmt: skip
    if missing:
        names = ", ".join(f"{m} ({REQUIRED_MODULES.get(m, '')})" for m in missing)
        return [
            Finding(
                "modules",
                Level.FAIL,
                f"не загружены модули Asterisk: {names}",
                "проверьте modules.conf и журнал Asterisk (log/messages.log); "
                "пакет asterisk-modules установлен?",
            )
        ]
    return [Finding("modules", Level.OK, f"нужные модули Asterisk загружены ({source})")]


def check_sip(facts: Facts, s: Settings) -> list[Finding]:
    if not s.sip_port:
        return [Finding("sip", Level.OK, "SIP выключен (CC_SIP_PORT=0): телефонов и транка нет")]
    want = f"{s.sip_bind}:{s.sip_port}"
    if facts.local_transports is not None:
        if want in facts.local_transports:
            return [Finding("sip", Level.OK, f"PJSIP слушает {want}/udp")]
        return [
            Finding(
                "sip",
                Level.FAIL,
                f"PJSIP не слушает {want}/udp (настроено CC_SIP_BIND/CC_SIP_PORT)",
                "адрес транспорта меняется только перезапуском: "
                "systemctl restart contact-center-asterisk",
            )
        ]
    if facts.sip_port_bound is None:
        return [
            Finding(
                "sip", Level.WARN, f"порт SIP {want}/udp не проверен (Asterisk на другой машине)"
            )
        ]
    if facts.sip_port_bound:
        return [Finding("sip", Level.OK, f"порт SIP {want}/udp занят (Asterisk слушает)")]
    return [
        Finding("sip", Level.FAIL, f"никто не слушает SIP на {want}/udp",
                "запустите Asterisk или исправьте CC_SIP_BIND/CC_SIP_PORT")
    ]  # fmt: skip


def check_prompts(facts: Facts, s: Settings) -> list[Finding]:
    if not facts.prompts_missing:
        return [Finding("prompts", Level.OK, f"подсказки собраны: {facts.prompts_total}")]
    shown = ", ".join(facts.prompts_missing[:5]) + (" …" if len(facts.prompts_missing) > 5 else "")
    return [
        Finding(
            "prompts",
            Level.FAIL,
            f"не собрано подсказок: {len(facts.prompts_missing)} из {facts.prompts_total} "
            f"в {s.sounds_dir} ({shown})",
            "contact-center sounds build",
        )
    ]


def check_database(facts: Facts, s: Settings) -> list[Finding]:
    if facts.db_error:
        return [
            Finding("database", Level.FAIL, f"база данных недоступна: {facts.db_error}",
                    "проверьте CC_DATABASE_URL")
        ]  # fmt: skip
    current = facts.db_current or frozenset()
    if not current:
        return [
            Finding("database", Level.FAIL, "схема базы данных не создана",
                    "contact-center db upgrade")
        ]  # fmt: skip
    if current != facts.db_heads:
        return [
            Finding("database", Level.FAIL, "схема базы данных устарела (есть новые миграции)",
                    "contact-center db upgrade")
        ]  # fmt: skip
    return [Finding("database", Level.OK, "база данных отвечает, миграции применены")]


def check_smtp(facts: Facts, s: Settings) -> list[Finding]:
    smtp = facts.smtp
    if smtp is None:
        return []
    where = f"{s.smtp_host}:{s.smtp_port} ({s.smtp_tls})"
    if not smtp.reachable:
        return [
            Finding("smtp", Level.FAIL, f"почтовый сервер {where} недоступен: {smtp.error}",
                    "проверьте CC_SMTP_HOST, CC_SMTP_PORT и CC_SMTP_TLS")
        ]  # fmt: skip
    if smtp.login_tried and not smtp.login_ok:
        return [
            Finding(
                "smtp",
                Level.FAIL,
                f"почтовый сервер {where} не принял вход {s.smtp_user}: {smtp.error}",
                "проверьте CC_SMTP_USER и CC_SMTP_PASSWORD (и CC_SMTP_TLS)",
            )
        ]
    login = f", вход {s.smtp_user} принят" if smtp.login_tried else " (без входа)"
    return [Finding("smtp", Level.OK, f"почтовый сервер {where} отвечает{login}")]


def check_clock(facts: Facts, s: Settings) -> list[Finding]:
    out: list[Finding] = []
    if s.clock_offset:
        out.append(
            Finding(
                "clock",
                Level.FAIL,
                f"часы сервиса сдвинуты на {s.clock_offset:g} с (CC_CLOCK_OFFSET): "
                "звонки пойдут не в своё время",
                "уберите CC_CLOCK_OFFSET (он для тестов и демонстраций)",
            )
        )
    if facts.ntp_synchronized is False:
        out.append(
            Finding("clock", Level.FAIL, "системные часы не синхронизированы (NTP)",
                    "apt install systemd-timesyncd; timedatectl set-ntp true")
        )  # fmt: skip
    elif facts.ntp_synchronized is None:
        out.append(
            Finding("clock", Level.WARN, "синхронизация часов не проверена (нет timedatectl)")
        )
    else:
        out.append(Finding("clock", Level.OK, "системные часы синхронизированы"))
    if facts.system_timezone and facts.system_timezone != s.timezone:
        out.append(
            Finding(
                "clock",
                Level.WARN,
                f"часовой пояс системы {facts.system_timezone}, сервиса {s.timezone}: "
                "время в журналах Asterisk будет отличаться",
                f"timedatectl set-timezone {s.timezone}",
            )
        )
    else:
        out.append(Finding("clock", Level.OK, f"часовой пояс {s.timezone}"))
    return out


def check_disk(facts: Facts, s: Settings) -> list[Finding]:
    out: list[Finding] = []
    for path, free in facts.disk_free.items():
        shown = f"{free / GIB:.1f} ГБ"
        if free < DISK_FAIL_BYTES:
            out.append(
                Finding("disk", Level.FAIL, f"мало места под записи и базу: {shown} в {path}",
                        "освободите место или перенесите каталог на другой диск")
            )  # fmt: skip
        elif free < DISK_WARN_BYTES:
            out.append(Finding("disk", Level.WARN, f"места немного: {shown} в {path}"))
        else:
            out.append(Finding("disk", Level.OK, f"свободно {shown} в {path}"))
    return out


def check_http(facts: Facts, s: Settings) -> list[Finding]:
    http = facts.http
    if http is None:
        return []
    where = f"{s.http_host}:{s.http_port}"
    if http.state == "ours":
        return [Finding("http", Level.OK, f"веб-консоль отвечает на {where} ({http.detail})")]
    if http.state == "free":
        return [Finding("http", Level.OK, f"порт веб-консоли {where} свободен для serve")]
    return [
        Finding(
            "http",
            Level.FAIL,
            f"порт веб-консоли {where} занят другой программой: {http.detail}",
            "освободите порт или укажите другой CC_HTTP_PORT",
        )
    ]


CHECKS: dict[str, Check] = {
    "ami": check_ami,
    "modules": check_modules,
    "sip": check_sip,
    "prompts": check_prompts,
    "database": check_database,
    "smtp": check_smtp,
    "clock": check_clock,
    "disk": check_disk,
    "http": check_http,
}


def run_checks(
    facts: Facts, settings: Settings, skip: frozenset[str] = frozenset()
) -> list[Finding]:
    return [f for name, check in CHECKS.items() if name not in skip for f in check(facts, settings)]


def failed(findings: list[Finding]) -> bool:
    return any(f.level is Level.FAIL for f in findings)
