package sign_test

import (
	"crypto/ed25519"
	"fmt"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/trove-dev/trove/governance/sign"
)

func ExampleAllowedSigners_Verify() {
	key := ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize)) // a real key comes from LoadPrivateKey or OpenSigner
	signer, _ := sign.NewSigner(key)
	record := []byte(`{"approve":"blake3:...","stage":"production"}`)
	armored, err := sign.Sign(signer, sign.Namespace, record)
	if err != nil {
		fmt.Println(err)
		return
	}

	allowed, _ := sign.ParseAllowedSigners(".trove/allowed_signers",
		[]byte("alice@example.com "+string(ssh.MarshalAuthorizedKey(signer.PublicKey()))))
	allowed.Roles, _ = sign.ParseRoles(".trove/roles.yaml", []byte("version: 1\nroles:\n  model-risk: [alice@example.com]\n"))

	v, err := allowed.Verify(armored, record, sign.Namespace, "alice@example.com", time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(strings.SplitN(string(armored), "\n", 2)[0])
	fmt.Println(v.Principals, v.Roles)
	_, err = allowed.Verify(armored, []byte("something else"), sign.Namespace, "alice@example.com", time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC))
	fmt.Println(err != nil)
	// Output:
	// -----BEGIN SSH SIGNATURE-----
	// [alice@example.com] [model-risk]
	// true
}
