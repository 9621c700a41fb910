"""The lifecycle table itself: only the legal moves, hold/cancel from open states."""

import pytest

from nephro.exams.lifecycle import (
    CANCELLABLE,
    FORWARD,
    HOLDABLE,
    IllegalTransition,
    State,
    check,
)
from nephro.exams.lifecycle import (
    HAPPY_PATH as HAPPY,
)


def test_it_allows_each_step_of_the_happy_path():
    for current, target in zip(HAPPY, HAPPY[1:], strict=False):
        check(current, target)


@pytest.mark.parametrize("current", list(State))
@pytest.mark.parametrize("target", [s for s in State if s not in (State.ON_HOLD, State.CANCELLED)])
def test_it_refuses_every_move_not_in_the_table(current, target):
    allowed = target in FORWARD.get(current, frozenset())
    if allowed:
        check(current, target)
    elif current != State.ON_HOLD:
        with pytest.raises(IllegalTransition):
            check(current, target)


def test_it_refuses_skipping_and_going_back():
    with pytest.raises(IllegalTransition):
        check(State.ORDERED, State.SCHEDULED)
    with pytest.raises(IllegalTransition):
        check(State.COMPLETED, State.IN_PROGRESS)


@pytest.mark.parametrize("state", list(State))
def test_it_holds_and_cancels_only_open_states(state):
    if state in HOLDABLE:
        check(state, State.ON_HOLD)
    else:
        with pytest.raises(IllegalTransition):
            check(state, State.ON_HOLD)
    if state in CANCELLABLE:
        check(state, State.CANCELLED)
    else:
        with pytest.raises(IllegalTransition):
            check(state, State.CANCELLED)


def test_it_resumes_a_hold_only_where_it_was_held():
    check(State.ON_HOLD, State.SCHEDULED, held_from=State.SCHEDULED)
    with pytest.raises(IllegalTransition):
        check(State.ON_HOLD, State.IN_PROGRESS, held_from=State.SCHEDULED)
