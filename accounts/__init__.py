"""Accounts as pure rules: roles, who sees and may do what (scope), password hashes, tokens, sign-in slowdown.

No Kafka, HTTP or database here: the API's auth routes and the CLI store users (api/auth/store.py) and call
these functions; every endpoint asks `accounts.scope` what the caller sees and may do.
"""
