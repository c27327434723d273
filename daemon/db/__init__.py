"""The prediction-history database: schema, opening, and migrations."""
