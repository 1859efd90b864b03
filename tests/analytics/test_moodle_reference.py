"""A hand-computed reference for item analysis, after Moodle's quiz statistics.

Source: MoodleDocs, "Quiz statistics calculations" (docs.moodle.org/dev/
Quiz_statistics_calculations): only each student's first attempt is analysed; the
facility index of question i is the mean score on i over its maximum; the discrimination
index is 100 * r(x_i, X_i), Pearson's r between the score on i and the rest-of-test score
X_i (the total minus question i), with omitted questions scored 0. Ours is r itself.

Five learners, four one-mark questions (q4's key is wrong: weak learners "get it right"):

    learner  q1 q2 q3 q4   total
    s1        1  1  1  0     3      (s1 retries q4 later and gets it: not counted)
    s2        1  1  0  0     2
    s3        1  0  0  0     1
    s4        0  1  0  1     2
    s5        0  0  0  1     1

By hand (deviations from the means, r = Sxy / sqrt(Sxx * SXX)):
- q1: x = 1,1,1,0,0 (F = 3/5 = 0.6); X = 2,1,0,2,1 (mean 1.2).
  Sxy = .32 - .08 - .48 - .48 + .12 = -0.6; Sxx = 1.2; SXX = 2.8;
  r = -0.6 / sqrt(3.36) = -0.3273.
- q2: x = 1,1,0,1,0 (F = 0.6); X = 2,1,1,1,1 (mean 1.2).
  Sxy = 0.4; Sxx = 1.2; SXX = 0.8; r = 0.4 / sqrt(0.96) = 0.4082.
- q3: x = 1,0,0,0,0 (F = 0.2, not below the "hard" threshold); X = 2,2,1,2,1.
  Sxy = 0.4; Sxx = 0.8; SXX = 1.2; r = 0.4082.
- q4: x = 0,0,0,1,1 (F = 0.4); X = 3,2,1,1,0 (mean 1.4).
  Sxy = -1.8; Sxx = 1.2; SXX = 5.2; r = -1.8 / sqrt(6.24) = -0.7206.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Flask

from collector.analytics.items import item_analysis
from collector.storage.engine import get_engine
from tests.analytics.conftest import T0, answer

TABLE = {"s1": [1, 1, 1, 0], "s2": [1, 1, 0, 0], "s3": [1, 0, 0, 0], "s4": [0, 1, 0, 1],
         "s5": [0, 0, 0, 1]}
BY_HAND = {  # id: (facility, discrimination, flags)
    "q1": (0.6, -0.3273, ["does not discriminate", "check the key"]),
    "q2": (0.6, 0.4082, []),
    "q3": (0.2, 0.4082, []),
    "q4": (0.4, -0.7206, ["does not discriminate", "check the key"]),
}


def test_moodle_style_reference_by_hand(any_app: Flask,
                                        store: Callable[[list[dict[str, Any]]], Any]) -> None:
    events = []
    for n, (learner, scores) in enumerate(TABLE.items()):
        for k, score in enumerate(scores):
            events.append(answer("quiz", "l1", f"q{k + 1}", learner, T0 + n * 100 + k * 10,
                                 score=score, response="right" if score else "wrong"))
    events.append(answer("quiz", "l1", "q4", "s1", T0 + 5000, score=1, response="retry"))
    store(events)
    with get_engine(any_app).connect() as conn:
        items = [i.contract() for i in item_analysis(conn, 1, "quiz")]
    assert [i["id"] for i in items] == ["q1", "q2", "q3", "q4"]
    for item in items:
        facility, discrimination, flags = BY_HAND[item["id"]]
        assert item["facility"] == facility, item
        assert item["discrimination"] == discrimination, item
        assert item["flags"] == flags, item
        assert item["learners"] == 5
    assert items[3]["attempts"] == 6
    assert {a["response"]: a["count"] for a in items[3]["answers"]} == {"wrong": 3,
                                                                        "right": 2}
