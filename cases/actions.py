"""What a person (or the timer) asks of a case: one model per action, told apart by the field `action`.

`CaseAction` is the discriminated union the API parses a request body into and `cases.transitions` carries.
Free text is bounded and may not carry control characters other than newline and tab, since it ends up in
audit exports and on screens.
"""

from __future__ import annotations

import unicodedata
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, TypeAdapter

from cases.states import ActionName

REASON_MAX = 500
NOTE_MAX = 2000
ATTACHMENTS_MAX = 10
POSTPONE_MAX_HOURS = 720
# A hand-set deadline basis (dispatch from triage) may be as long as a duty rule's (geo.schemas.DutyRule).
DEADLINE_MAX_HOURS = 24 * 90


def _no_control_chars(value: str) -> str:
    for ch in value:
        if ch not in "\n\t" and unicodedata.category(ch) == "Cc":
            raise ValueError(f"must not contain control character U+{ord(ch):04X}")
    return value


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be blank")
    return value.strip()


Reason = Annotated[
    str,
    StringConstraints(max_length=REASON_MAX),
    AfterValidator(_no_control_chars),
    AfterValidator(_not_blank),
]
OptionalReason = Annotated[str, StringConstraints(max_length=REASON_MAX), AfterValidator(_no_control_chars)]
Note = Annotated[str, StringConstraints(max_length=NOTE_MAX), AfterValidator(_no_control_chars)]
Sha256 = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
Attachments = Annotated[tuple[Sha256, ...], Field(max_length=ATTACHMENTS_MAX)]
Code = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[0-9A-Za-z_.:-]+$")]


class _Action(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class DispatchAction(_Action):
    """派遣 (or reassign). The deadline basis is only for a case whose clock has not started yet and which has
    no basis from a duty rule (a triage case): the dispatcher sets it by hand."""

    action: Literal[ActionName.DISPATCH] = ActionName.DISPATCH
    department_code: Code
    deadline_hours: int | None = Field(default=None, gt=0, le=DEADLINE_MAX_HOURS)
    working_hours: bool | None = None


class AcceptAction(_Action):
    action: Literal[ActionName.ACCEPT] = ActionName.ACCEPT


class ReturnAction(_Action):
    action: Literal[ActionName.RETURN] = ActionName.RETURN
    reason: Reason


class HandleAction(_Action):
    action: Literal[ActionName.HANDLE] = ActionName.HANDLE
    note: Note
    attachments: Attachments = ()


class VerifyAction(_Action):
    action: Literal[ActionName.VERIFY] = ActionName.VERIFY
    passed: bool
    note: Note
    attachments: Attachments = ()


class EvaluateAction(_Action):
    action: Literal[ActionName.EVALUATE] = ActionName.EVALUATE
    score: int = Field(ge=1, le=5)
    note: Note = ""


class PostponeAction(_Action):
    action: Literal[ActionName.POSTPONE] = ActionName.POSTPONE
    hours: int = Field(gt=0, le=POSTPONE_MAX_HOURS)
    reason: Reason


class ApproveAction(_Action):
    action: Literal[ActionName.APPROVE] = ActionName.APPROVE


class RejectAction(_Action):
    action: Literal[ActionName.REJECT] = ActionName.REJECT
    reason: OptionalReason = ""


class SuspendAction(_Action):
    action: Literal[ActionName.SUSPEND] = ActionName.SUSPEND
    reason: Reason


class ResumeAction(_Action):
    action: Literal[ActionName.RESUME] = ActionName.RESUME


class EscalateAction(_Action):
    action: Literal[ActionName.ESCALATE] = ActionName.ESCALATE
    reason: Reason


class VoidAction(_Action):
    action: Literal[ActionName.VOID] = ActionName.VOID
    reason: Reason


class WarnAction(_Action):
    action: Literal[ActionName.WARN] = ActionName.WARN


CaseAction = Annotated[
    DispatchAction
    | AcceptAction
    | ReturnAction
    | HandleAction
    | VerifyAction
    | EvaluateAction
    | PostponeAction
    | ApproveAction
    | RejectAction
    | SuspendAction
    | ResumeAction
    | EscalateAction
    | VoidAction
    | WarnAction,
    Field(discriminator="action"),
]

CASE_ACTION: TypeAdapter[CaseAction] = TypeAdapter(CaseAction)

ACTION_MODELS: dict[ActionName, type[_Action]] = {
    ActionName.DISPATCH: DispatchAction,
    ActionName.ACCEPT: AcceptAction,
    ActionName.RETURN: ReturnAction,
    ActionName.HANDLE: HandleAction,
    ActionName.VERIFY: VerifyAction,
    ActionName.EVALUATE: EvaluateAction,
    ActionName.POSTPONE: PostponeAction,
    ActionName.APPROVE: ApproveAction,
    ActionName.REJECT: RejectAction,
    ActionName.SUSPEND: SuspendAction,
    ActionName.RESUME: ResumeAction,
    ActionName.ESCALATE: EscalateAction,
    ActionName.VOID: VoidAction,
    ActionName.WARN: WarnAction,
}


def parse_action(data: object) -> CaseAction:
    """Validate a request body (a dict) into its action model; raises pydantic.ValidationError."""
    return CASE_ACTION.validate_python(data)


def parse_action_json(data: str | bytes) -> CaseAction:
    """Validate a JSON document into its action model; raises pydantic.ValidationError."""
    return CASE_ACTION.validate_json(data)
