"""Thin gRPC servicers, one file per service: parse, call the hub, map errors (status.py)."""
