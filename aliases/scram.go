package aliases

import (
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// scramIterations is PostgreSQL's default scram_iterations.
const scramIterations = 4096

// scramVerifier returns the SCRAM-SHA-256 verifier PostgreSQL stores for
// password, in the form it accepts in CREATE ROLE … PASSWORD:
// SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>. A fresh random
// salt is drawn for each call.
func scramVerifier(password string) (string, error) {
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("drawing a salt: %w", err)
	}
	return scramVerifierWith(password, salt, scramIterations)
}

func scramVerifierWith(password string, salt []byte, iterations int) (string, error) {
	salted, err := pbkdf2.Key(sha256.New, saslPrep(password), salt, iterations, sha256.Size)
	if err != nil {
		return "", fmt.Errorf("deriving the SCRAM key: %w", err)
	}
	clientKey := hmacSHA256(salted, "Client Key")
	storedKey := sha256.Sum256(clientKey)
	serverKey := hmacSHA256(salted, "Server Key")
	b64 := base64.StdEncoding.EncodeToString
	return fmt.Sprintf("SCRAM-SHA-256$%d:%s$%s:%s", iterations, b64(salt), b64(storedKey[:]), b64(serverKey)), nil
}

// scramMatches reports whether verifier (as stored in pg_authid) was made
// from password.
func scramMatches(verifier, password string) bool {
	rest, ok := strings.CutPrefix(verifier, "SCRAM-SHA-256$")
	if !ok {
		return false
	}
	params, _, ok := strings.Cut(rest, "$")
	if !ok {
		return false
	}
	iterText, saltText, ok := strings.Cut(params, ":")
	if !ok {
		return false
	}
	iterations, err := strconv.Atoi(iterText)
	if err != nil || iterations < 1 || iterations > 1<<24 {
		return false
	}
	salt, err := base64.StdEncoding.DecodeString(saltText)
	if err != nil {
		return false
	}
	want, err := scramVerifierWith(password, salt, iterations)
	return err == nil && hmac.Equal([]byte(want), []byte(verifier))
}

func hmacSHA256(key []byte, msg string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(msg))
	return m.Sum(nil)
}

// saslPrep normalises a password the way PostgreSQL (and libpq) do before
// deriving SCRAM keys (RFC 4013): non-ASCII spaces become spaces, characters
// "commonly mapped to nothing" are dropped, the result is NFKC-normalised.
// When the result holds prohibited characters, or the input is not UTF-8,
// the password is used as it is, as PostgreSQL does.
func saslPrep(password string) string {
	if !utf8.ValidString(password) || isASCII(password) {
		return password // PostgreSQL takes ASCII as it is
	}
	var b strings.Builder
	for _, r := range password {
		switch {
		case mappedToNothing(r):
		case r != ' ' && unicode.Is(unicode.Zs, r):
			b.WriteRune(' ')
		default:
			b.WriteRune(r)
		}
	}
	out := norm.NFKC.String(b.String())
	if out == "" {
		return password
	}
	for _, r := range out {
		if prohibited(r) {
			return password
		}
	}
	return out
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// mappedToNothing is RFC 3454 table B.1.
func mappedToNothing(r rune) bool {
	switch r {
	case 0x00AD, 0x034F, 0x1806, 0x180B, 0x180C, 0x180D, 0x200B, 0x200C, 0x200D, 0x2060, 0xFEFF:
		return true
	}
	return r >= 0xFE00 && r <= 0xFE0F
}

// prohibited covers RFC 3454 tables C.2 to C.9 as SASLprep applies them.
func prohibited(r rune) bool {
	switch {
	case r < 0x20 || r >= 0x7F && r <= 0x9F: // C.2.1, C.2.2 control characters
		return true
	case r >= 0xE000 && r <= 0xF8FF, r >= 0xF0000 && r <= 0xFFFFD, r >= 0x100000 && r <= 0x10FFFD: // C.3 private use
		return true
	case r >= 0xFDD0 && r <= 0xFDEF, r&0xFFFE == 0xFFFE: // C.4 non-characters
		return true
	case r >= 0xD800 && r <= 0xDFFF: // C.5 surrogates
		return true
	case r >= 0xFFF9 && r <= 0xFFFD: // C.6, C.7
		return true
	case r >= 0x2FF0 && r <= 0x2FFB: // C.7
		return true
	case r == 0x0340 || r == 0x0341 || r == 0x200E || r == 0x200F || r >= 0x202A && r <= 0x202E || r >= 0x206A && r <= 0x206F: // C.8
		return true
	case r == 0xE0001 || r >= 0xE0020 && r <= 0xE007F: // C.9 tagging
		return true
	case r >= 0x2028 && r <= 0x2029, r == 0x06DD, r == 0x070F, r == 0x180E, r >= 0x200C && r <= 0x200D, r >= 0x2061 && r <= 0x2063, r >= 0x1D173 && r <= 0x1D17A: // C.2.2 others
		return true
	}
	return false
}
