"""The conformance kit: certifies that an adapter, in process or remote, keeps the Adapter contract.

`tonglian adapter check TARGET` runs `suite.run_suite` against an installed
adapter or a `remote:HOST:PORT` server, verifies every proof it returns with the
hub's own verifiers against a trust anchor the caller supplies, tampers with
them to see that they then fail, and prints a scorecard. Integrators call
`run_suite` from their own tests (the scaffold of `tonglian adapter new` does).
"""
