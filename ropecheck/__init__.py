"""ropecheck: proofs, an exact oracle, conformance properties and benchmarks for RoPE.

Importing ropecheck imports torch, sympy-free math and Hypothesis only; adapters for
third-party libraries import their library when used (einops-style backends).
"""

from ropecheck.config import PAIRINGS, RopeConfig

__all__ = ["RopeConfig", "PAIRINGS", "__version__"]
__version__ = "0.1.0"
