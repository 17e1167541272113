"""Lightning callbacks of the zoo: sample grids, evaluation metrics (and, as they land, historical averaging, DGflow)."""

from callbacks.dgflow import DGflow
from callbacks.evaluation import Evaluation
from callbacks.interruption import CheckpointOnInterrupt
from callbacks.sample_grid import SampleGrid, samples_to_grid, scatter_image
from callbacks.sample_writer import SampleWriter

__all__ = ["CheckpointOnInterrupt", "DGflow", "Evaluation", "SampleGrid", "SampleWriter", "samples_to_grid", "scatter_image"]

from callbacks.historical_averaging import HistoricalAveraging  # noqa: E402

__all__ += ["HistoricalAveraging"]
