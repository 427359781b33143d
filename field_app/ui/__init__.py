"""Kivy screens. Call `field_app.ui.fonts.configure_kivy()` first: the font is set before widgets load."""
