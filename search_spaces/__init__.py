"""The ready spaces, installed as ``automl.search_spaces``; ``automl spaces`` lists them.

Each ``NAME.yaml`` here runs as ``automl search NAME`` from any folder. A ``.py`` file beside them
(a custom builder, say) is installed with them.
"""
