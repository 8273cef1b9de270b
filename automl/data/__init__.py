"""Data: sources, splits and tf.data pipelines."""

from automl.data.base import Arrays
from automl.data.sources import load_source
from automl.data.splits import Splits, make_splits

__all__ = ["Arrays", "Splits", "load_source", "make_splits"]
