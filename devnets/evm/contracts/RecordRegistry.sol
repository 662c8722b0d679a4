// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

/// @title RecordRegistry: records of one agency, each provable by an EIP-1186 storage proof.
/// @notice Storage layout (the hub's verifier recomputes these slots; never reorder):
///   keyId                = keccak256(bytes(key))
///   slot 0  digestOf     mapping(bytes32 keyId => bytes32 digest)
///                        slot(keyId) = keccak256(abi.encode(keyId, uint256(0)))
///   slot 1  versionOf    mapping(bytes32 keyId => uint256 version)
///                        slot(keyId) = keccak256(abi.encode(keyId, uint256(1)))
///   slot 2  blockOf      mapping(bytes32 keyId => uint256 block number of the latest write)
///   slot 3  writers      mapping(address => bool)
///   slot 4  owner        address
///   slot 5  writtenAt    mapping(bytes32 idHash => uint256 block number), idHash =
///                        keccak256(bytes(writeId)): writes through the hub (putOnce), each once
/// digest = keccak256(abi.encode(
///     "tonglian.evm.record/v1", block.chainid, address(this), key, schema, value, version, deleted))
/// with abi.encode types (string, uint256, address, string, string, bytes, uint256, bool).
contract RecordRegistry {
    mapping(bytes32 => bytes32) public digestOf;
    mapping(bytes32 => uint256) public versionOf;
    mapping(bytes32 => uint256) public blockOf;
    mapping(address => bool) public writers;
    address public owner;
    mapping(bytes32 => uint256) public writtenAt;

    string public constant DIGEST_DOMAIN = "tonglian.evm.record/v1";

    /// Carries the whole record, so a reader needs nothing but this log and the proof.
    event RecordWritten(
        bytes32 indexed keyId,
        string key,
        string schema,
        bytes value,
        uint256 version,
        bool deleted,
        bytes32 digest
    );
    event WriterSet(address indexed writer, bool allowed);
    /// A write through the hub: `writeId` names it (the hub derives it from the agency's
    /// request id), so a retried write is never applied twice.
    event Written(bytes32 indexed idHash, string writeId, bytes32 indexed keyId, uint256 version);

    error NotOwner();
    error NotWriter(address sender);
    error EmptyKey();
    error NotFound(string key);
    error AlreadyWritten(string writeId);
    error EmptyWriteId();

    constructor() {
        owner = msg.sender;
        writers[msg.sender] = true;
        emit WriterSet(msg.sender, true);
    }

    function setWriter(address writer, bool allowed) external {
        if (msg.sender != owner) revert NotOwner();
        writers[writer] = allowed;
        emit WriterSet(writer, allowed);
    }

    /// Writes the next version of `key`; `value` is the record's canonical JSON bytes.
    function put(string calldata key, string calldata schema, bytes calldata value)
        external
        returns (uint256 version)
    {
        return _write(key, schema, value, false);
    }

    /// Writes the next version of `key` once per `writeId`: a second call with the same
    /// id reverts with AlreadyWritten, whatever it carries.
    function putOnce(
        string calldata writeId,
        string calldata key,
        string calldata schema,
        bytes calldata value
    ) external returns (uint256 version) {
        if (bytes(writeId).length == 0) revert EmptyWriteId();
        bytes32 idHash = keccak256(bytes(writeId));
        if (writtenAt[idHash] != 0) revert AlreadyWritten(writeId);
        writtenAt[idHash] = block.number;
        version = _write(key, schema, value, false);
        emit Written(idHash, writeId, keccak256(bytes(key)), version);
    }

    /// Writes a deleting version of `key` (empty value, deleted = true).
    function remove(string calldata key, string calldata schema) external returns (uint256 version) {
        if (versionOf[keccak256(bytes(key))] == 0) revert NotFound(key);
        return _write(key, schema, "", true);
    }

    function _write(string calldata key, string calldata schema, bytes memory value, bool deleted)
        private
        returns (uint256 version)
    {
        if (!writers[msg.sender]) revert NotWriter(msg.sender);
        if (bytes(key).length == 0) revert EmptyKey();
        bytes32 keyId = keccak256(bytes(key));
        version = versionOf[keyId] + 1;
        bytes32 digest = keccak256(
            abi.encode(DIGEST_DOMAIN, block.chainid, address(this), key, schema, value, version, deleted)
        );
        digestOf[keyId] = digest;
        versionOf[keyId] = version;
        blockOf[keyId] = block.number;
        emit RecordWritten(keyId, key, schema, value, version, deleted, digest);
    }
}
