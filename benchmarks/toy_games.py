"""The toy games behind historical averaging (Salimans et al. 2016, sec. 3.3).

Two players, one controlling ``x`` and minimising the value, the other controlling ``y`` and
maximising it, take simultaneous gradient steps on

* ``V(x, y) = x y``, whose equilibrium is ``(0, 0)``: gradient descent circles it and, with
  simultaneous steps, spirals slowly outwards;
* ``V(x, y) = (f(x) - 1)(y - 1)`` with ``f(x) = x`` for ``x < 0`` and ``x^2`` otherwise, whose
  equilibrium is ``(1, 1)``: gradient descent goes into extended orbits around it.

The paper reports that adding the historical-averaging term ``w ||theta - mean of past thetas||^2``
to each player's cost finds the equilibrium of such games. Each game is played twice from the
same start, plain and with that term, which is added by the very function the
``zoo.callbacks.HistoricalAveraging`` callback applies before every optimizer step
(:func:`zoo.callbacks.historical_averaging.add_historical_gradient_`); each player has its own
``torch.optim.SGD``. The distance to the equilibrium against step goes to
``benchmarks/results/toy_games.json``, the trajectories to ``benchmarks/results/toy_games.png``
(red: plain, blue: historical averaging, green dot: start, black cross: equilibrium).

    python benchmarks/toy_games.py            # about 20 seconds of one CPU core
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from rich.console import Console
from rich.table import Table
from torch import Tensor
from torchvision.utils import make_grid, save_image

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import RESULTS, save  # noqa: E402

from zoo.callbacks.historical_averaging import add_historical_gradient_  # noqa: E402

#: Step size of both players, historical-averaging weight ``w`` and number of steps.
LR = 0.01
WEIGHT = 0.2
STEPS = 10_000
#: Distances are recorded every this-many-th part of the run.
RECORDS = 200


def piecewise(x: Tensor) -> Tensor:
    """``f(x) = x`` for ``x < 0`` and ``x^2`` otherwise."""
    return torch.where(x < 0, x, x * x)


@dataclass(frozen=True)
class Game:
    """A two-player zero-sum game on the plane: ``x`` minimises ``value(x, y)``, ``y`` maximises it."""

    name: str
    formula: str
    value: Callable[[Tensor, Tensor], Tensor]
    equilibrium: tuple[float, float]
    start: tuple[float, float]


GAMES: dict[str, Game] = {
    "xy": Game("xy", "x y", lambda x, y: x * y, (0.0, 0.0), (1.0, 1.0)),
    "piecewise": Game("piecewise", "(f(x) - 1)(y - 1), f(x) = x if x < 0 else x^2", lambda x, y: (piecewise(x) - 1) * (y - 1), (1.0, 1.0), (2.0, 2.0)),
}


def play(game: Game, steps: int = STEPS, lr: float = LR, weight: float = 0.0) -> Tensor:
    """Simultaneous gradient descent of both players; the trajectory ``(steps + 1, 2)`` from the start.

    With ``weight > 0`` each player's gradient gets historical averaging's ``2 w (theta - mean)``
    before its optimizer steps, exactly as the callback adds it in a GAN's training loop.
    """
    x = torch.nn.Parameter(torch.tensor(game.start[0]))
    y = torch.nn.Parameter(torch.tensor(game.start[1]))
    optimizers = [torch.optim.SGD([x], lr=lr), torch.optim.SGD([y], lr=lr)]
    means = [x.detach().clone(), y.detach().clone()]
    path = torch.empty(steps + 1, 2)
    path[0] = torch.tensor(game.start)
    for step in range(1, steps + 1):
        grad_x, grad_y = torch.autograd.grad(game.value(x, y), (x, y))
        x.grad, y.grad = grad_x, -grad_y  # both gradients at the same point: simultaneous moves
        if weight > 0:
            add_historical_gradient_([x.detach(), y.detach()], means, [x.grad, y.grad], step, weight)
        for optimizer in optimizers:
            optimizer.step()
        path[step] = torch.stack([x.detach(), y.detach()])
    return path


def distances(game: Game, path: Tensor) -> Tensor:
    """Euclidean distance of every point of ``path`` to the game's equilibrium."""
    return (path - torch.tensor(game.equilibrium)).norm(dim=1)


