"""The exam lifecycle of DESIGN section 2, in one place.

States move only forward through the transitions listed here. Hold and cancel are
possible from any open state; a hold remembers where it came from so a radiologist's
decision can resume the exam there.
"""

from django.db import models

from nephro.lib.steps import Refused


class State(models.TextChoices):
    ORDERED = "ordered", "Ordered"
    SCREENED = "screened", "Screened"
    SCHEDULED = "scheduled", "Scheduled"
    ARRIVED = "arrived", "Arrived"
    PREPARED = "prepared", "Prepared"
    IN_PROGRESS = "in_progress", "In progress"
    COMPLETED = "completed", "Completed"
    REPORTED = "reported", "Reported"
    FOLLOW_UP = "follow_up", "Follow-up"
    CLOSED = "closed", "Closed"
    ON_HOLD = "on_hold", "On hold"
    CANCELLED = "cancelled", "Cancelled"


# The states an exam passes through when nothing goes wrong, in order.
HAPPY_PATH: tuple[str, ...] = (
    State.ORDERED,
    State.SCREENED,
    State.SCHEDULED,
    State.ARRIVED,
    State.PREPARED,
    State.IN_PROGRESS,
    State.COMPLETED,
    State.REPORTED,
    State.FOLLOW_UP,
    State.CLOSED,
)

FORWARD: dict[str, frozenset[str]] = {
    State.ORDERED: frozenset({State.SCREENED}),
    # Rescreening (e.g. after a patient questionnaire) keeps a screened exam screened.
    State.SCREENED: frozenset({State.SCHEDULED, State.SCREENED}),
    State.SCHEDULED: frozenset({State.ARRIVED, State.SCHEDULED}),
    State.ARRIVED: frozenset({State.PREPARED}),
    State.PREPARED: frozenset({State.IN_PROGRESS}),
    State.IN_PROGRESS: frozenset({State.COMPLETED}),
    State.COMPLETED: frozenset({State.REPORTED}),
    State.REPORTED: frozenset({State.FOLLOW_UP}),
    State.FOLLOW_UP: frozenset({State.CLOSED}),
}

FINISHED = frozenset({State.CLOSED, State.CANCELLED})
# Once the images are taken the study has happened: a hold or cancel no longer applies.
HOLDABLE = frozenset(
    {
        State.ORDERED,
        State.SCREENED,
        State.SCHEDULED,
        State.ARRIVED,
        State.PREPARED,
        State.IN_PROGRESS,
    }
)
CANCELLABLE = HOLDABLE | {State.ON_HOLD}
# States whose appointment no longer holds a room: the study is done or will not happen.
NOT_BOOKED = FINISHED | {State.COMPLETED, State.REPORTED, State.FOLLOW_UP}
# States that appear on the modality worklist.
ON_WORKLIST = frozenset({State.SCHEDULED, State.ARRIVED, State.PREPARED})


class IllegalTransition(Refused):
    """Raised when an exam is asked to move somewhere its state does not allow."""


def check(current: str, target: str, *, held_from: str = "") -> None:
    if target == State.ON_HOLD:
        if current not in HOLDABLE:
            raise IllegalTransition(
                f"an exam that is {State(current).label.lower()} cannot be held"
            )
        return
    if target == State.CANCELLED:
        if current not in CANCELLABLE:
            raise IllegalTransition(
                f"an exam that is {State(current).label.lower()} cannot be cancelled"
            )
        return
    if current == State.ON_HOLD:
        if target != held_from:
            raise IllegalTransition("a held exam can only resume where it was held")
        return
    if target not in FORWARD.get(current, frozenset()):
        raise IllegalTransition(
            f"cannot go from {State(current).label.lower()} to {State(target).label.lower()}"
        )
