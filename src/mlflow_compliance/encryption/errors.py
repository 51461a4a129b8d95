"""The one error for ciphertext that cannot be trusted."""


class UntrustedCiphertext(Exception):
    """An encrypted artifact failed a check: altered, truncated, extended, or the wrong key.

    The message is one line naming the check, e.g. "segment 3 failed authentication".
    Any plaintext already read from the same file must be discarded.
    """
