"""tonglian_proof.crypto.sm2 against the published SM2 signature example.

The recommended-curve example of GM/T 0003.5-2012 Annex A.2 (kept as GB/T 32918.5-2017
Annex A): private key d = 3945208F…C5B8, message "message digest", user id
1234567812345678 (Z_A = B2E14C5C…A4F3, e = F0B43E94…8640), signature r, s below.
The ALICE123@YAHOO.COM example of GB/T 32918.2 Annex A runs on a 256-bit test curve,
not on sm2p256v1, so no recommended-curve verifier can check it; here that id only
shows that the user id is part of what is signed.
"""

from __future__ import annotations

import pytest

from tonglian_proof.crypto import sm2

PUBLIC_KEY = bytes.fromhex(
    "04"
    "09F9DF311E5421A150DD7D161E4BC5C672179FAD1833FC076BB08FF356F35020"
    "CCEA490CE26775A52DC6EA718CC1AA600AED05FBF35E084A6632F6072DA9AD13"
)
R = bytes.fromhex("F5A03B0648D2C4630EEAC513E1BB81A15944DA3827D5B74143AC7EACEEE720B3")
S = bytes.fromhex("B1B6AA29DF212FD8763182BC0D421CA1BB9038FD1F7F42D4840B69C485BBC1AA")
MESSAGE = b"message digest"


def test_published_signature_verifies_with_the_default_user_id() -> None:
    sm2.check_public_key(PUBLIC_KEY, sm2.DEFAULT_USER_ID)
    assert sm2.DEFAULT_USER_ID == "1234567812345678"
    assert sm2.verify(PUBLIC_KEY, "1234567812345678", MESSAGE, R + S)


def test_another_user_id_does_not_verify() -> None:
    assert not sm2.verify(PUBLIC_KEY, "ALICE123@YAHOO.COM", MESSAGE, R + S)
    assert not sm2.verify(PUBLIC_KEY, "", MESSAGE, R + S)


def test_another_message_does_not_verify() -> None:
    assert not sm2.verify(PUBLIC_KEY, sm2.DEFAULT_USER_ID, b"message digesT", R + S)


@pytest.mark.parametrize("position", [0, 31, 32, 63])
def test_a_flipped_bit_of_r_or_s_does_not_verify(position: int) -> None:
    sig = bytearray(R + S)
    sig[position] ^= 0x01
    assert not sm2.verify(PUBLIC_KEY, sm2.DEFAULT_USER_ID, MESSAGE, bytes(sig))


@pytest.mark.parametrize(
    "signature",
    [b"", R, R + S + b"\x00", S + R, bytes(64), b"\xff" * 64],
    ids=["empty", "r-only", "65-bytes", "swapped", "zeros", "ones"],
)
def test_malformed_signatures_are_false_not_errors(signature: bytes) -> None:
    assert not sm2.verify(PUBLIC_KEY, sm2.DEFAULT_USER_ID, MESSAGE, signature)


@pytest.mark.parametrize(
    ("key", "user_id", "why"),
    [
        (PUBLIC_KEY[1:], "1234567812345678", "an SM2 public key is 65 bytes 04 ‖ x ‖ y, got 64"),
        (b"\x02" + PUBLIC_KEY[1:], "1234567812345678", "got 65 bytes starting 02"),
        (b"\x04" + bytes(64), "1234567812345678", "not a point on the curve sm2p256v1"),
        (PUBLIC_KEY[:-1] + b"\x00", "1234567812345678", "not a point on the curve sm2p256v1"),
        (PUBLIC_KEY, "", "the SM2 user id is empty; state the signer's"),
        (PUBLIC_KEY, "x" * 8192, "the SM2 user id is 8192 bytes, at most 8191"),
    ],
)
def test_unusable_keys_are_refused(key: bytes, user_id: str, why: str) -> None:
    with pytest.raises(sm2.InvalidSM2Key, match=why.replace("‖", ".")):
        sm2.check_public_key(key, user_id)
