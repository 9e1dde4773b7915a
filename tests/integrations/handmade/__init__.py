"""A hand-made shop of a few models, wired to the app with the generic adapters.

It is the recipe of docs/adapters.md in code, and the tests run the adapter test kit
against it.
"""
