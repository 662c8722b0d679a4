"""The Fabric protobuf modules the adapter uses, in one place.

hyperledger-fabric-protos ships generated code with `py.typed` but without type
stubs, so mypy cannot see its message classes. They are loaded here and typed as
`Any` (as hub/verify/fabric/protos.py does); values leaving a module are typed
bytes, ints and strings, or tonglian messages.
"""

from __future__ import annotations

import importlib
from typing import Any

Message = Any
"""A Fabric protobuf message (its class is not visible to mypy)."""

common_pb2: Any = importlib.import_module("fabric_protos.common.common_pb2")
ledger_pb2: Any = importlib.import_module("fabric_protos.common.ledger_pb2")
identities_pb2: Any = importlib.import_module("fabric_protos.msp.identities_pb2")
ab_pb2: Any = importlib.import_module("fabric_protos.orderer.ab_pb2")
gateway_pb2: Any = importlib.import_module("fabric_protos.gateway.gateway_pb2")
discovery_pb2: Any = importlib.import_module("fabric_protos.discovery.protocol_pb2")
chaincode_pb2: Any = importlib.import_module("fabric_protos.peer.chaincode_pb2")
chaincode_event_pb2: Any = importlib.import_module("fabric_protos.peer.chaincode_event_pb2")
events_pb2: Any = importlib.import_module("fabric_protos.peer.events_pb2")
proposal_pb2: Any = importlib.import_module("fabric_protos.peer.proposal_pb2")
proposal_response_pb2: Any = importlib.import_module("fabric_protos.peer.proposal_response_pb2")
transaction_pb2: Any = importlib.import_module("fabric_protos.peer.transaction_pb2")
rwset_pb2: Any = importlib.import_module("fabric_protos.ledger.rwset.rwset_pb2")
kv_rwset_pb2: Any = importlib.import_module("fabric_protos.ledger.rwset.kvrwset.kv_rwset_pb2")
