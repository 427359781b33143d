"""Entry point of the field app: `python -m field_app.main` on a desktop, main.py in the Android build.

buildozer packs the field_app folder itself as the app (source.dir = field_app), so on a phone this file runs
as a top-level script with no `field_app` package around it; the few lines below register the folder under
that name so every module keeps its normal `field_app.` imports.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path


def _register_package() -> None:
    if "field_app" in sys.modules:
        return
    here = Path(__file__).resolve().parent
    spec = importlib.util.spec_from_file_location(
        "field_app", here / "__init__.py", submodule_search_locations=[str(here)]
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["field_app"] = module
    spec.loader.exec_module(module)


def main() -> None:
    _register_package()
    from field_app.ui.fonts import configure_kivy

    configure_kivy()  # before any widget module is imported
    from field_app.ui.app import FieldApp

    FieldApp().run()


if __name__ == "__main__":
    main()
