"""The quick assessment of a case with one event equals the general one (alerts/cases.py).

At each of its deadlines a case is assessed again from its events; most open cases have one
event, their acceptance, and `assess` takes a short path for them. Whatever that event says,
the short path must give what gathering all facts gives.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from alerts.cases import Entry, _accepted_only, _assess, assess
from alerts.events import CaseAction, CaseEvent, CaseKind
from alerts.ids import CaseId, EventId, StaffId, WindowId
from alerts.rules import Policy
from alerts.workdays import WorkCalendar
from tests.case_builders import CAL, HOURS, SHANGHAI

# The national schedule is known to the library up to some year: instants from 2025 to 2029
# reach into years of unknown schedule, where deadlines are estimated.
START = datetime(2025, 1, 1, tzinfo=UTC)
instants = st.integers(0, 5 * 365 * 24 * 3600).map(lambda s: START + timedelta(seconds=s))
days = st.one_of(st.none(), st.integers(-1, 40))
later_known = WorkCalendar(SHANGHAI, [HOURS], complete_years=[2027, 2028, 2029])


@st.composite
def lone_events(draw: st.DrawFn) -> Entry:
    ts = draw(instants)
    ev = CaseEvent(
        case=CaseId("C2026-000001"),
        action=draw(st.sampled_from(CaseAction)),
        ts=ts,
        kind=draw(st.one_of(st.none(), st.sampled_from(CaseKind))),
        window=draw(st.sampled_from([None, WindowId("W01")])),
        staff=draw(st.sampled_from([None, StaffId("S001")])),
        promised_days=draw(days),
        legal_days=draw(days),
        deadline=draw(st.one_of(st.none(), instants)),
    )
    return Entry(ts, 1, EventId("e-1"), ev)


policies = st.builds(
    Policy,
    warning_days=st.integers(0, 5),
    warning_days_by_kind=st.dictionaries(st.sampled_from(CaseKind), st.integers(0, 5)),
)


@settings(max_examples=400, deadline=None)
@given(lone_events(), policies, st.sampled_from([CAL, later_known]))
def test_one_event_is_assessed_the_same_by_the_short_path(
    e: Entry, policy: Policy, cal: WorkCalendar
) -> None:
    case = e.event.case
    assert assess(case, [e], cal, policy) == _assess(case, [e], cal, policy)


@settings(max_examples=100, deadline=None)
@given(instants, st.integers(0, 40), st.sampled_from([CaseKind.PROMISED, CaseKind.JOINT]))
def test_an_acceptance_takes_the_short_path(ts: datetime, n: int, kind: CaseKind) -> None:
    """The property above would hold vacuously if the short path were never taken."""
    ev = CaseEvent(case=CaseId("C1"), action=CaseAction.ACCEPTED, ts=ts, kind=kind, promised_days=n)
    quick = _accepted_only(ev.case, Entry(ts, 1, EventId("e"), ev), CAL, Policy())
    assert quick is not None and quick.due is not None and quick.conditions
