"""The appc command line."""

# Allocations between two collections of the youngest generation (CPython's default is 700).
# A command allocates hundreds of thousands of objects that live to its end (the model, the
# rendered objects, the state), which the default collected and traversed again ~250 times in a
# 1,000-object apply (~90 ms; ~35 ms of a no-op's 0.3 s). Cycles are still collected, later.
GC_YOUNG_THRESHOLD = 10_000


def main() -> None:
    import gc

    gc.set_threshold(GC_YOUNG_THRESHOLD, 10, 10)
    from composer.cli.app import run
    from composer.cli.common import one_command_process

    try:
        with one_command_process():
            run()
    finally:
        # Everything still alive lives to the exit: the interpreter's last collection need not
        # walk it (~0.1 s after a 1,000-object apply, once its output and files are written).
        gc.freeze()
