"""PNG charts. matplotlib is imported inside each function, so commands that draw nothing
never pay for it."""
