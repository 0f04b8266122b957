"""`python -m composer`: the same as the `appc` command (the controller runs it this way)."""

from composer.cli import main

main()
