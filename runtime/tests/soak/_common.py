"""What every soak script shares: the command line, counting checks, RSS, a watchdog.

Each script in this folder (except this one) is run by `cargo xtask stress [--quick]` as
`subinterp run SCRIPT [--quick]`; it prints what it tried and ends with a line
`N passed, M failed`, exiting non-zero if M > 0.
"""

import argparse
import faulthandler
import sys
import time


def parse_args(description, add=None):
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--quick", action="store_true", help="a short version (seconds)")
    if add is not None:
        add(parser)
    return parser.parse_args()


def rss_kib():
    """This process's resident memory (VmRSS), in KiB."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS in /proc/self/status")


class Report:
    """Counts checks, prints failures as they happen and the closing line."""

    def __init__(self, name, watchdog_s):
        self.name = name
        self.passed = 0
        self.failed = 0
        self.started = time.monotonic()
        # A hang is a failure: dump every thread's stack and exit non-zero.
        faulthandler.dump_traceback_later(watchdog_s, exit=True)

    def check(self, ok, what, detail=""):
        if ok:
            self.passed += 1
        else:
            self.failed += 1
            print(f"FAIL {what}{': ' + detail if detail else ''}", flush=True)
        return ok

    def say(self, text):
        print(f"{self.name}: {text}", flush=True)

    def finish(self):
        faulthandler.cancel_dump_traceback_later()
        self.say(f"{time.monotonic() - self.started:.1f} s")
        print(f"{self.passed} passed, {self.failed} failed", flush=True)
        return 1 if self.failed else 0


def exit_with(code):
    sys.stdout.flush()
    sys.exit(code)
