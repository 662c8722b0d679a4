"""A reference Merkle-Patricia trie built here, the way Ethereum clients build them:
the yardstick for the proof walker and the forger's tool for bundles made from nothing."""

from __future__ import annotations

import rlp
from eth_hash.auto import keccak

from tonglian_proof.verify.mpt import nibbles

Node = list  # decoded trie node


def _hex_prefix(path: list[int], leaf: bool) -> bytes:
    flag = (2 if leaf else 0) + len(path) % 2
    nibs = [flag] + ([] if len(path) % 2 else [0]) + path
    return bytes(nibs[i] << 4 | nibs[i + 1] for i in range(0, len(nibs), 2))


class Trie:
    """A reference trie (keys of equal length), built the way Ethereum clients build them."""

    def __init__(self, items: dict[bytes, bytes]) -> None:
        self.db: dict[bytes, bytes] = {}
        node = self._node([(nibbles(k), v) for k, v in sorted(items.items())])
        encoded = rlp.encode(node)
        self.root = keccak(encoded)
        self.db[self.root] = encoded

    def _ref(self, node: Node) -> bytes | Node:
        encoded = rlp.encode(node)
        if len(encoded) < 32:
            return node
        self.db[keccak(encoded)] = encoded
        return keccak(encoded)

    def _node(self, pairs: list[tuple[list[int], bytes]]) -> Node:
        if len(pairs) == 1:
            path, value = pairs[0]
            return [_hex_prefix(path, True), value]
        common = 0
        while all(len(p) > common and p[common] == pairs[0][0][common] for p, _ in pairs):
            common += 1
        if common:
            rest = [(p[common:], v) for p, v in pairs]
            return [_hex_prefix(pairs[0][0][:common], False), self._ref(self._node(rest))]
        branch: list[bytes | Node] = [b""] * 17
        for nib in range(16):
            group = [(p[1:], v) for p, v in pairs if p[0] == nib]
            if group:
                branch[nib] = self._ref(self._node(group))
        return branch

    def proof(self, key: bytes) -> list[bytes]:
        out = [self.db[self.root]]
        node = rlp.decode(self.db[self.root])
        path = nibbles(key)
        while True:
            if len(node) == 17:
                if not path:
                    return out
                child = node[path[0]]
                path = path[1:]
            else:
                flag = node[0][0] >> 4
                node_path = nibbles(node[0])[1 if flag & 1 else 2 :]
                if flag >= 2 or path[: len(node_path)] != node_path:
                    return out
                path = path[len(node_path) :]
                child = node[1]
            if isinstance(child, list):
                node = child
            elif child == b"":
                return out
            else:
                out.append(self.db[child])
                node = rlp.decode(self.db[child])
