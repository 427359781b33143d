"""The Kivy application: wires the model (FieldService) and devices to the screens.

Everything the sync thread or a device callback reports is moved onto Kivy's main thread (@mainthread)
before a widget is touched.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kivy.app import App
from kivy.clock import mainthread
from kivy.core.window import Window
from kivy.uix.screenmanager import NoTransition, ScreenManager

from field_app.core.api_client import NetworkError
from field_app.core.auth import SignedOut
from field_app.core.service import FieldService
from field_app.core.sync import PassResult
from field_app.devices.camera import PhotoSource, default_camera, default_gallery
from field_app.devices.location import FixedLocation, LocationSource, PlyerLocation
from field_app.ui.screens.categories import CategoryScreen
from field_app.ui.screens.home import HomeScreen
from field_app.ui.screens.new_report import NewReportScreen
from field_app.ui.screens.outbox import OutboxScreen
from field_app.ui.screens.settings import SettingsScreen
from field_app.ui.screens.signin import SignInScreen
from field_app.ui.screens.verify import VerifyListScreen
from field_app.ui.screens.verify_form import VerifyFormScreen

SCREENS = (
    SignInScreen,
    HomeScreen,
    NewReportScreen,
    CategoryScreen,
    OutboxScreen,
    SettingsScreen,
    VerifyListScreen,
    VerifyFormScreen,
)
# The screens that show outbox state, redrawn when the sync thread reports a change.
LIVE_SCREENS = ("home", "outbox", "verify")


def default_location() -> LocationSource:
    # A desktop has no GPS: a fixed point from the environment lets people try the app there.
    fixed = os.environ.get("GRIDFLOW_FIELD_LOCATION")
    return FixedLocation.parse(fixed) if fixed else PlyerLocation()


class FieldApp(App):
    title = "网格通"

    def __init__(
        self,
        service: FieldService | None = None,
        *,
        location: LocationSource | None = None,
        camera: PhotoSource | None = None,
        gallery: PhotoSource | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self._service = service
        self._owns_service = service is None
        self.location = location or default_location()
        self.camera = camera or default_camera()
        self.gallery = gallery if gallery is not None else default_gallery()
        self.manager: ScreenManager | None = None

    @property
    def service(self) -> FieldService:
        if self._service is None:
            self._service = FieldService(Path(self.user_data_dir))
        return self._service

    def build(self) -> ScreenManager:
        self.manager = ScreenManager(transition=NoTransition())
        for screen_class in SCREENS:
            self.manager.add_widget(screen_class(app=self))
        self.service.listeners.append(self._outbox_changed)
        self.manager.current = "home" if self.service.signed_in else "signin"
        Window.bind(on_keyboard=self._on_key)
        if self.service.signed_in:
            self.background(self._catch_up, self._caught_up)
        return self.manager

    def go(self, name: str) -> None:
        assert self.manager is not None
        self.manager.current = name

    def screen(self, name: str) -> Any:
        assert self.manager is not None
        return self.manager.get_screen(name)

    @mainthread
    def _outbox_changed(self, result: PassResult) -> None:
        if result.signed_out:
            self.session_lost()
            return
        self.refresh()

    def refresh(self) -> None:
        """Redraw the screens that show outbox state."""
        assert self.manager is not None
        for name in LIVE_SCREENS:
            self.manager.get_screen(name).refresh()

    def signed_in(self) -> None:
        """After a sign-in: home at once, then the categories and the grids' names in the background."""
        self.go("home")
        self.background(self._catch_up, self._caught_up)

    def session_lost(self) -> None:
        """The server ended the session: back to sign-in, which says why (the outbox waits)."""
        self.go("signin")

    def _catch_up(self) -> None:
        """What a fresh session needs from the server; offline, the cached lists serve."""
        service = self.service
        for step in (service.refresh_categories, service.refresh_account, service.load_verify_queue):
            try:
                step()
            except NetworkError:
                return

    def _caught_up(self, _result: object, error: Exception | None) -> None:
        if isinstance(error, SignedOut):
            self.session_lost()
        elif self.manager is not None:
            self.refresh()

    def background(self, work: Callable[[], Any], done: Callable[[Any, Exception | None], None]) -> None:
        """Run network work off the UI thread; `done(result, error)` runs back on it."""

        @mainthread
        def finish(result: Any, error: Exception | None) -> None:
            done(result, error)

        def run() -> None:
            try:
                result = work()
            except Exception as exc:  # shown to the worker by `done`
                finish(None, exc)
                return
            finish(result, None)

        threading.Thread(target=run, name="gridflow-ui-task", daemon=True).start()

    def _on_key(self, _window: Any, key: int, *_args: Any) -> bool:
        if key != 27:  # Android's back button arrives as Escape
            return False
        assert self.manager is not None
        back = getattr(self.manager.current_screen, "back", None)
        if back is None:
            return False
        back()
        return True

    def on_pause(self) -> bool:
        return True  # keep the draft in memory while the camera app is in front

    def on_resume(self) -> None:
        self.service.kick()  # the network may have come back while the app slept

    def on_stop(self) -> None:
        self.location.stop()
        if self._owns_service and self._service is not None:
            self._service.close()
