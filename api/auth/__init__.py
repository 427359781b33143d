"""Accounts over HTTP and the database: sign-in and tokens, the dependencies that name the caller, users and
Open311 API keys. The rules are `accounts/`; `store.py` is the one implementation the API and CLI share."""
