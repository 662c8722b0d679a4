"""The Fabric protobuf modules this verifier reads, in one place.

hyperledger-fabric-protos ships generated code without type stubs, so mypy cannot
see its message classes. They are loaded here and typed as `Any`; every other
module converts what it reads into typed values at once (bytes, int, str).
"""

from __future__ import annotations

import importlib
from typing import Any

common: Any = importlib.import_module("fabric_protos.common.common_pb2")
configtx: Any = importlib.import_module("fabric_protos.common.configtx_pb2")
configuration: Any = importlib.import_module("fabric_protos.common.configuration_pb2")
policies: Any = importlib.import_module("fabric_protos.common.policies_pb2")
msp_config: Any = importlib.import_module("fabric_protos.msp.msp_config_pb2")
msp_principal: Any = importlib.import_module("fabric_protos.msp.msp_principal_pb2")
identities: Any = importlib.import_module("fabric_protos.msp.identities_pb2")
orderer_config: Any = importlib.import_module("fabric_protos.orderer.configuration_pb2")
proposal: Any = importlib.import_module("fabric_protos.peer.proposal_pb2")
proposal_response: Any = importlib.import_module("fabric_protos.peer.proposal_response_pb2")
transaction: Any = importlib.import_module("fabric_protos.peer.transaction_pb2")
chaincode: Any = importlib.import_module("fabric_protos.peer.chaincode_pb2")
rwset: Any = importlib.import_module("fabric_protos.ledger.rwset.rwset_pb2")
kv_rwset: Any = importlib.import_module("fabric_protos.ledger.rwset.kvrwset.kv_rwset_pb2")


def validation_code_name(code: int) -> str:
    """Name of a TxValidationCode, or `CODE_<n>` for a number Fabric does not define."""
    try:
        return str(transaction.TxValidationCode.Name(code))
    except ValueError:
        return f"CODE_{code}"
