"""Development tooling: devnet verbs, the demo, the adapter scaffold, the conformance writers.

Not part of the server: `hub/` never imports this package. Its verbs join the
`tonglian` CLI through the `tonglian.cli` entry-point group (see `tonglian_tools.cli`)
and `--from-devnet` finds running devnets through `tonglian.local_chains`, the way
adapters join through `tonglian.adapters`.
"""
