"""The devnet's deterministic dev accounts, derived from anvil's well-known test mnemonic.

These keys are public knowledge; they exist only on a local devnet.
"""

from __future__ import annotations

from dataclasses import dataclass

from eth_account import Account
from eth_typing import ChecksumAddress

DEV_MNEMONIC = "test test test test test test test test test test test junk"


@dataclass(frozen=True)
class DevAccount:
    address: ChecksumAddress
    private_key: str  # 0x-prefixed hex


def dev_account(index: int, mnemonic: str = DEV_MNEMONIC) -> DevAccount:
    """Account INDEX on path m/44'/60'/0'/0/INDEX, as anvil derives it."""
    Account.enable_unaudited_hdwallet_features()
    acct = Account.from_mnemonic(mnemonic, account_path=f"m/44'/60'/0'/0/{index}")
    return DevAccount(address=acct.address, private_key="0x" + acct.key.hex().removeprefix("0x"))


# Roles: 0 deploys and owns both contracts and writes records (the agency),
# 1 submits relay deliveries to the inbox (the hub).
OWNER_INDEX = 0
SUBMITTER_INDEX = 1
