"""The synthetic programme: deterministic, plausible, and with its true effects exposed."""

from __future__ import annotations

import pandas as pd

from demo import synthetic


def test_same_seed_same_data_and_another_seed_differs():
    a, b, c = synthetic.generate(60, seed=5), synthetic.generate(60, seed=5), synthetic.generate(60, seed=6)
    for name in ("participants", "sessions", "levels", "follow_ups", "events"):
        pd.testing.assert_frame_equal(getattr(a, name), getattr(b, name))
    assert not a.participants.equals(c.participants)


def test_the_programme_is_plausible():
    p = synthetic.generate(1500, seed=11)
    ages = p.participants.age_at_referral
    assert ages.between(10, 19).all()
    primary = p.participants.offence_types.str[0].value_counts(normalize=True)
    assert abs(primary["illegal_filming"] - synthetic.OFFENCE_MIX["illegal_filming"]) < 0.04
    dropped = (p.participants.status == "dropped_out").mean()
    assert 0.08 < dropped < 0.25
    # Sexual recidivism in single digits over the follow-up, general recidivism far higher.
    sexual = p.events.event_type.isin(["digital_sex_crime", "other_sexual"]).sum() / len(p.follow_ups)
    anyre = p.events.code.nunique() / len(p.follow_ups)
    assert 0.01 < sexual < 0.10 and anyre > 2 * sexual
    # Scores rise from planning to conclusion by about the true stage effect.
    lv = p.levels.pivot_table(index="code", columns="stage", values="gender_equality")
    change = (lv["conclusion"] - lv["planning"]).mean()
    expected = synthetic.TRUE_EFFECTS["stage_effect_sd"]["conclusion"] * (
        1 - 1.6 * synthetic.TRUE_EFFECTS["deteriorating_share"])
    assert abs(change - expected) < 0.08


def test_nothing_looks_real():
    p = synthetic.generate(50, seed=1)
    assert p.participants.contact.str.startswith("010-0000-").all()
    assert p.participants.case_ref.str.startswith("SYN-CASE-").all()
