"""Lightning callbacks of the zoo: sample grids (and, as they land, evaluation, historical averaging, DGflow)."""

from callbacks.dgflow import DGflow
from callbacks.interruption import CheckpointOnInterrupt
from callbacks.sample_grid import SampleGrid, samples_to_grid, scatter_image
from callbacks.sample_writer import SampleWriter

__all__ = ["CheckpointOnInterrupt", "DGflow", "SampleGrid", "SampleWriter", "samples_to_grid", "scatter_image"]
