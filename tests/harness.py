"""What several test files share, wherever they sit under ``tests/``: the tests folder (the
mutant and hostile modules live there) and the repository root; waiting for processes to be
gone and for conditions; the cause phrase diagnosis must give for each boundary mutant."""

import os
import time
from pathlib import Path

import psutil

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent


def leftovers(marker: str) -> list[int]:
    """Processes whose environment carries ``marker`` (everything a test started inherits it)."""
    found = []
    for proc in psutil.process_iter(["pid"]):
        try:
            if proc.environ().get("ROPECHECK_TEST_MARKER") == marker and proc.pid != os.getpid():
                found.append(proc.pid)
        except psutil.Error:
            continue
    return found


def gone(marker: str, within: float = 30.0) -> list[int]:
    """Wait until no process carries ``marker`` (at most ``within`` s); what is left."""
    deadline = time.monotonic() + within
    while leftovers(marker) and time.monotonic() < deadline:
        time.sleep(0.1)
    return leftovers(marker)


def wait_for(predicate, within: float = 60.0, while_running=None):
    """Poll ``predicate`` until it is truthy; fail at once if the ``while_running`` process has
    ended (a wrong predicate must not cost the whole ``within``)."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        if while_running is not None and while_running.poll() is not None:
            raise AssertionError(f"the process ended (exit {while_running.returncode}) before the condition was met")
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


# mutant -> a phrase its explanation must contain
EXPECTED_CAUSE = {
    "rotary_width_int_truncation": "int(head_dim * (rotary_dim / head_dim)) = 63",
    "rotary_width_even_floor": "int(head_dim * (rotary_dim / head_dim)) // 2 * 2 = 62",
    "rotary_width_round_two_decimals": "rotary fraction rounded to two decimals",
    "positions_int16": "positions stored as int16 wrap at 2**15",
    "positions_float16": "positions rounded to float16",
    "table_2048_clamped": "positions past 2047 are clamped to 2047",
    "table_4096_modulo": "positions are taken modulo 4096",
    "table_32768_clamped": "positions past 32767 are clamped to 32767",
    "tile_positions_lost_64": "positions restart at every tile of 64 tokens",
    "tile_positions_lost_128": "positions restart at every tile of 128 tokens",
    "sin_sign_flipped_past_2048": "the wrong way for positions >= 2048 only",
    "half_split_table_interleaved_rotation": "half_split cos/sin layout (cat(freqs, freqs)) applied with the interleaved rotation",
    "output_pairs_deinterleaved": "output permuted",
    "all_ones_frequency_ladder": "every pair's frequency is 1",
    "first_head_only": "only the first head is rotated",
    "decode_rows_take_row0_positions": "row 0's positions",
    "last_pair_sign_flipped": "sin sign flipped on pair",
    "float64_computed_in_float32": "computed in float32",
    "cos_table_float16": "cos/sin tables stored in float16",
    "angles_float16": "angles formed in float16",
}
