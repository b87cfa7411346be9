"""saeserve: a client for the saeserve sparse-autoencoder service.

``Client`` wraps the HTTP API with numpy arrays; ``clamp``, ``add``, ``scale`` and ``ablate`` build
steering interventions; ``saeserve.torch`` (needs PyTorch) hooks a module to steer it live.
"""
from .client import Client, Encoding
from .errors import SaeServeError
from .interventions import Intervention, ablate, add, clamp, scale

__all__ = ["Client", "Encoding", "SaeServeError", "Intervention", "ablate", "add", "clamp", "scale"]
__version__ = "0.1.0"
