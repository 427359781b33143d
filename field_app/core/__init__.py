"""The app's state and services in plain Python: no Kivy, so all of it is tested without a window."""
