"""Chain adapters: the only code that talks to chains. They move bytes; the hub decides trust."""
