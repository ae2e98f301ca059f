"""Use cases: each handler calls one function here. Domain rules + model access patterns."""
