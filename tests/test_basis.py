"""Every rule's basis (依据) as users read it: Chinese, the regulation by title and article, the
hall's own numbers said to be 本中心规定, the same on every surface, and per hall.

Seeds behind the table (alerts/basis.py): `000_… 六(五)` (the refusal review's 2 working days),
`000_… 八(八)` (the hearing, which gives no number), `002_… 领导值班制度 二` (the duty quota, no
minutes), `001_… 第三篇` (a company's office hours, no hall's).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from alerts.basis import BASES, DEFAULT, Bases, BasisConfig, NumberFrom, rule_table_md
from alerts.cards import Card
from alerts.config import HallConfig, parse_config
from alerts.contract import RejectReason
from alerts.errors import ConfigError
from alerts.events import CaseAction, CaseEvent, CaseKind, Recorded
from alerts.ids import CaseId, EventId, StaffId, WindowId
from alerts.notify import CardNews, Moment, NewsSubject, People, render
from alerts.rules import RULES, RuleId
from alerts.supervision import Supervision
from monitor.reports.names import HallNames
from monitor.reports.tables import basis as report_basis
from monitor.web.cardpage import people_view
from monitor.web.console import REFUSAL_ZH, Names, card_detail
from monitor.web.notices_print import notice_html
from tests.hall import example

ROOT = Path(__file__).resolve().parent.parent
# What a user must never read: a seed's file name, a tracker number, a page of the repository,
# or an English note ("a city's e-supervision rule", "ours", a numbered default).
FORBIDDEN = re.compile(r"00\d_|[Ii]ssue|DOMAIN|\.md\b|[A-Za-z]{3,}")


def _user_text_problems(text: str) -> list[str]:
    return [m.group(0) for m in FORBIDDEN.finditer(text)]


def test_every_rule_has_a_basis_entry() -> None:
    """A rule added without a line in alerts/basis.py BASES fails here (and at merge)."""
    missing = [r.value for r in RuleId if r not in BASES]
    assert missing == []


@pytest.mark.parametrize("rule", list(RuleId))
def test_each_basis_is_chinese_and_cites_a_regulation_by_title(rule: RuleId) -> None:
    text = DEFAULT.text(rule)
    assert _user_text_problems(text) == []
    assert re.search(r"《[^》]+》", text), text
    b = BASES[rule]
    if b.number in (NumberFrom.OURS, NumberFrom.ELSEWHERE):
        assert "本中心规定" in text
    else:
        assert "本中心规定" not in text


def _default_of(setting: str) -> Any:
    section, key = setting.split(".")
    model = HallConfig.model_fields[section].annotation
    assert isinstance(model, type)
    return model.model_fields[key].default


@pytest.mark.parametrize("rule", [r for r in RuleId if BASES[r].setting])
def test_the_stated_default_is_the_configuration_default(rule: RuleId) -> None:
    b = BASES[rule]
    value = _default_of(b.setting)
    if isinstance(value, bool):
        assert ("默认关闭" in b.default_zh) is (value is False)
    else:
        assert str(value) in b.default_zh, (b.setting, value, b.default_zh)


def test_docs_rule_table_is_the_code_table() -> None:
    page = (ROOT / "docs" / "cards.md").read_text(encoding="utf-8")
    found = re.search(r"<!-- rule-table:[^>]*-->\n(.*?)\n<!-- /rule-table -->", page, re.S)
    assert found is not None
    assert found.group(1) == rule_table_md()
    assert (
        _user_text_problems(
            "\n".join(row.split("|", 3)[3] for row in found.group(1).splitlines()[2:])
        )
        == []
    )


# --- the three misattributions ---------------------------------------------------------------


def test_the_numbers_the_seeds_do_not_give_are_ours() -> None:
    """`002_… 领导值班制度 二` gives the quota, not 30 minutes; `000_… 八(八)` the hearing, not its
    2 working days; `001_… 第三篇` is a company's hours, not the hall's."""
    assert BASES[RuleId.DUTY_LATE].number is NumberFrom.OURS
    assert "30分钟的到岗时限为本中心规定" in DEFAULT.text(RuleId.DUTY_LATE)
    assert BASES[RuleId.DUTY_QUOTA_MISSED].number is NumberFrom.REGULATION
    assert "申辩期限为本中心规定" in DEFAULT.hearing_text()
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    rows = {
        line.split("|")[1].strip(): line for line in readme.splitlines() if line.startswith("|")
    }
    assert "ours" in rows["owner's answer (陈述申辩)"].split("|")[3]
    assert "`001_…` 六" not in rows["service sessions (example hall)"]
    assert rows["leader on duty"].split("|")[3].strip().startswith("ours")


# --- per hall -------------------------------------------------------------------------------


def _cfg(basis: dict[str, Any]) -> HallConfig:
    data = example().model_dump(mode="json", exclude_none=True)
    data["basis"] = basis
    return parse_config(data)


def test_a_hall_names_its_own_regulations_and_restates_a_rule() -> None:
    nine = "《示范县政务服务中心行政效能建设九项制度》"
    late = {"regulation": "own", "article": "第三条", "gist": "值班领导准时到岗"}
    late |= {"number": "ours", "ours": "15分钟"}
    cfg = _cfg(
        {"regulations": {"nine": nine, "own": "《示范县细则》"}, "rules": {"duty.late": late}}
    )
    bases = Bases.of(cfg.basis)
    assert bases.text(RuleId.REFUSAL_REVIEW_LATE).startswith(
        "《示范县政务服务中心行政效能建设九项制度》第六条第五项"
    )
    assert (
        bases.text(RuleId.DUTY_LATE)
        == "《示范县细则》第三条（值班领导准时到岗）；15分钟为本中心规定"
    )
    assert Names.of(cfg).bases.text(RuleId.DUTY_LATE) == bases.text(RuleId.DUTY_LATE)
    assert HallNames.of(cfg).bases.text(RuleId.DUTY_LATE) == bases.text(RuleId.DUTY_LATE)


def test_a_basis_naming_an_unknown_regulation_or_rule_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"basis\.rules\.duty\.late\.regulation"):
        _cfg({"rules": {"duty.late": {"regulation": "nowhere", "gist": "x"}}})
    with pytest.raises(ConfigError, match=r"unknown rule ids: duty\.later"):
        _cfg({"rules": {"duty.later": {"regulation": "nine", "gist": "x"}}})
    assert BasisConfig().problems() == []


# --- the surfaces users read ----------------------------------------------------------------

ACCEPTED = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)  # Monday 09:00 in the hall
LATER = datetime(2026, 11, 26, 2, 0, tzinfo=UTC)  # Thursday, past a 1-day promise


def _red_card(cfg: HallConfig) -> tuple[Supervision, Card]:
    sup = Supervision(cfg)
    ev = CaseEvent(
        case=CaseId("C2026-000777"),
        action=CaseAction.ACCEPTED,
        ts=ACCEPTED,
        kind=CaseKind.PROMISED,
        window=WindowId("W03"),
        staff=StaffId("S005"),
        promised_days=1,
        legal_days=20,
    )
    sup.apply(Recorded(1, EventId("e-basis"), ACCEPTED, ev))
    sup.tick(LATER)
    cards = [c for c in sup.engine.cards.values() if c.rule is RuleId.PROMISED_OVERDUE]
    assert len(cards) == 1
    return sup, cards[0]


class _Who:
    def may(self, _p: object) -> bool:
        return True


def test_card_page_notices_and_report_show_the_same_chinese_basis() -> None:
    cfg = example()
    sup, card = _red_card(cfg)
    want = DEFAULT.text(RuleId.PROMISED_OVERDUE)
    names = Names.of(cfg)
    detail = card_detail(card, [], names, cfg.hall.zone)
    assert detail["source"] == want
    assert detail["answer_basis"] == DEFAULT.hearing_text()
    view = people_view(card, sup, [], names, cfg.hall.zone, _Who())  # type: ignore[arg-type]
    assert _user_text_problems(view["what_zh"]) == []
    for kind in ("inform", "rectify", "urge"):
        html = notice_html(kind, card, cfg, LATER)
        assert want in html
        assert not re.search(r"00\d_|ours|e-supervision", html)
    news = CardNews(
        card=card.id, rule=card.rule.value, level="red", state="raised", reason="condition_met",
        ts=card.raised_at, title=RULES[card.rule].title_zh,
        subject=NewsSubject(case="C2026-000777", window="W03", staff="S005"), owner="S005",
    )  # fmt: skip
    _, body = render(news, Moment.RAISED, People.of(cfg), cfg.hall.zone, None, "https://x")
    line = next(x for x in body.splitlines() if x.startswith("依据："))
    assert line == f"依据：{want}"
    assert report_basis(card.rule.value, HallNames.of(cfg)) == want


def test_refusal_and_reject_texts_shown_to_users_name_no_seed_file() -> None:
    for text in REFUSAL_ZH.values():
        assert not re.search(r"00\d_|[Ii]ssue|\.md\b", text), text
    for reason in RejectReason:
        assert not re.search(r"00\d_|[Ii]ssue|\.md\b", reason.label_zh), reason


def test_the_monthly_report_cites_the_regulation_and_no_developer_note() -> None:
    from monitor.reports import monthly
    from monitor.web.console import month_report

    cfg = example()
    sup, card = _red_card(cfg)
    page = monthly.render_month_html(month_report(sup, cfg, (2026, 11), LATER), charts=())
    assert DEFAULT.text(card.rule) in page
    notes = r"00\d_[…0-9a-f]|[Ii]ssue \d|e-supervision|\bours\b|practice elsewhere"
    assert not re.search(notes, page)
