"""The store backends of the contract tests (test_store_contract.py), for every test here."""

from test_store_contract import backend

__all__ = ["backend"]
