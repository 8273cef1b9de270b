"""Data: sources, splits and tf.data pipelines."""

from automl.data.sources import Arrays, load_source
from automl.data.splits import Splits, make_splits

__all__ = ["Arrays", "Splits", "load_source", "make_splits"]
