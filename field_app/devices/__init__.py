"""The phone's hardware behind the app's own small interfaces: plyer/pyjnius on Android, fakes in tests."""
