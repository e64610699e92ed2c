"""Adapters that bend third-party RoPE code to ropecheck's contract.

Each module imports its library only when its functions are called (einops-style
backends); importing ropecheck.adapters imports nothing else.
"""


class AdapterMismatch(Exception):
    """A bundled adapter no longer fits the installed library (ropecheck's failure, not the library's)."""
