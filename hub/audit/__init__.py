"""The tamper-evident audit log (DESIGN principle 5): who read what, why, and with what outcome."""
