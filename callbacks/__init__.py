"""Lightning callbacks of the zoo: sample grids (and, as they land, evaluation, historical averaging, DGflow)."""

from callbacks.interruption import CheckpointOnInterrupt
from callbacks.sample_grid import SampleGrid, samples_to_grid, scatter_image

__all__ = ["CheckpointOnInterrupt", "SampleGrid", "samples_to_grid", "scatter_image"]
