"""Shared core of SigLIP Projects: model registry, encoders, zero-shot scoring, indexes.

Importing `core` loads no model, imports no ML library and touches no network.
"""

__version__ = "0.1.0"
