"""`python -m tests.shifted_clock SECONDS SCRIPT [ARGS...]`: runs a Python
script in a process whose clock runs SECONDS ahead of the machine's (behind
when negative) and ticks on from there, as time-machine moves the live
server's clock in the test process (tests/live_trading.py). A paper bridge
run this way dates its deals and snapshots, and signs its calls, by the
server's moved clock: its code runs unchanged, as on a host whose clock was
set to that moment."""

import runpy
import sys
import time

import time_machine


def main() -> None:
    offset, script, *arguments = sys.argv[1:]
    sys.argv = [script, *arguments]
    with time_machine.travel(time.time() + float(offset), tick=True):
        runpy.run_path(script, run_name="__main__")


if __name__ == "__main__":
    main()
