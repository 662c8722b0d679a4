"""Devnets: real chains started as local processes, for end-to-end tests and the demo."""
