-- The one digest algorithm an account is challenged with ('SHA-256' or 'MD5'), or NULL to follow
-- its domain and the node (telephony.sha256Domains, telephony.digestAlgorithms). An account marked
-- SHA-256 is challenged with SHA-256 only (RFC 7616 §3.3, RFC 8760 §2.4); both HA1 values exist already.
ALTER TABLE sip_accounts ADD COLUMN digest_algorithm VARCHAR(16);
