"""The toy games of benchmarks/toy_games.py: historical averaging (the callback's own function)
brings both games to their equilibrium, where plain simultaneous gradient descent orbits."""

import sys
from pathlib import Path

import pytest
import torch

from zoo.callbacks.historical_averaging import add_historical_gradient_

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import toy_games  # noqa: E402

STEPS = 3000


def test_the_shared_step_updates_the_mean_then_adds_its_gradient():
    params, means, grads = [torch.tensor([2.0, -1.0])], [torch.tensor([1.0, 1.0])], [torch.tensor([0.5, 0.0])]
    add_historical_gradient_(params, means, grads, step=2, weight=0.25)
    assert means[0].tolist() == [1.5, 0.0]  # (1 + 2) / 2, (1 - 1) / 2
    assert grads[0].tolist() == [0.5 + 2 * 0.25 * 0.5, 2 * 0.25 * -1.0]
    add_historical_gradient_(params, means, grads, step=1, weight=0.25)  # the first step keeps the mean
    assert means[0].tolist() == [1.5, 0.0]


@pytest.mark.parametrize("name", list(toy_games.GAMES))
def test_historical_averaging_reaches_the_equilibrium_and_plain_descent_does_not(name):
    game = toy_games.GAMES[name]
    plain = toy_games.distances(game, toy_games.play(game, STEPS))
    averaged = toy_games.distances(game, toy_games.play(game, STEPS, weight=toy_games.WEIGHT))
    assert averaged[-1] < 0.1 < 0.5 < plain[-1]
    assert plain[STEPS // 2 :].min() > 0.5  # an orbit: never near the equilibrium in the second half
    assert averaged[-1] < averaged[STEPS // 2] < averaged[0]  # still closing in
