package xmlnode

import "testing"

// TestRawLessThanAndAmpersand: a raw '<' or '&' in a condition is reported
// at its line and column with the way to write it (issue 21, point 8);
// other syntax errors keep the decoder's line.
func TestRawLessThanAndAmpersand(t *testing.T) {
	lt := " (a '<' in text, as in a condition a < b, must be written &lt;, or the text put in <![CDATA[ … ]]>)"
	for _, tc := range []struct{ xml, want string }{
		{"<SetTenant>\n  <Where>unit_price < 10</Where>\n</SetTenant>", "f.xml:2:21: malformed XML: expected element name after <" + lt},
		{"<SetTenant>\n  <Where>unit_price<10</Where>\n</SetTenant>", "f.xml:2:20: malformed XML: invalid XML name: 10" + lt},
		{"<SetTenant>\n  <Where>a<=b</Where>\n</SetTenant>", "f.xml:2:11: malformed XML: expected element name after <" + lt},
		{"<SetTenant>\n  <Where>discontinued = 0 & reorder_level > 0</Where>\n</SetTenant>", "f.xml:2:27: malformed XML: invalid character entity & (no semicolon) (a '&' in text must be written &amp;)"},
		{"<Schema>\n  <Object name=\"org\">\n</Schema>\n", "f.xml:3: malformed XML: element <Object> closed by </Schema>"},
	} {
		_, err := Parse("f.xml", []byte(tc.xml))
		if err == nil || err.Error() != tc.want {
			t.Errorf("%q:\n got %v\nwant %s", tc.xml, err, tc.want)
		}
	}
}