def draw(canvas: Tensor, path: Tensor, colour: tuple[float, float, float], centre: tuple[float, float], extent: float, dot: int = 0) -> None:
    """Draw the points of ``path`` that fall in the square ``centre +- extent`` onto ``canvas`` ``(3, S, S)``."""
    size = canvas.shape[-1]
    finite = path[torch.isfinite(path).all(dim=1)]
    pixels = ((finite - torch.tensor(centre) + extent) / (2 * extent) * (size - 1)).round().long()
    for dr in range(-dot, dot + 1):
        for dc in range(-dot, dot + 1):
            col, row = pixels[:, 0] + dc, (size - 1) - pixels[:, 1] - dr
            inside = (col >= 0) & (col < size) & (row >= 0) & (row < size)
            for channel, value in enumerate(colour):
                canvas[channel, row[inside], col[inside]] = value


def panel(game: Game, plain: Tensor, averaged: Tensor, size: int = 320, extent: float = 2.5) -> Tensor:
    """One game's trajectories around its equilibrium as a ``(3, size, size)`` image in [0, 1]."""
    canvas = torch.ones(3, size, size)
    centre = game.equilibrium
    axes = torch.tensor([[centre[0] + t, centre[1]] for t in torch.linspace(-extent, extent, 4 * size)]
                        + [[centre[0], centre[1] + t] for t in torch.linspace(-extent, extent, 4 * size)])
    draw(canvas, axes, (0.85, 0.85, 0.85), centre, extent)
    draw(canvas, plain, (0.85, 0.1, 0.1), centre, extent)
    draw(canvas, averaged, (0.1, 0.25, 0.9), centre, extent)
    draw(canvas, plain[:1], (0.1, 0.6, 0.1), centre, extent, dot=3)
    cross = torch.tensor([[centre[0] + t, centre[1] + s * t] for t in torch.linspace(-0.08, 0.08, 40) for s in (-1, 1)])
    draw(canvas, cross, (0.0, 0.0, 0.0), centre, extent, dot=1)
    return canvas


def run(steps: int = STEPS, lr: float = LR, weight: float = WEIGHT) -> tuple[dict[str, dict], Tensor]:
    """Play every game plain and with historical averaging; the results per game and the PNG's image."""
    results, panels = {}, []
    every = max(1, steps // RECORDS)
    for game in GAMES.values():
        paths = {"plain": play(game, steps, lr), "historical_averaging": play(game, steps, lr, weight)}
        results[game.name] = {
            "value": game.formula,
            "equilibrium": list(game.equilibrium),
            "start": list(game.start),
            "record_every": every,
            **{
                name: {
                    "final_point": path[-1].tolist(),
                    "final_distance": float(distances(game, path)[-1]),
                    "distance": [round(float(d), 6) for d in distances(game, path)[::every]],
                }
                for name, path in paths.items()
            },
        }
        panels.append(panel(game, paths["plain"], paths["historical_averaging"]))
    return results, make_grid(panels, nrow=len(panels), padding=4, pad_value=1.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=STEPS)
    parser.add_argument("--lr", type=float, default=LR)
    parser.add_argument("--weight", type=float, default=WEIGHT, help="historical-averaging weight w")
    args = parser.parse_args()
    results, image = run(args.steps, args.lr, args.weight)
    png = RESULTS / "toy_games.png"
    RESULTS.mkdir(parents=True, exist_ok=True)
    save_image(image, png)
    settings = {"steps": args.steps, "lr": args.lr, "weight": args.weight, "optimizer": "SGD per player, simultaneous steps"}
    path = save("toy_games", {"command": "python " + " ".join(sys.argv), "settings": settings, "games": results, "figure": png.name})
    table = Table(title=f"toy games: distance to the equilibrium after {args.steps} steps (lr {args.lr}, w {args.weight})")
    for column in ("game", "equilibrium", "start", "plain", "historical averaging"):
        table.add_column(column)
    for name, row in results.items():
        table.add_row(row["value"], str(tuple(row["equilibrium"])), str(tuple(row["start"])),
                      f"{row['plain']['final_distance']:.4g}", f"{row['historical_averaging']['final_distance']:.4g}")
    table.caption = f"written to {path} and {png}"
    Console().print(table)


if __name__ == "__main__":
    main()
