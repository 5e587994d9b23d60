package simulator

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"testing"
)

func TestNewKeyPair(t *testing.T) {
	pub, private, err := NewKeyPair()
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(private)
	if block == nil || block.Type != "PRIVATE KEY" {
		t.Fatalf("not a PKCS #8 PEM: %q", private)
	}
	key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if k, ok := key.(*rsa.PrivateKey); !ok || !k.PublicKey.Equal(pub) || k.N.BitLen() != 2048 {
		t.Errorf("the private half does not match the public one")
	}
	if pp, err := ParsePublicKey(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: must(x509.MarshalPKIXPublicKey(pub))})); err != nil || !pp.Equal(pub) {
		t.Errorf("the simulator does not read the public half back: %v", err)
	}
}

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}
