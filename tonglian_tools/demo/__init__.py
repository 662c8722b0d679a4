"""The one-visit demo: three agencies, three chains, one hub (`tonglian demo`, run.py)."""
