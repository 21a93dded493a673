package aliases

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"strings"
	"testing"

	"github.com/tenantkit/tenantkit/internal/sqlq"
	"github.com/tenantkit/tenantkit/internal/testkit"
)

// TestScramRFC7677 checks the verifier against the exchange of RFC 7677
// section 3: the server signature computed from our ServerKey must be the
// RFC's, and the client proof from our keys must be the RFC's.
func TestScramRFC7677(t *testing.T) {
	salt, _ := base64.StdEncoding.DecodeString("W22ZaJ0SNY7soEsUEjb6gQ==")
	v, err := scramVerifierWith("pencil", salt, 4096)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(v, "SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$") {
		t.Fatalf("verifier = %s", v)
	}
	keys := strings.Split(strings.SplitN(v, "$", 3)[2], ":")
	storedKey, _ := base64.StdEncoding.DecodeString(keys[0])
	serverKey, _ := base64.StdEncoding.DecodeString(keys[1])
	authMessage := "n=user,r=rOprNGfwEbeRWgbNEkqO," +
		"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096," +
		"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
	if got := base64.StdEncoding.EncodeToString(hmacSHA256(serverKey, authMessage)); got != "6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=" {
		t.Errorf("server signature = %s", got)
	}
	// The client proof is ClientKey XOR ClientSignature; SHA-256 of the
	// recovered ClientKey must be our StoredKey.
	proof, _ := base64.StdEncoding.DecodeString("dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=")
	sig := hmacSHA256(storedKey, authMessage)
	clientKey := make([]byte, len(proof))
	for i := range proof {
		clientKey[i] = proof[i] ^ sig[i]
	}
	if sum := sha256.Sum256(clientKey); !hmac.Equal(sum[:], storedKey) {
		t.Errorf("the RFC's client proof does not match our StoredKey")
	}
	if !scramMatches(v, "pencil") || scramMatches(v, "pencil ") || scramMatches("md5abc", "pencil") || scramMatches("SCRAM-SHA-256$x:y$z:w", "pencil") {
		t.Errorf("scramMatches disagrees with the verifier")
	}
}

// TestScramAgreesWithPostgreSQL lets the server hash passwords and checks
// that our verifier, with the server's salt, is the same string — ASCII and
// non-ASCII passwords alike (SASLprep).
func TestScramAgreesWithPostgreSQL(t *testing.T) {
	login := uniqueLogins(t, 1)[0]
	db := testkit.NewDB(t)
	ctx := context.Background()
	db.Exec(t, "SET password_encryption = 'scram-sha-256'")
	for _, pw := range []string{"pencil", "with 'quote' and \\ backslash", "pâssword", "ＡＢＣ①", "a\u00a0b\u00adc", "\u0627\u0644", "\x01ctl"} {
		conn, err := db.Pool.Acquire(ctx)
		if err != nil {
			t.Fatal(err)
		}
		_, err = conn.Exec(ctx, "SET password_encryption = 'scram-sha-256'")
		if err == nil {
			_, err = conn.Exec(ctx, "CREATE ROLE "+sqlq.Ident(login)+" PASSWORD "+sqlq.Lit(pw))
		}
		conn.Release()
		if err != nil {
			t.Fatalf("%q: %v", pw, err)
		}
		stored := db.Value(t, "SELECT rolpassword FROM pg_authid WHERE rolname = $1", login)
		salt, _ := base64.StdEncoding.DecodeString(strings.Split(strings.Split(stored, "$")[1], ":")[1])
		ours, err := scramVerifierWith(pw, salt, 4096)
		if err != nil || ours != stored {
			t.Errorf("%q: ours %s, PostgreSQL's %s (%v)", pw, ours, stored, err)
		}
		if !scramMatches(stored, pw) || scramMatches(stored, pw+"x") {
			t.Errorf("%q: scramMatches wrong", pw)
		}
		db.Exec(t, "DROP ROLE "+sqlq.Ident(login))
	}
}
