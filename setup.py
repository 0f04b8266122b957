"""Data files of the wheel: every file under modules/, installed to share/appcomposer/modules.

setuptools installs data files into the directory named by their key, one directory per key, so
the directories are globbed here instead of listed line by line in pyproject.toml (where the rest
of the configuration lives). Nested module directories keep their place.
"""

from pathlib import Path

from setuptools import setup


def module_data_files(root: Path = Path(".")) -> list[tuple[str, list[str]]]:
    directories = sorted(
        {
            p.parent
            for p in (root / "modules").rglob("*")
            if p.is_file() and "__pycache__" not in p.parts and ".terraform" not in p.parts
        }
    )
    return [
        (
            f"share/appcomposer/{d.relative_to(root).as_posix()}",
            sorted(f.relative_to(root).as_posix() for f in d.iterdir() if f.is_file()),
        )
        for d in directories
    ]


if __name__ == "__main__":  # as setuptools runs it; tests import module_data_files alone
    setup(data_files=module_data_files())
