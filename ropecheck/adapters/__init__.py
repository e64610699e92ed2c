"""Adapters that bend third-party RoPE code to ropecheck's contract.

Each module imports its library only when its functions are called (einops-style
backends); importing ropecheck.adapters imports nothing else.
"""
