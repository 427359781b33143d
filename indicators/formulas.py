"""The indicators from summed counts, the composite score and its weights, and staffing: stated once, here.

Formulas (after 金华 数字化城市管理工作考核细则; 福州 publishes the same four rates each quarter):

    结案率     = 应结案中结案数 ÷ (应结案数 − 缓办数)
    按期结案率 = 按期结案数     ÷ (应结案数 − 缓办数)
    返工率     = 返工数 ÷ 处置数          (cases sent back for rework ÷ cases handled)
    延期率     = 延期数 ÷ 派遣数          (cases with an approved postponement ÷ cases dispatched)
    平均结案用时 = Σ working hours from opening to closing ÷ 结案数

A rate whose denominator is 0 is None (not 0 %): nothing was due. Which cases each count holds, and on which
day, is `indicators.measures`.

The composite score (社区建设绩效考核) is 金华's: each part has its points, a rate at which it earns them all,
and the points lost per percentage point short of that rate (never below 0):

    part                          points  full marks at   lost per point short
    按期结案率                       50      ≥ 70 %          1
    结案率                           20      ≥ 90 %          1
    紧急问题处置                     10      —               not assessed: urgency is not modelled
    返工、弄虚作假、推诿               5      返工率 0 %       1 per point of 返工率 (金华: 0.2 per case)
    其它事项 (领导交办、督办)          5      —               not assessed: not recorded in gridflow
    组织保障                          5      —               not assessed: not a figure of the cases

The parts DESIGN.md lists sum to 95 (金华's sheet also has 督办事项, not modelled either). Parts gridflow
cannot assess are left out, and the score is the points earned out of the points assessed,
scaled to 100 (so 100 still means "nothing lost"; a city adding urgent cases gets the 10 points back by
giving the part a rate). Small denominators: an area with fewer than `min_due` due cases (应结案数 − 缓办数)
in the period gets no score (样本不足) and is ranked after every scored area: 2 cases both on time say
little, and must not outrank 300 at 99 %. Scored areas rank by score, then 按期结案率, then their number of
due cases (the larger sample first), then code.

Staffing: grid workers per 10,000 residents, against the seed's target of 18
(每万名城镇常住人口拥有社区工作者18人).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from indicators.measures import Measure

STAFFING_TARGET_PER_10K = 18.0


def ratio(numerator: int, denominator: int) -> float | None:
    return numerator / denominator if denominator > 0 else None


@dataclass(frozen=True)
class Rates:
    closure_rate: float | None  # 结案率
    on_time_rate: float | None  # 按期结案率
    rework_rate: float | None  # 返工率
    postpone_rate: float | None  # 延期率
    mean_close_hours: float | None  # 平均结案用时 (working hours)
    due_net: int  # 应结案数 − 缓办数: the denominator of the first two


def rates(counts: Mapping[Measure, int]) -> Rates:
    def n(measure: Measure) -> int:
        return counts.get(measure, 0)

    due_net = n(Measure.DUE) - n(Measure.DUE_SUSPENDED)
    closed = n(Measure.CLOSED)
    return Rates(
        closure_rate=ratio(n(Measure.DUE_CLOSED), due_net),
        on_time_rate=ratio(n(Measure.DUE_ON_TIME), due_net),
        rework_rate=ratio(n(Measure.REWORKED), n(Measure.HANDLED)),
        postpone_rate=ratio(n(Measure.POSTPONED), n(Measure.DISPATCHED)),
        mean_close_hours=n(Measure.CLOSE_SECONDS) / closed / 3600 if closed else None,
        due_net=due_net,
    )


@dataclass(frozen=True)
class Part:
    key: str
    label: str
    points: float
    full_at: float | None = None  # None: gridflow cannot assess this part
    lost_per_point: float = 1.0  # points lost per percentage point short of full_at
    lower_is_better: bool = False  # a rate that should stay at or below full_at (返工率)


@dataclass(frozen=True)
class ScoreRules:
    parts: tuple[Part, ...]
    min_due: int = 30  # fewer due cases in the period: no score (样本不足)


# 金华's weights. The one place they are configured; README and the API's descriptions point here.
JINHUA = ScoreRules(
    parts=(
        Part("on_time_rate", "按期结案率", 50, full_at=0.70),
        Part("closure_rate", "结案率", 20, full_at=0.90),
        Part("urgent", "紧急问题处置", 10),
        Part("rework_rate", "返工、弄虚作假、推诿", 5, full_at=0.0, lower_is_better=True),
        Part("other", "其它事项（领导交办、督办）", 5),
        Part("organisation", "组织保障", 5),
    )
)


@dataclass(frozen=True)
class Score:
    score: float | None  # 0..100; None when not assessed (样本不足, or nothing assessable)
    earned: dict[str, float]  # per part assessed
    not_assessed: tuple[str, ...]  # parts left out (their keys)
    note: str | None = None


def score(r: Rates, rules: ScoreRules = JINHUA) -> Score:
    """The composite score of one area from its rates."""
    skipped = tuple(p.key for p in rules.parts if p.full_at is None)
    if r.due_net < rules.min_due:
        note = f"应结案数不足{rules.min_due}件，不评分（样本不足）"
        return Score(None, {}, skipped, note)
    earned: dict[str, float] = {}
    assessed = 0.0
    left_out = list(skipped)
    for part in rules.parts:
        if part.full_at is None:
            continue
        value = getattr(r, part.key)
        if value is None:
            left_out.append(part.key)
            continue
        short = (value - part.full_at) if part.lower_is_better else (part.full_at - value)
        earned[part.key] = max(0.0, part.points - part.lost_per_point * max(0.0, short) * 100)
        assessed += part.points
    if not assessed:
        return Score(None, earned, tuple(left_out), "无可评分的指标")
    return Score(round(100 * sum(earned.values()) / assessed, 2), earned, tuple(left_out))


@dataclass(frozen=True)
class Ranked:
    code: str
    score: Score
    rank: int | None  # 1 is best; None: not scored


def rank(areas: Sequence[tuple[str, Rates]], rules: ScoreRules = JINHUA) -> list[Ranked]:
    """Areas ordered best first by the composite score; those without a score after, by code."""
    scored = [(code, r, score(r, rules)) for code, r in areas]

    def key(item: tuple[str, Rates, Score]) -> tuple[float, float, int, str]:
        code, r, s = item
        return (-(s.score or 0.0), -(r.on_time_rate or 0.0), -r.due_net, code)

    with_score = sorted((i for i in scored if i[2].score is not None), key=key)
    without = sorted((i for i in scored if i[2].score is None), key=lambda i: i[0])
    return [Ranked(c, s, n) for n, (c, _, s) in enumerate(with_score, 1)] + [
        Ranked(c, s, None) for c, _, s in without
    ]


@dataclass(frozen=True)
class Staffing:
    grid_workers: int
    residents: int | None
    residents_estimated: bool
    per_10k: float | None
    target_per_10k: float
    meets_target: bool | None


def staffing(grid_workers: int, residents: int | None, *, estimated: bool) -> Staffing:
    per_10k = grid_workers * 10_000 / residents if residents else None
    return Staffing(
        grid_workers=grid_workers,
        residents=residents,
        residents_estimated=estimated,
        per_10k=round(per_10k, 2) if per_10k is not None else None,
        target_per_10k=STAFFING_TARGET_PER_10K,
        meets_target=per_10k >= STAFFING_TARGET_PER_10K if per_10k is not None else None,
    )
