"""The doctor's checks as pure functions of the facts (gathering them: tests/integration)."""

from __future__ import annotations

from contact_center.doctor.checks import (
    GIB,
    AmiFacts,
    Facts,
    Finding,
    HttpFacts,
    Level,
    check_ami,
    check_clock,
    check_disk,
    check_http,
    check_modules,
    check_sip,
    failed,
    run_checks,
)
from contact_center.settings import Settings

S = Settings()
GOOD_AMI = AmiFacts(reachable=True, banner="Asterisk Call Manager/5.0.1", login_ok=True,
                    actions=frozenset({"AGI", "QueueAdd", "Originate"}))  # fmt: skip


def levels(findings: list[Finding]) -> list[Level]:
    return [f.level for f in findings]


def test_an_ami_user_allowed_command_is_a_problem() -> None:
    ami = AmiFacts(reachable=True, banner=GOOD_AMI.banner, login_ok=True,
                   forbidden_allowed=("Command",))  # fmt: skip
    findings = check_ami(Facts(ami=ami), S)
    assert failed(findings)
    assert "разрешено лишнее: Command" in findings[-1].message
    assert "system, command и config" in findings[-1].fix


def test_unreachable_asterisk_and_a_foreign_banner_fail() -> None:
    assert levels(check_ami(Facts(ami=AmiFacts(reachable=False, error="нет ответа")), S)) == [
        Level.FAIL
    ]
    other = AmiFacts(reachable=True, banner="SSH-2.0-OpenSSH")
    assert "отвечает не Asterisk" in check_ami(Facts(ami=other), S)[0].message


def test_modules_come_from_the_local_console_or_else_from_the_ami_actions() -> None:
    local = Facts(ami=GOOD_AMI, local_modules={"res_agi.so": True, "app_queue.so": False})
    (finding,) = check_modules(local, S)
    assert finding.level is Level.FAIL and "app_queue.so (очередь операторов)" in finding.message
    remote = Facts(ami=AmiFacts(reachable=True, banner=GOOD_AMI.banner, login_ok=True,
                                actions=frozenset({"Originate", "QueueAdd"})))  # fmt: skip
    assert "res_agi.so" in check_modules(remote, S)[0].message
    assert levels(check_modules(Facts(ami=GOOD_AMI), S)) == [Level.OK]
    assert levels(check_modules(Facts(), S)) == [Level.WARN]


def test_sip_transport_must_be_bound_where_the_settings_say() -> None:
    s = S.replace(sip_bind="0.0.0.0", sip_port=5060)
    bound = Facts(local_transports="Transport:  transport-udp  udp  0  0  0.0.0.0:5060")
    assert levels(check_sip(bound, s)) == [Level.OK]
    elsewhere = Facts(local_transports="Transport:  transport-udp  udp  0  0  127.0.0.1:5060")
    (finding,) = check_sip(elsewhere, s)
    assert finding.level is Level.FAIL and "systemctl restart" in finding.fix
    assert levels(check_sip(Facts(sip_port_bound=False), s)) == [Level.FAIL]
    assert levels(check_sip(Facts(), S.replace(sip_port=0))) == [Level.OK]


def test_clock_offset_and_unsynchronised_clock_fail_a_zone_mismatch_warns() -> None:
    assert failed(check_clock(Facts(ntp_synchronized=True), S.replace(clock_offset=60.0)))
    assert failed(check_clock(Facts(ntp_synchronized=False), S))
    mismatch = check_clock(Facts(ntp_synchronized=True, system_timezone="Etc/UTC"), S)
    assert not failed(mismatch)
    assert any(f.level is Level.WARN and "Etc/UTC" in f.message for f in mismatch)


def test_disk_space_thresholds() -> None:
    facts = Facts(disk_free={"/a": GIB // 2, "/b": 3 * GIB, "/c": 50 * GIB})
    assert levels(check_disk(facts, S)) == [Level.FAIL, Level.WARN, Level.OK]


def test_web_console_port_free_or_ours_is_fine_anyone_else_is_not() -> None:
    assert levels(check_http(Facts(http=HttpFacts("free")), S)) == [Level.OK]
    assert levels(check_http(Facts(http=HttpFacts("ours", "HTTP/1.0 200 OK")), S)) == [Level.OK]
    assert levels(check_http(Facts(http=HttpFacts("other", "nginx")), S)) == [Level.FAIL]


def test_skipped_checks_produce_nothing() -> None:
    findings = run_checks(Facts(ami=AmiFacts(reachable=False)), S, frozenset({"ami", "modules"}))
    assert not [f for f in findings if f.check in ("ami", "modules")]
