"""PNG charts; each module imports matplotlib lazily, with the Agg backend."""
