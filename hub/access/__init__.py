"""Access control: who is calling, what they may do, and how much of the hub they may hold."""
