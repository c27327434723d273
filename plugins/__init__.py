"""Preprocessing plugins: the steps that turn a photo into the network's input."""
