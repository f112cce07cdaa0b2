"""The fast line-protocol renderer gives the reference's bytes for any point.

`alerts.points.to_line` remembers escaped series and field keys and translates a string
value only when it holds a character that needs it; `to_line_reference` is the plain
rendering it replaced. Both are held to the same output over arbitrary measurements, tag
and field strings (spaces, commas, equals, quotes, backslashes, newlines, non-ASCII) and
values, and to the same refusal where line protocol cannot carry a value.
"""

from __future__ import annotations

import enum
from datetime import UTC, datetime, timedelta, timezone

from hypothesis import example, given, settings
from hypothesis import strategies as st

from alerts.points import FieldValue, Point, PointError, to_line, to_line_reference
from bench.tsdb import card_points


class Shade(enum.StrEnum):
    RED = "red"
    QUOTED = 'say "hi"'


class Code(enum.IntEnum):
    TWO = 2


# The characters line protocol escapes, mixed into arbitrary Unicode (UTF-8 can carry).
_SPECIAL = st.sampled_from([" ", ",", "=", '"', "\\", "\n", "\t", "\r", "窗", "口", "é", "\u3000"])
_TEXT = st.text(alphabet=st.one_of(_SPECIAL, st.characters(codec="utf-8")), max_size=12)
_SURROGATE = st.text(st.characters(categories=["Cs"]), min_size=1, max_size=2)
_VALUES: st.SearchStrategy[FieldValue] = st.one_of(
    _TEXT,
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
    st.sampled_from([Shade.RED, Shade.QUOTED, Code.TWO]),
)
_ZONES = st.sampled_from([UTC, timezone(timedelta(hours=8)), timezone(timedelta(hours=-5))])
_TIMES = st.datetimes(
    min_value=datetime(1970, 1, 2), max_value=datetime(2200, 1, 1), timezones=_ZONES
)


def _outcome(render: object, p: Point) -> bytes | type[BaseException]:
    assert callable(render)
    try:
        out = render(p)
    except (PointError, UnicodeEncodeError) as exc:
        return type(exc)
    assert isinstance(out, bytes)
    return out


@settings(max_examples=600, deadline=None)
@given(
    measurement=_TEXT.filter(bool),
    tags=st.dictionaries(_TEXT, _TEXT, max_size=6),
    fields=st.dictionaries(_TEXT, _VALUES, min_size=1, max_size=8),
    at=_TIMES,
)
@example(
    measurement="m x,y\n",
    tags={"k=1": "v 1,2", "empty": "", "back\\": "slash\\", "新\n": '"q"'},
    fields={"s": 'say "hi"\\\n', "f": 0.5, "b": True, "i": -3, "e": Shade.QUOTED},
    at=datetime(2026, 11, 23, 8, 3, 12, 7, tzinfo=UTC),
)
def test_fast_renderer_gives_the_reference_bytes(
    measurement: str,
    tags: dict[str, str],
    fields: dict[str, FieldValue],
    at: datetime,
) -> None:
    p = Point(measurement=measurement, tags=tags, fields=fields, time=at)
    assert _outcome(to_line, p) == _outcome(to_line_reference, p)
    assert _outcome(to_line, p) == _outcome(to_line_reference, p)  # again, from its memory


@given(
    bad=st.one_of(st.sampled_from([float("nan"), float("inf"), float("-inf")]), _SURROGATE),
    fields=st.dictionaries(_TEXT, _VALUES, max_size=4),
)
def test_both_refuse_what_line_protocol_cannot_carry(
    bad: FieldValue, fields: dict[str, FieldValue]
) -> None:
    p = Point(measurement="m", tags={}, fields={**fields, "bad": bad}, time=datetime.now(UTC))
    assert _outcome(to_line, p) == _outcome(to_line_reference, p)
    assert not isinstance(_outcome(to_line, p), bytes)


@given(order=st.permutations(["window", "hall", "rule", "level", "state"]))
def test_tag_order_never_changes_the_line(order: list[str]) -> None:
    tags = {"hall": "H1", "window": "W03", "rule": "post.empty", "level": "red", "state": "raised"}
    p = Point(
        measurement="card",
        tags={k: tags[k] for k in order},
        fields={"n": 1},
        time=datetime.now(UTC),
    )
    assert to_line(p) == to_line_reference(p)
    assert to_line(p).startswith(b"card,hall=H1,level=red,rule=post.empty,state=raised,window=W03 ")


def test_card_points_of_the_bench_render_alike() -> None:
    points = card_points(2_000)
    assert [to_line(p) for p in points] == [to_line_reference(p) for p in points]
