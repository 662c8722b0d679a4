"""The `tonglian` command line: tables for people, `--json` for scripts, stable exit codes."""
