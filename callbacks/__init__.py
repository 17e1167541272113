"""Lightning callbacks of the zoo: sample grids, evaluation metrics (and, as they land, historical averaging, DGflow)."""

from .dgflow import DGflow
from .evaluation import Evaluation
from .interruption import CheckpointOnInterrupt
from .sample_grid import SampleGrid, samples_to_grid, scatter_image
from .sample_writer import SampleWriter

__all__ = ["CheckpointOnInterrupt", "DGflow", "Evaluation", "SampleGrid", "SampleWriter", "samples_to_grid", "scatter_image"]

from .historical_averaging import HistoricalAveraging  # noqa: E402

__all__ += ["HistoricalAveraging"]

from .toy_modes import ToyModes  # noqa: E402

__all__ += ["ToyModes"]
