"""The per-notebook result checks, one module per chapter folder of notebooks/
(chapter_XX_*.py, each with CHECKS: notebook path -> Check), merged here."""
import importlib
import pathlib

from ._util import Check

CHECKS = {}
for _file in sorted(pathlib.Path(__file__).parent.glob("chapter_*.py")):
    _mod = importlib.import_module(f"{__name__}.{_file.stem}")
    for _key, _check in _mod.CHECKS.items():
        assert _key not in CHECKS, f"{_key} is checked twice"
        assert isinstance(_check, Check), f"{_key}: expected a Check(what, probe, ok, plot), got {type(_check).__name__}"
        CHECKS[_key] = _check
