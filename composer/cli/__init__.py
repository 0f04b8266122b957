"""The appc command line."""


def main() -> None:
    from composer.cli.app import run

    run()
