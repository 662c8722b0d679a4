// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

/// @title Inbox: relay deliveries from other chains, each delivery id applied at most once,
///   and the versions of one source key never applied out of order.
/// @notice Storage layout:
///   slot 0  receipts    mapping(bytes32 idHash => Receipt), idHash = keccak256(bytes(deliveryId))
///   slot 1  submitters  mapping(address => bool)
///   slot 2  owner       address
///   slot 3  heldVersions mapping(bytes32 keyRef => uint64), keyRef =
///           keccak256(abi.encode(sourceChainId, sourceNamespace, key)): newest version applied
contract Inbox {
    /// What the destination keeps of one delivery.
    struct Receipt {
        // keccak256(abi.encode(sourceChainId, sourceNamespace, key, version)).
        bytes32 sourceRef;
        // SHA-256 of the proof the hub verified.
        bytes32 proofDigest;
        uint64 blockNumber;
        address submitter;
    }

    /// One delivery as the hub submits it.
    struct Delivery {
        string deliveryId;
        string sourceChainId;
        string sourceNamespace;
        string key;
        uint64 version;
        string schema;
        bytes value;
        bytes32 proofDigest;
    }

    mapping(bytes32 => Receipt) public receipts;
    mapping(address => bool) public submitters;
    address public owner;
    mapping(bytes32 => uint64) public heldVersions;

    event Delivered(bytes32 indexed idHash, Delivery delivery, bytes32 sourceRef, address submitter);
    event SubmitterSet(address indexed submitter, bool allowed);

    error NotOwner();
    error NotSubmitter(address sender);
    error AlreadyDelivered(string deliveryId);
    error EmptyDeliveryId();
    /// The inbox holds a newer version of the key: an older one never overwrites it.
    error StaleVersion(string deliveryId, uint64 heldVersion, uint64 version);

    constructor() {
        owner = msg.sender;
    }

    function setSubmitter(address submitter, bool allowed) external {
        if (msg.sender != owner) revert NotOwner();
        submitters[submitter] = allowed;
        emit SubmitterSet(submitter, allowed);
    }

    function deliver(Delivery calldata d) external {
        if (!submitters[msg.sender]) revert NotSubmitter(msg.sender);
        if (bytes(d.deliveryId).length == 0) revert EmptyDeliveryId();
        bytes32 idHash = keccak256(bytes(d.deliveryId));
        if (receipts[idHash].blockNumber != 0) revert AlreadyDelivered(d.deliveryId);
        bytes32 keyRef = keccak256(abi.encode(d.sourceChainId, d.sourceNamespace, d.key));
        uint64 held = heldVersions[keyRef];
        if (d.version < held) revert StaleVersion(d.deliveryId, held, d.version);
        heldVersions[keyRef] = d.version;
        bytes32 sourceRef = keccak256(abi.encode(d.sourceChainId, d.sourceNamespace, d.key, d.version));
        receipts[idHash] = Receipt(sourceRef, d.proofDigest, uint64(block.number), msg.sender);
        emit Delivered(idHash, d, sourceRef, msg.sender);
    }

    function delivered(string calldata deliveryId) external view returns (bool) {
        return receipts[keccak256(bytes(deliveryId))].blockNumber != 0;
    }
}
