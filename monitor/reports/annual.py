"""The year's roll-up of the monthly scores (seed 000_… 九(三): 效能考评每年组织一次). Pure.

Each month of the year begun by `now` is scored as the monthly report scores it
(alerts/evaluation.py `year_scores`), per window and officer: the twelve scores, the year's
average, the points deducted, the months without honours and in last place; the 004 star
ratings stand beside them as their own figure. A printable Chinese page and an XLSX, from the
same tables (monitor/reports/tables.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from html import escape

from alerts.config import HallConfig
from alerts.evaluation import StarRating, YearScores, star_ratings, year_scores
from alerts.roles import StaffRole
from alerts.scores import completions_from
from alerts.supervision import Supervision
from monitor.reports.monthly import CSS, html_table
from monitor.reports.names import HallNames, clean
from monitor.reports.tables import Table, star_table, year_table
from monitor.reports.workbook import xlsx


@dataclass(frozen=True, slots=True, kw_only=True)
class YearReport:
    hall_name: str
    scores: YearScores
    stars: tuple[StarRating, ...]
    names: HallNames


def year_report(sup: Supervision, cfg: HallConfig, year: int, now: datetime) -> YearReport:
    """The roll-up from a replayed state (the daemon's state lock held, or a replay's own)."""
    cards = list(sup.engine.cards.values())
    windows = [w.id for w in cfg.windows]
    officers = [s.id for s in cfg.staff if s.role is StaffRole.OFFICER]
    since = sup.state.earliest  # months before the hall was watched: no score ("—")
    ys = year_scores(cards, cfg.scores, year, cfg.hall.zone, now, windows, officers, since)
    done = completions_from(sup.engine.assessments())
    stars = star_ratings(cards, sup.state.ratings, done, cfg.scores, sup.engine.calendar, now)
    rated = tuple(r for r in stars if r.year <= year)
    return YearReport(hall_name=cfg.hall.name, scores=ys, stars=rated, names=HallNames.of(cfg))


def _tables(r: YearReport) -> list[tuple[str, Table]]:
    return [
        ("窗口", year_table(r.scores.windows, "窗口", r.names)),
        ("人员", year_table(r.scores.officers, "工号", r.names)),
        ("星级评定", star_table(r.stars, r.names)),
    ]


def render_year_html(r: YearReport) -> str:
    year = r.scores.year
    title = f"{escape(clean(r.hall_name))} {year}年 效能考评年度汇总"
    banner = ""
    if not r.scores.closed:
        banner = '<div class="banner">本年度尚未结束：以下为截至生成时各月的考评得分。</div>'
    heads = {"窗口": "窗口各月考评得分", "人员": "人员各月考评得分", "星级评定": "星级评定"}
    body = "".join(f"<h2>{heads[name]}</h2>{html_table(t)}" for name, t in _tables(r))
    return (
        '<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8"/>'
        f"<title>{title}</title><style>{CSS}</style></head><body>"
        f"<h1>{title}</h1>{banner}{body}"
        '<p class="small">依据《行政效能建设九项制度》九(三)“效能考评每年组织一次”：各月得分即各月'
        "效能考评月报的月度考评得分，年度平均为已开始各月的平均。取消评优评先的月份含超过法定时限等"
        "八(五)所列情形与考评末位（《镇政务服务中心各项制度》领导服务责任制度 五）。星级按"
        "《关于创建“五星级”政务服务体系的实施意见（试行）》三(二)单独评定，不由月度得分换算。</p>"
        "</body></html>"
    )


def render_year_xlsx(r: YearReport) -> bytes:
    return xlsx(_tables(r), [], ())
