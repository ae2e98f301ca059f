"""HTTP layer: one Blueprint per resource. Parse, validate, call one service function, shape the response."""
