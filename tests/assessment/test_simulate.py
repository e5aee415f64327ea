"""Synthetic answers: the domain score tracks norm mean + z * sd; reverse keys; missing answers."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from assessment.instruments import default_instruments, get_instrument
from assessment.scoring import score_responses
from assessment.simulate import expected_domain_score, simulate_responses
from errors import ValidationError

INSTRUMENT_IDS = ("GS-12", "GE-10", "DU-14", "CR-3")


@pytest.mark.parametrize("iid", INSTRUMENT_IDS)
def test_expected_score_is_norm_mean_plus_level_times_sd(iid):
    inst = get_instrument(iid)
    for domain in inst.domains:
        norm = inst.norms[domain]
        for z in (-1.0, -0.5, 0.0, 0.5, 1.0):
            # Solved to 1e-12 by root finding; inside the range the model hits the target.
            assert expected_domain_score(inst, domain, z) == pytest.approx(
                norm.mean + z * norm.sd, abs=1e-8
            )


@pytest.mark.parametrize("iid", INSTRUMENT_IDS)
def test_expected_score_rises_with_level_and_stays_inside_the_range(iid):
    inst = get_instrument(iid)
    for domain in inst.domains:
        lo, hi = inst.score_range(domain)
        values = [expected_domain_score(inst, domain, z) for z in np.linspace(-8, 8, 33)]
        assert all(lo <= v <= hi for v in values)
        assert all(b >= a for a, b in itertools.pairwise(values))
        inside = [expected_domain_score(inst, domain, z) for z in np.linspace(-1.5, 1.5, 13)]
        assert all(b > a for a, b in itertools.pairwise(inside))


@pytest.mark.parametrize("iid", INSTRUMENT_IDS)
def test_mean_simulated_score_tracks_the_target(iid):
    # 300 people per level. Tolerance: 4 standard errors of the mean, estimated from the
    # simulated scores themselves (about 0.1 norm SD at reliability .80).
    inst = get_instrument(iid)
    rng = np.random.default_rng(20240601)
    n = 300
    for z in (-1.0, 0.0, 1.0):
        levels = {d: z for d in inst.domains}
        scores = np.array(
            [
                [
                    score_responses(inst, simulate_responses(inst, levels, rng)).domain_scores[d]
                    for d in inst.domains
                ]
                for _ in range(n)
            ]
        )
        for j, domain in enumerate(inst.domains):
            norm = inst.norms[domain]
            se = scores[:, j].std(ddof=1) / np.sqrt(n)
            assert abs(scores[:, j].mean() - (norm.mean + z * norm.sd)) < 4 * se, (domain, z)


def test_reverse_keyed_items_are_written_reversed_and_scored_back():
    gs = get_instrument("GS-12")
    rng = np.random.default_rng(7)
    answers = [simulate_responses(gs, {"gender_sensitivity": 1.5}, rng) for _ in range(200)]
    reverse = [it.id for it in gs.items if it.reverse]
    forward = [it.id for it in gs.items if not it.reverse]
    raw_rev = np.mean([a[i] for a in answers for i in reverse])
    raw_fwd = np.mean([a[i] for a in answers for i in forward])
    # Target score 3.8 + 1.5 * 0.55 = 4.625: agreeing with forward items, disagreeing with
    # reversed ones (whose raw answers average near 6 - 4.6).
    assert raw_fwd > 4.2 and raw_rev < 1.8
    keyed = [score_responses(gs, a).keyed_responses for a in answers]
    keyed_rev = np.mean([k[i] for k in keyed for i in reverse])
    assert keyed_rev == pytest.approx(6 - raw_rev, abs=1e-12)
    assert abs(keyed_rev - 4.625) < 0.3


def test_missing_rate_leaves_that_share_of_answers_empty():
    du = get_instrument("DU-14")
    rng = np.random.default_rng(3)
    answers = [
        simulate_responses(du, {"digital_sex_crime_understanding": 0.0}, rng, missing_rate=0.2)
        for _ in range(100)
    ]
    share = np.mean([v is None for a in answers for v in a.values()])
    # 1400 draws: binomial SE sqrt(0.2 * 0.8 / 1400) = 0.011; allow 4 SE.
    assert abs(share - 0.2) < 0.045


def test_same_seed_gives_same_answers_and_answers_are_in_scale():
    for inst in default_instruments().values():
        levels = {d: 0.3 for d in inst.domains}
        a = simulate_responses(inst, levels, np.random.default_rng(42))
        b = simulate_responses(inst, levels, np.random.default_rng(42))
        assert a == b
        assert list(a) == list(inst.item_ids)
        assert all(inst.scale.min <= v <= inst.scale.max and isinstance(v, int) for v in a.values())


def test_counselor_form_is_simulated_without_free_text():
    cr = get_instrument("CR-3")
    levels = {
        "engagement": 1.0,
        "responsibility_taking": -1.0,
        "victim_harm_understanding": 0.0,
        "gender_sensitivity": 0.5,
    }  # a level the form does not score is ignored
    answers = simulate_responses(cr, levels, np.random.default_rng(1))
    assert set(answers) == {"CR-01", "CR-02", "CR-03"}


def test_bad_arguments_are_refused():
    gs = get_instrument("GS-12")
    rng = np.random.default_rng(0)
    with pytest.raises(ValidationError, match="missing: gender_sensitivity"):
        simulate_responses(gs, {}, rng)
    with pytest.raises(ValidationError, match="unknown domain 'gender_sensitivty'"):
        simulate_responses(gs, {"gender_sensitivity": 0.0, "gender_sensitivty": 0.0}, rng)
    with pytest.raises(ValidationError, match="must be a finite z-score"):
        simulate_responses(gs, {"gender_sensitivity": float("nan")}, rng)
    with pytest.raises(ValidationError, match="missing_rate must be a share in"):
        simulate_responses(gs, {"gender_sensitivity": 0.0}, rng, missing_rate=1.0)
    with pytest.raises(ValidationError, match="numpy.random.Generator"):
        simulate_responses(gs, {"gender_sensitivity": 0.0}, 42)  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="GS-12 does not score 'gender_equality'"):
        expected_domain_score(gs, "gender_equality", 0.0)
