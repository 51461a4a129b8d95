"""The data-subject index: where a person's data is, without storing who they are.

Subject ids (an e-mail, a customer number) of datasets with personal data are kept only
as keyed hashes (HMAC-SHA256 under a key of the keyring, held apart from the index):
pseudonymisation in the sense of GDPR Art. 4(5), a measure of Art. 32(1)(a). The index
answers "where does this person appear" (Art. 15) and is what erasure (Art. 17) will
walk. The index itself is personal data, pseudonymised: admins alone read it, and every
request is in the audit log.
"""
