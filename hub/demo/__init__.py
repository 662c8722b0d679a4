"""The one-visit demo: three agencies, three chains, one hub (see hub/cli/demo.py)."""
