// Package sign makes and checks SSH signatures in the SSHSIG format: the format of
// `ssh-keygen -Y sign` and `ssh-keygen -Y verify`, and of git's tag and commit
// signatures with gpg.format=ssh. trove signs approvals, promotions and decisions with
// the SSH keys people already have, and anyone can check them with stock OpenSSH.
//
// # Format
//
// The format is OpenSSH's PROTOCOL.sshsig. A signature covers
//
//	"SSHSIG" || string(namespace) || string(reserved="") || string("sha512") || string(SHA-512(message))
//
// and is stored as the blob
//
//	"SSHSIG" || uint32(1) || string(public key) || string(namespace) || string(reserved)
//	         || string(hash algorithm) || string(SSH signature)
//
// armored between "-----BEGIN SSH SIGNATURE-----" and "-----END SSH SIGNATURE-----"
// with base64 lines of 70 characters, as ssh-keygen writes them. Sign always hashes
// with SHA-512 and signs RSA keys with rsa-sha2-512; Verify also accepts sha256 and
// rsa-sha2-256, which the format allows. Key types: ssh-ed25519, ecdsa-sha2-nistp256
// (and nistp384/nistp521) and RSA. Certificates, DSA and security-key (sk-*) keys
// are refused with ErrUnsupportedKey.
//
// The namespace is part of what is signed: trove signs its own records in
// namespace "trove" (Namespace) and git tags in "git" (GitNamespace, used by
// SignTagPayload), so one can never stand in for the other.
//
// # Who may sign: allowed signers and roles
//
// Trust is an allowed-signers file, .trove/allowed_signers, in OpenSSH's format
// (see ssh-keygen(1), ALLOWED SIGNERS), so the same file works with
// `ssh-keygen -Y verify -f` and with git's gpg.ssh.allowedSignersFile:
//
//	alice@example.com ssh-ed25519 AAAAC3Nz... alice laptop
//	bob@example.com namespaces="git,trove" ecdsa-sha2-nistp256 AAAAE2Vj...
//
// trove reads the namespaces, valid-after and valid-before options (time stamps in
// UTC, with the trailing Z) and refuses cert-authority and unknown options with the
// line number, rather than silently trusting less or more than OpenSSH would.
//
// Roles (who may approve as "model-risk") cannot go in that file: OpenSSH rejects
// options it does not know, and a convention inside comments or principal names
// would be invisible to review and easy to forge by renaming. They live in a second
// file, .trove/roles.yaml, mapping each role to its members (ParseRoles). A
// principal holds a role only if the roles file names it literally; a signature
// proves the principal only through an allowed-signers entry. Changing either file
// is a reviewed commit, like any other policy change.
//
// # Keys
//
// Keys come from an unencrypted private key file (LoadPrivateKey) or from ssh-agent
// (DialAgent, with the socket path the caller read from SSH_AUTH_SOCK). OpenSigner
// resolves a key the way git's user.signingKey does: a private key file, a public
// key file or literal whose private half is in the agent. trove never prompts for a
// passphrase: an encrypted key gives ErrEncryptedKey, whose message says to ssh-add
// it.
//
// Nothing here reads the environment or the clock: the agent socket and the time a
// signature is checked at are passed in.
package sign
