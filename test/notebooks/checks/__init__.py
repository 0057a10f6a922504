"""The per-notebook result checks, one module per chapter folder of notebooks/
(chapter_XX_*.py, each with CHECKS and PLOTS), merged here."""
import importlib
import pathlib

CHECKS = {}
PLOTS = set()
for _file in sorted(pathlib.Path(__file__).parent.glob("chapter_*.py")):
    _mod = importlib.import_module(f"{__name__}.{_file.stem}")
    for _key in _mod.CHECKS:
        assert _key not in CHECKS, f"{_key} is checked twice"
    CHECKS.update(_mod.CHECKS)
    PLOTS |= set(_mod.PLOTS)
