package datafile

import (
	"fmt"
	"strings"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/htmlindex"
	"golang.org/x/text/encoding/ianaindex"
)

// pgEncodingNames maps PostgreSQL's spellings of encodings that neither the
// IANA nor the WHATWG registry knows to a name they do know.
var pgEncodingNames = map[string]string{
	"latin1": "iso-8859-1", "latin2": "iso-8859-2", "latin3": "iso-8859-3",
	"latin4": "iso-8859-4", "latin5": "iso-8859-9", "latin6": "iso-8859-10",
	"latin7": "iso-8859-13", "latin8": "iso-8859-14", "latin9": "iso-8859-15",
	"latin10": "iso-8859-16", "win866": "ibm866", "win874": "windows-874",
	"win1250": "windows-1250", "win1251": "windows-1251", "win1252": "windows-1252",
	"win1253": "windows-1253", "win1254": "windows-1254", "win1255": "windows-1255",
	"win1256": "windows-1256", "win1257": "windows-1257", "win1258": "windows-1258",
	"sjis": "shift_jis", "euc_jp": "euc-jp", "euc_kr": "euc-kr", "koi8r": "koi8-r",
	"koi8u": "koi8-u",
}

// lookupEncoding finds the text encoding called name. It returns nil for
// UTF-8, which needs no conversion. Names are looked up in the IANA registry
// first, so "latin1" is ISO 8859-1 as in PostgreSQL (the WHATWG registry
// would make it windows-1252), then in the WHATWG registry and among
// PostgreSQL's own spellings (WIN1252, LATIN9, ...).
func lookupEncoding(name string) (encoding.Encoding, error) {
	n := strings.ToLower(strings.TrimSpace(name))
	switch n {
	case "", "utf-8", "utf8", "unicode-1-1-utf-8":
		return nil, nil
	}
	if alias, ok := pgEncodingNames[n]; ok {
		n = alias
	}
	if e, err := ianaindex.IANA.Encoding(n); err == nil && e != nil {
		return e, nil
	}
	if e, err := htmlindex.Get(n); err == nil {
		return e, nil
	}
	return nil, fmt.Errorf("unknown encoding %q", name)
}
