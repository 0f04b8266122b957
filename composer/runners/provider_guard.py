"""The guard of one pooled provider process: it stops the provider when appc is gone, but never
under a terraform run that still uses it.

    python -m composer.runners.provider_guard BINARY [ARGS...]

Started by terraform_providers.py, it starts BINARY (in its own process group, with its
stdout) and reads appc's messages on stdin: a terraform pid when a run is lent the provider,
`0` when that run ended. End of stdin means appc closed the pool or died (kill -9 included):
the guard then waits for the run it last heard of to exit (a terraform killed with its provider
mid-call would leave a created resource outside its state), stops the provider and exits.
Stdlib only, so it starts fast.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie (exited, not yet reaped by its parent) uses nothing any more
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as fh:
            return fh.read().rsplit(")", 1)[-1].split()[0] != "Z"
    except OSError:
        return True


def _stop(provider: subprocess.Popen[bytes]) -> None:
    if provider.poll() is None:
        provider.terminate()
        try:
            provider.wait(timeout=10)
        except subprocess.TimeoutExpired:
            provider.kill()
            provider.wait()


def main(argv: list[str]) -> int:
    provider = subprocess.Popen(argv, stdin=subprocess.DEVNULL)

    def on_term(*_: object) -> None:
        _stop(provider)
        os._exit(0)

    signal.signal(signal.SIGTERM, on_term)
    user = 0
    for line in sys.stdin:
        text = line.strip()
        user = int(text) if text.isdigit() else user
        if provider.poll() is not None:
            return 1
    while user and _alive(user) and provider.poll() is None:
        time.sleep(0.1)
    _stop(provider)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
