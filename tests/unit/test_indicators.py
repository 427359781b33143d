"""The indicator formulas, the composite score and the small-count rule, from plain counts."""

from __future__ import annotations

import pytest

from indicators.formulas import JINHUA, Rates, rank, rates, score, staffing
from indicators.measures import Measure as M


def counts(**n: int) -> dict[M, int]:
    return {M(k): v for k, v in n.items()}


def test_fuzhou_q2_2022_figures_come_out_of_the_formulas():
    # 福州 2022 Q2: 277,924 valid cases, 结案率 99.99 %, 按期结案率 99.88 %, 返工率 0.11 %, 延期率 0.20 %.
    r = rates(
        counts(
            due=277_924, due_suspended=0, due_closed=277_896, due_on_time=277_590,
            handled=277_924, reworked=306, dispatched=277_924, postponed=556,
        )
    )  # fmt: skip
    assert r.closure_rate == pytest.approx(0.9999, abs=5e-5)
    assert r.on_time_rate == pytest.approx(0.9988, abs=5e-5)
    assert r.rework_rate == pytest.approx(0.0011, abs=5e-5)
    assert r.postpone_rate == pytest.approx(0.0020, abs=5e-5)
    assert score(r).score == pytest.approx(100 * (70 + 5 - 0.11) / 75, abs=0.01)  # 返工率 costs 0.11


def test_suspended_cases_leave_the_denominator_of_both_closure_rates():
    r = rates(counts(due=10, due_suspended=2, due_closed=6, due_on_time=4))
    assert r.due_net == 8 and r.closure_rate == 6 / 8 and r.on_time_rate == 4 / 8


def test_a_rate_with_nothing_due_is_none_not_zero():
    r = rates(counts(registered=5))
    assert r.closure_rate is None and r.on_time_rate is None and r.rework_rate is None
    assert r.postpone_rate is None and r.mean_close_hours is None


def test_mean_close_hours_is_working_seconds_over_closed_cases():
    assert rates(counts(closed=4, close_seconds=4 * 7200)).mean_close_hours == 2.0


def test_the_score_loses_a_point_per_percentage_point_short_and_rescales_what_it_can_assess():
    r = Rates(
        closure_rate=0.85, on_time_rate=0.60, rework_rate=0.02, postpone_rate=None, mean_close_hours=None,
        due_net=100,
    )  # fmt: skip
    s = score(r)
    assert s.earned == pytest.approx({"on_time_rate": 40.0, "closure_rate": 15.0, "rework_rate": 3.0})
    assert set(s.not_assessed) == {"urgent", "other", "organisation"}
    assert s.score == pytest.approx(round(100 * 58 / 75, 2))


def test_the_weights_are_jinhuas_as_design_lists_them():
    assert sum(p.points for p in JINHUA.parts) == 95  # the 5 of 督办事项 are not listed, nor modelled
    assert {p.key: p.points for p in JINHUA.parts}["on_time_rate"] == 50


def test_two_cases_both_on_time_do_not_outrank_three_hundred_at_99_percent():
    tiny = rates(counts(due=2, due_closed=2, due_on_time=2, handled=2))
    large = rates(counts(due=300, due_closed=300, due_on_time=297, handled=300))
    ranked = rank([("210202001001", tiny), ("210202001002", large)])
    assert [r.code for r in ranked] == ["210202001002", "210202001001"]
    assert ranked[0].rank == 1 and ranked[1].rank is None
    assert ranked[1].score.score is None and "样本不足" in (ranked[1].score.note or "")


def test_equal_scores_rank_by_on_time_rate_then_by_the_larger_sample():
    a = rates(counts(due=100, due_closed=100, due_on_time=95, handled=100))
    b = rates(counts(due=400, due_closed=400, due_on_time=396, handled=400))
    c = rates(counts(due=200, due_closed=200, due_on_time=198, handled=200))
    ranked = rank([("a", a), ("b", b), ("c", c)])
    assert [r.score.score for r in ranked] == [100.0, 100.0, 100.0]
    assert [r.code for r in ranked] == ["b", "c", "a"] and [r.rank for r in ranked] == [1, 2, 3]


def test_staffing_per_ten_thousand_residents_against_the_target_of_18():
    s = staffing(9, 5_000, estimated=True)
    assert s.per_10k == 18.0 and s.meets_target is True and s.residents_estimated
    assert staffing(0, 5_000, estimated=False).meets_target is False
    assert staffing(3, None, estimated=False).per_10k is None
