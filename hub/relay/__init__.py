"""The relay: route workers scan sources, the deliverer submits to destinations.

Workers never know which chain family they drive: they hold an adapter handle.
Progress lives in the store before it is acknowledged (DESIGN principle 4).
"""
