"""Test support shared by the rings: in-memory fakes, factories, the contract checker."""
